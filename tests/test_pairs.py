"""Tests for sda.engine.pairs: paired moves keep areas in band where no single move can, keep
exact totals, contiguity and the rules. Small graphs whose answers are known by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import area_sets, cell, grid_graph, labels_from, path_graph, problem_of, ruled_grid
from test_anneal import assert_contiguous, assert_totals_exact

from sda.engine.anneal import AnnealState
from sda.engine.improve import Schedule, improve
from sda.engine.pairs import run_pairs
from sda.problem import Problem


def _square(min_pop: int, max_pop: int) -> tuple[Problem, np.ndarray]:
    """2 x 2 grid of 10, 11 / 11, 10 residents; PCN A is column 0, B column 1. The start is one
    area per row (21 residents each, coterminosity 21/42); the columns are the optimum."""
    problem = problem_of(
        grid_graph(2, 2, [10, 11, 11, 10]),
        min_pop,
        max_pop,
        pcn_of={cell(r, c): "AB"[c] for r in range(2) for c in range(2)},
    )
    return problem, labels_from(problem, {cell(r, c): r for r in range(2) for c in range(2)})


def _columns(problem: Problem) -> set[frozenset[str]]:
    return {frozenset({cell(0, c), cell(1, c)}) for c in range(2)}


def test_a_swap_keeps_both_areas_at_the_floor_where_no_single_move_can() -> None:
    # Band [20, 40]: any unit leaving a row leaves it at 10 or 11, below the floor, so single
    # moves (hard band, even hot) never change the plan; the pull that swaps R0C1 for R1C0
    # keeps both areas at 21 and makes each a whole PCN.
    problem, start = _square(20, 40)
    single = AnnealState(problem, start, 21.0)
    single.run(np.random.default_rng(0), 5_000, (1.0, 1.0), (0.0, 0.0), 0.5)
    assert single.labels.tolist() == start.tolist()
    paired = AnnealState(problem, start, 21.0)
    assert run_pairs(paired, np.random.default_rng(0), 500, (0.0, 0.0), (0.0, 0.0)) == 1
    assert area_sets(problem, paired.labels) == _columns(problem)
    assert_totals_exact(paired)
    assert paired.best_assignment()[1] == pytest.approx(paired.total_cost)


def test_a_push_keeps_both_areas_under_the_ceiling() -> None:
    # Band [10, 22]: a unit joining the other row takes it to 31 or 32, over the ceiling; the
    # push gives back the other row's unit of the other PCN (a swap), both rows end at 21.
    problem, start = _square(10, 22)
    single = AnnealState(problem, start, 21.0)
    single.run(np.random.default_rng(0), 5_000, (1.0, 1.0), (0.0, 0.0), 0.5)
    assert single.labels.tolist() == start.tolist()
    paired = AnnealState(problem, start, 21.0)
    run_pairs(paired, np.random.default_rng(1), 500, (0.0, 0.0), (0.0, 0.0))
    assert area_sets(problem, paired.labels) == _columns(problem)
    assert_totals_exact(paired)


def test_a_pull_from_a_third_area_with_room() -> None:
    # Seven units of 10 in a line, areas 20 | 20 | 30, band [20, 30]; PCN A = U0-U2, B the rest.
    # U2 (PCN A) sits in the middle area; moving it to area 0 leaves the middle at 10, so the
    # middle must pull U4 from the last area, which has room: 30 | 20 | 20, PCN A whole.
    pcn = {f"U{i}": ("A" if i < 3 else "B") for i in range(7)}
    problem = problem_of(path_graph(7), 20, 30, pcn_of=pcn)
    start = np.array([0, 0, 1, 1, 2, 2, 2])
    single = AnnealState(problem, start, 23.3)
    single.run(np.random.default_rng(0), 5_000, (0.0, 0.0), (0.0, 0.0), 0.0)
    assert single.labels.tolist() == start.tolist()
    paired = AnnealState(problem, start, 23.3)
    run_pairs(paired, np.random.default_rng(0), 2_000, (0.0, 0.0), (0.0, 0.0))
    assert paired.labels.tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert_totals_exact(paired)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hot_pairs_keep_totals_contiguity_and_the_hard_band(seed: int) -> None:
    # 5 x 5 grid of uneven units (seeded), four areas of column strips, band [lo, hi] around them.
    pops = np.random.default_rng(seed).integers(1, 9, 25).tolist()
    graph = grid_graph(5, 5, pops)
    pcn = {cell(r, c): "PQ"[(r + c) % 2] for r in range(5) for c in range(5)}
    problem = problem_of(graph, 1, 200, pcn_of=pcn)
    start = labels_from(problem, {cell(r, c): min(c, 3) for r in range(5) for c in range(5)})
    pops_now = np.bincount(start, weights=problem.pop).astype(int)
    problem = dataclasses.replace(problem, min_pop=int(pops_now.min()), max_pop=int(pops_now.max()))
    state = AnnealState(problem, start, float(pops_now.mean()))
    run_pairs(state, np.random.default_rng(seed), 20_000, (1.0, 0.01), (0.0, 0.0))
    assert_totals_exact(state)
    assert_contiguous(problem, state.labels)
    pops_after = np.bincount(state.labels, weights=problem.pop)
    assert ((pops_after >= problem.min_pop) & (pops_after <= problem.max_pop)).all()
    # With the band priced instead (soft), totals stay exact too.
    run_pairs(state, np.random.default_rng(seed), 20_000, (1.0, 0.01), (0.5, 5.0))
    assert_totals_exact(state)
    assert_contiguous(problem, state.labels)


def test_pairs_keep_the_rules() -> None:
    problem, start = ruled_grid()
    state = AnnealState(problem, start, 40.0)
    rng = np.random.default_rng(3)
    for _ in range(20):
        run_pairs(state, rng, 2_000, (5.0, 5.0), (0.0, 0.0))
        labels = state.labels
        code = {c: i for i, c in enumerate(problem.codes)}
        assert labels[code[cell(0, 0)]] == labels[code[cell(0, 1)]]
        assert labels[code[cell(1, 2)]] != labels[code[cell(2, 2)]]
        assert labels[code[cell(3, 3)]] == start[code[cell(3, 3)]]
    assert_totals_exact(state)


def test_improve_with_pairs_is_seeded_and_finds_the_swap() -> None:
    problem, start = _square(20, 40)
    plan = Schedule(pair_share=0.5, chunk=200, recombinations=0)
    runs = [
        improve(problem, start, 21.0, np.random.default_rng(7), deadline=0.0, steps=2_000, schedule=plan)
        for _ in range(2)
    ]
    assert runs[0][0].tolist() == runs[1][0].tolist()
    assert area_sets(problem, runs[0][0]) == _columns(problem)


def test_a_chain_of_three_when_no_pair_keeps_the_band() -> None:
    # Ten units in a line: areas U0-U2 (30) | U3-U5 (30) | U6-U7 (15 + 15) | U8-U9 (15 + 30),
    # band [30, 50]; PCN A = U0-U3, B the rest. U3 (PCN A) joining area 0 leaves area 1 at 20;
    # its only other neighbour, area 2, cannot spare U6 (it would drop to 15), so no pair works;
    # area 2 taking U8 from area 3 (45, room for 15) in turn does: 40 | 35 | 30 | 30, PCNs whole.
    pops = [10, 10, 10, 10, 10, 10, 15, 15, 15, 30]
    pcn = {f"U{i}": ("A" if i < 4 else "B") for i in range(10)}
    problem = problem_of(path_graph(10, pops), 30, 50, pcn_of=pcn)
    start = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3, 3])
    state = AnnealState(problem, start, 36.25)
    run_pairs(state, np.random.default_rng(0), 5_000, (0.0, 0.0), (0.0, 0.0))
    assert state.labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 3]
    assert_totals_exact(state)
