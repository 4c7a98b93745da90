"""Tests for sda.engine.pool: the cheapest plan made of areas seen in several plans."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import area_sets, assert_valid_plan, cell, grid_graph, labels_from, problem_of, ruled_grid
from hypothesis import given, settings
from hypothesis import strategies as st

from sda.api import load_inputs
from sda.config import load_config
from sda.engine import pool
from sda.engine.search import SearchResult, rule_breaks, search, target_for
from sda.objective import score_labels
from sda.problem import Problem

DEFAULT = Path(__file__).resolve().parents[1] / "configs" / "cambridgeshire-peterborough.toml"


def column_grid() -> Problem:
    """2 x 4 grid, 10 residents a cell, one PCN per column (A-D), band [20, 20]: four areas of two
    cells. The four columns are the only plan with every resident coterminous."""
    pcn = {cell(r, c): "ABCD"[c] for r in range(2) for c in range(4)}
    return problem_of(grid_graph(2, 4), 20, 20, pcn_of=pcn)


def plan(problem: Problem, areas: list[list[tuple[int, int]]]) -> np.ndarray:
    return labels_from(problem, {cell(r, c): a for a, cells in enumerate(areas) for r, c in cells})


COLUMNS = [[(0, c), (1, c)] for c in range(4)]
# Each plan has two of the four columns right and pairs the other two row by row.
LEFT_RIGHT = [[(0, 0), (1, 0)], [(0, 1), (1, 1)], [(0, 2), (0, 3)], [(1, 2), (1, 3)]]
ROWS_LEFT = [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 2), (1, 2)], [(0, 3), (1, 3)]]


def test_combines_the_right_areas_of_two_plans() -> None:
    problem = column_grid()
    first, second = plan(problem, LEFT_RIGHT), plan(problem, ROWS_LEFT)
    assert score_labels(problem, first, 20)["coterminosity"] == pytest.approx(0.75)
    assert score_labels(problem, second, 20)["coterminosity"] == pytest.approx(0.75)
    best = pool.best_partition(problem, [second], 4, 20.0, first, lambda _labels: True)
    assert best is not None
    assert area_sets(problem, best.labels) == area_sets(problem, plan(problem, COLUMNS))
    scores = score_labels(problem, best.labels, 20)
    assert scores["coterminosity"] == pytest.approx(1.0)
    # The model's cost is the objective itself, term for term.
    assert best.cost == pytest.approx(scores["objective"])
    assert best.cost < score_labels(problem, first, 20)["objective"]


def test_nothing_to_combine_gives_none() -> None:
    problem = column_grid()
    first = plan(problem, LEFT_RIGHT)
    assert pool.best_partition(problem, [first], 4, 20.0, first, lambda _labels: True) is None


def test_a_plan_the_rules_refuse_is_not_returned() -> None:
    problem = column_grid()
    first, second = plan(problem, LEFT_RIGHT), plan(problem, ROWS_LEFT)
    assert pool.best_partition(problem, [second], 4, 20.0, first, lambda _labels: False) is None


def test_areas_out_of_band_or_in_pieces_are_not_candidates() -> None:
    problem = problem_of(grid_graph(2, 4), 20, 30)
    # Area 0 holds R0C0 and R1C3 (two pieces); area 1 has 40 residents (above the band).
    snapshot = plan(problem, [[(0, 0), (1, 3)], [(0, 1), (0, 2), (0, 3), (1, 2)], [(1, 0), (1, 1)]])
    members, costs = pool.candidate_areas(problem, [snapshot], 3, 25.0)
    assert [sorted(problem.codes[i] for i in m) for m in members] == [[cell(1, 0), cell(1, 1)]]
    assert len(costs) == 1


def test_the_shipped_28_area_pool_finds_the_plan_hiding_behind_its_start() -> None:
    """The 1,986 areas the 28-area config's starts saw (seed 1; derived from the shipped data by
    that run, saved in ``tests/data``; the first 28 are the best start's plan). Given that plan
    as starting solution, HiGHS 1.16 with presolve said "Optimal" and gave it back; a better plan
    was there, which HiGHS finds along another path (no presolve, the same start)."""
    import highspy

    saved = np.load(Path(__file__).parent / "data" / "pool_28_areas_seed1.npz")
    offsets, n, k = saved["offsets"], int(saved["n"]), int(saved["k"])
    members = [saved["units"][a:b].astype(np.int64) for a, b in itertools.pairwise(offsets)]
    costs = saved["costs"]
    chosen = pool.choose_areas(members, costs, n, k)
    assert chosen is not None
    assert sorted(np.concatenate([members[j] for j in chosen]).tolist()) == list(range(n))
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")
    for j in range(len(members)):
        h.addVar(0.0, 1.0)
        h.changeColCost(j, float(costs[j]))
        h.changeColIntegrality(j, highspy.HighsVarType.kInteger)
    cover = [[] for _ in range(n)]
    for j, unit_set in enumerate(members):
        for u in unit_set:
            cover[u].append(j)
    for cols in cover:
        h.addRow(1.0, 1.0, len(cols), np.array(cols, dtype=np.int32), np.ones(len(cols)))
    h.addRow(k, k, len(members), np.arange(len(members), dtype=np.int32), np.ones(len(members)))
    start = highspy.HighsSolution()
    start.col_value = [1.0 if j < k else 0.0 for j in range(len(members))]
    start.value_valid = True
    h.setSolution(start)
    h.run()
    assert h.modelStatusToString(h.getModelStatus()) == "Optimal"
    optimum = float(h.getInfo().objective_function_value)
    assert costs[chosen].sum() == pytest.approx(optimum, abs=1e-9)
    assert costs[chosen].sum() < costs[:k].sum() - 1e-3


def partitions(members: list[np.ndarray], n: int, k: int) -> list[tuple[int, ...]]:
    """Every set of ``k`` areas holding each of the ``n`` units once, by brute force."""
    return [
        chosen
        for chosen in itertools.combinations(range(len(members)), k)
        if sorted(np.concatenate([members[j] for j in chosen]).tolist()) == list(range(n))
    ]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(4, 7),
    k=st.integers(2, 3),
    extra=st.integers(3, 12),
    seed=st.integers(0, 2**31 - 1),
)
def test_the_areas_dropped_before_highs_are_in_no_plan_as_cheap_as_the_start(
    n: int, k: int, extra: int, seed: int
) -> None:
    """Reduced-cost fixing against brute force on random small pools: every area of every plan
    that costs no more than the start survives, and the pool's answer is the true optimum."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, n), size=k - 1, replace=False))
    units = rng.permutation(n)
    members = [np.sort(part) for part in np.split(units, cuts)]  # the start: the first k areas
    for _ in range(extra):
        size = int(rng.integers(1, n))
        members.append(np.sort(rng.choice(n, size=size, replace=False)))
    costs = rng.integers(1, 20, size=len(members)).astype(float)
    start_cost = costs[:k].sum()
    kept = set(pool._could_improve(pool._set_partitioning(members, costs, n, k)[0], costs, k).tolist())
    plans = partitions(members, n, k)
    for chosen in plans:
        if costs[list(chosen)].sum() <= start_cost:
            assert set(chosen) <= kept
    best = pool.choose_areas(members, costs, n, k)
    assert best is not None
    assert costs[best].sum() == min(costs[list(chosen)].sum() for chosen in plans)


def test_areas_far_dearer_than_the_lp_are_dropped() -> None:
    """Four units, two areas. The start ({0,1}, {2,3}) costs 2 and the plan ({0,2}, {1,3}) costs
    1, which is also the LP optimum, so the areas {0,3} and {1,2} (10 each) cannot be in any plan
    costing 2 or less."""
    members = [np.array(s) for s in ([0, 1], [2, 3], [0, 2], [1, 3], [0, 3], [1, 2])]
    costs = np.array([1.0, 1.0, 0.5, 0.5, 10.0, 10.0])
    kept = pool._could_improve(pool._set_partitioning(members, costs, 4, 2)[0], costs, 2)
    assert kept.tolist() == [0, 1, 2, 3]
    chosen = pool.choose_areas(members, costs, 4, 2)
    assert chosen is not None
    assert sorted(chosen.tolist()) == [2, 3]


def test_snapshots_on_a_step_budget_are_evenly_spaced() -> None:
    keeper = pool.Snapshots(rounds=100)
    for r in range(100):
        keeper.offer(np.full(3, r))
    assert keeper.every == 3
    assert [int(s[0]) for s in keeper.kept] == list(range(2, 100, 3))


def test_snapshots_on_a_clock_stay_few_and_spread() -> None:
    keeper = pool.Snapshots()
    for r in range(1000):
        keeper.offer(np.full(3, r))
    kept = [int(s[0]) for s in keeper.kept]
    assert pool.SNAPSHOTS_PER_START <= len(kept) < 2 * pool.SNAPSHOTS_PER_START
    gaps = set(np.diff(kept).tolist())
    assert gaps == {keeper.every}
    assert kept[-1] >= 1000 - keeper.every  # the late rounds are kept, not only the early ones


def pooled_search(problem: Problem, count: int, *, seed: int, starts: int, steps: int) -> SearchResult:
    """A step-budget search that ran the pool; its plan is checked valid and keeping every rule."""
    messages: list[str] = []
    result = search(
        problem,
        count=count,
        target="auto",
        seed=seed,
        time_limit_s=0,
        starts=starts,
        steps=steps,
        jobs=1,
        progress=messages.append,
    )
    assert any(m.startswith("pool:") for m in messages)
    assert_valid_plan(problem, result.labels, count)
    assert rule_breaks(problem, result.labels) == []
    return result


def test_shipped_data_pooled_plan_is_valid_and_scored_right() -> None:
    """On the 487 real LSOAs: a short search's pooled plan is valid, keeps every rule, and the
    model's cost is the objective the report gives."""
    problem = load_inputs(load_config(DEFAULT)).problem
    result = pooled_search(problem, 24, seed=3, starts=2, steps=400_000)
    goal = target_for(problem, 24, "auto")
    assert result.objective == pytest.approx(score_labels(problem, result.labels, goal)["objective"])
    assert result.objective <= min(result.starts) + 1e-12
    # What the pool gave goes into the report, which identical runs must repeat byte for byte:
    # its seconds are for the progress line only.
    assert "areas the starts saw" in result.pool
    assert re.search(r"\d s\)", result.pool) is None, result.pool


def test_no_pool_with_a_previous_plan() -> None:
    problem = column_grid()
    assert pool.usable(problem)
    assert not pool.usable(problem.with_previous(plan(problem, COLUMNS)))


def test_every_rule_holds_in_the_pooled_plan() -> None:
    """A grid with a keep-together pair, a keep-apart pair and a locked unit: whatever the pool
    combines, the plan the search returns keeps them all."""
    problem, _ = ruled_grid()
    for seed in (1, 2, 3):
        pooled_search(problem, 4, seed=seed, starts=3, steps=20_000)
