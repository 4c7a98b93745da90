"""Area ids across a line of plans: matched by residents in common, new ids after every id used."""

from __future__ import annotations

import numpy as np

from sda.identity import match_areas, next_ids, residents_in_common


def test_areas_keep_the_id_they_share_most_residents_with() -> None:
    # Six units of 10 residents; the new labels are the old areas under other numbers, one unit moved.
    labels = np.array([1, 1, 0, 0, 0, 2])
    previous = ["SDA-01", "SDA-01", "SDA-02", "SDA-02", "SDA-01", "SDA-03"]
    identity = match_areas(labels, previous, np.full(6, 10), previous_ids=["SDA-01", "SDA-02", "SDA-03"])
    assert identity.ids == ["SDA-02", "SDA-01", "SDA-03"]
    assert identity.created == [] and identity.retired == []


def test_optimal_not_greedy_matching() -> None:
    # Greedy would give new area 0 to A (60 in common) and leave area 1 with nothing in common;
    # the optimal assignment gives 0 -> B (50) and 1 -> A (55): 105 residents kept, not 60.
    labels = np.array([0, 0, 1])
    previous = ["A", "B", "A"]
    identity = match_areas(labels, previous, np.array([60, 50, 55]), previous_ids=["A", "B"])
    assert identity.ids == ["B", "A"]
    common = residents_in_common(labels, previous, np.array([60, 50, 55]), ["A", "B"])
    assert common.tolist() == [[60, 50], [55, 0]]


def test_new_areas_get_ids_never_used_in_the_line_and_retired_ids_are_listed() -> None:
    labels = np.array([0, 1, 2, 3])
    previous = ["SDA-01", "SDA-02", "SDA-02", ""]
    identity = match_areas(
        labels,
        previous,
        np.array([5, 5, 4, 9]),
        previous_ids=["SDA-01", "SDA-02", "SDA-03"],
        previous_names={"SDA-01": "Ely & Soham"},
        retired_before=["SDA-07"],
    )
    assert identity.ids == ["SDA-01", "SDA-02", "SDA-08", "SDA-09"]
    assert identity.created == ["SDA-08", "SDA-09"]
    assert identity.retired == ["SDA-03"]
    assert identity.retired_line == ["SDA-03", "SDA-07"]
    assert identity.names == {"SDA-01": "Ely & Soham"}


def test_a_locked_area_keeps_its_lock_name() -> None:
    identity = match_areas(
        np.array([0, 1]), ["SDA-01", "Ely"], np.array([3, 3]), previous_ids=["SDA-01", "Ely"], locked={1: "Ely"}
    )
    assert identity.ids == ["SDA-01", "Ely"]


def test_next_ids_pad_like_the_ids_used() -> None:
    assert next_ids(["SDA-01", "SDA-09", "Ely"], 2) == ["SDA-10", "SDA-11"]
    assert next_ids(["SDA-001"], 1) == ["SDA-002"]
    assert next_ids([], 1) == ["SDA-01"]
