"""Small locator maps for the area cards: the whole study area in grey, one area highlighted.

The grey base (every area and the district outlines) is drawn once per plan and kept as a
pixel buffer; each locator restores that buffer, draws only its highlighted area on top, and
encodes the pixels as PNG. So the 20-30 locators of a report cost about one full drawing.
A plan with more areas than ``MAX_LABELLED_AREAS`` gets none from ``render_locators``: a
locator per card is no help among hundreds of cards, and drawing them would dominate the run.
"""

from __future__ import annotations

import io
import weakref
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from PIL import Image

from sda.maps.layers import area_shapes, district_shapes, labels_readable, outline_collection, polygon_collection
from sda.plan import Plan

__all__ = ["LOCATOR_SIZE_IN", "plot_locator", "render_locators"]

#: Size of a locator (inches) and its resolution: 1.6 x 1.8 in at 100 dpi is 160 x 180 px.
LOCATOR_SIZE_IN = (1.6, 1.8)
_LOCATOR_DPI = 100
_HIGHLIGHT = "#d7301f"
#: Areas smaller than this share of the study area's width get a ring round them.
_SMALL = 0.08


@dataclass
class _Base:
    fig: Figure
    canvas: FigureCanvasAgg
    background: Any
    shapes: gpd.GeoDataFrame

    def png(self, area_id: str) -> bytes:
        if area_id not in self.shapes.index:
            known = ", ".join(self.shapes.index[:5])
            msg = f"no area {area_id!r} in this plan; its areas are {known}, ..."
            raise ValueError(msg)
        ax = self.fig.axes[0]
        self.canvas.restore_region(self.background)
        added: list[Any] = [
            polygon_collection(
                [self.shapes.geometry[area_id]], facecolors=_HIGHLIGHT, edgecolors="#67000d", linewidths=0.6, zorder=5
            )
        ]
        ax.add_collection(added[0], autolim=False)
        x0, y0, x1, y1 = self.shapes.geometry[area_id].bounds
        span = self.shapes.total_bounds[2] - self.shapes.total_bounds[0]
        if max(x1 - x0, y1 - y0) < _SMALL * span:  # too small to see: ring it
            ring = Circle(
                ((x0 + x1) / 2, (y0 + y1) / 2), _SMALL * span, fill=False, edgecolor=_HIGHLIGHT, linewidth=1.2
            )
            ax.add_patch(ring)
            added.append(ring)
        for artist in added:
            ax.draw_artist(artist)
            artist.remove()
        pixels = np.asarray(self.canvas.buffer_rgba())
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        return buffer.getvalue()


# One base at a time: the last plan's, dropped when that plan is.
_cache: tuple[weakref.ref[Plan], _Base] | None = None


def plot_locator(plan: Plan, area_id: object) -> bytes:
    """A small PNG of the study area with ``area_id`` highlighted (the base is drawn once per plan)."""
    return _base(plan).png(str(area_id))


def render_locators(plan: Plan) -> dict[str, bytes]:
    """Locators of every area: ``str(area_id) -> PNG bytes`` (none above ``MAX_LABELLED_AREAS`` areas)."""
    if not labels_readable(plan.units["area_id"].nunique()):
        return {}
    base = _base(plan)
    return {area: base.png(area) for area in base.shapes.index}


def _base(plan: Plan) -> _Base:
    global _cache
    if _cache is not None and _cache[0]() is plan:
        return _cache[1]
    shapes = area_shapes(plan)
    fig = Figure(figsize=LOCATOR_SIZE_IN, dpi=_LOCATOR_DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.96))
    ax.add_collection(polygon_collection(shapes.geometry, facecolors="#e3e3e3", edgecolors="white", linewidths=0.4))
    districts = district_shapes(plan)
    if len(districts) > 1:
        ax.add_collection(outline_collection(districts.geometry, colors="#7a7a7a", linewidths=0.6))
    x0, y0, x1, y1 = shapes.total_bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    canvas.draw()
    base = _Base(fig, canvas, canvas.copy_from_bbox(fig.bbox), shapes)
    _cache = (weakref.ref(plan), base)
    return base
