"""Seeds benchmark: does every seed give the same best plan, how far is it from the bound, and
what do two workers buy?

For each shipped config (default, 28 areas, districts; mid-2018 when asked) and seeds 1-8, runs
the search as ``sda propose`` does (count screening, starts, improvement; no trade-offs) with a
fixed step budget, then bounds the plan with HiGHS (``sda.exact.bound_plan``). Prints one
markdown table:

- objective: best, worst and spread ((worst - best) / best) across seeds;
- coterminosity: lowest and highest across seeds, and the gap to the bound (largest);
- disagreement: for every pair of seeds, the share of residents not in the matched area (areas
  of the two plans matched one to one to share the most residents), mean and largest;
- wall time per run at 2 jobs (every seed) and at 1 job (the first ``--one-job-seeds`` seeds),
  and whether the plans at 1 and 2 jobs are the same;
- task CPU: the CPU seconds of the screening and the starts, summed (what one idle core takes).

Run from the repository root: ``python bench/seeds.py`` (each config's own ``[search] steps``
and ``starts``; ``--steps`` and ``--starts`` override them for every config).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

import numpy as np
from processes import descendants, rss_mb
from scipy.optimize import linear_sum_assignment

from sda.api import load_inputs
from sda.config import ExactConfig, load_config
from sda.engine.search import search
from sda.exact import bound_plan
from sda.feasibility import check_feasible
from sda.objective import score_labels

CONFIGS = {
    "default": "configs/cambridgeshire-peterborough.toml",
    "28 areas": "configs/cambridgeshire-peterborough-28.toml",
    "districts": "configs/cambridgeshire-peterborough-districts.toml",
    "mid-2018": "configs/cambridgeshire-peterborough-mid2018.toml",
}


def disagreement(pop: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Share of residents outside the matched area when the areas of plans ``a`` and ``b`` are
    matched one to one so as to share the most residents."""
    shared = np.zeros((int(a.max()) + 1, int(b.max()) + 1))
    np.add.at(shared, (a, b), pop)
    rows, cols = linear_sum_assignment(shared, maximize=True)
    return 1.0 - shared[rows, cols].sum() / pop.sum()


def makespan(task_cpu_s: dict[str, list[float]], workers: int) -> float:
    """Wall seconds the search's tasks would take on an idle machine with ``workers`` cores: the
    screening tasks, then the starts, each handed to whichever worker is free first, as loky
    does (with a step budget all counts are screened in one call)."""
    total = 0.0
    for phase in ("screen", "starts"):
        free = [0.0] * workers
        for cpu in task_cpu_s.get(phase, []):
            free[free.index(min(free))] += cpu
        total += max(free)
    return total


def run_config(
    name: str,
    path: str,
    seeds: list[int],
    steps: int | None,
    one_job_seeds: int,
    with_bound: bool = True,
    starts: int | None = None,
) -> dict[str, object]:
    cfg = load_config(Path(path))
    problem = load_inputs(cfg, lambda _m: None).problem
    check_feasible(problem, cfg.areas.count)
    plans, objectives, coterm, gaps, walls2, walls1, same, ideal, cpu = [], [], [], [], [], [], [], [], []
    # Warm-up: start the workers and load the kernels in them before anything is timed.
    search(problem, count=cfg.areas.count, target="auto", seed=0, time_limit_s=0, starts=2, steps=1_000, jobs=2)
    bounds: dict[int, str] = {}
    for seed in seeds:
        options = {
            "count": cfg.areas.count,
            "target": cfg.areas.target_population,
            "seed": seed,
            "time_limit_s": 0,
            "starts": starts or cfg.search.starts,
            "steps": steps or cfg.search.steps,
        }
        t0 = time.monotonic()
        result = search(problem, jobs=2, **options)
        walls2.append(time.monotonic() - t0)
        # The loky workers and the fork server they come from (children or grandchildren).
        workers = sorted(rss_mb(pid) for pid in descendants(os.getpid()))
        one_core = makespan(result.task_cpu_s, 1)
        ideal.append(makespan(result.task_cpu_s, 2) / one_core)
        cpu.append(one_core)
        if len(walls1) < one_job_seeds:
            t0 = time.monotonic()
            alone = search(problem, jobs=1, **options)
            walls1.append(time.monotonic() - t0)
            same.append(bool(np.array_equal(alone.labels, result.labels)))
        goal = problem.total_pop / result.count if cfg.areas.count != "auto" else "auto"
        target = float(goal) if goal != "auto" else (problem.min_pop + problem.max_pop) / 2
        scores = score_labels(problem, result.labels, target)
        bound = (
            bound_plan(problem, result.labels, ExactConfig(time_limit_s=cfg.exact.time_limit_s, max_units=0))
            if with_bound
            else {"gap": float("nan"), "method": "not computed"}
        )
        bounds[result.count] = str(bound["method"])
        plans.append(result.labels)
        objectives.append(result.objective)
        coterm.append(scores["coterminosity"])
        gaps.append(bound["gap"])
        print(
            f"  {name} seed {seed}: {result.count} areas, objective {result.objective:.5f}, "
            f"coterminosity {scores['coterminosity']:.4f}, gap {bound['gap']:.3%}, {walls2[-1]:.0f} s at 2 jobs, "
            f"task CPU {cpu[-1]:.0f} s"
            + (f" ({walls1[-1]:.0f} s at 1 job)" if len(walls1) == len(plans) else "")
            + f"; this process {rss_mb(os.getpid()):.0f} MB, workers {', '.join(f'{w:.0f}' for w in workers)} MB",
            flush=True,
        )
    pairs = [disagreement(problem.pop, a, b) for a, b in itertools.combinations(plans, 2)]
    counts = sorted({int(p.max()) + 1 for p in plans})
    return {
        "config": name,
        "counts": ", ".join(map(str, counts)),
        "objective": f"{min(objectives):.5f}-{max(objectives):.5f}",
        "spread": f"{(max(objectives) - min(objectives)) / min(objectives):.2%}",
        "coterminosity": f"{min(coterm):.3f}-{max(coterm):.3f}",
        "gap": f"{min(gaps):.2%}-{max(gaps):.2%}",
        "disagree": f"{np.mean(pairs):.1%} / {max(pairs):.1%}",
        "wall 2 jobs": f"{np.mean(walls2):.0f} s",
        "wall 1 job": f"{np.mean(walls1):.0f} s" if walls1 else "-",
        "ratio": f"{np.mean(walls2[: len(walls1)]) / np.mean(walls1):.2f}" if walls1 else "-",
        "idle ratio": f"{np.mean(ideal):.2f}",
        "task CPU": f"{np.mean(cpu):.0f} s",
        "same plan": ("yes" if all(same) else "NO") if same else "-",
        "bound": "; ".join(f"{k}: {m.split(' (')[0]}" for k, m in sorted(bounds.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="annealing steps per start (default: the config's)")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--one-job-seeds", type=int, default=2, help="seeds also run at 1 job")
    judged = ["default", "28 areas", "districts"]  # the configs issue 15's goals name
    parser.add_argument("--configs", nargs="*", default=judged, choices=list(CONFIGS))
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--starts", type=int, default=None, help="starts per run (default: the config's)")
    parser.add_argument("--no-bound", action="store_true", help="skip the HiGHS bound (gap not measured)")
    args = parser.parse_args()
    started = time.monotonic()
    load = os.getloadavg()
    rows = [
        run_config(
            name,
            CONFIGS[name],
            list(range(args.first_seed, args.first_seed + args.seeds)),
            args.steps,
            args.one_job_seeds,
            with_bound=not args.no_bound,
            starts=args.starts,
        )
        for name in args.configs
    ]
    header = list(rows[0])
    print(
        f"\nsteps per start {f'{args.steps:,}' if args.steps else 'as configured'}; "
        f"starts {args.starts or 'as configured'}; "
        f"load average at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f}; "
        f"total {time.monotonic() - started:.0f} s\n"
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(row[h]) for h in header) + " |")


if __name__ == "__main__":
    main()
