"""The command line. Only this module imports click or prints.

Every command is wrapped in ``guarded``: an ``SdaError`` prints one line and exits with its code
(1 bad data or config, 2 bad usage, 3 rules cannot be met, 4 internal check failed); Ctrl-C exits
130 and SIGTERM 143, each with one line; any other exception is a bug in ``sda``: one line on the
terminal, the traceback in a log file in the system temp folder, exit 4.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import gc
import json
import logging
import math
import os
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from sda import NUMBA_CACHE_NOTE, __version__
from sda.config import MAX_COUNT, MAX_SECONDS, MAX_SEED, MAX_STARTS, MAX_STEPS, RunConfig, check_config, load_config
from sda.errors import InputError, SdaError
from sda.folder import claim_output_folder

if TYPE_CHECKING:
    from sda.plan import Plan

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


#: Exit codes beyond SdaError's: the shell's conventions for Ctrl-C (128 + SIGINT) and SIGTERM.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_INTERNAL = 4

F = TypeVar("F", bound=Callable[..., Any])


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C so that temporary files and locks are cleaned up."""


#: The one line said when a run is stopped, by what stopped it.
STOPPED_BY = {KeyboardInterrupt: "Interrupted (Ctrl-C).", Terminated: "Terminated (SIGTERM)."}


def _raise_terminated(signum: int, frame: Any) -> None:
    raise _said_at_once(Terminated())


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise _said_at_once(KeyboardInterrupt())


def _said_at_once(exc: KeyboardInterrupt | Terminated) -> KeyboardInterrupt | Terminated:
    """Say the stop's one line now, not once the run has unwound: that waits for the tasks already
    on the workers (6-8 s while a default run drew its maps), and a silent terminal reads as a
    Ctrl-C that was not seen. Written straight to file descriptor 2: the code interrupted may be
    writing to ``sys.stderr``, and writing through it again from here can fail as re-entrant.
    The exception is marked so that the line is not said twice."""
    with contextlib.suppress(OSError):
        os.write(2, f"{STOPPED_BY[type(exc)]}\n".encode())
    exc.said = True  # type: ignore[union-attr]
    return exc


def _write_crash_log(command: str) -> Path | None:
    """Write the current exception's traceback to a fresh log file; None if nothing can be written."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        fd, name = tempfile.mkstemp(prefix=f"sda-crash-{stamp}-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as log:
            log.write(f"sda {__version__}, command {command!r}, python {sys.version.split()[0]}\n")
            log.write(f"argv: {sys.argv!r}\n\n")
            log.write(traceback.format_exc())
    except OSError:
        return None
    return Path(name)


def _tolerant_streams() -> None:
    """On a terminal that cannot show every character (``LC_ALL=C``), show the others as escapes
    rather than fail on a unit's name such as 'Ély'."""
    for stream in (sys.stdout, sys.stderr):
        encoding = str(getattr(stream, "encoding", "") or "").lower().replace("-", "")
        if encoding not in ("utf8", "utf8sig") and hasattr(stream, "reconfigure"):
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors="backslashreplace")


def guarded(command: F) -> F:
    """Wrap a click command so that it never ends in a bare traceback.

    - ``SdaError``: ``Error: <message>`` on stderr, exit with the error's ``exit_code``.
    - Ctrl-C: ``Interrupted`` on stderr, exit 130; SIGTERM: ``Terminated``, exit 143. The line is
      said as the signal arrives; both then unwind the stack, so output folders are left as they
      were and temporary files are removed.
    - Any other exception (a bug): one line naming it and a log file with the traceback, exit 4.
    - click's own exits (usage errors, ``--help``) pass through unchanged.
    - Warnings and library log records go to stderr, or nowhere but for errors when the command
      was given ``--quiet`` (its parameter ``quiet``): ``_show_library_messages``.

    Every command uses it; put it directly above the function (below the click decorators).
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _tolerant_streams()
        previous = None
        try:
            previous = signal.signal(signal.SIGTERM, _raise_terminated)
        except ValueError:  # not the main thread (e.g. a test runner's worker): leave SIGTERM alone
            previous = None
        # Ctrl-C as Python handles it, but said at once; left alone where it is ignored (a job
        # started in the background by a script) or handled by someone else.
        ctrl_c = signal.getsignal(signal.SIGINT) if previous is not None else None
        if ctrl_c is signal.default_int_handler:
            signal.signal(signal.SIGINT, _raise_interrupted)
        try:
            _show_library_messages(bool(kwargs.get("quiet")))
            return command(*args, **kwargs)
        except SdaError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (KeyboardInterrupt, Terminated) as exc:
            _exit_interrupted(exc)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except BrokenPipeError:
            # stdout closed early (``sda propose --json | head``): the files are written; exit quietly.
            sys.stderr.close()
            sys.exit(1)
        except Exception as exc:
            interruption = _interruption(exc)
            if interruption is not None:
                _exit_interrupted(interruption)
            log = _write_crash_log(command.__name__)
            where = f"the traceback is in {log}" if log else "no log file could be written"
            if _a_worker_died(exc):
                click.echo(
                    "Error: a worker process stopped before finishing its task. The system may have "
                    "stopped it for lack of memory (each worker holds its own copy of the problem; "
                    "docs/engine.md, section 5, gives the memory per worker), something killed it, or "
                    "a script that starts sda does so outside its 'if __name__ == \"__main__\":' block. "
                    f"Run again with fewer workers (--jobs 1 uses none); {where}.",
                    err=True,
                )
                sys.exit(EXIT_INTERNAL)
            click.echo(
                f"Internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                f"(a bug in sda; {where}; please report it with that file).",
                err=True,
            )
            sys.exit(EXIT_INTERNAL)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if ctrl_c is signal.default_int_handler:
                signal.signal(signal.SIGINT, ctrl_c)

    return wrapper  # type: ignore[return-value]


def _exit_interrupted(exc: KeyboardInterrupt | Terminated) -> NoReturn:
    if not getattr(exc, "said", False):  # raised other than by sda's handlers (_said_at_once)
        click.echo(STOPPED_BY[Terminated if isinstance(exc, Terminated) else KeyboardInterrupt], err=True)
    sys.exit(EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED)


def _interruption(exc: BaseException) -> KeyboardInterrupt | Terminated | None:
    """The Ctrl-C or SIGTERM behind ``exc``, if any. Python raises it in whatever Python code runs
    next, and a compiled kernel may run some mid-call (numba's wrapper calls its unpickler on every
    call of some kernels): it then comes out as the kernel's error, ``SystemError: CPUDispatcher(...)
    returned a result with an exception set``, caused by the interruption, which was reported as a
    bug in sda (exit 4)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, (KeyboardInterrupt, Terminated)):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _a_worker_died(exc: BaseException) -> bool:
    """Whether ``exc`` is joblib's report of a worker process that exited mid-task (killed, or
    out of memory): not a bug in sda's code, and the officer can do something about it."""
    loky = sys.modules.get("joblib.externals.loky.process_executor")
    return loky is not None and isinstance(exc, loky.TerminatedWorkerError)


@contextlib.contextmanager
def _c_output_to_stderr() -> Iterator[None]:
    """Send what compiled libraries print on standard output (HiGHS's banner) to stderr, so that
    stdout holds only the results (``--json`` must parse)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no real file descriptors (an embedding host): nothing to redirect
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class _LibraryLog(logging.Handler):
    """Log records of the libraries sda uses (matplotlib, adjustText, joblib...) as one line each
    on stderr, like their warnings. Without a handler Python prints their warnings bare on stderr
    (``logging.lastResort``), past ``--quiet``. One for the process, its level set per command."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a library's malformed record: logging's own report, not a crash
            self.handleError(record)
            return
        library = record.name.partition(".")[0]
        click.echo(f"{record.levelname.capitalize()} ({library}): {message}", err=True)


_LIBRARY_LOG = _LibraryLog()


def _show_library_messages(quiet: bool) -> None:
    """Where warnings and library log records go: stderr, or under ``--quiet`` nowhere but for
    errors. ``guarded`` calls it for every command, so every ``-q`` means the same."""

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if not quiet:
            click.echo(f"Warning: {message}", err=True)

    warnings.showwarning = show
    _LIBRARY_LOG.setLevel(logging.ERROR if quiet else logging.WARNING)
    root = logging.getLogger()
    if _LIBRARY_LOG not in root.handlers:
        root.addHandler(_LIBRARY_LOG)
    if NUMBA_CACHE_NOTE and not quiet:
        click.echo(f"Note: {NUMBA_CACHE_NOTE}", err=True)


def _beside(previous: Path) -> str:
    """A folder for a re-run, next to its previous plan's: out/2025 gives out/2026, out/a out/a-rerun."""
    folder = previous if previous.is_dir() or not previous.suffix else previous.parent
    folder = folder if folder.name else folder.resolve()  # "." has no name of its own
    name = str(int(folder.name) + 1) if folder.name.isdigit() else f"{folder.name}-rerun"
    return os.path.normpath(folder.parent / name)


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


def _say_jobs_capped(jobs: int, where: str, say: Callable[[str], None]) -> None:
    """Say so when more workers were asked for than there are cores: only the cores are used."""
    from sda.engine.parallel import usable_cores  # light: no numpy

    cores = usable_cores()
    if jobs > cores:
        say(f"{where} = {jobs:,} is more than the {cores} cores sda may use here: using {cores} (same plan)")


def _count(value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_COUNT:
        return int(value)
    msg = f"{value!r}: expected 'auto' or a whole number from 1 to {MAX_COUNT:,}"
    raise click.BadParameter(msg, param_hint="--count")


class _Seconds(click.ParamType):
    """A finite number of seconds, 0 to a week (``nan`` and ``inf`` would skip or never end a search)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SECONDS:
            self.fail(f"{value!r}: expected a finite number of seconds from 0 to {MAX_SECONDS:g}", param, ctx)
        return seconds


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

    \b
    A living plan: after edits in QGIS, which rules break and a valid plan near the edits; after
    boundary or population changes, a re-run that keeps ids and moves few residents; what moved:
        sda evaluate -c configs/cambridgeshire-peterborough.toml out/cambridgeshire-peterborough
        sda repair -c configs/cambridgeshire-peterborough.toml out/cambridgeshire-peterborough -o out/repaired
        sda propose -c configs/cambridgeshire-peterborough.toml --previous out/2025 -o out/2026
        sda diff out/2025 out/2026
    """


@cli.command()
@CONFIG_OPTION
@click.option(
    "--out", "-o", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default: [output] dir)."
)
@click.option("--count", help="Number of areas or 'auto' (overrides [areas] count).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), help="Random seed (overrides [search] seed).")
@click.option(
    "--time-limit",
    "time_limit_s",
    type=_Seconds(),
    help="Search budget in seconds (replaces [search] steps).",
)
@click.option(
    "--steps",
    type=click.IntRange(0, MAX_STEPS),
    help="Annealing steps per start (clock-free; overrides [search] steps; 0 searches on the clock, [search] "
    "time_limit_s or --time-limit, instead).",
)
@click.option("--starts", type=click.IntRange(1, MAX_STARTS), help="Independent starts (overrides [search] starts).")
@click.option(
    "--jobs",
    type=click.IntRange(0, 1024),
    help="Worker processes, 0 = every core, never more than the cores (overrides [search] jobs; same plan).",
)
@click.option("--no-exact", is_flag=True, help="Skip the HiGHS bound.")
@click.option(
    "--previous",
    type=click.Path(exists=True, path_type=Path),
    help="Re-run from this previous plan (output folder, plan.gpkg, units.geojson or assignment.csv): "
    "few residents moved, areas keep their ids.",
)
@click.option("--no-tradeoffs", is_flag=True, help="Skip the trade-off re-runs and the ensemble (faster).")
@click.option("--quiet", "-q", is_flag=True, help="No progress or warnings on stderr.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout instead of the table."
)
@guarded
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
    previous: Path | None,
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
        sda propose --config configs/cambridgeshire-peterborough.toml --previous out/2025 --out out/2026
    """
    say = _Reporter(quiet)
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
    check_config(cfg, "the command line with its config")  # the flags' values in context (e.g. --count vs locks)
    _say_jobs_capped(cfg.search.jobs, "--jobs" if jobs is not None else "[search] jobs", say)
    # Refused before the search, not after it: an output over an input, a busy folder, another
    # run's files (into a change log of sda diff, propose left the log's files beside the plan).
    example = _beside(previous) if previous else "out/plan"
    flag = "--out" if out else "[output] dir"
    with claim_output_folder(cfg.output.dir, cfg, "sda propose", [previous], example, flag):
        if cfg.hands_work_to_workers:
            from sda.engine.parallel import warm_workers  # light: the workers import the engine, not us

            warm_workers(cfg.search.jobs)  # they start while this process imports the engine and reads
        if previous is not None:  # an empty or wrong folder is named now, not after the inputs load
            from sda.planfile import find_plan_file

            find_plan_file(previous)
        from sda.api import run
        from sda.outputs import DrawnMaps, draw_maps, write_outputs

        def draw(plan: Plan) -> None:  # while the trade-offs run on the workers
            say("drawing the maps")
            drawn.append(draw_maps(plan))

        drawn: list[DrawnMaps] = []
        with _c_output_to_stderr():
            plan = run(cfg, progress=say, previous=previous, meanwhile=draw)
            written = write_outputs(plan, cfg.output.dir, drawn=drawn[-1] if drawn else None)
    from sda.summary import summary_dict, summary_table

    say(f"wrote {len(written)} files to {cfg.output.dir}")
    if as_json:
        click.echo(json.dumps(summary_dict(plan), indent=2, default=str))
    else:
        click.echo(summary_table(plan))


@cli.command()
@CONFIG_OPTION
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when all is well.")
@guarded
def check(config_path: Path, quiet: bool) -> None:
    """Check the config and input data without proposing anything.

    Reads the units, practices and PCN shares, builds the adjacency graph and runs the
    feasibility checks. Lists every problem found, with file, row, field and a fix.

    \b
    Example:
        sda check --config configs/cambridgeshire-peterborough.toml
    """
    say = _Reporter(quiet)
    cfg = load_config(config_path)
    from sda.api import load_inputs
    from sda.feasibility import check_feasible
    from sda.folder import input_paths, refuse_overwriting_inputs

    refuse_overwriting_inputs([cfg.output.dir], input_paths(cfg), flag="[output] dir")

    inputs = load_inputs(cfg, say)
    check_feasible(inputs.problem, cfg.areas.count)
    lo, hi = inputs.problem.feasible_counts()
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
@guarded
def graph(config_path: Path, out: Path, quiet: bool) -> None:
    """Write the adjacency graph as lines (one per link, with border length and kind) for QGIS.

    \b
    Example:
        sda graph --config configs/cambridgeshire-peterborough.toml --out graph.geojson
    """
    say = _Reporter(quiet)
    cfg = load_config(config_path)
    from sda.folder import (
        input_paths,
        refuse_overwriting_inputs,
        refuse_replacing_another_file,
        write_file_atomically,
    )
    from sda.graph import build_adjacency, graph_edges_frame, is_graph_file
    from sda.io import read_units
    from sda.layers import write_geojson

    refuse_overwriting_inputs([out], input_paths(cfg))
    suffixes = (".geojson", ".json")
    refuse_replacing_another_file(out, is_graph_file, command="sda graph", suffixes=suffixes, example="graph.geojson")
    units = read_units(cfg.units)
    if cfg.units.split is not None:  # the graph of the units a run uses
        from sda.mixed import split_units

        units, _ = split_units(units, cfg.units, cfg.areas.max_population)
    g = build_adjacency(units, cfg.graph)
    edges = graph_edges_frame(units, g)
    write_file_atomically(out, lambda tmp: write_geojson(edges, tmp), input_paths(cfg))
    say(f"wrote {g.number_of_edges():,} links to {out}")


@cli.command()
@click.argument("plan_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--quiet", "-q", is_flag=True, help="No warnings on stderr.")
@guarded
def report(plan_dir: Path, quiet: bool) -> None:
    """Re-render report.html and report.md from a plan folder written by ``sda propose``.

    \b
    Example:
        sda report out/cambridgeshire-peterborough
    """
    from sda.outputs import read_plan, write_report

    written = write_report(read_plan(plan_dir), plan_dir)
    click.echo("\n".join(str(p) for p in written))


PLAN_ARGUMENT = click.argument("plan_path", metavar="PLAN", type=click.Path(exists=True, path_type=Path))
PLAN_FIELD_OPTIONS = (
    click.option("--code-field", help="Column of PLAN holding the unit code (default: unit_code, code, the config's)."),
    click.option("--area-field", help="Column of PLAN holding the area id (default: area_id, area, sda)."),
    click.option(
        "--original",
        type=click.Path(exists=True, path_type=Path),
        help="The sda output folder PLAN was edited from (default: the folder PLAN is in, if it is one).",
    ),
)


def _plan_field_options(command: Any) -> Any:
    for option in reversed(PLAN_FIELD_OPTIONS):
        command = option(command)
    return command


@cli.command()
@CONFIG_OPTION
@PLAN_ARGUMENT
@click.option(
    "--out", "-o", type=click.Path(file_okay=False, path_type=Path), help="Write the plan's files and report here."
)
@_plan_field_options
@click.option("--quiet", "-q", is_flag=True, help="No progress or warnings on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (rules, violations, scores) as JSON.")
@guarded
def evaluate(
    config_path: Path,
    plan_path: Path,
    out: Path | None,
    code_field: str | None,
    area_field: str | None,
    original: Path | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Check and score a plan made or edited outside sda (e.g. plan.gpkg changed in QGIS).

    PLAN is an output folder (its plan.gpkg), a GeoPackage, a GeoJSON or a CSV with a unit code
    and an area per unit. Lists every broken rule by area and unit, with the numbers and the
    edits behind it, and the scores. Exits 0 when the plan keeps every rule, 5 when it breaks
    one. --out writes the same files and report as propose, for the plan as it is, in a folder
    of its own: not PLAN's, nor one holding another run's files.

    \b
    Example:
        sda evaluate --config configs/cambridgeshire-peterborough.toml out/cambridgeshire-peterborough
    """
    say = _Reporter(quiet)
    from sda.errors import PlanBrokenError
    from sda.evaluate import evaluate_plan, evaluation_text
    from sda.outputs import summary_dict, write_outputs

    cfg = _with_overrides(load_config(config_path), out=out)
    with claim_output_folder(out, cfg, "sda evaluate", [plan_path, original], example="out/evaluated"):
        ev = evaluate_plan(
            cfg, plan_path, original=original, code_field=code_field, area_field=area_field, progress=say
        )
        if out is not None:
            written = write_outputs(ev.plan, out)
            say(f"wrote {len(written)} files to {out}")
    if as_json:
        summary = summary_dict(ev.plan)
        summary["violations"] = ev.violations
        summary["edits"] = [{"unit_code": c, **row} for c, row in ev.edits.astype(object).iterrows()]
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        click.echo(evaluation_text(ev))
    if not ev.ok:
        broken = [r.name for r in ev.plan.rules if not r.ok]
        msg = f"the plan breaks {len(broken)} rule(s): {', '.join(broken)} (listed above)."
        raise PlanBrokenError(msg)


@cli.command()
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write changes.txt, moved.csv, moved.geojson and areas.csv to this folder.",
)
@click.option("--code-field", help="Column holding the unit code, in whichever plan lacks unit_code or code.")
@click.option("--area-field", help="Column holding the area id, in whichever plan lacks area_id, area or sda.")
@click.option("--quiet", "-q", is_flag=True, help="No warnings on stderr.")
@guarded
def diff(old: Path, new: Path, out: Path | None, code_field: str | None, area_field: str | None, quiet: bool) -> None:
    """Say what changed between two plans: units and residents moved, between which areas, areas
    created or retired, and each area's population and scores before and after.

    OLD and NEW are output folders of ``sda propose`` or plan files (plan.gpkg, units.geojson,
    assignment.csv). Areas are matched by residents in common, so a fresh run is compared fairly.

    \b
    Example:
        sda diff out/2025 out/2026 --out out/2026/changes
    """
    from sda.diff import DIFF_NAMES, diff_plans, render_diff_text, write_diff
    from sda.folder import refuse_file_name_for_folder, refuse_overwriting_inputs, replace_folder
    from sda.planfile import read_planfile, run_folder

    if out is not None:
        refuse_file_name_for_folder(out, "sda diff", "changes.txt, moved.csv, moved.geojson and areas.csv")
        refuse_overwriting_inputs([out], [old, new])
        if out.is_dir() and run_folder(out) == out:
            msg = (
                "it holds an sda plan (plan.json, assignment.csv), whose areas.csv the change log would replace. "
                f"Fix: write the change log beside it or inside it, e.g. --out {out / 'changes'}."
            )
            raise InputError(out, msg)
    codes, areas = [code_field] if code_field else [], [area_field] if area_field else []
    changes = diff_plans(
        read_planfile(old, more_code_fields=codes, more_area_fields=areas),
        read_planfile(new, more_code_fields=codes, more_area_fields=areas),
    )
    if out is not None:  # the change log is swapped in as a whole, like propose's folder
        replace_folder(out, lambda staging: write_diff(changes, staging), replaces=DIFF_NAMES)
    click.echo(render_diff_text(changes), nl=False)


@cli.command()
@CONFIG_OPTION
@PLAN_ARGUMENT
@click.option(
    "--keep",
    "keep",
    multiple=True,
    metavar="AREA",
    help="Hold every unit of this area where it is (repeat for several areas).",
)
@click.option(
    "--out", "-o", type=click.Path(file_okay=False, path_type=Path), help="Write the repaired plan's files here."
)
@click.option(
    "--steps",
    type=click.IntRange(min=0),
    help="Annealing steps after the repair (clock-free; default 1,000,000; 0 anneals on the clock, [search] "
    "time_limit_s, instead).",
)
@_plan_field_options
@click.option("--quiet", "-q", is_flag=True, help="No progress or warnings on stderr.")
@guarded
def repair(
    config_path: Path,
    plan_path: Path,
    keep: tuple[str, ...],
    out: Path | None,
    steps: int | None,
    code_field: str | None,
    area_field: str | None,
    original: Path | None,
    quiet: bool,
) -> None:
    """Make an edited plan valid again, moving as few residents as possible.

    The officer's edits (units whose area differs from the run's assignment.csv) and every unit
    of the --keep areas stay where they are; the engine starts from the edited plan and mends
    the band and contiguity around them. When holding them makes the rules impossible, it says
    which edit conflicts with which rule. --out writes the files of propose and, in changes/,
    the units the repair moved (as sda diff).

    \b
    Example:
        sda repair --config configs/cambridgeshire-peterborough.toml out/cambridgeshire-peterborough \\
            --keep SDA-03 --out out/repaired
    """
    say = _Reporter(quiet)
    from sda.edits import REPAIR_STEPS, repair_edited_plan, repair_text, write_repair

    cfg = _with_overrides(load_config(config_path), out=out)
    # The edited plan is an input: a repair written over it would lose the edits.
    with claim_output_folder(out, cfg, "sda repair", [plan_path, original], example="out/repaired"):
        rep = repair_edited_plan(
            cfg,
            plan_path,
            keep=keep,
            original=original,
            code_field=code_field,
            area_field=area_field,
            steps=REPAIR_STEPS if steps is None else steps,
            progress=say,
        )
        if out is not None:
            written = write_repair(rep, out)
            say(f"wrote {len(written)} files to {out}")
    click.echo(repair_text(rep))


def main() -> None:
    """The ``sda`` command (and ``python -m sda``): the click group, then a quick way out.

    Before the interpreter exits, every object made so far is frozen out of the garbage
    collector (``gc.freeze``), so that the collections run while modules are torn down skip
    the run's many objects: the exit handlers (the worker pool's, the temporary folders') still
    run, and the command ends about half a second sooner. Only the process's own entry point
    does this; tests call ``cli`` in a process that goes on. A command that stopped while the
    workers were still starting (``warm_workers``) first lets them finish starting, so that
    joblib has nothing to abort while modules are torn down.
    """
    try:
        cli()
    finally:
        parallel = sys.modules.get("sda.engine.parallel")
        if parallel is not None:  # workers may still be starting if the command stopped early
            with contextlib.suppress(Exception):
                parallel.finish_warm_up()
        gc.freeze()
