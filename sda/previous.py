"""Carrying a previous plan onto the current units, and the start it gives a re-run.

Between two runs units may be merged, split, recoded, added or removed (a boundary review), and
populations change. ``carry_previous`` gives every current unit the area it was in last time:

- a unit whose code is in the previous plan keeps that code's area (``same code``);
- otherwise, when the previous plan has unit polygons (``plan.gpkg``, ``units.geojson``), by
  overlap with the previous units: each previous area's weight in the unit is the residents of
  the population points (e.g. Census output-area centroids) in the overlap when points are
  given, else the overlap's area; the unit takes the area with the largest weight, and is
  flagged *ambiguous* when that area holds less than ``AMBIGUOUS_BELOW`` of it;
- a previous plan given as a CSV has codes only, so only same-code carrying is possible; units
  with new codes then start with no area, and the carry says so.

Each unit is classified: ``same code``, ``merged from`` (several previous units lie mostly inside
it), ``split from`` (it holds most of its part of a previous unit that now spans several
units), ``recoded`` (the same polygon under a new code), ``redrawn`` (overlaps previous units
in another way) or ``new`` (no previous unit under it).

``start_labels`` turns the carry into a contiguous assignment the search can start from: units
without an area join the neighbouring area they share most border with, and detached pieces of
an area join a neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sda.codes import lost_zeros
from sda.engine.repair import join_neighbours
from sda.metrics import components, minor_pieces
from sda.planfile import PlanFile
from sda.problem import Problem

__all__ = [
    "AMBIGUOUS_BELOW",
    "KINDS",
    "Carried",
    "carry_previous",
    "start_labels",
]

#: A unit carried by overlap is ambiguous when no previous area holds at least this share of it.
AMBIGUOUS_BELOW = 0.8
#: How a current unit relates to the previous units.
KINDS = ("same code", "merged from", "split from", "recoded", "redrawn", "new")
#: A previous unit lies "mostly" in a current one when this share of its area does.
_MOSTLY = 0.5
#: Overlaps under this share of both polygons are slivers of generalised boundaries, not relations.
_SLIVER = 0.01
#: A recoded unit and its previous self cover each other to this share.
_SAME_SHAPE = 0.95


@dataclass
class Carried:
    """The previous plan as seen from the current units.

    Attributes
    ----------
    area : current unit code -> previous area id ("" where the unit has none).
    table : one row per current unit: ``unit_code``, ``kind`` (see ``KINDS``), ``sources``
        (";"-joined previous codes), ``previous_area``, ``share`` (of the unit's weight in that
        area; 1.0 for same code), ``ambiguous``, ``population``.
    weighting : ``"population points"``, ``"area"`` or ``"codes only"``.
    removed : previous unit codes that neither survive nor overlap any current unit.
    notes : sentences for the report (what could not be done and why).
    source : the previous plan file.
    previous_names : previous area id -> name (when the plan file had names).
    retired_ids : ids retired anywhere in this line of plans (read from the previous plan.json).
    previous_ids : every area id of the previous plan.
    """

    area: pd.Series
    table: pd.DataFrame
    weighting: str
    removed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str = ""
    previous_names: dict[str, str] = field(default_factory=dict)
    retired_ids: list[str] = field(default_factory=list)
    previous_ids: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Number of current units of each kind (every kind listed, zeros included)."""
        found = self.table["kind"].value_counts()
        return {kind: int(found.get(kind, 0)) for kind in KINDS}

    def summary(self) -> dict[str, Any]:
        """JSON-ready record for ``plan.json`` and the report: counts, weighting, changed units."""
        changed = self.table[self.table["kind"] != "same code"]
        return {
            "source": self.source,
            "weighting": self.weighting,
            "counts": self.counts(),
            "ambiguous": [str(c) for c in self.table.index[self.table["ambiguous"]]],
            "changed_units": [
                {
                    "unit_code": str(code),
                    "kind": str(row["kind"]),
                    "sources": str(row["sources"]),
                    "previous_area": str(row["previous_area"]),
                    "share": round(float(row["share"]), 4),
                    "population": int(row["population"]),
                }
                for code, row in changed.iterrows()
            ],
            "removed": list(self.removed),
            "notes": list(self.notes),
        }


def carry_previous(
    units: gpd.GeoDataFrame,
    previous: PlanFile,
    *,
    points: gpd.GeoDataFrame | None = None,
    ambiguous_below: float = AMBIGUOUS_BELOW,
) -> Carried:
    """Give each current unit its previous area (see the module docstring).

    Parameters
    ----------
    units
        Current units indexed by code, EPSG:27700, with ``population`` and ``geometry``.
    previous
        The previous plan (``sda.planfile.read_planfile``).
    points
        Optional population points (EPSG:27700) with a ``population`` column, used to weight
        overlaps by residents rather than by area.
    ambiguous_below
        Share below which a carried unit is flagged ambiguous.
    """
    old_area = previous.assignment
    codes = [str(c) for c in units.index]
    same = [c for c in codes if c in old_area.index]
    other = [c for c in codes if c not in old_area.index]
    rows: dict[str, dict[str, Any]] = {
        c: {"kind": "same code", "sources": c, "previous_area": str(old_area[c]), "share": 1.0} for c in same
    }
    notes: list[str] = []
    removed: list[str] = []
    gone = sorted(set(old_area.index) - set(codes))
    if previous.has_geometry and previous.units is not None and "geometry" in units.columns:
        weighting = "population points" if points is not None and len(points) else "area"
        rows.update(_by_overlap(units.loc[other], previous.units, old_area, gone, points, removed))
    else:
        weighting = "codes only"
        lacking = f"The previous plan ({previous.path.name})" if not previous.has_geometry else "The current plan"
        for c in other:
            rows[c] = {"kind": "new", "sources": "", "previous_area": "", "share": 0.0}
        removed = gone
        if other:
            notes.append(
                f"{lacking} has unit codes only, no polygons, so "
                f"{len(other)} unit(s) with codes it does not hold could not be carried by overlap: {_few(other)}; "
                "they start in a neighbouring area. If the plan file lost their rows by mistake, add them back; "
                "else give the previous plan.gpkg or units.geojson to carry them."
            )
            zeros = lost_zeros(gone, other)
            if zeros:
                notes[-1] += f"{zeros[0]} Fix: {zeros[1]}"
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(codes)
    table.index.name = "unit_code"
    table["population"] = units["population"].reindex(codes).fillna(0).astype("int64").to_numpy()
    table["ambiguous"] = (
        (table["kind"] != "same code") & (table["previous_area"] != "") & (table["share"] < ambiguous_below)
    )
    if removed:
        notes.append(_removed_note(removed, previous))
    record = previous.record or {}
    lineage = (record.get("provenance") or {}).get("lineage") or {}
    return Carried(
        area=table["previous_area"].astype(str),
        table=table,
        weighting=weighting,
        removed=removed,
        notes=notes,
        source=previous.path.name,
        previous_names=dict(previous.area_names or lineage.get("names") or {}),
        retired_ids=[str(a) for a in lineage.get("retired_ids", [])],
        previous_ids=sorted({str(a) for a in old_area}),
    )


def _by_overlap(
    new: gpd.GeoDataFrame,
    old: gpd.GeoDataFrame,
    old_area: pd.Series,
    gone: list[str],
    points: gpd.GeoDataFrame | None,
    removed: list[str],
) -> dict[str, dict[str, Any]]:
    """Rows for current units whose code is new, from their overlaps with the previous units."""
    rows: dict[str, dict[str, Any]] = {}
    old = old[~old.geometry.isna()]
    old_codes = [str(c) for c in old.index]
    old_geoms = old.geometry.to_numpy()
    old_sizes = shapely.area(old_geoms)
    tree = shapely.STRtree(old_geoms)
    point_tree = point_pops = None
    if points is not None and len(points):
        point_geoms = points.geometry.to_numpy()
        point_tree = shapely.STRtree(point_geoms)
        point_pops = points["population"].to_numpy(dtype=float)
    # How many current units each vanished previous unit spreads over (to tell splits from recodes).
    spread: dict[str, int] = {}
    pieces: dict[str, list[tuple[str, float, float]]] = {}
    for code, geom in zip(new.index.astype(str), new.geometry.to_numpy(), strict=True):
        hits = tree.query(geom, predicate="intersects")
        found = []
        size = float(shapely.area(geom)) or 1.0
        for j in hits.tolist():
            piece = shapely.intersection(geom, old_geoms[j])
            overlap = float(shapely.area(piece))
            if overlap <= 0 or (overlap < _SLIVER * size and overlap < _SLIVER * old_sizes[j]):
                continue
            weight = overlap
            if point_tree is not None and point_pops is not None:
                inside = point_tree.query(piece, predicate="contains")
                weight = float(point_pops[inside].sum())
            found.append((old_codes[j], overlap, weight))
        pieces[code] = found
        for old_code, overlap, _ in found:
            if overlap >= _SLIVER * old_sizes[old_codes.index(old_code)]:
                spread[old_code] = spread.get(old_code, 0) + 1
    sizes = dict(zip(old_codes, old_sizes.tolist(), strict=True))
    for code, geom in zip(new.index.astype(str), new.geometry.to_numpy(), strict=True):
        found = pieces[code]
        size = float(shapely.area(geom)) or 1.0
        if not found:
            rows[code] = {"kind": "new", "sources": "", "previous_area": "", "share": 0.0}
            continue
        weights: dict[str, float] = {}
        use_area = sum(w for _, _, w in found) <= 0  # no points inside: fall back to area
        for old_code, overlap, weight in found:
            area_id = str(old_area.get(old_code, ""))
            if area_id:
                weights[area_id] = weights.get(area_id, 0.0) + (overlap if use_area else weight)
        total = sum(weights.values())
        best = max(sorted(weights), key=lambda a: weights[a]) if weights else ""
        mostly_inside = [o for o, overlap, _ in found if overlap >= _MOSTLY * sizes[o]]
        main = max(found, key=lambda f: f[1])
        if len(mostly_inside) >= 2:
            kind, sources = "merged from", mostly_inside
        elif main[1] >= _MOSTLY * size and spread.get(main[0], 1) > 1:
            kind, sources = "split from", [main[0]]
        elif main[1] >= _SAME_SHAPE * size and main[1] >= _SAME_SHAPE * sizes[main[0]]:
            kind, sources = "recoded", [main[0]]
        else:
            kind, sources = "redrawn", [o for o, _, _ in found]
        rows[code] = {
            "kind": kind,
            "sources": ";".join(sorted(sources)),
            "previous_area": best,
            "share": weights[best] / total if total > 0 else 0.0,
        }
    removed.extend(c for c in gone if c not in spread)
    return rows


def start_labels(problem: Problem, carried: Carried) -> tuple[np.ndarray, list[str]]:
    """A contiguous assignment (positions of ``problem.codes``) built from the carried areas.

    Returns the labels and the previous area id of each label (``ids[label]``). Units with no
    previous area join the neighbouring area they share most border with; pieces of an area cut
    off from its most populous piece join a neighbour the same way (``join_neighbours``). A part
    of the graph with no carried unit at all becomes one area of its own. A previous area that
    ends up with no unit is dropped (the identity step retires its id).
    """
    ids = sorted({a for a in carried.area.reindex(problem.codes).fillna("").astype(str) if a})
    index = {a: i for i, a in enumerate(ids)}
    carried_area = carried.area.reindex(problem.codes).fillna("").astype(str)
    labels = np.array([index.get(a, -1) for a in carried_area], dtype=np.int64)
    for part in components(problem.indptr, problem.indices):
        if (labels[part] < 0).all():
            labels[part] = len(ids)
            ids.append("")
    labels[minor_pieces(problem.indptr, problem.indices, labels, problem.pop)] = -1
    labels = join_neighbours(problem, labels)
    used = np.unique(labels)
    remap = np.full(len(ids) + 1, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return remap[labels], [ids[u] for u in used.tolist()]


def _removed_note(removed: list[str], previous: PlanFile) -> str:
    """Which previous units no current unit covers, with their areas and residents then: their
    residents are in no area now unless the current units hold them under other codes."""
    people = previous.population
    shown = [
        f"{code} ({previous.assignment[code]}"
        + (f", {int(people[code]):,} residents)" if people is not None and code in people.index else ")")
        for code in removed
    ]
    total = (
        f" ({int(people.reindex(removed).fillna(0).sum()):,} residents in the previous plan)"
        if people is not None and len(removed) > 1
        else ""
    )
    return (
        f"{len(removed)} previous unit(s) are gone without a trace in the current units{total}: {_few(shown)}. "
        "Their residents are counted now only if another current unit holds them; check the units file if "
        "they were dropped by mistake."
    )


def _few(codes: list[str], limit: int = 8) -> str:
    return ", ".join(codes[:limit]) + (f" (+{len(codes) - limit} more)" if len(codes) > limit else "")
