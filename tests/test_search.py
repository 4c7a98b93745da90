"""Tests for sda.engine.search: counts fixed or chosen, plans valid, same seed gives the same plan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from helpers import (
    area_sets,
    assert_valid_plan,
    cell,
    grid_graph,
    grids_with_a_known_plan,
    labels_from,
    path_graph,
    problem_of,
    two_pcn_grid,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import sda.engine.search as search_module
from sda.config import ObjectiveConfig, RulesConfig
from sda.engine.repair import repair_plan
from sda.engine.search import (
    candidate_counts,
    choose_count,
    combine_by_component,
    describe_count,
    pick_count,
    search,
    target_for,
)
from sda.errors import InfeasibleError
from sda.feasibility import check_feasible
from sda.objective import score_labels
from sda.problem import build_problem


def run(problem, **kwargs):
    options = {"count": "auto", "target": "auto", "seed": 1, "time_limit_s": 0, "starts": 2}
    options.update(kwargs)
    return search(problem, **options)


# --------------------------------------------------------------------------- target_for


def test_target_for() -> None:
    problem = problem_of(path_graph(6), 20, 30)  # 60 residents
    assert target_for(problem, "auto", "auto") == 25.0  # middle of the band
    assert target_for(problem, 3, "auto") == 20.0  # total / count
    assert target_for(problem, 3, 27) == 27.0
    assert target_for(problem, "auto", 22) == 22.0


# --------------------------------------------------------------------------- fixed count


def test_fixed_count_gives_that_many_valid_areas() -> None:
    problem = problem_of(grid_graph(4, 4), 30, 50)
    for k in (4, 5):
        result = run(problem, count=k)
        assert result.count == k
        assert_valid_plan(problem, result.labels, k)
        assert result.screened == {}
        assert len(result.starts) == 1  # no time budget: the first start's plan, no more starts
        assert result.objective == min(result.starts)


def test_objective_is_score_of_labels() -> None:
    problem = two_pcn_grid()
    result = run(problem, count=2)
    assert result.objective == pytest.approx(score_labels(problem, result.labels, 60.0)["objective"])


def test_forced_plan_found() -> None:
    problem = problem_of(path_graph(6), 20, 30)
    labels = run(problem, count=3).labels
    assert labels.tolist() == [labels[0]] * 2 + [labels[2]] * 2 + [labels[4]] * 2
    assert len(set(labels.tolist())) == 3


def ladder(cut_measure: str):
    """A 2 x 4 grid, 10 residents a cell, band [40, 40]: two areas of four cells. The links
    between the rows are short (10 m) and those along them long (1,000 m), so the two rows cut
    40 m of border over four links and the left and right halves 2,000 m over two links; every
    other split cuts a long link and at least three links."""
    graph = grid_graph(2, 4)
    for c in range(4):
        graph.edges[cell(0, c), cell(1, c)]["border_m"] = 10.0
    weights = ObjectiveConfig(pcn=0.0, cut_border=1.0, balance=0.0, district_splits=0.0)
    return build_problem(graph, min_pop=40, max_pop=40, weights=weights, cut_measure=cut_measure)


@pytest.mark.parametrize(
    ("cut_measure", "areas"),
    [
        ("length", [{cell(0, c) for c in range(4)}, {cell(1, c) for c in range(4)}]),  # the rows
        ("links", [{cell(r, c) for r in range(2) for c in (0, 1)}, {cell(r, c) for r in range(2) for c in (2, 3)}]),
    ],
)
def test_cut_measure_decides_the_compact_plan(cut_measure: str, areas: list[set[str]]) -> None:
    problem = ladder(cut_measure)
    result = run(problem, count=2, steps=20_000, starts=2)
    assert area_sets(problem, result.labels) == {frozenset(a) for a in areas}
    scores = score_labels(problem, result.labels, 40.0)
    # The term follows the measure; the reported border and link counts do not depend on it.
    expected = {"length": (0.04, 4, 40 / 6040), "links": (2.0, 2, 2 / 10)}[cut_measure]
    assert (scores["cut_border_km"], scores["cut_edges"], scores["term_cut_border"]) == pytest.approx(expected)


# --------------------------------------------------------------------------- auto count


def test_auto_picks_a_feasible_count() -> None:
    problem = problem_of(grid_graph(4, 4), 30, 50)  # 160 residents: 4 or 5 areas
    messages: list[str] = []
    result = run(problem, progress=messages.append)
    assert result.count in (4, 5)
    assert set(result.screened) <= {4, 5} and result.count in result.screened
    assert result.screened[result.count] == min(result.screened.values())
    assert_valid_plan(problem, result.labels, result.count)
    assert any(m.startswith("chose ") for m in messages)


def halves_grid(min_pop: int, max_pop: int):
    """2 x 6 grid of 10 residents, columns 0-2 PCN ``A`` and 3-5 PCN ``B``, in the given band."""
    pcn = {cell(r, c): ("A" if c < 3 else "B") for r in range(2) for c in range(6)}
    return problem_of(grid_graph(2, 6), min_pop, max_pop, pcn_of=pcn)


def test_auto_count_is_the_known_best_for_every_seed() -> None:
    # 120 residents in [30, 70]: 2, 3 or 4 areas. Two areas of 60 as the PCN halves score
    # coterminosity 1 with the least cut border and balance nearest the target (50): the best.
    problem = halves_grid(30, 70)
    halves = {frozenset(cell(r, c) for r in range(2) for c in cols) for cols in ((0, 1, 2), (3, 4, 5))}
    for seed in (1, 2, 3):
        messages: list[str] = []
        result = run(problem, seed=seed, steps=20_000, progress=messages.append, jobs=1)
        assert result.count == 2
        assert area_sets(problem, result.labels) == halves
        chose = [m for m in messages if m.startswith("chose ")]
        assert len(chose) == 1 and chose[0].startswith("chose 2 areas: ")


def test_count_screening_does_not_depend_on_the_seed() -> None:
    problem = problem_of(grid_graph(4, 4), 30, 50)  # 4 or 5 areas
    picks = [choose_count(problem, 40.0, seed, lambda _m: None) for seed in (1, 2, 7)]
    assert picks[0][0] == picks[1][0] == picks[2][0]
    assert picks[0][1] == picks[1][1] == picks[2][1]
    # ... while the starts still follow the seed.
    one = run(problem, seed=1, starts=2, steps=2_000, jobs=1)
    two = run(problem, seed=2, starts=2, steps=2_000, jobs=1)
    assert one.count == two.count == picks[0][0]
    assert one.screened == two.screened


def test_pick_count_clear_winner_tie_and_equal_distance() -> None:
    # A clear winner wins wherever total / target points.
    assert pick_count({22: 0.130, 24: 0.120, 26: 0.125}, 22.4) == (24, [24])
    # Within COUNT_TIE (1%) of the best: the count nearest total / target.
    assert pick_count({22: 0.1205, 24: 0.1200, 26: 0.125}, 22.4)[0] == 22
    assert sorted(pick_count({22: 0.1205, 24: 0.1200, 26: 0.125}, 22.4)[1]) == [22, 24]
    # Equally near: the smaller count.
    assert pick_count({23: 0.1200, 25: 0.1201}, 24.0)[0] == 23


def test_describe_count_says_which_count_and_why() -> None:
    clear = describe_count({22: 0.130, 24: 0.120}, 24, 22.4)
    assert clear.startswith("chose 24 areas: its screening searches scored best (0.1200; next 22 areas, 0.1300")
    tie = describe_count({22: 0.1205, 24: 0.1200}, 22, 22.4)
    assert tie.startswith("chose 22 areas:") and "within 1% of 24 (0.1200)" in tie and "nearest" in tie
    assert describe_count({5: 0.3}, 5, 4.0) == "chose 5 areas: the only count screened that gave a valid plan"


def test_auto_with_one_possible_count() -> None:
    problem = two_pcn_grid()  # 120 residents in [50, 70]: only 2 areas
    result = run(problem)
    assert result.count == 2
    assert set(result.screened) == {2}


def test_choose_count_raises_when_no_count_works(monkeypatch: pytest.MonkeyPatch) -> None:
    # A star of 4 units, 10 each, band [20, 20]: 2 areas needed, but no two leaves touch.
    # One screening draw is enough to show it (the default 12 take ~20 s here, because the
    # per-count time cap only applies once some plan has been found).
    monkeypatch.setattr("sda.engine.search.SCREEN_DRAWS", 1)
    graph = nx.star_graph(["H", "L1", "L2", "L3"])
    nx.set_node_attributes(graph, 10, "population")
    nx.set_edge_attributes(graph, 1.0, "border_m")
    problem = problem_of(graph, 20, 20)
    # The constructions fail but do not prove it, so the message must not claim infeasibility.
    with pytest.raises(InfeasibleError, match=r"no valid plan was found \(counts tried: 2 of 2-2\)"):
        choose_count(problem, 20.0, 0, lambda _m: None)


def test_fixed_count_with_no_plan_raises() -> None:
    graph = nx.star_graph(["H", "L1", "L2", "L3"])
    nx.set_node_attributes(graph, 10, "population")
    nx.set_edge_attributes(graph, 1.0, "border_m")
    problem = problem_of(graph, 20, 20)
    with pytest.raises(InfeasibleError, match="no valid plan with 2 areas was found"):
        run(problem, count=2, starts=1)


def test_choose_count_draws_are_bounded_when_nothing_found(monkeypatch: pytest.MonkeyPatch) -> None:
    # A count with no plan must cost a bounded number of constructions (at most SCREEN_DRAWS),
    # not run on until some clock or budget is exhausted.
    calls: list[int] = []

    def no_plan(problem: object, k: int, rng: object, *args: object, **kwargs: object) -> None:
        calls.append(k)

    monkeypatch.setattr("sda.engine.search._first_plan", no_plan)
    problem = problem_of(path_graph(6), 20, 30)  # counts 2 and 3
    with pytest.raises(
        InfeasibleError, match=r"no valid plan was found \(counts tried: 2-3 of 2-3\); this does not prove"
    ):
        choose_count(problem, 25.0, 0, lambda _m: None)
    assert sorted(set(calls)) == [2, 3]
    assert 1 <= calls.count(2) <= search_module.SCREEN_DRAWS
    assert 1 <= calls.count(3) <= search_module.SCREEN_DRAWS
    with pytest.raises(InfeasibleError, match="time ran out before a valid plan was found"):
        choose_count(problem, 25.0, 0, lambda _m: None, budget_s=5.0)


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("count", [4, "auto"])
def test_same_seed_same_labels(count: int | str) -> None:
    pcn = {c: ("A" if int(c[3]) < 2 else "B") for c in problem_of(grid_graph(4, 4), 30, 50).codes}
    problem = problem_of(grid_graph(4, 4), 30, 50, pcn_of=pcn)
    first = run(problem, count=count, seed=11)
    again = run(problem, count=count, seed=11)
    assert first.labels.tolist() == again.labels.tolist()
    assert first.objective == again.objective
    assert first.starts == again.starts


def test_different_seeds_can_differ() -> None:
    problem = problem_of(grid_graph(4, 4), 30, 50)
    plans = {tuple(run(problem, count=4, seed=s, starts=1).labels.tolist()) for s in range(6)}
    assert len(plans) > 1


def test_positive_budget_gives_valid_plan() -> None:
    problem = two_pcn_grid()
    messages: list[str] = []
    result = run(problem, count=2, time_limit_s=0.4, progress=messages.append)
    assert_valid_plan(problem, result.labels, 2)
    assert any("improving" in m for m in messages)
    assert score_labels(problem, result.labels, 60.0)["coterminosity"] == 1.0
    assert result.seconds > 0


def test_positive_budget_auto_count_valid() -> None:
    pops = [12, 7, 9, 15, 8, 11, 10, 6, 14, 9, 13, 7, 10, 12, 8, 11]
    problem = problem_of(grid_graph(4, 4, population=pops), 40, 60)
    result = run(problem, time_limit_s=0.3, starts=2, seed=3)
    assert result.count in (3, 4)
    assert_valid_plan(problem, result.labels, result.count)


def test_initial_plan_is_kept_count() -> None:
    problem = two_pcn_grid()
    initial = np.array([int(c[1]) for c in problem.codes])  # bottom row / top row
    result = run(problem, count=2, initial_labels=initial, time_limit_s=0.3)
    assert result.count == 2
    assert len(result.starts) == 1
    assert_valid_plan(problem, result.labels, 2)
    assert result.objective <= score_labels(problem, initial, 60.0)["objective"]


# --------------------------------------------------------------------------- property


@settings(max_examples=25, deadline=None)
@given(instance=grids_with_a_known_plan(), seed=st.integers(0, 1000))
def test_property_search_valid_or_infeasible(
    instance: tuple[nx.Graph, dict[str, str], int, int, int], seed: int
) -> None:
    """A valid plan (the rows) is known to exist, so search must return one: every unit in
    exactly one connected in-band area."""
    graph, pcn, min_pop, max_pop, k = instance
    problem = problem_of(graph, min_pop, max_pop, pcn_of=pcn)
    check_feasible(problem, k)  # the row plan exists, so the checks must pass
    result = search(problem, count=k, target="auto", seed=seed, time_limit_s=0, starts=1)
    assert result.count == k
    assert_valid_plan(problem, result.labels, k)


def test_candidate_counts_are_the_nearest_to_the_balance_count() -> None:
    assert candidate_counts(18, 28, 21.3) == [21, 22, 20, 23, 19, 24, 18, 25, 26, 27, 28]  # all eleven, nearest first
    got = candidate_counts(350, 583, 438.0)
    assert len(got) == 12
    assert got[0] == 438
    assert min(got) >= 350 and max(got) <= 583
    assert all(abs(c - 438) <= 6 for c in got)
    assert candidate_counts(5, 5, 100.0) == [5]


# --------------------------------------------------------------------------- starting plans


def test_unchanged_valid_previous_plan_comes_back_unchanged() -> None:
    # A plan sda made is re-run with unchanged inputs: the result is that plan, nothing moved.
    pops = [12, 7, 9, 15, 8, 11, 10, 6, 14, 9, 13, 7, 10, 12, 8, 11]
    problem = problem_of(
        grid_graph(4, 4, population=pops), 40, 60, pcn_of={cell(r, c): "AB"[c // 2] for r in range(4) for c in range(4)}
    )
    fresh = search(problem, count="auto", target="auto", seed=1, time_limit_s=0, starts=2, steps=20_000)
    for seed in range(3):
        again = search(
            problem.with_previous(fresh.labels),
            count="auto",
            target="auto",
            seed=seed,
            time_limit_s=0,
            starts=1,
            steps=20_000,
            initial_labels=fresh.labels,
        )
        assert again.labels.tolist() == fresh.labels.tolist()
        assert again.objective == pytest.approx(fresh.objective)


def test_start_breaking_the_band_is_repaired_moving_few() -> None:
    # 2 x 6 grid of 10s, band [50, 70]; the start gives one area 4 cells (40): one cell must move.
    problem = two_pcn_grid()
    start = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])  # bottom-left 4 cells / the rest
    assert np.bincount(start, weights=problem.pop).tolist() == [40.0, 80.0]
    messages: list[str] = []
    result = search(
        problem.with_previous(start),
        count=2,
        target="auto",
        seed=0,
        time_limit_s=0,
        starts=1,
        steps=10_000,
        initial_labels=start,
        progress=messages.append,
    )
    assert_valid_plan(problem, result.labels, 2)
    assert any("repairing" in m for m in messages)
    # The search may trade moves for coterminosity afterwards; the repair itself moves one cell.
    repaired = repair_plan(problem, start, 60.0, np.random.default_rng(0))
    assert_valid_plan(problem, repaired, 2)
    assert int((repaired != start).sum()) == 1


def test_start_in_pieces_is_made_contiguous() -> None:
    # A line of 6; area 0 holds units 0-1 and the detached unit 5: unit 5 must join area 1.
    problem = problem_of(path_graph(6), 20, 40)
    start = np.array([0, 0, 1, 1, 1, 0])
    result = search(problem, count=2, target="auto", seed=0, time_limit_s=0, starts=1, steps=0, initial_labels=start)
    assert_valid_plan(problem, result.labels, 2)
    assert result.labels.tolist() == [0, 0, 1, 1, 1, 1]


def test_start_breaking_a_rule_is_refused_naming_it() -> None:
    problem = problem_of(path_graph(6), 20, 40, rules=RulesConfig(keep_apart=(("U0", "U1"),)))
    with pytest.raises(
        InfeasibleError, match="the starting plan breaks a rule: keep_apart U0/U1: in area 1 and area 1"
    ):
        search(
            problem,
            count=2,
            target="auto",
            seed=0,
            time_limit_s=0,
            starts=1,
            initial_labels=np.array([0] * 3 + [1] * 3),
        )


# --------------------------------------------------------------------------- workers


def pcn_halves_grid():
    """A 6 x 6 grid of 10 residents a unit, PCN "A" on its left half and "B" on its right, band
    60-100: the four 3 x 3 quadrants (each inside one PCN) are the best 4-area plan."""
    pcn = {c: ("A" if int(c[3]) < 3 else "B") for c in problem_of(grid_graph(6, 6), 30, 50).codes}
    return problem_of(grid_graph(6, 6), 60, 100, pcn_of=pcn)


def test_same_plan_whatever_the_number_of_workers() -> None:
    # Each start draws from its own child seed, so one worker and two give the same plan.
    problem = pcn_halves_grid()
    one = run(problem, count="auto", seed=5, starts=3, steps=20_000, jobs=1)
    two = run(problem, count="auto", seed=5, starts=3, steps=20_000, jobs=2)
    assert one.labels.tolist() == two.labels.tolist()
    assert one.starts == two.starts
    assert one.screened == two.screened


@pytest.fixture
def improve_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``steps`` of every call of ``improve`` the search makes, in order."""
    seen: list[int] = []
    real = search_module.improve

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(int(kwargs["steps"]))  # type: ignore[call-overload]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(search_module, "improve", spy)
    return seen


def test_tight_counts_get_more_steps(improve_steps: list[int]) -> None:
    # 4 x 4 grid of 10: 4 areas of 40 sit at the band's floor of 40 (tight); 3 areas of about
    # 53 in [40, 80] do not.
    seen = improve_steps
    problem = problem_of(grid_graph(4, 4), 40, 80)
    run(problem, count=4, starts=1, steps=1_000, jobs=1)
    assert seen == [1_000 * search_module.TIGHT_EFFORT]
    seen.clear()
    # Nor is a tight count's budget split for the final phase: each start keeps all its steps.
    run(problem, count=4, starts=2, steps=1_000, jobs=1)
    assert seen == [1_000 * search_module.TIGHT_EFFORT] * 2
    seen.clear()
    run(problem, count=3, starts=1, steps=1_000, jobs=1)
    assert seen == [1_000]


def test_refine_phase_keeps_the_step_budget_and_never_loses_the_best(improve_steps: list[int]) -> None:
    # The final phase re-anneals the best start plans with a share of the budget: the steps of
    # all annealing add up to starts x steps, and the plan returned is the best of all of them.
    assert search_module.REFINE_SHARE > 0
    seen = improve_steps
    problem = halves_grid(20, 70)  # 2-6 areas; 4 is not tight
    said: list[str] = []
    result = run(problem, count=4, starts=4, steps=10_000, jobs=1, progress=said.append)
    refined = search_module.REFINE_PLANS * search_module.REFINE_ROUNDS
    assert len(seen) == 4 + refined
    assert sum(seen) == pytest.approx(4 * 10_000, rel=0.001)
    assert len(result.starts) == 4 + refined
    assert result.objective == min(result.starts)
    assert min(result.starts[4:]) <= min(result.starts[:4])
    # Each refined plan is reported as it ends, so a long final phase is not a silent one.
    reported = [m for m in said if m.startswith("final phase ") and ": objective " in m]
    per_round = search_module.REFINE_PLANS
    assert reported == [
        f"final phase {j % per_round + 1}/{per_round}: objective {cost:.4f}" for j, cost in enumerate(result.starts[4:])
    ]
    assert_valid_plan(problem, result.labels, 4)


def test_starts_that_agree_skip_the_final_phase() -> None:
    # Two PCNs in halves of a 6 x 6 grid of 10 residents, band 60-100: every start ends in the
    # four 3 x 3 quadrants (each inside one PCN), so the steps kept for refining are not spent.
    problem = pcn_halves_grid()
    said: list[str] = []
    result = run(problem, count=4, seed=5, starts=3, steps=20_000, progress=said.append)
    assert len(result.starts) == 3  # no final phase
    assert "the 3 starts ended in the same plan: no final phase" in said
    blocks = [{(u // 6 // 3, u % 6 // 3) for u in np.flatnonzero(result.labels == a)} for a in range(4)]
    assert sorted(len(np.flatnonzero(result.labels == a)) for a in range(4)) == [9, 9, 9, 9]
    assert all(len(b) == 1 for b in blocks)  # each area is one quadrant


def test_on_a_clock_starts_that_agree_end_the_search_early() -> None:
    # The same grid on a 2 s budget, one worker: the starts run one per round; once the first
    # two agree, the other two are not run (the search returns with time to spare).
    problem = pcn_halves_grid()
    said: list[str] = []
    result = run(problem, count=4, seed=5, starts=4, time_limit_s=2.0, jobs=1, progress=said.append)
    assert len(result.starts) == 2
    assert "the 2 starts so far ended in the same plan: the other 2 are not run" in said
    assert_valid_plan(problem, result.labels, 4)


def test_same_groups_form_ignores_the_areas_numbers() -> None:
    a = np.array([2, 2, 0, 1, 1, 0])
    assert search_module.same_groups_form(a).tolist() == [0, 0, 1, 2, 2, 1]
    assert np.array_equal(
        search_module.same_groups_form(a), search_module.same_groups_form(np.array([5, 5, 3, 4, 4, 3]))
    )
    assert not np.array_equal(
        search_module.same_groups_form(a), search_module.same_groups_form(np.array([0, 0, 0, 1, 1, 1]))
    )


def test_one_start_is_not_refined() -> None:
    problem = halves_grid(20, 70)
    result = run(problem, count=3, starts=1, steps=5_000, jobs=1)
    assert len(result.starts) == 1


def test_the_caller_hears_the_count_once_the_starts_are_done_before_the_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # sda propose hands the workers the other counts' trade-offs at that moment, while it pools.
    events: list[object] = []
    real_pool = search_module._pool

    def pool_spy(*args: object, **kwargs: object) -> object:
        events.append("pool")
        return real_pool(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(search_module, "_pool", pool_spy)
    problem = pcn_halves_grid()
    result = run(problem, count="auto", seed=5, starts=3, steps=20_000, starts_done=events.append)
    assert events == [result.count, "pool"]


# In a fresh interpreter: load the kernels on three units, then see whether the shipped
# configs' problems need any kernel compiled or loaded again (a new signature).
_PRELOAD = """
import json, sys
from pathlib import Path
from numba.core.registry import CPUDispatcher
import sda.engine.anneal, sda.engine.pairs, sda.engine.trees, sda.objective
from sda.engine.search import compile_kernels, preload_kernels
from sda.api import load_inputs
from sda.config import load_config

def signatures():
    modules = (sda.engine.anneal, sda.engine.pairs, sda.engine.trees, sda.objective)
    kernels = [(m.__name__, name, f) for m in modules for name, f in vars(m).items() if isinstance(f, CPUDispatcher)]
    return {(module, name): len(f.signatures) for module, name, f in kernels}

problems = [load_inputs(load_config(Path(path))).problem for path in sys.argv[1:]]
preload_kernels()
loaded = signatures()
for problem in problems:
    compile_kernels(problem)
now = signatures()
again = [key[1] for key in now if now[key] != loaded[key]]
print(json.dumps({"loaded": [key[1] for key, n in loaded.items() if n], "again": again}))
"""


def test_kernels_preloaded_on_three_units_serve_the_shipped_problems(repo_root: Path) -> None:
    configs = [
        repo_root / "configs" / name
        for name in ("cambridgeshire-peterborough.toml", "cambridgeshire-peterborough-districts.toml")
    ]
    done = subprocess.run(
        [sys.executable, "-c", _PRELOAD, *map(str, configs)], capture_output=True, text=True, cwd=repo_root, check=True
    )
    seen = json.loads(done.stdout)
    # The kernels a search enters by (the others are compiled into them) were loaded on three units ...
    assert {"_anneal", "_cost_all", "_local_edges", "_spanning_tree"} <= set(seen["loaded"])
    assert seen["again"] == []  # ... with the signatures the real problems call them with


# --------------------------------------------------------------------------- unlinked groups


def two_districts(min_pop: int = 20, max_pop: int = 20):
    """A 2 x 4 grid, 10 residents a cell, nested in districts D1 (columns 0-1) and D2 (columns
    2-3), so each district is an unlinked 2 x 2 block. PCN A is D1's top row, B its bottom
    row, C D2's top row and D its bottom row: the rows of each block are coterminous."""
    graph = grid_graph(2, 4)
    district = {cell(r, c): ("D1" if c < 2 else "D2") for r in range(2) for c in range(4)}
    pcn = {cell(r, c): "ABCD"[2 * (c >= 2) + r] for r in range(2) for c in range(4)}
    return problem_of(graph, min_pop, max_pop, pcn_of=pcn, district_of=district, rules=RulesConfig(nest_in="district"))


def test_combine_by_component_takes_each_districts_better_half() -> None:
    problem = two_districts()
    rows = {cell(r, c): 2 * (c >= 2) + r for r in range(2) for c in range(4)}  # the rows: all coterminous
    columns = {cell(r, c): c for r in range(2) for c in range(4)}
    first = labels_from(problem, {u: (rows if u[3] < "2" else columns)[u] for u in problem.codes})
    second = labels_from(problem, {u: (columns if u[3] < "2" else rows)[u] for u in problem.codes})
    labels, cost = combine_by_component(problem, [first, second], 20.0)
    assert area_sets(problem, labels) == area_sets(problem, labels_from(problem, rows))
    assert cost == pytest.approx(score_labels(problem, labels, 20.0)["objective"])
    assert cost < min(score_labels(problem, p, 20.0)["objective"] for p in (first, second))
    assert score_labels(problem, labels, 20.0)["coterminosity"] == pytest.approx(1.0)


def test_combine_by_component_keeps_the_count() -> None:
    # Band [10, 40], 3 areas: one plan has D1 whole and D2 in two, the other the reverse.
    # Taking D1 from one and D2 from the other would give 2 or 4 areas: only whole plans fit.
    problem = two_districts(10, 40)
    d1_whole = labels_from(problem, {u: (0 if u[3] < "2" else 1 + int(u[1])) for u in problem.codes})
    d2_whole = labels_from(problem, {u: (2 if u[3] >= "2" else int(u[1])) for u in problem.codes})
    labels, cost = combine_by_component(problem, [d1_whole, d2_whole], 80 / 3)
    assert int(labels.max()) + 1 == 3
    assert cost == pytest.approx(min(score_labels(problem, p, 80 / 3)["objective"] for p in (d1_whole, d2_whole)))


def test_combine_by_component_needs_two_components() -> None:
    problem = two_pcn_grid()
    halves = labels_from(problem, {c: (0 if int(c[3]) < 3 else 1) for c in problem.codes})
    assert combine_by_component(problem, [halves, halves], 60.0) is None


def test_a_long_step_budget_is_told_in_words() -> None:
    from sda.engine.search import _duration

    assert [_duration(s) for s in (45, 150, 3_000, 30_000, 2_000_000)] == [
        "45 seconds",
        "2 minutes",
        "50 minutes",
        "8 hours",
        "23 days",
    ]
