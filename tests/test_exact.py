"""Tests for sda.exact: HiGHS bounds and exact solutions on instances whose optimum is known by hand."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from helpers import (
    assert_valid_plan,
    cell,
    grid_graph,
    labels_from,
    path_graph,
    problem_graph,
    problem_of,
    two_pcn_grid,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from sda import exact
from sda.api import load_inputs
from sda.config import ExactConfig, RulesConfig, load_config
from sda.engine.construct import construct
from sda.exact import (
    aggregate_bound,
    bound_plan,
    component_bound,
    full_model,
    pcn_pieces,
    pieces_bound,
)
from sda.joins import joining_costs
from sda.objective import score_labels
from sda.problem import Problem
from sda.rules import check_rules


def path_with_pcns(pcns: str, min_pop: int = 20, max_pop: int = 30) -> Problem:
    """Path U0..U5 of 10 residents each; ``pcns[i]`` is U{i}'s PCN (``-`` for none)."""
    pcn_of = {f"U{i}": p for i, p in enumerate(pcns) if p != "-"}
    return problem_of(path_graph(len(pcns)), min_pop, max_pop, pcn_of=pcn_of)


def coterminous(problem: Problem, labels: np.ndarray) -> float:
    return score_labels(problem, labels, 1.0)["coterminosity"] * problem.total_pop


# --------------------------------------------------------------------------- aggregate bound


def test_aggregate_bound_small_pcn_loses_its_residents() -> None:
    # PCN A has 10 residents, below the floor of 20: an area it dominates needs 10+ others, so at
    # best A's 10 or 10 of B's are lost. 2 areas of exactly 30: bound 50 of 60.
    problem = path_with_pcns("ABBBBB")
    assert aggregate_bound(problem, 2) == pytest.approx(50.0)
    assert aggregate_bound(problem, 3) == pytest.approx(50.0)


def test_aggregate_bound_large_pcn_loses_residents() -> None:
    # PCN A has 40 residents but areas hold at most 30; with 2 areas of 30 one of them must be
    # B's (20 B + 10 A), so 10 of A's residents are lost: 50 of 60.
    problem = path_with_pcns("AAAABB")
    assert aggregate_bound(problem, 2) == pytest.approx(50.0)


def test_aggregate_bound_single_pcn_is_everyone() -> None:
    assert aggregate_bound(path_with_pcns("AAAAAA"), 2) == pytest.approx(60.0)


def test_aggregate_bound_excludes_units_without_pcn() -> None:
    assert aggregate_bound(path_with_pcns("-AAAAA"), 2) == pytest.approx(50.0)


def test_aggregate_bound_ignores_geography() -> None:
    # A at both ends: geography forbids keeping A together, the aggregate model does not see it.
    assert aggregate_bound(path_with_pcns("ABBBBA", 20, 40), 2) == pytest.approx(60.0)


# --------------------------------------------------------------------------- full model


def test_full_model_solves_two_pcn_grid() -> None:
    problem = two_pcn_grid()
    result, labels = full_model(problem, 2, time_limit_s=20)
    assert result["status"] == "Optimal"
    assert result["primal"] == pytest.approx(120.0)
    assert result["dual_bound"] == pytest.approx(120.0)
    assert_valid_plan(problem, labels, 2)
    assert score_labels(problem, labels, 60.0)["coterminosity"] == 1.0


def test_full_model_sees_geography() -> None:
    # PCN A at both ends of the path, band [20, 40], 2 areas: any 2-area split of a path keeps
    # at most 40 coterminous (e.g. U0-U1 tie 10 + U2-U5 B 30), less than the aggregate 60.
    problem = path_with_pcns("ABBBBA", 20, 40)
    result, labels = full_model(problem, 2, time_limit_s=20)
    assert result["status"] == "Optimal"
    assert result["primal"] == pytest.approx(40.0)
    assert_valid_plan(problem, labels, 2)
    assert coterminous(problem, labels) == pytest.approx(40.0)


def test_full_model_from_start_plan() -> None:
    problem = two_pcn_grid()
    rows = labels_from(problem, {c: int(c[1]) for c in problem.codes})  # coterminosity 0.5
    result, labels = full_model(problem, 2, time_limit_s=20, start_labels=rows)
    assert result["status"] == "Optimal"
    assert result["primal"] == pytest.approx(120.0)
    assert_valid_plan(problem, labels, 2)


def test_full_model_three_areas_on_grid() -> None:
    # 3x3 grid, 10 a cell, band [30, 30]: 3 areas of 3 cells. PCN A is the left column, B the
    # middle, C the right: the three columns are fully coterminous.
    pcn = {cell(r, c): "ABC"[c] for r in range(3) for c in range(3)}
    problem = problem_of(grid_graph(3, 3), 30, 30, pcn_of=pcn)
    result, labels = full_model(problem, 3, time_limit_s=20)
    assert result["status"] == "Optimal"
    assert result["primal"] == pytest.approx(90.0)
    assert_valid_plan(problem, labels, 3)


def test_full_model_contiguity_is_enforced() -> None:
    # PCN A is the opposite corners R0C0 and R2C2 of a 3x3 grid, B the other 7 cells; band
    # [20, 70], 2 areas. A non-contiguous area {R0C0, R2C2} would make everyone coterminous.
    # Contiguously, an area joining both corners holds at least 3 B cells (B dominates), and a
    # corner alone is below the floor, so the best is all 70 B residents: 70 of 90.
    pcn = {cell(r, c): ("A" if (r, c) in ((0, 0), (2, 2)) else "B") for r in range(3) for c in range(3)}
    problem = problem_of(grid_graph(3, 3), 20, 70, pcn_of=pcn)
    result, labels = full_model(problem, 2, time_limit_s=20)
    assert result["status"] == "Optimal"
    assert result["primal"] == pytest.approx(70.0)
    assert_valid_plan(problem, labels, 2)
    assert coterminous(problem, labels) == pytest.approx(70.0)


# --------------------------------------------------------------------------- bound_plan


def test_bound_plan_gap_zero_for_optimal_plan() -> None:
    problem = two_pcn_grid()
    halves = labels_from(problem, {c: (0 if int(c[3]) < 3 else 1) for c in problem.codes})
    out = bound_plan(problem, halves, ExactConfig(time_limit_s=20))
    assert out["plan"] == pytest.approx(1.0)
    assert out["bound"] == pytest.approx(1.0)
    assert out["gap"] == pytest.approx(0.0)
    assert out["full_model"]["status"] == "Optimal"
    assert "exact_labels" not in out


def test_bound_plan_full_model_tightens_aggregate() -> None:
    # The heuristic's forced-looking plan U0-U2 | U3-U5 keeps 40 of 60 and is optimal.
    problem = path_with_pcns("ABBBBA", 20, 40)
    labels = np.array([0, 0, 0, 1, 1, 1])
    out = bound_plan(problem, labels, ExactConfig(time_limit_s=20))
    assert out["plan"] == pytest.approx(40 / 60)
    assert out["aggregate_bound"] == pytest.approx(1.0)
    assert out["bound"] == pytest.approx(40 / 60)
    assert out["gap"] == pytest.approx(0.0)


def test_the_full_model_solves_again_without_its_start_when_highs_answer_does_not_check_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As the pool does (sda.engine.pool.choose_areas): HiGHS's objective must be its solution's.
    problem = two_pcn_grid()
    rows = labels_from(problem, {c: int(c[1]) for c in problem.codes})
    starts: list[bool] = []
    solve = exact._solve

    def watched(*args: object, **kwargs: object) -> object:
        starts.append(len(args) > 8 and args[8] is not None)
        return solve(*args, **kwargs)  # type: ignore[arg-type]

    checks = iter([False])  # the first answer does not check out; the second is not asked
    monkeypatch.setattr(exact, "_solve", watched)
    monkeypatch.setattr(exact, "_answer_checks_out", lambda *_args: next(checks))
    result, labels = full_model(problem, 2, time_limit_s=20, start_labels=rows)
    assert starts == [True, False]
    assert result["status"] == "Optimal" and result["primal"] == pytest.approx(120.0)  # every resident
    assert labels is not None
    assert score_labels(problem, labels, 60.0)["coterminosity"] == 1.0


def test_an_answer_checks_out_only_when_its_objective_is_its_solutions() -> None:
    # Maximise 3a + 2b with a + b <= 1, a and b whole numbers in [0, 1]: a = 1, objective 3.
    cost = np.array([3.0, 2.0])
    rows = sp.coo_matrix(np.array([[1.0, 1.0]]))
    h, result = exact._solve(
        cost, np.zeros(2), np.ones(2), np.array([True, True]), rows, np.array([0.0]), np.array([1.0]), 5.0
    )
    assert result["status"] == "Optimal" and result["primal"] == pytest.approx(3.0)
    assert exact._answer_checks_out(h, cost, result)
    assert not exact._answer_checks_out(h, cost, {**result, "primal": 2.0})  # what HiGHS 1.16 once did


def test_bound_plan_reports_better_exact_plan() -> None:
    problem = two_pcn_grid()
    rows = labels_from(problem, {c: int(c[1]) for c in problem.codes})
    out = bound_plan(problem, rows, ExactConfig(time_limit_s=20))
    assert out["plan"] == pytest.approx(0.5)
    assert out["bound"] == pytest.approx(1.0)
    assert out["gap"] == pytest.approx(0.5)
    assert out["exact_plan_coterminosity"] == pytest.approx(1.0)
    exact = np.array(out["exact_labels"])
    assert_valid_plan(problem, exact, 2)
    assert score_labels(problem, exact, 60.0)["coterminosity"] == pytest.approx(1.0)


@pytest.mark.parametrize("lying", ["full_model", "pieces_bound"])
def test_bound_plan_never_reports_a_bound_below_the_plan(monkeypatch: pytest.MonkeyPatch, lying: str) -> None:
    # HiGHS's presolve has been seen to end "Optimal" below the LP relaxation, handing back the
    # starting plan (sda.engine.pool.choose_areas). A model claiming 30 of 60 against a plan
    # keeping 40 is ignored: the bound reported is the tightest one at or above the plan.
    problem = path_with_pcns("ABBBBA", 20, 40)
    labels = np.array([0, 0, 0, 1, 1, 1])
    if lying == "full_model":
        claim = {"status": "Optimal", "primal": 30.0, "dual_bound": 30.0, "seconds": 0.0}
        monkeypatch.setattr(exact, "full_model", lambda *args, **kwargs: (claim, labels))
        expected, method = 40 / 60, "per PCN piece"
    else:
        monkeypatch.setattr(exact, "pieces_bound", lambda *args, **kwargs: exact.PiecesBound(30.0, 3))
        expected, method = 40 / 60, "full assignment model"
    out = bound_plan(problem, labels, ExactConfig(time_limit_s=20))
    assert out["plan"] == pytest.approx(40 / 60)
    assert out["bound"] == pytest.approx(expected)
    assert out["method"].startswith(method)
    assert out["gap"] >= 0.0
    assert "exact_labels" not in out


def test_bound_plan_skips_full_model_above_max_units() -> None:
    problem = two_pcn_grid()
    rows = labels_from(problem, {c: int(c[1]) for c in problem.codes})
    out = bound_plan(problem, rows, ExactConfig(max_units=5))
    assert out["full_model"] == "skipped: 12 units is above [exact] max_units = 5"
    assert out["bound"] == pytest.approx(out["aggregate_bound"]) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(2))
def test_bound_never_below_plan(seed: int) -> None:
    # HiGHS does not close this 16-unit model quickly; a short limit leaves a dual bound, which
    # must still be a bound.
    pops = [12, 7, 9, 15, 8, 11, 10, 6, 14, 9, 13, 7, 10, 12, 8, 11]
    pcn_rows = ["AABB", "ACBB", "CCBA", "CCAA"]
    pcn = {cell(r, c): pcn_rows[r][c] for r in range(4) for c in range(4)}
    problem = problem_of(grid_graph(4, 4, population=pops), 40, 60, pcn_of=pcn)
    k = 3 + seed % 2
    labels = construct(problem, k, np.random.default_rng(seed))
    out = bound_plan(problem, labels, ExactConfig(time_limit_s=0.5))
    assert out["plan"] == pytest.approx(score_labels(problem, labels, 40.0)["coterminosity"])
    assert out["bound"] >= out["plan"] - 1e-9
    assert out["aggregate_bound"] >= out["bound"] - 1e-9
    assert 0.0 <= out["gap"] <= 1.0
    if "exact_labels" in out:  # a better plan HiGHS found must itself be valid, and within the bound
        exact = np.array(out["exact_labels"])
        assert_valid_plan(problem, exact, k)
        assert out["plan"] < out["exact_plan_coterminosity"] <= out["bound"] + 1e-9
        assert score_labels(problem, exact, 40.0)["coterminosity"] == pytest.approx(out["exact_plan_coterminosity"])


# --------------------------------------------------------------------------- nesting-aware bound


def nested_path(pcns: str) -> Problem:
    """Path U0..U5 of 10 residents, band [30, 30], districts D1 = U0-U2 and D2 = U3-U5, nested."""
    pcn_of = {f"U{i}": p for i, p in enumerate(pcns)}
    district_of = {f"U{i}": ("D1" if i < 3 else "D2") for i in range(6)}
    return problem_of(
        path_graph(6), 30, 30, pcn_of=pcn_of, district_of=district_of, rules=RulesConfig(nest_in="district")
    )


def test_component_bound_knows_districts() -> None:
    # A = U0, U1, U5; B = U2, U3, U4. Ignoring geography, 2 areas of 30 could each be one PCN
    # (bound 60); nested, each district is one area with 20 of its own PCN's residents: 40.
    problem = nested_path("AABBBA")
    assert aggregate_bound(problem, 2) == pytest.approx(60.0)
    bound, components = component_bound(problem, 2)
    assert components == 2
    assert bound == pytest.approx(40.0)
    labels = labels_from(problem, {"U0": 0, "U1": 0, "U2": 0, "U3": 1, "U4": 1, "U5": 1})
    assert coterminous(problem, labels) == pytest.approx(40.0)
    out = bound_plan(problem, labels, ExactConfig(max_units=0))
    assert out["component_bound"] == pytest.approx(40 / 60)
    assert out["bound"] == pytest.approx(40 / 60)
    assert out["gap"] == pytest.approx(0.0)


def test_component_bound_is_the_aggregate_bound_on_one_component() -> None:
    for pcns in ("ABBBBB", "AAAABB", "-AAAAA", "ABABAB"):
        problem = path_with_pcns(pcns)
        assert component_bound(problem, 2)[0] == pytest.approx(aggregate_bound(problem, 2))


def test_component_bound_of_a_count_the_districts_cannot_take_is_zero() -> None:
    # Each 30-resident district is exactly one area: 3 areas do not fit.
    assert component_bound(nested_path("AAABBB"), 3)[0] == 0.0


# --------------------------------------------------------------------------- bound per PCN piece


def test_pcn_pieces_are_connected_runs_of_one_pcn() -> None:
    piece, count = pcn_pieces(path_with_pcns("AABAB-"))
    assert count == 5  # AA, B, A, B, and the unit without a PCN
    assert piece[0] == piece[1] and len({piece[1], piece[2], piece[3], piece[4], piece[5]}) == 5


def test_pieces_bound_knows_a_pcn_in_two_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    # A at both ends of the path (10 each), B between (40), band [20, 40], 2 areas. One area
    # holding both A units would hold all 40 of B between them: 60 > 40, so each A unit is in
    # an area of its own piece or lost. Best the pieces alone allow: all of B in one area (40)
    # and one A unit with 10 other residents (10): 50, where the aggregate model allows 60. The
    # ring cuts add that those 10 can only be B's, walling A in (sda.ring_cuts): 40, the best
    # plan's.
    problem = path_with_pcns("ABBBBA", 20, 40)
    assert pieces_bound(problem, 2) == (pytest.approx(40.0), 3, None)
    out = bound_plan(problem, np.array([0, 0, 0, 1, 1, 1]), ExactConfig(max_units=0))
    assert out["pieces_bound"] == pytest.approx(40 / 60)
    assert out["bound"] == pytest.approx(40 / 60)
    assert out["gap"] == pytest.approx(0.0)
    assert out["method"].startswith("per PCN piece")
    monkeypatch.setattr(exact, "ring_cuts", lambda *_: [])
    assert pieces_bound(problem, 2) == (pytest.approx(50.0), 3, None)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(2, 3),
    cols=st.integers(3, 4),
    data=st.data(),
)
def test_pieces_bound_lies_between_the_optimum_and_the_component_bound(
    rows: int, cols: int, data: st.DataObject
) -> None:
    """Against the full model solved to optimality (an independent formulation): the bound is
    never below the best plan, and never above the per-component bound it refines."""
    n = rows * cols
    pops = data.draw(st.lists(st.integers(1, 19), min_size=n, max_size=n))
    labels = data.draw(st.lists(st.sampled_from("AB-"), min_size=n, max_size=n))  # "-": no PCN
    k = data.draw(st.integers(2, 3))
    mean = sum(pops) / k
    low = int(mean * data.draw(st.floats(0.5, 0.95)))
    high = int(mean * data.draw(st.floats(1.05, 1.6)))
    graph = grid_graph(rows, cols, population=pops)
    pcn = {cell(r, c): labels[r * cols + c] for r in range(rows) for c in range(cols) if labels[r * cols + c] != "-"}
    problem = problem_of(graph, low, high, pcn_of=pcn)
    # The clock is only a guard: proving some of these 12-unit cases infeasible took HiGHS 5 s on a
    # busy machine, and one such case ran past 20 s when two test workers shared the two cores.
    result, _ = full_model(problem, k, time_limit_s=300)
    assert result["status"] in ("Optimal", "Infeasible")
    bound = pieces_bound(problem, k)
    assert bound is not None
    if result["status"] == "Optimal":
        assert bound.residents >= result["primal"] - 1e-6
    # The pieces bound is HiGHS's dual bound, which may sit above the optimum it proved by up to
    # the solver's relative gap (1e-4); the per-component bound is the optimum itself.
    assert bound.residents <= component_bound(problem, k)[0] * (1 + 1e-4) + 1e-6


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(2, 3), cols=st.integers(3, 4), data=st.data())
def test_joining_costs_are_the_cheapest_connected_areas(rows: int, cols: int, data: st.DataObject) -> None:
    """Against every connected set of units of a small grid: the cost of joining a set of one
    PCN's pieces is the fewest other PCNs' residents of any connected set touching each of them
    (a lump counting as touched when any of its pieces is)."""
    n = rows * cols
    pops = data.draw(st.lists(st.integers(1, 19), min_size=n, max_size=n))
    labels = data.draw(st.lists(st.sampled_from("AAB-"), min_size=n, max_size=n))
    graph = grid_graph(rows, cols, population=pops)
    pcn = {cell(r, c): labels[r * cols + c] for r in range(rows) for c in range(cols) if labels[r * cols + c] != "-"}
    problem = problem_of(graph, 1, sum(pops), pcn_of=pcn)
    piece, _ = pcn_pieces(problem)
    connected = [
        set(units)
        for size in range(1, n + 1)
        for units in itertools.combinations(range(n), size)
        if nx.is_connected(problem_graph(problem).subgraph(units))
    ]
    for p in np.unique(problem.pcn[problem.pcn >= 0]):
        kept = sorted({int(f) for f in piece[problem.pcn == p]})
        lumped = {kept[-1]: kept[-1:]} if len(kept) < 3 else {kept[-2]: kept[-2:]}
        kept = kept if len(kept) < 3 else kept[:-1]
        costs = joining_costs(problem, piece, int(p), kept, lumped)
        other = np.where(problem.pcn == p, 0, problem.pop)
        for members, cost in costs.items():
            touching = [
                sum(other[u] for u in units)
                for units in connected
                if all(any(piece[u] in lumped.get(f, [f]) for u in units) for f in members)
            ]
            assert cost == min(touching)


def test_joining_costs_take_the_cheapest_branching() -> None:
    # Three A units at the ends of a T of B units: joining two ends costs 20 or 30 (the B units
    # between them), joining all three the whole T (the centre and its three arms): 40, where
    # the largest pairwise cost says 30.
    #   A0 - B1 - C - B2 - A3
    #             |
    #             B3
    #             |
    #             A4
    graph = nx.Graph()
    pops = {"A0": 10, "B1": 10, "C": 0, "B2": 10, "A3": 10, "B3": 20, "A4": 10}
    for a, b in [("A0", "B1"), ("B1", "C"), ("C", "B2"), ("B2", "A3"), ("C", "B3"), ("B3", "A4")]:
        graph.add_edge(a, b, border_m=100.0)
    nx.set_node_attributes(graph, pops, "population")
    problem = problem_of(graph, 1, 200, pcn_of={u: u[0] if u[0] == "A" else "B" for u in pops})
    piece, _ = pcn_pieces(problem)
    ends = [int(piece[list(problem.codes).index(u)]) for u in ("A0", "A3", "A4")]
    costs = joining_costs(problem, piece, int(problem.pcn[list(problem.codes).index("A0")]), ends, {})
    assert costs[(ends[0], ends[1])] == 20
    assert costs[(ends[0], ends[2])] == 30
    assert costs[tuple(ends)] == 40


@pytest.fixture(scope="module")
def shipped_problem() -> Problem:
    """The default config's 487 LSOAs, 22 PCNs by nearest practice, band 30,000-50,000."""
    config = Path(__file__).resolve().parents[1] / "configs" / "cambridgeshire-peterborough.toml"
    return load_inputs(load_config(config)).problem


def test_pieces_bound_tightens_the_bound_on_the_shipped_data(shipped_problem: Problem) -> None:
    # The default config's PCNs (nearest practice) come in 35 pieces: several PCNs have pieces
    # inside others' territory, which the aggregate model pools freely.
    problem = shipped_problem
    labels = construct(problem, 24, np.random.default_rng(1))
    assert labels is not None
    plan = coterminous(problem, labels)
    bound = pieces_bound(problem, 24)
    assert bound is not None
    assert plan <= bound.residents < aggregate_bound(problem, 24) - 0.01 * problem.total_pop


def test_bound_plan_offers_no_better_plan_that_breaks_a_rule() -> None:
    # The full model knows the band and contiguity only. Keeping R0C0 and R0C1 apart rules out
    # the left and right halves (coterminosity 1.0) that it finds; its bound stays, its plan goes.
    rules = RulesConfig(keep_apart=((cell(0, 0), cell(0, 1)),))
    pcn = {cell(r, c): ("A" if c < 3 else "B") for r in range(2) for c in range(6)}
    problem = problem_of(grid_graph(2, 6), 50, 70, pcn_of=pcn, rules=rules)
    first = {cell(0, 0), cell(1, 0), cell(1, 1), cell(1, 2), cell(1, 3)}
    labels = labels_from(problem, {c: 0 if c in first else 1 for c in problem.codes})
    assert all(r.ok for r in check_rules(problem, labels, ["a", "b"]))
    out = bound_plan(problem, labels, ExactConfig(time_limit_s=20))
    assert out["bound"] == pytest.approx(1.0)
    assert out["plan"] < 1.0
    assert "exact_labels" not in out and "exact_plan_coterminosity" not in out


def test_the_pieces_bound_stops_at_a_node_limit_not_a_clock(
    shipped_problem: Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 10 s clock alone stopped HiGHS part-way on a loaded machine (0.950 where the model proves
    # 0.946): the bound depended on the machine. A node limit stops it in the same place anywhere.
    closed = pieces_bound(shipped_problem, 24, time_limit_s=600)
    assert pieces_bound(shipped_problem, 24, time_limit_s=0.05).stopped_by == "clock"  # HiGHS's root takes ~1.5 s
    monkeypatch.setattr(exact, "BOUND_MAX_NODES", 1)  # the root node only
    stopped = pieces_bound(shipped_problem, 24, time_limit_s=600)
    assert stopped == pieces_bound(shipped_problem, 24, time_limit_s=600)
    assert closed is not None and stopped is not None
    assert closed.closed and stopped.stopped_by == "nodes"
    assert closed.residents < stopped.residents - 0.002 * shipped_problem.total_pop


@pytest.mark.parametrize(
    ("stopped_by", "said"),
    [
        ("nodes", "HiGHS stopped at its limit of 10,000 branch-and-bound nodes before closing its search"),
        ("clock", "HiGHS stopped at [exact] time_limit_s = 20 s before closing its search"),
    ],
)
def test_a_bound_stopped_before_closing_says_so(
    shipped_problem: Problem, monkeypatch: pytest.MonkeyPatch, stopped_by: str, said: str
) -> None:
    # Still a bound, but looser than the model's: the report names the limit, and the fix when
    # there is one (the node limit is the same on any machine).
    labels = construct(shipped_problem, 24, np.random.default_rng(1))
    assert labels is not None
    found = pieces_bound(shipped_problem, 24)
    assert found is not None
    monkeypatch.setattr(exact, "pieces_bound", lambda *args: found._replace(stopped_by=stopped_by))
    out = bound_plan(shipped_problem, labels, ExactConfig(time_limit_s=20, max_units=0))
    assert out["method"].startswith("per PCN piece")
    assert said in out["method"]
    assert ("raise time_limit_s" in out["method"]) == (stopped_by == "clock")
    assert out["bound"] >= out["plan"]
