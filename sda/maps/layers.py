"""What the maps draw, as geometry and text: area and district shapes, label anchors and texts.

Every function here reads a Plan and returns plain shapes or strings in EPSG:27700 metres, so
the sheet, the insets and the locators draw the same things. Nothing here draws.
"""

from __future__ import annotations

import io
import textwrap
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import shapely.ops
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.path import Path

from sda.area_table import district_outlines
from sda.plan import Plan, area_neighbours

__all__ = [
    "area_label",
    "area_names",
    "area_neighbours",
    "area_shapes",
    "district_shapes",
    "figure_bytes",
    "label_anchor",
    "labels_readable",
    "outline_collection",
    "png_bytes",
    "polygon_collection",
    "practices_in",
]

#: Column that carries an area's readable name on ``plan.areas`` (or ``plan.units``), when named.
NAME_FIELD = "area_name"

#: Most areas a sheet labels in full (names, insets, labels moved by adjustText) and the report
#: gives a locator map each. Above it the sheets label an area by its id only where the id fits
#: inside it, with no insets, and the cards go without locators. Measured on SYNTHETIC instances
#: (docs/benchmark.md): at 131 areas the A4 sheet was crowded, its key of shortened labels ran
#: off the page and the maps took twice as long as the search; with 435 areas they ran for more
#: than 7 minutes, and 1,395 labels asked adjustText for 24.5 GiB.
MAX_LABELLED_AREAS = 100


def labels_readable(n_areas: int) -> bool:
    """Whether a plan of ``n_areas`` areas is few enough to label in full (``MAX_LABELLED_AREAS``)."""
    return n_areas <= MAX_LABELLED_AREAS


def area_shapes(plan: Plan) -> gpd.GeoDataFrame:
    """One row per area indexed by ``str(area_id)``, with its geometry (dissolved when missing)."""
    areas = plan.areas
    if not ("geometry" in areas.columns and len(areas) and areas.geometry.notna().all()):
        areas = plan.units[["area_id", "geometry"]].dissolve(by="area_id")
    frame = gpd.GeoDataFrame(geometry=list(areas.geometry), index=[str(a) for a in areas.index], crs=areas.crs)
    return frame


def district_shapes(plan: Plan) -> gpd.GeoDataFrame:
    """District outlines dissolved from the units: index ``district``, column ``name``; empty if none."""
    return district_outlines(plan.units)


def area_names(plan: Plan) -> dict[str, str]:
    """``str(area_id) -> name`` from an ``area_name`` column on the areas (or units); empty if unnamed."""
    for frame, key in ((plan.areas, None), (plan.units, "area_id")):
        if NAME_FIELD in frame.columns:
            ids = frame.index if key is None else frame[key]
            names = {str(a): str(n).strip() for a, n in zip(ids, frame[NAME_FIELD], strict=True) if _present(n)}
            if names:
                return names
    return {}


def area_label(area_id: str, name: str | None, *, width: int = 18) -> str:
    """The text of an area's label: the id, and under it the name wrapped to ``width`` characters."""
    if not name or name == area_id:
        return area_id
    return area_id + "\n" + "\n".join(textwrap.wrap(name, width=width, break_long_words=False) or [name])


def label_anchor(shape: Any) -> shapely.Point:
    """The point of ``shape`` farthest inside it (pole of inaccessibility of its largest part)."""
    parts = list(getattr(shape, "geoms", [shape]))
    largest = max(parts, key=lambda p: p.area)
    if largest.geom_type != "Polygon" or largest.is_empty:
        return shape.representative_point()
    tolerance = max(1.0, (largest.area**0.5) / 200)
    point = shapely.ops.polylabel(largest, tolerance=tolerance)
    return point if largest.contains(point) else largest.representative_point()


def practices_in(plan: Plan, crs: Any) -> gpd.GeoDataFrame | None:
    """The plan's GP practices in ``crs``, or ``None`` when there are none."""
    practices = plan.practices
    if practices is None or not len(practices):
        return None
    if practices.crs is not None and crs is not None and practices.crs != crs:
        practices = practices.to_crs(crs)
    return practices


def polygon_collection(geometries: Any, **style: Any) -> PathCollection:
    """Filled polygons (holes kept) as one collection, one path per geometry, in the given order.

    Built directly rather than with ``GeoSeries.plot``, which redraws the whole figure after
    every layer.
    """
    paths = [
        Path.make_compound_path(*_ring_paths(geom)) if not geom.is_empty else Path(np.zeros((0, 2)))
        for geom in geometries
    ]
    return PathCollection(paths, **style)


def outline_collection(geometries: Any, **style: Any) -> LineCollection:
    """The rings of polygons (outer and inner) as one line collection."""
    rings = [path.vertices for geom in geometries if not geom.is_empty for path in _ring_paths(geom)]
    return LineCollection(rings, **style)


def _ring_paths(geom: Any) -> list[Path]:
    parts = getattr(geom, "geoms", [geom])
    paths = []
    for part in parts:
        if part.geom_type != "Polygon" or part.is_empty:
            continue
        for ring in (part.exterior, *part.interiors):
            paths.append(Path(np.asarray(ring.coords)[:, :2], closed=True))
    return paths


def png_bytes(fig: Figure, dpi: float | None = None) -> bytes:
    """Render a figure on the Agg canvas as PNG bytes (no pyplot, nothing left open)."""
    return figure_bytes(fig, "png", dpi)


def figure_bytes(fig: Figure, fmt: str, dpi: float | None = None) -> bytes:
    """Render a figure as ``fmt`` (``"png"`` or ``"pdf"``) bytes, at ``dpi`` (default the figure's)."""
    if fig.canvas is None or not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi or fig.dpi, metadata=_METADATA.get(fmt))
    return buffer.getvalue()


# Fixed metadata so the same plan gives the same bytes (matplotlib stamps a date otherwise).
_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "pdf": {"Creator": "sda", "Producer": None, "CreationDate": None},
}


def _present(value: Any) -> bool:
    return value is not None and str(value).strip() not in ("", "nan", "None", "<NA>")
