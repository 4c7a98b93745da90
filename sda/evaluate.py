"""Checking and scoring a plan made or changed outside ``sda`` (``sda evaluate``).

An officer moves units between areas in QGIS; this module says whether the plan still keeps
every rule and what it now scores, without searching. The plan is read with ``sda.planfile``;
its areas keep their own ids; the rules are those of ``sda.rules`` and the scores those of
``api.build_plan``, so an untouched plan scores exactly as the run that made it. What this module
adds is the explanation: each broken rule is listed by area and unit, with the numbers, and,
when the run's own assignment can be read (``assignment.csv`` of the output folder), the edits
that broke it ("SDA-02: 25,313 residents, 4,687 below the minimum of 30,000, after E01018301
and E01018302 moved to SDA-03"), and what each edit cost in the objective.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sda.api import Inputs, base_provenance, build_plan, load_inputs
from sda.config import RunConfig
from sda.engine.search import target_for
from sda.errors import MAX_LISTED, InputError, SdaError, SdaWarning
from sda.formatting import score_text, show_whole
from sda.metrics import piece_labels
from sda.objective import score_labels
from sda.plan import Plan, Provenance
from sda.planfile import (
    areas_layer_note,
    changed_units,
    find_plan_file,
    read_assignment,
    read_original,
    recorded_area_names,
    run_folder,
)
from sda.problem import Problem

__all__ = ["Evaluation", "edit_costs", "evaluate_plan", "evaluation_text", "labels_of", "list_violations"]

Progress = Callable[[str], None]

#: Provenance key (``plan.json``) listing the officer's edits a plan carries, ``unit -> "A -> B"``.
EDITS_KEY = "edits_since_run"
_ARROW = " -> "

#: Edits priced one by one (reverting each alone); beyond this many only the total is given.
MAX_PRICED_EDITS = 60


@dataclass
class Evaluation:
    """A plan read from a file, checked and scored.

    Attributes
    ----------
    plan : the Plan (scores, areas, rules as found; broken rules recorded, not raised).
    violations : one line per area or unit that breaks a rule, with the numbers and the edits
        behind it; empty when every rule holds.
    edits : the officer's edits, indexed by ``unit_code``: ``from_area`` (the run's),
        ``to_area`` (the plan's) and ``population``; empty when there is no run to compare to.
    costs : per edit, the change in the objective and in coterminosity it caused (reverting it
        alone), indexed by ``unit_code``; empty without edits.
    source : the file read.
    run_dir : the output folder the plan was compared with, or None.
    run_scores : the scores that run recorded (``plan.json``), or None.
    run_recorded_edits : whether that run's ``plan.json`` records the edits it was made from
        (a folder written by ``sda repair`` or ``evaluate --out``).
    look_alike_ids : each area id of the plan that the run did not have and that differs from
        one of the run's ids only in case, spaces or leading zeros (``SDA-7`` for ``SDA-07``),
        with that id; empty when there is no run to compare to.
    renumbered : the run's areas the plan gave another id, run id -> plan id
        (``renumbered_areas``); empty when there is no run to compare to.
    """

    plan: Plan
    violations: list[str]
    edits: pd.DataFrame
    costs: pd.DataFrame
    source: Path
    run_dir: Path | None = None
    run_scores: dict[str, float] | None = None
    run_recorded_edits: bool = False
    look_alike_ids: dict[str, str] = field(default_factory=dict)
    renumbered: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every rule holds."""
        return all(r.ok for r in self.plan.rules)


def evaluate_plan(
    cfg: RunConfig,
    plan_path: Path,
    *,
    inputs: Inputs | None = None,
    original: Path | None = None,
    code_field: str | None = None,
    area_field: str | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Read a plan, check every rule and compute every score.

    Parameters
    ----------
    cfg
        The configuration the plan is checked against (units, band, rules, weights).
    plan_path
        An output folder (its ``plan.gpkg``), a GeoPackage, a GeoJSON or a CSV (see
        ``sda.planfile.read_planfile``).
    inputs
        Already loaded inputs for ``cfg`` (loaded here when None).
    original
        The output folder (or its ``assignment.csv``) the plan was edited from; by default the
        folder ``plan_path`` sits in, when it is one.
    code_field, area_field
        Column names, when the file does not use ``unit_code`` and ``area_id``.

    Raises
    ------
    InputError, ProblemsError
        The plan file is unreadable or has bad rows (unknown codes, missing units, a unit in two
        areas, a blank area), all listed; ``original`` is not an output folder, nor a file in one.
    """
    say = progress or (lambda _m: None)
    if original is not None:  # before the inputs are loaded: the mistake is found at once
        _refuse_original_without_run(original)
    inputs = inputs or load_inputs(cfg, say)
    problem = inputs.problem
    source = find_plan_file(Path(plan_path))
    assignment = read_assignment(
        source,
        units=problem.codes,
        code_field=code_field,
        area_field=area_field,
        more_code_fields=(cfg.units.code_field,),
    )
    say(f"read {len(assignment):,} units in {assignment.nunique()} areas from {source.name}")
    labels, names = labels_of(problem, assignment)
    k = len(names)
    target = target_for(problem, k if cfg.areas.count != "auto" else "auto", cfg.areas.target_population)
    run_dir, before, run_scores, record = _read_run(original if original is not None else source, problem)
    renumbered = renumbered_areas(assignment, before, problem)
    run_names = {renumbered.get(a, a): n for a, n in recorded_area_names(record).items()} if run_dir else {}
    edits = _edits_frame(assignment, before, problem, renumbered)
    about_the_run: list[str] = []
    if run_dir is not None:
        say(f"compared with the run in {run_dir.name}: {len(edits)} unit(s) moved")
        about_the_run = [
            *_other_config(run_dir, record, cfg),
            *_renumbered_note(renumbered),
            *_new_areas(assignment, before, renumbered),
            *_renamed(run_names, _given_names(run_names, assignment.attrs["area_names"])),
        ]
    about_the_run += _other_populations(assignment.attrs.get("population"), problem, source)
    about_the_run += _other_geometry(assignment.attrs.get("geometry"), inputs.units, source)
    # Said on reading when plan.json sits beside the file; a file moved out of its folder and
    # given with --original is compared with that run's areas here.
    layer_note = [note] if run_dir is not None and (note := areas_layer_note(source, record)) else []
    said_on_reading = (source.parent / "plan.json").is_file()
    about_the_run += [] if said_on_reading else layer_note
    for note in about_the_run:  # on the terminal now, and in the report
        warnings.warn(note, SdaWarning, stacklevel=2)
    provenance = _provenance(cfg, inputs, source, run_dir, edits)
    plan = build_plan(
        cfg,
        inputs,
        labels,
        target=target,
        provenance=provenance,
        ids=names,
        # The run's names, then the file's own (an officer's renames and new areas' names).
        area_names={**run_names, **_given_names(run_names, assignment.attrs["area_names"])},
        broken_rules="record",
    )
    titles = {str(i): f"{i} ({n})" for i, n in plan.areas["name"].items() if str(n) and str(n) != str(i)}
    violations = [_titled(v, titles) for v in list_violations(problem, labels, names, cfg, edits)]
    costs = edit_costs(problem, labels, names, edits, target)
    plan.warnings = [
        *inputs.warnings,
        *about_the_run,
        *(layer_note if said_on_reading else []),
        *(f"Broken rule: {v}" for v in violations),
        *_edit_notes(edits, costs),
    ]
    run_provenance = record.get("provenance")
    recorded = isinstance(run_provenance, Mapping) and bool(run_provenance.get(EDITS_KEY))
    look_alikes = {a: m for a, m in _ids_not_in_run(assignment, before, renumbered).items() if m is not None}
    return Evaluation(
        plan, violations, edits, costs, source, run_dir, run_scores, recorded, look_alikes, renumbered=renumbered
    )


def _other_populations(population: pd.Series | None, problem: Problem, source: Path) -> list[str]:
    """A note when the plan file's population column differs from the config's populations.

    A plan is scored on the config's data, so a population typed into the file in QGIS changed
    nothing, and evaluate said VALID without a word about it."""
    if population is None:
        return []
    current = pd.Series(problem.pop, index=list(problem.codes)).reindex(population.index)
    differs = population[current.notna() & (population != current)]
    if differs.empty:
        return []
    examples = "; ".join(
        f"{code}: {show_whole(int(n))} in the file, {show_whole(int(current[code]))} in the config's data"
        for code, n in differs.head(3).items()
    )
    return [
        f"{source.name}: the population column differs from the config's data for {len(differs):,} unit(s) "
        f"({examples}). The plan is scored on the config's populations; the file's are not read. Fix: to score "
        "other populations, change the config's population data ([units] population_field, population_csv or "
        "population_points), or leave the column as sda wrote it."
    ]


#: A unit's polygon in the plan file is the units file's when each covers at least this share of
#: the other: a WGS84 round trip or snapping to a grid moves boundaries by metres, not by half a unit.
SAME_UNIT_SHARE = 0.5


def _other_geometry(geometry: gpd.GeoSeries | None, units: gpd.GeoDataFrame, source: Path) -> list[str]:
    """A note when the plan file's unit polygons lie mostly away from the config's units.

    A plan is made of the units file's polygons, so a unit moved or redrawn in QGIS, or a file
    whose coordinates were saved under the wrong CRS, changed nothing, and evaluate said VALID
    without a word about it."""
    if geometry is None or geometry.empty:
        return []
    theirs = np.asarray(geometry.to_numpy(), dtype=object)
    mine = np.asarray(units.geometry.reindex(geometry.index).to_numpy(), dtype=object)
    known = ~shapely.is_missing(mine)
    share = np.zeros(len(theirs))
    with np.errstate(all="ignore"):
        usable = known & np.isfinite(shapely.bounds(theirs)).all(axis=1) & ~shapely.is_empty(theirs)
        fixed = shapely.make_valid(theirs[usable])
        common = shapely.area(shapely.intersection(fixed, mine[usable]))
        share[usable] = np.minimum(common / shapely.area(fixed), common / shapely.area(mine[usable]))
    differs = known & ~(np.nan_to_num(share) >= SAME_UNIT_SHARE)
    if not differs.any():
        return []
    km = np.full(len(theirs), np.nan)
    with np.errstate(all="ignore"):
        points = shapely.point_on_surface(theirs[usable])
        km[usable] = shapely.distance(points, shapely.point_on_surface(mine[usable])) / 1000
    examples = "; ".join(
        f"{geometry.index[i]}: {share[i]:.0%} overlap, {km[i]:,.1f} km away"
        if usable[i]
        else f"{geometry.index[i]}: not placeable (no polygon, or coordinates out of range for the CRS)"
        for i in np.flatnonzero(differs)[:3]
    )
    n = int(differs.sum())
    if n > known.sum() / 2:
        fix = (
            "Most units are elsewhere: were the coordinates saved under the wrong CRS (British National Grid "
            "metres labelled as WGS84 degrees, say)? Fix: in QGIS, set the layer's CRS to the one its coordinates "
            "are in (EPSG:27700 for sda's plan.gpkg) and save it again"
        )
    else:
        fix = (
            "Fix: to change units' boundaries, change the config's units file ([units] path) and run sda propose "
            "again, or leave the geometry as sda wrote it"
        )
    return [
        f"{source.name}: the unit geometry differs from the config's units for {n:,} unit(s) ({examples}). "
        f"The plan is checked on the polygons of the config's units file; the file's are not read. {fix}."
    ]


def _given_names(run_names: Mapping[str, str], file_names: Mapping[str, str]) -> dict[str, str]:
    """The plan file's area names that the officer gave: a name another area had in the run is
    a row's stale name (its area id was edited, its name not), not a name given to this area."""
    taken = set(run_names.values())
    return {a: n for a, n in file_names.items() if run_names.get(a) == n or n not in taken}


def _renamed(run_names: Mapping[str, str], file_names: Mapping[str, str]) -> list[str]:
    """A note naming the areas the officer renamed in the plan file (their new names are used)."""
    changed = [f"{a} {run_names[a]!r} -> {n!r}" for a, n in sorted(file_names.items()) if run_names.get(a, n) != n]
    return [f"Renamed since the run (the new names are used): {'; '.join(changed)}."] if changed else []


def renumbered_areas(assignment: pd.Series, before: pd.Series | None, problem: Problem) -> dict[str, str]:
    """The run's area ids the plan gave another id (run id -> plan id): a run id the plan no longer
    has, and a plan id the run did not have, that hold more than half of each other's residents.

    Officers renumber areas (``1`` for ``SDA-01``, or ids of their own) as readily as they move
    units; counted by id, every unit of a renumbered area had "moved", and each new id was
    called a new area. Majorities on both sides pair each area with one other at most."""
    if before is None:
        return {}
    now, then = assignment.astype(str), before.astype(str).reindex(assignment.index)
    run_ids = set(then.dropna())
    gone, new = run_ids - set(now), set(now) - run_ids
    if not gone or not new:
        return {}
    residents = pd.Series(problem.pop, index=problem.codes).reindex(now.index).fillna(0)
    frame = pd.DataFrame({"then": then, "now": now, "residents": residents})
    total_then = frame.groupby("then")["residents"].sum()
    total_now = frame.groupby("now")["residents"].sum()
    shared = frame[frame["then"].isin(gone) & frame["now"].isin(new)].groupby(["then", "now"])["residents"].sum()
    return {
        str(a): str(b) for (a, b), common in shared.items() if 2 * common > total_then[a] and 2 * common > total_now[b]
    }


def _renumbered_note(renumbered: Mapping[str, str]) -> list[str]:
    """A note naming the areas given another id: their units that stayed are not counted as moved."""
    if not renumbered:
        return []
    slip = " (only case, spaces or leading zeros differ: a slip?)"
    pairs = [f"{a} -> {b}{slip if _id_key(a) == _id_key(b) else ''}" for a, b in sorted(renumbered.items())]
    shown = "; ".join(pairs[:MAX_LISTED]) + (f"; and {len(pairs) - MAX_LISTED} more" if len(pairs) > MAX_LISTED else "")
    return [
        f"Renumbered since the run ({len(pairs)} area(s), read as the same areas under new ids): {shown}. "
        "Units that stayed in a renumbered area are not counted as moved."
    ]


def _titled(line: str, titles: Mapping[str, str]) -> str:
    """``"SDA-22: ..."`` -> ``"SDA-22 (Wisbech): ..."``: a violation names its area by id and name."""
    head, sep, rest = line.partition(": ")
    return f"{titles[head]}{sep}{rest}" if sep and head in titles else line


def labels_of(problem: Problem, assignment: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Turn ``unit_code -> area id`` into labels ``0..k-1`` in the problem's unit order, and the
    area ids (``names[label]``, sorted)."""
    names = sorted({str(a) for a in assignment.to_numpy()})
    index = {name: i for i, name in enumerate(names)}
    labels = np.array([index[str(assignment[code])] for code in problem.codes], dtype=np.int64)
    return labels, names


# --------------------------------------------------------------------------- violations


def list_violations(
    problem: Problem, labels: np.ndarray, names: Sequence[str], cfg: RunConfig, edits: pd.DataFrame | None = None
) -> list[str]:
    """One line per area or unit that breaks a rule, with numbers, naming the edits behind it.

    ``edits`` (``from_area``, ``to_area``, indexed by unit code) adds "after ... moved" to each
    line where units left or joined the area at fault.
    """
    edits = edits if edits is not None else pd.DataFrame(columns=["from_area", "to_area"])
    lines: list[str] = []
    lines += _band_lines(problem, labels, names, edits)
    lines += _contiguity_lines(problem, labels, names, edits, cfg.rules.nest_in == "district")
    if cfg.rules.nest_in == "district":
        lines += _nesting_lines(problem, labels, names, edits)
    lines += _rule_group_lines(problem, labels, names, cfg)
    return lines


def _band_lines(problem: Problem, labels: np.ndarray, names: Sequence[str], edits: pd.DataFrame) -> list[str]:
    pop = np.bincount(labels, weights=problem.pop, minlength=len(names)).astype(np.int64)
    lines = []
    for a, name in enumerate(names):
        p = int(pop[a])
        if p < problem.min_pop:
            gap = f"{show_whole(problem.min_pop - p)} below the minimum of {show_whole(problem.min_pop)}"
            lines.append(f"{name}: {show_whole(p)} residents, {gap}{_after(name, edits, problem, 'out')}")
        elif p > problem.max_pop:
            gap = f"{show_whole(p - problem.max_pop)} above the maximum of {show_whole(problem.max_pop)}"
            lines.append(f"{name}: {show_whole(p)} residents, {gap}{_after(name, edits, problem, 'in')}")
    return lines


def _contiguity_lines(
    problem: Problem, labels: np.ndarray, names: Sequence[str], edits: pd.DataFrame, nested: bool = False
) -> list[str]:
    comp = piece_labels(problem.indptr, problem.indices, labels)
    note = " (links across district boundaries do not count: nest_in = 'district')" if nested else ""
    lines = []
    for a, name in enumerate(names):
        members = np.flatnonzero(labels == a)
        pieces = np.unique(comp[members])
        if len(pieces) < 2:
            continue
        piece_pop = {int(c): int(problem.pop[members[comp[members] == c]].sum()) for c in pieces}
        main = max(piece_pop, key=lambda c: (piece_pop[c], -c))
        parts = []
        n_cut = 0
        for c in sorted(piece_pop, key=lambda c: -piece_pop[c]):
            if c == main:
                continue
            cut = members[comp[members] == c]
            n_cut += len(cut)
            parts.append(f"{_listed([problem.codes[i] for i in cut])} ({show_whole(piece_pop[c])} residents)")
        rest = members[comp[members] == main]
        verb = "is" if n_cut == 1 else "are"
        listed = parts[0] if len(parts) == 1 else "; ".join(parts[:-1]) + " and " + parts[-1]
        lines.append(
            f"{name}: in {len(pieces)} pieces: {listed} {verb} cut off from its other {len(rest)} units "
            f"({show_whole(piece_pop[main])} residents){_after(name, edits, problem, 'both')}{note}"
        )
    return lines


def _nesting_lines(problem: Problem, labels: np.ndarray, names: Sequence[str], edits: pd.DataFrame) -> list[str]:
    lines = []
    for a, name in enumerate(names):
        members = np.flatnonzero(labels == a)
        districts = np.unique(problem.district[members])
        if len(districts) < 2:
            continue
        parts = []
        for d in districts:
            inside = members[problem.district[members] == d]
            parts.append(
                f"{problem.district_codes[d] or '(none)'} ({len(inside)} units, "
                f"{show_whole(int(problem.pop[inside].sum()))} residents)"
            )
        lines.append(f"{name}: crosses districts {', '.join(parts)}{_after(name, edits, problem, 'in')}")
    return lines


def _rule_group_lines(problem: Problem, labels: np.ndarray, names: Sequence[str], cfg: RunConfig) -> list[str]:
    """Locks, keep-together groups and keep-apart pairs, naming each unit out of place."""
    lines = []
    for li, area in enumerate(problem.lock_names):
        members = np.flatnonzero(problem.lock == li)
        astray = [i for i in members.tolist() if names[labels[i]] != area]
        if astray:
            where = ", ".join(f"{problem.codes[i]} in {names[labels[i]]}" for i in astray[:20])
            lines.append(f"lock {area!r}: {len(astray)} of its {len(members)} units are elsewhere: {where}")
    for gi, group in enumerate(cfg.rules.keep_together, start=1):
        held: dict[str, list[str]] = {}
        for code in group:
            held.setdefault(names[labels[problem.codes.index(code)]], []).append(code)
        if len(held) > 1:
            split = "; ".join(f"{area}: {_listed(codes)}" for area, codes in sorted(held.items()))
            lines.append(f"keep_together #{gi}: split between {len(held)} areas ({split})")
    for x, y in problem.apart_pairs.tolist():
        if labels[x] == labels[y]:
            lines.append(f"keep_apart {problem.codes[x]}/{problem.codes[y]}: both in {names[labels[x]]}")
    return lines


def _after(area: str, edits: pd.DataFrame, problem: Problem, direction: str) -> str:
    """ ", after E1 and E2 moved to SDA-03" (units that left ``area``) and/or "E3 moved in from
    SDA-01" (units that joined it), from the officer's edits; "" when none touch the area."""
    if edits.empty:
        return ""
    parts = []
    if direction in ("out", "both"):
        left = edits[edits["from_area"] == area]
        for to, group in left.groupby("to_area", sort=True):
            codes = list(group.index)
            parts.append(f"{_listed(codes, joiner=' and ')} moved to {to}")
    if direction in ("in", "both"):
        joined = edits[edits["to_area"] == area]
        for frm, group in joined.groupby("from_area", sort=True):
            codes = list(group.index)
            parts.append(f"{_listed(codes, joiner=' and ')} moved in from {frm}")
    return f", after {'; '.join(parts)}" if parts else ""


def _listed(codes: Sequence[str], limit: int = 8, joiner: str = ", ") -> str:
    codes = list(codes)
    if len(codes) > limit:
        return ", ".join(codes[:limit]) + f" (+{len(codes) - limit} more)"
    if len(codes) == 2 and joiner != ", ":
        return f"{codes[0]}{joiner}{codes[1]}"
    if len(codes) > 2 and joiner != ", ":
        return ", ".join(codes[:-1]) + f"{joiner}{codes[-1]}"
    return ", ".join(codes)


# --------------------------------------------------------------------------- edits


def _refuse_original_without_run(original: Path) -> None:
    """``--original`` names the run the plan was edited from; one that is not an output folder (a
    copy of its ``assignment.csv``, a plan file on its own) cannot be read as that run, and passed
    over it would leave the edits unknown: repair would move them back."""
    if run_folder(original) is not None:
        return
    folder = original if original.is_dir() else original.parent
    where = "this folder" if original.is_dir() else "the folder of this file"
    missing = " and ".join(name for name in ("plan.json", "assignment.csv") if not (folder / name).is_file())
    msg = (
        f"--original is not an sda output folder, nor a file in one ({where} has no {missing}), "
        "so the run the plan was edited from is not known; expected the folder sda propose wrote, holding both. "
        "Fix: give the output folder the plan was edited from."
    )
    raise InputError(original, msg)


def _read_run(
    path: Path, problem: Problem
) -> tuple[Path | None, pd.Series | None, dict[str, float] | None, dict[str, Any]]:
    """The run folder, its assignment, its recorded scores and its ``plan.json`` (read once);
    (None, None, None, {}) without one."""
    folder = run_folder(path)
    if folder is None:
        if (path.parent / "assignment.csv").is_file() and not (path.parent / "plan.json").is_file():
            warnings.warn(
                f"{path.parent}: no plan.json beside the plan, so the run's plan is not known and the edits are not "
                "listed. Give the run's folder with --original to list them.",
                SdaWarning,
                stacklevel=3,
            )
        return None, None, None, {}
    record = _plan_json(folder)
    before = _saved_assignment(record, problem)
    if before is None:
        try:
            before = read_original(path, units=problem.codes)
        except SdaError as exc:
            warnings.warn(
                f"{folder}: the run's assignment.csv does not fit these units, so the edits are not listed ({exc})",
                SdaWarning,
                stacklevel=3,
            )
            return None, None, None, {}
    if before is None:
        return None, None, None, {}
    before = _undo_recorded_edits(before, record)
    scores = record.get("scores") if isinstance(record.get("scores"), Mapping) else None
    run_scores = {str(k): float("nan") if v is None else float(v) for k, v in scores.items()} if scores else None
    return folder, before, run_scores, record


def _new_areas(assignment: pd.Series, before: pd.Series | None, renumbered: Mapping[str, str]) -> list[str]:
    """A note for each area id the run did not have. A new area is allowed, but an id that differs
    from an existing one only in case, spaces or leading zeros (``sda-3`` for ``SDA-03``) is
    named: it is more often a slip of the keyboard."""
    ids = assignment.astype(str)
    notes = []
    for area, meant in _ids_not_in_run(assignment, before, renumbered).items():
        hint = f" Did you mean {meant!r}?" if meant else ""
        units = int((ids == area).sum())
        notes.append(f"{area} is not an area of the run: the edits made it a new area of {units} unit(s).{hint}")
    return notes


def _ids_not_in_run(
    assignment: pd.Series, before: pd.Series | None, renumbered: Mapping[str, str]
) -> dict[str, str | None]:
    """Each area id of the plan the run did not have, nor gave to a renumbered area (sorted), with
    the run's id it differs from only in case, spaces or leading zeros, or None; empty without a
    run."""
    if before is None:
        return {}
    run_ids = {_id_key(a): a for a in sorted(set(before.astype(str)))}
    new = sorted(set(assignment.astype(str)) - set(run_ids.values()) - set(renumbered.values()))
    return {area: run_ids.get(_id_key(area)) for area in new}


def _id_key(area: str) -> str:
    """An area id with case, spaces and leading zeros ignored."""
    return re.sub(r"\d+", lambda m: str(int(m.group())), "".join(area.split()).upper())


def _other_config(run_dir: Path, record: Mapping[str, Any], cfg: RunConfig) -> list[str]:
    """A note when the run was made with another config (or another version of it): the plan is
    then scored with this config's populations and band, so rules it kept may break here."""
    provenance = record.get("provenance")
    made_with = provenance.get("config_sha256") if isinstance(provenance, Mapping) else None
    if not made_with or not cfg.sha256 or made_with == cfg.sha256:
        return []
    name = provenance.get("config_file", "another config") if isinstance(provenance, Mapping) else "another config"
    here = cfg.source.name if cfg.source is not None else "this config"
    return [
        f"{run_dir}: the plan was made with {name} (a different file or version than {here}); it is checked "
        f"here with the populations, band and rules of {here}, so its scores and rule results can differ "
        "from the run's. Pass the run's own config to check it as made."
    ]


def _saved_assignment(record: Mapping[str, Any], problem: Problem) -> pd.Series | None:
    """The run's assignment as ``plan.json`` records it (``assignment``, when the writer keeps
    it), so an edit made to assignment.csv itself is seen too; None when absent or for other units."""
    saved = record.get("assignment")
    if not isinstance(saved, Mapping) or set(map(str, saved)) != set(problem.codes):
        return None
    return pd.Series({str(k): str(v) for k, v in saved.items()}, name="area_id", dtype=object)


def _undo_recorded_edits(before: pd.Series, record: Mapping[str, Any]) -> pd.Series:
    """The run's own assignment, when the folder was written by ``sda evaluate`` or ``sda repair``:
    its ``assignment.csv`` holds the edited plan, and its provenance lists the edits to undo."""
    provenance = record.get("provenance")
    recorded = provenance.get(EDITS_KEY) if isinstance(provenance, Mapping) else None
    if not isinstance(recorded, Mapping) or not recorded:
        return before
    before = before.copy()
    for unit, change in recorded.items():
        frm, sep, to = str(change).partition(_ARROW)
        if sep and unit in before.index and before[unit] == to:
            before[unit] = frm
    return before


def _plan_json(folder: Path) -> dict[str, Any]:
    import json

    try:
        record = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return record if isinstance(record, dict) else {}


def _edits_frame(
    assignment: pd.Series, before: pd.Series | None, problem: Problem, renumbered: Mapping[str, str]
) -> pd.DataFrame:
    """The units in another area than in the run, with the run's area under its id in the plan
    (``renumbered``), so that a renumbered area's units that stayed are not moves."""
    if before is None:
        return pd.DataFrame({"from_area": [], "to_area": [], "population": []}, index=pd.Index([], name="unit_code"))
    edits = changed_units(assignment, before.astype(str).map(lambda a: renumbered.get(a, a)))
    pop = dict(zip(problem.codes, problem.pop.tolist(), strict=True))
    return edits.assign(population=[int(pop[c]) for c in edits.index])


def edit_costs(
    problem: Problem, labels: np.ndarray, names: Sequence[str], edits: pd.DataFrame, target: float
) -> pd.DataFrame:
    """What each edit cost: the objective and coterminosity with the plan as it is, minus the
    same with that one edit undone (positive objective = the edit made the plan worse).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``unit_code``: ``objective_change`` and ``coterminosity_change``; empty when
        there are no edits or more than ``MAX_PRICED_EDITS``.
    """
    columns = ["objective_change", "coterminosity_change"]
    if edits.empty or len(edits) > MAX_PRICED_EDITS:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="unit_code"), dtype=float)
    now = score_labels(problem, labels, target)
    index = {name: i for i, name in enumerate(names)}
    rows = []
    for code, row in edits.iterrows():
        undone = labels.copy()
        # An area the edits emptied gets a fresh label, so the undone plan has it back.
        undone[problem.codes.index(str(code))] = index.get(str(row["from_area"]), len(names))
        _, compact = np.unique(undone, return_inverse=True)
        was = score_labels(problem, compact.astype(np.int64), target)
        rows.append(
            {
                "unit_code": code,
                "objective_change": now["objective"] - was["objective"],
                "coterminosity_change": now["coterminosity"] - was["coterminosity"],
            }
        )
    return pd.DataFrame(rows, columns=["unit_code", *columns]).set_index("unit_code")


def _edit_notes(edits: pd.DataFrame, costs: pd.DataFrame) -> list[str]:
    notes = []
    for code, row in edits.iterrows():
        people = show_whole(row["population"])
        note = f"Edited: {code} ({people} residents) moved from {row['from_area']} to {row['to_area']}"
        if code in costs.index:
            c = costs.loc[code]
            note += f"; objective {c['objective_change']:+.4f}"
            if not np.isnan(c["coterminosity_change"]):
                note += f", coterminosity {100 * c['coterminosity_change']:+.1f} points"
        notes.append(note)
    return notes


def _provenance(cfg: RunConfig, inputs: Inputs, source: Path, run_dir: Path | None, edits: pd.DataFrame) -> Provenance:
    return {
        **base_provenance(cfg, inputs),
        "made_by": "sda evaluate (a plan read from a file, checked and scored; no search)",
        "plan_file": source.name,
        "edited_from": run_dir.name if run_dir is not None else "",
        "units_edited": len(edits),
        # Kept so that a folder written by --out still knows the officer's edits: its
        # assignment.csv is the edited plan, and ``_read_run`` undoes these to find the run's.
        "edits_since_run": {str(c): f"{row['from_area']}{_ARROW}{row['to_area']}" for c, row in edits.iterrows()},
    }


# --------------------------------------------------------------------------- text


def evaluation_text(ev: Evaluation) -> str:
    """What ``sda evaluate`` prints: the verdict, each violation, the edits and the scores."""
    plan = ev.plan
    k, n = len(plan.areas), len(plan.units)
    lines = []
    if ev.ok:
        lines.append(f"VALID: {ev.source} keeps every rule ({len(plan.rules)} checked; {k} areas, {n:,} units).")
    else:
        failed = [r.name for r in plan.rules if not r.ok]
        lines.append(f"BROKEN: {ev.source} breaks {len(failed)} rule(s): {', '.join(failed)}.")
        lines += [f"  - {v}" for v in ev.violations]
    if ev.run_dir is not None:
        if ev.edits.empty:
            lines.append(_no_edits_line(ev))
        else:
            total = int(ev.edits["population"].sum())
            # A folder written by sda repair or evaluate --out records the edits it was made from:
            # they are counted from the original run, not from this folder's own plan.
            since = (
                f"the original run, as recorded in {ev.run_dir / 'plan.json'}"
                if ev.run_recorded_edits
                else f"the run in {ev.run_dir}"
            )
            lines.append(f"{len(ev.edits)} unit(s) moved since {since} ({show_whole(total)} residents):")
            lines += [f"  {note.removeprefix('Edited: ')}" for note in _edit_notes(ev.edits, ev.costs)]
            if ev.renumbered:  # said on stderr too, which -q hides: the officer should see it here
                lines.append(f"The areas were also renumbered ({_renumbered_share(ev)}); not counted as moves.")
    lines.append(_scores_line(plan.scores, ev.run_scores))
    return "\n".join(lines)


def _no_edits_line(ev: Evaluation) -> str:
    """The line for a plan with no unit moved: "No edits" would be wrong where the officer gave
    areas new ids, which is a change to the plan, though no resident changed area."""
    if not ev.renumbered:
        return f"No edits since the run in {ev.run_dir}."
    return (
        f"No unit changed area since the run in {ev.run_dir}; the areas were only renumbered ({_renumbered_share(ev)})."
    )


def _renumbered_share(ev: Evaluation) -> str:
    """ "all 24 areas" or "3 of the 24 areas": how many areas the plan gave another id."""
    k, n = len(ev.plan.areas), len(ev.renumbered)
    return f"all {k} areas" if n == k else f"{n} of the {k} areas"


def _scores_line(scores: Mapping[str, float], run: Mapping[str, float] | None) -> str:
    parts = []
    for key in ("objective", "coterminosity", "pcns_split", "cut_border_km", "mean_polsby_popper"):
        value = scores.get(key)
        if value is None or np.isnan(value):
            continue
        text = score_text(key)
        part = f"{text.words} {text.show(value)}"
        before = None if run is None else run.get(key)
        if before is not None and not np.isnan(before) and not math.isclose(before, value, rel_tol=1e-9):
            part += f" (run: {text.show(before)})"
        parts.append(part)
    return "Scores: " + ", ".join(parts) + "."
