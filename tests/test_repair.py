"""Tests for sda.engine.repair: plans outside the band are moved into it, contiguous, or the
repair says it could not."""

from __future__ import annotations

import time

import numpy as np
import pytest
from helpers import assert_valid_plan, cell, grid_graph, labels_from, path_graph, problem_of, two_pcn_grid

from sda.config import ObjectiveConfig
from sda.engine.repair import compact_labels, loose_then_repair, repair_band, repair_contiguity, repair_plan
from sda.errors import InfeasibleError


def test_repairs_a_lopsided_line() -> None:
    # Six units of 10 in a line, band [30, 30]: the only valid 2-area plan is 3 + 3.
    problem = problem_of(path_graph(6), 30, 30)
    labels = repair_band(problem, np.array([0, 1, 1, 1, 1, 1]), 30.0, np.random.default_rng(0))
    assert labels is not None
    assert labels.tolist() in ([0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0])


def test_a_plan_in_band_comes_back_unchanged() -> None:
    problem = two_pcn_grid()
    start = np.array([0] * 6 + [1] * 6)  # the two rows: 60 and 60, in [50, 70]
    assert repair_band(problem, start, 60.0, np.random.default_rng(0)).tolist() == start.tolist()


def test_impossible_band_gives_none() -> None:
    # Units of 10 and a band [25, 25]: no area can ever hold 25.
    problem = problem_of(path_graph(4), 25, 25)
    assert repair_band(problem, np.array([0, 0, 1, 1]), 20.0, np.random.default_rng(0), max_steps=100_000) is None


def test_loose_then_repair_stops_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # Constructions that never give a plan: every way is tried in turn, unless the deadline has
    # passed (then only the first construction, itself told the deadline).
    import sda.engine.repair as repair_module

    problem = problem_of(grid_graph(6, 6), 90, 90)
    calls: list[float] = []

    def never(*args: object, **kwargs: object) -> None:
        calls.append(float(kwargs.get("deadline", float("inf"))))  # type: ignore[arg-type]

    monkeypatch.setattr(repair_module, "construct", never)
    assert loose_then_repair(problem, 4, np.random.default_rng(0), attempts=3) is None
    assert len(calls) == 1 + 3  # the tolerant construction, then the loose ones
    calls.clear()
    passed = time.monotonic() - 1.0
    assert loose_then_repair(problem, 4, np.random.default_rng(0), attempts=3, deadline=passed) is None
    assert calls == [passed]


def test_loose_then_repair_packs_a_tight_grid() -> None:
    # 6 x 6 grid of 10s, 4 areas of exactly 90: no slack at all.
    problem = problem_of(grid_graph(6, 6), 90, 90)
    for seed in range(3):
        labels = loose_then_repair(problem, 4, np.random.default_rng(seed), slack=0.2)
        assert_valid_plan(problem, labels, 4)


def test_heavy_weights_do_not_stop_the_repair() -> None:
    # The repair's band price scales with the objective's weights (sda.objective.weight_scale).
    heavy = ObjectiveConfig(pcn=1.0, cut_border=30.0)
    problem = problem_of(grid_graph(6, 6), 90, 90, weights=heavy)
    for seed in range(3):
        assert_valid_plan(problem, loose_then_repair(problem, 4, np.random.default_rng(seed), slack=0.2), 4)


# --------------------------------------------------------------------------- given plans


def test_contiguity_keeps_the_most_populous_piece() -> None:
    # A line of 6 (10 each but U5 = 30): area 0 holds U0-U1 (20) and U5 (30), area 1 U2-U4.
    # The larger piece of area 0 is U5, so U0 and U1 leave it: they join area 1 (their only
    # neighbour), and area 0 is U5 alone.
    problem = problem_of(path_graph(6, population=[10, 10, 10, 10, 10, 30]), 1, 100)
    fixed = repair_contiguity(problem, np.array([0, 0, 1, 1, 1, 0]))
    assert fixed.tolist() == [1, 1, 1, 1, 1, 0]


def test_contiguity_of_a_valid_plan_is_left_alone() -> None:
    problem = two_pcn_grid()
    halves = np.array([0, 0, 0, 1, 1, 1] * 2)
    assert repair_contiguity(problem, halves).tolist() == halves.tolist()


def test_contiguity_refuses_to_move_a_frozen_unit() -> None:
    problem = problem_of(path_graph(6), 1, 100)
    frozen = np.zeros(6, dtype=bool)
    frozen[5] = True
    held = problem.with_previous(np.full(6, -1), frozen=frozen)
    with pytest.raises(InfeasibleError, match="U5 are held in their area but cut off"):
        repair_contiguity(held, np.array([0, 0, 1, 1, 1, 0]))


def test_repair_plan_moves_the_fewest_residents() -> None:
    # 6 x 6 grid of 10s, band [100, 140]: column 0 (60) is 40 short and columns 1-3 (180) 40
    # over; every valid plan moves at least 4 cells, and the repair moves exactly that many.
    problem = problem_of(grid_graph(6, 6), 100, 140)
    start = labels_from(problem, {cell(r, c): (0 if c < 1 else 1 if c < 4 else 2) for r in range(6) for c in range(6)})
    assert np.bincount(start, weights=problem.pop).tolist() == [60.0, 180.0, 120.0]
    for seed in range(3):
        fixed = repair_plan(problem, start, 120.0, np.random.default_rng(seed))
        assert_valid_plan(problem, fixed, 3)
        assert int((fixed != start).sum()) == 4


def test_compact_labels_renumbers_areas_and_previous_alike() -> None:
    problem = problem_of(path_graph(4), 1, 100).with_previous(np.array([0, 2, 2, 5]))
    renumbered, labels = compact_labels(problem, np.array([2, 2, 5, 5]))
    assert labels.tolist() == [0, 0, 1, 1]
    # Old area 2 is now 0 and 5 is 1; old area 0 (no unit now) gets a number above 1.
    assert renumbered.previous.tolist()[1:] == [0, 0, 1]
    assert renumbered.previous[0] >= 2
