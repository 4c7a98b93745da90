"""Steiner joins: the fewest residents a connected area must hold to touch several given places.

The bound per PCN piece (``exact.pieces_bound``) and its ring cuts (``ring_cuts``) both ask the
same question with different prices per unit: how cheaply can one connected area touch every
one of a set of a PCN's pieces? Units are priced, links are free, so it is a node-weighted
Steiner tree, solved exactly over subsets of at most a handful of pieces.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from sda.problem import Problem


def spread(problem: Problem, weight: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Cheapest cost of reaching each unit from ``start`` (a cost per unit, inf where it is not a
    source), a path costing the ``weight`` of every unit it enters (inf: a unit no path may
    enter). Costs above the band's ceiling are inf: no area could pay them.

    Dijkstra (scipy) from one extra source linked to every unit at its start cost; a link into
    ``v`` weighs ``weight[v]`` (scipy keeps a stored zero as a link). A cost above the ceiling
    is stored as just above it: no path may use that link."""
    n, beyond = problem.n, float(problem.max_pop) + 1.0
    graph = sp.csr_matrix(
        (
            np.r_[np.minimum(weight, beyond)[problem.indices], np.minimum(start, beyond)],
            np.r_[problem.indices, np.arange(n)],
            np.r_[problem.indptr, len(problem.indices) + n],
        ),
        shape=(n + 1, n + 1),
    )
    return dijkstra(graph, indices=n, limit=float(problem.max_pop))[:n]


def joining_costs(
    problem: Problem,
    piece: np.ndarray,
    pcn: int,
    kept: list[int],
    lumped: dict[int, list[int]],
    weight: np.ndarray | None = None,
) -> dict[tuple[int, ...], float]:
    """For every set of the pieces ``kept`` (PCN ``pcn``'s, tuples in ``kept``'s order), the
    fewest residents that a connected area touching each of them must hold (inf above the
    ceiling): a minimum Steiner tree in which a unit costs ``weight`` (by default its residents,
    and nothing for the PCN's own units).

    Exact, by the Dreyfus-Wagner recursion over subsets (``2**len(kept)`` shortest-path runs):
    the cheapest tree touching the pieces ``S`` and holding a unit ``v`` is a path to ``v`` from
    either a tree touching one piece or two trees touching the two parts of a split of ``S`` at
    ``v``, ``v`` counted once. A lump (``lumped``) counts as touched when any of its pieces is.
    """
    if len(kept) == 1:
        return {(kept[0],): 0.0}
    if weight is None:
        weight = np.where(problem.pcn == pcn, 0.0, problem.pop.astype(float))
    cheapest: dict[int, np.ndarray] = {}  # subset (bit i: kept[i]) -> cost of a tree holding each unit
    for i, f in enumerate(kept):
        cheapest[1 << i] = spread(problem, weight, np.where(np.isin(piece, lumped.get(f, [f])), 0.0, np.inf))
    for subset in sorted(range(1, 1 << len(kept)), key=int.bit_count):
        if subset.bit_count() < 2:
            continue
        lowest, joined = subset & -subset, np.full(problem.n, np.inf)
        part = (subset - 1) & subset
        while part:  # each split once: the part holding the lowest piece, and the rest
            if part & lowest:
                joined = np.minimum(joined, cheapest[part] + cheapest[subset ^ part] - weight)
            part = (part - 1) & subset
        cheapest[subset] = spread(problem, weight, joined)
    return {
        tuple(f for i, f in enumerate(kept) if subset >> i & 1): float(costs.min())
        for subset, costs in cheapest.items()
    }
