"""The command line. Only this module imports click or prints; it catches ``SdaError`` and exits
with its code (1 bad data or config, 2 bad usage, 3 rules cannot be met, 4 internal check failed).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import click

from sda import __version__
from sda.config import RunConfig, load_config
from sda.errors import SdaError

CONFIG_OPTION = click.option(
    "--config",
    "-c",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Run configuration (TOML). Paths inside it are relative to the file.",
)


class _Reporter:
    """Progress lines on stderr with elapsed time, silenced by --quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.t0 = time.monotonic()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            click.echo(f"[{time.monotonic() - self.t0:6.1f}s] {message}", err=True)


def _fail(exc: SdaError) -> None:
    click.echo(f"Error: {exc}", err=True)
    sys.exit(exc.exit_code)


def _show_warnings(quiet: bool) -> None:
    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if not quiet:
            click.echo(f"Warning: {message}", err=True)

    warnings.showwarning = show


def _with_overrides(cfg: RunConfig, **changes: Any) -> RunConfig:
    """Apply CLI flags over the file's settings (the report records the result)."""
    areas = {k: v for k, v in changes.items() if k in ("count", "min_population", "max_population") and v is not None}
    search = {
        k: v for k, v in changes.items() if k in ("seed", "time_limit_s", "starts", "steps", "jobs") and v is not None
    }
    if changes.get("time_limit_s") is not None and changes.get("steps") is None:
        search["steps"] = 0  # an explicit time limit replaces the config's step budget
    if areas:
        cfg = dataclasses.replace(cfg, areas=dataclasses.replace(cfg.areas, **areas))
    if search:
        cfg = dataclasses.replace(cfg, search=dataclasses.replace(cfg.search, **search))
    if changes.get("out") is not None:
        cfg = dataclasses.replace(cfg, output=dataclasses.replace(cfg.output, dir=changes["out"]))
    if changes.get("no_tradeoffs"):
        cfg = dataclasses.replace(cfg, tradeoffs=dataclasses.replace(cfg.tradeoffs, enabled=False))
    if changes.get("no_exact"):
        cfg = dataclasses.replace(cfg, exact=dataclasses.replace(cfg.exact, enabled=False))
    return cfg


def _count(value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    msg = f"{value!r}: expected 'auto' or a whole number >= 1"
    raise click.BadParameter(msg, param_hint="--count")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sda")
def cli() -> None:
    """Propose service delivery areas: contiguous groups of parishes (or small areas) inside a
    population band, aligned to Primary Care Networks.

    \b
    Typical session:
        sda check   --config configs/cambridgeshire-peterborough.toml
        sda propose --config configs/cambridgeshire-peterborough.toml
        (open out/cambridgeshire-peterborough/plan.gpkg in QGIS, read report.html)
    """


@cli.command()
@CONFIG_OPTION
@click.option(
    "--out", "-o", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: [output] dir)."
)
@click.option("--count", help="Number of areas or 'auto' (overrides [areas] count).")
@click.option("--seed", type=int, help="Random seed (overrides [search] seed).")
@click.option(
    "--time-limit",
    "time_limit_s",
    type=click.FloatRange(min=0),
    help="Search budget in seconds (replaces [search] steps).",
)
@click.option(
    "--steps", type=click.IntRange(min=0), help="Annealing steps per start (clock-free; overrides [search] steps)."
)
@click.option("--starts", type=click.IntRange(min=1), help="Independent starts (overrides [search] starts).")
@click.option(
    "--jobs", type=click.IntRange(min=0), help="Worker processes, 0 = every core (overrides [search] jobs; same plan)."
)
@click.option("--no-exact", is_flag=True, help="Skip the HiGHS bound.")
@click.option("--no-tradeoffs", is_flag=True, help="Skip the trade-off re-runs and the ensemble (faster).")
@click.option("--quiet", "-q", is_flag=True, help="No progress or warnings on stderr.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout instead of the table."
)
def propose(
    config_path: Path,
    out: Path | None,
    count: str | None,
    seed: int | None,
    time_limit_s: float | None,
    steps: int | None,
    starts: int | None,
    jobs: int | None,
    no_exact: bool,
    no_tradeoffs: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Propose areas and write the plan: GeoJSON, GeoPackage, CSV, report.

    Every run checks that each unit is in exactly one area, that populations add up, and that
    every area is contiguous and in band; a failed check writes nothing.

    \b
    Example:
        sda propose --config configs/cambridgeshire-peterborough-28.toml --out out/28 --seed 7
    """
    _show_warnings(quiet)
    say = _Reporter(quiet)
    try:
        cfg = _with_overrides(
            load_config(config_path),
            count=_count(count),
            seed=seed,
            time_limit_s=time_limit_s,
            steps=steps,
            starts=starts,
            jobs=jobs,
            out=out,
            no_exact=no_exact,
            no_tradeoffs=no_tradeoffs,
        )
        from sda.api import run
        from sda.outputs import summary_dict, summary_table, write_outputs

        plan = run(cfg, progress=say)
        written = write_outputs(plan, cfg.output.dir)
        say(f"wrote {len(written)} files to {cfg.output.dir}")
    except SdaError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(summary_dict(plan), indent=2, default=str))
    else:
        click.echo(summary_table(plan))


@cli.command()
@CONFIG_OPTION
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when all is well.")
def check(config_path: Path, quiet: bool) -> None:
    """Check the config and input data without proposing anything.

    Reads the units, practices and PCN shares, builds the adjacency graph and runs the
    feasibility checks. Lists every problem found, with file, row, field and a fix.

    \b
    Example:
        sda check --config configs/cambridgeshire-peterborough.toml
    """
    _show_warnings(quiet)
    say = _Reporter(quiet)
    try:
        cfg = load_config(config_path)
        from sda.api import load_inputs
        from sda.feasibility import check_feasible

        inputs = load_inputs(cfg, say)
        check_feasible(inputs.problem, cfg.areas.count)
        lo, hi = inputs.problem.feasible_counts()
    except SdaError as exc:
        _fail(exc)
    if not quiet:
        click.echo(
            f"OK: {inputs.problem.n:,} units, {inputs.problem.total_pop:,} residents; counts {lo}-{hi} fit the band."
        )


@cli.command()
@CONFIG_OPTION
@click.option(
    "--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path), help="GeoJSON file of links."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def graph(config_path: Path, out: Path, quiet: bool) -> None:
    """Write the adjacency graph as lines (one per link, with border length and kind) for QGIS.

    \b
    Example:
        sda graph --config configs/cambridgeshire-peterborough.toml --out graph.geojson
    """
    _show_warnings(quiet)
    say = _Reporter(quiet)
    try:
        cfg = load_config(config_path)
        from sda.graph import build_adjacency, graph_edges_frame
        from sda.io import read_units
        from sda.outputs import write_geojson

        units = read_units(cfg.units)
        g = build_adjacency(units, cfg.graph)
        write_geojson(graph_edges_frame(units, g), out)
        say(f"wrote {g.number_of_edges():,} links to {out}")
    except SdaError as exc:
        _fail(exc)


@cli.command()
@click.argument("plan_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report(plan_dir: Path) -> None:
    """Re-render report.html and report.md from a plan folder written by ``sda propose``.

    \b
    Example:
        sda report out/cambridgeshire-peterborough
    """
    try:
        from sda.outputs import read_plan, write_report

        written = write_report(read_plan(plan_dir), plan_dir)
    except SdaError as exc:
        _fail(exc)
    click.echo("\n".join(str(p) for p in written))
