"""A re-run from a previous plan: carry it onto the current units, start the search from it with
every resident moved priced (the ``moved`` term), and keep the areas' ids.

``search_from_previous`` is what ``sda propose --previous`` adds to a run; ``api.run`` calls it
in place of a fresh search. The count is the previous plan's when it still fits: with
``count = "auto"`` it changes only when the band forces it (too many or too few residents for
that many areas), and the record says so; a fixed count that differs from the previous one
splits the largest areas or merges the smallest into a neighbour before the search repairs the
band.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from sda.config import RunConfig
from sda.engine.search import SearchResult, search, target_for
from sda.errors import InfeasibleError, InputError, SdaWarning
from sda.formatting import counted
from sda.identity import Identity, match_areas
from sda.planfile import read_planfile, run_areas
from sda.population import read_population_points
from sda.previous import Carried, carry_previous, start_labels
from sda.problem import Problem
from sda.reasons import Band, carried_populations, move_reasons

__all__ = ["Rerun", "search_from_previous"]

Progress = Callable[[str], None]

#: A previous plan that gives an area to fewer than this share of the residents is refused: it is
#: most likely a plan of another place or another kind of unit.
MIN_CARRIED_SHARE = 0.5


@dataclass
class Rerun:
    """The search result of a re-run, the ids of its areas and what to record about it."""

    result: SearchResult
    identity: Identity
    carried: Carried
    count_note: str
    previous_labels: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)


def search_from_previous(
    cfg: RunConfig,
    problem: Problem,
    units: gpd.GeoDataFrame,
    previous: Path,
    say: Progress,
    *,
    pcn_names: Mapping[str, str] | None = None,
) -> Rerun:
    """Carry ``previous`` onto ``units``, search from it paying for residents moved, name the areas,
    and say why each unit moved (``sda.reasons``; ``pcn_names`` shows PCNs by name).

    Raises
    ------
    InputError
        The previous plan cannot be read.
    InfeasibleError
        No valid plan could be reached from it.
    """
    # A CSV keyed by the units file's own code column is read, as `sda evaluate` reads one.
    plan_file = read_planfile(previous, more_code_fields=(cfg.units.code_field,), field_options=False)
    points = _points(cfg)
    carried = carry_previous(units.loc[problem.codes], plan_file, points=points)
    counts = {k: v for k, v in carried.counts().items() if v}
    has_area = (carried.area.reindex(problem.codes).fillna("") != "").to_numpy()
    if problem.pop[has_area].sum() < MIN_CARRIED_SHARE * problem.total_pop:
        share = problem.pop[has_area].sum() / max(problem.total_pop, 1)
        msg = (
            f"only {share:.0%} of the current residents could be given an area from this previous plan "
            f"(its unit codes and polygons hardly match the units of {cfg.units.path.name}); expected at "
            f"least {MIN_CARRIED_SHARE:.0%}. Check that it is a plan of the same place, or run without --previous."
        )
        raise InputError(plan_file.path, msg)
    told = ", ".join(f"{v:,} {k}" for k, v in counts.items()) or "none"
    say(f"previous plan {plan_file.path.name}: carried by {carried.weighting}; units: {told}")
    for note in carried.notes:  # what could not be carried: said now, not only in the report
        warnings.warn(note, SdaWarning, stacklevel=2)
    band = Band(problem.min_pop, problem.max_pop)
    carried_ids = carried.area.reindex(problem.codes).fillna("").to_numpy()
    held = carried_populations(carried_ids.tolist(), problem.pop.tolist())
    # The previous areas on the current data, before any move, where they are outside the band:
    # said before the search, the first thing a re-run's moves answer to.
    outside = [{"area_id": str(a), "population": int(n)} for a, n in held.items() if not band.holds(int(n))]
    for area in outside:
        say(f"  {_outside_band_text(area, band)}")
    start, start_ids = start_labels(problem, carried)
    start = _honour_groups(problem, start)
    k0 = len(np.unique(start))
    k, count_note = _count_for(problem, cfg.areas.count, k0, len(carried.previous_ids))
    say(count_note)
    if k != k0:
        start = _honour_groups(problem, _change_count(problem, start, k))
    index = {a: i for i, a in enumerate(start_ids)}
    previous_labels = np.array([index.get(a, -1) for a in carried.area.reindex(problem.codes).fillna("")])
    # Numbered like ``start_ids``; a label added by a split has no previous area.
    result = _search(cfg, problem, start, previous_labels, k, say)
    locked = {}
    for li, name in enumerate(problem.lock_names):
        held = np.unique(result.labels[problem.lock == li])
        if len(held) == 1:
            locked[int(held[0])] = name
    identity = match_areas(
        result.labels,
        carried.area.reindex(problem.codes).fillna("").tolist(),
        problem.pop,
        previous_ids=carried.previous_ids,
        previous_names=carried.previous_names,
        retired_before=carried.retired_ids,
        locked=locked,
    )
    ids = np.array(identity.ids, dtype=object)
    moved = (carried_ids != "") & (carried_ids != ids[result.labels])
    previous_pcn = None
    if plan_file.units is not None and "pcn_code" in plan_file.units.columns:
        previous_pcn = plan_file.units["pcn_code"].reindex(problem.codes).fillna("").astype(str).tolist()
    reasons = move_reasons(
        carried_ids.tolist(),
        ids[result.labels].tolist(),
        moved.tolist(),
        problem.pop.tolist(),
        previous_of={a: a for a in carried.previous_ids},
        band=band,
        created=identity.created,
        retired=identity.retired,
        pcn_before=previous_pcn,
        pcn_after=units["pcn_code"].reindex(problem.codes).fillna("").astype(str).tolist()
        if "pcn_code" in units.columns
        else None,
        pcn_names=pcn_names,
        run_areas=run_areas(plan_file, problem.codes),
    )
    record = {
        **carried.summary(),
        "count_note": count_note,
        "previous_count": len(carried.previous_ids),
        "created_ids": identity.created,
        "retired_ids": identity.retired,
        "units_moved": int(moved.sum()),
        "residents_moved": int(problem.pop[moved].sum()),
        "moved_units": [
            {
                "unit_code": problem.codes[i],
                "from_area": str(carried_ids[i]),
                "to_area": str(ids[result.labels[i]]),
                "population": int(problem.pop[i]),
                "reason": reasons[i],
            }
            for i in np.flatnonzero(moved).tolist()
        ],
        "outside_band": outside,
    }
    say(
        f"re-run: {counted(record['units_moved'], 'unit')}, {counted(record['residents_moved'], 'resident')} moved; "
        f"created {', '.join(map(str, identity.created)) or 'none'}, "
        f"retired {', '.join(map(str, identity.retired)) or 'none'}"
    )
    return Rerun(result, identity, carried, count_note, previous_labels, record)


def _outside_band_text(area: Mapping[str, Any], band: Band) -> str:
    """A previous area outside the band on the current data, as a sentence."""
    n = int(area["population"])
    held = f"{area['area_id']} holds {n:,} residents on the current data"
    if n > band.max_pop:
        return f"{held}, above the {band.max_pop:,} maximum: it must give some away"
    return f"{held}, below the {band.min_pop:,} minimum: it must take some in"


def _search(
    cfg: RunConfig, problem: Problem, start: np.ndarray, previous_labels: np.ndarray, k: int, say: Progress
) -> SearchResult:
    """The engine's search from ``start`` with the ``moved`` term on (``Problem.with_previous``):
    a valid start is refined cold; one outside the band is first repaired moving few residents."""
    goal = target_for(problem, k if cfg.areas.count != "auto" else "auto", cfg.areas.target_population)
    engine_problem = problem.with_previous(previous_labels, max_moved_share=cfg.previous.max_moved_share)
    return search(
        engine_problem,
        count=k,
        target=goal,  # type: ignore[arg-type]  # search takes a number too
        seed=cfg.search.seed,
        time_limit_s=cfg.search.time_limit_s,
        starts=1,
        progress=say,
        steps=cfg.search.steps,
        initial_labels=start,
    )


def _count_for(problem: Problem, asked: int | str, k0: int, previous_count: int) -> tuple[int, str]:
    """The count of a re-run and a sentence saying why."""
    lo, hi = problem.feasible_counts()
    if asked != "auto":
        k = int(asked)
        if k == previous_count:
            return k, f"Count {k}, as configured and as in the previous plan"
        return k, f"Count {k}, as configured (the previous plan had {previous_count})"
    if lo <= previous_count <= hi:
        return (
            previous_count,
            f"Count auto: kept the previous plan's {previous_count} areas (the band allows {lo}-{hi})",
        )
    k = min(max(previous_count, lo), hi)
    return k, (
        f"Count auto: changed from {previous_count} to {k} areas because the band forces it: "
        f"{problem.total_pop:,} residents fit {lo}-{hi} areas of {problem.min_pop:,}-{problem.max_pop:,}"
    )


def _honour_groups(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """Put every keep-together group (locks included) in the area holding most of its residents."""
    labels = labels.copy()
    for g in np.unique(problem.together[problem.together >= 0]).tolist():
        members = np.flatnonzero(problem.together == g)
        held = np.bincount(labels[members], weights=problem.pop[members] + 1e-9)
        labels[members] = int(np.argmax(held))
    return labels


def _change_count(problem: Problem, labels: np.ndarray, k: int) -> np.ndarray:
    """Split the most populous areas in two, or merge the least populous into their smallest
    neighbour, until there are ``k`` areas (the search then repairs the band)."""
    labels = labels.copy()
    while len(np.unique(labels)) < k:
        pops = np.bincount(labels, weights=problem.pop)
        labels = _split(problem, labels, int(np.argmax(pops)))
    while len(np.unique(labels)) > k:
        # Numbers are not compacted: the previous plan's numbering must stay valid (the engine
        # drops numbers no unit holds from both arrays alike).
        labels = _merge_smallest(problem, labels, k)
    return labels


def _merge_smallest(problem: Problem, labels: np.ndarray, k: int) -> np.ndarray:
    """Merge the least populous area that can be merged into its least populous neighbour,
    never joining a keep-apart pair (neighbours share a district when areas nest in them)."""
    kk = int(labels.max()) + 1
    pops = np.bincount(labels, weights=problem.pop, minlength=kk)
    held = np.bincount(labels, minlength=kk) > 0
    for a in sorted(np.flatnonzero(held).tolist(), key=lambda x: (pops[x], x)):
        members = np.flatnonzero(labels == a)
        nbrs = {int(labels[j]) for i in members.tolist() for j in problem.neighbours(i).tolist()} - {a}
        for b in sorted(nbrs, key=lambda x: (pops[x], x)):
            merged = labels.copy()
            merged[merged == a] = b
            if not any(merged[x] == merged[y] for x, y in problem.apart_pairs.tolist()):
                return merged
    msg = f"cannot reduce the previous plan to {k} areas by merging neighbours (keep-apart rules); set another count."
    raise InfeasibleError(msg)


def _split(problem: Problem, labels: np.ndarray, a: int) -> np.ndarray:
    """Split area ``a`` in two contiguous halves grown from two far-apart units (graph distance)."""
    members = np.flatnonzero(labels == a)
    inside = set(members.tolist())

    def distances(source: int) -> dict[int, int]:
        seen = {source: 0}
        queue = deque([source])
        while queue:
            u = queue.popleft()
            for v in problem.neighbours(u).tolist():
                if v in inside and v not in seen:
                    seen[v] = seen[u] + 1
                    queue.append(v)
        return seen

    first = distances(int(members[0]))
    s1 = max(first, key=lambda u: (first[u], -u))
    d1 = distances(s1)
    s2 = max(d1, key=lambda u: (d1[u], -u))
    d2 = distances(s2)
    new = int(labels.max()) + 1
    out = labels.copy()
    for u in members.tolist():
        if d2.get(u, 1 << 30) < d1.get(u, 1 << 30):
            out[u] = new
    return out


def _points(cfg: RunConfig) -> gpd.GeoDataFrame | None:
    """Population points from ``[units] population_points`` when the config has them, read as every
    run reads them (``sda.population``), so that a re-run weighs the same residents."""
    if not cfg.units.population_points:
        return None
    return read_population_points(cfg.units).points
