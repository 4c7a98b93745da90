"""Construction: a first valid plan by recursive bisection of random spanning trees.

A connected set that must become ``k`` areas is cut along an admissible tree edge (see
``trees``) into two sets that must become ``k1`` and ``k - k1`` areas, and so on down to single
areas, which are in band by construction. Among the admissible cuts of a tree the engine prefers
those that split the fewest PCN residents, with a little randomness so that starts differ. When
a part cannot be split it draws a new tree for the part above it; the number of draws is bounded,
and running out is reported as "no plan found", not as infeasible.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np

from sda.engine.trees import (
    Cuts,
    Tree,
    _groups_whole,
    _locks_fit,
    admissible_cuts,
    apart_ok,
    local_edges,
    random_tree,
)
from sda.errors import InfeasibleError
from sda.metrics import components, connected_without, count_bounds
from sda.problem import Problem

__all__ = ["construct", "distribute_count", "shift_into_window", "split_set"]

#: Trees drawn for one set before giving up on it (its parent then draws again).
TREES_PER_SPLIT = 40

#: Room per area (people to the nearer end of the band) beyond which a cut counts as safe. Below
#: it, the engine only takes cuts that keep nearly the most room on offer, because room lost near
#: the top of the recursion cannot be won back lower down when the band is tight (28 areas here).
COMFORTABLE_ROOM = 2_000


class _Builder:
    """Recursive bisection of sets of units, with its tree budget, deadline and mode (see
    ``construct`` for the parameters)."""

    def __init__(
        self,
        problem: Problem,
        rng: np.random.Generator,
        pcn_surcharge: float,
        district_surcharge: float,
        greed: float,
        *,
        budget: int,
        deadline: float = float("inf"),
        tolerant_trees: int = 0,
    ) -> None:
        self.problem = problem
        self.rng = rng
        self.pcn_surcharge = pcn_surcharge
        self.district_surcharge = district_surcharge
        self.greed = greed
        #: Trees left to draw, a guard against long backtracking (the tolerant mode never backtracks).
        self.budget = budget
        self.deadline = deadline
        #: Trees drawn per set before settling for the nearest miss; 0 = exact (backtrack instead).
        self.tolerant_trees = tolerant_trees

    def split(self, nodes: np.ndarray, k: int) -> list[np.ndarray] | None:
        """``nodes`` split into ``k`` parts, each in band and connected; None if no split was found.

        Exact (``tolerant_trees == 0``): each fitting cut of up to ``TREES_PER_SPLIT`` trees is
        tried in turn until both its sides split (backtracking). Tolerant: only the best cut of up
        to ``tolerant_trees`` trees is tried (see ``_cuts``), so sides may miss the band a little.
        """
        if k == 1:
            return [nodes] if apart_ok(self.problem, nodes) else None
        for mask, k1 in self._cuts(nodes, k):
            left = self.split(nodes[mask], k1)
            if left is None and not self.tolerant_trees:
                continue
            # Tolerant, the other side is drawn even when this one failed (the split fails
            # either way), so that the random draws after it, and the plans of a seed, stay as
            # they were.
            right = self.split(nodes[~mask], k - k1)
            if left is None or right is None:
                continue
            return left + right
        return None

    def _cuts(self, nodes: np.ndarray, k: int) -> Iterator[tuple[np.ndarray, int]]:
        """The cuts of ``nodes`` to try, in turn: the side cut off (a mask) and its count of areas.

        Each tree offers its chosen fitting cut or, when it has none, its nearest miss shifted
        towards its window. Exact, a tree's cut is offered when it fits. Tolerant, only one cut
        is offered: the first that fits within ``tolerant_trees`` trees, else the first of those
        that missed by fewest residents (its sides miss the band a little, for
        ``sda.engine.repair`` to mend). Nothing is offered once the deadline has passed (or, exact, the budget is
        spent), or when ``nodes`` are not connected.
        """
        tolerant = self.tolerant_trees > 0
        edges = local_edges(self.problem, nodes)
        neighbours: list[list[int]] | None = None  # built the first time a tree has no fitting cut
        best: tuple[int, np.ndarray, int] | None = None  # tolerant: (residents missed, side, its count)
        for _ in range(self.tolerant_trees if tolerant else TREES_PER_SPLIT):
            if time.monotonic() > self.deadline or (self.budget <= 0 and not tolerant):
                return
            self.budget -= 1
            tree = random_tree(self.problem, nodes, edges, self.rng, self.pcn_surcharge, self.district_surcharge)
            if tree is None:
                return
            cuts = admissible_cuts(self.problem, tree, k)
            if len(cuts.child):
                pick = self._choose(tree, cuts, k)
                mask, k1 = tree.subtree_mask(int(cuts.child[pick])), int(cuts.k_sub[pick])
                if not tolerant:
                    yield mask, k1
                    continue
                best = (0, mask, k1)
                break
            # No tree edge lands in the window: take the nearest miss and shift units across.
            near = self._nearest_miss(tree, k)
            if near is None:
                continue
            _, c, k1 = near
            mask = tree.subtree_mask(c)
            if neighbours is None:
                neighbours = _local_neighbours(len(nodes), edges)
            fits = self._shift_towards(tree, mask, k1, k, neighbours)
            if not tolerant:
                if fits:
                    yield mask, k1
                continue
            miss = 0 if fits else self._side_miss(nodes, mask, k1, k)
            if best is None or miss < best[0]:
                best = (miss, mask, k1)
            if fits:
                break
        if best is not None:
            yield best[1], best[2]

    def _side_miss(self, nodes: np.ndarray, mask: np.ndarray, k1: int, k: int) -> int:
        """Residents by which the side ``mask`` of ``nodes`` (``k1`` of ``k`` areas) misses its window."""
        pop = self.problem.pop[nodes]
        side, total = int(pop[mask].sum()), int(pop.sum())
        lo, hi = (int(v[0]) for v in _window(total, np.array([k1]), k, self.problem, tolerant=True))
        return max(lo - side, side - hi, 0)

    def _nearest_miss(self, tree: Tree, k: int) -> tuple[int, int, int] | None:
        """The cut whose subtree misses its window by least: (residents missed, local node
        cut off, its count of areas); None if no cut keeps groups whole and locks apart."""
        problem = self.problem
        nodes = tree.nodes
        pop = problem.pop[nodes]
        total = int(pop.sum())
        sub = tree.subtree_sums(pop)
        k1 = np.clip(np.rint(k * sub / max(total, 1)).astype(np.int64), 1, k - 1)
        lo, hi = _window(total, k1, k, problem, self.tolerant_trees > 0)
        miss = np.where(lo <= hi, np.maximum(np.maximum(lo - sub, sub - hi), 0), np.iinfo(np.int64).max)
        miss[tree.order[0]] = np.iinfo(np.int64).max
        # The cut itself must keep groups whole and locks apart; the shift moves only free units.
        rules_ok = _groups_whole(problem, tree, nodes) & _locks_fit(problem, tree, nodes, k1, k)
        miss[~rules_ok] = np.iinfo(np.int64).max
        c = int(np.argmin(miss + self.rng.random(len(miss))))
        if miss[c] == np.iinfo(np.int64).max:
            return None
        return int(miss[c]), c, int(k1[c])

    def _shift_towards(self, tree: Tree, mask: np.ndarray, kc: int, k: int, neighbours: list[list[int]]) -> bool:
        """Move units across the cut ``mask`` (in place) until its side fits the middle half
        of its window; whether it got there."""
        problem = self.problem
        pop = problem.pop[tree.nodes]
        total = int(pop.sum())
        lo_c, hi_c = (int(v[0]) for v in _window(total, np.array([kc]), k, problem, self.tolerant_trees > 0))
        # Aim at the middle half of the window around the proportional share, so that both
        # sides keep their fair part of the room for the splits below them.
        share = total * kc / k
        quarter = (hi_c - lo_c) / 4
        aim_lo, aim_hi = max(lo_c, int(share - quarter)), min(hi_c, int(share + quarter))
        if aim_lo > aim_hi:
            aim_lo, aim_hi = lo_c, hi_c
        movable = (problem.together[tree.nodes] < 0) & (problem.lock[tree.nodes] < 0)
        return shift_into_window(mask, pop, aim_lo, aim_hi, neighbours, movable)

    def _choose(self, tree: Tree, cuts: Cuts, k: int) -> int:
        """Index of the cut to take.

        Feasibility first: keep the cuts whose tighter side has comfortable room per area
        (distance from its population to the nearer end of its band, divided by its number of
        areas), or nearly the most room on offer, because a side packed against its band edge
        rarely splits further.
        Among those, prefer cuts that split few PCN residents, with some randomness.
        """
        problem = self.problem
        child = cuts.child
        total = int(problem.pop[tree.nodes].sum())
        room = np.minimum(
            _room(cuts.sub_pop, cuts.k_sub, problem), _room(total - cuts.sub_pop, k - cuts.k_sub, problem)
        )
        keep = np.flatnonzero(room >= min(0.9 * room.max(), COMFORTABLE_ROOM))
        if problem.n_pcn == 0 or self.greed <= 0:
            return int(keep[self.rng.integers(len(keep))])
        nodes = tree.nodes
        pcn = problem.pcn[nodes]
        has = pcn >= 0
        # Residents per PCN present here (not per PCN of the whole problem: 10,000 units may
        # have 400 PCNs, while any one set of units holds only its own few).
        present, local = np.unique(pcn[has], return_inverse=True)
        weights = np.zeros((len(nodes), len(present)), dtype=np.int64)
        weights[np.flatnonzero(has), local] = problem.pop[nodes][has]
        inside = tree.subtree_sums(weights, at=child[keep])
        whole = weights.sum(axis=0)[None, :]
        split_residents = np.minimum(inside, whole - inside).sum(axis=1).astype(float)
        noise = self.rng.random(len(keep)) * problem.total_pop * 0.002 / self.greed
        return int(keep[np.argmin(split_residents + noise)])


def _window(
    total: int, k1: np.ndarray, k: int, problem: Problem, tolerant: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Populations a side with ``k1`` of the ``k`` areas may have so that both sides fit the band.

    Where no population does (the set itself misses its band), ``tolerant`` gives the range
    between the two sides' needs instead, where each side misses by as little as the other allows.
    """
    lo = np.maximum(k1 * problem.min_pop, total - (k - k1) * problem.max_pop)
    hi = np.minimum(k1 * problem.max_pop, total - (k - k1) * problem.min_pop)
    if tolerant:
        return np.minimum(lo, hi), np.maximum(lo, hi)
    return lo, hi


def _local_neighbours(s: int, edges: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[list[int]]:
    rows, cols, _ = edges
    out: list[list[int]] = [[] for _ in range(s)]
    for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
        out[a].append(b)
        out[b].append(a)
    return out


def shift_into_window(
    mask: np.ndarray,
    pop: np.ndarray,
    lo: int,
    hi: int,
    neighbours: list[list[int]],
    movable: np.ndarray,
    max_steps: int = 200,
) -> bool:
    """Move units one at a time between the two sides of ``mask`` (in place) until the
    population of the ``True`` side is within ``[lo, hi]``, keeping both sides connected.

    Each step makes the move that leaves the side nearest the window (ties: nearest its middle),
    and only moves that bring it strictly nearer are taken, so the loop always ends. Returns
    False when no such move remains.
    """
    inside = set(np.flatnonzero(mask).tolist())
    outside = set(np.flatnonzero(~mask).tolist())
    current = int(pop[mask].sum())
    mid = (lo + hi) / 2

    def miss(x: float) -> float:
        return max(lo - x, x - hi, 0)

    for _ in range(max_steps):
        if lo <= current <= hi:
            return True
        grow = current < lo
        donor, taker = (outside, inside) if grow else (inside, outside)
        best, best_key = -1, (miss(current), 0.0)
        for v in donor:
            if not movable[v] or not any(w in taker for w in neighbours[v]):
                continue
            after = current + pop[v] if grow else current - pop[v]
            key = (miss(after), abs(after - mid))
            if key < best_key and connected_without(donor, v, neighbours):
                best, best_key = v, key
        if best < 0:
            return False
        donor.discard(best)
        taker.add(best)
        mask[best] = grow
        current += int(pop[best]) if grow else -int(pop[best])
    return lo <= current <= hi


def _room(pop: np.ndarray, k: np.ndarray, problem: Problem) -> np.ndarray:
    """Per-area distance from ``pop`` to the nearer end of ``[k*min, k*max]``."""
    return np.minimum(pop - k * problem.min_pop, k * problem.max_pop - pop) / np.maximum(k, 1)


def distribute_count(
    problem: Problem, component_pops: list[int], k: int, component_units: list[int] | None = None
) -> list[int]:
    """Split ``k`` areas among disconnected parts so each part's count fits its population
    (and, given ``component_units``, no part has more areas than units).

    Raises
    ------
    InfeasibleError
        If no distribution exists (a part too small for one area, or the counts cannot add to k).
    """
    lo_each, hi_each = count_bounds(np.array(component_pops, dtype=np.int64), problem.min_pop, problem.max_pop)
    if component_units is not None:
        hi_each = np.minimum(hi_each, np.array(component_units, dtype=np.int64))
    lo, hi = lo_each.tolist(), hi_each.tolist()
    if sum(lo) > k or sum(hi) < k or any(a > b for a, b in zip(lo, hi, strict=True)):
        msg = (
            f"{k} areas cannot be shared among {len(component_pops)} separate parts of the graph "
            f"(populations {', '.join(f'{p:,}' for p in component_pops)}) within "
            f"[{problem.min_pop:,}, {problem.max_pop:,}]: the parts allow between {sum(lo)} and {sum(hi)} areas."
        )
        raise InfeasibleError(msg)
    counts = list(lo)
    while sum(counts) < k:
        # Give the next area to the part whose areas are currently the most crowded.
        load = [p / c if c < h else -1.0 for p, c, h in zip(component_pops, counts, hi, strict=True)]
        counts[int(np.argmax(load))] += 1
    return counts


def construct(
    problem: Problem,
    k: int,
    rng: np.random.Generator,
    *,
    pcn_surcharge: float = 1.0,
    district_surcharge: float = 0.0,
    greed: float = 1.0,
    attempts: int = 20,
    max_trees: int = 20_000,
    deadline: float = float("inf"),
    on_attempt: Callable[[int], None] | None = None,
    tolerant_trees: int = 0,
) -> np.ndarray | None:
    """A valid assignment into exactly ``k`` areas (labels ``0..k-1``), or None if none was found.

    Parameters
    ----------
    problem
        The instance.
    k
        Number of areas.
    rng
        The only source of randomness.
    pcn_surcharge, district_surcharge
        Extra tree weight on edges crossing a PCN / district boundary (0 = plain random trees).
    greed
        How strongly cuts that split few PCN residents are preferred (0 = uniformly random cut).
    attempts
        Whole-plan restarts before giving up.
    max_trees
        Spanning trees drawn per attempt at most (bounds the time spent backtracking).
    deadline
        ``time.monotonic()`` value after which it gives up (returns None).
    tolerant_trees
        When > 0, never backtrack: each set draws up to this many trees for a cut that fits and
        otherwise takes the nearest miss, so the plan is contiguous with ``k`` areas but some may
        miss the band by a little (for ``sda.engine.repair.repair_directed``).
    """
    parts = components(problem.indptr, problem.indices)
    counts = distribute_count(problem, [int(problem.pop[p].sum()) for p in parts], k, [len(p) for p in parts])
    for attempt in range(attempts):
        if on_attempt:
            on_attempt(attempt)
        builder = _Builder(
            problem,
            rng,
            pcn_surcharge,
            district_surcharge,
            greed,
            budget=max_trees,
            deadline=deadline,
            tolerant_trees=tolerant_trees,
        )
        if time.monotonic() > deadline:
            return None
        areas: list[np.ndarray] = []
        for nodes, kc in zip(parts, counts, strict=True):
            got = builder.split(nodes, kc)
            if got is None:
                break
            areas.extend(got)
        else:
            labels = np.empty(problem.n, dtype=np.int64)
            for a, members in enumerate(areas):
                labels[members] = a
            return labels
    return None


def split_set(
    problem: Problem,
    nodes: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    max_trees: int,
    pcn_surcharge: float = 1.0,
    district_surcharge: float = 0.0,
    greed: float = 1.0,
) -> tuple[list[np.ndarray] | None, int]:
    """``nodes`` (a connected set of unit positions) split into ``k`` connected parts, each in
    band and keeping the rules, by the bisection ``construct`` uses (with backtracking): the
    parts (None when none was found within ``max_trees`` spanning trees) and the trees drawn.
    The other parameters are as for ``construct``."""
    builder = _Builder(problem, rng, pcn_surcharge, district_surcharge, greed, budget=max_trees)
    parts = builder.split(nodes, k)
    return parts, max_trees - builder.budget
