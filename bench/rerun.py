"""Re-runs against fresh runs: residents moved and objective after a change to the inputs.

Usage::

    python bench/rerun.py                 # both scenarios, about 3-5 minutes on 2 cores
    python bench/rerun.py --steps 2000000 # quicker, noisier

A base plan is made from the shipped data with the default config (seed 1, no trade-offs or
bound, ``--steps`` per start, ``--starts`` starts). Then, for each scenario, the changed inputs
are planned twice with the same config and seed: a fresh run, and a re-run from the base plan
(``--previous``). Both are compared with the base plan by ``sda.diff`` (areas matched by
residents in common, so a fresh run's new numbering does not count as moves).

Scenarios (simulated from the shipped data by ``tests/reviews.py``; test fixtures, not data):

- ``boundary review``: two neighbouring units merged, one unit split in two (population divided
  by the Census 2021 output-area residents in each half), one unit recoded, and South
  Cambridgeshire's population grown by 20%;
- ``population refresh``: every unit's population times 1.05 with per-unit noise
  (``exp(N(0, 0.05))``, seed 0).

The objective reported is the plan's score without the ``moved`` term (the same terms and
weights for fresh and re-run), so the two are comparable; lower is better.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the scenario builders live with the tests

from reviews import boundary_review, population_refresh, read_shipped, write_units  # noqa: E402

from sda.api import run  # noqa: E402
from sda.config import RunConfig, load_config  # noqa: E402
from sda.diff import diff_plans  # noqa: E402
from sda.outputs import write_outputs  # noqa: E402
from sda.planfile import read_planfile  # noqa: E402

DEFAULT = ROOT / "configs" / "cambridgeshire-peterborough.toml"
OA_POINTS = ROOT / "boundaries" / "oa21_cambs_peterborough_pop2021_pwc.csv"


def bench_config(steps: int, starts: int) -> RunConfig:
    """The default config with a step budget and without the trade-offs and the bound."""
    cfg = load_config(DEFAULT)
    return dataclasses.replace(
        cfg,
        search=dataclasses.replace(cfg.search, steps=steps, starts=starts, seed=1),
        exact=dataclasses.replace(cfg.exact, enabled=False),
        tradeoffs=dataclasses.replace(cfg.tradeoffs, enabled=False),
    )


def measure(cfg: RunConfig, base: Path, out: Path, previous: Path | None) -> dict[str, Any]:
    """One run (fresh, or a re-run from ``previous``), written to ``out`` and compared with ``base``."""
    started = time.monotonic()
    plan = run(cfg, previous=previous)
    seconds = time.monotonic() - started
    write_outputs(plan, out)
    diff = diff_plans(read_planfile(base), read_planfile(out))
    return {
        "areas": len(plan.areas),
        "residents_moved": diff.residents_moved,
        "moved_share": diff.residents_moved / diff.residents_total,
        "units_moved": diff.units_moved,
        "created": diff.created,
        "retired": diff.retired,
        "objective": plan.scores["objective"],
        "coterminosity": plan.scores["coterminosity"],
        "all_rules_hold": all(r.ok for r in plan.rules),
        "seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5_000_000, help="annealing steps per start")
    parser.add_argument("--starts", type=int, default=2, help="starts of the fresh runs")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "rerun")
    args = parser.parse_args(argv)
    cfg = bench_config(args.steps, args.starts)
    base = args.out / "base"
    print(f"base plan ({args.steps:,} steps x {args.starts} starts) ...", file=sys.stderr)
    write_outputs(run(cfg), base)
    shipped = read_shipped(cfg)
    previous = read_planfile(base).assignment
    scenarios = {
        "boundary review": boundary_review(shipped, previous, OA_POINTS if OA_POINTS.is_file() else None)[0],
        "population refresh": population_refresh(shipped),
    }
    results: dict[str, dict[str, Any]] = {}
    for name, units in scenarios.items():
        folder = args.out / name.replace(" ", "-")
        changed = write_units(units, cfg, folder / "data")
        for kind, prev in (("fresh run", None), ("re-run", base)):
            print(f"{name}: {kind} ...", file=sys.stderr)
            results[f"{name} | {kind}"] = measure(changed, base, folder / kind.replace(" ", "-"), prev)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(render_table(results))
    return 0


def render_table(results: dict[str, dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| scenario | run | areas | residents moved | share | units moved | created / retired | objective "
        "| coterminosity | rules | s |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---|---:|",
    ]
    for key, r in results.items():
        scenario, kind = key.split(" | ")
        ids = f"{', '.join(r['created']) or '-'} / {', '.join(r['retired']) or '-'}"
        lines.append(
            f"| {scenario} | {kind} | {r['areas']} | {r['residents_moved']:,} | {100 * r['moved_share']:.1f}% "
            f"| {r['units_moved']} | {ids} | {r['objective']:.4f} | {r['coterminosity']:.3f} "
            f"| {'all hold' if r['all_rules_hold'] else 'BROKEN'} | {r['seconds']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
