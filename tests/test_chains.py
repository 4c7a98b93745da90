"""Tests for directed repair: chains of boundary moves (sda.engine.chains), the local
merge-and-split (repair.rebuild_around), the construction that never backtracks, and the first
plan at a tight count built from them. Small graphs whose in-band plans are known by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
from helpers import assert_valid_plan, cell, grid_graph, labels_from, path_graph, problem_of

from sda.config import LockConfig, RulesConfig
from sda.engine.chains import repair_by_chains
from sda.engine.construct import construct
from sda.engine.repair import loose_then_repair, rebuild_around, repair_directed
from sda.metrics import area_populations
from sda.problem import Problem


def _line(problem: Problem, areas: list[int]) -> np.ndarray:
    return labels_from(problem, {f"U{i}": a for i, a in enumerate(areas)})


def _outside(problem: Problem, labels: np.ndarray) -> int:
    pops = area_populations(labels, problem.pop, int(labels.max()) + 1)
    return int((np.maximum(problem.min_pop - pops, 0) + np.maximum(pops - problem.max_pop, 0)).sum())


def test_a_short_area_takes_a_unit_from_a_neighbour_with_room() -> None:
    # Nine units of 10 in a line, band [30, 30]: 20 | 40 | 30 becomes 30 | 30 | 30 by one move.
    problem = problem_of(path_graph(9), 30, 30)
    fixed = repair_by_chains(problem, _line(problem, [0, 0, 1, 1, 1, 1, 2, 2, 2]))
    assert fixed.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_a_chain_passes_the_shortfall_through_an_area_in_band() -> None:
    # 20 | 30 | 40: area 1 has no room, so area 0 takes U2 from it and area 1 takes U5 from area 2.
    problem = problem_of(path_graph(9), 30, 30)
    fixed = repair_by_chains(problem, _line(problem, [0, 0, 1, 1, 1, 2, 2, 2, 2]))
    assert fixed.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_an_area_over_the_ceiling_pushes_units_along_a_chain() -> None:
    # 40 | 30 | 20 with band [30, 30]: the mirror image, area 0 pushes U3 on, area 1 pushes U6.
    problem = problem_of(path_graph(9), 30, 30)
    fixed = repair_by_chains(problem, _line(problem, [0, 0, 0, 0, 1, 1, 1, 2, 2]))
    assert fixed.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_a_swap_moves_fewer_residents_than_a_unit() -> None:
    # 2 x 4 grid; columns 0-1 (area 0) are four 10s = 40, columns 2-3 (area 1) hold 12, 12, 10,
    # 10 = 44, band [42, 42]. Any single move leaves one area at 52 or 30: the only fix is a
    # swap, area 0 taking a 12 and giving back a 10, which moves exactly two units.
    pops = [10, 10, 12, 10, 10, 10, 12, 10]  # row-major: R0C0..R0C3, R1C0..R1C3
    problem = problem_of(grid_graph(2, 4, pops), 42, 42)
    start = labels_from(problem, {cell(r, c): int(c >= 2) for r in range(2) for c in range(4)})
    fixed = repair_by_chains(problem, start)
    assert_valid_plan(problem, fixed, 2)
    assert int((fixed != start).sum()) == 2


def test_chains_never_move_locked_or_grouped_units() -> None:
    # 20 | 40 | 30 again, but U2 (the only unit area 0 could take) is locked to area 1's side:
    # no chain exists, and the plan comes back as it was.
    rules = RulesConfig(locks=(LockConfig("Middle", ("U2", "U3")),))
    problem = problem_of(path_graph(9), 30, 30, rules=rules)
    start = _line(problem, [0, 0, 1, 1, 1, 1, 2, 2, 2])
    assert repair_by_chains(problem, start).tolist() == start.tolist()


def test_chains_never_leave_more_residents_outside() -> None:
    # 5 x 5 grids of uneven units (seeded), strips of columns as areas, band [20, 30]: whatever
    # the chains manage, every area stays connected and the residents outside never grow.
    for seed in range(4):
        pops = np.random.default_rng(seed).integers(1, 9, 25).tolist()
        problem = problem_of(grid_graph(5, 5, pops), 20, 30)
        start = labels_from(problem, {cell(r, c): min(c, 3) for r in range(5) for c in range(5)})
        fixed = repair_by_chains(problem, start)
        assert _outside(problem, fixed) <= _outside(problem, start)
        assert_valid_plan(_any_band(problem), fixed, 4)


def _any_band(problem: Problem) -> Problem:
    """The same problem with a band so wide that ``assert_valid_plan`` checks contiguity only."""
    return dataclasses.replace(problem, min_pop=0, max_pop=int(problem.pop.sum()))


def test_rebuild_splits_a_merged_pair_into_the_band() -> None:
    # 2 x 6 grid of 10s, band [60, 60]: column 0 (area 0, 20) and columns 1-5 (area 1, 100).
    # Merged, the 120 residents split into two connected areas of 60.
    problem = problem_of(grid_graph(2, 6), 60, 60)
    start = labels_from(problem, {cell(r, c): int(c >= 1) for r in range(2) for c in range(6)})
    for seed in range(3):
        rebuilt = rebuild_around(
            problem, start, area_populations(start, problem.pop, 2), 0, np.random.default_rng(seed)
        )
        assert_valid_plan(problem, rebuilt, 2)


def test_rebuild_gives_up_when_no_neighbourhood_fits() -> None:
    # A line of 10s, band [30, 30], 20 | 20 | 20: every pair and the triple lack residents.
    problem = problem_of(path_graph(6), 30, 30)
    start = _line(problem, [0, 0, 1, 1, 2, 2])
    assert rebuild_around(problem, start, area_populations(start, problem.pop, 3), 0, np.random.default_rng(0)) is None


def test_construction_without_backtracking_gives_k_connected_areas_when_the_band_cannot_be_met() -> None:
    # Five 10s in a line, two areas, band [25, 25]: no plan is in band. The exact construction
    # finds none; the tolerant one still gives two connected areas, missing by 5 each.
    problem = problem_of(path_graph(5), 25, 25)
    assert construct(problem, 2, np.random.default_rng(0), attempts=1, max_trees=200) is None
    labels = construct(problem, 2, np.random.default_rng(0), attempts=1, tolerant_trees=3)
    assert labels is not None
    assert sorted(area_populations(labels, problem.pop, 2).tolist()) == [20, 30]
    assert_valid_plan(_any_band(problem), labels, 2)


def test_directed_repair_finds_the_plan_of_a_band_with_no_slack() -> None:
    # 6 x 6 grid of 10s, four areas of exactly 90: from a tolerant construction (areas off by
    # up to a few cells), the directed repair alone lands every area on 90, for every seed.
    problem = problem_of(grid_graph(6, 6), 90, 90)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        start = construct(problem, 4, rng, attempts=1, tolerant_trees=2)
        assert start is not None
        assert_valid_plan(problem, repair_directed(problem, start, rng), 4)


def test_directed_repair_of_strips_on_uneven_units() -> None:
    # 4 x 6 grid, populations 1..24 row-major (300 in all), three areas in [99, 101]: start
    # from three vertical strips of two columns (84, 100, 116) and repair into the band.
    problem = problem_of(grid_graph(4, 6, list(range(1, 25))), 99, 101)
    start = labels_from(problem, {cell(r, c): c // 2 for r in range(4) for c in range(6)})
    assert _outside(problem, start) > 0
    assert_valid_plan(problem, repair_directed(problem, start, np.random.default_rng(0)), 3)


def test_first_plan_at_a_tight_count_is_valid() -> None:
    # 8 x 8 grid of uneven units and a band 1% wide around the mean of 5 areas.
    rng = np.random.default_rng(7)
    pops = rng.integers(5, 15, 64)
    mean = int(pops.sum()) / 5
    problem = problem_of(grid_graph(8, 8, pops.tolist()), int(mean * 0.99), int(np.ceil(mean * 1.01)))
    for seed in range(3):
        assert_valid_plan(problem, loose_then_repair(problem, 5, np.random.default_rng(seed)), 5)
