"""The Plan: one proposal (unit -> area), with its scores and rule results.

Everything downstream of the engine (outputs, report, diff, evaluate, repair) reads a Plan and
never re-derives the assignment. A Plan is plain data: GeoDataFrames, DataFrames and dicts that
serialise to the output folder and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import networkx as nx
import pandas as pd

from sda.config import RunConfig


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
    bound : the HiGHS bound and gap, when computed (see ``sda.exact``).
    alternatives : trade-off runs (varying count, weights and rules), one dict of scores each.
    ensemble : scores of alternative valid plans, one row each, for the report's histograms.
    warnings : recoverable oddities met on the way (islands joined, zero-population units).
    provenance : sda version, config hash, data file hashes, seed, timings.
    """

    units: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    scores: dict[str, float]
    rules: list[RuleResult]
    graph: nx.Graph
    config: RunConfig
    practices: gpd.GeoDataFrame | None = None
    target_population: float = 0.0
    bound: dict[str, Any] | None = None
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    ensemble: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def assignment(self) -> pd.Series:
        """``unit_code -> area_id``."""
        return self.units["area_id"]
