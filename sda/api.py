"""The whole job as plain functions: inputs -> problem -> search -> Plan.

``run`` is what ``sda propose`` does and what a notebook calls. Nothing here prints: progress
goes to a callback, so the CLI decides where it is shown.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from sda import __version__, tradeoffs
from sda.area_table import build_area_table
from sda.config import RunConfig
from sda.engine.parallel import finish_warm_up, resolve_jobs, started_tasks, warm_workers
from sda.engine.search import SearchResult, compile_kernels, search, target_for
from sda.feasibility import check_feasible
from sda.folder import run_timestamp
from sda.graph import build_adjacency
from sda.io import file_sha256, read_pcn_shares, read_practices, read_units
from sda.metrics import in_band
from sda.naming import area_ids, name_areas, read_names_csv, warn_unknown_names
from sda.objective import score_labels
from sda.pcn import METHOD_TEXT, largest_share_pcn, nearest_practice_pcn, pcn_names
from sda.plan import Plan, PopulationNotes, Provenance
from sda.problem import Problem, build_problem
from sda.progress import Progress
from sda.rules import check_rules, verify, verify_totals


@dataclass
class Inputs:
    """Everything read and derived before the search: checked units, graph, PCNs, problem."""

    units: gpd.GeoDataFrame
    graph: nx.Graph
    practices: gpd.GeoDataFrame | None
    problem: Problem
    warnings: list[str]
    data_files: dict[str, str]
    population_notes: PopulationNotes = field(default_factory=lambda: PopulationNotes())


def load_inputs(cfg: RunConfig, progress: Progress | None = None) -> Inputs:
    """Read and check the units, build the graph, give units their PCN, and build the problem."""
    say = progress or (lambda _m: None)
    caught: list[str] = []
    recorded: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                units, graph, practices = _read_and_link(cfg, say)
            finally:
                recorded = list(seen)
    finally:
        # Replayed even when a step failed: a warning about one file often explains the error
        # about the next (e.g. extra codes in a CSV and the unit it then lacks).
        for w in recorded:
            caught.append(str(w.message))
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    problem = build_problem(
        graph,
        min_pop=cfg.areas.min_population,
        max_pop=cfg.areas.max_population,
        pcn_of=units["pcn_code"].to_dict() if cfg.pcn.practices is not None else None,
        district_of=units["district"].to_dict(),
        rules=cfg.rules,
        weights=cfg.objective,
        cut_measure=cfg.graph.cut_measure,
    )
    files = {"units": cfg.units.path}
    if cfg.units.population_csv:
        files["population_csv"] = cfg.units.population_csv
    if cfg.units.population_points:
        files["population_points"] = cfg.units.population_points
    if cfg.units.split is not None:
        files["units_split"] = cfg.units.split.path
    if cfg.pcn.practices:
        files["practices"] = cfg.pcn.practices
    if cfg.pcn.shares and cfg.pcn.method == "shares":
        files["pcn_shares"] = cfg.pcn.shares
    data_files = {f"{k}: {v.name}": file_sha256(v) for k, v in files.items()}
    inputs = Inputs(units, graph, practices, problem, caught, data_files)
    inputs.population_notes = _population_notes(cfg, units)
    return inputs


def _population_notes(cfg: RunConfig, units: gpd.GeoDataFrame) -> PopulationNotes:
    """Where the population came from and what best-fitting and splitting did (for provenance)."""
    fit = units.attrs.get("population_fit") or {}
    split = units.attrs.get("split") or {}
    source = cfg.units.population_source
    if not source and fit:
        source = f"points in {fit['file']}, each counted in the unit holding it"
    notes = PopulationNotes(population_source=source or "as given in the input")
    if fit:
        notes["population_points"] = {k: v for k, v in fit.items() if k not in ("caveats", "notes", "unplaced_text")}
    if split.get("units_split"):
        notes["units_split"] = {r["code"]: f"{r['name']}: {r['pieces']} pieces ({r['reason']})" for r in split["split"]}
    notes["data_caveats"] = [*fit.get("caveats", []), *split.get("caveats", [])]
    return notes


def _read_and_link(cfg: RunConfig, say: Progress) -> tuple[gpd.GeoDataFrame, nx.Graph, gpd.GeoDataFrame | None]:
    """Read the units, build their graph, and give each unit its PCN (``pcn_code``)."""
    units = read_units(cfg.units)
    say(f"read {len(units):,} units, {int(units['population'].sum()):,} residents from {cfg.units.path.name}")
    for note in (units.attrs.get("population_fit") or {}).get("notes", []):
        say(note)
    if cfg.units.split is not None:
        from sda.mixed import split_progress, split_units

        units, records = split_units(units, cfg.units, cfg.areas.max_population)
        said = split_progress(records, len(units))
        if said:
            say(said)
    if cfg.output.names is not None:
        read_names_csv(cfg.output.names, _lock_areas(cfg))  # its mistakes now, not after the search
    graph = build_adjacency(units, cfg.graph)
    say(f"adjacency: {graph.number_of_edges():,} links ({cfg.graph.contiguity}, snap {cfg.graph.snap_m} m)")
    practices = None
    units["pcn_code"] = ""
    if cfg.pcn.practices is not None:
        practices = read_practices(cfg.pcn.practices)
        if cfg.pcn.method == "shares" and cfg.pcn.shares is not None:
            shares = read_pcn_shares(cfg.pcn.shares, units.index, practices["pcn_code"].astype(str))
            units["pcn_code"] = largest_share_pcn(units, shares)
        else:
            units["pcn_code"] = nearest_practice_pcn(units, practices)
        say(f"PCNs: {units['pcn_code'].nunique()} networks from {len(practices)} practices ({cfg.pcn.method})")
    return units, graph, practices


def _lock_areas(cfg: RunConfig) -> list[str]:
    return [lock.area for lock in cfg.rules.locks]


def given_names(cfg: RunConfig, ids: list[str]) -> dict[str, str]:
    """Names that win over the made ones: each lock's name for its area, then ``[output] names``."""
    given = {lock.area: lock.area for lock in cfg.rules.locks if lock.area in ids}
    if cfg.output.names is not None:
        from_csv = read_names_csv(cfg.output.names, _lock_areas(cfg))
        warn_unknown_names(from_csv, ids, cfg.output.names)
        given.update({k: v for k, v in from_csv.items() if k in ids})
    return given


def build_plan(
    cfg: RunConfig,
    inputs: Inputs,
    labels: np.ndarray,
    *,
    target: float,
    provenance: Provenance | None = None,
    ids: list[str] | None = None,
    area_names: Mapping[str, str] | None = None,
    broken_rules: str = "raise",
) -> Plan:
    """Turn an assignment into a checked Plan: named areas, dissolved geometry, scores, rules.

    Raises ``InvariantError`` (and so writes nothing) if a unit or resident went missing or, with
    ``broken_rules="raise"`` (what ``propose`` uses), a hard rule is broken. With
    ``broken_rules="record"`` (a plan made or edited outside sda, ``sda evaluate``) broken rules
    are kept in ``Plan.rules`` instead. ``ids`` keeps the areas' own ids (``ids[label]``; by
    default ``sda.naming.area_ids``); ``area_names`` (id -> name, e.g. carried from a previous
    plan) keeps their names, and the rest are named from their places (``sda.naming``).
    """
    problem = inputs.problem
    if ids is None:
        ids = area_ids(problem, labels, inputs.units.loc[problem.codes])
    results = check_rules(problem, labels, ids, cfg.rules)
    if broken_rules == "record":
        verify_totals(problem, labels, ids)
    else:
        verify(problem, labels, ids, results)
    units = inputs.units.loc[problem.codes].copy()
    units["area_id"] = [ids[a] for a in labels]
    units = units.loc[inputs.units.index]
    names = name_areas(units, given={**(area_names or {}), **given_names(cfg, ids)})
    units["area_name"] = units["area_id"].map(names)
    scores = score_labels(problem, labels, target)
    areas = build_area_table(units, problem, labels, ids, names, target, cfg.graph.snap_m)
    scores["mean_polsby_popper"] = float(areas["polsby_popper"].mean())
    scores["areas_in_band"] = float(in_band(areas["population"].to_numpy(), problem.min_pop, problem.max_pop).sum())
    practices = inputs.practices
    return Plan(
        units=units,
        areas=areas,
        scores=scores,
        rules=results,
        graph=inputs.graph,
        config=cfg,
        practices=practices,
        target_population=float(target),
        warnings=list(inputs.warnings),
        provenance=provenance or Provenance(),
    )


def run(
    cfg: RunConfig,
    progress: Progress | None = None,
    *,
    previous: Path | None = None,
    meanwhile: Callable[[Plan], object] | None = None,
) -> Plan:
    """Propose areas for a configuration: the whole ``sda propose`` job, without writing files.

    With ``previous`` (an output folder or plan file), the search starts from that plan carried
    onto the current units, pays for every resident moved, and the areas keep their ids
    (``sda.rerun``); ``plan.provenance["previous"]`` records what changed. ``meanwhile`` is
    called with the plan once it is built, while the trade-offs and the bound run on the workers
    (with one job, before they run): work that needs the plan's areas but not its alternatives,
    such as drawing its maps (``sda.outputs.draw_maps``), is done there on a core that would
    otherwise wait. Without trade-offs it is not called: nothing would run alongside it.
    """
    say = progress or (lambda _m: None)
    started = time.monotonic()
    if cfg.hands_work_to_workers:
        warm_workers(cfg.search.jobs)  # parallel work will follow: start the workers meanwhile
    inputs = load_inputs(cfg, say)
    problem = inputs.problem
    check_feasible(problem, cfg.areas.count)
    if cfg.hands_work_to_workers and resolve_jobs(cfg.search.jobs) > 1:
        # The workers load the kernels as they start (``parallel._start_worker``). This process
        # waits for them rather than compiling a third copy alongside on a first run (numba's
        # cache is then written), and loads its own from the cache when it first needs them.
        say("the workers are preparing the search kernels (compiling on the first run only, then cached)")
        finish_warm_up()
        seconds_compile = 0.0
    else:
        say("preparing the search kernels (compiling on the first run only, then cached)")
        seconds_compile = compile_kernels(problem)
    # Leaving this block early (an error, Ctrl-C) stops the trade-offs started in it.
    with contextlib.ExitStack() as trading:
        other_counts: list[tradeoffs.Underway] = []

        def start_other_counts(count: int) -> None:
            # The starts are done and the workers free while this process pools: the other
            # counts' trade-offs need only the count, so they start now.
            other_counts.append(
                trading.enter_context(tradeoffs.started(cfg, inputs.graph, inputs.units, problem, count, part="counts"))
            )

        rerun = None
        if previous is not None:
            from sda.rerun import search_from_previous

            rerun = search_from_previous(
                cfg, problem, inputs.units, previous, say, pcn_names=pcn_names(inputs.practices)
            )
            result = rerun.result
        else:
            result = search(
                problem,
                count=cfg.areas.count,
                target=cfg.areas.target_population,
                seed=cfg.search.seed,
                time_limit_s=cfg.search.time_limit_s,
                starts=cfg.search.starts,
                progress=say,
                steps=cfg.search.steps,
                jobs=cfg.search.jobs,
                starts_done=start_other_counts if cfg.tradeoffs.enabled else None,
            )
        if cfg.areas.count == "auto" and len(result.starts) > 1:
            say(f"best plan: {result.count} areas, objective {result.objective:.4f}")
        target = target_for(problem, result.count if cfg.areas.count != "auto" else "auto", cfg.areas.target_population)
        provenance = _provenance(cfg, inputs, result, started)
        provenance["seconds_compile"] = round(seconds_compile + result.seconds_compile, 3)
        ids, carried_names = None, None
        if rerun is not None:
            provenance["count_asked"] = f"{cfg.areas.count} (re-run: {rerun.count_note})"
            provenance["previous"] = rerun.record
            provenance["lineage"] = {
                "previous": rerun.carried.source,
                "retired_ids": rerun.identity.retired_line,
                "names": rerun.identity.names,
            }
            ids, carried_names = rerun.identity.ids, rerun.identity.names
        bounding = None
        if cfg.exact.enabled and problem.n_pcn:
            from sda.exact import bound_plan  # HiGHS is only needed here

            # Alongside the trade-offs, the bound is a task for the workers like them, handed out
            # before them: this process then only draws the maps, and no core waits for the other
            # at the end (with one job it runs here when its result is read, below).
            on_workers = cfg.tradeoffs.enabled and resolve_jobs(cfg.search.jobs) > 1
            say("bounding the plan with HiGHS" + (" on a worker" if on_workers else ""))
            bounding = trading.enter_context(
                started_tasks(bound_plan, [(problem, result.labels, cfg.exact)], cfg.search.jobs if on_workers else 1)
            )
        pending: list[tradeoffs.Underway] = []
        if cfg.tradeoffs.enabled:
            # The rest of the trade-offs start now on the workers ([search] jobs); this process
            # builds the plan meanwhile. On steps, the ensemble is bounded by its size
            # alone (no clock), so the report repeats.
            ensemble_s = float("inf") if tradeoffs.alternative_steps(cfg) > 0 else 15.0
            if not other_counts:  # a re-run's search does not call back
                start_other_counts(result.count)
            pending = [
                *other_counts,
                trading.enter_context(
                    tradeoffs.started(
                        cfg,
                        inputs.graph,
                        inputs.units,
                        problem,
                        result.count,
                        plan_labels=result.labels,
                        ensemble_of=tradeoffs.EnsembleAsk(target, cfg.tradeoffs.ensemble, ensemble_s),
                        part="others",
                    )
                ),
            ]
        plan = build_plan(
            cfg, inputs, result.labels, target=target, provenance=provenance, ids=ids, area_names=carried_names
        )
        if pending and meanwhile is not None:
            meanwhile(plan)
        if bounding is not None:
            plan.bound = next(bounding)
            say(
                f"coterminosity {plan.bound['plan']:.3f}; bound {plan.bound['bound']:.3f}; "
                f"gap {100 * plan.bound['gap']:.1f}%"
            )
        if pending:
            say("trade-offs: re-running with other counts, weights and rules")
            plan.alternatives = []
            for part in pending:  # the other counts' rows first, as ``tradeoffs.explore`` gives them
                rows, drawn = part.collect(say)
                plan.alternatives += rows
            plan.ensemble = drawn
            say(f"ensemble: {0 if drawn is None else len(drawn)} random valid plans to rank against")
    plan.provenance["seconds_total"] = round(time.monotonic() - started, 2)
    return plan


def base_provenance(cfg: RunConfig, inputs: Inputs) -> Provenance:
    """What every plan records of where it came from: version, date, config and data files."""
    return {
        "sda_version": __version__,
        "run_at": run_timestamp().isoformat(timespec="seconds"),
        "config_file": cfg.source.name if cfg.source else "",
        "config_sha256": cfg.sha256,
        "data_files": inputs.data_files,
    }


def _provenance(cfg: RunConfig, inputs: Inputs, result: SearchResult, started: float) -> Provenance:
    return {
        **base_provenance(cfg, inputs),
        "seed": cfg.search.seed,
        "count_asked": cfg.areas.count,
        "count": result.count,
        "counts_screened": {str(k): round(v, 5) for k, v in result.screened.items()},
        "start_objectives": [round(c, 5) for c in result.starts],
        **({"pool": result.pool} if result.pool else {}),
        "seconds_search": round(result.seconds, 3),
        "seconds_compile": round(result.seconds_compile, 3),
        "pcn_method": METHOD_TEXT.get(cfg.pcn.method, cfg.pcn.method) if cfg.pcn.practices else "PCN alignment off",
        "units_note": _units_note(cfg, inputs),
        **inputs.population_notes,
    }


def _units_note(cfg: RunConfig, inputs: Inputs) -> str:
    """Which units file and fields this run read, e.g. ``487 units from lsoa.geojson (code LSOA11CD, ...)``."""
    u = cfg.units
    fields = [f"code {u.code_field}"]
    if u.population_csv is not None:
        fields.append(f"population {u.population_csv_population_field} from {u.population_csv.name}")
    elif u.population_field:
        fields.append(f"population {u.population_field}")
    if u.district_field:
        fields.append(f"district {u.district_field}")
    layer = f", layer {u.layer}" if u.layer else ""
    return f"{len(inputs.units):,} units from {u.path.name}{layer} ({', '.join(fields)})"


def sample_plans(cfg: RunConfig, n: int, *, count: int | None = None, time_limit_s: float = 60.0) -> pd.DataFrame:
    """Scores of up to ``n`` independent valid plans (random spanning-tree constructions, no search).

    The ensemble the report ranks a proposal against, and the benchmark's "alternatives" test.
    """
    problem = load_inputs(cfg).problem
    lo, hi = problem.feasible_counts()
    if count is None:
        asked = cfg.areas.count
        count = asked if isinstance(asked, int) else round(problem.total_pop / target_for(problem, "auto", "auto"))
    k = int(min(max(count, lo), hi))
    target = target_for(problem, k, cfg.areas.target_population)
    return tradeoffs.ensemble(problem, k, target, n, cfg.search.seed, time_limit_s)
