"""Chains of boundary moves: bring areas into the band along paths of neighbouring areas.

Why: when the band leaves a few hundred residents of slack per area (28 areas here), an area
short of the floor can rarely take a unit from a neighbour without pushing that neighbour below
the floor in turn. A *chain* passes the shortfall on: area ``a0`` takes a unit from ``a1``,
``a1`` takes one from ``a2``, and so on until an area with residents to spare gives its unit and
stays in band. An area over the ceiling pushes units along a chain the same way. Every area of a
chain other than ``a0`` ends in band (the last one ends no further out than it started), and
``a0`` ends strictly nearer the band, so each chain lowers the residents outside the band and
the repair ends.

A chain may also close on ``a0`` (a cycle: ``a0`` takes a unit and gives back a smaller one), so
residents move in steps finer than a unit, and no area needs a whole unit to spare.

Chains are found breadth first over the areas (the shortest chain first; among those of the same
length, the one that leaves ``a0`` nearest the band and then the last area the most room), first
reaching each area once (quick), then, when that finds none, once per unit that links it, up to
``PER_UNIT_CHAIN`` areas (this finds chains that need one particular unit, such as a swap).
Each area appears once in a chain, and every area stays connected: a unit only leaves an area
that stays connected without it, and a unit only joins an area through a unit that stays there.

Units in a keep-together group, locked, held (``Problem.frozen``) or named in a keep-apart pair
never move here; the annealing repair (``sda.engine.repair``) handles what the chains cannot.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sda.metrics import connected_without
from sda.problem import Problem

__all__ = ["repair_by_chains", "unit_neighbours"]

#: Areas in a chain at most (the area that needs the move included), reaching each area once.
MAX_CHAIN = 10
#: The same when each area is reached once per linking unit (the slower, wider search).
PER_UNIT_CHAIN = 4


class _Plan:
    """The mutable state of the repair: labels, area members and populations, connectivity cache."""

    def __init__(self, problem: Problem, labels: np.ndarray, nbrs: list[list[int]]) -> None:
        self.labels = [int(v) for v in labels]
        self.k = max(self.labels) + 1
        self.pop = problem.pop.astype(np.int64).tolist()
        self.nbrs = nbrs
        self.members: list[set[int]] = [set() for _ in range(self.k)]
        for unit, area in enumerate(self.labels):
            self.members[area].add(unit)
        self.area_pop = [0] * self.k
        for unit, area in enumerate(self.labels):
            self.area_pop[area] += self.pop[unit]
        movable = (problem.together < 0) & (problem.lock < 0) & ~problem.frozen
        if len(problem.apart_pairs):
            movable[np.asarray(problem.apart_pairs).ravel()] = False
        self.movable = movable.tolist()
        self.lo, self.hi = int(problem.min_pop), int(problem.max_pop)
        self._cut_ok: dict[int, bool] = {}  # unit -> can it leave its area (cleared on change)

    def outside(self, p: int) -> int:
        """Residents by which a population ``p`` misses the band."""
        return max(self.lo - p, p - self.hi, 0)

    def can_leave(self, unit: int) -> bool:
        """Does the unit's area stay connected (and non-empty) without it?"""
        got = self._cut_ok.get(unit)
        if got is None:
            got = connected_without(self.members[self.labels[unit]], unit, self.nbrs)
            self._cut_ok[unit] = got
        return got

    def touches(self, unit: int, area: int, without: int) -> bool:
        """Is ``unit`` adjacent to a unit of ``area`` other than ``without``?"""
        labels = self.labels
        return any(labels[w] == area and w != without for w in self.nbrs[unit])

    def move(self, unit: int, to: int) -> None:
        src = self.labels[unit]
        self.labels[unit] = to
        self.members[src].discard(unit)
        self.members[to].add(unit)
        self.area_pop[src] -= self.pop[unit]
        self.area_pop[to] += self.pop[unit]
        for area in (src, to):
            for v in self.members[area]:
                self._cut_ok.pop(v, None)


class _Step(NamedTuple):
    """One area of a chain being searched: the area, the unit linking it to its parent step, the
    parent step's index, the area's population once that unit has moved (``level``), and the
    unit ``a0`` moves on this chain (``first``)."""

    area: int
    link: int
    parent: int
    level: int
    first: int


def _on_path(steps: list[_Step], i: int, area: int) -> bool:
    while i >= 0:
        if steps[i].area == area:
            return True
        i = steps[i].parent
    return False


def _find_chain(
    plan: _Plan, a0: int, pull: bool, *, per_unit: bool = False, depth: int = MAX_CHAIN
) -> list[tuple[int, int]] | None:
    """The moves ``(unit, to area)`` of the best shortest chain that brings ``a0`` nearer the
    band (pulling units in when it is short, pushing them out when it is over), or None.

    Pulling, the area of a step gives its link unit to its parent's area and takes a unit ``u``
    of a neighbouring area ``c``; pushing, it takes its link unit from its parent's area and
    gives a unit ``u`` of its own to ``c``. A chain ends at an area that stays in band, or
    closes on ``a0`` itself (a cycle: ``a0`` gives back a smaller unit than it took, so residents
    move in steps finer than a unit and no area needs a whole unit to spare).

    By default each area is reached once (by its best step), which is quick; ``per_unit``
    reaches each area once per unit that links it, which also finds chains that need one
    particular unit (a swap of two given units, say), at more cost.
    """
    lo, hi, pop, labels, nbrs = plan.lo, plan.hi, plan.pop, plan.labels, plan.nbrs
    a0_pop = plan.area_pop[a0]
    start_out = plan.outside(a0_pop)
    steps = [_Step(a0, -1, -1, a0_pop, -1)]
    seen: set[object] = {a0}
    frontier = [0]
    best: tuple[tuple[int, int], int, int, int] | None = None  # (key, last area, its unit, parent step)
    for _depth in range(depth - 1):
        grown: dict[object, tuple[tuple[int, int], _Step]] = {}
        for i in frontier:
            b, out_b, level_b = steps[i].area, steps[i].link, steps[i].level
            for x in plan.members[b]:
                if x == out_b:
                    continue
                for u in nbrs[x]:
                    c = labels[u]
                    if c == b:
                        continue
                    closing = c == a0
                    if closing and i == 0:
                        continue
                    unit = u if pull else x
                    key_c: object = (c, unit) if per_unit else c
                    if not closing and (key_c in seen or (per_unit and _on_path(steps, i, c))):
                        continue
                    p = pop[unit]
                    b_after = level_b + p if pull else level_b - p
                    # Cheap tests first: can_leave searches the unit's whole area the first time.
                    if not plan.movable[unit] or (i != 0 and not lo <= b_after <= hi):
                        continue
                    if out_b >= 0 and not (plan.touches(unit, b, out_b) if pull else plan.touches(out_b, b, unit)):
                        continue
                    if not plan.can_leave(unit):
                        continue
                    first = steps[i].first
                    if closing:  # a0 gives (pull) / takes (push) this unit
                        if not (plan.touches(first, a0, unit) if pull else plan.touches(unit, a0, first)):
                            continue
                        a0_after = a0_pop + (pop[first] - p if pull else p - pop[first])
                        if plan.outside(a0_after) < start_out:
                            key = (plan.outside(a0_after), -min(a0_after - lo, hi - a0_after))
                            if best is None or key < best[0]:
                                best = (key, c, unit, i)
                        continue
                    c_after = plan.area_pop[c] - p if pull else plan.area_pop[c] + p
                    a0_out = plan.outside(b_after if i == 0 else _a0_after(plan, a0, first, pull))
                    c_out = plan.outside(c_after)
                    if a0_out < start_out and c_out <= plan.outside(plan.area_pop[c]):  # a path that ends here
                        key = (a0_out, c_out - min(c_after - lo, hi - c_after))
                        if best is None or key < best[0]:
                            best = (key, c, unit, i)
                    # Any area may pass the chain on, in band or not, and a0 may overshoot for now:
                    # a cycle closing on it later may bring it back.
                    rank = (c_out, -min(c_after - lo, hi - c_after))
                    if key_c not in grown or rank < grown[key_c][0]:
                        grown[key_c] = (rank, _Step(c, unit, i, c_after, unit if i == 0 else first))
        if best is not None or not grown:
            break
        frontier = []
        for key_c, (_rank, step) in grown.items():
            seen.add(key_c)
            frontier.append(len(steps))
            steps.append(step)
    if best is None:
        return None
    _, c, unit, i = best
    moves = [(unit, steps[i].area) if pull else (unit, c)]
    while i > 0:
        step = steps[i]
        moves.append((step.link, steps[step.parent].area) if pull else (step.link, step.area))
        i = step.parent
    return moves


def _a0_after(plan: _Plan, a0: int, first_unit: int, pull: bool) -> int:
    """Population of ``a0`` once it has taken (pull) / given (push) ``first_unit``."""
    p = plan.pop[first_unit]
    return plan.area_pop[a0] + p if pull else plan.area_pop[a0] - p


def unit_neighbours(problem: Problem) -> list[list[int]]:
    """The positions of the units adjacent to each unit, as plain lists (what the chains read)."""
    indptr, indices = problem.indptr.tolist(), problem.indices.tolist()
    return [indices[indptr[i] : indptr[i + 1]] for i in range(problem.n)]


def repair_by_chains(
    problem: Problem,
    labels: np.ndarray,
    max_chains: int | None = None,
    *,
    neighbours: list[list[int]] | None = None,
) -> np.ndarray:
    """``labels`` with areas brought into the band by chains of boundary moves, as far as chains
    can take them (the result may still have areas outside the band; never fewer inside).

    Parameters
    ----------
    problem
        The instance; its band is the target.
    labels
        A contiguous assignment, areas numbered ``0..k-1``.
    max_chains
        Chains applied at most (default: four per area).
    neighbours
        ``unit_neighbours(problem)``, from a caller that repairs many times (built here if not
        given).
    """
    plan = _Plan(problem, labels, unit_neighbours(problem) if neighbours is None else neighbours)
    limit = 4 * plan.k if max_chains is None else max_chains
    stuck: set[int] = set()
    for _ in range(limit):
        out = [(plan.outside(p), a) for a, p in enumerate(plan.area_pop) if a not in stuck and plan.outside(p) > 0]
        if not out:
            break
        _, a0 = max(out)
        pull = plan.area_pop[a0] < plan.lo
        moves = _find_chain(plan, a0, pull) or _find_chain(plan, a0, pull, per_unit=True, depth=PER_UNIT_CHAIN)
        if moves is None:
            stuck.add(a0)
            continue
        for unit, to in moves:  # the checks above hold for the plan after all of them
            plan.move(unit, to)
        stuck.clear()
    return np.asarray(plan.labels, dtype=np.int64)
