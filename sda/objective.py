"""The objective: named, weighted terms that the engine minimises and the report explains.

Every term is a sum over areas of something computed from that area's totals alone (population,
residents per PCN, residents per district, border with other areas). That makes the cost of a
move or a recombination a difference of a few area costs, and lets the engine score hundreds of
candidate splits at once with numpy. The terms, each scaled to roughly [0, 1]:

- ``pcn``: share of all residents who are *not* in their own PCN's area, i.e. ``1 -``
  coterminosity, where an area "belongs" to the PCN with most residents in it;
- ``cut_border``: shared border between different areas, as a share of all shared border
  (the compactness term: short cut borders make round, compact areas);
- ``balance``: mean relative deviation of area populations from the target;
- ``district_splits``: share of areas that cross a district boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sda.config import ObjectiveConfig
from sda.problem import Problem

TERMS = ("pcn", "cut_border", "balance", "district_splits")


@dataclass(frozen=True)
class AreaStats:
    """Totals of a set of candidate areas (one row each), enough to price them."""

    pop: np.ndarray  # (m,)
    pcn_pop: np.ndarray  # (m, n_pcn)
    district_pop: np.ndarray  # (m, n_district)
    ext_border_m: np.ndarray  # (m,) border shared with units of other areas


def area_term_values(problem: Problem, stats: AreaStats, target: float, k: int) -> dict[str, np.ndarray]:
    """Unweighted contribution of each candidate area to each term (sums over a plan give the term)."""
    total = max(problem.total_pop, 1)
    lost = stats.pop - stats.pcn_pop.max(axis=1) if problem.n_pcn and stats.pcn_pop.size else np.zeros(len(stats.pop))
    n_districts = (stats.district_pop > 0).sum(axis=1)
    return {
        "pcn": lost / total,
        "cut_border": stats.ext_border_m / (2.0 * problem.total_border_m),
        "balance": np.abs(stats.pop - target) / max(target, 1.0) / max(k, 1),
        "district_splits": (n_districts > 1).astype(float) / max(k, 1),
    }


def area_costs(problem: Problem, stats: AreaStats, target: float, k: int) -> np.ndarray:
    """Weighted cost of each candidate area; a plan's objective is the sum over its areas."""
    w = problem.weights
    values = area_term_values(problem, stats, target, k)
    return (
        w.pcn * values["pcn"]
        + w.cut_border * values["cut_border"]
        + w.balance * values["balance"]
        + w.district_splits * values["district_splits"]
    )


def weight_scale(problem: Problem) -> float:
    """How much larger this problem's objective is than with the default weights (their sum over
    the default sum; PCN weight counted only when PCNs are on). The search's temperatures and band
    prices are multiplied by it, so that a weighting stresses a term without also cooling or
    heating the whole search."""
    w, d = problem.weights, ObjectiveConfig()
    on = 1.0 if problem.n_pcn else 0.0
    mine = on * w.pcn + w.cut_border + w.balance + w.district_splits
    default = on * d.pcn + d.cut_border + d.balance + d.district_splits
    return max(mine / default, 1e-3)


def stats_of(problem: Problem, labels: np.ndarray, k: int) -> AreaStats:
    """Area totals of a full assignment (``labels[i]`` in ``0..k-1``)."""
    pop = np.bincount(labels, weights=problem.pop, minlength=k).astype(np.int64)
    pcn_pop = np.zeros((k, problem.n_pcn), dtype=np.int64)
    has = problem.pcn >= 0
    if problem.n_pcn:
        np.add.at(pcn_pop, (labels[has], problem.pcn[has]), problem.pop[has])
    district_pop = np.zeros((k, len(problem.district_codes)), dtype=np.int64)
    np.add.at(district_pop, (labels, problem.district), problem.pop)
    src = np.repeat(np.arange(problem.n), np.diff(problem.indptr))
    cut = labels[src] != labels[problem.indices]
    ext = np.bincount(labels[src[cut]], weights=problem.border_m[cut], minlength=k)
    return AreaStats(pop=pop, pcn_pop=pcn_pop, district_pop=district_pop, ext_border_m=ext)


def score_labels(problem: Problem, labels: np.ndarray, target: float) -> dict[str, float]:
    """Plan-level scores of an assignment, for reports and comparisons.

    Returns ``objective`` and each weighted term (``term_<name>``), plus the plain measures
    ``coterminosity`` (share of residents in an area whose dominant PCN is their own),
    ``pcns_split`` (PCNs whose residents fall in more than one area), ``cut_edges``,
    ``cut_border_km``, ``mean_abs_deviation_pct`` and ``district_splits`` (areas crossing a
    district boundary).
    """
    k = int(labels.max()) + 1 if len(labels) else 0
    stats = stats_of(problem, labels, k)
    values = area_term_values(problem, stats, target, k)
    w = problem.weights
    scores: dict[str, float] = {}
    for term in TERMS:
        scores[f"term_{term}"] = float(getattr(w, term) * values[term].sum())
    scores["objective"] = float(sum(scores[f"term_{t}"] for t in TERMS))
    total = max(problem.total_pop, 1)
    if problem.n_pcn:
        scores["coterminosity"] = float(stats.pcn_pop.max(axis=1).sum() / total)
        scores["pcns_split"] = float(((stats.pcn_pop > 0).sum(axis=0) > 1).sum())
    else:
        scores["coterminosity"] = float("nan")
        scores["pcns_split"] = float("nan")
    src = np.repeat(np.arange(problem.n), np.diff(problem.indptr))
    cut = (labels[src] != labels[problem.indices]) & (src < problem.indices)
    scores["cut_edges"] = float(cut.sum())
    scores["cut_border_km"] = float(problem.border_m[cut].sum() / 1000.0)
    scores["mean_abs_deviation_pct"] = float(100.0 * np.mean(np.abs(stats.pop - target)) / max(target, 1.0))
    scores["district_splits"] = float(((stats.district_pop > 0).sum(axis=1) > 1).sum())
    scores["n_areas"] = float(k)
    return scores
