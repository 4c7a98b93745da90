"""One range of feasible counts that check, the count sweep and the trade-offs share (issue 13)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import path_graph, problem_of

from sda.api import load_inputs
from sda.cli import cli
from sda.config import RulesConfig, load_config
from sda.engine.construct import distribute_count
from sda.engine.search import choose_count, search
from sda.errors import InfeasibleError
from sda.feasibility import check_feasible
from sda.problem import build_problem
from sda.tradeoffs import explore

ROOT = Path(__file__).resolve().parents[1]
DISTRICTS = ROOT / "configs" / "cambridgeshire-peterborough-districts.toml"


def test_feasible_counts_add_up_part_by_part() -> None:
    # Two separate parts of 50 and 90 residents, band [20, 40]: 2-2 and 3-4 areas, so 5-6 in all
    # (the total of 140 alone would allow 4-7, and there are only 6 units).
    graph = path_graph(6, population=[25, 25, 30, 20, 20, 20])
    graph.remove_edge("U1", "U2")
    problem = problem_of(graph, min_pop=20, max_pop=40)
    assert problem.feasible_counts() == (5, 6)
    graph.add_edge("U1", "U2", border_m=1.0)  # one more link: every count reachable before still is
    assert problem_of(graph, min_pop=20, max_pop=40).feasible_counts() == (4, 6)


def test_no_part_gets_more_areas_than_units_when_the_band_has_no_floor() -> None:
    # min_population = 0: the residents allow any count, but a part of 2 units holds 2 areas at
    # most, so the 6 units (2 + 4) allow 2-6 areas; 7 was searched for a minute, then "not proved".
    graph = path_graph(6, population=[25, 25, 30, 20, 20, 20])
    graph.remove_edge("U1", "U2")
    problem = problem_of(graph, min_pop=0, max_pop=100)
    assert problem.feasible_counts() == (2, 6)
    check_feasible(problem, 6)
    # One unit of 100 residents and five of 2: by residents alone the first part got 2 of 3 areas.
    lopsided = path_graph(6, population=[100, 2, 2, 2, 2, 2])
    lopsided.remove_edge("U0", "U1")
    assert distribute_count(problem_of(lopsided, min_pop=0, max_pop=100), [100, 10], 3, [1, 5]) == [1, 2]
    with pytest.raises(InfeasibleError, match=r"count = 7 asks for more areas than there are units \(6\)"):
        check_feasible(problem, 7)


@pytest.mark.slow
def test_check_sweep_and_tradeoffs_agree_on_districts_counts(tmp_path: Path) -> None:
    cfg = load_config(DISTRICTS)
    result = CliRunner().invoke(cli, ["check", "--config", str(DISTRICTS)])
    assert result.exit_code == 0, result.output
    found = re.search(r"counts (\d+)-(\d+) fit the band", result.output)
    assert found, result.output
    checked = set(range(int(found.group(1)), int(found.group(2)) + 1))

    problem = load_inputs(cfg).problem
    lo, hi = problem.feasible_counts()
    assert set(range(lo, hi + 1)) == checked
    # The nested range is narrower than the total alone allows (18-28): districts must each fit.
    assert checked != set(range(18, 29)) and checked <= set(range(18, 29))
    for count in (min(checked) - 1, max(checked) + 1):
        with pytest.raises(InfeasibleError):
            check_feasible(problem, count)

    # The sweep screens exactly these counts and finds a plan for each.
    _, screened, _plans = choose_count(problem, 40_000, 1, lambda _m: None)
    assert set(screened) == checked and all(np.isfinite(v) for v in screened.values())

    # The trade-offs show every count in the range (the plan's own count is the plan's row).
    quick = dataclasses.replace(cfg, tradeoffs=dataclasses.replace(cfg.tradeoffs, time_limit_s=3.0))
    inputs = load_inputs(quick)
    plan_count = 23
    plan = search(problem, count=plan_count, target="auto", seed=1, time_limit_s=1, starts=1, steps=100_000)
    rows = explore(quick, inputs.graph, inputs.units, problem, plan_count, plan_labels=plan.labels)
    counts = {r["count"] for r in rows if r["kind"] == "count"}
    assert counts | {plan_count} == checked
    for row in rows:
        assert row["status"] in ("ok", "infeasible", "not_found")
        if row["status"] == "ok":
            assert row["label"] == f"{row['count']} areas" or row["kind"] != "count"  # labelled by what was made
            assert row["effort"].startswith("quick: 1 start")
        else:
            assert row["error"]
    assert all(r["status"] == "ok" for r in rows if r["kind"] == "count")
    unnested = next(r for r in rows if r["label"].startswith("without nesting"))
    # This nested plan is valid without nesting too, so that run starts from it and is no worse.
    assert unnested["from_plan"] and unnested["coterminosity"] >= 0.0
    relaxed = build_problem(
        inputs.graph,
        min_pop=cfg.areas.min_population,
        max_pop=cfg.areas.max_population,
        rules=RulesConfig(),
    )
    low, high = relaxed.feasible_counts()
    assert low <= lo and hi <= high  # dropping nesting (more links) keeps every count a candidate
