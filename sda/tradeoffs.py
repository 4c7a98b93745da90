"""Trade-offs: what each choice costs, measured by re-running the engine with it changed.

The committee asks "why 28 and not 22?", "what if we keep within districts?", "what does the
band cost?". Each question is answered the same way: a short search with one setting changed
(count, objective weights, a rule), scored on the same measures as the plan. The ensemble of
plain random valid plans shows where the chosen plan ranks among plans made without any
objective at all.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd

from sda.config import ObjectiveConfig, RunConfig
from sda.engine.construct import construct
from sda.engine.search import search, target_for
from sda.errors import InfeasibleError
from sda.feasibility import check_feasible
from sda.metrics import components, count_bounds
from sda.objective import score_labels
from sda.plan import Alternative
from sda.problem import Problem, build_problem
from sda.progress import Progress


def mean_polsby_popper(units: gpd.GeoDataFrame, codes: list[str], labels: np.ndarray) -> float:
    """Mean 4*pi*area/perimeter^2 of the dissolved areas (1 = a circle)."""
    frame = gpd.GeoDataFrame({"label": labels}, geometry=units.loc[codes].geometry.to_numpy(), crs=units.crs)
    dissolved = frame.dissolve(by="label")
    return float((4 * np.pi * dissolved.area / dissolved.length**2).mean())


def _variants(cfg: RunConfig, count: int, lo: int, hi: int) -> list[tuple[str, str, RunConfig]]:
    """(kind, label, config) for every alternative worth showing."""
    out: list[tuple[str, str, RunConfig]] = []
    for k in range(lo, hi + 1):
        out.append(("count", f"{k} areas", dataclasses.replace(cfg, areas=dataclasses.replace(cfg.areas, count=k))))
    fixed = dataclasses.replace(cfg, areas=dataclasses.replace(cfg.areas, count=count))
    weights = {
        "PCN alignment only": ObjectiveConfig(pcn=1.0, cut_border=0.0, balance=0.0, district_splits=0.0),
        "compactness first": ObjectiveConfig(pcn=0.1, cut_border=1.0, balance=0.02, district_splits=0.01),
        "balance first": ObjectiveConfig(pcn=0.1, cut_border=0.1, balance=1.0, district_splits=0.01),
        "ignore PCNs": ObjectiveConfig(pcn=0.0, cut_border=0.1, balance=0.02, district_splits=0.01),
    }
    for label, w in weights.items():
        out.append(("weights", label, dataclasses.replace(fixed, objective=w)))
    nest = None if cfg.rules.nest_in == "district" else "district"
    out.append(
        (
            "rule",
            "without nesting in districts" if nest is None else "nested in districts",
            dataclasses.replace(fixed, rules=dataclasses.replace(cfg.rules, nest_in=nest)),
        )
    )
    if cfg.rules.locks or cfg.rules.keep_together or cfg.rules.keep_apart:
        out.append(
            (
                "rule",
                "without locks and groups",
                dataclasses.replace(
                    fixed, rules=dataclasses.replace(cfg.rules, locks=(), keep_together=(), keep_apart=())
                ),
            )
        )
    a = cfg.areas
    span = a.max_population - a.min_population
    for label, lo_pop, hi_pop in (
        ("tighter band", a.min_population + span // 10, a.max_population - span // 10),
        ("looser band", max(a.min_population - span // 4, 1), a.max_population + span // 4),
    ):
        out.append(
            (
                "band",
                f"{label} {lo_pop:,}-{hi_pop:,}",
                dataclasses.replace(
                    cfg, areas=dataclasses.replace(a, min_population=lo_pop, max_population=hi_pop, count=count)
                ),
            )
        )
    return out


def _nearest_feasible_count(problem: Problem, variant: RunConfig) -> RunConfig:
    """The variant with its fixed count moved to the nearest count its parts allow (for nesting,
    each district must hold a whole number of areas)."""
    if variant.areas.count == "auto":
        return variant
    pops = [int(problem.pop[part].sum()) for part in components(problem.indptr, problem.indices)]
    lo_each, hi_each = count_bounds(np.array(pops), problem.min_pop, problem.max_pop)
    lo, hi = int(lo_each.sum()), int(hi_each.sum())
    if lo > hi:
        return variant
    count = int(min(max(int(variant.areas.count), lo), hi))
    return dataclasses.replace(variant, areas=dataclasses.replace(variant.areas, count=count))


def explore(
    cfg: RunConfig,
    graph: Any,
    units: gpd.GeoDataFrame,
    problem: Problem,
    count: int,
    progress: Progress | None = None,
) -> list[Alternative]:
    """Scores of every alternative (one dict each), within ``cfg.tradeoffs.time_limit_s``, or on
    ``alternative_steps(cfg)`` annealing steps each when the run uses steps (clock-free, so the
    report repeats)."""
    say = progress or (lambda _m: None)
    lo, hi = problem.feasible_counts()
    variants = _variants(cfg, count, lo, hi)
    budget = cfg.tradeoffs.time_limit_s / max(len(variants), 1)
    steps = alternative_steps(cfg)
    pcn_of = units["pcn_code"].to_dict() if problem.n_pcn else None
    rows: list[Alternative] = []
    for kind, label, variant in variants:
        row: Alternative = {"kind": kind, "label": label, "count": variant.areas.count}
        try:
            alt = build_problem(
                graph,
                min_pop=variant.areas.min_population,
                max_pop=variant.areas.max_population,
                pcn_of=pcn_of,
                district_of=units["district"].to_dict(),
                rules=variant.rules,
                weights=variant.objective,
            )
            variant = _nearest_feasible_count(alt, variant)
            row["count"] = variant.areas.count
            check_feasible(alt, variant.areas.count)
            result = search(
                alt,
                count=variant.areas.count,
                target=variant.areas.target_population,
                seed=cfg.search.seed,
                time_limit_s=budget,
                starts=1,
                construct_seconds=max(3.0, 2 * budget) if steps == 0 else 60.0,
                steps=steps,
            )
            # Score every alternative with the plan's own weights, so objectives compare.
            scored = dataclasses.replace(alt, weights=problem.weights)
            target = target_for(alt, variant.areas.count, variant.areas.target_population)
            # The measures ``Alternative`` names, plus one ``term_<name>`` per objective term.
            row.update(cast(Alternative, score_labels(scored, result.labels, target)))
            row["count"] = result.count
            row["mean_polsby_popper"] = mean_polsby_popper(units, alt.codes, result.labels)
            row["feasible"] = True
        except InfeasibleError as exc:
            row.update({"feasible": False, "error": str(exc)})
        rows.append(row)
        say(
            f"trade-off '{label}': "
            + (f"coterminosity {row['coterminosity']:.3f}" if row.get("feasible") else "infeasible")
        )
    return rows


def alternative_steps(cfg: RunConfig) -> int:
    """Annealing steps per alternative: ``[tradeoffs] steps``, else a tenth of ``[search] steps``
    (at least 1,000) when the search runs on steps, else 0 (the time budget)."""
    if cfg.tradeoffs.steps > 0:
        return int(cfg.tradeoffs.steps)
    if cfg.search.steps > 0:
        return max(int(cfg.search.steps) // 10, 1_000)
    return 0


def ensemble(
    problem: Problem, count: int, target: float, size: int, seed: int, time_limit_s: float = 15.0
) -> pd.DataFrame:
    """Scores of up to ``size`` random valid plans (plain spanning-tree constructions)."""
    rng = np.random.default_rng(seed + 1)
    rows = []
    until = time.monotonic() + time_limit_s
    for _ in range(size):
        if time.monotonic() > until:
            break
        labels = construct(problem, count, rng, pcn_surcharge=0.0, greed=0.0, attempts=3, max_trees=3_000)
        if labels is not None:
            rows.append(score_labels(problem, labels, target))
    return pd.DataFrame(rows)
