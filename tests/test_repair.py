"""Tests for sda.engine.repair: plans outside the band are moved into it, contiguous, or the
repair says it could not."""

from __future__ import annotations

import numpy as np
from helpers import assert_valid_plan, grid_graph, path_graph, problem_of, two_pcn_grid

from sda.config import ObjectiveConfig
from sda.engine.repair import loose_then_repair, repair_band


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
