"""The plan's GIS layers and tables: what officers open in QGIS and in a spreadsheet.

``write_layers`` writes them into a plan folder: ``units.geojson`` and ``areas.geojson`` (WGS84,
per RFC 7946), their QGIS styles (``.qml``), ``assignment.csv``, ``areas.csv`` and one
GeoPackage in British National Grid with the ``units``, ``areas``, ``adjacency`` and
``practices`` layers and their default styles embedded. Every one records the run id.

The module draws nothing and imports no plotting library, so that a worker process can write
the layers (``sda.outputs`` hands them to one) while the caller writes the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from sda.area_table import areas_csv_text, clean_polygonal, district_outlines, names_of_codes
from sda.cells import csv_text
from sda.crs import BNG as _BNG
from sda.crs import WGS84 as _WGS84
from sda.folder import replacing, run_timestamp, write_text
from sda.formatting import show_text
from sda.graph import graph_edges_frame
from sda.plan import Plan, area_neighbours
from sda.qgis import (
    adjacency_qml,
    area_colours,
    areas_qml,
    districts_qml,
    moved_units_qml,
    practices_qml,
    units_qml,
)

__all__ = [
    "AREA_FIELDS",
    "GPKG_VERSION",
    "PROVENANCE_FIELDS",
    "UNIT_FIELDS",
    "areas_frame",
    "in_bng",
    "layer_qml",
    "run_label",
    "stamp_xml",
    "units_frame",
    "write_geojson",
    "write_layers",
]

#: Unit attributes written to ``units.geojson`` and the GeoPackage ``units`` layer, in order.
UNIT_FIELDS = (
    "unit_code",
    "unit_name",
    "population",
    "district",
    "district_name",
    "pcn_code",
    "places",
    "area_id",
    "area_name",
)

#: Area attributes written to ``areas.geojson`` (when the plan has them), in order.
AREA_FIELDS = (
    "area_id",
    "name",
    "population",
    "n_units",
    "deviation",
    "deviation_pct",
    "dominant_pcn",
    "dominant_pcn_name",
    "pcn_coterminosity",
    "polsby_popper",
    "n_districts",
    "districts",
    "district_names",
    "n_pcns",
    "cut_border_m",
    "n_parts",
)

#: Provenance stamped on every feature of the GeoPackage ``areas`` layer.
PROVENANCE_FIELDS = ("sda_version", "config_sha256", "run_at", "run_id")

#: The GeoPackage version written (read by every QGIS 3 release without a warning).
GPKG_VERSION = "1.3"


def write_layers(plan: Plan, out_dir: Path, run: str, districts: gpd.GeoDataFrame | None = None) -> list[Path]:
    """Write the plan's layers and tables into ``out_dir`` (a folder being built, see
    ``sda.folder.replace_folder``), each stamped with ``run``; the paths, in this order:
    ``units.geojson``, ``units.qml``, ``areas.geojson``, ``areas.qml``, ``assignment.csv``,
    ``areas.csv``, ``plan.gpkg``. ``districts``: the outlines the maps drew
    (``sda.area_table.district_outlines``), so that a worker need not dissolve them again."""
    units = units_frame(plan)
    areas = areas_frame(plan)
    qml = {name: stamp_xml(text, run) for name, text in layer_qml(plan, areas).items()}
    return [
        write_geojson(units, out_dir / "units.geojson", description=run),
        write_text(out_dir / "units.qml", qml["units"]),
        write_geojson(
            areas[[c for c in AREA_FIELDS if c in areas.columns] + ["geometry"]],
            out_dir / "areas.geojson",
            description=run,
        ),
        write_text(out_dir / "areas.qml", qml["areas"]),
        _write_assignment(plan, out_dir / "assignment.csv"),
        write_text(out_dir / "areas.csv", areas_csv_text(plan)),
        _write_geopackage(plan, units, areas, qml, out_dir / "plan.gpkg", districts),
    ]


def run_label(plan: Plan) -> str:
    return f"sda run {plan.provenance.get('run_id', '')}"


def stamp_xml(text: str, run: str) -> str:
    """Add an XML comment with the run after the DOCTYPE (or at the top)."""
    comment = f"<!-- {run} -->\n"
    head, sep, rest = text.partition("\n")
    if head.startswith("<!DOCTYPE") or head.startswith("<?xml"):
        return head + sep + comment + rest
    return comment + text


def write_geojson(frame: gpd.GeoDataFrame, path: Path, *, description: str = "") -> Path:
    """Write a GeoDataFrame as RFC 7946 GeoJSON (WGS84 lon/lat, 6 decimals), atomically.

    Parameters
    ----------
    frame
        Features with a CRS (reprojected to EPSG:4326 here). A named index (such as
        ``unit_code``) is written as a property; an unnamed one is dropped.
    path
        Target file; replaced only once the new file is complete.
    description
        Written as the collection's ``description`` member (``sda run <id>`` in plan folders).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        The frame has no CRS, so it cannot be placed on the globe.
    """
    path = Path(path)
    if frame.crs is None:
        msg = f"cannot write {path.name}: the frame has no CRS to reproject to EPSG:4326 from"
        raise ValueError(msg)
    frame = frame if frame.crs == _WGS84 else frame.to_crs(_WGS84)
    if frame.index.name is not None and frame.index.name not in frame.columns:
        frame = frame.reset_index()  # a named index (unit_code) is data; GDAL would drop it
    frame = _on_grid(frame, 1e-6)  # RFC 7946 at 6 decimals: round here, keeping polygons valid
    with replacing(path) as tmp:
        pyogrio.write_dataframe(
            frame,
            tmp,
            layer=path.stem,
            driver="GeoJSON",
            layer_options={
                "RFC7946": "YES",
                "COORDINATE_PRECISION": "6",
                **({"DESCRIPTION": description} if description else {}),
            },
        )
    return path


def units_frame(plan: Plan) -> gpd.GeoDataFrame:
    """Build the unit layer: ``UNIT_FIELDS`` (missing text fields blank) in EPSG:27700."""
    frame = in_bng(plan.units).rename_axis("unit_code").reset_index()
    frame["unit_code"] = frame["unit_code"].astype(str)
    for name in UNIT_FIELDS:
        if name not in frame.columns:
            frame[name] = ""
        elif name in {"unit_name", "district", "district_name", "pcn_code", "places", "area_name"}:
            frame[name] = frame[name].map(show_text).astype(str)
    return gpd.GeoDataFrame(frame[[*UNIT_FIELDS, "geometry"]], geometry="geometry", crs=_BNG)


def areas_frame(plan: Plan) -> gpd.GeoDataFrame:
    """Build the area layer: every column of ``plan.areas`` (blank text for missing), in EPSG:27700."""
    areas = plan.areas
    if "geometry" not in areas.columns or areas.geometry.isna().any():
        shapes = plan.units[["area_id", "geometry"]].dissolve(by="area_id")
        areas = gpd.GeoDataFrame(areas.drop(columns=["geometry"], errors="ignore").join(shapes), crs=plan.units.crs)
    frame = in_bng(areas).rename_axis("area_id").reset_index()
    # Names beside the codes, as areas.csv has them, for labels and filters in QGIS.
    districts_named, pcn_named = names_of_codes(plan)
    if "districts" in frame.columns:
        frame["district_names"] = frame["districts"].map(districts_named)
    if "dominant_pcn" in frame.columns:
        frame["dominant_pcn_name"] = frame["dominant_pcn"].map(pcn_named)
    for name in frame.columns:
        if name != "geometry" and frame[name].dtype == object:
            frame[name] = frame[name].map(show_text).astype(str)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=_BNG)


#: Fields of a re-run's ``moved_units`` layer, one row per unit moved since the previous plan.
MOVED_FIELDS = ("unit_code", "unit_name", "population", "from_area", "to_area", "reason")


def moved_units_frame(plan: Plan, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The units a re-run moved (``provenance["previous"]["moved_units"]``, see ``sda.rerun``)
    with their previous and new area and why; no rows for a plan that is not a re-run."""
    by_code = {str(m["unit_code"]): m for m in plan.moved_units}
    rows = units[units["unit_code"].isin(by_code)].copy()  # ``units_frame``: codes are text
    for key in ("from_area", "to_area", "reason"):
        rows[key] = [str(by_code[c].get(key, "")) for c in rows["unit_code"]]
    return rows[[*MOVED_FIELDS, "geometry"]].reset_index(drop=True)


def _polygon_type(frame: gpd.GeoDataFrame) -> str:
    """``Polygon`` when every feature is one polygon, else ``MultiPolygon`` (single parts promoted)."""
    return "Polygon" if (frame.geom_type == "Polygon").all() else "MultiPolygon"


def _on_grid(frame: gpd.GeoDataFrame, grid: float) -> gpd.GeoDataFrame:
    """Polygon layers snapped to a coordinate grid with validity kept (GEOS precision model), then
    reduced to their polygonal parts: rounding on write would otherwise make thin parts invalid."""
    polygonal = frame.geom_type.isin(["Polygon", "MultiPolygon"])
    if not polygonal.any():
        return frame
    geoms = np.asarray(frame.geometry.array, dtype=object).copy()
    # Reprojection can leave a valid outline very slightly invalid; repair before snapping.
    repaired = [clean_polygonal(g) for g in geoms[polygonal.to_numpy()]]
    geoms[polygonal.to_numpy()] = [_snapped(g, grid) for g in repaired]
    return frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))


def _snapped(geom: shapely.Geometry, grid: float) -> shapely.Geometry:
    try:
        return clean_polygonal(shapely.set_precision(geom, grid))
    except shapely.errors.GEOSException:  # GEOS cannot snap this one: keep it unsnapped but valid
        return geom


def in_bng(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to EPSG:27700; a frame without a CRS is taken to be in it, as ``Plan`` promises."""
    if frame.crs is None:
        return frame.set_crs(_BNG)
    return frame if frame.crs == _BNG else frame.to_crs(_BNG)


def _adjacency_frame(plan: Plan, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Graph edges as lines between representative points, with ``cut`` = 1 across areas."""
    edges = graph_edges_frame(units.set_index("unit_code"), plan.graph)
    area = dict(zip(units["unit_code"], units["area_id"], strict=True))
    edges["cut"] = [int(area.get(u) != area.get(v)) for u, v in zip(edges["u"], edges["v"], strict=True)]
    return edges[["u", "v", "border_m", "cut", "kind", "geometry"]]


def layer_qml(plan: Plan, areas: gpd.GeoDataFrame) -> dict[str, str]:
    ids = list(areas["area_id"])
    return {
        "units": units_qml(),
        "areas": areas_qml(ids, area_colours(ids, area_neighbours(plan))),
        "adjacency": adjacency_qml(),
        "practices": practices_qml(),
        "districts": districts_qml(),
        "moved_units": moved_units_qml(),
    }


def _write_geopackage(
    plan: Plan,
    units: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    qml: Mapping[str, str],
    path: Path,
    districts: gpd.GeoDataFrame | None,
) -> Path:
    """One GeoPackage in EPSG:27700 with the plan's layers and their default QGIS styles."""
    stamped = areas.assign(**{k: show_text(plan.provenance.get(k)) for k in PROVENANCE_FIELDS})
    layers: dict[str, tuple[gpd.GeoDataFrame, str]] = {
        "units": (units, _polygon_type(units)),
        "areas": (stamped, _polygon_type(stamped)),
        "adjacency": (_adjacency_frame(plan, units), "LineString"),
    }
    if plan.practices is not None and len(plan.practices):
        layers["practices"] = (in_bng(plan.practices), "Point")
    if districts is None:
        districts = district_outlines(plan.units)
    districts = in_bng(districts).reset_index()
    if len(districts):  # the outlines the print maps draw, so QGIS can draw them too
        layers["districts"] = (districts[["district", "name", "geometry"]], _polygon_type(districts))
    moved = moved_units_frame(plan, units)
    if len(moved):  # a re-run: what moved, for QGIS as changes.png shows it (last: drawn on top)
        layers["moved_units"] = (moved, _polygon_type(moved))
    stamp = _run_time(plan)
    # GDAL stamps gpkg_contents.last_change with the clock unless OGR_CURRENT_DATE says otherwise:
    # the run's time instead, so that a rerun (with SOURCE_DATE_EPOCH) gives the same bytes.
    saved = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp.strftime("%Y-%m-%dT%H:%M:%S.000Z")})
    try:
        with replacing(path) as tmp:
            for i, (name, (frame, geometry_type)) in enumerate(layers.items()):
                pyogrio.write_dataframe(
                    frame,
                    tmp,
                    layer=name,
                    driver="GPKG",
                    geometry_type=geometry_type,
                    promote_to_multi=geometry_type == "MultiPolygon",
                    layer_options={"DESCRIPTION": run_label(plan)},
                    # GeoPackage 1.3, not GDAL's newest 1.4: QGIS builds on older GDAL (3.6 and
                    # earlier) warn that a 1.4 file "may only be partially supported".
                    dataset_options={"VERSION": GPKG_VERSION} if i == 0 else None,
                )
            styles = _layer_styles(tmp, {name: qml[name] for name in layers}, plan.provenance, stamp)
            # QGIS creates this table with its primary key named "id"; match it exactly.
            pyogrio.write_dataframe(styles, tmp, layer="layer_styles", driver="GPKG", layer_options={"FID": "id"})
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": saved})
    return path


def _run_time(plan: Plan) -> datetime:
    try:
        return datetime.fromisoformat(str(plan.provenance["run_at"]))
    except (KeyError, ValueError):
        return run_timestamp()


def _layer_styles(path: Path, qml: Mapping[str, str], provenance: Mapping[str, Any], stamp: datetime) -> pd.DataFrame:
    """Rows of the ``layer_styles`` table QGIS reads a GeoPackage layer's default style from.

    QGIS matches a row to a layer on ``f_table_schema = ''``, ``f_table_name`` and
    ``f_geometry_column`` and prefers rows with ``useAsDefault`` (see ``QgsOgrProviderMetadata``
    ``loadStyle``/``saveStyle``), so the geometry column is read back from the file rather than
    assumed.
    """
    rows = []
    for name, text in qml.items():
        rows.append(
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": name,
                "f_geometry_column": pyogrio.read_info(path, layer=name)["geometry_name"],
                "styleName": name,
                "styleQML": text,
                "styleSLD": "",
                "useAsDefault": True,
                "description": f"sda {provenance.get('sda_version', '')} default style",
                "owner": "",
                "ui": "",
                "update_time": pd.Timestamp(stamp),
            }
        )
    return pd.DataFrame(rows)


def _write_assignment(plan: Plan, path: Path) -> Path:
    names = plan.units["area_name"] if "area_name" in plan.units.columns else plan.assignment
    rows = sorted((str(code), str(area), show_text(names.get(code))) for code, area in plan.assignment.items())
    return write_text(path, csv_text(["unit_code", "area_id", "area_name"], rows))
