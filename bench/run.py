"""Run sda and its peers on the same instances and tabulate the results.

Usage::

    python bench/run.py                       # everything (about 25 minutes on an idle 2-core machine)
    python bench/run.py --quick               # real data (22 areas) + 1k synthetic, short limits
    python bench/run.py --instances cambs-28 syn-1k --methods sda gerrychain-tree

Instances: the shipped Cambridgeshire & Peterborough LSOAs with 22 areas (sda chooses the
count itself, ``count = "auto"``; peers need a number and get 22) and with 28 areas, and
SYNTHETIC instances of 1,000, 3,000 and 10,000 units (``bench/synthetic.py``), where every
method, sda included, gets ``total / 40,000`` areas, and ``syn-tight``: 500 synthetic units
scaled so that the 28 areas everyone gets average 1% above the band's floor (a tight count).

Every method runs in its own subprocess with a wall-clock limit: sda's three variants through
``python -m sda propose`` (``bench/sda_runs.py``), each peer through ``bench/peers.py``. Methods
run in the table's order, so ``sda-matched`` comes after ``gerrychain-recom``, whose solve time
it is given. The runtime is the subprocess's wall time (imports, reading the data and writing
the plan included, for sda and peers alike); ``solve_s`` is the algorithm alone; the peak
memory is the maximum resident set size from ``os.wait4``. A peer that times out on one
instance is skipped on the larger ones (``--no-skip`` turns this off); sda never is. Plans are
scored by ``bench/metrics.py``, not by sda, and ``bench/goals.py`` checks issue 4's goals.

Outputs go to ``--out`` (default ``bench/results/``, git-ignored): ``results.json``,
``results.md`` (the table and the goals), the prepared instances and every plan's
``assignment.csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import instances as inst_mod
import pandas as pd
import synthetic
from goals import check_goals, goals_json, goals_markdown
from metrics import compute_metrics
from peers import PEERS, SOLVE_MARKER
from processes import SessionWatch
from sda_runs import (
    MATCHED_FALLBACK_S,
    SDA_METHODS,
    TIME_MATCHED,
    engine_times,
    matched_budget,
    read_summary,
    sda_command,
    write_compact_config,
)

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
REAL_UNITS = "lsoa2011_cambs_peterborough.geojson"
REAL_PRACTICES = "gp_practices_pcn_cambs_peterborough.csv"
REAL_FIELDS = {"code": "LSOA11CD", "name": "LSOA11NM", "population": "pop_mid2018", "district": "LAD11CD"}
SYNTHETIC_SIZES = {"syn-1k": 1_000, "syn-3k": 3_000, "syn-10k": 10_000}
REAL_COUNTS = {"cambs-22": (22, "auto"), "cambs-28": (28, 28)}  # peers' count, sda's count
#: Tight counts (issue 15): synthetic units whose populations are scaled so that the count's mean
#: area sits ``synthetic.TIGHT_SLACK`` above the band's floor; everyone gets that count.
TIGHT_SIZES = {"syn-tight": (500, 28)}  # units, areas
# Last: a peer that times out on the tight instance is not then skipped on the larger ones.
ALL_INSTANCES = [*REAL_COUNTS, *SYNTHETIC_SIZES, *TIGHT_SIZES]
# The table's order, and the order methods run in: sda-matched needs gerrychain-recom's time.
ALL_METHODS = ["sda", "sda-first", *PEERS, *TIME_MATCHED]
COUNT_FREE = {"spopt-maxp"}  # methods whose input does not include the number of areas
# Per-method wall-clock limits (s). Max-p gets more: with spopt's defaults it needs about
# 5 minutes on the 487 real units on 2 cores, and its plan is worth seeing once. sda is the
# subject of the benchmark and is never skipped; its limit applies to each of its variants
# (sda-matched gets its time budget on top).
DEFAULT_TIMEOUT_S = {"*": 120.0, "spopt-maxp": 360.0, "sda": 180.0}
QUICK_TIMEOUT_S = 60.0
SAMPLE_PLANS_TIMEOUT_S = 300.0
#: The session's processes are sampled every this many polls of 0.05 s (a scan of /proc costs a
#: few milliseconds, so not at every poll).
SAMPLE_EVERY_POLLS = 4


def data_dir() -> Path:
    """Return the folder with the shipped data: ``boundaries/``, else ``../shared/data``."""
    for folder in (REPO_DIR / "boundaries", REPO_DIR.parent / "shared" / "data"):
        if (folder / REAL_UNITS).exists():
            return folder
    msg = f"cannot find {REAL_UNITS} in {REPO_DIR / 'boundaries'} or {REPO_DIR.parent / 'shared' / 'data'}"
    raise FileNotFoundError(msg)


@dataclass
class ChildRun:
    """What one subprocess did: exit code, wall and CPU seconds, peak memory, whether killed."""

    returncode: int | None
    wall_s: float
    cpu_s: float
    peak_mb: float
    timed_out: bool
    ended_unix: float


def run_child(cmd: list[str], timeout_s: float, log_dir: Path) -> ChildRun:
    """Run ``cmd`` in a new session, kill it after ``timeout_s``, and measure it.

    ``os.wait4`` gives the child's own resource usage (and that of any children it waited for),
    not earlier runs'. Processes it started and did not wait for (sda's workers, forked by a
    fork server that exits with the run) are sampled in its session meanwhile
    (``processes.SessionWatch``): their CPU is added, and the peak memory is the larger of the
    child's own and the largest sum over the session's processes at one moment.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / "stdout.txt", "wb") as out, open(log_dir / "stderr.txt", "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO_DIR, start_new_session=True)
        watch = SessionWatch(proc.pid)
        timed_out = False
        polls = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout_s:
                os.killpg(proc.pid, signal.SIGKILL)  # the session we created for this child
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            if polls % SAMPLE_EVERY_POLLS == 0:
                watch.sample()
            polls += 1
            time.sleep(0.05)
        wall_s = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped; stop Popen waiting
    cpu_s = usage.ru_utime + usage.ru_stime + watch.others_cpu_s
    peak_mb = max(usage.ru_maxrss / 1024.0, watch.peak_sum_mb)
    return ChildRun(proc.returncode, wall_s, cpu_s, peak_mb, timed_out, time.time())


def _last_error_line(log_dir: Path) -> str:
    lines = [ln for ln in (log_dir / "stderr.txt").read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:500] if lines else "no error message"


def prepare_real(root: Path, name: str, time_limit_s: float) -> Path:
    """Write the instance folder and sda config for a real-data instance."""
    folder = root / "instances" / name
    data = data_dir()
    peers_count, sda_count = REAL_COUNTS[name]
    inst_mod.write_instance(folder, name, data / REAL_UNITS, REAL_FIELDS, data / REAL_PRACTICES, peers_count)
    config = inst_mod.sda_config_text(
        str(data / REAL_UNITS), REAL_FIELDS, str(data / REAL_PRACTICES), sda_count, time_limit_s=time_limit_s
    )
    (folder / "sda.toml").write_text(config)
    return folder


def prepare_synthetic(root: Path, name: str, time_limit_s: float) -> Path:
    """Generate a synthetic instance (seed 0) and write its instance folder."""
    folder = root / "instances" / name
    info = synthetic.write_synthetic(folder, SYNTHETIC_SIZES[name], seed=0, time_limit_s=time_limit_s)
    inst_mod.write_instance(
        folder, name, folder / "units.geojson", synthetic.FIELDS, folder / "practices.csv", int(info["n_areas"])
    )
    return folder


def prepare_tight(root: Path, name: str, time_limit_s: float) -> Path:
    """Generate a tight-count synthetic instance (seed 0) and write its instance folder."""
    folder = root / "instances" / name
    n_units, count = TIGHT_SIZES[name]
    mean_pop = synthetic.tight_mean_pop(n_units, count)
    synthetic.write_synthetic(folder, n_units, seed=0, time_limit_s=time_limit_s, mean_pop=mean_pop, count=count)
    inst_mod.write_instance(folder, name, folder / "units.geojson", synthetic.FIELDS, folder / "practices.csv", count)
    return folder


def method_command(
    method: str, instance: inst_mod.Instance, out_dir: Path, args: argparse.Namespace, budget_s: float | None = None
) -> list[str]:
    """Return the command line that runs ``method`` on ``instance`` (``budget_s``: sda-matched's)."""
    if method in SDA_METHODS:
        return sda_command(method, instance.folder / "sda.toml", out_dir / "plan", seed=args.seed,
                           count=instance.n_areas, time_limit_s=budget_s)  # fmt: skip
    return [sys.executable, str(BENCH_DIR / "peers.py"), method, str(instance.folder), str(out_dir),
            "--seed", str(args.seed), "--recom-steps", str(args.recom_steps)]  # fmt: skip


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def run_method(method: str, instance: inst_mod.Instance, out_dir: Path, cmd: list[str], timeout_s: float) -> dict:
    """Run one method on one instance; return its row (timings, metrics or error).

    ``out_dir`` is emptied first, so a file left by an earlier run is never read as this one's.
    """
    shutil.rmtree(out_dir, ignore_errors=True)
    child = run_child(cmd, timeout_s, out_dir)
    row: dict = {"instance": instance.name, "method": method, "runtime_s": round(child.wall_s, 2),
                 "cpu_s": round(child.cpu_s, 2), "peak_mb": round(child.peak_mb, 1),
                 "load_avg_1min": round(os.getloadavg()[0], 2), "command": shlex.join(cmd)}  # fmt: skip
    extra = _read_json(out_dir / "result.json")
    if method in SDA_METHODS:
        extra["summary"] = read_summary(out_dir)
        extra |= engine_times(extra["summary"])
    row.update({k: v for k, v in extra.items() if k != "error"})
    assignment_file = out_dir / ("plan" if method in SDA_METHODS else "") / "assignment.csv"
    if child.timed_out:
        row |= {"status": "timeout", "error": f"timed out after {timeout_s:g} s"}
        started = _read_json(out_dir / SOLVE_MARKER).get("solve_started_unix")
        if started is not None:  # a lower bound on the solve time of a peer that did not finish
            row["solve_s_at_least"] = round(child.ended_unix - started, 2)
    elif child.returncode != 0 or not assignment_file.exists():
        row |= {"status": "error", "error": extra.get("error") or _last_error_line(out_dir)}
    else:
        plan = pd.read_csv(assignment_file, dtype=str)
        assignment = dict(zip(plan["unit_code"], plan["area_id"], strict=True))
        band = (instance.min_population, instance.max_population)
        row |= {"status": "ok", **compute_metrics(instance.units, instance.graph, assignment, band)}
    return row


def time_sample_plans(root: Path, n: int, timeout_s: float) -> dict:
    """Time ``sda.api.sample_plans`` for ``n`` plans on the real data (22 areas, count auto)."""
    folder = root / "instances" / "cambs-22"
    out_dir = root / "runs" / "cambs-22" / "sda-sample-plans"
    out_json = out_dir / "sample.json"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    cmd = [sys.executable, str(BENCH_DIR / "sample_plans.py"), str(folder / "sda.toml"), str(n), str(out_json)]
    child = run_child(cmd, timeout_s, out_dir)
    result = json.loads(out_json.read_text()) if out_json.exists() else {}
    if child.timed_out:
        result["error"] = f"timed out after {timeout_s:g} s"
    elif "error" not in result and child.returncode != 0:
        result["error"] = _last_error_line(out_dir)
    return {"n": n, "wall_s": round(child.wall_s, 2), "peak_mb": round(child.peak_mb, 1), **result}


def add_ratios(rows: list[dict]) -> None:
    """Add each row's ``runtime_vs_sda``: its runtime over sda's on the same instance."""
    sda_time = {r["instance"]: r["runtime_s"] for r in rows if r["method"] == "sda" and r["status"] == "ok"}
    for row in rows:
        base = sda_time.get(row["instance"])
        row["runtime_vs_sda"] = round(row["runtime_s"] / base, 2) if base and row.get("runtime_s") else None


def machine_info() -> dict:
    """Return cores, CPU model, RAM, Python and key package versions of this machine."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())  # fmt: skip
    mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                  if ln.startswith("MemTotal"))  # fmt: skip
    versions = {}
    for pkg in ("sda", "spopt", "libpysal", "gerrychain", "geopandas", "shapely", "networkx", "numpy"):
        try:
            versions[pkg] = metadata.version(pkg)  # gerrychain has no __version__
        except metadata.PackageNotFoundError:
            versions[pkg] = "?"
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 1024**2, 1),
            "python": platform.python_version(), "platform": platform.platform(), "packages": versions}  # fmt: skip


def _fmt(value: object, spec: str = "") -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    return format(value, spec) if spec else str(value)


COLUMNS = [
    ("instance", "instance", ""), ("method", "method", ""), ("runtime_s", "runtime s", ".1f"),
    ("cpu_s", "CPU s", ".1f"), ("solve_s", "solve s", ".2f"), ("runtime_vs_sda", "x sda", ".2f"),
    ("n_areas", "areas", ""), ("areas_in_band", "in band", ""),
    ("residents_outside_band", "residents outside band", ","), ("contiguous", "contiguous", ""),
    ("coterminosity", "PCN coterminosity", ".3f"), ("pcns_split", "PCNs split", ""),
    ("cut_edges", "cut edges", ","), ("mean_polsby_popper", "mean Polsby-Popper", ".3f"),
    ("peak_mb", "peak MB", ".0f"), ("error", "error", ""),
]  # fmt: skip


def markdown_table(rows: list[dict]) -> str:
    """Return the rows as a Markdown table (failed runs keep their error text).

    A run killed at its limit shows ``>=`` the time its algorithm had run as its solve time.
    """
    lines = ["| " + " | ".join(h for _, h, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        shown = row | {"error": " ".join(filter(None, [row.get("error"), row.get("note")]))}
        if row.get("solve_s_at_least") is not None:
            shown["solve_s"] = f">= {row['solve_s_at_least']:.2f}"
        cells = [_fmt(shown.get(key), spec).replace("|", "/") for key, _, spec in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def skip_reason(method: str, n_units: int, timeout_s: float, history: dict[str, tuple[str, int, float]]) -> str | None:
    """Return why ``method`` should not run on ``n_units`` units, or None to run it.

    ``history`` holds, per method, the largest smaller instance it ran on: name, units and
    seconds (``inf`` after a timeout). A method is skipped when even linear scaling of that
    runtime, the optimistic case for these algorithms, would exceed ``timeout_s``.
    """
    if method not in history:
        return None
    name, done_units, seconds = history[method]
    if n_units <= done_units:
        return None
    if seconds == float("inf"):
        return f"skipped: timed out on {name}"
    predicted = seconds * n_units / done_units
    if predicted > timeout_s:
        return f"skipped: {seconds:.0f} s on {name} predicts > {predicted:.0f} s (limit {timeout_s:g} s)"
    return None


def method_timeout(method: str, args: argparse.Namespace) -> float:
    """Return the time limit for ``method``: ``--timeout`` if given, else its default."""
    if args.timeout:
        return args.timeout
    if args.quick:
        return QUICK_TIMEOUT_S
    key = "sda" if method in SDA_METHODS else method
    return DEFAULT_TIMEOUT_S.get(key, DEFAULT_TIMEOUT_S["*"])


def run_instance(name: str, root: Path, args: argparse.Namespace, history: dict, cache: dict) -> list[dict]:
    """Prepare one instance and run every selected method on it.

    ``history`` (see ``skip_reason``) and ``cache`` carry over between instances; the cache
    reuses the run of a method that takes no area count (max-p) on the same units and band.
    """
    prepare = prepare_real if name in REAL_COUNTS else prepare_tight if name in TIGHT_SIZES else prepare_synthetic
    instance = inst_mod.load_instance(prepare(root, name, args.sda_time_limit))
    write_compact_config(instance.folder)
    n_units = len(instance.units)
    spec = json.loads((instance.folder / "instance.json").read_text())
    rows: list[dict] = []
    for method in args.methods:
        timeout_s = method_timeout(method, args)
        budget: dict = {}
        if method in TIME_MATCHED:
            recom = next((r for r in rows if r["method"] == "gerrychain-recom"), None)
            seconds, source = matched_budget(recom, args.matched_fallback)
            budget = {"time_budget_s": round(seconds, 2), "time_budget_from": source}
            timeout_s += seconds
        key = (method, spec["units_path"], instance.min_population, instance.max_population)
        never_skip = args.no_skip or method in SDA_METHODS
        reason = None if never_skip else skip_reason(method, n_units, timeout_s, history)
        if method in COUNT_FREE and key in cache:
            rows.append(
                cache[key] | {"instance": name, "note": f"same run as {cache[key]['instance']} (takes no count)"}
            )
            continue
        if reason:
            rows.append({"instance": name, "method": method, "status": "skipped", "error": reason})
            continue
        print(f"[bench] {name} ({n_units} units, {instance.n_areas} areas): {method} ...", file=sys.stderr, flush=True)
        out_dir = root / "runs" / name / method
        cmd = method_command(method, instance, out_dir, args, budget.get("time_budget_s"))
        row = run_method(method, instance, out_dir, cmd, timeout_s) | budget
        print(f"[bench]   {row['status']} in {row['runtime_s']} s {row.get('error', '')}", file=sys.stderr, flush=True)
        seconds = float("inf") if row["status"] == "timeout" else row["runtime_s"]
        if method not in history or n_units >= history[method][1]:
            history[method] = (name, n_units, seconds)
        cache[key] = row
        rows.append(row)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description="Benchmark sda against spopt and GerryChain.")
    parser.add_argument("--quick", action="store_true", help="cambs-22 + syn-1k, short time limits (smoke run)")
    parser.add_argument("--instances", nargs="+", choices=ALL_INSTANCES, help="default: all")
    parser.add_argument("--methods", nargs="+", choices=ALL_METHODS, default=ALL_METHODS,
                        help="default: all; they run in the table's order whatever the order given")  # fmt: skip
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    parser.add_argument(
        "--timeout", type=float, help="seconds per method run (default 120, sda 180, max-p 360; quick 60)"
    )
    parser.add_argument(
        "--sda-time-limit", type=float, help="the sda row's [search] time_limit_s (default 20, quick 5)"
    )
    parser.add_argument("--recom-steps", type=int, default=1000, help="GerryChain ReCom steps")
    parser.add_argument("--sample-plans", type=int, default=1000, help="plans for sda.api.sample_plans; 0 skips")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--matched-fallback", type=float, default=MATCHED_FALLBACK_S,
                        help="sda-matched's time limit when gerrychain-recom gave no plan (default 5)")  # fmt: skip
    parser.add_argument(
        "--no-skip", action="store_true", help="run peers even when a smaller instance predicts a timeout"
    )
    args = parser.parse_args(argv)
    args.instances = args.instances or (["cambs-22", "syn-1k"] if args.quick else ALL_INSTANCES)
    args.methods = [m for m in ALL_METHODS if m in args.methods]
    args.sda_time_limit = args.sda_time_limit or (5.0 if args.quick else 20.0)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the Markdown table and write ``results.json`` / ``results.md``."""
    args = parse_args(argv)
    root = args.out.resolve()
    root.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    rows: list[dict] = []
    history: dict[str, tuple[str, int, float]] = {}
    cache: dict[tuple, dict] = {}
    for name in args.instances:
        rows += run_instance(name, root, args, history, cache)
    add_ratios(rows)
    sample = None
    if args.sample_plans and "cambs-22" in args.instances and set(SDA_METHODS) & set(args.methods):
        sample = time_sample_plans(root, args.sample_plans, args.timeout or SAMPLE_PLANS_TIMEOUT_S)
    goals = check_goals(rows, sample, ALL_INSTANCES, args.instances)
    report = {
        "started_utc": started.isoformat(timespec="seconds"),
        "elapsed_s": round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1),
        "machine": machine_info(),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "instances": {n: json.loads((root / "instances" / n / "instance.json").read_text()) for n in args.instances},
        "runs": rows,
        "sample_plans": sample,
        "goals": goals_json(goals),
    }
    (root / "results.json").write_text(json.dumps(report, indent=2, default=str))
    text = markdown_table(rows) + "\n\n" + goals_markdown(goals) + "\n"
    (root / "results.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
