"""The annealing inner loop, compiled: single-unit and PCN-piece moves at millions of steps a second.

Why compiled: the search touches boundary units millions of times, and each step is a handful
of scalar updates (a population here, a border length there). In Python with numpy each step
cost about a millisecond in small-array overheads; compiled with numba the same step costs
well under a microsecond, which is what reaching high PCN coterminosity needs.

The state is the assignment plus per-area totals kept up to date incrementally: population,
residents per PCN (and the largest of them), residents per district (and how many districts
are present), border shared with other areas, residents moved from a previous plan, unit count,
and each area's cost. A move is priced as the change in the two areas' costs (computed by
``sda.objective.area_cost``, the same compiled function that prices recombinations) plus a
soft-band penalty on residents outside the band,
whose price rises during the run so that the search may cross the band's edges early and
settles inside it late. Only states inside the band are ever recorded as best.

The state travels in named tuples (``Graph``, ``Units``, ``Areas``, ``Best``, ``Scratch``,
``Pricing``, ``Run``), as pynndescent passes its heaps and trees: ``_anneal`` takes eight named
arguments instead of 34 positional ones and unpacks them once. Measured choices
(``bench/kernel_speed.py``): a compiled function takes a reference on every array it is given
(two atomic operations per array per call) and numba removes them only from simple bodies, so
(a) the weights, constants and limits are tuples of floats, passed by value, and ``area_cost``
inlines into the loop with no counting; (b) gathering the piece, its totals and the PCN maxima
are written out in the loop (a helper for the maxima cost 6%); (c) the helpers that stay
compile without counting (``_outside``, ``_blocked``, ``_district_counts``,
``_clear_districts``, ``_start_left_in``, ``_connected_without``). Passing the tuples of arrays
into helpers, or numba's ``inline="always"``, made the loop up to twice as slow. The kernel
sees only the rules' building blocks: a movable mask (frozen, locked and grouped units stay),
keep-apart partners, and the cap on residents moved.

Contiguity is kept at every step: a unit may leave its area only when the area's units that
touched it are still connected without it (a search over that one area, not the whole graph).

Randomness comes from the caller's ``numpy.random.Generator`` (numba shares its state), so a
seed still gives one plan.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from sda.metrics import edge_sources, in_band
from sda.objective import AreaStats, area_cost, constants, stats_of, weight_vector
from sda.problem import Problem

#: The largest PCN piece moved at once (a connected run of one PCN's units inside one area).
PIECE_LIMIT = 40
# Indices into ``Pricing.limits``.
MIN_POP, MAX_POP, MAX_MOVED = range(3)


class Graph(NamedTuple):
    """The CSR adjacency: entry ``j`` links ``src[j]`` to ``indices[j]``, and adds ``cut[j]`` to the
    cut term when it separates two areas (``Problem.cut_weight``: metres of border, or 1)."""

    indptr: np.ndarray
    indices: np.ndarray
    cut: np.ndarray
    src: np.ndarray


class Units(NamedTuple):
    """Per-unit facts and the rules' building blocks (read only)."""

    pop: np.ndarray
    pcn: np.ndarray  # -1 where none (or PCN alignment off)
    district: np.ndarray
    movable: np.ndarray  # False for frozen, locked and grouped units
    apart_ptr: np.ndarray  # keep-apart partners of unit i: apart_idx[apart_ptr[i]:apart_ptr[i+1]]
    apart_idx: np.ndarray
    previous: np.ndarray  # area in the previous plan, -1 where none


class Areas(NamedTuple):
    """The current assignment and its per-area totals (updated in place)."""

    labels: np.ndarray
    pop: np.ndarray
    pcn_pop: np.ndarray  # (k, n_pcn)
    pcn_max: np.ndarray
    dist_pop: np.ndarray  # (k, n_district)
    n_dist: np.ndarray
    ext: np.ndarray  # cut weight of the links to other areas (metres of border, or links)
    size: np.ndarray  # units
    moved: np.ndarray  # residents whose previous area is another one
    cost: np.ndarray


class Best(NamedTuple):
    """The best state in band seen: ``value[0]`` its cost (inf until one is seen), ``value[1]``
    1.0 while it is the current state (its labels are then copied only when the state leaves it)."""

    labels: np.ndarray
    value: np.ndarray


class Scratch(NamedTuple):
    """Work arrays reused by every step (stamps mark visited units without clearing)."""

    stamp: np.ndarray
    stack: np.ndarray
    piece: np.ndarray
    tmp_dist: np.ndarray
    counter: np.ndarray


class Pricing(NamedTuple):
    """The objective's weights and constants (``sda.objective``) and the hard limits, as tuples
    of floats: passed by value, so the compiled helpers that read them need no reference counts
    (arrays there cost two atomic operations per array per call)."""

    weights: tuple[float, ...]
    constants: tuple[float, ...]
    limits: tuple[float, ...]  # (min_pop, max_pop, max residents moved)


class Run(NamedTuple):
    """One call's schedule: temperature and band price move from start to end."""

    t0: float
    t1: float
    bw0: float
    bw1: float
    steps: int
    piece_share: float


class AnnealState:
    """Arrays the kernel reads and updates in place, built from an assignment."""

    def __init__(self, problem: Problem, labels: np.ndarray, target: float) -> None:
        p = problem
        self.problem = problem
        self.k = int(labels.max()) + 1
        self.target = target
        self.graph = Graph(p.indptr, p.indices, p.cut_weight, edge_sources(p.indptr))
        apart_ptr, apart_idx = _apart_csr(p)
        self.units = Units(
            p.pop,
            p.pcn.astype(np.int64) if p.n_pcn else np.full(p.n, -1, np.int64),
            p.district,
            p.movable.astype(np.bool_),
            apart_ptr,
            apart_idx,
            p.previous.astype(np.int64),
        )
        cap = np.floor(p.max_moved_share * p.total_pop + 1e-9) if p.has_previous else np.inf
        self.pricing = Pricing(
            tuple(float(x) for x in weight_vector(p)),
            tuple(float(x) for x in constants(p, target, self.k)),
            (float(p.min_pop), float(p.max_pop), float(cap)),
        )
        self.scratch = Scratch(
            np.zeros(p.n, dtype=np.int64),
            np.zeros(p.n, dtype=np.int64),
            np.zeros(PIECE_LIMIT, dtype=np.int64),
            np.zeros(len(p.district_codes), dtype=np.int64),
            np.zeros(1, dtype=np.int64),
        )
        self._pair_cand: np.ndarray | None = None
        self.best_state = Best(np.asarray(labels, dtype=np.int64).copy(), np.array([np.inf, 0.0]))
        self.load(labels)
        if self.in_band and self.moved_total <= cap:
            self.best[0] = self.total_cost

    # Views kept for callers and tests.
    @property
    def labels(self) -> np.ndarray:
        return self.areas.labels

    @property
    def pop(self) -> np.ndarray:
        return self.areas.pop

    @property
    def pcn_pop(self) -> np.ndarray:
        return self.areas.pcn_pop

    @property
    def pcn_max(self) -> np.ndarray:
        return self.areas.pcn_max

    @property
    def dist_pop(self) -> np.ndarray:
        return self.areas.dist_pop

    @property
    def n_dist(self) -> np.ndarray:
        return self.areas.n_dist

    @property
    def ext(self) -> np.ndarray:
        return self.areas.ext

    @property
    def size(self) -> np.ndarray:
        return self.areas.size

    @property
    def moved(self) -> np.ndarray:
        return self.areas.moved

    @property
    def cost(self) -> np.ndarray:
        return self.areas.cost

    @property
    def best(self) -> np.ndarray:
        return self.best_state.value

    @property
    def best_labels(self) -> np.ndarray:
        return self.best_state.labels

    def stats(self) -> AreaStats:
        """The current area totals, as ``sda.objective`` and recombination read them."""
        a, n_pcn = self.areas, self.problem.n_pcn
        return AreaStats(a.pop, a.pcn_pop[:, :n_pcn], a.dist_pop, a.ext, a.moved)

    def load(self, labels: np.ndarray, stats: AreaStats | None = None) -> None:
        """Make ``labels`` the current state; the best is kept. Every total is recomputed,
        unless the caller passes them (``stats``, e.g. from a recombination)."""
        p, k = self.problem, self.k
        if hasattr(self, "areas"):
            self.keep_best()
        current = np.ascontiguousarray(labels, dtype=np.int64).copy()
        stats = stats or stats_of(p, current, k)
        pcn_pop = np.zeros((k, max(p.n_pcn, 1)), dtype=np.int64)
        if p.n_pcn:
            pcn_pop[:] = stats.pcn_pop
        dist_pop = np.array(stats.district_pop, dtype=np.int64)
        self.areas = Areas(
            current,
            np.asarray(stats.pop, dtype=np.int64).copy(),
            pcn_pop,
            pcn_pop.max(axis=1).astype(np.int64),
            dist_pop,
            (dist_pop > 0).sum(axis=1).astype(np.int64),
            np.array(stats.ext_cut, dtype=np.float64),
            np.bincount(current, minlength=k).astype(np.int64),
            np.array(stats.moved_pop, dtype=np.int64),
            np.zeros(k),
        )
        _cost_all(self.pricing, self.areas)

    def keep_best(self) -> None:
        """Store the current state as the best if it is (before anything outside the kernel changes it)."""
        if self.best[1] > 0:
            self.best_labels[:] = self.labels
            self.best[1] = 0.0

    def offer(self, labels: np.ndarray, cost: float) -> None:
        """Record ``labels`` (in band, within the cap, objective ``cost``) as the best if it beats it."""
        if cost < self.best[0] - 1e-12:
            self.keep_best()
            self.best_labels[:] = labels
            self.best[0] = cost

    @property
    def total_cost(self) -> float:
        """The current objective (band penalty excluded)."""
        return float(self.cost.sum())

    @property
    def moved_total(self) -> int:
        """Residents whose area differs from the previous plan (0 without one)."""
        return int(self.moved.sum())

    @property
    def in_band(self) -> bool:
        """Every area within the band."""
        return bool(in_band(self.pop, self.problem.min_pop, self.problem.max_pop).all())

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
        schedule = Run(
            float(temperature[0]),
            float(temperature[1]),
            float(band_weight[0]),
            float(band_weight[1]),
            int(steps),
            float(piece_share),
        )
        return int(
            _anneal(self.graph, self.units, self.areas, self.best_state, self.scratch, self.pricing, schedule, rng)
        )

    def pair_scratch(self) -> np.ndarray:
        """Work array of the paired moves (``sda.engine.pairs``): one slot per link entry, made
        on first use (most states never pair)."""
        if self._pair_cand is None:
            self._pair_cand = np.zeros(max(len(self.problem.indices), 1), dtype=np.int64)
        return self._pair_cand

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
def _cost_all(pricing, areas):
    """Every area's cost from its totals."""
    w, c = pricing.weights, pricing.constants
    for a in range(areas.pop.shape[0]):
        areas.cost[a] = area_cost(w, c, areas.pop[a], areas.pcn_max[a], areas.n_dist[a], areas.ext[a], areas.moved[a])


# The helpers below take plain arrays (explicit signatures, as pynndescent's do): ``_anneal``
# unpacks the named tuples once, so that no call in the loop passes a tuple of arrays.


@njit(cache=True)
def _outside(limits, pop):
    """Residents outside the band for an area of ``pop`` residents."""
    if pop < limits[MIN_POP]:
        return limits[MIN_POP] - pop
    if pop > limits[MAX_POP]:
        return pop - limits[MAX_POP]
    return 0.0


@njit(cache=True)
def _totals(limits, pop, cost, area_moved):
    """The plan's cost, its areas outside the band and its residents moved, summed over areas."""
    current = 0.0
    n_out = 0
    moved_total = 0
    for a in range(pop.shape[0]):
        current += cost[a]
        moved_total += area_moved[a]
        if _outside(limits, pop[a]) > 0:
            n_out += 1
    return current, n_out, moved_total


@njit(cache=True)
def _blocked(apart_ptr, apart_idx, labels, u, b):
    """Would a keep-apart partner of ``u`` already in area ``b`` share it with ``u``?"""
    for q in range(apart_ptr[u], apart_ptr[u + 1]):  # noqa: SIM110 (numba: no generators)
        if labels[apart_idx[q]] == b:
            return True
    return False


@njit(cache=True)
def _clear_districts(udist, piece, tmp_dist, n_piece):
    """Reset the piece's entries of ``tmp_dist`` (the proposal was turned down)."""
    for t in range(n_piece):
        tmp_dist[udist[piece[t]]] = 0


@njit(cache=True)
def _district_counts(udist, dist_pop, n_dist, piece, tmp_dist, n_piece, a, b):
    """Districts present in ``a`` and ``b`` after the move. Marks each district of the piece
    once by negating its entry of ``tmp_dist`` (the apply step and ``_clear_districts`` reset it)."""
    nd_a = n_dist[a]
    nd_b = n_dist[b]
    for t in range(n_piece):
        d = udist[piece[t]]
        if tmp_dist[d] > 0:
            if dist_pop[a, d] == tmp_dist[d]:
                nd_a -= 1
            if dist_pop[b, d] == 0:
                nd_b += 1
            tmp_dist[d] = -tmp_dist[d]
    return nd_a, nd_b


@njit(cache=True)
def _start_left_in(indptr, indices, labels, piece, stamp, n_piece, pmark, a):
    """A unit of ``a`` next to the piece (stamped ``pmark``) and not in it, or -1."""
    for t in range(n_piece):
        x = piece[t]
        for jj in range(indptr[x], indptr[x + 1]):
            w = indices[jj]
            if labels[w] == a and stamp[w] != pmark:
                return w
    return -1


@njit(cache=True)
def _connected_without(indptr, indices, labels, a, size_a, stamp, stack, counter, start, n_drop, drop_mark):
    """Are the units of area ``a`` not stamped ``drop_mark`` connected? Searches from ``start``."""
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
            if labels[w] == a and stamp[w] != mark and stamp[w] != drop_mark:
                stamp[w] = mark
                stack[top] = w
                top += 1
                reached += 1
    return reached >= need


@njit(cache=True)
def _anneal(graph, units, areas, best, scratch, pricing, schedule, rng):
    indptr, indices, cut, src = graph
    upop, upcn, udist, movable, apart_ptr, apart_idx, uprev = units
    labels, pop, pcn_pop, pcn_max, dist_pop, n_dist, ext, size, area_moved, cost = areas
    best_labels, best_value = best
    stamp, stack, piece, tmp_dist, counter = scratch
    w, cst, limits = pricing
    t0, t1, bw0, bw1, steps, piece_share = schedule
    n_entries = len(indices)
    if n_entries == 0 or steps <= 0:
        return 0
    total_pop = cst[0]
    current, n_out, moved_total = _totals(limits, pop, cost, area_moved)
    max_moved = limits[MAX_MOVED]
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
        if a == b or not movable[u] or _blocked(apart_ptr, apart_idx, labels, u, b):
            continue
        c = upcn[u]
        grow = c >= 0 and rng.random() < piece_share
        counter[0] += 1
        pmark = counter[0]
        # The moving set: u alone, or the connected run of u's PCN inside a (written out here,
        # not called: this and the totals below are the hottest lines of the loop).
        n_piece = 1
        piece[0] = u
        stamp[u] = pmark
        if grow:
            head = 0
            while head < n_piece and n_piece < piece.shape[0]:
                v = piece[head]
                head += 1
                for jj in range(indptr[v], indptr[v + 1]):
                    x = indices[jj]
                    if (
                        n_piece < piece.shape[0]
                        and stamp[x] != pmark
                        and labels[x] == a
                        and upcn[x] == c
                        and movable[x]
                        and not _blocked(apart_ptr, apart_idx, labels, x, b)
                    ):
                        stamp[x] = pmark
                        piece[n_piece] = x
                        n_piece += 1
        if n_piece >= size[a]:
            continue
        # Totals of the moving set.
        moved = 0
        moved_pcn = 0
        d_ext_a = 0.0
        d_ext_b = 0.0
        d_mv_a = 0
        d_mv_b = 0
        for t in range(n_piece):
            x = piece[t]
            px = upop[x]
            moved += px
            if upcn[x] == c:
                moved_pcn += px
            prev = uprev[x]
            if prev >= 0:
                if prev != a:
                    d_mv_a -= px
                if prev != b:
                    d_mv_b += px
            tmp_dist[udist[x]] += px
            for jj in range(indptr[x], indptr[x + 1]):
                y = indices[jj]
                if stamp[y] == pmark:
                    continue  # inside the piece: stays internal
                ly = labels[y]
                if ly == a:
                    d_ext_a += cut[jj]  # now cut between a and the piece (in b)
                else:
                    d_ext_a -= cut[jj]  # no longer a's border
                if ly == b:
                    d_ext_b -= cut[jj]  # becomes internal to b
                else:
                    d_ext_b += cut[jj]  # now b's border
        new_pop_a = pop[a] - moved
        new_pop_b = pop[b] + moved
        # Band: hard when band_weight is 0, else priced. The cap on residents moved: hard.
        out_before = _outside(limits, pop[a]) + _outside(limits, pop[b])
        out_after = _outside(limits, new_pop_a) + _outside(limits, new_pop_b)
        new_moved = moved_total + d_mv_a + d_mv_b
        if (band_weight == 0.0 and out_after > 0) or (new_moved > max_moved and new_moved > moved_total):
            _clear_districts(udist, piece, tmp_dist, n_piece)
            continue
        # Largest PCN population of a and b after the move (a's may drop, b's may rise).
        max_a = pcn_max[a]
        max_b = pcn_max[b]
        if c >= 0:
            if pcn_pop[a, c] == max_a:
                pcn_pop[a, c] -= moved_pcn
                max_a = 0
                for q in range(pcn_pop.shape[1]):
                    if pcn_pop[a, q] > max_a:
                        max_a = pcn_pop[a, q]
                pcn_pop[a, c] += moved_pcn
            if pcn_pop[b, c] + moved_pcn > max_b:
                max_b = pcn_pop[b, c] + moved_pcn
        nd_a, nd_b = _district_counts(udist, dist_pop, n_dist, piece, tmp_dist, n_piece, a, b)
        new_cost_a = area_cost(w, cst, new_pop_a, max_a, nd_a, ext[a] + d_ext_a, area_moved[a] + d_mv_a)
        new_cost_b = area_cost(w, cst, new_pop_b, max_b, nd_b, ext[b] + d_ext_b, area_moved[b] + d_mv_b)
        delta = new_cost_a + new_cost_b - cost[a] - cost[b]
        delta += band_weight * (out_after - out_before) / total_pop
        take = delta < 0.0 or (temperature > 0.0 and rng.random() < np.exp(-delta / temperature))
        if take:
            # Contiguity of a without the piece, searched from a neighbour left in a.
            start = _start_left_in(indptr, indices, labels, piece, stamp, n_piece, pmark, a)
            take = start >= 0 and _connected_without(
                indptr, indices, labels, a, size[a], stamp, stack, counter, start, n_piece, pmark
            )
        if not take:
            _clear_districts(udist, piece, tmp_dist, n_piece)
            continue
        # Record the best before leaving it (copy only when the state is about to get worse).
        new_current = current + new_cost_a + new_cost_b - cost[a] - cost[b]
        new_out = n_out - (1 if _outside(limits, pop[a]) > 0 else 0) - (1 if _outside(limits, pop[b]) > 0 else 0)
        new_out += (1 if _outside(limits, new_pop_a) > 0 else 0) + (1 if _outside(limits, new_pop_b) > 0 else 0)
        becomes_best = new_out == 0 and new_moved <= max_moved and new_current < best_value[0] - 1e-12
        if best_value[1] > 0 and not becomes_best:
            best_labels[:] = labels
            best_value[1] = 0.0
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
        area_moved[a] += d_mv_a
        area_moved[b] += d_mv_b
        size[a] -= n_piece
        size[b] += n_piece
        cost[a] = new_cost_a
        cost[b] = new_cost_b
        current = new_current
        n_out = new_out
        moved_total = new_moved
        accepted += 1
        if becomes_best:
            best_value[0] = new_current
            best_value[1] = 1.0
    return accepted
