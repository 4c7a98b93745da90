"""Tests for sda.engine.anneal: the compiled kernel keeps exact totals, contiguity, the band and
the rules, and finds known optima on small graphs."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest
from helpers import (
    area_sets,
    assert_valid_plan,
    cell,
    grids_with_a_known_plan,
    labels_from,
    left_right_halves,
    path_graph,
    problem_graph,
    problem_of,
    ruled_grid,
    two_pcn_grid,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sda.config import ObjectiveConfig
from sda.engine.anneal import AnnealState
from sda.engine.construct import construct
from sda.objective import area_costs, score_labels, stats_of
from sda.problem import Problem


def assert_totals_exact(state: AnnealState) -> None:
    """Every incrementally kept total equals a fresh recount of the current labels."""
    p = state.problem
    fresh = stats_of(p, state.labels, state.k)
    assert state.pop.tolist() == fresh.pop.tolist()
    if p.n_pcn:
        assert state.pcn_pop.tolist() == fresh.pcn_pop.tolist()
        assert state.pcn_max.tolist() == fresh.pcn_pop.max(axis=1).tolist()
    assert state.dist_pop.tolist() == fresh.district_pop.tolist()
    assert state.n_dist.tolist() == (fresh.district_pop > 0).sum(axis=1).tolist()
    assert state.ext == pytest.approx(fresh.ext_cut, abs=1e-6)
    assert state.size.tolist() == np.bincount(state.labels, minlength=state.k).tolist()
    assert state.moved.tolist() == fresh.moved_pop.tolist()
    assert state.cost == pytest.approx(area_costs(p, fresh, state.target, state.k), abs=1e-12)


def assert_contiguous(problem: Problem, labels: np.ndarray) -> None:
    """Every area connected (the band is not checked: the soft band lets it go)."""
    graph = problem_graph(problem)
    for a in np.unique(labels):
        assert nx.is_connected(graph.subgraph(np.flatnonzero(labels == a).tolist()))


def rows_plan(problem: Problem) -> np.ndarray:
    """The two_pcn_grid split into its two rows: valid, coterminosity 0.5."""
    return labels_from(problem, {c: int(c[1]) for c in problem.codes})


def anneal(
    state: AnnealState, seed: int, steps: int, *, hot: float = 0.01, band: float = 1.0, piece: float = 0.3
) -> None:
    state.run(np.random.default_rng(seed), steps, (hot, hot / 100), (band, band * 50), piece)


# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize("piece_share", [0.0, 0.3])
def test_finds_the_halves_on_two_pcn_grid(piece_share: float) -> None:
    problem = two_pcn_grid()
    state = AnnealState(problem, rows_plan(problem), 60.0)
    anneal(state, 0, 20_000, piece=piece_share)
    labels, cost = state.best_assignment()
    assert area_sets(problem, labels) == area_sets(problem, left_right_halves(problem))
    assert cost == pytest.approx(score_labels(problem, labels, 60.0)["objective"])


def test_greedy_move_takes_the_one_improving_unit() -> None:
    # U0-U5 in a line, 10 each, band [20, 40]; PCN A = U0-U2, B = U3-U5. Start [0,0,0,0 | 1,1]:
    # U3 (PCN B) in the A area is the only improving move; at temperature 0 it must be taken.
    pcn = {f"U{i}": ("A" if i < 3 else "B") for i in range(6)}
    problem = problem_of(path_graph(6), 20, 40, pcn_of=pcn)
    state = AnnealState(problem, np.array([0, 0, 0, 0, 1, 1]), 30.0)
    state.run(np.random.default_rng(0), 500, (0.0, 0.0), (0.0, 0.0), 0.0)
    assert state.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert_totals_exact(state)


def test_hard_band_is_never_left() -> None:
    # Band [30, 30] on a line of six 10s: the start is the only valid 2-area plan, so nothing moves.
    problem = problem_of(path_graph(6), 30, 30, pcn_of={f"U{i}": "AB"[i % 2] for i in range(6)})
    state = AnnealState(problem, np.array([0, 0, 0, 1, 1, 1]), 30.0)
    state.run(np.random.default_rng(1), 5_000, (1.0, 1.0), (0.0, 0.0), 0.5)
    assert state.labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_a_unit_never_leaves_its_area_empty_or_cut() -> None:
    # A line: the middle unit of an area can never leave (it would cut the area in two).
    problem = problem_of(path_graph(7), 1, 100)
    state = AnnealState(problem, np.array([0, 0, 0, 1, 1, 1, 1]), 35.0)
    anneal(state, 3, 20_000, hot=10.0)
    assert_contiguous(problem, state.labels)
    assert set(state.labels.tolist()) == {0, 1}


# --------------------------------------------------------------------------- rules


def test_rules_hold_through_a_hot_run() -> None:
    problem, start = ruled_grid()
    at = {c: i for i, c in enumerate(problem.codes)}
    for seed in range(3):
        state = AnnealState(problem, start, 40.0)
        for _ in range(20):
            anneal(state, seed, 500, hot=1.0)
            lab = state.labels
            assert lab[at[cell(0, 0)]] == start[at[cell(0, 0)]]  # grouped units move only by recombination
            assert lab[at[cell(3, 3)]] == start[at[cell(3, 3)]]  # locked
            assert lab[at[cell(1, 2)]] != lab[at[cell(2, 2)]]  # kept apart
        assert_totals_exact(state)


# --------------------------------------------------------------------------- bookkeeping


@settings(max_examples=30, deadline=None)
@given(
    instance=grids_with_a_known_plan(),
    seed=st.integers(0, 10_000),
    piece=st.sampled_from([0.0, 0.5, 1.0]),
    previous=st.booleans(),
    cut_measure=st.sampled_from(["length", "links"]),
)
def test_property_totals_exact_and_areas_connected(
    instance: tuple[nx.Graph, dict[str, str], int, int, int], seed: int, piece: float, previous: bool, cut_measure: str
) -> None:
    """After any run, hot or cold, soft or hard band, with or without a previous plan, the cut
    term counting metres or links: totals equal a recount, every area is connected, and the best
    state is valid with the objective it claims (the kernel's running totals against the
    pure-Python recount of ``sda.objective``)."""
    graph, pcn, min_pop, max_pop, k = instance
    borders = np.random.default_rng(seed).integers(1, 1000, graph.number_of_edges())
    for (u, v), border in zip(sorted(graph.edges), borders, strict=True):
        graph.edges[u, v]["border_m"] = float(border)  # unequal, so the two measures differ
    district = {code: ("D1" if code < "R2" else "D2") for code in graph.nodes}
    problem = problem_of(graph, min_pop, max_pop, pcn_of=pcn, district_of=district, cut_measure=cut_measure)
    start = construct(problem, k, np.random.default_rng(seed), attempts=3, max_trees=400)
    assume(start is not None)
    if previous:  # a random previous plan, some units without one: the moved term is on
        problem = problem.with_previous(np.random.default_rng(seed).integers(-1, k, problem.n))
    target = problem.total_pop / k
    state = AnnealState(problem, start, target)
    rng = np.random.default_rng(seed)
    for temperature, band in [(0.05, 0.5), (0.001, 5.0), (0.0, 0.0)]:
        state.run(rng, 3_000, (temperature, temperature), (band, band), piece)
        assert_totals_exact(state)
        assert_contiguous(problem, state.labels)
    labels, cost = state.best_assignment()
    assert_valid_plan(problem, labels, k)
    assert cost == pytest.approx(score_labels(problem, labels, target)["objective"], abs=1e-12)
    assert cost <= score_labels(problem, start, target)["objective"] + 1e-12


def test_same_seed_same_result() -> None:
    problem = two_pcn_grid()
    runs = []
    for _ in range(2):
        state = AnnealState(problem, rows_plan(problem), 60.0)
        anneal(state, 7, 3_000)
        runs.append(state.labels.tolist())
    assert runs[0] == runs[1]


def test_load_keeps_the_best() -> None:
    problem = two_pcn_grid()
    state = AnnealState(problem, left_right_halves(problem), 60.0)
    best_cost = state.total_cost
    state.load(rows_plan(problem))  # a worse state from outside the kernel
    labels, cost = state.best_assignment()
    assert cost == pytest.approx(best_cost)
    assert labels.tolist() == left_right_halves(problem).tolist()


# --------------------------------------------------------------------------- previous plan


def test_moved_term_keeps_an_unchanged_previous_plan() -> None:
    # The halves are optimal; with them as the previous plan, a hot run may wander but the best
    # state (in band) is the previous plan itself, nothing moved.
    problem = two_pcn_grid()
    halves = left_right_halves(problem)
    state = AnnealState(problem.with_previous(halves), halves, 60.0)
    anneal(state, 2, 20_000)
    labels, cost = state.best_assignment()
    assert labels.tolist() == halves.tolist()
    assert cost == pytest.approx(score_labels(problem, halves, 60.0)["objective"])


def test_moved_term_prices_each_resident_moved() -> None:
    # From the rows plan (previous), the halves gain coterminosity 0.5 but move half the
    # residents: with moved weighted 2.0 the kernel must stay; with 0.1 it must go.
    problem = two_pcn_grid()
    rows = rows_plan(problem)
    for weight, stays in ((2.0, True), (0.1, False)):
        weighted = dataclasses.replace(problem, weights=ObjectiveConfig(moved=weight))
        state = AnnealState(weighted.with_previous(rows), rows, 60.0)
        anneal(state, 0, 20_000, piece=0.3)
        labels, _ = state.best_assignment()
        moved = int(problem.pop[labels != rows].sum())
        assert (moved == 0) == stays, (weight, moved)


def test_cap_on_residents_moved_holds_at_every_step() -> None:
    # Cap 10% of 120 residents = 12, i.e. one unit of 10: no state ever moves two.
    problem = two_pcn_grid()
    rows = rows_plan(problem)
    capped = problem.with_previous(rows, max_moved_share=0.1)
    state = AnnealState(capped, rows, 60.0)
    for seed in range(5):
        anneal(state, seed, 2_000, hot=1.0)
        assert int(problem.pop[state.labels != rows].sum()) <= 12
        assert_totals_exact(state)
    labels, _ = state.best_assignment()
    assert int(problem.pop[labels != rows].sum()) <= 12


def test_frozen_units_never_move() -> None:
    problem = two_pcn_grid()
    rows = rows_plan(problem)
    frozen = np.zeros(problem.n, dtype=bool)
    frozen[[0, 5, 6, 11]] = True
    held = problem.with_previous(np.full(problem.n, -1), frozen=frozen)
    state = AnnealState(held, rows, 60.0)
    anneal(state, 1, 20_000, hot=1.0)
    assert state.labels[frozen].tolist() == rows[frozen].tolist()
