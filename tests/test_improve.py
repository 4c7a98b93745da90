"""Tests for sda.engine.improve and sda.engine.recombine: the search stays valid, never ends worse,
and finds the known optimum."""

from __future__ import annotations

import time

import networkx as nx
import numpy as np
import pytest
from helpers import (
    assert_valid_plan,
    cell,
    grid_graph,
    grids_with_a_known_plan,
    labels_from,
    left_right_halves,
    path_graph,
    problem_of,
    ruled_grid,
    two_pcn_grid,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sda.engine.anneal import AnnealState
from sda.engine.construct import construct
from sda.engine.improve import Schedule, improve, polish
from sda.engine.recombine import Partition
from sda.objective import score_labels
from sda.problem import Problem


def rows_plan(problem: Problem) -> np.ndarray:
    """The two_pcn_grid split into its bottom and top rows: valid, but coterminosity 0.5."""
    return labels_from(problem, {c: int(c[1]) for c in problem.codes})


def quick(problem: Problem, labels: np.ndarray, target: float, seed: int = 0, seconds: float = 0.3):
    return improve(problem, labels, target, np.random.default_rng(seed), deadline=time.monotonic() + seconds)


def patchy_problem() -> Problem:
    """A 4x4 grid, 162 residents in uneven cells, three PCNs in irregular patches; band [40, 60] (3 or 4 areas)."""
    pops = [12, 7, 9, 15, 8, 11, 10, 6, 14, 9, 13, 7, 10, 12, 8, 11]
    pcn_rows = ["AABB", "ACBB", "CCBA", "CCAA"]
    graph = grid_graph(4, 4, population=pops)
    pcn = {cell(r, c): pcn_rows[r][c] for r in range(4) for c in range(4)}
    return problem_of(graph, 40, 60, pcn_of=pcn)


# --------------------------------------------------------------------------- improve()


def test_reaches_full_coterminosity_on_two_pcn_grid() -> None:
    problem = two_pcn_grid()
    start = rows_plan(problem)
    assert score_labels(problem, start, 60.0)["coterminosity"] == pytest.approx(0.5)
    labels, cost = quick(problem, start, 60.0, seconds=0.5)
    assert_valid_plan(problem, labels, 2)
    assert score_labels(problem, labels, 60.0)["coterminosity"] == 1.0
    assert (labels == labels[0]).tolist() == (left_right_halves(problem) == left_right_halves(problem)[0]).tolist()
    assert cost == pytest.approx(0.1 * 2 / 16)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_improve_stays_valid_and_never_worse(seed: int) -> None:
    problem = patchy_problem()
    start = construct(problem, 3, np.random.default_rng(seed), pcn_surcharge=0.0, greed=0.0)
    assert_valid_plan(problem, start, 3)
    before = score_labels(problem, start, 50.0)["objective"]
    labels, cost = quick(problem, start.copy(), 50.0, seed=seed, seconds=0.2)
    assert_valid_plan(problem, labels, 3)
    assert cost <= before + 1e-12
    # The cost returned is the objective of the labels returned.
    assert cost == pytest.approx(score_labels(problem, labels, 50.0)["objective"])


def test_improve_does_not_modify_input() -> None:
    problem = two_pcn_grid()
    start = rows_plan(problem)
    kept = start.copy()
    quick(problem, start, 60.0, seconds=0.1)
    assert start.tolist() == kept.tolist()


def test_improve_with_expired_deadline_returns_valid_plan() -> None:
    problem = two_pcn_grid()
    start = rows_plan(problem)
    labels, cost = improve(problem, start, 60.0, np.random.default_rng(0), deadline=time.monotonic() - 1)
    assert_valid_plan(problem, labels, 2)
    assert cost <= score_labels(problem, start, 60.0)["objective"] + 1e-12


def test_improve_without_band_slack_stays_valid() -> None:
    problem = patchy_problem()
    start = construct(problem, 4, np.random.default_rng(1))
    labels, cost = improve(
        problem,
        start,
        40.0,
        np.random.default_rng(1),
        deadline=time.monotonic() + 0.15,
        schedule=Schedule(band_price=0.0, band_price_end=0.0),
    )
    assert_valid_plan(problem, labels, 4)
    assert cost <= score_labels(problem, start, 40.0)["objective"] + 1e-12


def test_improve_keeps_rules() -> None:
    problem, start = ruled_grid()  # 4 areas of 3-5 cells; the start is the four rows
    for seed in range(3):
        labels, _ = quick(problem, start, 40.0, seed=seed, seconds=0.2)
        assert_valid_plan(problem, labels, 4)
        at = {c: labels[i] for i, c in enumerate(problem.codes)}
        assert at[cell(0, 0)] == at[cell(0, 1)]
        assert at[cell(1, 2)] != at[cell(2, 2)]


# --------------------------------------------------------------------------- Partition


def test_partition_totals_match_fresh_scores() -> None:
    problem = patchy_problem()
    labels = construct(problem, 3, np.random.default_rng(0))
    part = Partition(problem, labels, 50.0)
    assert part.k == 3
    assert part.pop.tolist() == np.bincount(labels, weights=problem.pop).astype(int).tolist()
    assert part.total_cost == pytest.approx(score_labels(problem, labels, 50.0)["objective"])
    assert part.in_band
    # Built from the annealing state's totals (as improve does) it is the same partition.
    shared = Partition(problem, labels, 50.0, AnnealState(problem, labels, 50.0).stats())
    for name in ("pop", "pcn_pop", "district_pop", "moved"):
        assert getattr(shared, name).tolist() == getattr(part, name).tolist()
    assert shared.ext == pytest.approx(part.ext)
    assert shared.cost == pytest.approx(part.cost, abs=1e-15)


def test_neighbour_pairs() -> None:
    p = problem_of(path_graph(6), 1, 100)
    part = Partition(p, np.array([0, 0, 1, 1, 2, 2]), 20.0)
    assert part.neighbour_pairs().tolist() == [[0, 1], [1, 2]]


def test_recombine_finds_halves_and_stays_valid() -> None:
    problem = two_pcn_grid()
    part = Partition(problem, rows_plan(problem), 60.0)
    rng = np.random.default_rng(0)
    before = part.total_cost
    for _ in range(30):
        part.recombine(0, 1, rng, trees=8)
        assert_valid_plan(problem, part.labels, 2)
    assert part.total_cost < before
    assert part.total_cost == pytest.approx(score_labels(problem, part.labels, 60.0)["objective"])


def test_step_budget_is_clock_free() -> None:
    problem = patchy_problem()
    start = construct(problem, 3, np.random.default_rng(4))
    runs = [
        improve(problem, start, 50.0, np.random.default_rng(4), deadline=time.monotonic() - 1, steps=20_000)
        for _ in range(2)
    ]
    assert runs[0][0].tolist() == runs[1][0].tolist()
    assert_valid_plan(problem, runs[0][0], 3)


def test_polish_reaches_a_local_optimum_from_rows() -> None:
    problem = two_pcn_grid()
    labels, cost = polish(problem, rows_plan(problem), 60.0, np.random.default_rng(0))
    assert_valid_plan(problem, labels, 2)
    # From the rows, recombination alone can reach the halves; greedy moves cannot get worse.
    assert cost <= score_labels(problem, rows_plan(problem), 60.0)["objective"]
    assert cost == pytest.approx(score_labels(problem, labels, 60.0)["objective"])


# --------------------------------------------------------------------------- property


@settings(max_examples=20, deadline=None)
@given(instance=grids_with_a_known_plan(), seed=st.integers(0, 1000))
def test_property_improve_valid_and_never_worse(
    instance: tuple[nx.Graph, dict[str, str], int, int, int], seed: int
) -> None:
    """From any valid start on a random grid, improve returns a valid plan no worse than it."""
    graph, pcn, min_pop, max_pop, k = instance
    problem = problem_of(graph, min_pop, max_pop, pcn_of=pcn)
    start = construct(problem, k, np.random.default_rng(seed), attempts=3, max_trees=400)
    assume(start is not None)
    target = problem.total_pop / k
    before = score_labels(problem, start, target)["objective"]
    labels, cost = quick(problem, start, target, seed=seed, seconds=0.05)
    assert_valid_plan(problem, labels, k)
    assert cost <= before + 1e-12
    assert cost == pytest.approx(score_labels(problem, labels, target)["objective"])
