"""How the benchmark runs sda: its three variants as command lines, and its own timings.

sda runs as its users run it, ``python -m sda propose ... --quiet --json``, in a subprocess
like every peer. The variants answer different questions of issue 4:

* ``sda``: the run as configured in the instance's ``sda.toml`` (count as configured, which is
  ``auto`` on ``cambs-22``; ``[search] time_limit_s``; no trade-offs, no HiGHS bound). This is
  the "end to end" row.
* ``sda-first``: the construction alone, the first valid plan: the peers' count,
  ``--time-limit 0 --steps 0 --starts 1`` (one construction, no improvement; sda's default
  of several starts would build several plans and keep the best), no trade-offs, no bound.
  Compared with ``gerrychain-tree``.
* ``sda-matched``: the peers' count and, as ``--time-limit``, the solve time GerryChain spent on
  ``recursive_tree_part`` plus ReCom on the same instance in the same run (``--steps 0`` so the
  time limit applies; ``--starts 1``, as a few seconds are better spent on one search than split
  four ways). Compared with ``gerrychain-recom``.
* ``sda-compact``: ``sda-matched`` with the objective weighted towards compactness
  (``COMPACT_OBJECTIVE``) and compactness counted as GerryChain counts it, in cut links
  (``COMPACT_GRAPH``), both written to ``sda-compact.toml`` beside ``sda.toml``. sda's default
  weighting puts PCN coterminosity first and measures compactness by shared border length; this
  row shows what sda gives when asked for compact areas in the peers' own measure in the same
  time. Also compared with ``gerrychain-recom``.

sda reports its own timings in the ``--json`` summary (``provenance``): ``seconds_search``,
the search on the prepared problem (comparable with a peer's ``solve_s``), and
``seconds_total``, everything ``sda.api.run`` does (reading, graph, search, plan table), but
not the imports or the writing of files, which only the wall time includes.

This module does not import sda, so the benchmark stays an independent check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SDA_METHODS = ("sda", "sda-first", "sda-matched", "sda-compact")
#: The sda variants given gerrychain-recom's time.
TIME_MATCHED = ("sda-matched", "sda-compact")
#: sda-compact's weighting: the cut term weighs three times the PCN term (sda's default is 0.1),
#: enough to trade some coterminosity for fewer cuts.
COMPACT_OBJECTIVE = "\n[objective]\npcn = 1.0\ncut_border = 3.0\nbalance = 0.02\ndistrict_splits = 0.01\n"
#: ... and the cut term counts cut links (``[graph] cut_measure = "links"``), the measure the
#: peers are compared on, instead of metres of border. Measured on cambs-28 (2.3 s budget, seeds
#: 1-5, in process): 329-355 cut edges counting links against 378-408 measuring length, with
#: coterminosity 0.727-0.767 against 0.730-0.759 (docs/benchmark.md).
COMPACT_GRAPH = 'cut_measure = "links"\n'
COMPACT_CONFIG = "sda-compact.toml"
#: sda-matched's budget when gerrychain-recom gave no plan (failed, timed out, skipped or not
#: run). A timed-out or skipped GerryChain needs far longer, so this does not favour sda; a failed
#: one has no plan to compare with.
MATCHED_FALLBACK_S = 5.0

_FIRST_PLAN_FLAGS = ["--time-limit", "0", "--steps", "0", "--starts", "1", "--no-tradeoffs", "--no-exact"]


def sda_command(
    method: str, config: Path, plan_dir: Path, *, seed: int, count: int, time_limit_s: float | None = None
) -> list[str]:
    """Return the command line of one sda variant (see the module docstring).

    Parameters
    ----------
    method
        ``sda``, ``sda-first``, ``sda-matched`` or ``sda-compact``.
    config
        The instance's ``sda.toml`` (``sda-compact`` reads ``sda-compact.toml`` beside it).
    plan_dir
        Where sda writes its outputs.
    seed
        Passed as ``--seed`` to every variant, as peers get it.
    count
        The peers' number of areas (``sda`` itself keeps the config's count).
    time_limit_s
        sda-matched's and sda-compact's budget; required for them, ignored otherwise.
    """
    cmd = [sys.executable, "-m", "sda", "propose", "--config", str(config), "--out", str(plan_dir),
           "--quiet", "--json", "--seed", str(seed)]  # fmt: skip
    if method == "sda":
        return cmd
    cmd += ["--count", str(count)]
    if method == "sda-first":
        return cmd + _FIRST_PLAN_FLAGS
    if method in TIME_MATCHED:
        if time_limit_s is None:
            msg = f"{method} needs a time limit"
            raise ValueError(msg)
        if method == "sda-compact":
            cmd[cmd.index(str(config))] = str(config.with_name(COMPACT_CONFIG))
        # One start: with a budget of a few seconds one longer anneal beats several short ones.
        quick = ["--steps", "0", "--starts", "1", "--no-tradeoffs", "--no-exact"]
        return [*cmd, "--time-limit", f"{time_limit_s:.2f}", *quick]
    msg = f"not an sda method: {method!r}"
    raise ValueError(msg)


def matched_budget(recom_row: dict | None, fallback_s: float = MATCHED_FALLBACK_S) -> tuple[float, str]:
    """Return sda-matched's time limit and where it came from.

    The budget is gerrychain-recom's ``solve_s`` (recursive_tree_part plus the ReCom chain) on
    the same instance in the same run; ``fallback_s`` when that run gave no plan.
    """
    if recom_row and recom_row.get("status") == "ok" and recom_row.get("solve_s"):
        return float(recom_row["solve_s"]), "gerrychain-recom solve time"
    why = f"gerrychain-recom {recom_row['status']}" if recom_row else "gerrychain-recom not run"
    return fallback_s, f"fallback, {why}"


def write_compact_config(folder: Path) -> None:
    """Write ``sda-compact.toml``: the instance's ``sda.toml`` with ``COMPACT_GRAPH`` in its
    ``[graph]`` table and ``COMPACT_OBJECTIVE`` at the end."""
    text = (folder / "sda.toml").read_text()
    if "\n[graph]\n" not in text:
        msg = f"{folder / 'sda.toml'} has no [graph] table to add {COMPACT_GRAPH.strip()} to"
        raise ValueError(msg)
    text = text.replace("\n[graph]\n", "\n[graph]\n" + COMPACT_GRAPH, 1)
    (folder / COMPACT_CONFIG).write_text(text + COMPACT_OBJECTIVE)


def read_summary(out_dir: Path) -> object:
    """Return sda's ``--json`` summary from the run's stdout (its text if it is not JSON, or None)."""
    text = (out_dir / "stdout.txt").read_text(errors="replace").strip()
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text[:2000]


def engine_times(summary: object) -> dict[str, float | None]:
    """Return ``solve_s`` (sda's ``seconds_search``) and ``sda_run_s`` (``seconds_total``) from the summary."""
    provenance = summary.get("provenance", {}) if isinstance(summary, dict) else {}
    return {"solve_s": provenance.get("seconds_search"), "sda_run_s": provenance.get("seconds_total")}
