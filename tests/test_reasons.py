"""Why units moved (``sda.reasons``), on hand-made plans whose causes are known."""

from __future__ import annotations

from sda.reasons import SEARCH_CHOICE, Band, carried_populations, move_reasons

BAND = Band(3_000, 5_000)


def test_carried_populations_are_the_previous_areas_on_the_current_data() -> None:
    held = carried_populations(["A", "A", "B", ""], [2_000, 3_500, 4_000, 900])
    assert held.to_dict() == {"A": 5_500, "B": 4_000}  # the unit with no previous area counts nowhere


def test_an_area_pushed_over_the_ceiling_is_the_reason_it_gave_a_unit_away() -> None:
    reasons = move_reasons(
        ["A", "A", "B", "B"],
        ["A", "B", "B", "B"],
        [False, True, False, False],
        [3_000, 2_500, 2_000, 2_000],
        previous_of={"A": "A", "B": "B"},
        band=BAND,
    )
    assert reasons[0] == reasons[2] == reasons[3] == ""
    assert reasons[1] == "A held 5,500 residents on the current data, above the 5,000 maximum"


def test_an_area_below_the_floor_is_the_reason_it_took_a_unit_in() -> None:
    reasons = move_reasons(
        ["A", "A", "B"],
        ["A", "B", "B"],
        [False, True, False],
        [3_500, 1_000, 2_500],
        previous_of={"A": "A", "B": "B"},
        band=BAND,
    )
    assert reasons[1] == "B held 2,500 residents on the current data, below the 3,000 minimum"


def test_a_renumbered_area_is_judged_by_the_previous_area_it_continues() -> None:
    # The new plan calls previous area B "X": B's residents on the current data decide.
    reasons = move_reasons(
        ["A", "B"], ["X", "X"], [True, False], [1_000, 2_000], previous_of={"Z": "A", "X": "B"}, band=BAND
    )
    assert reasons[0] == "X held 2,000 residents on the current data, below the 3,000 minimum"


def test_a_changed_pcn_and_a_new_area_are_told_and_by_name() -> None:
    reasons = move_reasons(
        ["A", "A", "A"],
        ["B", "C", "A"],
        [True, True, False],
        [1_500, 1_500, 1_500],
        previous_of={"A": "A", "B": "B"},
        band=BAND,
        created=["C"],
        pcn_before=["P1", "P1", "P1"],
        pcn_after=["P2", "P1", "P2"],
        pcn_names={"P1": "North PCN", "P2": "South PCN"},
    )
    assert reasons[0] == "its PCN changed from North PCN to South PCN"
    assert reasons[1] == "it is part of C, a new area (the count changed)"
    assert reasons[2] == ""  # its PCN changed too, but it did not move


def test_without_a_fact_of_the_data_the_move_is_the_searchs_choice() -> None:
    reasons = move_reasons(
        ["A", "A", "B"], ["A", "B", "B"], [False, True, False], [4_000, 500, 4_000], previous_of={"A": "A", "B": "B"}
    )
    assert reasons[1] == SEARCH_CHOICE
    # Without the band the band cannot be the reason, even where it would be.
    no_band = move_reasons(["A"], ["B"], [True], [9_000], previous_of={"B": "B"})
    assert no_band == [SEARCH_CHOICE]


def test_a_move_that_undoes_an_edit_to_the_previous_plan_says_so() -> None:
    # An officer moved the second unit from A to B after the run; the re-run puts it back in A.
    # It was told as the search's choice alone, so nobody learnt that the edit was not kept.
    reasons = move_reasons(
        ["A", "B", "B"],
        ["A", "A", "B"],
        [False, True, False],
        [4_000, 500, 4_000],
        previous_of={"A": "A", "B": "B"},
        run_areas=["A", "A", "B"],
    )
    assert reasons[1] == f"undoes an edit to the previous plan, which had moved it from A to B; {SEARCH_CHOICE}"
    # A unit the edit did not touch, or moved on to a third area, undoes nothing.
    elsewhere = move_reasons(
        ["A", "B"], ["C", "C"], [True, True], [500, 500], previous_of={"C": "C"}, run_areas=["A", "A"]
    )
    assert elsewhere == [SEARCH_CHOICE, SEARCH_CHOICE]
