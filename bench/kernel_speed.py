"""Kernel speed at a fixed step budget: proposals per second and the objective reached.

Builds the default configuration's problem, makes one first plan (fixed seed), then

- runs the compiled annealing kernel alone for ``--steps`` proposals on the default schedule
  (temperature and band price as ``improve`` ramps them) and reports proposals/second and the
  best objective in band;
- runs ``improve`` (kernel + recombination + polish) for ``--improve-steps`` steps and reports
  its seconds and objective.

Each is repeated ``--repeat`` times from the same plan and seed; medians are printed, then
every run, as one JSON line. Speeds are given per second of wall clock and per second of this
process's CPU time; on a shared, loaded machine the CPU figure is the steadier one. Compare
before and after back to back under the same load.

    python bench/kernel_speed.py                  # 3 repeats, 5M kernel steps, 2M improve steps
    python bench/kernel_speed.py --repeat 5 --steps 10000000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from sda.api import load_inputs
from sda.config import load_config
from sda.engine.anneal import AnnealState, warm_up
from sda.engine.improve import Schedule, improve
from sda.engine.search import _first_plan, target_for
from sda.objective import weight_scale

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "cambridgeshire-peterborough.toml"))
    parser.add_argument("--count", type=int, default=22)
    parser.add_argument("--steps", type=int, default=5_000_000)
    parser.add_argument("--improve-steps", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    problem = load_inputs(load_config(args.config)).problem
    target = target_for(problem, args.count, "auto")
    first = _first_plan(problem, args.count, np.random.default_rng(args.seed))
    if first is None:
        raise SystemExit(f"no first plan with {args.count} areas")
    warm_up(problem)
    plan = Schedule().scaled(weight_scale(problem))
    runs = []
    for _ in range(args.repeat):
        state = AnnealState(problem, first, target)
        rng = np.random.default_rng(args.seed)
        t0, c0 = time.perf_counter(), time.process_time()
        state.run(
            rng,
            args.steps,
            (plan.start_temperature, plan.end_temperature),
            (plan.band_price, plan.band_price_end),
            plan.piece_share,
        )
        kernel_s, kernel_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        _, kernel_obj = state.best_assignment()
        t0 = time.perf_counter()
        _, improve_obj = improve(
            problem, first, target, np.random.default_rng(args.seed), deadline=float("inf"), steps=args.improve_steps
        )
        improve_s = time.perf_counter() - t0
        runs.append(
            {
                "proposals_per_s": args.steps / kernel_s,
                "proposals_per_cpu_s": args.steps / kernel_cpu_s,
                "kernel_objective": kernel_obj,
                "improve_s": improve_s,
                "improve_objective": improve_obj,
            }
        )
    med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print(
        f"median of {args.repeat}: {med['proposals_per_s'] / 1e6:.2f} M proposals/s "
        f"({med['proposals_per_cpu_s'] / 1e6:.2f} M per CPU s), kernel objective "
        f"{med['kernel_objective']:.5f}; improve {args.improve_steps:,} steps {med['improve_s']:.1f} s, "
        f"objective {med['improve_objective']:.5f}"
    )
    print(json.dumps({"median": med, "runs": runs}))


if __name__ == "__main__":
    main()
