"""The Plan: one proposal (unit -> area), with its scores and rule results.

Everything downstream of the engine (the output files and the report) reads a Plan and never
re-derives the assignment. A Plan is plain data: GeoDataFrames, DataFrames and dicts that
serialise to the output folder and back. The dicts have typed shapes (``Bound``,
``Alternative``, ``Provenance``), so a reader that asks for a key no writer fills is a type error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import geopandas as gpd
import networkx as nx
import pandas as pd

from sda.config import RunConfig


class HighsResult(TypedDict):
    """What HiGHS reported for one model (``sda.exact``); objective values in residents."""

    status: str  # HiGHS's model status, e.g. "Optimal" or "Time limit reached"
    primal: float  # the best solution's objective
    dual_bound: float  # no solution can beat this
    seconds: float


class Bound(TypedDict):
    """The HiGHS bound on a plan's PCN coterminosity (``sda.exact.bound_plan``); shares of residents."""

    measure: str  # what is bounded, in words
    plan: float  # the plan's coterminosity
    aggregate_bound: float  # the geography-free bound
    full_model: HighsResult | str  # the full model's result, or why it was skipped
    component_bound: float  # the bound per connected component (districts when nesting)
    pieces_bound: float | None  # the bound per PCN piece; None when the instance has too many
    bound: float  # the tightest bound: no plan with this count can exceed it
    method: str  # which bound that is, in words
    gap: float  # (bound - plan) / bound
    seconds: float
    exact_plan_coterminosity: NotRequired[float]  # when the full model found a better plan
    exact_labels: NotRequired[list[int]]  # that plan's area of each unit (problem order)


class Alternative(TypedDict, total=False):
    """One trade-off run (``sda.tradeoffs.explore``): a setting changed, and the plan it gave.

    A feasible run carries the scores of ``sda.objective.score_labels`` (the plain measures
    below, and one ``term_<name>`` per objective term) and ``mean_polsby_popper``; an infeasible
    one carries ``error`` instead.
    """

    kind: str  # "count", "weights", "rule" or "band"
    label: str  # what changed, in words: "24 areas", "ignore PCNs"...
    asked: str  # the variant as asked, before the label says what was produced
    count: int | str  # areas asked for (then found)
    feasible: bool
    status: str  # "ok"; "infeasible" (proven before searching); "not_found" within the budget
    error: str  # why there is no plan
    effort: str  # the search budget in words ("quick: 1 start, 1.2 s")
    from_plan: bool  # the search started from the plan itself (valid for the variant too)
    objective: float
    coterminosity: float
    pcns_split: float
    cut_edges: float
    cut_border_km: float
    mean_abs_deviation_pct: float
    district_splits: float
    n_areas: float
    mean_polsby_popper: float


class PopulationNotes(TypedDict, total=False):
    """Where the population came from and what best-fitting and splitting did (``sda.api``)."""

    population_source: str  # source and vintage, in words
    population_points: dict[str, Any]  # best-fit figures: points placed, unplaced, on borders
    units_split: dict[str, str]  # code of a split unit -> what it became
    data_caveats: list[str]  # extra caveats for the report's data section


class Provenance(TypedDict, total=False):
    """Where a plan came from: version, inputs, settings and timings (``sda.api``)."""

    sda_version: str
    run_at: str  # ISO 8601, UTC
    config_file: str
    config_sha256: str
    data_files: dict[str, str]  # "role: file name" -> sha256
    units_note: str  # which units file and fields the run read
    pcn_method: str  # how units got their PCN, in words
    seed: int
    count_asked: int | str
    count: int
    counts_screened: dict[str, float]  # count -> screening objective
    start_objectives: list[float]  # each start's objective, then each plan of the final phase
    pool: str  # what the pool of areas the starts saw gave, in words (``sda.engine.pool``)
    seconds_search: float
    seconds_compile: float
    seconds_total: float
    data_caveats: list[str]  # extra caveats for the report's data section
    population_source: str
    population_points: dict[str, Any]
    units_split: dict[str, str]
    previous: dict[str, Any]  # a re-run: how units were carried and what moved (``sda.rerun``)
    lineage: dict[str, Any]  # a line of plans: previous source, retired ids, names (``sda.identity``)
    made_by: str  # a plan not proposed: "sda evaluate ..." or "sda repair ..."
    plan_file: str  # the plan file evaluated or repaired
    edited_from: str  # the run folder the plan was edited from, if known
    units_edited: int
    edits_since_run: dict[str, str]  # unit code -> "from -> to" (``sda.evaluate.EDITS_KEY``)
    units_held: int  # sda repair: units held where the officer put them
    kept_areas: list[str]
    repair_steps: int
    run_id: str  # the run every file of an output folder belongs to (``sda.folder``)
    assignment_sha256: str  # fingerprint of the assignment, to tell an edited folder


@dataclass
class RuleResult:
    """Whether one named rule holds for a plan, and if not, who breaks it."""

    name: str
    ok: bool
    detail: str = ""


@dataclass
class Plan:
    """A proposal and everything needed to explain it.

    Attributes
    ----------
    units : one row per input unit, indexed by ``unit_code``, in EPSG:27700, with columns
        ``unit_name``, ``population``, ``district``, ``district_name``, ``pcn_code`` (may be
        empty), ``area_id`` and ``geometry``.
    areas : one row per area, indexed by ``area_id``: ``population``, ``n_units``,
        ``deviation`` (from the target), ``deviation_pct``, ``districts`` (";"-joined codes),
        ``n_districts``, ``dominant_pcn``, ``pcn_coterminosity`` (share of the area's residents in
        its dominant PCN), ``n_pcns``, ``cut_border_m`` (its border with other areas),
        ``polsby_popper``, ``geometry`` (dissolved, EPSG:27700).
    scores : plan-level numbers, see ``sda.objective.score_plan``: ``coterminosity``,
        ``pcns_split``, ``cut_edges``, ``cut_border_km``, ``mean_polsby_popper``,
        ``mean_abs_deviation_pct``, ``district_splits``, ``objective`` and the weighted terms.
    rules : one result per rule checked (band, contiguity, nesting, locks...).
    graph : the adjacency graph the plan was made on (nodes are unit codes).
    config : the configuration actually used.
    practices : GP practices with their PCN, EPSG:27700 points (empty when PCNs are off).
    target_population : the size the balance term aimed at.
    bound : the HiGHS bound and gap, when computed (see ``Bound`` and ``sda.exact``).
    alternatives : trade-off runs (varying count, weights and rules), one ``Alternative`` each.
    ensemble : scores of alternative valid plans, one row each, for the report's histograms.
    warnings : recoverable oddities met on the way (islands joined, zero-population units).
    provenance : sda version, config hash, data file hashes, seed, timings (``Provenance``).
    """

    units: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    scores: dict[str, float]
    rules: list[RuleResult]
    graph: nx.Graph
    config: RunConfig
    practices: gpd.GeoDataFrame | None = None
    target_population: float = 0.0
    bound: Bound | None = None
    alternatives: list[Alternative] = field(default_factory=list)
    ensemble: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    provenance: Provenance = field(default_factory=lambda: Provenance())

    @property
    def assignment(self) -> pd.Series:
        """``unit_code -> area_id``."""
        return self.units["area_id"]

    @property
    def moved_units(self) -> list[dict[str, Any]]:
        """The units a re-run moved since the previous plan (``sda.rerun``): ``unit_code``,
        ``from_area``, ``to_area``, ``population``, ``reason``; empty for a plan not re-run."""
        return list((self.provenance.get("previous") or {}).get("moved_units") or [])


def area_neighbours(plan: Plan) -> nx.Graph:
    """Graph of areas (nodes ``str(area_id)``) joined where any of their units are adjacent."""
    areas = nx.Graph()
    lookup = {str(code): str(area) for code, area in plan.assignment.items()}
    areas.add_nodes_from(sorted(set(lookup.values())))
    for u, v in plan.graph.edges():
        a, b = lookup.get(str(u)), lookup.get(str(v))
        if a is not None and b is not None and a != b:
            areas.add_edge(a, b)
    return areas
