"""The objective: one table of named, weighted terms that the engine minimises and the report explains.

Every term is a sum over areas of something computed from that area's totals alone (population,
its largest PCN's residents, how many districts it touches, border with other areas, residents
moved from a previous plan). That makes the cost of a move or a recombination a difference of a
few area costs, and lets the engine score hundreds of candidate splits at once.

``TERMS`` is the table. Each row gives the config key (a field of ``ObjectiveConfig`` with the same
name and default), the term's per-area formula (a small compiled function), when it is on, and
the report's glossary line. Everything else is derived from it: the kernel's weight vector
(``weight_vector``), the weight scaling of the search (``weight_scale``), the per-term scores
(``score_labels``) and the glossary (``glossary``). One compiled function, ``area_cost``, sums
the rows; the annealing kernel and the numpy pricing of recombinations both call it, so the two
cannot drift apart.

The terms, each scaled to roughly [0, 1]:

- ``pcn``: share of all residents who are *not* in their own PCN's area, i.e. ``1 -``
  coterminosity, where an area "belongs" to the PCN with most residents in it;
- ``cut_border``: shared border between different areas, as a share of all shared border
  (the compactness term: short cut borders make round, compact areas); with ``[graph]
  cut_measure = "links"`` each link between neighbours counts one, whatever its length
  (``Problem.cut_weight``);
- ``balance``: mean relative deviation of area populations from the target;
- ``district_splits``: share of areas that cross a district boundary;
- ``moved``: share of all residents whose area differs from a previous plan (on only when the
  problem carries one, see ``Problem.with_previous``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from sda.config import ObjectiveConfig
from sda.metrics import edge_sources
from sda.problem import Problem

# Indices into the constants vector every term function receives.
C_TOTAL_POP, C_TOTAL_CUT, C_TARGET, C_K = range(4)


# ---- the per-area formulas (one compiled function per term, one signature for all) -----------
# Arguments: constants, then the area's population, largest PCN population, number of districts,
# cut weight of its links to other areas (metres of border, or links) and residents moved from a
# previous plan.


@njit(cache=True)
def _pcn(c, pop, pcn_max, n_dist, ext, moved):
    return (pop - pcn_max) / c[C_TOTAL_POP]


@njit(cache=True)
def _cut_border(c, pop, pcn_max, n_dist, ext, moved):
    return ext / (2.0 * c[C_TOTAL_CUT])


@njit(cache=True)
def _balance(c, pop, pcn_max, n_dist, ext, moved):
    return abs(pop - c[C_TARGET]) / c[C_TARGET] / c[C_K]


@njit(cache=True)
def _district_splits(c, pop, pcn_max, n_dist, ext, moved):
    return (1.0 if n_dist > 1 else 0.0) / c[C_K]


@njit(cache=True)
def _moved(c, pop, pcn_max, n_dist, ext, moved):
    return moved / c[C_TOTAL_POP]


@dataclass(frozen=True)
class Term:
    """One row of the objective table.

    Attributes
    ----------
    name : the ``[objective]`` config key and the score's name (``term_<name>``).
    value : compiled per-area formula ``(constants, pop, pcn_max, n_dist, ext, moved) -> float``.
    active : whether the term applies to a problem (PCN alignment on, a previous plan given...).
    glossary : one line for the report.
    """

    name: str
    value: Callable[..., float]
    active: Callable[[Problem], bool]
    glossary: str


def _always(_problem: Problem) -> bool:
    return True


#: The table. Adding a term: a formula above, a row here, a field of ``ObjectiveConfig`` with the
#: same name, and one product in ``area_cost`` (see docs/engine.md, "Adding a term").
TERMS_TABLE: tuple[Term, ...] = (
    Term(
        "pcn",
        _pcn,
        lambda p: p.n_pcn > 0,
        "share of residents not in their own PCN's area (1 - coterminosity)",
    ),
    Term(
        "cut_border",
        _cut_border,
        _always,
        "shared border between different areas, as a share of all shared border (or cut links as a share "
        'of all links, with [graph] cut_measure = "links")',
    ),
    Term("balance", _balance, _always, "mean relative deviation of area populations from the target"),
    Term("district_splits", _district_splits, _always, "share of areas that cross a district boundary"),
    Term(
        "moved",
        _moved,
        lambda p: p.has_previous,
        "share of residents whose area differs from the previous plan (re-runs and repairs only)",
    ),
)
#: The term names, in table order.
TERMS: tuple[str, ...] = tuple(t.name for t in TERMS_TABLE)
#: Index of each term's weight in the kernel's weight vector.
W_INDEX = {name: i for i, name in enumerate(TERMS)}


@njit(cache=True)
def area_cost(w, c, pop, pcn_max, n_dist, ext, moved):
    """One area's weighted cost: the weighted sum of the table's rows (``w`` in table order).

    ``w`` and ``c`` may be arrays or tuples of floats; the annealing kernel passes tuples, which
    numba passes by value, so that this inlines into its loop without reference counting.
    The one place the rows are listed for the compiler (numba cannot loop over a table of
    functions without an experimental feature); ``tests/test_objective.py`` checks it against
    the table row by row.
    """
    cost = w[0] * _pcn(c, pop, pcn_max, n_dist, ext, moved)
    cost += w[1] * _cut_border(c, pop, pcn_max, n_dist, ext, moved)
    cost += w[2] * _balance(c, pop, pcn_max, n_dist, ext, moved)
    if n_dist > 1:  # the district term is 0 otherwise: skip its division
        cost += w[3] * _district_splits(c, pop, pcn_max, n_dist, ext, moved)
    if w[4] != 0.0:  # off without a previous plan: skip its division
        cost += w[4] * _moved(c, pop, pcn_max, n_dist, ext, moved)
    return cost


@njit(cache=True)
def _area_costs(w, c, pop, pcn_max, n_dist, ext, moved):
    out = np.empty(pop.shape[0])
    for a in range(pop.shape[0]):
        out[a] = area_cost(w, c, pop[a], pcn_max[a], n_dist[a], ext[a], moved[a])
    return out


def weight_vector(problem: Problem) -> np.ndarray:
    """The weights in table order, inactive terms at 0: the kernel's weight vector."""
    return np.array(
        [getattr(problem.weights, t.name) if t.active(problem) else 0.0 for t in TERMS_TABLE], dtype=np.float64
    )


def constants(problem: Problem, target: float, k: int) -> np.ndarray:
    """The constants every term reads (indexed by ``C_*``)."""
    values = [max(problem.total_pop, 1), problem.total_cut_weight, max(target, 1.0), max(k, 1)]
    return np.array(values, dtype=np.float64)


def glossary() -> dict[str, str]:
    """Term name -> the report's one-line explanation."""
    return {t.name: t.glossary for t in TERMS_TABLE}


@dataclass(frozen=True)
class AreaStats:
    """Totals of a set of candidate areas (one row each), enough to price them."""

    pop: np.ndarray  # (m,)
    pcn_pop: np.ndarray  # (m, n_pcn)
    district_pop: np.ndarray  # (m, n_district)
    ext_cut: np.ndarray  # (m,) cut weight (``Problem.cut_weight``) of links to other areas
    moved_pop: np.ndarray  # (m,) residents whose previous area is another one


def _summaries(problem: Problem, stats: AreaStats) -> tuple[Any, ...]:
    pop = np.asarray(stats.pop, dtype=np.float64)
    if problem.n_pcn and stats.pcn_pop.size:
        pcn_max = stats.pcn_pop.max(axis=1).astype(np.float64)
    else:
        pcn_max = np.zeros(len(pop))
    n_dist = (stats.district_pop > 0).sum(axis=1).astype(np.int64)
    ext = np.asarray(stats.ext_cut, dtype=np.float64)
    moved = np.asarray(stats.moved_pop, dtype=np.float64)
    return pop, pcn_max, n_dist, ext, moved


def area_term_values(problem: Problem, stats: AreaStats, target: float, k: int) -> dict[str, np.ndarray]:
    """Unweighted contribution of each candidate area to each term (sums over a plan give the term)."""
    c = constants(problem, target, k)
    arrays = _summaries(problem, stats)
    values = {}
    for i, name in enumerate(TERMS):
        unit = np.zeros(len(TERMS))
        unit[i] = 1.0
        values[name] = _area_costs(unit, c, *arrays)
    return values


def area_costs(problem: Problem, stats: AreaStats, target: float, k: int) -> np.ndarray:
    """Weighted cost of each candidate area; a plan's objective is the sum over its areas."""
    return _area_costs(weight_vector(problem), constants(problem, target, k), *_summaries(problem, stats))


def weight_scale(problem: Problem) -> float:
    """How much larger this problem's objective is than with the default weights (the sum of the
    active terms' weights over the sum of their defaults). The search's temperatures and band
    prices are multiplied by it, so that a weighting stresses a term without also cooling or
    heating the whole search."""
    default = ObjectiveConfig()
    mine = sum(getattr(problem.weights, t.name) for t in TERMS_TABLE if t.active(problem))
    base = sum(getattr(default, t.name) for t in TERMS_TABLE if t.active(problem))
    return max(mine / base, 1e-3) if base > 0 else 1.0


def moved_pop_of(problem: Problem, labels: np.ndarray, k: int) -> np.ndarray:
    """Residents per area whose previous area (``problem.previous``) is another one."""
    prev = problem.previous
    moved = (prev >= 0) & (prev != labels)
    return np.bincount(labels[moved], weights=problem.pop[moved], minlength=k).astype(np.int64)


def stats_of(problem: Problem, labels: np.ndarray, k: int) -> AreaStats:
    """Area totals of a full assignment (``labels[i]`` in ``0..k-1``)."""
    pop = np.bincount(labels, weights=problem.pop, minlength=k).astype(np.int64)
    pcn_pop = np.zeros((k, problem.n_pcn), dtype=np.int64)
    has = problem.pcn >= 0
    if problem.n_pcn:
        np.add.at(pcn_pop, (labels[has], problem.pcn[has]), problem.pop[has])
    district_pop = np.zeros((k, len(problem.district_codes)), dtype=np.int64)
    np.add.at(district_pop, (labels, problem.district), problem.pop)
    src = edge_sources(problem.indptr)
    cut = labels[src] != labels[problem.indices]
    ext = np.bincount(labels[src[cut]], weights=problem.cut_weight[cut], minlength=k)
    return AreaStats(pop, pcn_pop, district_pop, ext, moved_pop_of(problem, labels, k))


def score_labels(problem: Problem, labels: np.ndarray, target: float) -> dict[str, float]:
    """Plan-level scores of an assignment, for reports and comparisons.

    Returns ``objective`` and each weighted term (``term_<name>``), plus the plain measures
    ``coterminosity`` (share of residents in an area whose dominant PCN is their own),
    ``pcns_split`` (PCNs whose residents fall in more than one area), ``cut_edges``,
    ``cut_border_km``, ``mean_abs_deviation_pct``, ``district_splits`` (areas crossing a
    district boundary) and, with a previous plan, ``moved_share`` (residents whose area changed).
    """
    k = int(labels.max()) + 1 if len(labels) else 0
    stats = stats_of(problem, labels, k)
    values = area_term_values(problem, stats, target, k)
    w = weight_vector(problem)
    scores: dict[str, float] = {}
    for name in TERMS:
        scores[f"term_{name}"] = float(w[W_INDEX[name]] * values[name].sum())
    scores["objective"] = float(sum(scores[f"term_{t}"] for t in TERMS))
    total = max(problem.total_pop, 1)
    if problem.n_pcn:
        scores["coterminosity"] = float(stats.pcn_pop.max(axis=1).sum() / total)
        scores["pcns_split"] = float(((stats.pcn_pop > 0).sum(axis=0) > 1).sum())
    else:
        scores["coterminosity"] = float("nan")
        scores["pcns_split"] = float("nan")
    src = edge_sources(problem.indptr)
    cut = (labels[src] != labels[problem.indices]) & (src < problem.indices)
    scores["cut_edges"] = float(cut.sum())
    scores["cut_border_km"] = float(problem.border_m[cut].sum() / 1000.0)
    scores["mean_abs_deviation_pct"] = float(100.0 * np.mean(np.abs(stats.pop - target)) / max(target, 1.0))
    scores["district_splits"] = float(((stats.district_pop > 0).sum(axis=1) > 1).sum())
    scores["n_areas"] = float(k)
    if problem.has_previous:
        scores["moved_share"] = float(stats.moved_pop.sum() / total)
    return scores
