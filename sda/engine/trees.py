"""Random spanning trees and the cuts of them that leave both sides splittable within the band.

This is the engine's core move. Cutting one edge of a spanning tree of a connected set of units
splits it into two connected sets. A cut is *admissible* for a set that must become ``k`` areas
when its side of population ``s`` can become some ``k1`` areas and the rest ``k - k1``, i.e.
``k1*min <= s <= k1*max`` and likewise for the rest. Unlike an equal-population target +/- epsilon
(GerryChain's rule, which fails at 28 areas here), this works with any asymmetric band and with
very little slack.

Trees are minimum spanning trees of random edge weights (compiled with numba: the search draws
tens of thousands of them). A weight *surcharge* on edges that cross
a PCN (or district) boundary makes those edges the ones left out of the tree's interior, so the
cuts the engine is offered tend to follow PCN boundaries.

Subtree totals use the depth-first preorder: a subtree is a contiguous run of that order, so the
total of any per-unit quantity over every subtree comes from one cumulative sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sda.metrics import count_bounds
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

    def subtree_sums(self, values: np.ndarray, at: np.ndarray | None = None) -> np.ndarray:
        """Total of ``values`` (indexed like ``nodes``, 1-D or 2-D) over each local node's subtree
        (only over the subtrees of the local nodes ``at``, when given)."""
        ordered = values[self.order]
        zero = np.zeros((1, *ordered.shape[1:]), dtype=ordered.dtype)
        cums = np.concatenate([zero, np.cumsum(ordered, axis=0)])
        pos = self.pos if at is None else self.pos[at]
        size = self.size if at is None else self.size[at]
        return cums[pos + size] - cums[pos]

    def subtree_mask(self, c: int) -> np.ndarray:
        """Boolean mask over ``nodes``: True for the units in the subtree of local node ``c``
        (the side that cutting the edge above ``c`` cuts off)."""
        mask = np.zeros(len(self.nodes), dtype=bool)
        mask[self.order[self.pos[c] : self.pos[c] + self.size[c]]] = True
        return mask

    def in_subtree(self, c: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Boolean matrix: is local node ``x[j]`` inside the subtree of local node ``c[i]``."""
        px = self.pos[x][None, :]
        start = self.pos[c][:, None]
        return (px >= start) & (px < start + self.size[c][:, None])


def local_edges(problem: Problem, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges (each once) among ``nodes``: local endpoints and the CSR entry of each in the Problem."""
    return _local_edges(problem.indptr, problem.indices, np.ascontiguousarray(nodes, dtype=np.int64), problem.n)


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
    root = int(rng.integers(s))
    order, parent, size, spans = _spanning_tree(s, rows, cols, weights, root)
    if not spans:
        return None
    pos = np.empty(s, dtype=np.int64)
    pos[order] = np.arange(s)
    return Tree(nodes, order, pos, size, parent)


@njit(cache=True)
def _local_edges(indptr, indices, nodes, n):
    local = np.full(n, -1, dtype=np.int64)
    for j in range(len(nodes)):
        local[nodes[j]] = j
    count = 0
    for j in range(len(nodes)):
        for e in range(indptr[nodes[j]], indptr[nodes[j] + 1]):
            if local[indices[e]] > j:
                count += 1
    rows = np.empty(count, dtype=np.int64)
    cols = np.empty(count, dtype=np.int64)
    entry = np.empty(count, dtype=np.int64)
    m = 0
    for j in range(len(nodes)):
        for e in range(indptr[nodes[j]], indptr[nodes[j] + 1]):
            other = local[indices[e]]
            if other > j:
                rows[m] = j
                cols[m] = other
                entry[m] = e
                m += 1
    return rows, cols, entry


@njit(cache=True)
def _find(root_of, x):
    while root_of[x] != x:
        root_of[x] = root_of[root_of[x]]
        x = root_of[x]
    return x


@njit(cache=True)
def _spanning_tree(s, rows, cols, weights, root):
    """Minimum spanning tree of the weighted edges (Kruskal), in depth-first preorder from ``root``:
    (order, parent with -9999 at the root, subtree sizes, whether the edges span all ``s`` nodes)."""
    root_of = np.arange(s)
    tu = np.empty(max(s - 1, 0), dtype=np.int64)
    tv = np.empty(max(s - 1, 0), dtype=np.int64)
    m = 0
    for e in np.argsort(weights):
        ru = _find(root_of, rows[e])
        rv = _find(root_of, cols[e])
        if ru != rv:
            root_of[ru] = rv
            tu[m] = rows[e]
            tv[m] = cols[e]
            m += 1
            if m == s - 1:
                break
    order = np.empty(s, dtype=np.int64)
    parent = np.full(s, -9999, dtype=np.int64)
    size = np.ones(s, dtype=np.int64)
    if m < s - 1:
        return order, parent, size, False
    ptr = np.zeros(s + 1, dtype=np.int64)
    for i in range(m):
        ptr[tu[i] + 1] += 1
        ptr[tv[i] + 1] += 1
    for i in range(s):
        ptr[i + 1] += ptr[i]
    fill = ptr[:-1].copy()
    adj = np.empty(2 * m, dtype=np.int64)
    for i in range(m):
        adj[fill[tu[i]]] = tv[i]
        fill[tu[i]] += 1
        adj[fill[tv[i]]] = tu[i]
        fill[tv[i]] += 1
    # Iterative DFS: a node is emitted when popped, so every subtree is a contiguous run.
    stack = np.empty(s, dtype=np.int64)
    stack[0] = root
    top = 1
    emitted = 0
    while top > 0:
        top -= 1
        v = stack[top]
        order[emitted] = v
        emitted += 1
        for j in range(ptr[v], ptr[v + 1]):
            w = adj[j]
            if w != parent[v]:
                parent[w] = v
                stack[top] = w
                top += 1
    for i in range(s - 1, 0, -1):
        v = order[i]
        size[parent[v]] += size[v]
    return order, parent, size, True


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
    lo1, hi1 = count_bounds(sub, problem.min_pop, problem.max_pop)
    lo_rest, hi_rest = count_bounds(rest, problem.min_pop, problem.max_pop)
    lo2, hi2 = k - hi_rest, k - lo_rest
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


def _label_counts(tree: Tree, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Units of each label (>= 0) in every local node's subtree, and in all of ``tree.nodes``
    (None when no unit has a label)."""
    if (labels < 0).all():
        return None
    present, local = np.unique(labels[labels >= 0], return_inverse=True)
    onehot = np.zeros((len(labels), len(present)), dtype=np.int64)
    onehot[np.flatnonzero(labels >= 0), local] = 1
    return tree.subtree_sums(onehot), onehot.sum(axis=0)[None, :]


def _groups_whole(problem: Problem, tree: Tree, nodes: np.ndarray) -> np.ndarray:
    """True where the cut leaves every keep-together group wholly on one side."""
    counts = _label_counts(tree, problem.together[nodes])
    if counts is None:
        return np.ones(len(nodes), dtype=bool)
    inside, whole = counts
    return ((inside == 0) | (inside == whole)).all(axis=1)


def _locks_fit(problem: Problem, tree: Tree, nodes: np.ndarray, k_sub: np.ndarray, k: int) -> np.ndarray:
    """True where each side holds no more distinct locked areas than it will have areas."""
    counts = _label_counts(tree, problem.lock[nodes])
    if counts is None:
        return np.ones(len(nodes), dtype=bool)
    inside, whole = counts
    n_in = (inside > 0).sum(axis=1)
    n_out = ((whole - inside) > 0).sum(axis=1)
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
