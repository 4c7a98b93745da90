"""Tests for sda.objective: every term computed by hand on a four-unit plan."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import grid_graph, labels_from, path_graph, problem_of, two_pcn_grid

from sda.config import ObjectiveConfig
from sda.objective import (
    TERMS,
    TERMS_TABLE,
    area_cost,
    area_costs,
    area_term_values,
    glossary,
    score_labels,
    stats_of,
    weight_scale,
)
from sda.problem import Problem, build_problem


def tiny(weights: ObjectiveConfig | None = None) -> Problem:
    """Path U0-U1-U2-U3 of 10, 20, 30, 40 residents; borders 100, 200, 300 m.

    PCNs A, A, B, A; districts D1, D1, D1, D2.
    """
    graph = path_graph(4, population=[10, 20, 30, 40])
    graph.edges["U0", "U1"]["border_m"] = 100.0
    graph.edges["U1", "U2"]["border_m"] = 200.0
    graph.edges["U2", "U3"]["border_m"] = 300.0
    return problem_of(
        graph,
        1,
        1000,
        pcn_of={"U0": "A", "U1": "A", "U2": "B", "U3": "A"},
        district_of={"U0": "D1", "U1": "D1", "U2": "D1", "U3": "D2"},
        weights=weights,
    )


#: Areas {U0, U1} (30 residents, all PCN A) and {U2, U3} (70: B 30, A 40, so A dominates).
PLAN = {"U0": 0, "U1": 0, "U2": 1, "U3": 1}


def test_scores_by_hand() -> None:
    problem = tiny()
    scores = score_labels(problem, labels_from(problem, PLAN), target=50.0)
    # Coterminous: area 0 all 30 (A), area 1 its 40 A residents; 70 of 100.
    assert scores["coterminosity"] == pytest.approx(0.7)
    assert scores["pcns_split"] == 1.0  # A is in both areas, B in one
    assert scores["cut_edges"] == 1.0
    assert scores["cut_border_km"] == pytest.approx(0.2)
    assert scores["mean_abs_deviation_pct"] == pytest.approx(40.0)  # |30-50| and |70-50| of 50
    assert scores["district_splits"] == 1.0
    assert scores["n_areas"] == 2.0
    # Weighted terms with the default weights 1.0, 0.1, 0.02, 0.01.
    assert scores["term_pcn"] == pytest.approx(0.3)
    assert scores["term_cut_border"] == pytest.approx(0.1 * 200 / 600)
    assert scores["term_balance"] == pytest.approx(0.02 * (20 / 50 + 20 / 50) / 2)
    assert scores["term_district_splits"] == pytest.approx(0.01 * 1 / 2)
    assert scores["objective"] == pytest.approx(0.3 + 0.1 / 3 + 0.008 + 0.005)


def test_terms_sum_to_objective() -> None:
    weights = ObjectiveConfig(pcn=2.0, cut_border=0.5, balance=0.3, district_splits=0.7)
    problem = tiny(weights)
    for plan in (PLAN, {"U0": 0, "U1": 1, "U2": 1, "U3": 1}, {"U0": 0, "U1": 1, "U2": 2, "U3": 3}):
        scores = score_labels(problem, labels_from(problem, plan), target=40.0)
        assert scores["objective"] == pytest.approx(sum(scores[f"term_{t}"] for t in TERMS))


def test_weights_scale_terms() -> None:
    base = score_labels(tiny(), labels_from(tiny(), PLAN), 50.0)
    doubled = tiny(ObjectiveConfig(pcn=2.0, cut_border=0.2, balance=0.04, district_splits=0.02))
    scores = score_labels(doubled, labels_from(doubled, PLAN), 50.0)
    for t in TERMS:
        assert scores[f"term_{t}"] == pytest.approx(2 * base[f"term_{t}"])
    zero = tiny(ObjectiveConfig(pcn=0.0, cut_border=0.0, balance=0.0, district_splits=0.0))
    assert score_labels(zero, labels_from(zero, PLAN), 50.0)["objective"] == 0.0


def test_area_costs_sum_to_objective() -> None:
    problem = tiny()
    labels = labels_from(problem, PLAN)
    stats = stats_of(problem, labels, 2)
    costs = area_costs(problem, stats, 50.0, 2)
    assert costs.shape == (2,)
    assert costs.sum() == pytest.approx(score_labels(problem, labels, 50.0)["objective"])
    # Area 0 alone: nothing lost, 200 m of the 600 m cut (counted once per side), |30-50|/50/2.
    assert costs[0] == pytest.approx(0 + 0.1 * 200 / 1200 + 0.02 * 0.2 + 0)


def test_links_measure_counts_each_cut_link_once() -> None:
    problem = build_problem(path_graph_with_borders(), min_pop=1, max_pop=1000, cut_measure="links")
    assert problem.cut_weight.tolist() == [1.0] * 6  # three links, each stored both ways
    assert problem.total_cut_weight == 3.0
    labels = np.array([0, 1, 1, 2])  # cuts U0-U1 (100 m) and U2-U3 (300 m)
    assert stats_of(problem, labels, 3).ext_cut.tolist() == [1.0, 2.0, 1.0]  # the middle area has both
    scores = score_labels(problem, labels, 25.0)
    assert scores["term_cut_border"] == pytest.approx(0.1 * 2 / 3)
    assert scores["cut_border_km"] == pytest.approx(0.4)  # the report still measures the border
    by_length = build_problem(path_graph_with_borders(), min_pop=1, max_pop=1000)
    assert score_labels(by_length, labels, 25.0)["term_cut_border"] == pytest.approx(0.1 * 400 / 600)


def path_graph_with_borders():
    """The ``tiny`` path's graph: borders 100, 200 and 300 m."""
    graph = path_graph(4, population=[10, 20, 30, 40])
    for (u, v), border in zip([("U0", "U1"), ("U1", "U2"), ("U2", "U3")], [100.0, 200.0, 300.0], strict=True):
        graph.edges[u, v]["border_m"] = border
    return graph


def test_stats_of_by_hand() -> None:
    problem = tiny()
    stats = stats_of(problem, labels_from(problem, PLAN), 2)
    assert stats.pop.tolist() == [30, 70]
    assert stats.pcn_pop.tolist() == [[30, 0], [40, 30]]  # columns A, B
    assert stats.district_pop.tolist() == [[30, 0], [30, 40]]
    assert stats.ext_cut.tolist() == [200.0, 200.0]


def test_units_without_pcn_are_never_coterminous() -> None:
    graph = path_graph(2, population=[30, 10])
    problem = problem_of(graph, 1, 100, pcn_of={"U0": "A"})
    scores = score_labels(problem, np.array([0, 0]), 40.0)
    assert scores["coterminosity"] == pytest.approx(0.75)
    values = area_term_values(problem, stats_of(problem, np.array([0, 0]), 1), 40.0, 1)
    assert values["pcn"].tolist() == pytest.approx([0.25])


def test_no_pcns_gives_nan_coterminosity_and_zero_pcn_term() -> None:
    problem = problem_of(path_graph(4), 1, 100)
    scores = score_labels(problem, np.array([0, 0, 1, 1]), 20.0)
    assert np.isnan(scores["coterminosity"])
    assert np.isnan(scores["pcns_split"])
    assert scores["term_pcn"] == 0.0


def test_one_area_has_no_cut() -> None:
    problem = problem_of(grid_graph(3, 3), 1, 1000)
    scores = score_labels(problem, np.zeros(9, dtype=np.int64), 90.0)
    assert scores["cut_edges"] == 0.0
    assert scores["term_cut_border"] == 0.0
    assert scores["term_balance"] == 0.0


def test_two_pcn_grid_halves_are_fully_coterminous() -> None:
    problem = two_pcn_grid()
    halves = {c: (0 if int(c[3]) < 3 else 1) for c in problem.codes}
    scores = score_labels(problem, labels_from(problem, halves), 60.0)
    assert scores["coterminosity"] == 1.0
    assert scores["pcns_split"] == 0.0
    assert scores["cut_edges"] == 2.0  # the two horizontal edges between columns 2 and 3
    assert scores["cut_border_km"] == 2.0
    # 16 edges of 1 km in a 2x6 grid, 2 of them cut.
    assert scores["term_cut_border"] == pytest.approx(0.1 * 2 / 16)
    assert scores["objective"] == pytest.approx(0.1 * 2 / 16)


def test_checkerboard_rows_cost_more_than_halves() -> None:
    problem = two_pcn_grid()
    halves = labels_from(problem, {c: (0 if int(c[3]) < 3 else 1) for c in problem.codes})
    rows = labels_from(problem, {c: int(c[1]) for c in problem.codes})  # top row / bottom row
    good, bad = score_labels(problem, halves, 60.0), score_labels(problem, rows, 60.0)
    assert bad["coterminosity"] == pytest.approx(0.5)
    assert bad["pcns_split"] == 2.0
    assert bad["cut_edges"] == 6.0
    assert good["objective"] < bad["objective"]


def test_weight_scale_is_one_for_default_weights_and_grows_with_them() -> None:
    pcn = {c: "A" for c in grid_graph(2, 2).nodes}
    assert weight_scale(problem_of(grid_graph(2, 2), 10, 40, pcn_of=pcn)) == pytest.approx(1.0)
    heavy = problem_of(grid_graph(2, 2), 10, 40, pcn_of=pcn, weights=ObjectiveConfig(pcn=1.0, cut_border=3.0))
    assert weight_scale(heavy) == pytest.approx((1.0 + 3.0 + 0.02 + 0.01) / 1.13)
    # Without PCNs the PCN weight does not count.
    assert weight_scale(problem_of(grid_graph(2, 2), 10, 40)) == pytest.approx(1.0)


# --------------------------------------------------------------------------- the table


def test_config_fields_are_the_table() -> None:
    # One list: every term is an [objective] key with a default, and nothing else is.
    assert tuple(f.name for f in dataclasses.fields(ObjectiveConfig)) == TERMS
    assert set(glossary()) == set(TERMS)
    assert all(line for line in glossary().values())


@pytest.mark.parametrize("seed", range(5))
def test_area_cost_is_the_weighted_sum_of_the_rows(seed: int) -> None:
    # area_cost lists the rows by hand for numba; each row's formula, weighted, must add up to it.
    rng = np.random.default_rng(seed)
    w = rng.random(len(TERMS))
    c = np.array([1000.0, 5000.0, 120.0, 7.0])
    for _ in range(20):
        pop, pcn_max, n_dist, ext, moved = (
            rng.integers(0, 200),
            rng.integers(0, 100),
            rng.integers(1, 4),
            rng.random(),
            rng.integers(0, 100),
        )
        by_rows = sum(w[i] * t.value(c, pop, pcn_max, n_dist, ext, moved) for i, t in enumerate(TERMS_TABLE))
        assert area_cost(w, c, pop, pcn_max, n_dist, ext, moved) == pytest.approx(by_rows, rel=1e-12)
        # The kernel passes the weights and constants as tuples: the same number, bit for bit.
        as_tuples = area_cost(tuple(w.tolist()), tuple(c.tolist()), pop, pcn_max, n_dist, ext, moved)
        assert as_tuples == area_cost(w, c, pop, pcn_max, n_dist, ext, moved)


def test_moved_by_hand() -> None:
    # Previous plan: U0 in 0, U1 in 1, U2 none, U3 in 1. PLAN puts U0, U1 in 0 and U2, U3 in 1:
    # only U1 (20 of 100 residents) changed area; U2 had none and does not count.
    problem = tiny().with_previous(np.array([0, 1, -1, 1]))
    labels = labels_from(problem, PLAN)
    scores = score_labels(problem, labels, 50.0)
    assert scores["moved_share"] == pytest.approx(0.2)
    assert scores["term_moved"] == pytest.approx(1.0 * 0.2)
    assert scores["objective"] == pytest.approx(0.3 + 0.1 / 3 + 0.008 + 0.005 + 0.2)
    assert stats_of(problem, labels, 2).moved_pop.tolist() == [20, 0]


def test_moved_is_off_without_a_previous_plan() -> None:
    scores = score_labels(tiny(), labels_from(tiny(), PLAN), 50.0)
    assert scores["term_moved"] == 0.0
    assert "moved_share" not in scores
    # And the weight scale counts it only when on: default weights scale 1 either way.
    on = tiny().with_previous(np.array([0, 1, -1, 1]))
    assert weight_scale(on) == pytest.approx(1.0)
    heavy = dataclasses.replace(on, weights=ObjectiveConfig(moved=3.13))
    assert weight_scale(heavy) == pytest.approx((1.13 + 3.13) / 2.13)
