"""Trade-offs: the alternative runs and the random-plan ensemble, on a small grid whose answers are known.

A 4x4 grid of 1 km squares, 1,000 residents each (16,000 in all), band 3,000-6,000, so 3 to 5
areas fit. PCN SMALL is the corner cell R0C0 and PCN BIG the other 15, so whatever the plan, the
corner's area is BIG's and coterminosity is exactly 15/16.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from helpers import ORIGIN, cell, grid_graph

from sda import tradeoffs
from sda.config import AreasConfig, LockConfig, RulesConfig, RunConfig, TradeoffsConfig, UnitsConfig
from sda.plan import Alternative
from sda.problem import Problem, build_problem

SIDE = 4
BAND = (3_000, 6_000)
COTERMINOSITY = 15 / 16


def grid_units(district_of: dict[str, str]) -> gpd.GeoDataFrame:
    codes = [cell(r, c) for r in range(SIDE) for c in range(SIDE)]
    boxes = [
        shapely.box(ORIGIN[0] + 1000 * c, ORIGIN[1] + 1000 * r, ORIGIN[0] + 1000 * (c + 1), ORIGIN[1] + 1000 * (r + 1))
        for r in range(SIDE)
        for c in range(SIDE)
    ]
    return gpd.GeoDataFrame(
        {
            "population": [1000] * len(codes),
            "pcn_code": ["SMALL" if code == cell(0, 0) else "BIG" for code in codes],
            "district": [district_of[code] for code in codes],
        },
        geometry=boxes,
        crs="EPSG:27700",
        index=pd.Index(codes, name="unit_code"),
    )


def run_config(rules: RulesConfig | None = None) -> RunConfig:
    return RunConfig(
        units=UnitsConfig(path=Path("grid.geojson"), code_field="code"),
        areas=AreasConfig(min_population=BAND[0], max_population=BAND[1], count=4),
        rules=rules or RulesConfig(),
        tradeoffs=TradeoffsConfig(time_limit_s=1.0, ensemble=5),
    )


def grid_case(
    district_of: dict[str, str], rules: RulesConfig | None = None
) -> tuple[RunConfig, nx.Graph, gpd.GeoDataFrame, Problem]:
    cfg = run_config(rules)
    graph = grid_graph(SIDE, SIDE, population=1000)
    units = grid_units(district_of)
    problem = build_problem(
        graph,
        min_pop=BAND[0],
        max_pop=BAND[1],
        pcn_of=units["pcn_code"].to_dict(),
        district_of=district_of,
        rules=cfg.rules,
        weights=cfg.objective,
    )
    return cfg, graph, units, problem


def halves() -> dict[str, str]:
    """Districts WEST_D and EAST_D, the west and east halves: 8,000 residents each, two areas each fit."""
    return {cell(r, c): "WEST_D" if c < 2 else "EAST_D" for r in range(SIDE) for c in range(SIDE)}


def one_small_district() -> dict[str, str]:
    """District TINY is one corner cell (1,000 residents, below the band): nesting cannot work."""
    return {cell(r, c): "TINY" if (r, c) == (0, 0) else "REST" for r in range(SIDE) for c in range(SIDE)}


def by_label(rows: list[Alternative]) -> dict[str, Alternative]:
    labels = [row["label"] for row in rows]
    assert len(labels) == len(set(labels)), f"labels repeat: {labels}"
    return {row["label"]: row for row in rows}


@pytest.fixture(scope="module")
def explored() -> tuple[RunConfig, list[Alternative], list[str]]:
    """The alternatives of a 4-area plan on the grid split into two district halves, and the progress lines."""
    cfg, graph, units, problem = grid_case(halves())
    messages: list[str] = []
    return cfg, tradeoffs.explore(cfg, graph, units, problem, 4, messages.append), messages


def test_every_variant_is_run_and_labelled(explored: tuple[RunConfig, list[Alternative], list[str]]) -> None:
    _, alternatives, messages = explored
    rows = by_label(alternatives)
    expected = {  # the plan's own count (4) is the plan itself, not an alternative
        "3 areas": "count",
        "5 areas": "count",
        "PCN alignment only": "weights",
        "compactness first": "weights",
        "balance first": "weights",
        "ignore PCNs": "weights",
        "nested in districts": "rule",
        "tighter band 3,300-5,700": "band",
        "looser band 2,250-6,750": "band",
    }
    assert {label: row["kind"] for label, row in rows.items()} == expected
    assert len(messages) == len(expected) and all(m.startswith("trade-off '") for m in messages)
    for label, row in rows.items():
        assert row["feasible"], f"{label}: {row.get('error')}"
        assert row["count"] == row["n_areas"], label
        assert row["coterminosity"] == pytest.approx(COTERMINOSITY), label
        assert 0.0 < row["mean_polsby_popper"] <= math.pi / 4 + 1e-9, label  # no area rounder than a square
    for k in (3, 5):
        assert rows[f"{k} areas"]["count"] == k
    for label in ("PCN alignment only", "nested in districts", "tighter band 3,300-5,700"):
        assert rows[label]["count"] == 4, label


def test_alternatives_are_scored_with_the_plans_own_weights(
    explored: tuple[RunConfig, list[Alternative], list[str]],
) -> None:
    cfg, alternatives, _ = explored
    rows = by_label(alternatives)
    weight = cfg.objective.pcn
    for label, row in rows.items():
        # The PCN term is the plan's weight times the share of residents outside their PCN's
        # area (1/16 here), even for runs that searched with other PCN weights (0 to ignore PCNs).
        assert row["term_pcn"] == pytest.approx(weight * (1.0 - row["coterminosity"]), abs=1e-9), label
        terms = sum(v for k, v in row.items() if k.startswith("term_"))
        assert row["objective"] == pytest.approx(terms), label


def test_an_infeasible_variant_is_reported_not_raised() -> None:
    cfg, graph, units, problem = grid_case(one_small_district())
    rows = by_label(tradeoffs.explore(cfg, graph, units, problem, 4))
    nested = rows["nested in districts"]
    assert nested["feasible"] is False
    assert nested.get("error")
    assert "coterminosity" not in nested and "objective" not in nested
    others = [row for label, row in rows.items() if label != "nested in districts"]
    assert others and all(row["feasible"] for row in others)


def test_locks_add_a_variant_without_them() -> None:
    rules = RulesConfig(locks=(LockConfig(area="Corner", units=(cell(0, 0), cell(0, 1))),))
    cfg, graph, units, problem = grid_case(halves(), rules)
    rows = by_label(tradeoffs.explore(cfg, graph, units, problem, 4))
    assert rows["without locks and groups"]["kind"] == "rule"
    assert rows["without locks and groups"]["feasible"]


def test_ensemble_gives_valid_plans_of_the_count_reproducibly() -> None:
    _, _, _, problem = grid_case(halves())
    first = tradeoffs.ensemble(problem, 4, 4_000.0, size=6, seed=3, time_limit_s=30.0)
    again = tradeoffs.ensemble(problem, 4, 4_000.0, size=6, seed=3, time_limit_s=30.0)
    assert len(first) == 6
    assert (first["n_areas"] == 4).all()
    assert np.allclose(first["coterminosity"], COTERMINOSITY)
    pd.testing.assert_frame_equal(first, again)


def test_mean_polsby_popper_of_known_shapes() -> None:
    units = grid_units(halves())
    codes = [cell(0, 0), cell(0, 1)]
    # Two squares apart: each pi/4. Together, a 2 km x 1 km rectangle: 4*pi*2 / 6**2 = 2*pi/9.
    assert tradeoffs.mean_polsby_popper(units, codes, np.array([0, 1])) == pytest.approx(math.pi / 4)
    assert tradeoffs.mean_polsby_popper(units, codes, np.array([0, 0])) == pytest.approx(2 * math.pi / 9)


def test_started_tradeoffs_give_the_alternatives_and_ensemble_of_one_worker() -> None:
    # Started in the background with the ensemble, on 2 workers: the rows of ``explore`` on one
    # worker and the frame of ``ensemble``. On a step budget every alternative is clock-free, so
    # the rows do not depend on the workers.
    import dataclasses

    from sda.config import SearchConfig

    cfg, graph, units, problem = grid_case(halves())
    cfg = dataclasses.replace(cfg, tradeoffs=TradeoffsConfig(steps=20_000, ensemble=6))
    alone = tradeoffs.explore(dataclasses.replace(cfg, search=SearchConfig(jobs=1)), graph, units, problem, 4)
    drawn = tradeoffs.ensemble(problem, 4, 4_000.0, size=6, seed=cfg.search.seed, time_limit_s=30.0)
    ask = tradeoffs.EnsembleAsk(target=4_000.0, size=6, time_limit_s=30.0)
    run = dataclasses.replace(cfg, search=SearchConfig(jobs=2))
    messages: list[str] = []
    with tradeoffs.started(run, graph, units, problem, 4, ensemble_of=ask) as underway:
        rows, ensemble = underway.collect(messages.append)
    assert rows == alone
    assert len(rows) == 9 and all(r["status"] == "ok" for r in rows)
    assert ensemble is not None
    pd.testing.assert_frame_equal(ensemble, drawn)
    assert len(messages) == len(rows)


def test_the_other_counts_and_the_rest_started_apart_give_the_rows_of_all() -> None:
    # sda propose starts the other counts' rows while it pools, and the rest once the plan is
    # chosen: the two parts, in that order, are explore's rows (the same budgets, the same seeds).
    import dataclasses

    from sda.config import SearchConfig

    cfg, graph, units, problem = grid_case(halves())
    cfg = dataclasses.replace(cfg, tradeoffs=TradeoffsConfig(steps=20_000, ensemble=0))
    every = tradeoffs.explore(dataclasses.replace(cfg, search=SearchConfig(jobs=1)), graph, units, problem, 4)
    run = dataclasses.replace(cfg, search=SearchConfig(jobs=2))
    with (
        tradeoffs.started(run, graph, units, problem, 4, part="counts") as counts,
        tradeoffs.started(run, graph, units, problem, 4, part="others") as others,
    ):
        rows = counts.collect()[0] + others.collect()[0]
    counts_first = [r["kind"] == "count" for r in every]
    assert any(counts_first) and not all(counts_first)  # both parts have rows
    assert rows == every
