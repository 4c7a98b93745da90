"""Trade-offs: what each choice costs, measured by re-running the engine with it changed.

The committee asks "why 28 and not 22?", "what if we keep within districts?", "what does the
band cost?". Each question is answered the same way: a short search with one setting changed
(count, objective weights, a rule), scored on the same measures as the plan. The ensemble of
plain random valid plans shows where the chosen plan ranks among plans made without any
objective at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from typing import Any, Literal, cast

import geopandas as gpd
import numpy as np
import pandas as pd

from sda.area_table import dissolve_areas, polsby_popper
from sda.config import ObjectiveConfig, RunConfig
from sda.engine.construct import construct
from sda.engine.parallel import started_tasks
from sda.engine.search import search, target_for
from sda.errors import InfeasibleError
from sda.feasibility import check_feasible
from sda.objective import score_labels
from sda.plan import Alternative
from sda.problem import Problem, build_problem
from sda.progress import Progress
from sda.rules import check_rules


def mean_polsby_popper(units: gpd.GeoDataFrame, codes: list[str], labels: np.ndarray, snap_m: float = 0.0) -> float:
    """Mean 4*pi*area/perimeter^2 of the clean area outlines (1 = a circle), gaps up to ``snap_m`` closed."""
    frame = gpd.GeoDataFrame(
        {"area_id": [str(x) for x in labels]}, geometry=units.loc[codes].geometry.to_numpy(), crs=units.crs
    )
    outlines = dissolve_areas(frame, snap_m, keep_out_of_others=False)
    return float(np.nanmean([polsby_popper(g) for g in outlines]))


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
    """The variant with its fixed count moved into the range its parts allow (for nesting, each
    district must hold a whole number of areas; see ``Problem.feasible_counts``)."""
    if variant.areas.count == "auto":
        return variant
    lo, hi = problem.feasible_counts()
    if lo > hi:
        return variant
    count = int(min(max(int(variant.areas.count), lo), hi))
    return dataclasses.replace(variant, areas=dataclasses.replace(variant.areas, count=count))


def _starts_from_plan(alt: Problem, variant: RunConfig, plan_labels: np.ndarray | None) -> bool:
    """Whether this plan is itself valid for the variant (same count, band, contiguity, rules), so
    the variant's search can start from it and never report worse than what is already known."""
    if plan_labels is None or variant.areas.count != int(plan_labels.max()) + 1:
        return False
    names = [str(a) for a in range(int(plan_labels.max()) + 1)]
    return all(r.ok for r in check_rules(alt, plan_labels, names, variant.rules))


def _label(kind: str, label: str, asked: Any, produced: int) -> str:
    """Label a row by what was produced: a count row that gave 21 areas says 21."""
    if kind == "count":
        return f"{produced} areas"
    return label if asked == produced else f"{label} ({produced} areas)"


def explore(
    cfg: RunConfig,
    graph: Any,
    units: gpd.GeoDataFrame,
    problem: Problem,
    count: int,
    progress: Progress | None = None,
    plan_labels: np.ndarray | None = None,
) -> list[Alternative]:
    """Scores of every alternative (one dict each), within ``cfg.tradeoffs.time_limit_s``, or on
    ``alternative_steps(cfg)`` annealing steps each when the run uses steps (clock-free, so the
    report repeats).

    Each row has ``kind``, ``label`` (what was produced, e.g. ``"21 areas"``), ``asked`` (the
    variant as asked), ``count``, ``status`` (``"ok"``; ``"infeasible"``, proven before searching,
    with ``error`` saying why; or ``"not_found"`` within the budget), ``feasible``, ``effort``
    (the search budget in words: alternatives are quick estimates unless said otherwise),
    ``from_plan`` (the search started from this plan, valid for the variant too, so the row is
    never worse than the plan on the variant's own objective) and the plan's scores.
    """
    with started(cfg, graph, units, problem, count, plan_labels=plan_labels) as underway:
        return underway.collect(progress)[0]


@dataclasses.dataclass(frozen=True)
class EnsembleAsk:
    """The ensemble to draw alongside the alternatives (the arguments of ``ensemble`` that
    ``started`` does not already have: it draws plans of the run's count, on its seed)."""

    target: float
    size: int
    time_limit_s: float


@contextlib.contextmanager
def started(
    cfg: RunConfig,
    graph: Any,
    units: gpd.GeoDataFrame,
    problem: Problem,
    count: int,
    *,
    plan_labels: np.ndarray | None = None,
    ensemble_of: EnsembleAsk | None = None,
    part: Literal["all", "counts", "others"] = "all",
) -> Iterator[Underway]:
    """Start the alternatives of ``explore`` (and the ensemble, when asked) as tasks on the
    ``[search] jobs`` workers, so the caller can do other work meanwhile (with one job they run
    in this process when collected). Read them with ``Underway.collect`` inside the block;
    leaving it early stops them (``engine.parallel.started_tasks``).

    ``part`` starts only the other counts' rows (``"counts"``: they need the count, not the
    plan, so they can start while the plan is still being finished) or only the rest
    (``"others"``); the two parts' rows, in that order, are the rows of ``"all"``.

    The alternatives are independent, each on the run's seed, and the ensemble on its own, so
    the rows do not depend on how many workers made them, nor on when they started.
    """
    lo, hi = problem.feasible_counts()
    variants = [v for v in _variants(cfg, count, lo, hi) if not (v[0] == "count" and v[2].areas.count == count)]
    budget = cfg.tradeoffs.time_limit_s / max(len(variants), 1)  # of all the rows, whichever part
    if part != "all":
        variants = [v for v in variants if (v[0] == "count") == (part == "counts")]
    steps = alternative_steps(cfg)
    context = _Context(
        graph,
        units,
        # Every alternative's problem gives units the same PCNs and districts: the lookups are made once.
        units["pcn_code"].to_dict() if problem.n_pcn > 0 else None,
        units["district"].to_dict(),
        problem.weights,
        plan_labels,
    )
    tasks: list[tuple[Any, ...]] = []
    if ensemble_of is not None:  # first: about as long as an alternative, and read last
        e = ensemble_of
        tasks.append(("ensemble", (problem, count, e.target, e.size, cfg.search.seed, e.time_limit_s)))
    tasks += [("alternative", (context, kind, label, variant, steps, budget)) for kind, label, variant in variants]
    with started_tasks(_run_task, tasks, cfg.search.jobs) as results:
        yield Underway(results, ensemble_of is not None)


class Underway:
    """The trade-offs started by ``started``."""

    def __init__(self, results: Iterator[Any], with_ensemble: bool) -> None:
        self._results = results
        self._with_ensemble = with_ensemble

    def collect(self, progress: Progress | None = None) -> tuple[list[Alternative], pd.DataFrame | None]:
        """The alternatives (as ``explore`` gives them) and the ensemble (``None`` if not asked),
        waiting for them, saying each as it arrives."""
        say = progress or (lambda _m: None)
        drawn = next(self._results) if self._with_ensemble else None
        rows: list[Alternative] = []
        for row in self._results:
            rows.append(row)
            if row["status"] == "ok":
                say(f"trade-off '{row['label']}': coterminosity {row['coterminosity']:.3f}")
            elif row["status"] == "infeasible":
                say(f"trade-off '{row['label']}': infeasible")
            else:
                say(f"trade-off '{row['label']}': not found within the quick budget")
        return rows, drawn


def _run_task(what: str, args: tuple[Any, ...]) -> Any:
    """One task of ``started``: an alternative or the ensemble."""
    return ensemble(*args) if what == "ensemble" else _explore_one(*args)


@dataclasses.dataclass(frozen=True)
class _Context:
    """What every alternative needs from the run (sent once per task to a worker); the rest
    (seed, snap distance) each alternative's config carries."""

    graph: Any
    units: gpd.GeoDataFrame
    #: Unit code -> PCN code (None when the run has no PCNs), and -> district code.
    pcn_of: dict[str, str] | None
    district_of: dict[str, str]
    weights: ObjectiveConfig
    plan_labels: np.ndarray | None


def _explore_one(
    context: _Context, kind: str, label: str, variant: RunConfig, steps: int, budget: float
) -> Alternative:
    """One alternative: its problem, a quick search and the plan's measures (see ``explore``)."""
    units = context.units
    asked = variant.areas.count
    row: Alternative = {"kind": kind, "label": label, "asked": label, "count": asked}
    try:
        alt = build_problem(
            context.graph,
            min_pop=variant.areas.min_population,
            max_pop=variant.areas.max_population,
            pcn_of=context.pcn_of,
            district_of=context.district_of,
            rules=variant.rules,
            weights=variant.objective,
            cut_measure=variant.graph.cut_measure,
        )
        variant = _nearest_feasible_count(alt, variant)
        row["count"] = variant.areas.count
        check_feasible(alt, variant.areas.count)
    except InfeasibleError as exc:
        row.update({"feasible": False, "status": "infeasible", "error": f"no valid plan exists: {exc}"})
        return row
    from_plan = _starts_from_plan(alt, variant, context.plan_labels)
    row["from_plan"] = from_plan
    effort = f"{steps:,} steps" if steps > 0 else f"{budget:.1f} s"
    row["effort"] = f"quick: 1 start, {effort}" + (", from this plan" if from_plan else "")
    try:
        result = search(
            alt,
            count=variant.areas.count,
            target=variant.areas.target_population,
            seed=variant.search.seed,
            time_limit_s=budget,
            starts=1,
            # A cap on hopeless constructions only (a count no plan fits): feasible ones end
            # long before it, so with steps the result does not depend on the machine.
            construct_seconds=max(3.0, 2 * budget),
            steps=steps,
            initial_labels=context.plan_labels if from_plan else None,
            jobs=1,
        )
    except InfeasibleError:
        row.update(
            {
                "feasible": False,
                "status": "not_found",
                "error": f"no valid plan found within the quick budget ({effort}); "
                f"a full run with count = {variant.areas.count} may still find one",
            }
        )
        return row
    # Score every alternative with the plan's own weights, so objectives compare.
    scored = dataclasses.replace(alt, weights=context.weights)
    target = target_for(alt, variant.areas.count, variant.areas.target_population)
    # The measures ``Alternative`` names, plus one ``term_<name>`` per objective term.
    row.update(cast(Alternative, score_labels(scored, result.labels, target)))
    row["count"] = result.count
    row["label"] = _label(kind, label, asked, result.count)
    row["mean_polsby_popper"] = mean_polsby_popper(units, alt.codes, result.labels, variant.graph.snap_m)
    row["feasible"] = True
    row["status"] = "ok"
    return row


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
