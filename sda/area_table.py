"""The area table: one row per area with its figures and its clean outline.

This module owns how units become area polygons and the per-area figures read from them.
Dissolving generalised boundaries naively leaves sliver gaps inside an area (drawn as dashed
lines, counted as perimeter, written as GeometryCollections of polygons and stray lines). Here
each area's units are merged, gaps narrower than ``[graph] snap_m`` are closed (a buffer out and
back in by half the snap distance), anything that would reach into another area's units is cut
back, pieces that still meet at a point or lie within ``snap_m`` of each other are joined by a
narrow bridge (the graph treats such gaps as touching), and only valid polygons are kept.
Uncovered channels up to ``CHANNEL_M`` wide between one area's own banks (tidal rivers clipped
out of the units) are filled last, so that no slit reads as a border inside an area. The unit
polygons themselves are never changed. An area still in several pieces after that (a real
island, or units linked by ``extra_links`` across a wider gap) keeps them as a MultiPolygon and
its ``n_parts`` says so. Compactness (Polsby-Popper) is measured on these
clean outlines.
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from sda.cells import csv_text
from sda.formatting import show_text
from sda.naming import place_populations
from sda.pcn import pcn_names
from sda.plan import Plan
from sda.problem import Problem

__all__ = [
    "AREAS_CSV_COLUMNS",
    "CHANNEL_M",
    "areas_csv_text",
    "build_area_table",
    "clean_polygonal",
    "dissolve_areas",
    "polsby_popper",
]

#: Columns of ``areas.csv``, one row per area.
AREAS_CSV_COLUMNS = (
    "area_id",
    "name",
    "population",
    "deviation_pct",
    "n_units",
    "n_parts",
    "districts",
    "dominant_pcn",
    "dominant_pcn_name",
    "pcn_coterminosity",
    "polsby_popper",
    "cut_border_km",
    "units",
    "places",
)


def clean_polygonal(geom: shapely.Geometry, *, min_part_m2: float = 0.0) -> shapely.Geometry:
    """Only the valid polygonal part of ``geom``: a Polygon, or a MultiPolygon of several parts.

    Lines and points (what a union or a rounding leaves of slivers) are dropped, and so are
    polygon parts smaller than ``min_part_m2``. An empty input gives an empty Polygon.
    """
    if geom is None or geom.is_empty:
        return shapely.Polygon()
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon | shapely.MultiPolygon)]
    polys = [q for p in parts for q in shapely.get_parts(p) if not q.is_empty and q.area > min_part_m2]
    if not polys:
        return shapely.Polygon()
    merged = shapely.union_all(polys) if len(polys) > 1 else polys[0]
    if not merged.is_valid:
        merged = shapely.make_valid(merged)
    kept = [q for q in shapely.get_parts(merged) if isinstance(q, shapely.Polygon) and q.area > min_part_m2]
    if not kept:
        return shapely.Polygon()
    return kept[0] if len(kept) == 1 else shapely.MultiPolygon(kept)


#: Holes smaller than this (m²) are slivers of generalisation, not gaps to mention.
GAP_MIN_M2 = 1_000.0


def uncovered_gaps(outlines: gpd.GeoSeries) -> list[float]:
    """The areas (m², largest first) of the gaps the areas enclose but none covers. The units leave
    out ground such as tidal rivers (clipped boundaries); where such an inlet narrows below
    ``snap_m`` the outlines close its mouth, and what lies upstream is a hole in the plan."""
    union = shapely.union_all(np.asarray(outlines.array, dtype=object))
    holes = shapely.union_all([shapely.Polygon(ring) for part in shapely.get_parts(union) for ring in part.interiors])
    gaps = shapely.area(shapely.get_parts(shapely.difference(holes, union)))  # less any area inside a hole
    return sorted((float(a) for a in gaps if a >= GAP_MIN_M2), reverse=True)


def dissolve_areas(units: gpd.GeoDataFrame, snap_m: float, *, keep_out_of_others: bool = True) -> gpd.GeoSeries:
    """One clean outline per area (index ``area_id``), gaps up to ``snap_m`` metres closed.

    Parameters
    ----------
    units
        Indexed by unit code, with ``area_id`` and polygon ``geometry`` in a metric CRS
        (EPSG:27700).
    snap_m
        The graph's snap distance: gaps this narrow between an area's own units are filled.
    keep_out_of_others
        Give back any filled ground that lies in another area's units (a notch between two
        areas). Always done for written outlines; scores of quick alternatives may skip it.

    Returns
    -------
    geopandas.GeoSeries
        Valid Polygon (or MultiPolygon where the area really is in separate pieces) per area,
        sorted by id, in the units' CRS.
    """
    geoms = np.asarray(units.geometry.array, dtype=object)
    areas = units["area_id"].astype(str).to_numpy()
    ids = sorted(set(areas.tolist()))
    all_units = shapely.STRtree(geoms)
    tree = all_units if keep_out_of_others else None
    half = max(float(snap_m), 0.0) / 2
    outlines = []
    for area in ids:
        merged = raw = shapely.union_all(geoms[areas == area])
        if half > 0:
            closed = _closing(merged, half)
            filled = shapely.difference(closed, merged)  # the gaps closed: thin, so cheap to test
            filled = _outside_others(filled, area, geoms, areas, tree)
            merged = shapely.union(merged, filled)
        merged = _fill_own_holes(merged, area, geoms, areas, tree)
        outline = clean_polygonal(merged, min_part_m2=half * half)
        # A piece made only of filled gap (cut off by another area's units) is not part of the area.
        pieces = [p for p in shapely.get_parts(outline) if shapely.intersection(p, raw).area >= 0.5 * p.area]
        if len(pieces) > 1 and half > 0:
            trim = functools.partial(_trim, area=area, geoms=geoms, areas=areas, tree=tree)
            pieces = _bridged(pieces, 2 * half, trim)
        outlines.append(pieces[0] if len(pieces) == 1 else shapely.MultiPolygon(pieces) if pieces else outline)
    outlines = _fill_channels(outlines, ids, geoms, areas, all_units, apart_m=2 * half)
    sealed = [_sealed(g, area, geoms, areas, tree) for g, area in zip(outlines, ids, strict=True)]
    return gpd.GeoSeries(sealed, index=ids, crs=units.crs).rename_axis("area_id")


def _closing(geom: shapely.Geometry, reach: float) -> shapely.Geometry:
    """``geom`` with every gap and notch narrower than ``2 * reach`` filled (a buffer out and back
    in; mitred, so that corners stay square)."""
    return shapely.buffer(shapely.buffer(geom, reach, join_style="mitre"), -reach, join_style="mitre")


#: Uncovered channels up to this wide (metres) inside one piece of an area are part of its outline.
#: Boundaries clipped to the coastline leave tidal rivers out (the Nene through Wisbech, 8 km; the
#: Hundred Foot River and the Nene Washes, 20-50 m wide in the shipped LSOAs); wider than ``snap_m``,
#: they stayed as slits into the outline, drawn on the maps as borders splitting one area in two.
CHANNEL_M = 50.0


def _fill_channels(
    outlines: list[shapely.Geometry],
    ids: list[str],
    geoms: np.ndarray,
    areas: np.ndarray,
    tree: shapely.STRtree,
    apart_m: float,
) -> list[shapely.Geometry]:
    """Each outline with the uncovered ground of channels narrower than ``CHANNEL_M`` between its
    own banks filled in (a closing by half that width). Only ground that no unit covers and no
    other outline holds is filled, and only channels that touch one piece of the area and keep
    more than ``apart_m`` (the snap distance) from its other pieces: a channel that would join
    two pieces is a real gap, which ``n_parts`` reports. Outlines are taken in id
    order, so ground two areas' channels could both claim goes to the first. Bits smaller than
    ``CHANNEL_M`` squared (the wedge where two units meet at a corner) are too small to see and
    are left as they are."""
    reach = CHANNEL_M / 2
    result = list(outlines)
    boxes = shapely.STRtree(result)  # a closing stays within its outline's box, so these hold
    for i, (area, outline) in enumerate(zip(ids, outlines, strict=True)):
        if outline.is_empty:
            continue
        ground = shapely.difference(_closing(outline, reach), outline)
        if ground.area < CHANNEL_M**2:  # most areas: nothing to fill
            continue
        taken = [result[j] for j in boxes.query(ground).tolist() if j != i]
        taken += [geoms[j] for j in tree.query(ground, predicate="intersects").tolist() if areas[j] != area]
        try:
            ground = shapely.difference(ground, shapely.make_valid(shapely.union_all(taken)))
        except shapely.errors.GEOSException:  # outlines that overlap (quick scores): keep as it is
            continue
        pieces = shapely.get_parts(outline)
        channels = []
        for c in shapely.get_parts(clean_polygonal(ground, min_part_m2=CHANNEL_M**2)):
            apart = shapely.distance(pieces, c)
            if int((apart < _TOUCH_M).sum()) == 1 and int((apart <= apart_m).sum()) == 1:
                channels.append(c)
        if channels:
            # A channel meeting its piece only at a point stays a part of its own: leave it out.
            joined = shapely.get_parts(clean_polygonal(shapely.union_all([outline, *channels])))
            kept = [p for p in joined if shapely.intersection(p, outline).area >= 0.5 * p.area]
            result[i] = kept[0] if len(kept) == 1 else shapely.MultiPolygon(kept)
    return result


#: Cracks narrower than twice this (metres) inside an outline are closed (``_sealed``).
SEAL_M = 0.05


def _sealed(
    geom: shapely.Geometry, area: str, geoms: np.ndarray, areas: np.ndarray, tree: shapely.STRtree | None
) -> shapely.Geometry:
    """``geom`` with its hairline cracks closed. A union of an outline with ground cut to fit
    it (the gaps closed, the channels filled) can leave a crack a fraction of a millimetre wide
    where the two should meet exactly; drawn, it is a line kilometres long through the area (4.6
    km inside one area of a 28-area plan, along the Hundred Foot River). Closed by ``SEAL_M``,
    then cut back from other areas' units; done once per area, last."""
    if geom.is_empty:
        return geom
    return clean_polygonal(_outside_others(_closing(geom, SEAL_M), area, geoms, areas, tree))


def _fill_own_holes(
    geom: shapely.Geometry, area: str, geoms: np.ndarray, areas: np.ndarray, tree: shapely.STRtree | None
) -> shapely.Geometry:
    """Fill holes that no other area's unit reaches into: ground the source leaves uncovered
    inside one area (a washland or river drawn as a gap wider than the snap distance) belongs to
    no other area, and drawn as a hole it reads as a border. Holes holding other areas' units
    (enclaves) stay."""
    if tree is None or geom.is_empty:
        return geom
    filled = []
    for part in shapely.get_parts(geom):
        if part.geom_type != "Polygon" or not part.interiors:
            filled.append(part)
            continue
        holes = []
        for ring in part.interiors:
            hole = shapely.Polygon(ring)
            others = [i for i in tree.query(hole, predicate="intersects").tolist() if areas[i] != area]
            reached = any(shapely.intersection(hole, geoms[i]).area > 1.0 for i in others)
            if reached:
                holes.append(ring)
        filled.append(shapely.Polygon(part.exterior, holes))
    return shapely.union_all(filled)


def _trim(
    geom: shapely.Geometry, *, area: str, geoms: np.ndarray, areas: np.ndarray, tree: shapely.STRtree | None
) -> shapely.Geometry:
    return _outside_others(geom, area, geoms, areas, tree)


def _outside_others(
    geom: shapely.Geometry, area: str, geoms: np.ndarray, areas: np.ndarray, tree: shapely.STRtree | None
) -> shapely.Geometry:
    """``geom`` less any units of other areas it overlaps (skipped without a tree)."""
    if tree is None or geom.is_empty:
        return geom
    others = [geoms[i] for i in tree.query(geom, predicate="intersects").tolist() if areas[i] != area]
    return shapely.difference(geom, shapely.union_all(others)) if others else geom


#: Pieces closer than this are taken to meet at a point.
_TOUCH_M = 0.01


def _bridged(
    pieces: list[shapely.Geometry], snap_m: float, trim: Callable[[shapely.Geometry], shapely.Geometry]
) -> list[shapely.Geometry]:
    """Join pieces of one outline that lie within ``snap_m`` of each other (touching at a point,
    or across a gap the graph treats as touching) with a bridge as wide as half the snap
    distance along the shortest line between them; farther pieces stay separate."""
    merged = shapely.union_all(pieces)
    for i in range(len(pieces)):
        for j in range(i + 1, len(pieces)):
            if shapely.distance(pieces[i], pieces[j]) <= snap_m:
                link = shapely.buffer(shapely.shortest_line(pieces[i], pieces[j]), snap_m / 4)
                merged = shapely.union(merged, trim(link))
    parts = list(shapely.get_parts(clean_polygonal(merged)))
    # Where other areas' units cover the whole bridge (a corner shared with them), the pieces may
    # still meet at a point: join them with a bridge 1 m wide, which overlaps the neighbours by a
    # square metre or so, rather than leave a MultiPolygon split at a point.
    touching = [
        shapely.buffer(shapely.shortest_line(parts[i], parts[j]), 0.5)
        for i in range(len(parts))
        for j in range(i + 1, len(parts))
        if shapely.distance(parts[i], parts[j]) < _TOUCH_M
    ]
    if touching:
        parts = list(shapely.get_parts(clean_polygonal(shapely.union_all([*parts, *touching]))))
    return parts


def polsby_popper(geom: shapely.Geometry) -> float:
    """4*pi*area/perimeter^2 (1 for a circle); NaN for an empty outline."""
    perimeter = float(geom.length)
    return float(4 * np.pi * geom.area / perimeter**2) if perimeter else float("nan")


def build_area_table(
    units: gpd.GeoDataFrame,
    problem: Problem,
    labels: np.ndarray,
    ids: list[str],
    names: dict[str, str],
    target: float,
    snap_m: float,
) -> gpd.GeoDataFrame:
    """The area table of ``sda.plan.Plan.areas`` (see there), with ``name`` and ``n_parts``.

    Parameters
    ----------
    units
        The units with ``area_id`` (indexed by code, EPSG:27700).
    problem, labels
        The instance and the assignment (positions in ``problem.codes`` -> ``0..k-1``).
    ids, names
        Area id per label, and id -> name.
    target
        The balance target for ``deviation``.
    snap_m
        Gaps closed when dissolving (``[graph] snap_m``).
    """
    outlines = dissolve_areas(units, snap_m)
    rows = []
    codes_pos = {c: i for i, c in enumerate(problem.codes)}
    for a, area in enumerate(ids):
        member_codes = units.index[units["area_id"] == area]
        positions = np.array([codes_pos[c] for c in member_codes])
        pop = int(problem.pop[positions].sum())
        pcn_counts = units.loc[member_codes].groupby("pcn_code")["population"].sum().sort_values(ascending=False)
        pcn_counts = pcn_counts[pcn_counts.index != ""]
        dominant = str(pcn_counts.index[0]) if len(pcn_counts) else ""
        geom = outlines.loc[area]
        districts = sorted(set(units.loc[member_codes, "district"]))
        ext = 0.0
        for i in positions.tolist():
            lo, hi = problem.indptr[i], problem.indptr[i + 1]
            ext += float(problem.border_m[lo:hi][labels[problem.indices[lo:hi]] != a].sum())
        rows.append(
            {
                "area_id": area,
                "name": names.get(area, area),
                "population": pop,
                "n_units": len(member_codes),
                "deviation": pop - target,
                "deviation_pct": 100.0 * (pop - target) / target,
                "districts": ";".join(districts),
                "n_districts": len(districts),
                "dominant_pcn": dominant,
                "pcn_coterminosity": float(pcn_counts.iloc[0] / pop) if len(pcn_counts) and pop else float("nan"),
                "n_pcns": len(pcn_counts),
                "cut_border_m": ext,
                "polsby_popper": polsby_popper(geom),
                "n_parts": len(shapely.get_parts(geom)),
                "geometry": geom,
            }
        )
    table = gpd.GeoDataFrame(rows, geometry="geometry", crs=units.crs).set_index("area_id")
    return table.sort_index()


def dissolve_districts(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """District outlines dissolved from the units: index ``district``, column ``name`` (the code
    where a district has no name); empty when the units have no districts. For the maps and the
    GeoPackage's ``districts`` layer alike, so QGIS can draw what the print sheets draw."""
    districts = units["district"].map(show_text).astype(str) if "district" in units.columns else None
    if districts is None or not districts.str.strip().any():
        return gpd.GeoDataFrame({"name": []}, geometry=[], crs=units.crs)
    frame = units.assign(district=districts)
    names = frame.get("district_name", frame["district"]).map(show_text).astype(str)
    frame = frame.assign(name=names.where(names.str.strip() != "", frame["district"]))
    dissolved = frame[["district", "name", "geometry"]].dissolve(by="district", aggfunc="first")
    # Close the hairline gaps of generalised boundaries so each district draws as one outline.
    dissolved["geometry"] = dissolved.geometry.buffer(15).buffer(-15)
    return dissolved


# One at a time: the outlines of the last units frame, dropped with it. The print sheets, the
# report's maps and the GeoPackage's layer of a plan share its units (and ``sda.outputs`` hands
# the outlines to the worker that writes the layers), so they are dissolved once (about 0.09 s).
_outlines: tuple[weakref.ref[gpd.GeoDataFrame], gpd.GeoDataFrame] | None = None


def district_outlines(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``dissolve_districts(units)``, dissolved once per units frame; a copy the caller may change."""
    global _outlines
    if _outlines is None or _outlines[0]() is not units:
        _outlines = (weakref.ref(units), dissolve_districts(units))
    return _outlines[1].copy()


def names_of_codes(plan: Plan) -> tuple[Callable[[Any], str], Callable[[Any], str]]:
    """Two functions for an area's row: its districts (``"E07000010;E07000011"``) as names
    (``"Fenland; Huntingdonshire"``) and its dominant PCN's code as its name, for ``areas.csv``
    and the ``areas`` layers alike (a district or PCN without a name shows its code)."""
    units = plan.units
    district_name = (
        dict(zip(units["district"].astype(str), units["district_name"].astype(str), strict=True))
        if "district_name" in units.columns
        else {}
    )
    pcn = pcn_names(plan.practices)

    def districts_named(codes: Any) -> str:
        return "; ".join(district_name.get(d, d) or d for d in str(codes or "").split(";") if d)

    def pcn_named(code: Any) -> str:
        return str(pcn.get(str(code or ""), ""))

    return districts_named, pcn_named


def areas_csv_text(plan: Plan) -> str:
    """``areas.csv``: one row per area (``AREAS_CSV_COLUMNS``) for a spreadsheet or a mail merge
    (cells neutralised against formulas, ``sda.cells``).

    ``units`` lists the member units as ``code name (residents)``, largest first; ``places``
    lists the places the units contain as ``place (residents)``, where a place is credited with
    the residents of the units listing it (shared equally when a unit lists several) and of those
    counted under it for the name (``naming.place_populations``), so it is an indication of
    size, not a census count for the place.
    """
    units = plan.units
    places = place_populations(units) if "places" in units.columns else {}
    districts_named, pcn_named = names_of_codes(plan)
    members = {str(a): part for a, part in units.groupby("area_id")}
    rows = []
    for area, row in plan.areas.iterrows():
        part = members.get(str(area))
        listed = (
            ""
            if part is None
            else "; ".join(
                f"{code} {name} ({int(pop)})" if str(name) and str(name) != str(code) else f"{code} ({int(pop)})"
                for code, name, pop in sorted(
                    zip(part.index, part.get("unit_name", part.index), part["population"], strict=True),
                    key=lambda t: (-int(t[2]), str(t[0])),
                )
            )
        )
        dominant = str(row.get("dominant_pcn", "") or "")
        rows.append(
            [
                area,
                row.get("name", area),
                int(row["population"]),
                _fixed(row.get("deviation_pct"), 2),
                int(row.get("n_units", 0)),
                int(row.get("n_parts", 1) or 1),
                districts_named(row.get("districts")),
                dominant,
                pcn_named(dominant),
                _fixed(row.get("pcn_coterminosity"), 4),
                _fixed(row.get("polsby_popper"), 4),
                _fixed(float(row.get("cut_border_m", math.nan)) / 1000, 2),
                listed,
                "; ".join(f"{name} ({pop})" for name, pop in places.get(str(area), [])),
            ]
        )
    return csv_text(AREAS_CSV_COLUMNS, rows)


def _fixed(value: object, places: int) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(number) else f"{number:.{places}f}"
