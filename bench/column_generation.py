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
3. The integer optimum over every area found (HiGHS, no starting plan, no node limit).

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
from pathlib import Path

import highspy
import numpy as np

from sda.api import load_inputs
from sda.config import ObjectiveConfig, load_config
from sda.engine import pool
from sda.engine.search import search
from sda.exact import quiet_highs, silenced_solver_output
from sda.objective import AreaStats, area_costs, score_labels
from sda.problem import Problem

#: Areas priced from besides the LP's own, each round.
OTHERS = 40


class Area:
    """One area's totals, kept up to date as units join and leave (enough to price it)."""

    def __init__(self, problem: Problem, units: np.ndarray) -> None:
        self.problem = problem
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
        joins = [(int(u), 1) for u in border[~self.inside[border]] if self.pop + p.pop[u] <= p.max_pop]
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


def price(problem: Problem, units: np.ndarray, duals: np.ndarray, target: float, k: int) -> list[np.ndarray]:
    """Areas met while one unit at a time joins or leaves ``units`` along the steepest fall of the
    reduced cost (cost minus the units' duals minus the count's dual), those below zero."""
    unit_duals, count_dual = duals[:-1], duals[-1]
    area = Area(problem, units)
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


def solve_lp(members: list[np.ndarray], costs: np.ndarray, n: int, k: int) -> tuple[float, np.ndarray, np.ndarray]:
    """The LP relaxation's value, its solution and its duals (one per unit, then the count's)."""
    lp, _ = pool._set_partitioning(members, costs, n, k)
    h = quiet_highs(120.0)
    h.passModel(lp)
    with silenced_solver_output():
        h.run()
    solution = h.getSolution()
    return h.getInfo().objective_function_value, np.asarray(solution.col_value), np.asarray(solution.row_dual)


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
    labels = np.full(n, -1, dtype=np.int64)
    for a, j in enumerate(chosen):
        labels[members[j]] = a
    assert len(chosen) == k and (labels >= 0).all(), "HiGHS returned no plan"
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/cambridgeshire-peterborough.toml")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--coterminosity-only", action="store_true", help="price areas by coterminosity alone")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--ip-seconds", type=float, default=300.0)
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
    seen = {m.tobytes() for m in members}
    offered_areas = len(members)
    costs_list = list(costs)
    t0 = time.monotonic()
    first = None
    for round_ in range(args.rounds):
        value, x, duals = solve_lp(members, np.asarray(costs_list), n, k)
        first = value if first is None else first
        rng = np.random.default_rng(round_)
        starts = [*np.flatnonzero(x > 1e-6).tolist(), *rng.choice(len(members), OTHERS, replace=False).tolist()]
        new = 0
        for j in starts:
            for units in price(problem, members[j], duals, target, k):
                if units.tobytes() not in seen:
                    seen.add(units.tobytes())
                    members.append(units)
                    costs_list.append(float(area_costs(problem, _stats(Area(problem, units)), target, k)[0]))
                    new += 1
        print(f"  round {round_}: LP {value:.5f}, {new} new areas, {len(members):,} in all")
        if not new:
            break
    lp_s = time.monotonic() - t0
    labels = solve_ip(members, np.asarray(costs_list), n, k, args.ip_seconds)
    plan, best = score_labels(problem, result.labels, target), score_labels(problem, labels, target)
    keys = _areas_of(labels)
    chosen_cost = sum(cost for units, cost in zip(members, costs_list, strict=True) if units.tobytes() in keys)
    assert abs(chosen_cost - best["objective"]) < 1e-9, "an area's cost is not its share of the plan's objective"
    print(f"areas the search's pool was offered: {offered_areas:,}; LP over them {first:.5f}")
    print(f"column generation: {len(members):,} areas, LP {value:.5f} (not a bound), {lp_s:.0f} s")
    for name, scores in (("search's plan", plan), ("integer optimum over every area", best)):
        print(f"{name}: objective {scores['objective']:.5f}, coterminosity {scores['coterminosity']:.4f}")
    if args.coterminosity_only:
        print(f"LP as coterminosity: at least {1 - value:.4f} (coterminosity the only term: cost = 1 - coterminosity)")


if __name__ == "__main__":
    main()
