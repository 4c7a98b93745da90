"""Recombining every start's areas: the cheapest plan made of areas the search has already seen.

The objective is a sum of area costs (``sda.objective``), and an area's cost depends on its own
units only. So a plan built from areas seen in different starts, or at different moments of one
start, costs exactly the sum of those areas' costs. The annealing visits thousands of good areas
that never sit together in any one plan; choosing the cheapest ``k`` of them that cover every
unit exactly once is a set-partitioning problem, which HiGHS solves exactly for a few thousand
candidate areas in a few seconds. The best start plan is one solution, so the result is never
worse; on the default config it is better for four seeds of eight (``docs/engine.md``).

It is a pool of elite plans recombined across plans in its exact form: not a crossover of two
parents, but the best recombination of all of them at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from sda.metrics import in_band, pieces_per_area
from sda.objective import area_costs, stats_of
from sda.problem import Problem

if TYPE_CHECKING:
    import highspy

#: Snapshots of the annealing state kept per start: every few rounds, up to this many.
SNAPSHOTS_PER_START = 40
#: Largest instance pooled, and most candidate areas offered to HiGHS: beyond them the model can
#: take minutes (3,000 units and 28,000 areas: 61 s, past a 2 s clock limit).
MAX_UNITS = 2_000
MAX_CANDIDATES = 4_000
#: HiGHS branch-and-bound nodes at most: a work limit, not a clock, so a step budget still
#: gives the same plan on any machine.
MAX_NODES = 2_000
#: HiGHS's clock limit on a step budget: a guard for instances far from the shipped ones. It
#: must not bind on them even on a busy machine, or the plan would depend on the machine: the
#: default config's pool takes 1-5 s on a quiet machine, and took 25.9 s at a load average of 6
#: on 2 cores (8 starts at 28 areas: 18 s quiet).
GUARD_S = 120.0
#: Slack on LP reduced costs when dropping areas (HiGHS's dual feasibility tolerance is 1e-7;
#: an area costs about 0.005 on the shipped configs).
REDUCED_COST_MARGIN = 1e-6
#: On a time budget, the share of what is left after choosing the count that is kept for the pool.
POOL_SHARE = 0.1


@dataclass(frozen=True)
class Pooled:
    """The pool's best plan and how it was found."""

    labels: np.ndarray
    cost: float
    candidates: int  # distinct valid areas offered to HiGHS
    seconds: float  # building and solving the model


def usable(problem: Problem) -> bool:
    """Pooling needs area costs that depend on the area alone: not with a previous plan (the
    ``moved`` term depends on which area keeps which id) nor with frozen units."""
    return problem.n <= MAX_UNITS and not problem.has_previous and not problem.frozen.any()


class Snapshots:
    """About ``SNAPSHOTS_PER_START`` assignments spread evenly over one start's rounds.

    With a step budget the number of rounds is known and every ``rounds / SNAPSHOTS_PER_START``-th
    is kept; on a clock it is not, so every round is kept until there are twice too many, then
    every other one is dropped and the spacing doubles."""

    def __init__(self, rounds: int = 0) -> None:
        self.every = max(1, -(-rounds // SNAPSHOTS_PER_START))
        self.kept: list[np.ndarray] = []
        self._round = 0

    def offer(self, labels: np.ndarray) -> None:
        """Called once per round with the current assignment (copied when kept)."""
        self._round += 1
        if self._round % self.every:
            return
        self.kept.append(labels.astype(np.int32))
        if len(self.kept) >= 2 * SNAPSHOTS_PER_START:
            self.kept = self.kept[1::2]
            self.every *= 2


def candidate_areas(
    problem: Problem, plans: list[np.ndarray], k: int, target: float
) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct in-band, connected areas of ``plans`` (assignments with ``k`` areas), and each
    one's cost; the first ``MAX_CANDIDATES`` of them."""
    seen: set[bytes] = set()
    members: list[np.ndarray] = []
    costs: list[float] = []
    for labels in plans:
        if int(labels.max()) + 1 != k:
            continue
        stats = stats_of(problem, labels, k)
        cost = area_costs(problem, stats, target, k)
        whole = pieces_per_area(problem.indptr, problem.indices, labels, k) == 1
        fits = in_band(stats.pop, problem.min_pop, problem.max_pop)
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(k + 1))
        for a in np.flatnonzero(whole & fits).tolist():
            unit_set = order[bounds[a] : bounds[a + 1]]
            key = unit_set.tobytes()
            if key not in seen:
                seen.add(key)
                members.append(unit_set)
                costs.append(float(cost[a]))
        if len(members) >= MAX_CANDIDATES:
            break
    return members[:MAX_CANDIDATES], np.asarray(costs[:MAX_CANDIDATES])


def best_partition(
    problem: Problem,
    plans: list[np.ndarray],
    k: int,
    target: float,
    incumbent: np.ndarray,
    keeps_rules: Callable[[np.ndarray], bool],
    *,
    seconds: float = GUARD_S,
) -> Pooled | None:
    """The cheapest valid ``k``-area plan made of areas from ``plans``, or None when HiGHS finds
    none that passes ``keeps_rules`` (the rules other than band and contiguity, which every
    candidate area meets). ``incumbent``, the best plan so far, is HiGHS's starting solution;
    HiGHS stops after ``MAX_NODES`` nodes or ``seconds``, whichever comes first."""
    started = time.monotonic()
    members, costs = candidate_areas(problem, [incumbent, *plans], k, target)
    m = len(members)
    if m <= k:
        return None
    chosen = choose_areas(members, costs, problem.n, k, seconds)
    if chosen is None:
        return None
    labels = np.empty(problem.n, dtype=np.int64)
    for a, j in enumerate(chosen):
        labels[members[j]] = a
    if not keeps_rules(labels):
        return None
    return Pooled(labels, float(costs[chosen].sum()), m, time.monotonic() - started)


def choose_areas(
    members: list[np.ndarray], costs: np.ndarray, n: int, k: int, seconds: float = GUARD_S
) -> np.ndarray | None:
    """The cheapest ``k`` of the candidate areas (``members``: unit indices, the first ``k`` of
    them a valid plan, HiGHS's starting solution) that hold each of the ``n`` units exactly once:
    their indices, or None when HiGHS returns no such set within ``MAX_NODES`` nodes (the caller
    keeps its own plan, so a miss costs nothing but time).

    Areas that can be in no plan as cheap as the start are dropped first
    (``_could_improve``), so HiGHS's presolve, most of its time, works on fewer of them.

    HiGHS's answer is checked, never trusted: ``k`` areas, every unit once, and the objective it
    reports equal to the cost of the areas it returns. With a starting solution, HiGHS 1.16's
    presolve sometimes ends "Optimal" with an objective below the LP relaxation's and hands the
    start back (the 28-area config, seed 1; the districts config, seeds 1 and 3): the pool then
    solves again without one, which found the better plan on all seventeen pools measured (a
    default run took as long with no start at all). Presolve stays on: without it, or without its
    probing, the root node of a larger pool (3,780 areas, 8 starts at 28 areas) took 75 s or 31 s,
    where presolve closes it in 16-19 s (``docs/engine.md``)."""
    import highspy  # only needed here

    from sda.exact import quiet_highs, reports_its_solution, silenced_solver_output

    relaxation, every_area = _set_partitioning(members, costs, n, k)
    kept = _could_improve(relaxation, costs, k, seconds)
    kept_costs = costs[kept]
    lp, matrix = _model(every_area[:, kept], kept_costs, k)
    m = len(kept)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * m

    def solve(from_start: bool) -> tuple[np.ndarray | None, bool]:
        """HiGHS's areas if they make a plan, and whether its objective is theirs."""
        h = quiet_highs(seconds)
        h.setOptionValue("mip_max_nodes", MAX_NODES)
        h.passModel(lp)
        if from_start:
            start = highspy.HighsSolution()
            start.col_value = [1.0 if j < k else 0.0 for j in range(m)]
            start.value_valid = True
            h.setSolution(start)
        with silenced_solver_output():
            h.run()
        values = np.asarray(h.getSolution().col_value)
        if len(values) != m:
            return None, True
        chosen = np.flatnonzero(values > 0.5)
        if len(chosen) != k or not (matrix[:n, chosen].sum(axis=1) == 1).all():
            return None, True
        reported = float(h.getInfo().objective_function_value)
        return chosen, reports_its_solution(reported, float(kept_costs[chosen].sum()))

    chosen, consistent = solve(from_start=True)
    if not consistent:
        chosen, _ = solve(from_start=False)
    return None if chosen is None else kept[chosen]


def _set_partitioning(
    members: list[np.ndarray], costs: np.ndarray, n: int, k: int
) -> tuple[highspy.HighsLp, sp.csc_matrix]:
    """The LP relaxation of choosing ``k`` areas that hold each of the ``n`` units exactly once
    (one row per unit and one for the count), and its matrix."""
    m = len(members)
    rows = np.concatenate([*members, np.full(m, n)])
    cols = np.concatenate([np.full(len(s), j) for j, s in enumerate(members)] + [np.arange(m)])
    return _model(sp.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, m)), costs, k)


def _model(matrix: sp.csc_matrix, costs: np.ndarray, k: int) -> tuple[highspy.HighsLp, sp.csc_matrix]:
    """The LP of a set-partitioning matrix (a column per area, the count's row last) and its matrix."""
    import highspy  # only needed here

    rows, m = matrix.shape
    n = rows - 1
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = m, rows
    lp.col_cost_ = costs
    lp.col_lower_, lp.col_upper_ = np.zeros(m), np.ones(m)
    lp.row_lower_ = lp.row_upper_ = np.r_[np.ones(n), float(k)]
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(float)
    return lp, matrix


def _could_improve(relaxation: highspy.HighsLp, costs: np.ndarray, k: int, seconds: float = GUARD_S) -> np.ndarray:
    """Indices of the areas that may be in a plan no dearer than the start (the first ``k``),
    the start's own first: reduced-cost fixing. At the LP optimum ``L`` with reduced costs ``d``,
    every plan costs at least ``L + d[j]`` for each area ``j`` it uses that the LP leaves out, so
    an area with ``d[j]`` above ``start - L`` is in no plan as cheap as the start. All areas are
    kept when the LP is not solved to optimality."""
    import highspy

    from sda.exact import quiet_highs, silenced_solver_output

    h = quiet_highs(seconds)
    h.passModel(relaxation)
    with silenced_solver_output():
        h.run()
    m = len(costs)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return np.arange(m)
    reduced = np.asarray(h.getSolution().col_dual)
    slack = float(costs[:k].sum()) - float(h.getInfo().objective_function_value)
    keep = reduced <= slack + REDUCED_COST_MARGIN
    keep[:k] = True
    return np.flatnonzero(keep)
