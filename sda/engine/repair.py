"""Repair: bring an assignment that breaks the band or contiguity back to a valid plan,
moving as few residents as it can.

Why: when the band is tight (28 areas here leave 447 residents of slack per area), building a
plan that lands every area inside the band directly takes long backtracking. A construction that
never backtracks is quick and leaves a few areas a few hundred residents outside; directed moves
then mend them (``repair_directed``): chains of boundary moves (``sda.engine.chains``) and, for
what chains cannot reach, a small neighbourhood of areas merged and split again. The annealing
kernel (``sda.engine.anneal``), with residents outside the band priced high, is the fallback.
Contiguity holds at every step.

The same steps repair a plan given from outside (an officer's edited plan, or a previous plan
carried onto new units): ``repair_plan`` first gives each area back one connected piece (its
most populous; the units of its other pieces join the neighbouring areas they share most
border with), then brings the areas into the band with every resident moved from the given
plan priced (the ``moved`` objective term), so the repair disturbs as little as it can.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from sda.engine.anneal import AnnealState
from sda.engine.chains import repair_by_chains, unit_neighbours
from sda.engine.construct import construct, split_set
from sda.errors import InfeasibleError
from sda.metrics import area_pairs, area_populations, edge_sources, minor_pieces
from sda.objective import weight_scale
from sda.problem import Problem

#: Price of each resident outside the band (as a share of all residents) while repairing: far
#: above any objective term, so the search heads for the band, yet finite, so it can pass
#: through states that are further out on the way.
REPAIR_BAND_PRICE = 20.0
#: Temperature while repairing (objective units): warm enough to leave dead ends.
REPAIR_TEMPERATURE = 0.002
#: Weight of the ``moved`` term while repairing a given plan: residents moved dominate the other
#: terms (default weights sum to 1.13), which only break ties.
REPAIR_MOVED_WEIGHT = 10.0
#: Greedy kernel steps per adjacency entry after a repair.
GREEDY_STEPS_PER_LINK = 50
#: Kernel steps between checks for a state in band.
REPAIR_CHUNK = 50_000


def repair_band(
    problem: Problem, labels: np.ndarray, target: float, rng: np.random.Generator, max_steps: int = 5_000_000
) -> np.ndarray | None:
    """The first in-band assignment reached from ``labels`` (contiguous, any populations), or
    None within ``max_steps`` kernel steps. A count of steps, not seconds: clock-free. With a
    previous plan, the state must also keep within the cap on residents moved."""
    state = AnnealState(problem, labels, target)
    if np.isfinite(state.best[0]):
        return state.labels.copy()
    scale = weight_scale(problem)  # the same balance of band and objective under any weights
    temperature, price = REPAIR_TEMPERATURE * scale, REPAIR_BAND_PRICE * scale
    done = 0
    while done < max_steps:
        state.run(rng, REPAIR_CHUNK, (temperature, temperature), (price, price), 0.2)
        done += REPAIR_CHUNK
        if np.isfinite(state.best[0]):
            return state.best_assignment()[0]
    return None


#: Trees per set drawn by the construction that never backtracks before it takes the nearest miss.
TOLERANT_TREES = 5
#: Constructions without backtracking, each directly repaired, before the annealing repair.
TOLERANT_ATTEMPTS = 5
#: Spanning trees drawn at most per cut to re-split one merged set of areas, and for one area in all.
REBUILD_TREES = 40
REBUILD_TREES_TOTAL = 200


def _outside(pops: np.ndarray, problem: Problem) -> np.ndarray:
    return np.maximum(np.maximum(problem.min_pop - pops, pops - problem.max_pop), 0)


def rebuild_around(
    problem: Problem, labels: np.ndarray, pops: np.ndarray, area: int, rng: np.random.Generator
) -> np.ndarray | None:
    """``labels`` with ``area`` and one or two neighbouring areas merged and split again into as
    many areas, every one in band (spanning-tree bisection, ``sda.engine.construct``); None when
    no such split is found. ``pops``: the residents of each area of ``labels``.

    Sets whose residents fit their count of areas are tried pairs first, then triples (the
    third area touching either of the other two), each in order of most room per area, with
    ``REBUILD_TREES`` trees per cut and ``REBUILD_TREES_TOTAL`` in all.
    """
    near: list[set[int]] = [set() for _ in range(len(pops))]
    for a, b in area_pairs(problem.indptr, problem.indices, labels).tolist():
        near[a].add(b)
        near[b].add(a)
    held = set(np.unique(labels[problem.frozen]).tolist())
    sets: set[tuple[int, ...]] = set()
    for c in near[area] - held:
        sets.add(tuple(sorted((area, c))))
        for d in (near[area] | near[c]) - held - {area, c}:
            sets.add(tuple(sorted((area, c, d))))

    def room(members: tuple[int, ...]) -> float:
        total, m = int(pops[list(members)].sum()), len(members)
        return min(total - m * problem.min_pop, m * problem.max_pop - total) / m

    ranked = sorted((s for s in sets if room(s) >= 0), key=lambda s: (len(s), -room(s), s))
    left = REBUILD_TREES_TOTAL
    for members in ranked:
        if left <= 0:
            break
        nodes = np.flatnonzero(np.isin(labels, members))
        parts, drawn = split_set(
            problem, nodes, len(members), rng, max_trees=min(REBUILD_TREES * (len(members) - 1), left)
        )
        left -= drawn
        if parts is not None:
            out = labels.copy()
            for label, part in zip(members, parts, strict=True):
                out[part] = label
            return out
    return None


def repair_directed(
    problem: Problem, labels: np.ndarray, rng: np.random.Generator, *, neighbours: list[list[int]] | None = None
) -> np.ndarray:
    """``labels`` brought into the band as far as directed moves take it: chains of boundary
    moves (``sda.engine.chains``), then, for each area they leave outside, its neighbourhood
    merged and split again (``rebuild_around``), and chains again. Contiguity holds throughout;
    the result may still have areas outside the band (never more residents outside).
    ``neighbours``: ``chains.unit_neighbours(problem)`` from a caller that repairs many times."""
    neighbours = unit_neighbours(problem) if neighbours is None else neighbours
    labels = repair_by_chains(problem, labels, neighbours=neighbours)
    k = int(labels.max()) + 1
    failed: set[int] = set()
    while True:
        pops = area_populations(labels, problem.pop, k)
        outside = _outside(pops, problem)
        todo = [a for a in np.argsort(-outside, kind="stable").tolist() if outside[a] > 0 and a not in failed]
        if not todo:
            return labels
        rebuilt = rebuild_around(problem, labels, pops, todo[0], rng)
        if rebuilt is None:
            failed.add(todo[0])
        else:
            labels = repair_by_chains(problem, rebuilt, neighbours=neighbours)


def _residents_outside(problem: Problem, labels: np.ndarray, k: int) -> int:
    return int(_outside(area_populations(labels, problem.pop, k), problem).sum())


def loose_then_repair(
    problem: Problem,
    k: int,
    rng: np.random.Generator,
    *,
    slack: float = 0.05,
    attempts: int = 3,
    max_trees: int = 1_500,
    max_steps: int = 5_000_000,
    deadline: float = float("inf"),
) -> np.ndarray | None:
    """A valid ``k``-area plan for a band with little slack; None if every way below fails, or
    once ``time.monotonic()`` passes ``deadline`` (the first construction is always tried).

    1. Up to ``TOLERANT_ATTEMPTS`` times: a construction that never backtracks (each set takes the cut
       nearest its window when no tree offers one that fits, ``construct(tolerant_trees=...)``),
       so a few areas miss the band by a few hundred residents; then directed repair
       (``repair_directed``). The first plan in band is returned.
    2. Else the annealing kernel repairs the attempt that came nearest (``repair_band``).
    3. Else a construction with the band widened by ``slack`` on each side (at most
       ``max_trees`` trees), directed repair and the kernel, up to ``attempts`` times.
    """
    target = problem.total_pop / k
    neighbours = unit_neighbours(problem)
    nearest: tuple[int, np.ndarray] | None = None
    for attempt in range(TOLERANT_ATTEMPTS):
        if attempt and time.monotonic() > deadline:
            return None
        labels = construct(
            problem, k, rng, pcn_surcharge=1.0, greed=1.0, attempts=1, tolerant_trees=TOLERANT_TREES, deadline=deadline
        )
        if labels is None:
            break  # keep-apart rules that a construction without backtracking did not meet
        labels = repair_directed(problem, labels, rng, neighbours=neighbours)
        missing = _residents_outside(problem, labels, k)
        if missing == 0:
            return labels
        if nearest is None or missing < nearest[0]:
            nearest = (missing, labels)
    if time.monotonic() > deadline:
        return None
    if nearest is not None:
        repaired = repair_band(problem, nearest[1], target, rng, max_steps)
        if repaired is not None:
            return repaired
    loose = dataclasses.replace(
        problem, min_pop=int(problem.min_pop * (1 - slack)), max_pop=int(np.ceil(problem.max_pop * (1 + slack)))
    )
    for _ in range(attempts):
        if time.monotonic() > deadline:
            return None
        labels = construct(
            loose, k, rng, pcn_surcharge=1.0, greed=1.0, attempts=1, max_trees=max_trees, deadline=deadline
        )
        if labels is None:
            continue
        repaired = repair_band(
            problem, repair_directed(problem, labels, rng, neighbours=neighbours), target, rng, max_steps
        )
        if repaired is not None:
            return repaired
    return None


def compact_labels(problem: Problem, labels: np.ndarray) -> tuple[Problem, np.ndarray]:
    """Renumber areas ``0..k-1`` in order of their old numbers, dropping numbers no unit holds;
    the problem's previous plan is renumbered the same way (a previous area with no unit now
    keeps a number above ``k - 1``, so its residents count as moved)."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != problem.n or (labels < 0).any():
        msg = f"the starting plan must give every one of the {problem.n} units an area (got {len(labels)} labels)."
        raise InfeasibleError(msg)
    used = np.unique(labels)
    if len(used) == int(labels.max()) + 1:
        return problem, labels.copy()
    top = max(int(labels.max()), int(problem.previous.max())) + 1
    mapping = np.full(top, -1, dtype=np.int64)
    mapping[used] = np.arange(len(used))
    unused = np.flatnonzero(mapping < 0)
    mapping[unused] = len(used) + np.arange(len(unused))
    prev = np.where(problem.previous >= 0, mapping[np.maximum(problem.previous, 0)], -1)
    return dataclasses.replace(problem, previous=prev), mapping[labels]


def repair_contiguity(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """Each area keeps its most populous connected piece; the units of its other pieces join a
    neighbouring area (``join_neighbours``), so every area ends connected.

    Raises
    ------
    InfeasibleError
        If a frozen unit would have to leave its area, or a unit cannot reach any kept piece.
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    detached = minor_pieces(problem.indptr, problem.indices, labels, problem.pop)
    if not detached.any():
        return labels
    held = np.flatnonzero(detached & problem.frozen)
    if len(held):
        codes = ", ".join(problem.codes[i] for i in held[:8])
        msg = f"units {codes} are held in their area but cut off from the rest of it; link them or release them."
        raise InfeasibleError(msg)
    labels[detached] = -1
    return join_neighbours(problem, labels)


def join_neighbours(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """Give every unit labelled -1 an area, one ring at a time from the labelled units inward:
    each joins the neighbouring area it shares most border with (ties to the lower number).

    A unit joins an area it touches, so an area that was connected stays connected.

    Raises
    ------
    InfeasibleError
        If some unlabelled units have no path to a labelled one.
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    k = int(labels.max(initial=-1)) + 1
    src = edge_sources(problem.indptr)
    while (labels < 0).any():
        ring = (labels[src] < 0) & (labels[problem.indices] >= 0)
        if not ring.any():
            stuck = np.flatnonzero(labels < 0)
            codes = ", ".join(problem.codes[i] for i in stuck[:8])
            msg = f"units {codes} cannot join any area: they have no link to one; link them with [graph] extra_links."
            raise InfeasibleError(msg)
        # Border per (joining unit, neighbouring area), summed over the ring's links only (not an
        # n x k table: a national plan has 12,000 units and 1,400 areas).
        pairs, which = np.unique(src[ring] * k + labels[problem.indices[ring]], return_inverse=True)
        border = np.bincount(which, weights=problem.border_m[ring] + 1e-9)
        unit, area = pairs // k, pairs % k
        best = np.lexsort((area, -border, unit))  # per unit: most border first, then the lower area
        first = best[np.r_[True, unit[best][1:] != unit[best][:-1]]]
        labels[unit[first]] = area[first]
    return labels


def repair_plan(
    problem: Problem, labels: np.ndarray, target: float, rng: np.random.Generator, max_steps: int = 20_000_000
) -> np.ndarray:
    """A valid plan near ``labels`` (numbered ``0..k-1``, every area non-empty): contiguity
    restored by ``repair_contiguity``, then the band by the kernel with every resident moved from
    ``labels`` priced. When the problem carries a previous plan, moves are counted from it
    instead, and its cap on residents moved holds.

    Raises
    ------
    InfeasibleError
        If the plan cannot be repaired within ``max_steps`` kernel steps (or at all).
    """
    fixed = repair_contiguity(problem, labels)
    priced = problem if problem.has_previous else problem.with_previous(labels, frozen=problem.frozen)
    moved_weight = max(problem.weights.moved, REPAIR_MOVED_WEIGHT)
    priced = dataclasses.replace(priced, weights=dataclasses.replace(problem.weights, moved=moved_weight))
    repaired = repair_band(priced, fixed, target, rng, max_steps)
    if repaired is None:
        msg = (
            f"the plan could not be brought into the band [{problem.min_pop:,}, {problem.max_pop:,}] "
            f"within {max_steps:,} steps"
            + (f" while moving at most {problem.max_moved_share:.1%} of residents" if problem.has_previous else "")
            + "; widen the band, release held units, or raise the cap."
        )
        raise InfeasibleError(msg)
    # Greedy descent, band hard: undoes the moves the warm repair made on the way that it did
    # not need (with the moved term priced, taking a unit back is an improving move).
    state = AnnealState(priced, repaired, target)
    state.run(rng, GREEDY_STEPS_PER_LINK * len(problem.indices), (0.0, 0.0), (0.0, 0.0), 0.2)
    return state.labels.copy()
