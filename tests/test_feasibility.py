"""Tests for sda.feasibility.check_feasible: impossible requests fail fast, naming their cause."""

from __future__ import annotations

import networkx as nx
import pytest
from helpers import cell, grid_graph, path_graph, problem_of

from sda.config import LockConfig, RulesConfig
from sda.errors import InfeasibleError, SdaError
from sda.feasibility import check_feasible


def test_exit_code_is_3() -> None:
    assert InfeasibleError.exit_code == 3
    assert issubclass(InfeasibleError, SdaError)
    with pytest.raises(InfeasibleError) as info:
        check_feasible(problem_of(path_graph(3, population=[10, 99, 10]), 20, 30), "auto")
    assert info.value.exit_code == 3


@pytest.mark.parametrize("count", ["auto", 2, 3])
def test_feasible_passes(count: int | str) -> None:
    check_feasible(problem_of(path_graph(6), 20, 30), count)


def test_unit_above_max_named() -> None:
    problem = problem_of(path_graph(5, population=[10, 45, 10, 40, 10]), 20, 30)
    with pytest.raises(InfeasibleError) as info:
        check_feasible(problem, "auto")
    msg = str(info.value)
    assert "units U1, U3 each have more residents than max_population 30" in msg
    assert "largest 45" in msg
    assert "U0" not in msg


def test_many_big_units_listed_with_count() -> None:
    problem = problem_of(path_graph(10, population=50), 20, 30)
    with pytest.raises(InfeasibleError, match=r"U0, U1, U2, U3, U4, U5, U6, U7 and 2 more each have"):
        check_feasible(problem, "auto")


def test_component_below_min_names_units() -> None:
    graph = path_graph(6)
    graph.remove_edge("U3", "U4")  # U4-U5 (20 residents) cut off
    problem = problem_of(graph, 25, 40)
    with pytest.raises(InfeasibleError) as info:
        check_feasible(problem, "auto")
    msg = str(info.value)
    assert "units U4, U5 form a separate part of the graph with 20 residents, below min_population 25" in msg
    assert "extra_links" in msg


def test_nest_in_district_can_isolate_a_part() -> None:
    graph = path_graph(6)
    district = {f"U{i}": ("D1" if i < 5 else "D2") for i in range(6)}
    rules = RulesConfig(nest_in="district")
    problem = problem_of(graph, 20, 40, district_of=district, rules=rules)
    with pytest.raises(InfeasibleError, match="units U5 form a separate part"):
        check_feasible(problem, "auto")


def test_no_count_fits_total() -> None:
    # 50 residents, band [30, 40]: 1 area is too big, 2 too small.
    problem = problem_of(path_graph(5), 30, 40)
    with pytest.raises(InfeasibleError, match=r"no number of areas fits 50 residents in \[30, 40\]"):
        check_feasible(problem, "auto")


@pytest.mark.parametrize("count", [1, 4, 7])
def test_fixed_count_outside_range_gives_allowed_range(count: int) -> None:
    problem = problem_of(path_graph(6), 20, 30)  # 60 residents: 2 or 3 areas
    with pytest.raises(InfeasibleError) as info:
        check_feasible(problem, count)
    msg = str(info.value)
    assert f"count = {count} needs between {count * 20} and {count * 30} residents but there are 60" in msg
    assert "choose a count from 2 to 3" in msg


def test_fixed_count_cannot_be_shared_among_parts() -> None:
    graph = path_graph(6)
    graph.remove_edge("U2", "U3")  # two parts of 30
    problem = problem_of(graph, 20, 30)
    check_feasible(problem, 2)
    with pytest.raises(InfeasibleError, match="3 areas cannot be shared among 2 separate parts"):
        check_feasible(problem, 3)


def test_keep_together_group_above_max() -> None:
    rules = RulesConfig(keep_together=(("U0", "U1", "U2", "U3"),))
    problem = problem_of(path_graph(6), 20, 30, rules=rules)
    with pytest.raises(InfeasibleError) as info:
        check_feasible(problem, "auto")
    msg = str(info.value)
    assert "rule keep_together/lock: units U0, U1, U2, U3 must share an area but have 40 residents" in msg
    assert "above max_population 30" in msg


def test_lock_group_above_max() -> None:
    rules = RulesConfig(locks=(LockConfig("Town", ("U0", "U1", "U5", "U4")),))
    problem = problem_of(path_graph(6), 20, 30, rules=rules)
    with pytest.raises(InfeasibleError, match="units U0, U1, U4, U5 must share an area but have 40 residents"):
        check_feasible(problem, 2)


def test_keep_apart_contradicts_keep_together() -> None:
    rules = RulesConfig(keep_together=(("U1", "U2"),), keep_apart=(("U2", "U1"),))
    problem = problem_of(path_graph(6), 20, 30, rules=rules)
    with pytest.raises(InfeasibleError, match=r"rule keep_apart \(U2, U1\) contradicts keep_together/lock"):
        check_feasible(problem, "auto")


def test_keep_apart_contradicts_lock() -> None:
    rules = RulesConfig(locks=(LockConfig("Town", ("U0", "U1")),), keep_apart=(("U0", "U1"),))
    problem = problem_of(path_graph(6), 20, 30, rules=rules)
    with pytest.raises(InfeasibleError, match=r"rule keep_apart \(U0, U1\) contradicts"):
        check_feasible(problem, 2)


def test_keep_together_contradicts_two_locks() -> None:
    rules = RulesConfig(
        locks=(LockConfig("North", ("U0",)), LockConfig("South", ("U2",))), keep_together=(("U0", "U1", "U2"),)
    )
    problem = problem_of(path_graph(6), 20, 30, rules=rules)
    with pytest.raises(InfeasibleError, match=r"locked to different areas \('North', 'South'\)"):
        check_feasible(problem, "auto")


def test_keep_together_across_districts_with_nest_in() -> None:
    graph = grid_graph(2, 3)
    district = {cell(r, c): ("D1" if c < 2 else "D2") for r in range(2) for c in range(3)}
    together = RulesConfig(nest_in="district", keep_together=((cell(0, 1), cell(0, 2)),))
    problem = problem_of(graph, 20, 40, district_of=district, rules=together)
    with pytest.raises(InfeasibleError, match='contradicts nest_in = "district"'):
        check_feasible(problem, "auto")
    # Without nest_in the same group is fine.
    free = RulesConfig(keep_together=((cell(0, 1), cell(0, 2)),))
    check_feasible(problem_of(graph, 20, 40, district_of=district, rules=free), "auto")


def test_more_locks_than_count() -> None:
    rules = RulesConfig(locks=(LockConfig("A", ("U0",)), LockConfig("B", ("U2",)), LockConfig("C", ("U4",))))
    problem = problem_of(path_graph(6), 20, 30, rules=rules)
    check_feasible(problem, 3)
    with pytest.raises(InfeasibleError, match="rule lock names 3 areas but count = 2"):
        check_feasible(problem, 2)


def test_first_reason_wins() -> None:
    # Both a too-big unit and a too-small part: the unit is reported (checked first).
    graph = nx.Graph()
    graph.add_node("BIG", population=100)
    graph.add_node("TINY", population=1)
    with pytest.raises(InfeasibleError, match="units BIG each have more residents"):
        check_feasible(problem_of(graph, 20, 30), "auto")


def test_auto_count_part_that_fits_no_count() -> None:
    # Two separate parts of 35 residents, band [20, 30]: each is too big for one area and too
    # small for two, so no plan exists, although the total (70) allows 3 areas.
    graph = path_graph(6, population=[10, 10, 15, 10, 10, 15])
    graph.remove_edge("U2", "U3")
    problem = problem_of(graph, 20, 30)
    with pytest.raises(InfeasibleError, match=r"U3|U0"):
        check_feasible(problem, "auto")
