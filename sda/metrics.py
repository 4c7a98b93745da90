"""Per-area figures and graph helpers, each written once: populations, the band test, how many
areas fit, connectivity and the edge-source array.

The rules, the feasibility checks, the engine, the exact model and the report all ask the same
few questions of a plan ("is every area in the band?", "how many areas can this many residents
make?", "is this area one piece?"). Answering them in one place keeps the answers the same
everywhere. Functions take plain arrays (CSR adjacency ``indptr``/``indices``, per-unit
populations, labels) so they serve the engine's ``Problem`` and any other caller alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

__all__ = [
    "area_pairs",
    "area_populations",
    "components",
    "connected_without",
    "count_bounds",
    "edge_sources",
    "in_band",
    "is_contiguous",
    "link_components",
    "minor_pieces",
    "outside_band",
    "piece_labels",
    "pieces_per_area",
]


def edge_sources(indptr: np.ndarray) -> np.ndarray:
    """The source unit of every CSR entry: entry ``j`` is the link ``(src[j], indices[j])``."""
    return np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))


def area_populations(labels: np.ndarray, pop: np.ndarray, k: int) -> np.ndarray:
    """Residents of each area ``0..k-1`` (int64)."""
    return np.bincount(labels, weights=pop, minlength=k).round().astype(np.int64)


def area_pairs(indptr: np.ndarray, indices: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Pairs of areas that touch (a link joins them), each once as ``(lower, higher)``, sorted."""
    la, lb = labels[edge_sources(indptr)], labels[indices]
    cut = la < lb
    return np.unique(np.stack([la[cut], lb[cut]], axis=1), axis=0)


def in_band(pop: np.ndarray | int | float, min_pop: float, max_pop: float) -> np.ndarray:
    """Elementwise: is a population within ``[min_pop, max_pop]``?"""
    pop = np.asarray(pop)
    return (pop >= min_pop) & (pop <= max_pop)


def outside_band(populations: Mapping[Any, float], min_pop: float, max_pop: float) -> list[Any]:
    """The keys (area names) whose population is outside ``[min_pop, max_pop]``, in order."""
    keys = list(populations.keys())  # a pandas Series iterates its values, not its keys
    inside = in_band(np.array([populations[key] for key in keys], dtype=np.float64), min_pop, max_pop)
    return [key for key, ok in zip(keys, inside.tolist(), strict=True) if not ok]


def count_bounds(pop: np.ndarray | int, min_pop: int, max_pop: int) -> tuple[np.ndarray, np.ndarray]:
    """Fewest and most areas of ``[min_pop, max_pop]`` residents that ``pop`` residents can make
    (elementwise; the geography ignored). The pair is empty (``lo > hi``) when none fits."""
    pop = np.asarray(pop, dtype=np.int64)
    lo = -(-pop // max(max_pop, 1))
    hi = pop // min_pop if min_pop > 0 else np.where(pop > 0, np.iinfo(np.int64).max // 4, 0)
    return lo, hi


def _adjacency(indptr: np.ndarray, indices: np.ndarray, keep: np.ndarray | None = None) -> sp.csr_matrix:
    n = len(indptr) - 1
    if keep is None:
        return sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n, n))
    # Entries stay in row order, so the kept ones make a CSR matrix directly (no COO sort: the
    # ring cuts ask for thousands of these).
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(edge_sources(indptr)[keep], minlength=n), out=starts[1:])
    return sp.csr_matrix((np.ones(int(starts[-1])), indices[keep], starts), shape=(n, n))


def components(indptr: np.ndarray, indices: np.ndarray) -> list[np.ndarray]:
    """Unit positions of each connected component of the graph, largest first."""
    n_comp, comp = connected_components(_adjacency(indptr, indices), directed=False)
    parts = [np.flatnonzero(comp == c) for c in range(n_comp)]
    return sorted(parts, key=len, reverse=True)


def link_components(indptr: np.ndarray, indices: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Connected component of each unit when only the CSR entries where ``keep`` is True count
    (every link when ``keep`` is None)."""
    _, comp = connected_components(_adjacency(indptr, indices, keep), directed=False)
    return comp.astype(np.int64)


def piece_labels(indptr: np.ndarray, indices: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Connected piece of each unit when only links inside an area count (each area's units
    fall in one or more pieces; piece numbers are global)."""
    return link_components(indptr, indices, labels[edge_sources(indptr)] == labels[indices])


def pieces_per_area(indptr: np.ndarray, indices: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """How many connected pieces each area ``0..k-1`` is in (0 for an empty area)."""
    comp = piece_labels(indptr, indices, labels)
    pairs = np.unique(np.stack([labels, comp], axis=1), axis=0) if len(labels) else np.zeros((0, 2), np.int64)
    return np.bincount(pairs[:, 0], minlength=k).astype(np.int64)


def minor_pieces(indptr: np.ndarray, indices: np.ndarray, labels: np.ndarray, pop: np.ndarray) -> np.ndarray:
    """Units outside their area's most populous connected piece (a boolean mask; ties go to the
    piece with the lower number). An area in one piece has none; labels below 0 are ignored."""
    labelled = labels >= 0
    piece = piece_labels(indptr, indices, np.where(labelled, labels, -1))
    piece_pop = np.bincount(piece, weights=pop)
    keep = np.full(int(labels.max(initial=-1)) + 1, -1, dtype=np.int64)
    for p in np.argsort(-piece_pop, kind="stable").tolist():
        area = labels[np.flatnonzero(piece == p)[0]]
        if area >= 0 and keep[area] < 0:
            keep[area] = p
    return labelled & (keep[np.where(labelled, labels, 0)] != piece)


def is_contiguous(indptr: np.ndarray, indices: np.ndarray, members: np.ndarray) -> bool:
    """Are the units ``members`` (positions) connected through links among themselves?"""
    members = np.asarray(members, dtype=np.int64)
    if len(members) <= 1:
        return True
    labels = np.zeros(len(indptr) - 1, dtype=np.int64)
    labels[members] = 1
    comp = piece_labels(indptr, indices, labels)
    return len(np.unique(comp[members])) == 1


def connected_without(members: set[int], drop: int, neighbours: list[list[int]]) -> bool:
    """Is ``members - {drop}`` connected (and non-empty)? On neighbour lists, for the Python loops
    (construction's shifts, repair chains) that move one unit at a time; the kernel has its own
    compiled check."""
    rest = len(members) - 1
    if rest <= 0:
        return False
    start = next(m for m in members if m != drop)
    seen = {start}
    stack = [start]
    while stack:
        v = stack.pop()
        for w in neighbours[v]:
            if w != drop and w in members and w not in seen:
                seen.add(w)
                stack.append(w)
    return len(seen) == rest
