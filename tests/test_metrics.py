"""The one home of per-area figures and graph helpers, on small graphs whose answers are known."""

from __future__ import annotations

import numpy as np

from sda.metrics import (
    area_pairs,
    area_populations,
    connected_without,
    count_bounds,
    edge_sources,
    is_contiguous,
    minor_pieces,
    pieces_per_area,
)


def path_graph(n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR arrays of the path 0 - 1 - ... - n-1."""
    nbrs = [[j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)]
    indptr = np.cumsum([0] + [len(x) for x in nbrs]).astype(np.int64)
    return indptr, np.array([j for x in nbrs for j in x], dtype=np.int64)


def test_edge_sources_name_the_row_of_every_entry() -> None:
    indptr, indices = path_graph(4)
    assert edge_sources(indptr).tolist() == [0, 1, 1, 2, 2, 3]
    assert list(zip(edge_sources(indptr).tolist(), indices.tolist(), strict=True))[1] == (1, 0)


def test_area_pairs_on_a_path() -> None:
    # Areas along the path: 2 2 0 1 1 0 2. Touching: 2-0, 0-1, 1-0 again, 0-2; never 1-2.
    indptr, indices = path_graph(7)
    assert area_pairs(indptr, indices, np.array([2, 2, 0, 1, 1, 0, 2])).tolist() == [[0, 1], [0, 2]]
    assert area_pairs(indptr, indices, np.zeros(7, dtype=np.int64)).tolist() == []


def test_area_populations_and_count_bounds() -> None:
    assert area_populations(np.array([0, 1, 0, 2]), np.array([5.0, 7.0, 6.0, 1.0]), 4).tolist() == [11, 7, 1, 0]
    lo, hi = count_bounds(np.array([100, 29, 0]), 30, 50)
    assert lo.tolist() == [2, 1, 0]
    assert hi.tolist() == [3, 0, 0]  # 29 residents make no area of 30-50: lo > hi


def test_pieces_and_contiguity_on_a_path() -> None:
    indptr, indices = path_graph(5)
    labels = np.array([0, 0, 1, 0, 1])  # area 0 in pieces {0,1} and {3}; area 1 in {2} and {4}
    assert pieces_per_area(indptr, indices, labels, 3).tolist() == [2, 2, 0]
    assert is_contiguous(indptr, indices, np.array([1, 2, 3]))
    assert not is_contiguous(indptr, indices, np.array([0, 2]))


def test_minor_pieces_keep_each_areas_most_populous_piece() -> None:
    indptr, indices = path_graph(5)
    labels = np.array([0, 0, 1, 0, 1])
    pop = np.array([1.0, 1.0, 1.0, 5.0, 2.0])
    # Area 0: piece {3} (5 residents) beats {0,1} (2); area 1: {4} (2) beats {2} (1).
    assert np.flatnonzero(minor_pieces(indptr, indices, labels, pop)).tolist() == [0, 1, 2]


def test_minor_pieces_ignore_unlabelled_units_and_break_ties_by_piece_number() -> None:
    indptr, indices = path_graph(5)
    labels = np.array([0, -1, 0, -1, 1])
    pop = np.ones(5)
    # Area 0 is two equal pieces {0} and {2}: the first piece is kept. Unlabelled units never count.
    assert np.flatnonzero(minor_pieces(indptr, indices, labels, pop)).tolist() == [2]
    assert not minor_pieces(indptr, indices, np.array([0, 0, 0, 1, 1]), pop).any()


def test_connected_without_on_neighbour_lists() -> None:
    neighbours = [[1], [0, 2], [1, 3], [2]]  # the path 0 - 1 - 2 - 3
    assert connected_without({0, 1, 2, 3}, 3, neighbours)  # an end can go
    assert not connected_without({0, 1, 2, 3}, 1, neighbours)  # a middle unit cannot
    assert not connected_without({2}, 2, neighbours)  # nothing would be left
