"""Recombination: merge two neighbouring areas and re-split them along the best admissible cut.

This is the search's large move. Unit and piece moves (``sda.engine.anneal``) reshape areas a
few units at a time; a recombination redraws the boundary between two areas in one go, which
lets the search leave shapes that no sequence of small valid moves can. The merged pair is split
along the best admissible cut of a few PCN-biased random spanning trees, all cuts of a tree
priced at once with numpy (see ``sda.engine.trees`` and ``sda.objective``), so both new areas
are connected, in band and keep every rule.
"""

from __future__ import annotations

import time

import numpy as np

from sda.engine.trees import admissible_cuts, local_edges, random_tree
from sda.metrics import area_pairs, in_band
from sda.objective import AreaStats, area_costs, stats_of
from sda.problem import Problem

EPS = 1e-12


class Partition:
    """An assignment with per-area totals, able to recombine pairs of its areas."""

    def __init__(self, problem: Problem, labels: np.ndarray, target: float, stats: AreaStats | None = None) -> None:
        """``stats``: the assignment's area totals when the caller has them (the annealing state
        keeps them current), so that they are not counted again."""
        self.problem = problem
        self.k = int(labels.max()) + 1
        self.target = target
        self.labels = labels.astype(np.int64).copy()
        stats = stats or stats_of(problem, self.labels, self.k)
        self.pop = stats.pop.astype(np.int64).copy()
        self.pcn_pop = stats.pcn_pop.astype(np.int64).copy()
        self.district_pop = stats.district_pop.astype(np.int64).copy()
        self.ext = stats.ext_cut.astype(float).copy()
        self.moved = stats.moved_pop.astype(np.int64).copy()
        self.cost = area_costs(problem, self._stats(np.arange(self.k)), target, self.k)

    @property
    def in_band(self) -> bool:
        """Every area within the band."""
        p = self.problem
        within_cap = not p.has_previous or self.moved.sum() <= p.max_moved_share * p.total_pop + 1e-9
        return bool(in_band(self.pop, p.min_pop, p.max_pop).all()) and within_cap

    def _stats(self, areas: np.ndarray) -> AreaStats:
        return AreaStats(
            self.pop[areas], self.pcn_pop[areas], self.district_pop[areas], self.ext[areas], self.moved[areas]
        )

    def stats(self) -> AreaStats:
        """The current area totals (for handing the assignment back to the annealing state)."""
        return self._stats(np.arange(self.k))

    @property
    def total_cost(self) -> float:
        """The plan's objective."""
        return float(self.cost.sum())

    # ---- recombination ----------------------------------------------------------------------
    def neighbour_pairs(self) -> np.ndarray:
        """Pairs of areas that touch, each once."""
        return area_pairs(self.problem.indptr, self.problem.indices, self.labels)

    def recombine(self, a: int, b: int, rng: np.random.Generator, trees: int, temperature: float = 0.0) -> bool:
        """Merge areas ``a`` and ``b`` and re-split them the best way found; True if changed."""
        p = self.problem
        nodes = np.flatnonzero((self.labels == a) | (self.labels == b))
        edges = local_edges(p, nodes)
        in_region = np.zeros(p.n, dtype=bool)
        in_region[nodes] = True
        # Cut weight of each unit towards units outside the pair: it stays "external" whatever the split.
        ext_unit = np.zeros(len(nodes))
        for j, u in enumerate(nodes.tolist()):
            lo, hi = p.indptr[u], p.indptr[u + 1]
            ext_unit[j] = p.cut_weight[lo:hi][~in_region[p.indices[lo:hi]]].sum()
        pop = p.pop[nodes]
        pcn_w = np.zeros((len(nodes), p.n_pcn), dtype=np.int64)
        if p.n_pcn:
            has = p.pcn[nodes] >= 0
            pcn_w[np.flatnonzero(has), p.pcn[nodes][has]] = pop[has]
        dist_w = np.zeros((len(nodes), len(p.district_codes)), dtype=np.int64)
        dist_w[np.arange(len(nodes)), p.district[nodes]] = pop
        rows, cols, entry = edges
        edge_border = p.cut_weight[entry]
        # Residents who count as moved if their side becomes area a (or b): a previous area
        # other than that one. Both orientations of each cut are priced.
        prev = p.previous[nodes]
        moved_if_a = np.where((prev >= 0) & (prev != a), pop, 0)
        moved_if_b = np.where((prev >= 0) & (prev != b), pop, 0)
        side_a = self._held_side(nodes, a, b)
        cap_left = p.max_moved_share * p.total_pop - (self.moved.sum() - self.moved[a] - self.moved[b])
        current = self.cost[a] + self.cost[b]
        best_cost, best_mask = np.inf, None
        for _ in range(trees):
            tree = random_tree(p, nodes, edges, rng, pcn_surcharge=self._surcharge)
            if tree is None:
                return False
            cuts = admissible_cuts(p, tree, 2)
            if len(cuts.child) == 0:
                continue
            child = cuts.child
            inside_rows = tree.in_subtree(child, rows)
            inside_cols = tree.in_subtree(child, cols)
            cross = ((inside_rows != inside_cols) * edge_border[None, :]).sum(axis=1)
            sub_pop = tree.subtree_sums(pop)[child]
            sub_pcn = tree.subtree_sums(pcn_w)[child]
            sub_dist = tree.subtree_sums(dist_w)[child]
            sub_ext = tree.subtree_sums(ext_unit)[child]
            sub_mv_a = tree.subtree_sums(moved_if_a)[child]
            sub_mv_b = tree.subtree_sums(moved_if_b)[child]
            rest = (pop.sum() - sub_pop, pcn_w.sum(axis=0) - sub_pcn, dist_w.sum(axis=0) - sub_dist)
            rest_ext = ext_unit.sum() - sub_ext + cross
            # Orientation 0: the subtree becomes a; orientation 1: it becomes b.
            both = []
            orientations = [(sub_mv_a, moved_if_b.sum() - sub_mv_b), (sub_mv_b, moved_if_a.sum() - sub_mv_a)]
            # Without a previous plan or frozen units the two orientations cost the same.
            for sub_mv, rest_mv in orientations[: 2 if p.has_previous or side_a is not None else 1]:
                s1 = AreaStats(sub_pop, sub_pcn, sub_dist, sub_ext + cross, sub_mv)
                s2 = AreaStats(*rest, rest_ext, rest_mv)
                costs = area_costs(p, s1, self.target, self.k) + area_costs(p, s2, self.target, self.k)
                if p.has_previous:
                    costs = np.where(sub_mv + rest_mv > cap_left + 1e-9, np.inf, costs)
                both.append(costs)
            if side_a is not None:
                # Frozen units keep their area: the orientation is forced by them.
                held_in = tree.in_subtree(child, side_a[0])
                held_out = tree.in_subtree(child, side_a[1])
                sub_is_a = held_in.all(axis=1) & ~held_out.any(axis=1)
                sub_is_b = ~held_in.any(axis=1) & held_out.all(axis=1)
                if len(both) == 1:
                    both.append(both[0])
                both[0] = np.where(sub_is_a, both[0], np.inf)
                both[1] = np.where(sub_is_b, both[1], np.inf)
            if len(p.apart_pairs) or (p.lock[nodes] >= 0).any():
                penalty = self._apart_penalty(tree, child, nodes)
                both = [costs + penalty for costs in both]
            for flip, costs in enumerate(both):
                j = int(np.argmin(costs))
                if costs[j] < best_cost:
                    best_cost = float(costs[j])
                    best_mask = tree.subtree_mask(int(child[j]))
                    if flip:
                        best_mask = ~best_mask
        if best_mask is None or not np.isfinite(best_cost):
            return False
        delta = best_cost - current
        if delta >= -EPS and (temperature <= 0 or rng.random() >= np.exp(-delta / temperature)):
            return False
        self._relabel(nodes, best_mask, a, b)
        return True

    def _held_side(self, nodes: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Local indices of the frozen units now in ``a`` and in ``b`` (None when there are none)."""
        held = self.problem.frozen[nodes]
        if not held.any():
            return None
        here = self.labels[nodes]
        return np.flatnonzero(held & (here == a)), np.flatnonzero(held & (here == b))

    def _apart_penalty(self, tree: object, child: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """+inf for cuts that leave a keep-apart pair, or two locks, on one side."""
        p = self.problem
        penalty = np.zeros(len(child))
        local = {int(u): j for j, u in enumerate(nodes.tolist())}
        pairs = [(local[x], local[y]) for x, y in p.apart_pairs.tolist() if x in local and y in local]
        locked = [j for j, u in enumerate(nodes.tolist()) if p.lock[u] >= 0]
        for j1 in locked:
            for j2 in locked:
                if j1 < j2 and p.lock[nodes[j1]] != p.lock[nodes[j2]]:
                    pairs.append((j1, j2))
        if not pairs:
            return penalty
        xs = np.array([x for x, _ in pairs])
        ys = np.array([y for _, y in pairs])
        same = tree.in_subtree(child, xs) == tree.in_subtree(child, ys)  # type: ignore[attr-defined]
        penalty[same.any(axis=1)] = np.inf
        return penalty

    def _relabel(self, nodes: np.ndarray, mask: np.ndarray, a: int, b: int) -> None:
        self.labels[nodes[mask]] = a
        self.labels[nodes[~mask]] = b
        stats = stats_of(self.problem, self.labels, self.k)
        for area in (a, b):
            self.pop[area] = stats.pop[area]
            self.pcn_pop[area] = stats.pcn_pop[area]
            self.district_pop[area] = stats.district_pop[area]
            self.moved[area] = stats.moved_pop[area]
        # External borders change for every area touching the pair; recompute them all (cheap).
        self.ext = stats.ext_cut.astype(float)
        self.cost = area_costs(self.problem, self._stats(np.arange(self.k)), self.target, self.k)

    _surcharge = 1.0  # PCN-boundary weight surcharge of the random trees

    def recombine_sweep(self, rng: np.random.Generator, trees: int, deadline: float | None = None) -> int:
        """Try recombining every touching pair once (random order), stopping at ``deadline`` (a
        ``time.monotonic()`` value) if given. Returns improvements made."""
        improved = 0
        pairs = self.neighbour_pairs()
        for j in rng.permutation(len(pairs)).tolist():
            if deadline is not None and time.monotonic() >= deadline:
                break
            a, b = (int(x) for x in pairs[j])
            if self.recombine(a, b, rng, trees):
                improved += 1
        return improved
