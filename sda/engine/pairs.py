"""Paired moves, compiled: a unit move together with the move that keeps its areas in band.

Why: at a tight count (28 areas here leave 447 residents of slack per area, less than any
unit) an area at the floor cannot give a unit away, and an area at the ceiling cannot take one,
so single-unit moves (``sda.engine.anneal``) are forbidden exactly where the plan needs to
change: late in the annealing, with the band priced high, the chain stops moving or sits a few
residents outside the band, where no state counts as the best. A paired move makes two moves at
once and is priced as one:

- **pull**: unit ``u`` leaves area ``a`` for a neighbouring area ``b`` and ``a`` drops below the
  floor; ``a`` then takes a unit ``v`` from a neighbouring area ``c`` that can spare it (``c`` may
  be ``b``: a swap of two boundary units);
- **push**: ``u`` joins ``b`` and ``b`` rises above the ceiling; ``b`` then gives a unit ``v`` to
  a neighbouring area ``c`` (``c`` may be ``a``: a swap);
- **a pull chain of three**: when no area next to ``a`` can spare a unit, ``a`` takes ``v``
  from ``c`` anyway and ``c``, short in turn, takes a unit ``x`` from a neighbour ``d`` that
  can spare it (``d`` may be ``a`` or ``b``: a rotation of three units).

The second unit is drawn among the units that end every area no further outside the band than
it was (so, in band, every area stays in band), and the move is accepted or refused by the
Metropolis rule on the change of the objective (plus the band price, as in the single moves).
Every area stays connected: ``a`` without ``u`` is searched, and the area ``v`` leaves is
searched without ``v`` after ``u`` has moved. Only proposals whose single move would leave the
band are paired (the single moves handle the rest). At 28 areas here (seeds 1-8, the shipped
budget), chains of three as a fallback took the mean objective from 0.1851 to 0.1825 and the
worst from 0.1924 to 0.1848, for 25% more time; offered alongside the pairs (drawn uniformly
with them) they gave 0.1835, worst 0.1874, at 37% more.

The kernel updates the annealing state's arrays in place (``sda.engine.anneal.AnnealState``),
keeps the best state in band the same way, and draws from the same generator, so a seed still
gives one plan. A proposal applies its moves, prices them and undoes them if refused: about
0.45 microseconds a proposal, four times a single move, run for a share of each chunk's steps
between the single moves (``sda.engine.improve``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sda.engine.anneal import MAX_MOVED, MAX_POP, MIN_POP, AnnealState, Run, _blocked, _outside, _totals
from sda.engine.anneal import _connected_without as _connected_past
from sda.objective import area_cost

__all__ = ["run_pairs"]


@njit(cache=True)
def _shift(x, a, b, graph, units, areas, w, cst):
    """Move unit ``x`` from area ``a`` to ``b``, updating every total and both costs."""
    indptr, indices, cut, _src = graph
    upop, upcn, udist, _movable, _ap, _ai, uprev = units
    labels, pop, pcn_pop, pcn_max, dist_pop, n_dist, ext, size, area_moved, cost = areas
    px = upop[x]
    for jj in range(indptr[x], indptr[x + 1]):
        ly = labels[indices[jj]]
        if ly == a:
            ext[a] += cut[jj]
            ext[b] += cut[jj]
        elif ly == b:
            ext[a] -= cut[jj]
            ext[b] -= cut[jj]
        else:
            ext[a] -= cut[jj]
            ext[b] += cut[jj]
    labels[x] = b
    pop[a] -= px
    pop[b] += px
    size[a] -= 1
    size[b] += 1
    c = upcn[x]
    if c >= 0:
        was_max = pcn_pop[a, c] == pcn_max[a]
        pcn_pop[a, c] -= px
        pcn_pop[b, c] += px
        if pcn_pop[b, c] > pcn_max[b]:
            pcn_max[b] = pcn_pop[b, c]
        if was_max:
            best = 0
            for q in range(pcn_pop.shape[1]):
                if pcn_pop[a, q] > best:
                    best = pcn_pop[a, q]
            pcn_max[a] = best
    d = udist[x]
    dist_pop[a, d] -= px
    if dist_pop[a, d] == 0 and px > 0:
        n_dist[a] -= 1
    if dist_pop[b, d] == 0 and px > 0:
        n_dist[b] += 1
    dist_pop[b, d] += px
    prev = uprev[x]
    if prev >= 0:
        if prev != a:
            area_moved[a] -= px
        if prev != b:
            area_moved[b] += px
    cost[a] = area_cost(w, cst, pop[a], pcn_max[a], n_dist[a], ext[a], area_moved[a])
    cost[b] = area_cost(w, cst, pop[b], pcn_max[b], n_dist[b], ext[b], area_moved[b])


@njit(cache=True)
def _connected_without(indptr, indices, labels, area, size_area, drop, stamp, stack, counter):
    """Are the units of ``area`` other than ``drop`` connected (and at least one)?"""
    start = -1
    for jj in range(indptr[drop], indptr[drop + 1]):
        if labels[indices[jj]] == area and indices[jj] != drop:
            start = indices[jj]
            break
    if start < 0:
        return False
    counter[0] += 1
    stamp[drop] = counter[0]
    return _connected_past(indptr, indices, labels, area, size_area, stamp, stack, counter, start, 1, counter[0])


@njit(cache=True)
def _sum4(values, a, b, c, d):
    """``values`` summed over the distinct areas among ``a``, ``b``, ``c``, ``d`` (-1: none)."""
    total = values[a]
    if b != a:
        total += values[b]
    if c != a and c != b:
        total += values[c]
    if d >= 0 and d != a and d != b and d != c:
        total += values[d]
    return total


@njit(cache=True)
def _band4(limits, pop, a, b, c, d):
    """Residents outside the band, and areas outside it, over the distinct areas among ``a``,
    ``b``, ``c``, ``d`` (-1: none)."""
    residents = _outside(limits, pop[a])
    areas = 1 if residents > 0 else 0
    for q, new in ((b, b != a), (c, c != a and c != b), (d, d >= 0 and d != a and d != b and d != c)):
        if new:
            out = _outside(limits, pop[q])
            residents += out
            areas += 1 if out > 0 else 0
    return residents, areas


@njit(cache=True)
def _third_candidates(indptr, indices, upop, movable, labels, pop, cand, stamp, stack, counter, limits, refs):
    """Link entries of the units ``x`` that may join area ``c``, short since ``v`` left it for
    ``a``, from a neighbouring area ``d``: every area ends no further outside the band than before
    the whole move. ``refs`` = (a, b, c, u, v, populations of a, b and c before it)."""
    a, b, c, u, v, pop_a, pop_b, pop_c = refs
    start = -1
    for jj in range(indptr[v], indptr[v + 1]):
        if labels[indices[jj]] == c:
            start = indices[jj]
            break
    if start < 0:
        return 0
    counter[0] += 1
    mark = counter[0]
    stamp[start] = mark
    stack[0] = start
    top = 1
    n = 0
    while top > 0:
        top -= 1
        x0 = stack[top]
        for jj in range(indptr[x0], indptr[x0 + 1]):
            y = indices[jj]
            d = labels[y]
            if d == c:
                if stamp[y] != mark:
                    stamp[y] = mark
                    stack[top] = y
                    top += 1
                continue
            if y == u or y == v or not movable[y]:  # noqa: SIM109 (numba)
                continue
            py = upop[y]
            ref_d = pop_a if d == a else (pop_b if d == b else pop[d])
            if _outside(limits, pop[d] - py) > _outside(limits, ref_d):
                continue
            if _outside(limits, pop[c] + py) > _outside(limits, pop_c):
                continue
            cand[n] = jj
            n += 1
    return n


@njit(cache=True)
def _pairs(graph, units, areas, best, scratch, cand, pricing, schedule, rng):
    indptr, indices, _cut, src = graph
    upop, _upcn, _udist, movable, apart_ptr, apart_idx, _uprev = units
    labels, pop, _pcn_pop, _pcn_max, _dist_pop, _n_dist, _ext, size, area_moved, cost = areas
    best_labels, best_value = best
    stamp, stack, _piece, _tmp_dist, counter = scratch
    w, cst, limits = pricing
    t0, t1, bw0, bw1, steps, _piece_share = schedule
    n_entries = len(indices)
    if n_entries == 0 or steps <= 0:
        return 0
    lo, hi, max_moved = limits[MIN_POP], limits[MAX_POP], limits[MAX_MOVED]
    total_pop = cst[0]
    current, n_out, moved_total = _totals(limits, pop, cost, area_moved)
    accepted = 0
    temperature = t0
    band_weight = bw0
    ratio = t1 / t0 if t0 > 0 else 1.0
    for step in range(steps):
        if step % 64 == 0:
            f = step / steps
            temperature = t0 * ratio**f
            band_weight = bw0 + (bw1 - bw0) * f
        j = rng.integers(0, n_entries)
        u = src[j]
        b = labels[indices[j]]
        a = labels[u]
        if a == b or not movable[u] or size[a] <= 1 or _blocked(apart_ptr, apart_idx, labels, u, b):
            continue
        pu = upop[u]
        pa, pb = pop[a] - pu, pop[b] + pu
        short = pa < lo and pa < pop[a]
        over = pb > hi and pb > pop[b]
        if short == over:
            continue  # the single move keeps both in band (or breaks both ends): not paired
        # Pushing, a must stay connected without u; pulling, the walk over a below checks it.
        if over and not _connected_without(indptr, indices, labels, a, size[a], u, stamp, stack, counter):
            continue
        # The area out of band after u's move (f), and the candidates for the second unit:
        # pull: units v next to a (without u) in another area c, v joins a; push: units v of b
        # (with u, but not u) next to another area c, v joins c. Candidates are link entries.
        f = a if short else b
        labels[u] = b  # tentatively, for the scan (undone below)
        n_cand = 0
        n_chain = 0
        counter[0] += 1
        mark = counter[0]
        # Walk f's units from a unit next to u, counting those reached.
        start = -1
        for jj in range(indptr[u], indptr[u + 1]):
            if labels[indices[jj]] == f and indices[jj] != u:
                start = indices[jj]
                break
        if start < 0:
            labels[u] = a
            continue
        stamp[start] = mark
        stack[0] = start
        top = 1
        reached = 1
        pf = pa if short else pb
        while top > 0:
            top -= 1
            x = stack[top]
            for jj in range(indptr[x], indptr[x + 1]):
                y = indices[jj]
                ly = labels[y]
                if ly == f:
                    if stamp[y] != mark:
                        stamp[y] = mark
                        stack[top] = y
                        top += 1
                        reached += 1
                    continue
                if short:
                    v, c = y, ly
                else:
                    v, c = x, ly
                if v == u or not movable[v]:
                    continue
                pv = upop[v]
                pc = pop[c] + (pu if c == b else 0) - (pu if c == a else 0)
                f_after = pf + pv if short else pf - pv
                c_after = pc - pv if short else pc + pv
                if _outside(limits, f_after) > _outside(limits, pop[f]):
                    continue
                if _outside(limits, c_after) > _outside(limits, pop[c]):
                    if short and c_after < lo:  # c goes short in turn: a third unit must join it
                        n_chain += 1
                        cand[n_entries - n_chain] = jj
                    continue
                cand[n_cand] = jj
                n_cand += 1
        labels[u] = a
        if n_cand + n_chain == 0 or (short and reached < size[a] - 1):
            continue  # nothing to pair with, or a without u is cut in two
        # A pair when one keeps every area in band; else a chain of three.
        third = n_cand == 0
        jj = cand[n_entries - 1 - rng.integers(0, n_chain)] if third else cand[rng.integers(0, n_cand)]
        if short:
            v = indices[jj]
            c = labels[v]
            dest_v = a
        else:
            v = src[jj]
            c = labels[indices[jj]]
            dest_v = c
        if _blocked(apart_ptr, apart_idx, labels, v, dest_v):
            continue
        # The other area of the pair (b when pulling, the receiving one when pushing) must stay
        # in band or get no further out: checked with the populations after both moves.
        if best_value[1] > 0:
            best_labels[:] = labels
            best_value[1] = 0.0
        refs = (a, b, c, u, v, pop[a], pop[b], pop[c])
        cost_before = _sum4(cost, a, b, c, -1)
        out_before, in_before = _band4(limits, pop, a, b, c, -1)
        moved_before = _sum4(area_moved, a, b, c, -1)
        _shift(u, a, b, graph, units, areas, w, cst)
        src_v = c if short else b
        if not _connected_without(indptr, indices, labels, src_v, size[src_v], v, stamp, stack, counter):
            _shift(u, b, a, graph, units, areas, w, cst)
            continue
        _shift(v, src_v, dest_v, graph, units, areas, w, cst)
        # A pull chain of three: c, short now, takes a unit x from a neighbouring area d.
        d = -1
        x = -1
        if third:
            n3 = _third_candidates(
                indptr, indices, upop, movable, labels, pop, cand, stamp, stack, counter, limits, refs
            )
            if n3 > 0:
                x = indices[cand[rng.integers(0, n3)]]
                d = labels[x]
            if (
                x < 0
                or _blocked(apart_ptr, apart_idx, labels, x, c)
                or not _connected_without(indptr, indices, labels, d, size[d], x, stamp, stack, counter)
            ):
                _shift(v, dest_v, src_v, graph, units, areas, w, cst)
                _shift(u, b, a, graph, units, areas, w, cst)
                continue
            if d != a and d != b and d != c:  # untouched so far: its totals before count now
                cost_before += cost[d]
                out_before += _outside(limits, pop[d])
                in_before += 1 if _outside(limits, pop[d]) > 0 else 0
                moved_before += area_moved[d]
            _shift(x, d, c, graph, units, areas, w, cst)
        out_after, in_after = _band4(limits, pop, a, b, c, d)
        new_moved = moved_total + _sum4(area_moved, a, b, c, d) - moved_before
        ok = not (new_moved > max_moved and new_moved > moved_total)
        delta = _sum4(cost, a, b, c, d) - cost_before
        delta += band_weight * (out_after - out_before) / total_pop
        take = ok and (delta < 0.0 or (temperature > 0.0 and rng.random() < np.exp(-delta / temperature)))
        if not take:
            if x >= 0:
                _shift(x, c, d, graph, units, areas, w, cst)
            _shift(v, dest_v, src_v, graph, units, areas, w, cst)
            _shift(u, b, a, graph, units, areas, w, cst)
            continue
        current += delta - band_weight * (out_after - out_before) / total_pop
        n_out += in_after - in_before
        moved_total = new_moved
        accepted += 1
        if n_out == 0 and moved_total <= max_moved and current < best_value[0] - 1e-12:
            best_value[0] = current
            best_value[1] = 1.0
    return accepted


def run_pairs(
    state: AnnealState,
    rng: np.random.Generator,
    steps: int,
    temperature: tuple[float, float],
    band_weight: tuple[float, float],
) -> int:
    """Propose ``steps`` paired moves on ``state`` (updated in place), the temperature falling
    geometrically and the band price moving linearly between the given (start, end) pairs, as
    ``AnnealState.run`` does; 0 for a band price makes the band hard. Returns moves accepted."""
    cand = state.pair_scratch()
    schedule = Run(
        float(temperature[0]), float(temperature[1]), float(band_weight[0]), float(band_weight[1]), int(steps), 0.0
    )
    return int(
        _pairs(
            state.graph, state.units, state.areas, state.best_state, state.scratch, cand, state.pricing, schedule, rng
        )
    )
