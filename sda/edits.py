"""Repairing a plan an officer edited (``sda repair``): a valid plan, few residents moved.

The officer's edits (units whose area differs from the run's ``assignment.csv``) and every unit
of the ``--keep`` areas are held where the officer put them (the engine's frozen units). The
engine then starts from the edited plan (``search(initial_labels=...)``), repairs the band and
contiguity moving as few residents as it can, and anneals with the ``moved`` term pricing every
resident whose area differs from the edited plan, so that it only moves what it must.

When holding the edits makes the rules impossible, ``find_conflicts`` says which held unit
conflicts with which rule, with the numbers: an area that cannot reach the band because every
neighbour it could take in is held elsewhere, held units of one area that no free unit can join,
held units that break a lock, a keep-together group or a keep-apart pair, or that put an area
above the band on their own.
"""

from __future__ import annotations

import dataclasses
import difflib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sda.api import build_plan, load_inputs
from sda.config import RunConfig
from sda.engine.repair import REPAIR_MOVED_WEIGHT
from sda.engine.search import search, target_for
from sda.errors import InfeasibleError, InputError, InvariantError
from sda.evaluate import Evaluation, evaluate_plan, labels_of
from sda.formatting import show_whole
from sda.metrics import edge_sources, link_components, piece_labels
from sda.plan import Plan, Provenance
from sda.planfile import PlanFile, changed_units
from sda.problem import Problem
from sda.rules import check_rules

__all__ = [
    "REPAIR_STEPS",
    "Repair",
    "find_conflicts",
    "held_units",
    "repair_edited_plan",
    "repair_text",
    "undo_needless_moves",
    "write_repair",
]

Progress = Callable[[str], None]

#: Annealing steps after the repair (clock-free): enough to undo the repair's needless moves and
#: polish its new borders, few enough that the plan stays the officer's.
REPAIR_STEPS = 1_000_000
#: Edits released one at a time, at most, to find the one in the way when no plan holds them all.
MAX_RELEASE_TRIES = 8


@dataclass
class Repair:
    """An edited plan made valid.

    Attributes
    ----------
    evaluation : the edited plan as found (``sda.evaluate``).
    plan : the repaired plan; every rule holds (``build_plan`` checked it).
    moved : units the repair moved, indexed by ``unit_code``: ``from_area`` (in the edited
        plan), ``to_area`` (in the repaired one), ``population``.
    held : codes of the units held in place (the officer's edits and the ``--keep`` areas).
    kept_areas : the ``--keep`` areas.
    """

    evaluation: Evaluation
    plan: Plan
    moved: pd.DataFrame
    held: list[str]
    kept_areas: list[str]

    @property
    def residents_moved(self) -> int:
        """Residents whose area the repair changed."""
        return int(self.moved["population"].sum())

    @property
    def share_moved(self) -> float:
        """``residents_moved`` as a share of all residents."""
        return self.residents_moved / max(int(self.plan.units["population"].sum()), 1)


def repair_edited_plan(
    cfg: RunConfig,
    plan_path: Path,
    *,
    keep: Sequence[str] = (),
    original: Path | None = None,
    code_field: str | None = None,
    area_field: str | None = None,
    steps: int = REPAIR_STEPS,
    progress: Progress | None = None,
) -> Repair:
    """Make an edited plan valid, moving as few of its residents as possible.

    The officer's edits (units whose area differs from the run's) and every unit of the ``keep``
    areas stay where the plan puts them; areas keep their ids.

    Raises
    ------
    InputError, ProblemsError
        The plan file has bad rows, or a ``keep`` area is not in it.
    InfeasibleError
        Holding those units makes the rules impossible (each conflict named), or the engine
        found no valid plan.
    """
    say = progress or (lambda _m: None)
    started = time.monotonic()
    inputs = load_inputs(cfg, say)
    ev = evaluate_plan(
        cfg, plan_path, inputs=inputs, original=original, code_field=code_field, area_field=area_field, progress=say
    )
    problem = inputs.problem
    edited = ev.plan.assignment
    labels, names = labels_of(problem, edited)
    _refuse_look_alike_ids(ev, names)
    held = held_units(problem, labels, names, ev.edits.index, keep, ev.source)
    say(
        f"holding {int(held.sum())} unit(s): {len(ev.edits)} edited, the rest in --keep areas"
        if keep
        else f"holding the {int(held.sum())} edited unit(s) where the officer put them"
    )
    conflicts = find_conflicts(problem, labels, names, held, cfg, ev.edits)
    _raise_conflicts(conflicts or _held_apart(problem, labels, names, held), int(held.sum()))
    k = len(names)
    target = target_for(problem, k if cfg.areas.count != "auto" else "auto", cfg.areas.target_population)
    if ev.ok:
        say("the plan already keeps every rule: nothing to repair")
        repaired = labels
    else:
        say(f"repairing: {len(ev.violations)} broken rule(s) to mend")
        try:
            repaired = _search_near(cfg, problem, labels, held, target, steps, say)
        except InfeasibleError as exc:
            say("no plan holds every edit; releasing the edits one at a time to find the one in the way")
            culprit = _find_culprit(cfg, problem, labels, names, held, ev.edits, target, steps)
            if culprit is None:
                raise
            raise InfeasibleError(culprit) from exc
        repaired = undo_needless_moves(problem, cfg, labels, repaired, names)
        single = cheapest_single_move(problem, cfg, labels, held, names)
        if single is not None and problem.pop[single != labels].sum() < problem.pop[repaired != labels].sum():
            say("one unit moved alone keeps every rule with fewer residents moved than the search's repair: taken")
            repaired = single
    kept = np.flatnonzero(held & (repaired != labels))
    if len(kept):
        msg = f"internal error: held units {_codes(problem, kept)} were moved by the repair; nothing written."
        raise InvariantError(msg)
    provenance: Provenance = {
        **ev.plan.provenance,
        "made_by": "sda repair (an edited plan made valid, few residents moved; edits held)",
        "units_held": int(held.sum()),
        "kept_areas": list(keep),
        "repair_steps": steps,
        "seed": cfg.search.seed,
        "seconds_total": round(time.monotonic() - started, 2),
    }
    # Areas keep their names as well as their ids (those the officer saw, or gave, in the edited plan).
    kept_names = {str(a): str(n) for a, n in ev.plan.areas["name"].items() if str(n)}
    plan = build_plan(cfg, inputs, repaired, target=target, provenance=provenance, ids=names, area_names=kept_names)
    plan.warnings = [*inputs.warnings, *(w for w in ev.plan.warnings if w.startswith("Edited: "))]
    moved = changed_units(plan.assignment, edited)
    pop = dict(zip(problem.codes, problem.pop.tolist(), strict=True))
    moved = moved.assign(population=[int(pop[c]) for c in moved.index])
    held_codes = [problem.codes[i] for i in np.flatnonzero(held)]
    return Repair(ev, plan, moved, held_codes, list(keep))


def _refuse_look_alike_ids(ev: Evaluation, names: Sequence[str]) -> None:
    """Refuse a plan where units were moved to an id that is one of the run's mistyped (``SDA-7``
    or ``sda-07`` beside ``SDA-07``): repair holds edited units where the plan puts them, so it
    would grow a new area around the slip to reach the band, moving tens of thousands of
    residents, and leave two areas told apart by a zero or a capital. An id that replaces the
    run's (every unit of ``SDA-07`` now in ``SDA-7``) is a rename, and repaired as given."""
    slips = {area: meant for area, meant in ev.look_alike_ids.items() if meant in names}
    if not slips:
        return
    areas = ev.plan.assignment.astype(str)
    found = []
    for area, meant in slips.items():
        units = sorted(str(c) for c in areas.index[areas == area])
        shown = ", ".join(units[:5]) + (f" (+{len(units) - 5} more)" if len(units) > 5 else "")
        found.append(
            f"area id {area!r} ({len(units)} unit(s): {shown}) differs from the run's {meant!r} only in case, "
            "spaces or leading zeros"
        )
    area, meant = next(iter(slips.items()))
    msg = (
        f"{'; '.join(found)}; expected the run's area ids as written, or a new area's id unlike any of "
        "them: repair holds edited units where the plan puts them, so it would build a whole new area "
        "around them. Fix: correct the area id "
        f"({area!r} -> {meant!r}) and run again, or give a new area an id of its own."
    )
    raise InputError(ev.source, msg)


def _search_near(
    cfg: RunConfig,
    problem: Problem,
    labels: np.ndarray,
    held: np.ndarray,
    target: float,
    steps: int,
    say: Progress,
) -> np.ndarray:
    """The engine's search from the edited plan: held units frozen, every resident moved from it
    priced at the engine's repair weight (ten times a resident outside their PCN's area), so the
    annealing after the repair moves only what the rules need. The areas keep their numbers (the
    plan's are already ``0..k-1``)."""
    weights = dataclasses.replace(problem.weights, moved=max(problem.weights.moved, REPAIR_MOVED_WEIGHT))
    near = dataclasses.replace(problem.with_previous(labels, frozen=held), weights=weights)
    try:
        result = search(
            near,
            count=int(labels.max()) + 1,
            target=target,  # type: ignore[arg-type]  # a number is accepted as well as "auto"
            seed=cfg.search.seed,
            time_limit_s=cfg.search.time_limit_s,
            starts=1,
            progress=say,
            steps=steps,
            initial_labels=labels,
        )
    except InfeasibleError as exc:
        msg = (
            f"no valid plan was found that holds the edits ({exc}). The checks for a sure conflict between "
            "an edit and a rule found none; try releasing some: --keep fewer areas, or undo an edit "
            "(sda evaluate lists them)."
        )
        raise InfeasibleError(msg) from exc
    return np.asarray(result.labels, dtype=np.int64)


def cheapest_single_move(
    problem: Problem, cfg: RunConfig, labels: np.ndarray, held: np.ndarray, names: Sequence[str]
) -> np.ndarray | None:
    """The edited plan with the one unit move, into or out of an area outside the band, that
    makes it keep every rule with fewest residents moved; None when no single move does.

    The search prices moved residents, but it anneals: where one move of a small unit is enough
    (an area a little short after an edit), this finds it for sure (``sda repair`` takes it when
    the search moved more)."""
    k = int(labels.max()) + 1
    pops = np.bincount(labels, weights=problem.pop, minlength=k)
    outside = {int(a) for a in np.flatnonzero((pops < problem.min_pop) | (pops > problem.max_pop))}
    if not outside:
        return None
    moves = sorted(
        {
            (int(problem.pop[i]), i, int(labels[j]))
            for i in range(problem.n)
            if not held[i] and not problem.frozen[i]
            for j in problem.neighbours(i).tolist()
            if labels[j] != labels[i] and {int(labels[i]), int(labels[j])} & outside
        }
    )
    for _, i, area in moves:
        trial = labels.copy()
        trial[i] = area
        if all(r.ok for r in check_rules(problem, trial, list(names), cfg.rules)):
            return trial
    return None


def undo_needless_moves(
    problem: Problem, cfg: RunConfig, start: np.ndarray, labels: np.ndarray, names: Sequence[str]
) -> np.ndarray:
    """Give back to their area in ``start`` the units the repair moved without need: one at a
    time, then in pairs (a swap between two areas, which a single move cannot undo without
    leaving the band), whenever every rule still holds. Largest first; repeated until nothing
    more can be given back. Checked with ``sda.rules``, so the result is as valid as ``labels``.
    """
    labels = labels.copy()

    def valid(trial: np.ndarray) -> bool:
        return all(r.ok for r in check_rules(problem, trial, list(names), cfg.rules))

    while True:
        moved = [int(i) for i in np.flatnonzero(labels != start)]
        moved.sort(key=lambda i: -int(problem.pop[i]))
        undone = False
        for i in moved:
            trial = labels.copy()
            trial[i] = start[i]
            if valid(trial):
                labels, undone = trial, True
                break
        if not undone:
            for x, i in enumerate(moved):
                touched = {int(start[i]), int(labels[i])}
                for j in moved[x + 1 :]:
                    if not touched & {int(start[j]), int(labels[j])}:
                        continue
                    trial = labels.copy()
                    trial[[i, j]] = start[[i, j]]
                    if valid(trial):
                        labels, undone = trial, True
                        break
                if undone:
                    break
        if not undone:
            return labels


def _find_culprit(
    cfg: RunConfig,
    problem: Problem,
    labels: np.ndarray,
    names: Sequence[str],
    held: np.ndarray,
    edits: pd.DataFrame,
    target: float,
    steps: int,
) -> str | None:
    """The first edit (of up to ``MAX_RELEASE_TRIES``, in code order) without which the engine
    repairs the plan, named as the conflict; None when releasing any one of them does not help."""
    position = {c: i for i, c in enumerate(problem.codes)}
    for code in sorted(map(str, edits.index))[:MAX_RELEASE_TRIES]:
        i = position[code]
        trial = held.copy()
        trial[i] = False
        try:
            _search_near(cfg, problem, labels, trial, target, min(steps, 20_000), lambda _m: None)
        except InfeasibleError:
            continue
        others = int(trial.sum())
        return (
            f"holding {code} in {names[labels[i]]} (an edit) cannot be kept together with the other {others} "
            "held unit(s) under the band and contiguity: with it released, the plan repairs. Fix: undo that "
            "edit, or put it in an area it touches."
        )
    return None


def held_units(
    problem: Problem,
    labels: np.ndarray,
    names: Sequence[str],
    edits: Iterable[str],
    keep: Iterable[str],
    source: Path | str = "PLAN",
) -> np.ndarray:
    """Which units stay where the plan puts them: the edited units and every unit of the
    ``keep`` areas (bool per unit, in the problem's order).

    Raises
    ------
    InputError
        A ``keep`` area is not an area of the plan (with the nearest id).
    """
    held = np.zeros(problem.n, dtype=bool)
    position = {c: i for i, c in enumerate(problem.codes)}
    for code in edits:
        held[position[str(code)]] = True
    for area in keep:
        if area not in names:
            near = difflib.get_close_matches(area, list(names), n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            msg = (
                f"--keep {area!r} is not an area of the plan{hint}; the areas are {', '.join(names)}. "
                "Fix: give an area id as it is in the plan's area_id column."
            )
            raise InputError(source, msg, field="area_id")
        held |= labels == names.index(area)
    return held


def find_conflicts(
    problem: Problem,
    labels: np.ndarray,
    names: Sequence[str],
    held: np.ndarray,
    cfg: RunConfig,
    edits: pd.DataFrame | None = None,
) -> list[str]:
    """Every way holding the ``held`` units where they are makes the rules impossible, one line
    each naming the held units, the areas, the rule and the numbers; empty when none is found.

    These are sure conflicts (necessary conditions), not a proof that a plan exists: an empty
    answer means the engine is worth running, not that it will succeed.
    """
    edited = set() if edits is None else {str(c) for c in edits.index}
    lines: list[str] = []
    lines += _rule_conflicts(problem, labels, names, held, cfg)
    lines += _band_and_contiguity_conflicts(problem, labels, names, held, edited)
    return lines


def _rule_conflicts(
    problem: Problem, labels: np.ndarray, names: Sequence[str], held: np.ndarray, cfg: RunConfig
) -> list[str]:
    lines = []
    for i in np.flatnonzero(held & (problem.lock >= 0)).tolist():
        lock = problem.lock_names[problem.lock[i]]
        if names[labels[i]] != lock:
            lines.append(
                f"holding {problem.codes[i]} in {names[labels[i]]} breaks the lock of {lock!r}: "
                f"the config locks it to {lock}"
            )
    for gi, group in enumerate(cfg.rules.keep_together, start=1):
        positions = [problem.codes.index(c) for c in group]
        areas = {names[labels[i]] for i in positions if held[i]}
        if len(areas) > 1:
            where = ", ".join(f"{problem.codes[i]} in {names[labels[i]]}" for i in positions if held[i])
            lines.append(f"holding {where} breaks keep_together #{gi}: the group must share one area")
    for x, y in problem.apart_pairs.tolist():
        if held[x] and held[y] and labels[x] == labels[y]:
            lines.append(
                f"holding {problem.codes[x]} and {problem.codes[y]} in {names[labels[x]]} breaks keep_apart: "
                "they must be in different areas"
            )
    if cfg.rules.nest_in == "district":
        for a, name in enumerate(names):
            inside = np.flatnonzero(held & (labels == a))
            districts = np.unique(problem.district[inside])
            if len(districts) > 1:
                parts = [
                    f"{_codes(problem, inside[problem.district[inside] == d])} ({problem.district_codes[d]})"
                    for d in districts
                ]
                lines.append(f"holding {' and '.join(parts)} in {name} breaks nest_in = 'district'")
    return lines


def _band_and_contiguity_conflicts(
    problem: Problem, labels: np.ndarray, names: Sequence[str], held: np.ndarray, edited: set[str]
) -> list[str]:
    """Per area: its held units must fit the band on their own and be joinable through free
    units; and the area must be able to reach the minimum through units not held elsewhere."""
    lines = []
    src = edge_sources(problem.indptr)
    dst = problem.indices
    for a, name in enumerate(names):
        mine = held & (labels == a)
        open_ = ~held | mine  # units this area could end up holding
        keep = open_[src] & open_[dst]
        comp = link_components(problem.indptr, dst, keep)
        held_pop = int(problem.pop[mine].sum())
        if held_pop > problem.max_pop:
            lines.append(
                f"holding {_codes(problem, np.flatnonzero(mine))} in {name} puts {show_whole(held_pop)} residents "
                f"there, {show_whole(held_pop - problem.max_pop)} above the maximum of {show_whole(problem.max_pop)}"
            )
        members = np.flatnonzero(labels == a)
        seeds = np.flatnonzero(mine) if mine.any() else members
        groups = np.unique(comp[seeds])
        if mine.any() and len(groups) > 1:
            parts = [_codes(problem, np.flatnonzero(mine & (comp == g))) for g in groups]
            lines.append(
                f"holding {' | '.join(parts)} in {name} cuts it in {len(groups)}: no free units join these groups "
                f"(units held in other areas lie between them), so {name} cannot be one piece"
            )
            continue
        reach = np.isin(comp, groups) & open_
        reach_pop = int(problem.pop[reach].sum())
        if reach_pop < problem.min_pop:
            now = int(problem.pop[members].sum())
            border = _held_border(problem, reach, held, labels, a)
            blamed = [i for i in border if problem.codes[i] in edited] or border
            holders = sorted({names[labels[i]] for i in blamed})
            lines.append(
                f"holding {_codes(problem, np.array(blamed))} in {', '.join(holders)} leaves {name} at "
                f"{show_whole(now)} residents with no free neighbour to take in: at most "
                f"{show_whole(reach_pop)} residents are within its reach, below the minimum of "
                f"{show_whole(problem.min_pop)}"
            )
    return lines


def _held_apart(problem: Problem, labels: np.ndarray, names: Sequence[str], held: np.ndarray) -> list[str]:
    """Held units in a smaller piece of their area than its largest. The engine's repair gives
    each area back its largest piece and moves the others out, so it cannot hold these (an edit
    that put a unit in an area it does not touch): say so, naming them."""
    comp = piece_labels(problem.indptr, problem.indices, labels)
    piece_pop = np.bincount(comp, weights=problem.pop)
    lines = []
    for a, name in enumerate(names):
        members = np.flatnonzero(labels == a)
        largest = piece_pop[comp[members]].max()
        apart = members[held[members] & (piece_pop[comp[members]] < largest)]
        if len(apart):
            lines.append(
                f"holding {_codes(problem, apart)} in {name}: not joined to the rest of {name} "
                f"({show_whole(int(largest))} residents in its largest piece), and sda repair keeps each area's "
                "largest piece; move them next to it, or release them"
            )
    return lines


def _held_border(problem: Problem, reach: np.ndarray, held: np.ndarray, labels: np.ndarray, a: int) -> list[int]:
    """Held units of other areas that touch the region an area can reach (they fence it in)."""
    out = set()
    for i in np.flatnonzero(reach).tolist():
        for j in problem.neighbours(i).tolist():
            if held[j] and labels[j] != a and not reach[j]:
                out.add(int(j))
    return sorted(out)


def _codes(problem: Problem, positions: np.ndarray, limit: int = 8) -> str:
    codes = [problem.codes[i] for i in np.asarray(positions, dtype=np.int64).tolist()]
    shown = ", ".join(codes[:limit])
    return shown + (f" (+{len(codes) - limit} more)" if len(codes) > limit else "")


def _as_plan_file(plan: Plan, path: Path) -> PlanFile:
    """A built plan as ``sda diff`` reads one from disk: its names, scores, area table and band
    with it, so that the repair's change log says as much as ``sda diff`` of the two files."""
    columns = [c for c in ("population", "pcn_code", "geometry") if c in plan.units.columns]
    areas = plan.areas.reset_index()
    record = {
        "assignment": {str(c): str(a) for c, a in plan.assignment.items()},
        "scores": plan.scores,
        "areas": areas.assign(area_id=areas["area_id"].astype(str)).to_dict("records"),
        "config": {
            "areas": {
                "min_population": plan.config.areas.min_population,
                "max_population": plan.config.areas.max_population,
            }
        },
    }
    names = {str(a): str(n) for a, n in plan.areas["name"].items() if str(n)} if "name" in plan.areas else {}
    return PlanFile(
        path=path,
        assignment=plan.assignment.astype(str).rename("area_id"),
        area_names=names,
        units=plan.units[columns],
        record=record,
    )


def write_repair(rep: Repair, out_dir: Path) -> list[Path]:
    """Write the repaired plan as ``propose`` does, and the change from the edited plan in
    ``changes/`` (``sda diff``'s files: ``changes.txt``, ``moved.csv``, ``moved.geojson``,
    ``areas.csv``), swapped in together: a folder never holds one repair's plan and another's
    changes."""
    from sda.diff import diff_plans, write_diff
    from sda.outputs import write_outputs

    edited = _as_plan_file(rep.evaluation.plan, rep.evaluation.source)
    changes = diff_plans(edited, _as_plan_file(rep.plan, Path(out_dir) / "plan.gpkg"))
    return write_outputs(rep.plan, out_dir, also=("changes", lambda folder: write_diff(changes, folder)))


def repair_text(rep: Repair) -> str:
    """What ``sda repair`` prints: what was broken, what was held, what moved, the scores."""
    ev = rep.evaluation
    lines = []
    if ev.ok:
        lines.append(f"{ev.source} already keeps every rule; nothing was moved.")
    else:
        lines.append(f"{ev.source} broke {sum(not r.ok for r in ev.plan.rules)} rule(s):")
        lines += [f"  - {v}" for v in ev.violations]
    lines.append(
        f"Held in place: {len(rep.held)} unit(s) ({len(ev.edits)} edited"
        + (f"; areas kept: {', '.join(rep.kept_areas)}" if rep.kept_areas else "")
        + ")."
        + (
            " No sda run to compare with, so no edits are known: give --original DIR (the output folder "
            "the plan was edited from) to hold them."
            if ev.run_dir is None
            else ""
        )
    )
    total = int(rep.plan.units["population"].sum())
    lines.append(
        f"The repair moved {len(rep.moved)} unit(s), {show_whole(rep.residents_moved)} of "
        f"{show_whole(total)} residents ({rep.share_moved:.2%}); every rule now holds."
    )
    for code, row in rep.moved.iterrows():
        lines.append(f"  {code} ({show_whole(row['population'])}): {row['from_area']} -> {row['to_area']}")
    s = rep.plan.scores
    lines.append(
        f"Scores: objective {s['objective']:.4f}, coterminosity {s['coterminosity']:.1%}, "
        f"cut border {s['cut_border_km']:.1f} km, mean Polsby-Popper {s['mean_polsby_popper']:.3f}."
    )
    return "\n".join(lines)


def _raise_conflicts(conflicts: list[str], n_held: int) -> None:
    if conflicts:
        body = "\n".join(f"  - {c}" for c in conflicts)
        msg = (
            f"holding the {n_held} unit(s) in place makes the rules impossible:\n{body}\n"
            "Fix: undo or change those edits (sda evaluate lists them), or --keep fewer areas."
        )
        raise InfeasibleError(msg)
