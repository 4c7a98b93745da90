"""Change logs between two plans: which units and residents moved, between which areas, which
areas were created or retired, and each area's population and scores before and after.

The old plan is carried onto the new plan's units first (``sda.previous.carry_previous``), so two
plans on different units (a boundary review between them) can be compared. Areas are matched by
residents in common with an optimal assignment, not by id: a fresh run numbers its areas anew,
and "residents moved" must mean residents whose area changed, whatever the areas are called. In
a line of re-runs, which keep their ids, the matching and the ids agree. Two plans that share
too few units are plans of different places, and are refused rather than compared
(``MIN_SHARED_SHARE``), unless the new plan is made of part of the old one's units, as a re-run
of one district from a county plan is: then, as in that re-run, the old plan's other units are
removed and its areas wholly outside retired.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from sda.cells import csv_text
from sda.errors import InputError
from sda.formatting import counted, score_text, show_percent, show_whole
from sda.layers import write_geojson
from sda.planfile import PlanFile, run_areas
from sda.previous import Carried, carry_previous
from sda.reasons import (
    NO_DATA_REASON,
    NO_POPULATION_REASON,
    SEARCH_CHOICE,
    Band,
    carried_populations,
    move_reasons,
)

__all__ = ["AREA_COLUMNS", "DIFF_NAMES", "MOVED_COLUMNS", "PlanDiff", "diff_plans", "render_diff_text", "write_diff"]

#: The files ``write_diff`` writes: what a new change log replaces in its folder.
DIFF_NAMES = frozenset({"changes.txt", "moved.csv", "areas.csv", "moved.geojson"})

#: Columns of ``moved.csv`` / ``moved.geojson``.
MOVED_COLUMNS = ("unit_code", "from_area", "to_area", "population", "kind", "reason")
#: Columns of ``areas.csv``: one row per area, before and after.
AREA_COLUMNS = (
    "area_id",
    "previous_id",
    "area_name",
    "status",
    "population_before",
    "population_carried",
    "population_after",
    "units_in",
    "units_out",
    "residents_in",
    "residents_out",
    "pcn_coterminosity_before",
    "pcn_coterminosity_after",
    "polsby_popper_before",
    "polsby_popper_after",
)
#: The least share of each plan's units that must be in the other plan for the two to be compared
#: (see ``_refuse_other_places``).
MIN_SHARED_SHARE = 0.5
#: Plan scores compared, when both plans have a ``plan.json``.
SCORES = ("objective", "coterminosity", "pcns_split", "cut_border_km", "mean_polsby_popper", "mean_abs_deviation_pct")


@dataclass
class PlanDiff:
    """What changed from ``old`` to ``new``.

    Attributes
    ----------
    old_path, new_path : the files compared.
    moved : one row per current unit whose area changed (``MOVED_COLUMNS``; ``reason`` from
        ``sda.reasons``), with geometry (EPSG:27700) when the new plan has it.
    areas : one row per area of either plan (``AREA_COLUMNS``); ``status`` is ``kept``,
        ``renumbered`` (matched to a previous area of another id), ``created`` or ``retired``;
        ``population_carried`` is the previous area on the current units and populations, before
        any move (so before -> carried is the data's change, carried -> after the plan's).
    flows : ``from_area``, ``to_area``, ``units``, ``residents``: moves grouped by pair of areas.
    carried : how the old plan was carried onto the new units.
    residents_total, units_total : of the new plan.
    residents_known : False when neither plan gives populations (then only units are counted).
    scores : score -> (before, after), when both plans have ``plan.json``.
    renamed : (area id, name before, name after) of matched areas whose name changed.
    edited : the plan files whose ``plan.json`` records another plan (edited after the run): their
        recorded scores are not shown.
    other_data : True when the new plan file has no populations and its run's ``plan.json``
        counts its areas otherwise than the old plan's populations do (the data changed): the
        residents moved are counted on the old populations, the areas after as its run counted
        them, and no move is put down to the band.
    part_of : the old plan's units when the new plan covers only part of them (fewer than half
        are still there: a re-run of one district from a county plan), else 0.
    """

    old_path: Path
    new_path: Path
    moved: pd.DataFrame
    areas: pd.DataFrame
    flows: pd.DataFrame
    carried: Carried
    residents_total: int
    units_total: int
    residents_known: bool = True
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)
    edited: list[Path] = field(default_factory=list)
    part_of: int = 0
    other_data: bool = False

    @property
    def residents_moved(self) -> int:
        """Residents of the current units whose area changed."""
        return int(self.moved["population"].sum())

    @property
    def units_moved(self) -> int:
        """Current units whose area changed."""
        return len(self.moved)

    @property
    def created(self) -> list[str]:
        """Areas of the new plan with no previous counterpart."""
        return [str(a) for a in self.areas.loc[self.areas["status"] == "created", "area_id"]]

    @property
    def retired(self) -> list[str]:
        """Areas of the old plan with no new counterpart."""
        return [str(a) for a in self.areas.loc[self.areas["status"] == "retired", "previous_id"]]

    @property
    def unchanged(self) -> bool:
        """Nobody moved, no area created, retired or renumbered, and the units are the same."""
        return (
            self.units_moved == 0
            and set(self.areas["status"]) <= {"kept"}
            and set(self.carried.table["kind"]) <= {"same code"}
            and not self.carried.removed
            and not self.renamed
        )


def diff_plans(old: PlanFile, new: PlanFile, *, points: gpd.GeoDataFrame | None = None) -> PlanDiff:
    """Compare two plans (see the module docstring).

    Parameters
    ----------
    old, new
        Plans read by ``sda.planfile.read_planfile``.
    points
        Optional population points (EPSG:27700, ``population``) to weight overlaps by residents.

    Raises
    ------
    InputError
        The plans share less than ``MIN_SHARED_SHARE`` of either plan's units (different places).
    """
    units = _current_units(old, new)
    residents_known = bool(units["population"].sum() > 0)
    weight = units["population"].to_numpy() if residents_known else np.ones(len(units), dtype=np.int64)
    carried = carry_previous(units, old, points=points)
    part_of = _refuse_other_places(old, new, carried)
    before = carried.area.reindex(units.index).fillna("").astype(str)
    after = new.assignment.reindex(units.index).astype(str)
    new_ids = sorted(set(after))
    old_ids = sorted(set(old.assignment.astype(str)))
    match = _match(before.to_numpy(), after.to_numpy(), weight, old_ids, new_ids)
    expected_after = before.map(lambda a: match.get(a, "")).astype(str)
    is_moved = (before != "") & (expected_after != after)
    moved = pd.DataFrame(
        {
            "unit_code": units.index[is_moved].astype(str),
            "from_area": before[is_moved].to_numpy(),
            "to_area": after[is_moved].to_numpy(),
            "population": units.loc[is_moved, "population"].astype("int64").to_numpy(),
            "kind": carried.table.loc[is_moved.to_numpy(), "kind"].to_numpy(),
        }
    )
    continues = {n: o for o, n in match.items()}
    # Without residents of its own, the new plan is counted on the old plan's (or on none); its
    # run's plan.json tells whether its data were those.
    recorded = _recorded_populations(new) if new.population is None else None
    other_data = recorded is not None and (
        not residents_known or not _sums_agree(units["population"].groupby(after).sum(), recorded)
    )
    counted = residents_known and not other_data  # the current units' residents are known
    areas = _area_rows(old, new, units, before, after, continues, moved, counted=counted, recorded=recorded)
    reasons = move_reasons(
        before.tolist(),
        after.tolist(),
        is_moved.tolist(),
        units["population"].tolist(),
        previous_of=continues,
        band=None if other_data else _band(new),
        created=[str(a) for a in areas.loc[areas["status"] == "created", "area_id"]],
        retired=[str(a) for a in areas.loc[areas["status"] == "retired", "previous_id"]],
        pcn_before=_pcn_codes(old, units.index),
        pcn_after=_pcn_codes(new, units.index),
        run_areas=run_areas(old, units.index),
        otherwise=NO_POPULATION_REASON if other_data else SEARCH_CHOICE if _is_rerun(new) else NO_DATA_REASON,
    )
    moved["reason"] = [r for r, m in zip(reasons, is_moved.tolist(), strict=True) if m]
    if "geometry" in units.columns:
        moved = gpd.GeoDataFrame(moved, geometry=units.geometry[is_moved].to_numpy(), crs=units.crs)
    flows = (
        moved.groupby(["from_area", "to_area"], as_index=False)
        .agg(units=("unit_code", "size"), residents=("population", "sum"))
        .sort_values(["residents", "from_area", "to_area"], ascending=[False, True, True], ignore_index=True)
    )
    scores = {}
    old_scores = (old.record or {}).get("scores") or {} if old.as_run_wrote else {}
    new_scores = (new.record or {}).get("scores") or {} if new.as_run_wrote else {}
    for key in SCORES:
        if key in old_scores and key in new_scores:
            scores[key] = (_number(old_scores[key]), _number(new_scores[key]))
    renamed = [
        (area, old.area_names[prev], new.area_names[area])
        for area, prev in sorted(continues.items())
        if old.area_names.get(prev) and new.area_names.get(area) and old.area_names[prev] != new.area_names[area]
    ]
    return PlanDiff(
        old_path=old.path,
        new_path=new.path,
        moved=moved,
        areas=areas,
        flows=flows,
        carried=carried,
        residents_total=int(units["population"].sum()),
        units_total=len(units),
        residents_known=residents_known,
        scores=scores,
        renamed=renamed,
        edited=[plan.path for plan in (old, new) if plan.record is not None and not plan.as_run_wrote],
        part_of=part_of,
        other_data=other_data and residents_known,
    )


def _refuse_other_places(old: PlanFile, new: PlanFile, carried: Carried) -> int:
    """Refuse two plans that share less than ``MIN_SHARED_SHARE`` of either plan's units: compared,
    every unit would be "removed" or "new", and the change log would read as a boundary review.
    Unless the new plan covers part of the old one (``_covers_part_of``): then the old plan's
    number of units, for the change log to say so (else 0).

    A unit is shared when its code is in the other plan or, with polygons in both, when it lies on
    the other plan's units. A boundary review between two runs changes a minority of units, and
    those it merges, splits, recodes or redraws are carried by overlap, so they count as shared:
    only units added or removed outright count against, and a review stays well above half. Even
    a plan given as a CSV, carried by code alone, shares every unit the review left alone. Plans
    of different places share only the units along a common border or under an overlap. The test
    applies to each plan: a 4 x 4 km grid over Cambridge lies on 41 of the 487 shipped LSOAs, and
    each of its 16 units on an LSOA, so only the larger plan's share (8%) tells the places apart.
    """
    n_old, n_new = len(old.assignment), len(carried.table)
    shared_old = n_old - len(carried.removed)  # the old units still there, by code or under a new unit
    shared_new = int((carried.table["kind"] != "new").sum())  # the new units on old ones
    if shared_old >= MIN_SHARED_SHARE * n_old and shared_new >= MIN_SHARED_SHARE * n_new:
        return 0
    if _covers_part_of(carried):
        return n_old
    codes_only = carried.weighting == "codes only"
    how = "by code" if codes_only else "by code or by overlapping polygons"
    if _same_code(carried) >= MIN_SHARED_SHARE * n_old:  # the other way round from _covers_part_of
        hint = (
            f"{old.path} covers part of {new.path}: give the larger plan first (sda diff LARGER PART) to see "
            "what changed in the part. "
        )
    else:
        hint = ""
    msg = (
        f"the two plans cover different places: {old.path} has {n_old:,} units and {new.path} {n_new:,}, of "
        f"which {shared_old:,} and {shared_new:,} are in the other plan ({how}); expected at least "
        f"{MIN_SHARED_SHARE:.0%} of each plan's units in the other. Fix: {hint}compare a plan with the run "
        "it came from, or two runs of the same config (the same units file)"
        + (
            "; if the units were reviewed between the runs, give each plan's plan.gpkg or units.geojson, not a "
            "CSV, so that changed units are matched by their polygons."
            if codes_only
            else "."
        )
    )
    raise InputError(new.path, msg)


def _covers_part_of(carried: Carried) -> bool:
    """Whether the new plan is a plan of part of the old plan's units, by code (at least
    ``MIN_SHARED_SHARE`` of its units are the old plan's, the same code), such as a re-run of one
    district from a county plan: compared as the re-run compared them, the old plan's other units
    removed and its areas wholly outside retired. A grid laid over part of the county shares no
    code, and stays refused."""
    return _same_code(carried) >= MIN_SHARED_SHARE * len(carried.table)


def _same_code(carried: Carried) -> int:
    """The new plan's units whose code is an old plan's unit."""
    return int((carried.table["kind"] == "same code").sum())


def _current_units(old: PlanFile, new: PlanFile) -> gpd.GeoDataFrame:
    """The new plan's units with a population (its own, else the old plan's for the same code)."""
    codes = pd.Index(new.assignment.index.astype(str), name="unit_code")
    frame = new.units.reindex(codes) if new.units is not None else pd.DataFrame(index=codes)
    if "population" not in frame.columns or frame["population"].isna().any():
        fallback = old.population if old.population is not None else pd.Series(dtype="int64")
        own = frame["population"] if "population" in frame.columns else pd.Series(index=codes, dtype="float64")
        frame = frame.assign(population=own.fillna(fallback.reindex(codes)).fillna(0).astype("int64"))
    if isinstance(frame, gpd.GeoDataFrame):
        return frame
    return gpd.GeoDataFrame(frame)


def _is_rerun(plan: PlanFile) -> bool:
    """Whether the plan is, unedited, a re-run's (``sda propose --previous``): its moves are its search's."""
    return plan.as_run_wrote and bool(((plan.record or {}).get("provenance") or {}).get("previous"))


def _band(plan: PlanFile) -> Band | None:
    """The band the plan was made for, from its ``plan.json`` (None without one)."""
    areas = ((plan.record or {}).get("config") or {}).get("areas") or {}
    low, high = areas.get("min_population"), areas.get("max_population")
    return Band(int(low), int(high)) if isinstance(low, int | float) and isinstance(high, int | float) else None


def _pcn_codes(plan: PlanFile, codes: pd.Index) -> list[str] | None:
    """Each unit's PCN code in the plan's unit layer ("" where it has none), or None without one."""
    if plan.units is None or "pcn_code" not in plan.units.columns:
        return None
    return plan.units["pcn_code"].reindex(codes).fillna("").astype(str).tolist()


def _match(
    before: np.ndarray, after: np.ndarray, weight: np.ndarray, old_ids: list[str], new_ids: list[str]
) -> dict[str, str]:
    """Previous id -> new id, matching areas by residents in common (optimal assignment).

    An id left unmatched in both plans is matched to itself: its previous area shares no resident
    with any new one (its units were removed, or hold nobody), and "created: X; retired: X" would
    name one area twice."""
    row = {a: i for i, a in enumerate(old_ids)}
    col = {a: j for j, a in enumerate(new_ids)}
    common = np.zeros((len(old_ids), len(new_ids)), dtype=np.int64)
    for b, a, w in zip(before.tolist(), after.tolist(), weight.tolist(), strict=True):
        if b in row:
            common[row[b], col[a]] += int(w)
    # Prefer the same id among equal matches: a tiny bonus that never outweighs one resident.
    bonus = np.array([[0.5 if o == n else 0.0 for n in new_ids] for o in old_ids]).reshape(common.shape)
    rows, cols = linear_sum_assignment(common + bonus * (common > 0), maximize=True) if common.size else ([], [])
    match = {old_ids[r]: new_ids[c] for r, c in zip(list(rows), list(cols), strict=True) if common[r, c] > 0}
    unmatched = (set(old_ids) - set(match)) & (set(new_ids) - set(match.values()))
    return match | {a: a for a in sorted(unmatched)}


def _recorded_populations(plan: PlanFile) -> pd.Series | None:
    """Each area's residents as the plan's run counted them (its ``plan.json``), or None when the
    plan was edited since or the record has none."""
    table = _areas_record(plan)
    return table["population"].astype("int64") if "population" in table.columns else None


def _sums_agree(summed: pd.Series, recorded: pd.Series) -> bool:
    """Whether two counts of the same areas' residents agree, area by area."""
    areas = sorted(set(summed.index.astype(str)) | set(recorded.index.astype(str)))
    return bool((summed.reindex(areas).fillna(0) == recorded.reindex(areas).fillna(0)).all())


def _area_rows(
    old: PlanFile,
    new: PlanFile,
    units: pd.DataFrame,
    before: pd.Series,
    after: pd.Series,
    continues: dict[str, str],
    moved: pd.DataFrame,
    *,
    counted: bool = True,
    recorded: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per area (``AREA_COLUMNS``). Unless ``counted``, the current units' residents are
    not known: the areas after are ``recorded`` (as the new plan's run counted them; blank
    without), and the previous areas on the current data are left blank."""
    old_table = _areas_record(old)
    new_table = _areas_record(new)
    old_pop = _area_population(old, old_table)
    carried_pop = carried_populations(before.tolist(), units["population"].tolist())
    new_pop = units.groupby(after)["population"].sum() if len(units) else pd.Series(dtype="int64")
    if not counted:
        new_pop, carried_pop = recorded, None
    rows = []
    for area in sorted(set(after)):
        prev = continues.get(area, "")
        status = "created" if not prev else ("kept" if prev == area else "renumbered")
        row = _area_row(area, prev, status, (old_pop, carried_pop, new_pop), old_table, new_table, moved)
        rows.append(row | {"area_name": new.area_names.get(area) or old.area_names.get(prev, "")})
    for prev in sorted(set(old.assignment.astype(str)) - set(continues.values())):
        row = _area_row("", prev, "retired", (old_pop, carried_pop, new_pop), old_table, new_table, moved)
        rows.append(row | {"area_name": old.area_names.get(prev, "")})
    return pd.DataFrame(rows, columns=list(AREA_COLUMNS))


def _area_row(
    area: str,
    prev: str,
    status: str,
    populations: tuple[pd.Series | None, pd.Series | None, pd.Series | None],
    old_table: pd.DataFrame,
    new_table: pd.DataFrame,
    moved: pd.DataFrame,
) -> dict[str, Any]:
    old_pop, carried_pop, new_pop = populations
    into = moved[moved["to_area"] == area] if area else moved.iloc[0:0]
    out = moved[moved["from_area"] == prev] if prev else moved.iloc[0:0]
    return {
        "area_id": area,
        "previous_id": prev,
        "status": status,
        "population_before": int(old_pop.get(prev, 0)) if prev and old_pop is not None else None,
        "population_carried": int(carried_pop.get(prev, 0)) if prev and carried_pop is not None else None,
        "population_after": int(new_pop.get(area, 0)) if area and new_pop is not None else None,
        "units_in": len(into),
        "units_out": len(out),
        "residents_in": int(into["population"].sum()),
        "residents_out": int(out["population"].sum()),
        "pcn_coterminosity_before": _cell(old_table, prev, "pcn_coterminosity"),
        "pcn_coterminosity_after": _cell(new_table, area, "pcn_coterminosity"),
        "polsby_popper_before": _cell(old_table, prev, "polsby_popper"),
        "polsby_popper_after": _cell(new_table, area, "polsby_popper"),
    }


def _areas_record(plan: PlanFile) -> pd.DataFrame:
    records = ((plan.record or {}).get("areas") or []) if plan.as_run_wrote else []
    frame = pd.DataFrame(records)
    if "area_id" not in frame.columns:
        return pd.DataFrame(index=pd.Index([], name="area_id"))
    return frame.assign(area_id=frame["area_id"].astype(str)).set_index("area_id")


def _area_population(plan: PlanFile, table: pd.DataFrame) -> pd.Series | None:
    """Residents of each area of the plan: from its units, else as its run counted them; None
    when neither is known (a CSV of codes alone), so that no area is said to hold 0."""
    if plan.population is not None:
        return plan.population.groupby(plan.assignment.reindex(plan.population.index).astype(str)).sum()
    if "population" in table.columns:
        return table["population"]
    return None


def _cell(table: pd.DataFrame, area: str, column: str) -> float | None:
    if not area or column not in table.columns or area not in table.index:
        return None
    value = table.at[area, column]
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


# --------------------------------------------------------------------------- text and files


def render_diff_text(diff: PlanDiff, *, limit: int = 50) -> str:
    """The change log as plain text (what ``sda diff`` prints); at most ``limit`` moved units listed."""
    lines = [f"Changes from {diff.old_path} to {diff.new_path}", ""]
    if diff.part_of:
        kept = diff.part_of - len(diff.carried.removed)
        lines.append(
            f"The new plan covers part of the old one: {kept:,} of its {diff.part_of:,} units. The other "
            f"{len(diff.carried.removed):,} are counted as removed, and the old areas wholly outside the new "
            "plan as retired."
        )
    counts = {k: v for k, v in diff.carried.counts().items() if v and k != "same code"}
    if counts or diff.carried.removed:
        told = [f"{v} {k}" for k, v in counts.items()]
        if diff.carried.removed:
            told.append(f"{len(diff.carried.removed)} removed")
        lines.append(f"Units: {diff.units_total:,} now ({'; '.join(told)}); carried by {diff.carried.weighting}.")
        ambiguous = diff.carried.table.index[diff.carried.table["ambiguous"]].tolist()
        if ambiguous:
            lines.append(f"Ambiguous (no previous area holds 80% of them): {', '.join(map(str, ambiguous))}.")
        lines.extend(diff.carried.notes)
    if diff.unchanged:
        lines.append("No change: every unit is in the same area, and every area keeps its id.")
    share = diff.residents_moved / diff.residents_total if diff.residents_total else 0.0
    residents = (
        f", {diff.residents_moved:,} residents ({show_percent(share, 2)} of {diff.residents_total:,})"
        if diff.residents_known
        else " (no populations in either plan)"
    )
    lines.append(f"Moved: {diff.units_moved:,} of {diff.units_total:,} units{residents}.")
    if diff.other_data:
        lines.append(
            f"Residents are counted on the old plan's populations: {diff.new_path.name} has none, and its run "
            "counted its areas on other data (its plan.json), shown below as after; whether the band forced a "
            "move cannot be told. Fix: give the new plan's plan.gpkg, units.geojson or folder to count them on "
            "its own data."
        )
    statuses = diff.areas["status"].value_counts()
    n_old = int(statuses.drop("created", errors="ignore").sum())
    n_new = int(statuses.drop("retired", errors="ignore").sum())
    lines.append(
        f"Areas: {n_old} -> {n_new}; created: {', '.join(diff.created) or 'none'}; "
        f"retired: {', '.join(diff.retired) or 'none'}."
    )
    if diff.renamed:
        # A renumbered area's old name goes with its old id: "SDA-08 'March' -> SDA-03 'Chatteris'".
        was = dict(zip(diff.areas["area_id"], diff.areas["previous_id"], strict=True))
        told = [
            f"{a} {old!r} -> {new!r}" if was.get(a, a) == a else f"{was[a]} {old!r} -> {a} {new!r}"
            for a, old, new in diff.renamed
        ]
        lines.append("Renamed: " + "; ".join(told) + ".")
    renumbered = diff.areas[diff.areas["status"] == "renumbered"]
    if len(renumbered):
        pairs = ", ".join(f"{p} -> {a}" for p, a in zip(renumbered["previous_id"], renumbered["area_id"], strict=True))
        lines.append(f"Matched by residents in common under another id: {pairs}.")
    move = _move_words(diff)
    if len(diff.flows):
        lines += ["", "Between areas (from -> to: units, residents):"]
        for row in diff.flows.itertuples():
            lines.append(
                f"  {move(row.from_area, row.to_area)}: {counted(row.units, 'unit')}, "
                f"{counted(int(row.residents), 'resident')}"
            )
    if len(diff.moved):
        lines += ["", "Moved units (code: from -> to, residents):"]
        ordered = diff.moved.sort_values(["population", "unit_code"], ascending=[False, True])
        for row in ordered.head(limit).itertuples():
            lines.append(
                f"  {row.unit_code}: {move(row.from_area, row.to_area)}, {int(row.population):,} ({row.reason})"
            )
        if len(ordered) > limit:
            lines.append(f"  ... and {len(ordered) - limit} more (all in moved.csv with --out)")
    areas = diff.areas
    changed = areas[
        (areas["status"] != "kept")
        | (areas["units_in"] + areas["units_out"] > 0)
        | (
            areas["population_before"].notna()
            & areas["population_after"].notna()
            & (areas["population_before"] != areas["population_after"])
        )
    ]
    if len(changed):
        lines += ["", "Areas that changed (residents before -> after; PCN coterminosity before -> after):"]
        for row in changed.itertuples():
            name = (row.area_id or f"({row.previous_id})") + (f" {row.area_name}" if row.area_name else "")
            on_data = ""
            if row.population_carried is not None and row.population_carried != row.population_before:
                # An area no unit left or joined changed with the data alone: one figure says so.
                on_data = (
                    " (changed with the data alone; no unit moved)"
                    if not (row.units_in or row.units_out)
                    else f" ({show_whole(row.population_carried)} on the current data, before any move)"
                )
            lines.append(
                f"  {name} [{row.status}]: {show_whole(row.population_before) or '-'} -> "
                f"{show_whole(row.population_after) or '-'}{on_data}; "
                f"{show_percent(row.pcn_coterminosity_before) or '-'} -> "
                f"{show_percent(row.pcn_coterminosity_after) or '-'}"
            )
    if diff.edited:
        lines += [
            "",
            f"Scores are not shown for {' and '.join(map(str, diff.edited))}: "
            f"{'each ' if len(diff.edited) > 1 else ''}edited after its run, so its plan.json no longer describes "
            "it. `sda evaluate --config CONFIG PLAN` scores an edited plan.",
        ]
    if diff.scores:
        lines += ["", "Plan scores (before -> after):"]
        for key, (a, b) in diff.scores.items():
            text = score_text(key)
            lines.append(f"  {text.words}: {text.show(a)} -> {text.show(b)}")
    return "\n".join(lines) + "\n"


def _move_words(diff: PlanDiff) -> Callable[[str, str], str]:
    """How a move between two ids reads: "SDA-04 -> SDA-07", or, where renumbering gave the new
    area the old one's id, "SDA-06 (now SDA-09) -> SDA-06 (was SDA-05)", which otherwise reads as
    a unit moving to the area it was already in."""
    areas = diff.areas
    now = {str(p): str(a) for p, a in zip(areas["previous_id"], areas["area_id"], strict=True) if p and a}
    was = {a: p for p, a in now.items()}

    def words(from_area: str, to_area: str) -> str:
        if from_area != to_area:
            return f"{from_area} -> {to_area}"
        gone = f"now {now[from_area]}" if from_area in now else "retired"
        came = f"was {was[to_area]}" if to_area in was else "new"
        return f"{from_area} ({gone}) -> {to_area} ({came})"

    return words


def write_diff(diff: PlanDiff, out_dir: Path) -> list[Path]:
    """Write ``changes.txt``, ``moved.csv``, ``areas.csv`` and (with geometry) ``moved.geojson``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    text = out_dir / "changes.txt"
    text.write_text(render_diff_text(diff, limit=10**9), encoding="utf-8")
    written.append(text)
    for name, table in (("moved.csv", pd.DataFrame(diff.moved[list(MOVED_COLUMNS)])), ("areas.csv", diff.areas)):
        path = out_dir / name
        path.write_text(csv_text(table.columns, table.itertuples(index=False)), encoding="utf-8")
        written.append(path)
    if isinstance(diff.moved, gpd.GeoDataFrame):
        written.append(write_geojson(diff.moved[[*MOVED_COLUMNS, "geometry"]], out_dir / "moved.geojson"))
    return written
