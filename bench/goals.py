"""The performance goals of issue 4, checked against the rows of one benchmark run.

Each check reads the run's rows (and the ``sample_plans`` timing) and returns a ``Goal``: the
goal as the issue states it, how this run judges it, a status and the numbers behind it, one
line per instance. Per instance a check says ``met``, ``not met``, ``inconclusive`` (only a
bound is known, and it does not decide) or ``n/a`` (nothing to compare: the peer gave no plan);
the goal is ``not met`` if any instance is, else ``inconclusive`` if any is, else ``met`` if any
instance was compared, else ``not checked``. Instances the goal needs but the run left out, or
ran without the methods the goal compares, are listed, so a partial run never reads as a full one.

Times are compared like with like: *solve* time with solve time (sda's ``seconds_search``
against a peer's library call on inputs already in its own structures, see ``peers.py`` and
``sda_runs.py``) and *wall* time with wall time (whole subprocess).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from sda_runs import SDA_METHODS, TIME_MATCHED

FIRST_PLAN_SPEEDUP = 10.0
#: Slack on "within GerryChain's time", for timer granularity and noise on a shared machine.
MATCHED_TIME_SLACK = 0.05
SCALE_INSTANCE = "syn-10k"
SCALE_WALL_S = 120.0
SCALE_PEAK_MB = 2_000.0
SAMPLE_N = 1_000
SAMPLE_S = 60.0
#: sda reports seconds_search to 0.01 s; a shorter search counts as this long in ratios.
MIN_SOLVE_S = 0.01

MET, NOT_MET, INCONCLUSIVE, NA, NOT_CHECKED = "met", "not met", "inconclusive", "n/a", "not checked"

Rows = dict[tuple[str, str], dict]
Verdict = tuple[str, str]  # (status, one line of evidence)


@dataclass
class Goal:
    """One goal of issue 4 and what this run shows about it."""

    key: str
    goal: str
    judged_by: str
    status: str = NOT_CHECKED
    evidence: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)


def _overall(verdicts: Sequence[str]) -> str:
    for status in (NOT_MET, INCONCLUSIVE):
        if status in verdicts:
            return status
    return MET if MET in verdicts else NOT_CHECKED


def _failure(row: dict) -> str | None:
    """Return why a row has no valid plan, or None when it has one."""
    status = row.get("status")
    if status != "ok":
        return f"{row['method']} {status}: {row.get('error', '').removeprefix(f'{status}: ')}".strip()
    if not row.get("valid"):
        return (f"{row['method']} plan invalid: {row.get('areas_in_band')}/{row.get('n_areas')} in band, "
                f"contiguous {row.get('contiguous')}")  # fmt: skip
    return None


def _s(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:,.2f} s"


def _sda_wall(row: dict) -> str:
    """Return an sda row's wall time with the part spent in ``sda.api.run`` (the rest is imports and files)."""
    return f"{_s(row.get('runtime_s'))} (sda.api.run {_s(row.get('sda_run_s'))}, the rest imports and writing files)"


def _ratio(peer_s: float | None, sda_s: float | None) -> float | None:
    if peer_s is None or sda_s is None:
        return None
    return peer_s / max(sda_s, MIN_SOLVE_S)


def check_valid_everywhere(rows: Rows, instance: str) -> Verdict | None:
    """Every sda row on the instance: a plan with 100% of areas in band and contiguous."""
    ran = [rows[instance, m] for m in SDA_METHODS if (instance, m) in rows]
    if not ran:
        return None
    failures = [f for f in map(_failure, ran) if f]
    if failures:
        return NOT_MET, "; ".join(failures)
    shown = ", ".join(f"{r['method']} {r['areas_in_band']}/{r['n_areas']}" for r in ran)
    return MET, f"{shown} areas in band, all contiguous"


def check_first_plan(rows: Rows, instance: str) -> Verdict | None:
    """sda-first's solve time at least ``FIRST_PLAN_SPEEDUP`` times below gerrychain-tree's."""
    first, tree = rows.get((instance, "sda-first")), rows.get((instance, "gerrychain-tree"))
    if first is None or tree is None:
        return None
    if failure := _failure(first):
        return NOT_MET, failure
    if tree.get("status") == "ok":
        bound, peer_solve = "", tree.get("solve_s")
    elif tree.get("status") == "timeout":
        bound, peer_solve = ">= ", tree.get("solve_s_at_least")
    else:
        return NA, f"no valid plan: {_failure(tree)}; sda-first: valid plan in {_s(first.get('solve_s'))} (solve)"
    solve = _ratio(peer_solve, first.get("solve_s"))
    wall = _ratio(tree.get("runtime_s"), first.get("runtime_s"))
    text = (f"solve {_s(first.get('solve_s'))} vs {bound}{_s(peer_solve)} = {bound}{solve or 0:,.1f}x; "
            f"wall {_sda_wall(first)} vs {bound}{_s(tree.get('runtime_s'))} = {bound}{wall or 0:,.2f}x")  # fmt: skip
    if solve is None:
        return INCONCLUSIVE, text + " (a solve time is missing)"
    if solve >= FIRST_PLAN_SPEEDUP:
        return MET, text
    return (INCONCLUSIVE if bound else NOT_MET), text


def check_matched(rows: Rows, instance: str) -> Verdict | None:
    """sda-matched or sda-compact: fewer cut edges and higher coterminosity than gerrychain-recom,
    in its time. Met when either variant is; the evidence shows both."""
    verdicts = [v for m in TIME_MATCHED if (v := _check_matched_one(rows, instance, m)) is not None]
    if not verdicts:
        return None
    statuses = [status for status, _ in verdicts]
    status = MET if MET in statuses else (NOT_MET if NOT_MET in statuses else statuses[0])
    return status, " | ".join(text for _, text in verdicts)


def _check_matched_one(rows: Rows, instance: str, method: str) -> Verdict | None:
    matched, recom = rows.get((instance, method)), rows.get((instance, "gerrychain-recom"))
    if matched is None:
        return None
    if failure := _failure(matched):
        return NOT_MET, f"{method}: {failure}"
    budget = matched.get("time_budget_s")
    spent = matched.get("solve_s")
    mine = f"{matched['cut_edges']:,} cut edges, coterminosity {matched['coterminosity']:.3f}"
    if recom is None or _failure(recom):
        why = f"no valid plan: {_failure(recom)}" if recom else "gerrychain-recom not run"
        return NA, f"{why}; {method} given {_s(budget)} ({matched.get('time_budget_from')}): {mine}"
    fewer = matched["cut_edges"] < recom["cut_edges"]
    higher = matched["coterminosity"] > recom["coterminosity"]
    within = spent is not None and budget is not None and spent <= budget * (1 + MATCHED_TIME_SLACK)
    fewer_text = "fewer" if fewer else "not fewer"
    text = (f"{method}: cut edges {matched['cut_edges']:,} vs {recom['cut_edges']:,} ({fewer_text}); "
            f"coterminosity {matched['coterminosity']:.3f} vs {recom['coterminosity']:.3f} "
            f"({'higher' if higher else 'not higher'}); sda search {_s(spent)} for GerryChain's {_s(budget)} "
            f"({'within' if within else 'over'})")  # fmt: skip
    return (MET if fewer and higher and within else NOT_MET), text


def check_scale(rows: Rows, instance: str) -> Verdict | None:
    """The ``sda`` row on the 10,000-unit instance: valid, under the wall and memory limits."""
    row = rows.get((instance, "sda"))
    if instance != SCALE_INSTANCE or row is None:
        return None
    if failure := _failure(row):
        return NOT_MET, f"{failure} (after {_s(row.get('runtime_s'))} wall, {row.get('peak_mb', 0):,.0f} MB peak)"
    fast = row["runtime_s"] < SCALE_WALL_S
    small = row["peak_mb"] < SCALE_PEAK_MB
    text = (f"wall {_sda_wall(row)}, limit {SCALE_WALL_S:g} s; peak {row['peak_mb']:,.0f} MB, limit "
            f"{SCALE_PEAK_MB:,.0f} MB; sda search {_s(row.get('solve_s'))}; "
            f"valid plan of {row['n_areas']} areas")  # fmt: skip
    return (MET if fast and small else NOT_MET), text


def check_sample_plans(sample: dict | None) -> Verdict | None:
    """``sda.api.sample_plans``: ``SAMPLE_N`` valid plans in under ``SAMPLE_S`` seconds."""
    if sample is None:
        return None
    if sample.get("error"):
        return NOT_MET, f"sample_plans: {sample['error']}"
    returned, seconds = sample.get("n_returned", 0), sample.get("seconds")
    text = (f"{returned:,} of {sample['n']:,} plans in {_s(seconds)} (the call; subprocess wall "
            f"{_s(sample.get('wall_s'))}, {sample.get('peak_mb', 0):,.0f} MB peak)")  # fmt: skip
    if sample["n"] < SAMPLE_N:
        return INCONCLUSIVE, text + f"; the goal asks for {SAMPLE_N:,}"
    return (MET if returned >= SAMPLE_N and seconds is not None and seconds < SAMPLE_S else NOT_MET), text


def _per_instance(goal: Goal, check: Callable[[Rows, str], Verdict | None], rows: Rows,
                  needed: Sequence[str], run: Sequence[str]) -> Goal:  # fmt: skip
    statuses = []
    for instance in needed:
        verdict = check(rows, instance) if instance in run else None
        if verdict is None:
            (goal.not_compared if instance in run else goal.not_run).append(instance)
            continue
        statuses.append(verdict[0])
        goal.evidence.append(f"{instance}: {verdict[0]}: {verdict[1]}")
    goal.status = _overall(statuses)
    return goal


#: Per goal: the issue's words, and how this run judges them.
GOALS = {
    "valid_everywhere": (
        "100% of areas in band and contiguous on every instance, including 28 areas on Cambridgeshire & Peterborough",
        "every sda row (sda, sda-first, sda-matched, sda-compact) on every instance has a valid plan "
        "(bench/metrics.py)",
    ),
    "first_plan_10x": (
        "a first valid plan at least 10 times faster than GerryChain's recursive_tree_part on the same instance",
        (
            "solve time, sda-first's seconds_search against gerrychain-tree's recursive_tree_part call (both on "
            f"prepared inputs), at least {FIRST_PLAN_SPEEDUP:g}x; wall times for reference; a GerryChain run killed "
            "at its limit counts with the time its algorithm had run by then (a lower bound)"
        ),
    ),
    "matched_beats_recom": (
        (
            "within the time GerryChain spends on recursive_tree_part plus 1,000 ReCom steps, a plan with fewer "
            "cut edges and higher PCN coterminosity than GerryChain's best"
        ),
        (
            "sda-matched (default weights) or sda-compact (compactness weighted up), each given gerrychain-recom's "
            "solve time as --time-limit, against gerrychain-recom: strictly "
            "fewer cut edges, strictly higher coterminosity, sda's seconds_search at most the budget + "
            f"{MATCHED_TIME_SLACK:.0%}"
        ),
    ),
    "scale_10k": (
        "10,000 units end to end in under 2 minutes and under 2 GB peak memory on 2 cores",
        f"the sda row on {SCALE_INSTANCE}: valid plan, subprocess wall < {SCALE_WALL_S:g} s, "
        f"peak memory (summed over its processes) < {SCALE_PEAK_MB:,.0f} MB",
    ),
    "sample_plans_1000": (
        "1,000 alternative valid plans for Cambridgeshire & Peterborough in under 60 seconds",
        f"sda.api.sample_plans(cfg, {SAMPLE_N:,}) on cambs-22: every plan returned, the call < {SAMPLE_S:g} s",
    ),
}


def check_goals(rows: list[dict], sample: dict | None, all_instances: Sequence[str], run: Sequence[str]) -> list[Goal]:
    """Check every goal of issue 4 against one run.

    Parameters
    ----------
    rows
        The run's rows (see ``run.run_method``).
    sample
        The ``sample_plans`` timing, or None when it was not run.
    all_instances
        Every instance the benchmark knows; a goal lists those this run left out.
    run
        The instances this run included.
    """
    by_key = {(r["instance"], r["method"]): r for r in rows}
    per_instance = {
        "valid_everywhere": (check_valid_everywhere, all_instances),
        "first_plan_10x": (check_first_plan, all_instances),
        "matched_beats_recom": (check_matched, all_instances),
        "scale_10k": (check_scale, [SCALE_INSTANCE]),
    }
    goals = [_per_instance(Goal(key, *GOALS[key]), check, by_key, needed, run)
             for key, (check, needed) in per_instance.items()]  # fmt: skip
    sample_goal = Goal("sample_plans_1000", *GOALS["sample_plans_1000"])
    verdict = check_sample_plans(sample)
    if verdict is None:
        sample_goal.not_run.append("sample_plans")
    else:
        sample_goal.status = verdict[0]
        sample_goal.evidence.append(verdict[1])
    return [*goals, sample_goal]


def goals_markdown(goals: list[Goal]) -> str:
    """Return the goals as a Markdown section: status, goal, how judged, evidence per instance."""
    lines = ["## Goals (issue 4)", ""]
    for goal in goals:
        lines.append(f"- **{goal.status}**: {goal.goal}.  ")
        lines.append(f"  Judged by: {goal.judged_by}.")
        lines += [f"  - {line}" for line in goal.evidence]
        if goal.not_run:
            lines.append(f"  - not in this run: {', '.join(goal.not_run)}")
        if goal.not_compared:
            lines.append(f"  - run without the methods compared: {', '.join(goal.not_compared)}")
    return "\n".join(lines)


def goals_json(goals: list[Goal]) -> list[dict]:
    """Return the goals as JSON-ready dicts."""
    return [asdict(g) for g in goals]
