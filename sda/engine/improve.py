"""Improvement: local search that keeps every area contiguous and in band at every step.

Two moves, both priced as a difference of area costs (see ``sda.objective``):

- **unit moves**: a unit on an area's edge joins a neighbouring area, when its own area stays
  connected and both stay in band (connectivity is checked on the small area only);
- **recombination**: two neighbouring areas are merged and re-split along the best admissible
  cut of a few PCN-biased random spanning trees, all cuts of a tree priced at once with numpy.

Both are driven by simulated annealing (worse states accepted with a probability that falls
over the time budget), then polished greedily; the best state seen is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from sda.engine.trees import admissible_cuts, local_edges, random_tree
from sda.objective import AreaStats, area_costs, stats_of
from sda.problem import Problem

EPS = 1e-12


class Partition:
    """An assignment with per-area totals kept up to date incrementally."""

    def __init__(self, problem: Problem, labels: np.ndarray, target: float) -> None:
        self.problem = problem
        self.k = int(labels.max()) + 1
        self.target = target
        self.labels = labels.astype(np.int64).copy()
        stats = stats_of(problem, self.labels, self.k)
        self.pop = stats.pop.copy()
        self.pcn_pop = stats.pcn_pop.copy()
        self.district_pop = stats.district_pop.copy()
        self.ext = stats.ext_border_m.astype(float).copy()
        self.members: list[set[int]] = [set() for _ in range(self.k)]
        for i, a in enumerate(self.labels.tolist()):
            self.members[a].add(i)
        self.cost = area_costs(problem, self._stats(np.arange(self.k)), target, self.k)
        self.src = np.repeat(np.arange(problem.n), np.diff(problem.indptr))
        # 0 keeps the band hard; > 0 lets areas leave it at this price per resident outside it
        # (as a share of all residents), which lets annealing cross band edges.
        self.band_weight = 0.0

    def band_violation(self, pop: np.ndarray | int) -> np.ndarray:
        """Residents below the minimum or above the maximum, per area."""
        p = self.problem
        return np.maximum(p.min_pop - np.asarray(pop), 0) + np.maximum(np.asarray(pop) - p.max_pop, 0)

    @property
    def in_band(self) -> bool:
        """Every area within the band."""
        return bool((self.band_violation(self.pop) == 0).all())

    def _stats(self, areas: np.ndarray) -> AreaStats:
        return AreaStats(self.pop[areas], self.pcn_pop[areas], self.district_pop[areas], self.ext[areas])

    @property
    def total_cost(self) -> float:
        """The plan's objective."""
        return float(self.cost.sum())

    # ---- unit moves -------------------------------------------------------------------------
    def move_delta(self, u: int, b: int) -> float | None:
        """Cost change of moving unit ``u`` to area ``b``; None if the move breaks a rule."""
        p = self.problem
        a = int(self.labels[u])
        pu = int(p.pop[u])
        penalty = self._band_price(a, b, pu)
        if penalty is None:
            return None
        if p.together[u] >= 0 or p.lock[u] >= 0:
            return None  # grouped and locked units move only with their whole area (recombination)
        if len(p.apart_pairs) and not self._apart_allows(u, b):
            return None
        stats_a, stats_b = self._moved_stats(u, a, b)
        new = area_costs(p, stats_a, self.target, self.k)[0] + area_costs(p, stats_b, self.target, self.k)[0]
        return float(new - self.cost[a] - self.cost[b]) + penalty

    def _band_price(self, a: int, b: int, moved: int) -> float | None:
        """Price of moving ``moved`` residents from area ``a`` to ``b`` against the band: None if
        the band is hard and would break, else the soft-band penalty change (0 when in band)."""
        p = self.problem
        if self.band_weight == 0.0:
            if self.pop[a] - moved < p.min_pop or self.pop[b] + moved > p.max_pop:
                return None
            return 0.0
        before = self.band_violation(self.pop[[a, b]]).sum()
        after = self.band_violation(np.array([self.pop[a] - moved, self.pop[b] + moved])).sum()
        return self.band_weight * float(after - before) / max(p.total_pop, 1)

    def _apart_allows(self, u: int, b: int) -> bool:
        pairs = self.problem.apart_pairs
        for x, y in pairs[(pairs[:, 0] == u) | (pairs[:, 1] == u)].tolist():
            other = y if x == u else x
            if self.labels[other] == b:
                return False
        return True

    def _moved_stats(self, u: int, a: int, b: int) -> tuple[AreaStats, AreaStats]:
        p = self.problem
        pu = int(p.pop[u])
        lo, hi = p.indptr[u], p.indptr[u + 1]
        nb_labels = self.labels[p.indices[lo:hi]]
        border = p.border_m[lo:hi]
        # u leaves a: borders to a's members become cut, borders to others stop being a's.
        ext_a = self.ext[a] + border[nb_labels == a].sum() - border[nb_labels != a].sum()
        ext_b = self.ext[b] - border[nb_labels == b].sum() + border[nb_labels != b].sum()
        pcn_a, pcn_b = self.pcn_pop[a].copy(), self.pcn_pop[b].copy()
        if p.n_pcn and p.pcn[u] >= 0:
            pcn_a[p.pcn[u]] -= pu
            pcn_b[p.pcn[u]] += pu
        d_a, d_b = self.district_pop[a].copy(), self.district_pop[b].copy()
        d_a[p.district[u]] -= pu
        d_b[p.district[u]] += pu
        sa = AreaStats(np.array([self.pop[a] - pu]), pcn_a[None, :], d_a[None, :], np.array([ext_a]))
        sb = AreaStats(np.array([self.pop[b] + pu]), pcn_b[None, :], d_b[None, :], np.array([ext_b]))
        return sa, sb

    def stays_connected_without(self, u: int) -> bool:
        """Would ``u``'s area still be connected without ``u``?"""
        a = int(self.labels[u])
        members = self.members[a]
        if len(members) <= 1:
            return False
        p = self.problem
        nbrs = [int(w) for w in p.neighbours(u) if self.labels[w] == a]
        if not nbrs:
            return False
        seen = {nbrs[0]}
        stack = [nbrs[0]]
        need = set(nbrs)
        need.discard(nbrs[0])
        while stack and need:
            v = stack.pop()
            for w in p.indices[p.indptr[v] : p.indptr[v + 1]].tolist():
                if w != u and w not in seen and self.labels[w] == a:
                    seen.add(w)
                    need.discard(w)
                    stack.append(w)
        # u's neighbours in a all reachable from each other => a - u is connected.
        return not need

    def _store(self, area: int, stats: AreaStats) -> None:
        """Write one area's new totals (a one-row ``AreaStats``) back into the partition."""
        self.pop[area] = stats.pop[0]
        self.pcn_pop[area] = stats.pcn_pop[0]
        self.district_pop[area] = stats.district_pop[0]
        self.ext[area] = stats.ext_border_m[0]

    def apply_move(self, u: int, b: int) -> None:
        """Move unit ``u`` to area ``b`` and update every total."""
        a = int(self.labels[u])
        sa, sb = self._moved_stats(u, a, b)
        self._store(a, sa)
        self._store(b, sb)
        self.labels[u] = b
        self.members[a].discard(u)
        self.members[b].add(u)
        self.cost[[a, b]] = area_costs(self.problem, self._stats(np.array([a, b])), self.target, self.k)

    def move_sweep(self, rng: np.random.Generator) -> int:
        """Try every boundary unit once (random order); take each improving move. Returns moves made."""
        p = self.problem
        cut = self.labels[self.src] != self.labels[p.indices]
        boundary = np.unique(self.src[cut])
        moved = 0
        for u in rng.permutation(boundary).tolist():
            a = int(self.labels[u])
            targets = {int(self.labels[w]) for w in p.neighbours(u)} - {a}
            best, best_delta = -1, -EPS
            for b in targets:
                delta = self.move_delta(u, b)
                if delta is not None and delta < best_delta:
                    best, best_delta = b, delta
            if best >= 0 and self.stays_connected_without(u):
                self.apply_move(u, best)
                moved += 1
        return moved

    # ---- PCN-piece moves ----------------------------------------------------------------------
    def pcn_piece(self, u: int, limit: int = 40) -> np.ndarray:
        """The connected run of units in ``u``'s area that share ``u``'s PCN (at most ``limit``)."""
        p = self.problem
        a, pcn = self.labels[u], p.pcn[u]
        seen = {u}
        stack = [u]
        while stack and len(seen) < limit:
            v = stack.pop()
            for w in p.indices[p.indptr[v] : p.indptr[v + 1]].tolist():
                if w not in seen and self.labels[w] == a and p.pcn[w] == pcn:
                    seen.add(w)
                    stack.append(w)
        return np.fromiter(seen, dtype=np.int64)

    def piece_delta(self, piece: np.ndarray, b: int) -> float | None:
        """Cost change of moving the units ``piece`` (all in one area) to area ``b``; None if not allowed."""
        p = self.problem
        a = int(self.labels[piece[0]])
        if len(piece) >= len(self.members[a]):
            return None
        if (p.together[piece] >= 0).any() or (p.lock[piece] >= 0).any():
            return None
        moved = int(p.pop[piece].sum())
        penalty = self._band_price(a, b, moved)
        if penalty is None:
            return None
        if len(p.apart_pairs) and not all(self._apart_allows(int(u), b) for u in piece):
            return None
        sa, sb = self._piece_stats(piece, a, b)
        new = area_costs(p, sa, self.target, self.k)[0] + area_costs(p, sb, self.target, self.k)[0]
        return float(new - self.cost[a] - self.cost[b]) + penalty

    def _piece_stats(self, piece: np.ndarray, a: int, b: int) -> tuple[AreaStats, AreaStats]:
        p = self.problem
        in_piece = np.zeros(p.n, dtype=bool)
        in_piece[piece] = True
        ext_a, ext_b = self.ext[a], self.ext[b]
        for x in piece.tolist():
            lo, hi = p.indptr[x], p.indptr[x + 1]
            nb = p.indices[lo:hi]
            border = p.border_m[lo:hi]
            lab = self.labels[nb]
            outside_piece = ~in_piece[nb]
            # Piece leaves a: its borders to the rest of a become cut; its borders outside a stop being a's.
            ext_a += border[outside_piece & (lab == a)].sum() - border[lab != a].sum()
            # Piece joins b: borders to b stop being cut; borders to anything else but itself become b's.
            ext_b += -border[lab == b].sum() + border[outside_piece & (lab != b)].sum()
        moved = int(p.pop[piece].sum())
        pcn_a, pcn_b = self.pcn_pop[a].copy(), self.pcn_pop[b].copy()
        if p.n_pcn:
            has = piece[p.pcn[piece] >= 0]
            delta = np.bincount(p.pcn[has], weights=p.pop[has], minlength=p.n_pcn).astype(np.int64)
            pcn_a -= delta
            pcn_b += delta
        dd = np.bincount(p.district[piece], weights=p.pop[piece], minlength=len(p.district_codes)).astype(np.int64)
        d_a, d_b = self.district_pop[a] - dd, self.district_pop[b] + dd
        sa = AreaStats(np.array([self.pop[a] - moved]), pcn_a[None, :], d_a[None, :], np.array([ext_a]))
        sb = AreaStats(np.array([self.pop[b] + moved]), pcn_b[None, :], d_b[None, :], np.array([ext_b]))
        return sa, sb

    def stays_connected_without_piece(self, piece: np.ndarray) -> bool:
        """Would the piece's area still be connected without it?"""
        p = self.problem
        a = int(self.labels[piece[0]])
        drop = set(piece.tolist())
        rest = self.members[a] - drop
        if not rest:
            return False
        start = next(iter(rest))
        seen = {start}
        stack = [start]
        while stack:
            v = stack.pop()
            for w in p.indices[p.indptr[v] : p.indptr[v + 1]].tolist():
                if w not in seen and w in rest:
                    seen.add(w)
                    stack.append(w)
        return len(seen) == len(rest)

    def apply_piece_move(self, piece: np.ndarray, b: int) -> None:
        """Move every unit of ``piece`` to area ``b`` and update the totals."""
        a = int(self.labels[piece[0]])
        sa, sb = self._piece_stats(piece, a, b)
        self._store(a, sa)
        self._store(b, sb)
        self.labels[piece] = b
        moved = set(piece.tolist())
        self.members[a] -= moved
        self.members[b] |= moved
        self.cost[[a, b]] = area_costs(self.problem, self._stats(np.array([a, b])), self.target, self.k)

    # ---- recombination ----------------------------------------------------------------------
    def neighbour_pairs(self) -> np.ndarray:
        """Pairs of areas that touch, each once."""
        la, lb = self.labels[self.src], self.labels[self.problem.indices]
        cut = la < lb
        return np.unique(np.stack([la[cut], lb[cut]], axis=1), axis=0)

    def recombine(
        self, a: int, b: int, rng: np.random.Generator, trees: int, temperature: float = 0.0
    ) -> bool:
        """Merge areas ``a`` and ``b`` and re-split them the best way found; True if changed."""
        p = self.problem
        nodes = np.array(sorted(self.members[a] | self.members[b]), dtype=np.int64)
        edges = local_edges(self._adj, nodes)
        in_region = np.zeros(p.n, dtype=bool)
        in_region[nodes] = True
        # Border of each unit with units outside the pair: it stays "external" whatever the split.
        ext_unit = np.zeros(len(nodes))
        for j, u in enumerate(nodes.tolist()):
            lo, hi = p.indptr[u], p.indptr[u + 1]
            ext_unit[j] = p.border_m[lo:hi][~in_region[p.indices[lo:hi]]].sum()
        pop = p.pop[nodes]
        pcn_w = np.zeros((len(nodes), p.n_pcn), dtype=np.int64)
        if p.n_pcn:
            has = p.pcn[nodes] >= 0
            pcn_w[np.flatnonzero(has), p.pcn[nodes][has]] = pop[has]
        dist_w = np.zeros((len(nodes), len(p.district_codes)), dtype=np.int64)
        dist_w[np.arange(len(nodes)), p.district[nodes]] = pop
        rows, cols, entry = edges
        edge_border = p.border_m[entry]
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
            s1 = AreaStats(sub_pop, sub_pcn, sub_dist, sub_ext + cross)
            s2 = AreaStats(
                pop.sum() - sub_pop, pcn_w.sum(axis=0) - sub_pcn, dist_w.sum(axis=0) - sub_dist,
                ext_unit.sum() - sub_ext + cross,
            )
            costs = area_costs(p, s1, self.target, self.k) + area_costs(p, s2, self.target, self.k)
            if len(p.apart_pairs) or (p.lock[nodes] >= 0).any():
                costs = costs + self._apart_penalty(tree, child, nodes)
            j = int(np.argmin(costs))
            if costs[j] < best_cost:
                best_cost = float(costs[j])
                c = int(child[j])
                best_mask = np.zeros(len(nodes), dtype=bool)
                best_mask[tree.order[tree.pos[c] : tree.pos[c] + tree.size[c]]] = True
        if best_mask is None or not np.isfinite(best_cost):
            return False
        delta = best_cost - current
        if delta >= -EPS and (temperature <= 0 or rng.random() >= np.exp(-delta / temperature)):
            return False
        self._relabel(nodes, best_mask, a, b)
        return True

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
        self.members[a] = set(nodes[mask].tolist())
        self.members[b] = set(nodes[~mask].tolist())
        stats = stats_of(self.problem, self.labels, self.k)
        for area in (a, b):
            self.pop[area] = stats.pop[area]
            self.pcn_pop[area] = stats.pcn_pop[area]
            self.district_pop[area] = stats.district_pop[area]
        # External borders change for every area touching the pair; recompute them all (cheap).
        self.ext = stats.ext_border_m.astype(float)
        self.cost = area_costs(self.problem, self._stats(np.arange(self.k)), self.target, self.k)

    _surcharge = 1.0
    _adj = None  # set by improve()

    def recombine_sweep(self, rng: np.random.Generator, trees: int) -> int:
        """Try recombining every touching pair once (random order). Returns improvements made."""
        improved = 0
        pairs = self.neighbour_pairs()
        for j in rng.permutation(len(pairs)).tolist():
            a, b = (int(x) for x in pairs[j])
            if self.recombine(a, b, rng, trees):
                improved += 1
        return improved


def improve(
    problem: Problem,
    labels: np.ndarray,
    target: float,
    rng: np.random.Generator,
    *,
    deadline: float,
    trees: int = 8,
    recombine_share: float = 0.05,
    start_temperature: float = 0.004,
    end_temperature: float = 0.00002,
    band_weight: float = 1.0,
    piece_share: float = 0.2,
    steps: int = 0,
    on_progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, float]:
    """Improve a valid assignment until ``deadline`` (a ``time.monotonic()`` value), or for
    exactly ``steps`` annealing steps when ``steps > 0`` (then the result does not depend on the
    clock: same seed, same plan, on any machine; ``deadline`` is ignored).

    Simulated annealing over unit moves and recombinations (a share ``recombine_share`` of the
    steps), with a temperature falling geometrically from ``start_temperature`` to
    ``end_temperature`` (in objective units: 0.004 is 0.4% of residents' coterminosity) over the
    budget, then greedy sweeps to polish. Every state visited is valid; the best one is returned
    with its objective.
    """
    part = Partition(problem, labels, target)
    part._adj = problem.adjacency_matrix()
    best_labels, best_cost = part.labels.copy(), (part.total_cost if part.in_band else np.inf)
    start = time.monotonic()
    budget = max(deadline - start, 1e-6)
    polish_at = start + 0.85 * budget
    n_entries = len(problem.indices)
    step = 0
    temperature = start_temperature
    if steps > 0:
        deadline = polish_at = float("inf")

    def running() -> bool:
        return step < steps if steps > 0 else time.monotonic() < polish_at

    while n_entries and running():
        step += 1
        if step % 200 == 0:
            if steps > 0:
                progress = step / steps
            else:
                progress = min((time.monotonic() - start) / (polish_at - start), 1.0)
            temperature = start_temperature * (end_temperature / start_temperature) ** progress
            # The price of leaving the band rises until, late on, nothing outside it is worth it.
            part.band_weight = band_weight * (1.0 + 50.0 * progress**2) if band_weight else 0.0
            if on_progress and step % 5000 == 0:
                on_progress(best_cost)
        if rng.random() < recombine_share:
            pairs = part.neighbour_pairs()
            if len(pairs):
                a, b = (int(x) for x in pairs[rng.integers(len(pairs))])
                if part.recombine(a, b, rng, trees, temperature=temperature):
                    best_labels, best_cost = _keep_best(part, best_labels, best_cost)
            continue
        j = int(rng.integers(n_entries))
        u, w = int(part.src[j]), int(problem.indices[j])
        b = int(part.labels[w])
        if part.labels[u] == b:
            continue
        if problem.n_pcn and rng.random() < piece_share:
            piece = part.pcn_piece(u)
            if len(piece) > 1:
                delta = part.piece_delta(piece, b)
                if delta is None:
                    continue
                if (delta < 0 or rng.random() < np.exp(-delta / temperature)) and part.stays_connected_without_piece(piece):
                    part.apply_piece_move(piece, b)
                    if delta < 0:
                        best_labels, best_cost = _keep_best(part, best_labels, best_cost)
                continue
        delta = part.move_delta(u, b)
        if delta is None:
            continue
        if (delta < 0 or rng.random() < np.exp(-delta / temperature)) and part.stays_connected_without(u):
            part.apply_move(u, b)
            if delta < 0:
                best_labels, best_cost = _keep_best(part, best_labels, best_cost)
    # Polish the best state greedily.
    part = Partition(problem, best_labels, target)
    part._adj = problem.adjacency_matrix()
    while time.monotonic() < deadline:
        before = part.total_cost
        part.recombine_sweep(rng, trees)
        while part.move_sweep(rng) and time.monotonic() < deadline:
            pass
        if part.total_cost >= before - EPS:
            break
    if part.total_cost < best_cost - EPS:
        best_labels, best_cost = part.labels.copy(), part.total_cost
    if on_progress:
        on_progress(best_cost)
    return best_labels, best_cost


def _keep_best(part: Partition, best_labels: np.ndarray, best_cost: float) -> tuple[np.ndarray, float]:
    """The better of the stored best and the current state, counting only states in band."""
    if part.total_cost < best_cost - EPS and part.in_band:
        return part.labels.copy(), part.total_cost
    return best_labels, best_cost
