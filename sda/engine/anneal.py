"""The annealing inner loop, compiled: single-unit and PCN-piece moves at millions of steps a second.

Why compiled: the search touches boundary units millions of times, and each step is a handful
of scalar updates (a population here, a border length there). In Python with numpy each step
cost about a millisecond in small-array overheads; compiled with numba the same step costs
well under a microsecond, which is what reaching high PCN coterminosity needs.

The state is the assignment plus per-area totals kept up to date incrementally: population,
residents per PCN (and the largest of them), residents per district (and how many districts
are present), border shared with other areas, unit count, and each area's cost. A move is priced
as the change in the two areas' costs (``sda.objective`` defines the terms; ``_area_cost``
mirrors ``area_costs`` for one area) plus a soft-band penalty on residents outside the band,
whose price rises during the run so that the search may cross the band's edges early and
settles inside it late. Only states inside the band are ever recorded as best.

Contiguity is kept at every step: a unit may leave its area only when the area's units that
touched it are still connected without it (a search over that one area, not the whole graph).

Randomness comes from the caller's ``numpy.random.Generator`` (numba shares its state), so a
seed still gives one plan.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sda.objective import stats_of
from sda.problem import Problem

# Indices into the float parameter vector passed to the kernel (numba prefers flat arrays).
W_PCN, W_CUT, W_BAL, W_DIST, TOTAL_POP, TOTAL_BORDER, TARGET, K, MIN_POP, MAX_POP = range(10)
#: The largest PCN piece moved at once (a connected run of one PCN's units inside one area).
PIECE_LIMIT = 40


class AnnealState:
    """Arrays the kernel reads and updates in place, built from an assignment."""

    def __init__(self, problem: Problem, labels: np.ndarray, target: float) -> None:
        p = problem
        self.problem = problem
        self.k = int(labels.max()) + 1
        self.target = target
        w = p.weights
        self.params = np.array(
            [
                w.pcn if p.n_pcn else 0.0,
                w.cut_border,
                w.balance,
                w.district_splits,
                max(p.total_pop, 1),
                p.total_border_m,
                max(target, 1.0),
                self.k,
                p.min_pop,
                p.max_pop,
            ],
            dtype=np.float64,
        )
        self.upcn = p.pcn.astype(np.int64) if p.n_pcn else np.full(p.n, -1, np.int64)
        self.movable = ((p.together < 0) & (p.lock < 0)).astype(np.bool_)
        self.apart_ptr, self.apart_idx = _apart_csr(p)
        self.src = np.repeat(np.arange(p.n, dtype=np.int64), np.diff(p.indptr))
        self.stamp = np.zeros(p.n, dtype=np.int64)
        self.stack = np.zeros(p.n, dtype=np.int64)
        self.piece = np.zeros(PIECE_LIMIT, dtype=np.int64)
        self.tmp_dist = np.zeros(len(p.district_codes), dtype=np.int64)
        self.counter = np.zeros(1, dtype=np.int64)
        # [best cost (inf until a state in band is seen), 1.0 while the current state is the best]
        self.best = np.array([np.inf, 0.0])
        self.best_labels = np.asarray(labels, dtype=np.int64).copy()
        self.load(labels)
        if self.in_band:
            self.best[0] = self.total_cost

    def load(self, labels: np.ndarray) -> None:
        """Make ``labels`` the current state (recomputing every total); the best is kept."""
        p, k = self.problem, self.k
        self.keep_best()
        self.labels = np.ascontiguousarray(labels, dtype=np.int64).copy()
        stats = stats_of(p, self.labels, k)
        self.pop = stats.pop.astype(np.int64).copy()
        self.pcn_pop = np.zeros((k, max(p.n_pcn, 1)), dtype=np.int64)
        if p.n_pcn:
            self.pcn_pop[:] = stats.pcn_pop
        self.pcn_max = self.pcn_pop.max(axis=1).astype(np.int64)
        self.dist_pop = np.ascontiguousarray(stats.district_pop, dtype=np.int64)
        self.n_dist = (self.dist_pop > 0).sum(axis=1).astype(np.int64)
        self.ext = np.ascontiguousarray(stats.ext_border_m, dtype=np.float64)
        self.size = np.bincount(self.labels, minlength=k).astype(np.int64)
        self.cost = np.array(
            [_area_cost(self.params, self.pop[a], self.pcn_max[a], self.n_dist[a], self.ext[a]) for a in range(k)]
        )

    def keep_best(self) -> None:
        """Store the current state as the best if it is (before anything outside the kernel changes it)."""
        if self.best[1] > 0:
            self.best_labels[:] = self.labels
            self.best[1] = 0.0

    def offer(self, labels: np.ndarray, cost: float) -> None:
        """Record ``labels`` (in band, objective ``cost``) as the best if it beats it."""
        if cost < self.best[0] - 1e-12:
            self.keep_best()
            self.best_labels[:] = labels
            self.best[0] = cost

    @property
    def total_cost(self) -> float:
        """The current objective (band penalty excluded)."""
        return float(self.cost.sum())

    @property
    def in_band(self) -> bool:
        """Every area within the band."""
        return bool(((self.pop >= self.problem.min_pop) & (self.pop <= self.problem.max_pop)).all())

    def run(
        self,
        rng: np.random.Generator,
        steps: int,
        temperature: tuple[float, float],
        band_weight: tuple[float, float],
        piece_share: float,
    ) -> int:
        """Anneal for ``steps`` proposals, temperature and band price moving geometrically and
        linearly between the given (start, end) pairs. Returns moves accepted."""
        p = self.problem
        return int(
            _anneal(
                p.indptr,
                p.indices,
                p.border_m,
                self.src,
                p.pop,
                self.upcn,
                p.district,
                self.movable,
                self.apart_ptr,
                self.apart_idx,
                self.labels,
                self.pop,
                self.pcn_pop,
                self.pcn_max,
                self.dist_pop,
                self.n_dist,
                self.ext,
                self.cost,
                self.size,
                self.best_labels,
                self.best,
                self.params,
                float(temperature[0]),
                float(temperature[1]),
                float(band_weight[0]),
                float(band_weight[1]),
                int(steps),
                float(piece_share),
                rng,
                self.stamp,
                self.stack,
                self.piece,
                self.tmp_dist,
                self.counter,
            )
        )

    def best_assignment(self) -> tuple[np.ndarray, float]:
        """The best in-band assignment seen (the current one if none was) and its cost."""
        if self.best[1] > 0:
            return self.labels.copy(), float(self.best[0])
        if np.isfinite(self.best[0]):
            return self.best_labels.copy(), float(self.best[0])
        return self.labels.copy(), float("inf")


def warm_up(problem: Problem) -> None:
    """Compile the kernel now (numba compiles on first call, or loads its on-disk cache), so
    that the compile time is not taken out of a search's time budget."""
    state = AnnealState(problem, np.zeros(problem.n, dtype=np.int64), 1.0)
    state.run(np.random.default_rng(0), 1, (0.0, 0.0), (0.0, 0.0), 0.0)


def _apart_csr(p: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Keep-apart partners of each unit as a CSR pair (both directions)."""
    pairs = p.apart_pairs
    if len(pairs) == 0:
        return np.zeros(p.n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    a = np.concatenate([pairs[:, 0], pairs[:, 1]])
    b = np.concatenate([pairs[:, 1], pairs[:, 0]])
    order = np.argsort(a, kind="stable")
    ptr = np.zeros(p.n + 1, dtype=np.int64)
    np.add.at(ptr, a + 1, 1)
    return np.cumsum(ptr).astype(np.int64), b[order].astype(np.int64)


@njit(cache=True)
def _area_cost(params, pop, pcn_max, n_dist, ext):
    """One area's weighted cost; mirrors ``sda.objective.area_costs``."""
    k = params[K]
    cost = params[W_PCN] * (pop - pcn_max) / params[TOTAL_POP]
    cost += params[W_CUT] * ext / (2.0 * params[TOTAL_BORDER])
    cost += params[W_BAL] * abs(pop - params[TARGET]) / params[TARGET] / k
    if n_dist > 1:
        cost += params[W_DIST] / k
    return cost


@njit(cache=True)
def _outside(params, pop):
    """Residents outside the band for an area of ``pop`` residents."""
    if pop < params[MIN_POP]:
        return params[MIN_POP] - pop
    if pop > params[MAX_POP]:
        return pop - params[MAX_POP]
    return 0.0


@njit(cache=True)
def _row_max(pcn_pop, a):
    best = 0
    for c in range(pcn_pop.shape[1]):
        if pcn_pop[a, c] > best:
            best = pcn_pop[a, c]
    return best


@njit(cache=True)
def _connected_without(indptr, indices, labels, a, size_a, drop_stamp, stamp, stack, counter, start, n_drop):
    """Are the units of area ``a`` not stamped ``drop_stamp`` connected? Searches from ``start``."""
    counter[0] += 1
    mark = counter[0]
    stamp[start] = mark
    stack[0] = start
    top = 1
    reached = 1
    need = size_a - n_drop
    while top > 0 and reached < need:
        top -= 1
        v = stack[top]
        for j in range(indptr[v], indptr[v + 1]):
            w = indices[j]
            if labels[w] == a and stamp[w] != mark and stamp[w] != drop_stamp:
                stamp[w] = mark
                stack[top] = w
                top += 1
                reached += 1
    return reached >= need


@njit(cache=True)
def _anneal(
    indptr,
    indices,
    border,
    src,
    upop,
    upcn,
    udist,
    movable,
    apart_ptr,
    apart_idx,
    labels,
    pop,
    pcn_pop,
    pcn_max,
    dist_pop,
    n_dist,
    ext,
    cost,
    size,
    best_labels,
    best,
    params,
    t0,
    t1,
    bw0,
    bw1,
    steps,
    piece_share,
    rng,
    stamp,
    stack,
    piece,
    tmp_dist,
    counter,
):
    n_entries = len(indices)
    if n_entries == 0 or steps <= 0:
        return 0
    total_pop = params[TOTAL_POP]
    k = pop.shape[0]
    current = 0.0
    n_out = 0
    for a in range(k):
        current += cost[a]
        if _outside(params, pop[a]) > 0:
            n_out += 1
    accepted = 0
    temperature = t0
    band_weight = bw0
    ratio = t1 / t0 if t0 > 0 else 1.0
    for step in range(steps):
        if step % 256 == 0:
            f = step / steps
            temperature = t0 * ratio**f
            band_weight = bw0 + (bw1 - bw0) * f
        j = rng.integers(0, n_entries)
        u = src[j]
        b = labels[indices[j]]
        a = labels[u]
        if a == b or not movable[u]:
            continue
        # Keep-apart partners already in b forbid the move.
        blocked = False
        for q in range(apart_ptr[u], apart_ptr[u + 1]):
            if labels[apart_idx[q]] == b:
                blocked = True
        if blocked:
            continue
        # The moving set: u alone, or the connected run of u's PCN inside a.
        n_piece = 1
        piece[0] = u
        c = upcn[u]
        counter[0] += 1
        pmark = counter[0]
        stamp[u] = pmark
        if c >= 0 and rng.random() < piece_share:
            head = 0
            while head < n_piece and n_piece < piece.shape[0]:
                v = piece[head]
                head += 1
                for jj in range(indptr[v], indptr[v + 1]):
                    w = indices[jj]
                    if (
                        n_piece < piece.shape[0]
                        and stamp[w] != pmark
                        and labels[w] == a
                        and upcn[w] == c
                        and movable[w]
                    ):
                        ok = True
                        for q in range(apart_ptr[w], apart_ptr[w + 1]):
                            if labels[apart_idx[q]] == b:
                                ok = False
                        if ok:
                            stamp[w] = pmark
                            piece[n_piece] = w
                            n_piece += 1
        if n_piece >= size[a]:
            continue
        # Totals of the moving set.
        moved = 0
        moved_pcn = 0
        d_ext_a = 0.0
        d_ext_b = 0.0
        for t in range(n_piece):
            x = piece[t]
            moved += upop[x]
            if upcn[x] == c:
                moved_pcn += upop[x]
            tmp_dist[udist[x]] += upop[x]
            for jj in range(indptr[x], indptr[x + 1]):
                w = indices[jj]
                if stamp[w] == pmark:
                    continue  # inside the piece: stays internal
                lw = labels[w]
                if lw == a:
                    d_ext_a += border[jj]  # now cut between a and the piece (in b)
                else:
                    d_ext_a -= border[jj]  # no longer a's border
                if lw == b:
                    d_ext_b -= border[jj]  # becomes internal to b
                else:
                    d_ext_b += border[jj]  # now b's border
        new_pop_a = pop[a] - moved
        new_pop_b = pop[b] + moved
        # Band: hard when band_weight is 0, else priced.
        out_before = _outside(params, pop[a]) + _outside(params, pop[b])
        out_after = _outside(params, new_pop_a) + _outside(params, new_pop_b)
        if band_weight == 0.0 and out_after > 0:
            for t in range(n_piece):
                tmp_dist[udist[piece[t]]] = 0
            continue
        # PCN: the largest PCN share of a may drop; of b may rise.
        max_a = pcn_max[a]
        max_b = pcn_max[b]
        if c >= 0:
            if pcn_pop[a, c] == max_a:
                pcn_pop[a, c] -= moved_pcn
                max_a = _row_max(pcn_pop, a)
                pcn_pop[a, c] += moved_pcn
            if pcn_pop[b, c] + moved_pcn > max_b:
                max_b = pcn_pop[b, c] + moved_pcn
        nd_a = n_dist[a]
        nd_b = n_dist[b]
        for t in range(n_piece):
            d = udist[piece[t]]
            if tmp_dist[d] > 0:
                if dist_pop[a, d] == tmp_dist[d]:
                    nd_a -= 1
                if dist_pop[b, d] == 0:
                    nd_b += 1
                # count each district once: mark by negating until cleared below
                tmp_dist[d] = -tmp_dist[d]
        new_cost_a = _area_cost(params, new_pop_a, max_a, nd_a, ext[a] + d_ext_a)
        new_cost_b = _area_cost(params, new_pop_b, max_b, nd_b, ext[b] + d_ext_b)
        delta = new_cost_a + new_cost_b - cost[a] - cost[b]
        delta += band_weight * (out_after - out_before) / total_pop
        take = delta < 0.0 or (temperature > 0.0 and rng.random() < np.exp(-delta / temperature))
        if take:
            # Contiguity of a without the moving set, searched from a neighbour left in a.
            start = -1
            for t in range(n_piece):
                x = piece[t]
                for jj in range(indptr[x], indptr[x + 1]):
                    w = indices[jj]
                    if labels[w] == a and stamp[w] != pmark:
                        start = w
                        break
                if start >= 0:
                    break
            if start < 0:
                take = False
            else:
                take = _connected_without(
                    indptr, indices, labels, a, size[a], pmark, stamp, stack, counter, start, n_piece
                )
        if not take:
            for t in range(n_piece):
                tmp_dist[udist[piece[t]]] = 0
            continue
        # Record the best before leaving it (copy only when the state is about to get worse).
        new_current = current + new_cost_a + new_cost_b - cost[a] - cost[b]
        new_out = n_out - (1 if _outside(params, pop[a]) > 0 else 0) - (1 if _outside(params, pop[b]) > 0 else 0)
        new_out += (1 if _outside(params, new_pop_a) > 0 else 0) + (1 if _outside(params, new_pop_b) > 0 else 0)
        becomes_best = new_out == 0 and new_current < best[0] - 1e-12
        if best[1] > 0 and not becomes_best:
            best_labels[:] = labels
            best[1] = 0.0
        # Apply.
        for t in range(n_piece):
            x = piece[t]
            d = udist[x]
            if tmp_dist[d] != 0:
                amount = -tmp_dist[d]
                dist_pop[a, d] -= amount
                dist_pop[b, d] += amount
                tmp_dist[d] = 0
            labels[x] = b
        if c >= 0:
            pcn_pop[a, c] -= moved_pcn
            pcn_pop[b, c] += moved_pcn
        pcn_max[a] = max_a
        pcn_max[b] = max_b
        n_dist[a] = nd_a
        n_dist[b] = nd_b
        pop[a] = new_pop_a
        pop[b] = new_pop_b
        ext[a] += d_ext_a
        ext[b] += d_ext_b
        size[a] -= n_piece
        size[b] += n_piece
        cost[a] = new_cost_a
        cost[b] = new_cost_b
        current = new_current
        n_out = new_out
        accepted += 1
        if becomes_best:
            best[0] = new_current
            best[1] = 1.0
    return accepted
