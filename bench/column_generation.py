"""How much better could a plan be? The search's plan against a set-partitioning LP and its
integer optimum over many more areas than the search kept.

A plan is ``k`` areas that hold every unit once, and its objective is the sum of its areas'
costs, so the best plan is a set-partitioning problem over every connected, in-band area. Its
LP relaxation is the classic route to a bound (column generation); this script measures how far
that route can go on the shipped data, and whether the areas it finds make a better plan:

1. Runs the search as ``sda propose`` does (no trade-offs, no bound) and keeps the areas of the
   plans its pool was offered (``sda.engine.pool.best_partition``).
2. Column generation: solves the LP relaxation over the areas (``pool._set_partitioning``),
   then prices new areas with a local search on its duals: from each area the LP uses, and 40
   others, one unit is added or removed at a time (the area kept connected and in band) while
   its reduced cost falls; every area met on the way with a negative reduced cost is added.
   Repeats until none is found.
3. With ``--dive``, a column-generation dive for a plan near the LP: fix the area the LP uses
   most, generate areas again for the units left, repeat; backtrack to the next of the three
   areas the LP uses most when the rest cannot be covered (and, with ``--cut``, when the areas
   fixed plus the LP of the rest cost as much as the search's plan).
4. The integer optimum over every area found (HiGHS, no starting plan, no node limit).

The pricing is a heuristic, so the LP value is **not a bound**: the true LP optimum is at least
as good (a better pricer could only add areas). What it shows is the integrality gap: how much
of the LP's value a real plan (integer) can take.

Run from the repository root, e.g. ``python bench/column_generation.py --config
configs/cambridgeshire-peterborough.toml --coterminosity-only`` (about 30 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import highspy
import numpy as np
import scipy.sparse as sp

from sda.api import load_inputs
from sda.config import ObjectiveConfig, load_config
from sda.engine import pool
from sda.engine.search import search
from sda.exact import quiet_highs, silenced_solver_output
from sda.metrics import edge_sources, link_components
from sda.objective import AreaStats, area_costs, score_labels
from sda.problem import Problem

#: Areas priced from besides the LP's own, each round.
OTHERS = 40
#: Cost of leaving a unit uncovered in the LP of a dive's units left (a whole plan costs < 1), so
#: that LP stays feasible while areas for them are still being found.
UNCOVERED = 1.0
#: A dive tries at most this many of the areas the LP uses most at each depth.
DIVE_WIDTH = 3


class Area:
    """One area's totals, kept up to date as units join and leave (enough to price it)."""

    def __init__(self, problem: Problem, units: np.ndarray, allowed: np.ndarray | None = None) -> None:
        self.problem = problem
        self.allowed = np.ones(problem.n, dtype=bool) if allowed is None else allowed  # units it may take
        self.inside = np.zeros(problem.n, dtype=bool)
        self.inside[units] = True
        self.pop = int(problem.pop[units].sum())
        self.pcn_pop = np.zeros(problem.n_pcn, dtype=np.int64)
        with_pcn = units[problem.pcn[units] >= 0]
        np.add.at(self.pcn_pop, problem.pcn[with_pcn], problem.pop[with_pcn])
        self.district_pop = np.zeros(len(problem.district_codes), dtype=np.int64)
        np.add.at(self.district_pop, problem.district[units], problem.pop[units])
        self.ext = sum(float(w[~self.inside[o]].sum()) for o, w in map(self.links, units.tolist()))

    def units(self) -> np.ndarray:
        return np.flatnonzero(self.inside)

    def links(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        span = slice(self.problem.indptr[u], self.problem.indptr[u + 1])
        return self.problem.indices[span], self.problem.cut_weight[span]

    def border_change(self, u: int, leaving: bool) -> float:
        """Change of the external border when ``u`` leaves (or, ``leaving`` False, joins): its
        links to members become border and its links to the rest stop being border, or the
        other way round."""
        others, weight = self.links(u)
        outside = float(weight[~self.inside[others]].sum())
        inside = float(weight[self.inside[others]].sum())
        return inside - outside if leaving else outside - inside

    def stays_connected_without(self, u: int) -> bool:
        rest = self.units()
        rest = rest[rest != u]
        if not len(rest):
            return False
        seen, stack = {int(rest[0])}, [int(rest[0])]
        while stack:
            for w in self.links(stack.pop())[0].tolist():
                if w != u and self.inside[w] and w not in seen:
                    seen.add(w)
                    stack.append(w)
        return len(seen) == len(rest)

    def moves(self) -> list[tuple[int, int]]:
        """(unit, +1 joins / -1 leaves) for every move that keeps the band."""
        p = self.problem
        members = self.units()
        border = np.unique(np.concatenate([self.links(u)[0] for u in members.tolist()]))
        joins = [
            (int(u), 1) for u in border[~self.inside[border] & self.allowed[border]] if self.pop + p.pop[u] <= p.max_pop
        ]
        leaves = [(int(u), -1) for u in members if self.pop - p.pop[u] >= p.min_pop]
        return joins + leaves

    def stats_after(self, moves: list[tuple[int, int]]) -> AreaStats:
        """The totals after each move on its own, one row per move."""
        p = self.problem
        m = len(moves)
        pcn_pop = np.repeat(self.pcn_pop[None], m, axis=0)
        district_pop = np.repeat(self.district_pop[None], m, axis=0)
        pop, ext = np.empty(m, dtype=np.int64), np.empty(m)
        for j, (u, sign) in enumerate(moves):
            pop[j] = self.pop + sign * p.pop[u]
            if p.pcn[u] >= 0:
                pcn_pop[j, p.pcn[u]] += sign * p.pop[u]
            district_pop[j, p.district[u]] += sign * p.pop[u]
            ext[j] = self.ext + self.border_change(u, leaving=sign < 0)
        return AreaStats(pop, pcn_pop, district_pop, ext, np.zeros(m))

    def apply(self, u: int, sign: int) -> None:
        p = self.problem
        self.ext += self.border_change(u, leaving=sign < 0)
        self.inside[u] = sign > 0
        self.pop += sign * int(p.pop[u])
        if p.pcn[u] >= 0:
            self.pcn_pop[p.pcn[u]] += sign * p.pop[u]
        self.district_pop[p.district[u]] += sign * p.pop[u]


def price(
    problem: Problem, units: np.ndarray, duals: np.ndarray, target: float, k: int, allowed: np.ndarray | None = None
) -> list[np.ndarray]:
    """Areas met while one unit at a time joins or leaves ``units`` along the steepest fall of the
    reduced cost (cost minus the units' duals minus the count's dual), those below zero; units
    join only where ``allowed``."""
    unit_duals, count_dual = duals[:-1], duals[-1]
    area = Area(problem, units, allowed)
    dual_sum = float(unit_duals[units].sum())
    here = float(area_costs(problem, _stats(area), target, k)[0]) - dual_sum
    found = []
    while moves := area.moves():
        after = area_costs(problem, area.stats_after(moves), target, k)
        after -= dual_sum + np.array([sign * unit_duals[u] for u, sign in moves])
        step = next(
            (
                j
                for j in np.argsort(after)[:10]
                if after[j] < here - 1e-12 and (moves[j][1] > 0 or area.stays_connected_without(moves[j][0]))
            ),
            None,
        )
        if step is None:
            break
        u, sign = moves[step]
        area.apply(u, sign)
        dual_sum += sign * float(unit_duals[u])
        here = float(after[step])
        if here - count_dual < -1e-9:
            found.append(area.units())
    return found


def _stats(area: Area) -> AreaStats:
    """The area's totals as one row."""
    return AreaStats(
        np.array([area.pop]), area.pcn_pop[None], area.district_pop[None], np.array([area.ext]), np.zeros(1)
    )


def _areas_of(labels: np.ndarray) -> set[bytes]:
    """The plan's areas as keys of their sorted unit indices."""
    return {np.flatnonzero(labels == a).tobytes() for a in range(int(labels.max()) + 1)}


def solve_lp(
    members: list[np.ndarray], costs: np.ndarray, left: np.ndarray, k: int
) -> tuple[float, np.ndarray, np.ndarray, float]:
    """The LP relaxation of covering the units ``left`` with ``k`` of the areas (each inside them),
    a unit left uncovered at ``UNCOVERED``: its value, its solution, its duals (one per unit, 0
    for those not left, then the count's) and how much of it is uncovered."""
    rows = np.flatnonzero(left)
    row_of = np.full(len(left), -1)
    row_of[rows] = np.arange(len(rows))
    _, covering = pool._set_partitioning([row_of[units] for units in members], costs, len(rows), k)
    uncovered = sp.identity(len(rows) + 1, format="csc")[:, : len(rows)]
    matrix = sp.hstack([covering, uncovered], format="csc")
    lp, _ = pool._model(matrix, np.r_[costs, np.full(len(rows), UNCOVERED)], k)
    h = quiet_highs(120.0)
    h.passModel(lp)
    with silenced_solver_output():
        h.run()
    solution = h.getSolution()
    x, row_duals = np.asarray(solution.col_value), np.asarray(solution.row_dual)
    duals = np.zeros(len(left) + 1)
    duals[rows], duals[-1] = row_duals[:-1], row_duals[-1]
    value = h.getInfo().objective_function_value
    return value, x[: len(members)], duals, float(x[len(members) :].sum())


def solve_ip(members: list[np.ndarray], costs: np.ndarray, n: int, k: int, seconds: float) -> np.ndarray:
    """The integer optimum over the areas as labels (no start: HiGHS 1.16's presolve has been seen
    to hand a start back as "Optimal", ``sda.engine.pool.choose_areas``)."""
    lp, _ = pool._set_partitioning(members, costs, n, k)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * len(members)
    h = quiet_highs(seconds)
    h.passModel(lp)
    with silenced_solver_output():
        h.run()
    print(f"  integer model: {h.getModelStatus()}, dual bound {h.getInfo().mip_dual_bound:.5f}")
    chosen = np.flatnonzero(np.asarray(h.getSolution().col_value) > 0.5)
    labels = _labels(members, chosen.tolist(), n)
    assert len(chosen) == k and (labels >= 0).all(), "HiGHS returned no plan"
    return labels


def _labels(members: list[np.ndarray], chosen: list[int], n: int) -> np.ndarray:
    """The plan made of the ``chosen`` areas, as labels (-1 where a unit is in none)."""
    labels = np.full(n, -1, dtype=np.int64)
    for a, j in enumerate(chosen):
        labels[members[j]] = a
    return labels


class Columns:
    """Every area found so far, its cost, and a key per area to add each once."""

    def __init__(self, problem: Problem, members: list[np.ndarray], costs: np.ndarray, target: float, k: int) -> None:
        self.problem, self.target, self.k = problem, target, k
        self.members, self.costs = list(members), list(costs)
        self.seen = {units.tobytes() for units in members}

    def add(self, units: np.ndarray) -> bool:
        if units.tobytes() in self.seen:
            return False
        self.seen.add(units.tobytes())
        self.members.append(units)
        self.costs.append(float(area_costs(self.problem, _stats(Area(self.problem, units)), self.target, self.k)[0]))
        return True

    def generate(
        self, left: np.ndarray, k_left: int, rounds: int, seed: int, say: Callable[[str], None] = lambda _: None
    ) -> tuple[float, np.ndarray, list[int], float]:
        """Column generation over the units ``left`` (every unit at the root) for ``k_left`` areas:
        the LP's value, its solution over the areas inside ``left`` (``live``, their indices),
        and how much of it is uncovered."""
        live = [j for j, units in enumerate(self.members) if left[units].all()]
        for round_ in range(rounds):
            value, x, duals, uncovered = solve_lp([self.members[j] for j in live], self.costs_of(live), left, k_left)
            rng = np.random.default_rng(seed + round_)
            others = rng.choice(len(live), min(OTHERS, len(live)), replace=False).tolist()
            new = 0
            for i in [*np.flatnonzero(x > 1e-6).tolist(), *others]:
                for units in price(self.problem, self.members[live[i]], duals, self.target, self.k, left):
                    if self.add(units):
                        live.append(len(self.members) - 1)
                        new += 1
            say(f"  round {round_}: LP {value:.5f}, {new} new areas, {len(self.members):,} in all")
            if not new:
                return value, x, live, uncovered
        value, x, _, uncovered = solve_lp([self.members[j] for j in live], self.costs_of(live), left, k_left)
        return value, x, live, uncovered

    def costs_of(self, chosen: list[int]) -> np.ndarray:
        return np.asarray([self.costs[j] for j in chosen])


def could_hold(problem: Problem, left: np.ndarray, k_left: int) -> bool:
    """Whether the units ``left`` could make ``k_left`` in-band areas as far as their components'
    residents tell: each component a whole number of areas, the numbers adding up."""
    parts = np.flatnonzero(left)
    if not len(parts):
        return k_left == 0
    inside = left[edge_sources(problem.indptr)] & left[problem.indices]
    comp = link_components(problem.indptr, problem.indices, inside)[parts]
    residents = np.bincount(np.unique(comp, return_inverse=True)[1], weights=problem.pop[parts])
    fewest, most = np.ceil(residents / problem.max_pop), np.floor(residents / problem.min_pop)
    return bool((fewest <= most).all() and fewest.sum() <= k_left <= most.sum())


def dive(
    columns: Columns, k: int, rounds: int, backtracks: int, cut: float, say: Callable[[str], None] = lambda _: None
) -> list[int] | None:
    """A plan near the LP, as indices of ``columns``: fix the area the LP uses most, generate areas
    for the units left, repeat; backtrack (at most ``backtracks`` times) to the next of the
    ``DIVE_WIDTH`` areas the LP uses most when the rest cannot be covered or the areas fixed
    plus the LP of the rest cost ``cut`` or more."""
    budget = [backtracks]

    def down(left: np.ndarray, fixed: list[int]) -> list[int] | None:
        k_left = k - len(fixed)
        if k_left == 0:
            return fixed if not left.any() else None
        value, x, live, uncovered = columns.generate(left, k_left, rounds, seed=len(fixed))
        so_far = sum(columns.costs[j] for j in fixed)
        # Half a unit or more uncovered once no area is found for it: the rest cannot be covered.
        say(f"  {len(fixed)} areas fixed ({so_far:.5f}), LP of the rest {value:.5f}, {budget[0]} backtracks left")
        if uncovered >= 0.5 or so_far + value >= cut:
            return None
        for i in np.lexsort((columns.costs_of(live), -x))[:DIVE_WIDTH]:  # most used first, then cheapest
            if x[i] <= 1e-6:
                break
            rest = left.copy()
            rest[columns.members[live[i]]] = False
            if not could_hold(columns.problem, rest, k_left - 1):
                continue
            if (plan := down(rest, [*fixed, live[i]])) is not None:
                return plan
            budget[0] -= 1
            if budget[0] < 0:
                return None
        return None

    return down(np.ones(columns.problem.n, dtype=bool), [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/cambridgeshire-peterborough.toml")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--coterminosity-only", action="store_true", help="price areas by coterminosity alone")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--ip-seconds", type=float, default=300.0)
    parser.add_argument("--dive", action="store_true", help="look for a plan near the LP by diving (minutes)")
    parser.add_argument("--cut", action="store_true", help="with --dive, drop paths no better than the search's plan")
    parser.add_argument("--backtracks", type=int, default=40, help="with --dive, at most this many")
    args = parser.parse_args()
    cfg = load_config(Path(args.config))
    if args.coterminosity_only:
        only = ObjectiveConfig(pcn=1.0, cut_border=0.0, balance=0.0, district_splits=0.0)
        cfg = dataclasses.replace(cfg, objective=only)
    problem = load_inputs(cfg, lambda _m: None).problem
    offered: list[np.ndarray] = []
    best_partition = pool.best_partition

    def keep(problem: Problem, plans: list[np.ndarray], *rest: object, **kw: object) -> object:
        offered.extend(plans)
        return best_partition(problem, plans, *rest, **kw)  # type: ignore[arg-type]

    pool.best_partition = keep  # type: ignore[assignment]
    t0 = time.monotonic()
    result = search(
        problem,
        count=cfg.areas.count,
        target=cfg.areas.target_population,
        seed=args.seed,
        time_limit_s=0,
        starts=cfg.search.starts,
        steps=cfg.search.steps,
        jobs=2,
    )
    k, n = result.count, problem.n
    target = problem.total_pop / k
    print(f"{args.config}, seed {args.seed}, {k} areas: search {time.monotonic() - t0:.0f} s")
    members, costs = pool.candidate_areas(problem, [result.labels, *offered], k, target)
    columns = Columns(problem, members, costs, target, k)
    offered_areas = len(members)
    first = solve_lp(members, costs, np.ones(n, dtype=bool), k)[0]
    t0 = time.monotonic()
    value, *_ = columns.generate(np.ones(n, dtype=bool), k, args.rounds, seed=0, say=print)
    lp_s = time.monotonic() - t0
    print(f"areas the search's pool was offered: {offered_areas:,}; LP over them {first:.5f}")
    print(f"column generation: {len(columns.members):,} areas, LP {value:.5f} (not a bound), {lp_s:.0f} s")
    plan = score_labels(problem, result.labels, target)
    if args.dive:
        t0 = time.monotonic()
        cut = plan["objective"] if args.cut else np.inf
        chosen = dive(columns, k, args.rounds, args.backtracks, cut, say=lambda line: print(line, flush=True))
        took = f"{time.monotonic() - t0:.0f} s, {len(columns.members):,} areas found in all"
        if chosen is None:
            print(f"dive: no plan ({took})")
        else:
            dived = score_labels(problem, _labels(columns.members, chosen, n), target)
            print(f"dive: objective {dived['objective']:.5f}, coterminosity {dived['coterminosity']:.4f} ({took})")
    labels = solve_ip(columns.members, np.asarray(columns.costs), n, k, args.ip_seconds)
    best = score_labels(problem, labels, target)
    keys = _areas_of(labels)
    chosen_cost = sum(
        cost for units, cost in zip(columns.members, columns.costs, strict=True) if units.tobytes() in keys
    )
    assert abs(chosen_cost - best["objective"]) < 1e-9, "an area's cost is not its share of the plan's objective"
    for name, scores in (("search's plan", plan), ("integer optimum over every area", best)):
        print(f"{name}: objective {scores['objective']:.5f}, coterminosity {scores['coterminosity']:.4f}")
    if args.coterminosity_only:
        print(f"LP as coterminosity: at least {1 - value:.4f} (coterminosity the only term: cost = 1 - coterminosity)")


if __name__ == "__main__":
    main()
