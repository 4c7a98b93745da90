"""Random spanning trees and the cuts of them that leave both sides splittable within the band.

This is the engine's core move. Cutting one edge of a spanning tree of a connected set of units
splits it into two connected sets. A cut is *admissible* for a set that must become ``k`` areas
when its side of population ``s`` can become some ``k1`` areas and the rest ``k - k1``, i.e.
``k1*min <= s <= k1*max`` and likewise for the rest. Unlike an equal-population target +/- epsilon
(GerryChain's rule, which fails at 28 areas here), this works with any asymmetric band and with
very little slack.

Trees are minimum spanning trees of random edge weights. A weight *surcharge* on edges that cross
a PCN (or district) boundary makes those edges the ones left out of the tree's interior, so the
cuts the engine is offered tend to follow PCN boundaries.

Subtree totals use the depth-first preorder: a subtree is a contiguous run of that order, so the
total of any per-unit quantity over every subtree comes from one cumulative sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import depth_first_order, minimum_spanning_tree

from sda.problem import Problem


@dataclass
class Tree:
    """A spanning tree of ``nodes`` (unit positions) in depth-first preorder.

    ``order[j]`` is a local index into ``nodes``; ``pos[local]`` its place in the preorder;
    ``size[local]`` the number of units in its subtree; ``parent[local]`` its parent (-9999 at the
    root). The subtree of local node ``c`` is ``order[pos[c] : pos[c] + size[c]]``.
    """

    nodes: np.ndarray
    order: np.ndarray
    pos: np.ndarray
    size: np.ndarray
    parent: np.ndarray

    def subtree_sums(self, values: np.ndarray) -> np.ndarray:
        """Total of ``values`` (indexed like ``nodes``, 1-D or 2-D) over each local node's subtree."""
        ordered = values[self.order]
        zero = np.zeros((1,) + ordered.shape[1:], dtype=ordered.dtype)
        cums = np.concatenate([zero, np.cumsum(ordered, axis=0)])
        return cums[self.pos + self.size] - cums[self.pos]

    def in_subtree(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Boolean matrix: is local node ``x[j]`` inside the subtree of local node ``c[i]``."""
        px = self.pos[x][None, :]
        start = self.pos[c][:, None]
        return (px >= start) & (px < start + self.size[c][:, None])


def local_edges(adj: sp.csr_matrix, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges (each once) among ``nodes``: local endpoints and the CSR entry of each in the Problem."""
    sub = adj[nodes][:, nodes]
    upper = sp.triu(sub, k=1).tocoo()
    return upper.row.astype(np.int64), upper.col.astype(np.int64), upper.data.astype(np.int64) - 1


def random_tree(
    problem: Problem,
    nodes: np.ndarray,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    rng: np.random.Generator,
    pcn_surcharge: float = 0.0,
    district_surcharge: float = 0.0,
) -> Tree | None:
    """A random spanning tree of ``nodes`` (None if they are not connected)."""
    s = len(nodes)
    if s == 1:
        one = np.zeros(1, dtype=np.int64)
        return Tree(nodes, one, one, np.ones(1, dtype=np.int64), np.array([-9999]))
    rows, cols, _ = edges
    weights = rng.random(len(rows)) + 1e-6
    if pcn_surcharge:
        weights += pcn_surcharge * (problem.pcn[nodes[rows]] != problem.pcn[nodes[cols]])
    if district_surcharge:
        weights += district_surcharge * (problem.district[nodes[rows]] != problem.district[nodes[cols]])
    mst = minimum_spanning_tree(sp.csr_matrix((weights, (rows, cols)), shape=(s, s)))
    root = int(rng.integers(s))
    order, parent = depth_first_order(mst, root, directed=False, return_predecessors=True)
    if len(order) < s:
        return None
    pos = np.empty(s, dtype=np.int64)
    pos[order] = np.arange(s)
    size = np.ones(s, dtype=np.int64)
    for v in order[:0:-1]:  # children before parents; the only Python loop per tree
        size[parent[v]] += size[v]
    return Tree(nodes, order.astype(np.int64), pos, size, parent)


@dataclass
class Cuts:
    """Admissible cuts of a tree: the local node whose subtree is cut off, and its area count."""

    child: np.ndarray
    k_sub: np.ndarray
    sub_pop: np.ndarray


def admissible_cuts(problem: Problem, tree: Tree, k: int) -> Cuts:
    """Every cut of ``tree`` that leaves the subtree splittable into ``k_sub`` areas and the rest
    into ``k - k_sub``, honouring keep-together groups and locks. ``k_sub`` is the feasible count
    nearest the subtree's proportional share of ``k``."""
    nodes = tree.nodes
    pop = problem.pop[nodes]
    total = int(pop.sum())
    sub = tree.subtree_sums(pop)
    rest = total - sub
    lo_pop, hi_pop = problem.min_pop, problem.max_pop
    with np.errstate(divide="ignore"):
        lo1 = np.maximum(-(-sub // hi_pop), 1)
        hi1 = sub // lo_pop if lo_pop > 0 else np.full_like(sub, k - 1)
        lo2 = k - (rest // lo_pop if lo_pop > 0 else np.full_like(rest, k - 1))
        hi2 = k - (-(-rest // hi_pop))
    lo = np.maximum(np.maximum(lo1, lo2), 1)
    hi = np.minimum(np.minimum(hi1, hi2), k - 1)
    ok = lo <= hi
    ok[tree.order[0]] = False  # the root has no edge above it
    ideal = np.rint(k * sub / max(total, 1)).astype(np.int64)
    k_sub = np.clip(ideal, lo, hi)
    ok &= _groups_whole(problem, tree, nodes)
    ok &= _locks_fit(problem, tree, nodes, k_sub, k)
    child = np.flatnonzero(ok)
    return Cuts(child=child, k_sub=k_sub[child], sub_pop=sub[child])


def _groups_whole(problem: Problem, tree: Tree, nodes: np.ndarray) -> np.ndarray:
    """True where the cut leaves every keep-together group wholly on one side."""
    groups = problem.together[nodes]
    if (groups < 0).all():
        return np.ones(len(nodes), dtype=bool)
    present, local = np.unique(groups[groups >= 0], return_inverse=True)
    onehot = np.zeros((len(nodes), len(present)), dtype=np.int64)
    onehot[np.flatnonzero(groups >= 0), local] = 1
    inside = tree.subtree_sums(onehot)
    whole = onehot.sum(axis=0)[None, :]
    return ((inside == 0) | (inside == whole)).all(axis=1)


def _locks_fit(problem: Problem, tree: Tree, nodes: np.ndarray, k_sub: np.ndarray, k: int) -> np.ndarray:
    """True where each side holds no more distinct locked areas than it will have areas."""
    locks = problem.lock[nodes]
    if (locks < 0).all():
        return np.ones(len(nodes), dtype=bool)
    present, local = np.unique(locks[locks >= 0], return_inverse=True)
    onehot = np.zeros((len(nodes), len(present)), dtype=np.int64)
    onehot[np.flatnonzero(locks >= 0), local] = 1
    inside = tree.subtree_sums(onehot)
    n_in = (inside > 0).sum(axis=1)
    n_out = ((onehot.sum(axis=0)[None, :] - inside) > 0).sum(axis=1)
    return (n_in <= k_sub) & (n_out <= k - k_sub)


def apart_ok(problem: Problem, members: np.ndarray) -> bool:
    """True when no keep-apart pair (and no two different locks) fall inside ``members``."""
    if len(problem.apart_pairs):
        mask = np.zeros(problem.n, dtype=bool)
        mask[members] = True
        if (mask[problem.apart_pairs[:, 0]] & mask[problem.apart_pairs[:, 1]]).any():
            return False
    locks = problem.lock[members]
    return len(np.unique(locks[locks >= 0])) <= 1
