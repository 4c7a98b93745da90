"""The search: choose the number of areas, construct from several starts, improve, keep the best.

Randomness comes only from a ``numpy.random.Generator`` seeded from the config, and the count
screening and first plans are bounded by counts of draws and steps, not seconds. With
``[search] steps`` the improvement is too, so the same data, config and seed give the same plan
on any machine; with a time budget instead, the annealing reads the clock and a faster machine
goes further.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sda.engine import pool
from sda.engine.anneal import warm_up
from sda.engine.construct import construct
from sda.engine.improve import Schedule, improve, polish
from sda.engine.parallel import child_seeds, resolve_jobs, run_tasks
from sda.engine.repair import compact_labels, loose_then_repair, repair_plan
from sda.engine.trees import local_edges, random_tree
from sda.errors import InfeasibleError
from sda.metrics import area_populations, components, in_band, pieces_per_area
from sda.objective import area_costs, score_labels, stats_of
from sda.problem import Problem
from sda.progress import Progress
from sda.rules import check_rules
from sda.signals import held_signals

#: Constructions drawn per candidate count when the count is "auto", each then annealed for
#: ``SCREEN_STEPS`` steps: counts are compared on short searches, not on raw constructions, which
#: rank them poorly. Counts of draws and steps, not seconds, so the choice does not depend on the
#: machine's speed.
SCREEN_DRAWS = 2
SCREEN_STEPS = 400_000
#: ... and at least this many steps per unit on larger instances (12,000 units: 9.6 million).
SCREEN_STEPS_PER_UNIT = 800
#: Root seed of the count screening, the same whatever the run's seed: the count chosen depends
#: on the data, the config and the budget, not on the seed (which still varies the starts).
SCREEN_SEED = 20211
#: Counts whose screened score is within this share of the best count's are tied: short searches
#: cannot rank them apart, and the tie goes to the count nearest total / target.
COUNT_TIE = 0.01
#: With a step budget, the counts that screened within ``FINAL_MARGIN`` of the best (at most
#: ``FINALISTS`` of them, best first) are screened again, with searches ``FINAL_FACTOR`` times
#: as long, before the choice: the short searches alone rank close counts by luck.
FINALISTS = 4
FINAL_MARGIN = 0.05
FINAL_FACTOR = 5
#: Share of a time-limited run's budget the count screening may take before the starts.
SCREEN_SHARE = 0.4
#: Counts screened at most (here all eleven feasible counts, 18-28).
SCREEN_COUNTS = 12
#: Spanning trees one screening construction may draw (bounds the time spent on a count that
#: has no plan, without reading the clock).
SCREEN_TREES = 500
#: Spanning trees the PCN-guided construction may draw before a first plan is sought another
#: way: a base plus a few per area (a plan of k areas needs at least k - 1 successful splits).
GUIDED_TREES = 200
GUIDED_TREES_PER_AREA = 4
#: A band is "tight" for k areas when their mean population is within this share of its ends
#: (28 areas here: mean 30,447 against a minimum of 30,000, 1.5%).
TIGHT_BAND = 0.05
#: Annealing steps at a tight count are this many times ``steps``: that is where the search is
#: weakest and more steps pay most (28 areas here, seeds 1-4 at 4 x 20 million steps instead of
#: 4 x 10 million: mean objective 0.199 instead of 0.215, worst 0.206 instead of 0.242).
TIGHT_EFFORT = 2
#: Share of the annealing steps at a tight count spent on paired moves (see ``TIGHT_SCHEDULE``).
PAIR_SHARE = 1 / 3
#: With a step budget, this share of it is kept for a final phase that anneals the
#: ``REFINE_PLANS`` best start plans again, side by side, from a lower temperature
#: (``REFINE_SCHEDULE``), in ``REFINE_ROUNDS`` rounds (each on the best plans so far). At 24 areas
#: on the default config, seeds 1-6, the same 40 million steps gave a mean objective of 0.1243
#: (spread 1.3%) as 4 starts of 5 million then 2 of 10 million refined, against 0.1257 (3.5%) as
#: 4 starts of 10 million, 0.1254 (3.6%) as 2 of 20 million; a share of 0.75 was worse, two
#: rounds no better (0.1241, 1.5%), nor a refining temperature of 0.001 (0.1247, 1.9%). Not at
#: tight counts: at 28 areas (mid-2018), seeds 1-3, 4 x 10 million then 2 x 20 million gave
#: 0.2119, 0.2033 and 0.2296 against 0.1929, 0.1973 and 0.1982 for 4 starts of 20 million.
#: Annealing steps a core makes in a second, roughly (about 3 s per 10 million on the shipped
#: data): only to warn, before a start begins, that a step budget means hours or days.
STEPS_PER_CORE_SECOND = 3_000_000
#: A start estimated to take longer than this (seconds of one core) is said so as it begins.
LONG_START_S = 600.0
REFINE_SHARE = 0.5
REFINE_PLANS = 2
REFINE_SCHEDULE = Schedule(start_temperature=0.0005)
REFINE_ROUNDS = 1
#: The screening search: small moves only, no recombination or polish (they cost more time than
#: they change the ranking).
SCREEN_SCHEDULE = Schedule(recombinations=0, polish_rounds=0)
#: The search at a tight count: a share of each chunk's steps goes to paired moves
#: (``sda.engine.pairs``), which keep areas in band where single moves cannot.
TIGHT_SCHEDULE = Schedule(pair_share=PAIR_SHARE)
#: The search from a given plan (re-runs, repairs): cold from the start, so that it refines the
#: plan it was given rather than wandering off and rebuilding it elsewhere.
WARM_SCHEDULE = Schedule(start_temperature=0.0002)


@dataclass
class SearchResult:
    """The best assignment found and how the search got there."""

    labels: np.ndarray
    objective: float
    count: int
    screened: dict[int, float] = field(default_factory=dict)
    #: Objective of each start's plan, in start order, then of each plan of the final phase (and of
    #: the plans put together from the best sub-plan of each unlinked group, after either).
    starts: list[float] = field(default_factory=list)
    seconds: float = 0.0
    seconds_compile: float = 0.0
    #: CPU seconds of each task, by phase ("screen": one per count, "starts": one per start), in
    #: task order: what the work would take on an idle machine with any number of workers.
    task_cpu_s: dict[str, list[float]] = field(default_factory=dict)
    #: What the pool of areas the starts saw gave (``sda.engine.pool``), in words; "" if not run.
    pool: str = ""


def _duration(seconds: float) -> str:
    """A rough duration in the largest fitting unit: "40 minutes", "5 hours", "19 days"."""
    for size, unit in ((86_400, "days"), (3_600, "hours"), (60, "minutes")):
        if seconds >= 2 * size:
            return f"{seconds / size:,.0f} {unit}"
    return f"{seconds:,.0f} seconds"


def compile_kernels(problem: Problem) -> float:
    """Load the numba kernels (compiled on first use, then cached on disk), so that their one-off
    cost is not taken out of the search's time budget. Returns the seconds it took. Ctrl-C and
    SIGTERM wait for the load to end (``held_signals``: raised inside it, they were lost)."""
    t0 = time.monotonic()
    with held_signals():
        warm_up(problem)
        nodes = np.arange(min(problem.n, 2))
        random_tree(problem, nodes, local_edges(problem, nodes), np.random.default_rng(0))
    return time.monotonic() - t0


def target_for(problem: Problem, count: int | str, target: int | str) -> float:
    """The balance target: given, or total/count for a fixed count, or the middle of the band."""
    if target != "auto":
        return float(target)
    if count != "auto":
        return problem.total_pop / int(count)
    return (problem.min_pop + problem.max_pop) / 2


def _first_plan(
    problem: Problem,
    k: int,
    rng: np.random.Generator,
    seconds: float = 60.0,
    plain_attempts: int = 30,
    plain_trees: int = 20_000,
) -> np.ndarray | None:
    """A first valid plan, by the quickest route that works:

    1. PCN-guided spanning-tree construction with a small tree budget (enough whenever the band
       leaves some slack; skipped when it leaves little, see ``_tight``);
    2. the same construction with a band widened by 5%, repaired into the real band by the
       annealing kernel (quick even when the band is tight, as at 28 areas here);
    3. plain random trees with backtracking, the slow last resort.

    Gives up after ``seconds`` (None), so a count that is very hard to pack cannot stall a run.
    """
    deadline = time.monotonic() + seconds
    if not _tight(problem, k):
        labels = construct(
            problem,
            k,
            rng,
            pcn_surcharge=1.0,
            greed=1.0,
            attempts=1,
            max_trees=min(GUIDED_TREES + GUIDED_TREES_PER_AREA * k, plain_trees),
            deadline=deadline,
        )
        if labels is not None:
            return labels
    labels = loose_then_repair(problem, k, rng, max_trees=min(1_500, plain_trees), deadline=deadline)
    if labels is not None:
        return labels
    return construct(
        problem, k, rng, pcn_surcharge=0.0, greed=0.0, attempts=plain_attempts, max_trees=plain_trees, deadline=deadline
    )


def _tight(problem: Problem, k: int) -> bool:
    """Does the mean area of ``k`` sit within ``TIGHT_BAND`` of an end of the band? Then exact
    packing by bisection mostly backtracks, and building loose and repairing is quicker."""
    mean = problem.total_pop / k
    return mean < problem.min_pop * (1 + TIGHT_BAND) or mean > problem.max_pop * (1 - TIGHT_BAND)


def candidate_counts(lo: int, hi: int, centre: float) -> list[int]:
    """The (at most ``SCREEN_COUNTS``) counts in ``lo..hi`` nearest ``centre``, nearest first."""
    return sorted(range(lo, hi + 1), key=lambda c: (abs(c - centre), c))[:SCREEN_COUNTS]


def screen_steps(problem: Problem) -> int:
    """Annealing steps of one screening search: ``SCREEN_STEPS``, or more on larger instances
    (``SCREEN_STEPS_PER_UNIT`` per unit), so that a screen means as much on 12,000 units as on 487."""
    return max(SCREEN_STEPS, SCREEN_STEPS_PER_UNIT * problem.n)


@dataclass
class _Outcome:
    """What one worker task sends back: its best plan (or None), why, and what to tell the user."""

    labels: np.ndarray | None
    cost: float
    count: int
    proven_infeasible: bool = False
    messages: list[str] = field(default_factory=list)
    seconds_load: float = 0.0
    seconds_cpu: float = 0.0
    snapshots: list[np.ndarray] = field(default_factory=list)  # for the pool, when asked


_KERNELS_LOADED = False


def _load_kernels(problem: Problem) -> float:
    """Load the compiled kernels once per process (from numba's cache after the first run)."""
    global _KERNELS_LOADED
    if _KERNELS_LOADED:
        return 0.0
    seconds = compile_kernels(problem)
    _KERNELS_LOADED = True
    return seconds


def preload_kernels() -> float:
    """Load the compiled kernels before any problem is at hand (a worker's start, while the
    caller still reads the inputs), on a path of three units: every problem's arrays have the
    same types, so the first task finds them loaded (0.2 s a worker on the shipped data).
    Returns the seconds it took."""
    import networkx as nx

    from sda.problem import build_problem

    path = nx.path_graph(["a", "b", "c"])
    nx.set_node_attributes(path, 1_000, "population")
    nx.set_edge_attributes(path, 1.0, "border_m")
    pcns = {"a": "p", "b": "p", "c": "q"}
    return compile_kernels(
        build_problem(path, min_pop=500, max_pop=5_000, pcn_of=pcns, district_of=dict.fromkeys(pcns, "d"))
    )


def _screen_task(
    problem: Problem, k: int, goal: float, seed: np.random.SeedSequence, steps: int, deadline_s: float
) -> _Outcome:
    """One count's screening: ``SCREEN_DRAWS`` constructions, each annealed for ``steps``; no
    further draw after ``deadline_s`` seconds (the first is always completed)."""
    load_s = _load_kernels(problem)
    cpu0 = time.process_time()
    rng = np.random.default_rng(seed)
    until = time.monotonic() + deadline_s
    out = _Outcome(None, np.inf, k, seconds_load=load_s)
    for _ in range(SCREEN_DRAWS):
        try:
            trees = max(SCREEN_TREES, GUIDED_TREES + GUIDED_TREES_PER_AREA * k)
            labels = _first_plan(problem, k, rng, seconds=float("inf"), plain_attempts=2, plain_trees=trees)
        except InfeasibleError:
            out.proven_infeasible = True
            break
        if labels is not None:
            labels, cost = improve(
                problem, labels, goal, rng, deadline=float("inf"), steps=steps, schedule=SCREEN_SCHEDULE
            )
            if cost < out.cost:
                out.labels, out.cost = labels, float(cost)
        if time.monotonic() > until:
            break
    out.seconds_cpu = time.process_time() - cpu0
    return out


def choose_count(
    problem: Problem,
    target: float,
    seed: int,
    progress: Progress,
    *,
    jobs: int = 1,
    budget_s: float = float("inf"),
    cpu_log: list[float] | None = None,
) -> tuple[int, dict[int, float], dict[int, np.ndarray]]:
    """Screen the feasible counts with a few short searches; the count with the best result wins.

    At most ``SCREEN_COUNTS`` counts are screened, nearest first to the count the balance target
    implies (total / target): a county has a dozen feasible counts, but 10,000 parishes have
    hundreds, and the best count lies near that one. Counts are screened ``jobs`` at a time, each
    from its own child seed. With a finite ``budget_s`` (a time-limited run) no new batch starts
    once the budget is spent and a valid plan is in hand; with steps (``budget_s`` infinite) all
    are screened, so the choice does not depend on the machine.

    Every count is screened from ``SCREEN_SEED``'s child seeds, not the run's ``seed`` (kept for
    the callers' sake): the same data and budget give the same count whatever the seed. The
    choice is ``pick_count``'s.

    Returns the chosen count, each screened count's best score, and each one's best plan.

    Raises
    ------
    InfeasibleError
        When no count gave a valid plan: proven infeasible when every count's construction
        proved it, otherwise "time ran out", naming the counts tried.
    """
    lo, hi = problem.feasible_counts()
    order = candidate_counts(lo, hi, problem.total_pop / max(target, 1.0))
    seeds = child_seeds(SCREEN_SEED, len(order), stream=0)
    steps = screen_steps(problem)
    workers = max(1, min(resolve_jobs(jobs), len(order)))
    t0 = time.monotonic()
    screened: dict[int, float] = {}
    plans: dict[int, np.ndarray] = {}
    tried: list[int] = []
    proven: list[int] = []
    # A time budget is checked between batches of ``workers`` counts; with steps all counts go
    # to the workers at once (no batch waits for its slowest count).
    batch_size = workers if np.isfinite(budget_s) else len(order)
    for b in range(0, len(order), batch_size):
        spent = time.monotonic() - t0
        if np.isfinite(budget_s) and spent >= budget_s and screened:
            progress(f"screening stopped at its time budget ({spent:.0f} s) after {len(tried)} count(s)")
            break
        batch = order[b : b + batch_size]
        left = max(budget_s - spent, 1.0) if np.isfinite(budget_s) else float("inf")
        tasks = [(problem, k, target, seeds[b + j], steps, left) for j, k in enumerate(batch)]
        for out in run_tasks(_screen_task, tasks, jobs):
            _say_load(progress, out.seconds_load)
            tried.append(out.count)
            if cpu_log is not None:
                cpu_log.append(out.seconds_cpu)
            if out.labels is not None:
                screened[out.count], plans[out.count] = out.cost, out.labels
                progress(f"count {out.count}: best short search scores {out.cost:.4f}")
            else:
                if out.proven_infeasible:
                    proven.append(out.count)
                progress(f"count {out.count}: no valid plan found")
    if not screened:
        if sorted(proven) == list(range(lo, hi + 1)):
            msg = (
                f"no valid plan exists for any count from {lo} to {hi}; the band "
                f"[{problem.min_pop:,}, {problem.max_pop:,}] is too tight for this geography."
            )
        else:
            why = "time ran out before a valid plan was found" if np.isfinite(budget_s) else "no valid plan was found"
            msg = (
                f"{why} (counts tried: {_ranges(tried)} of {lo}-{hi}); this does not prove there is none: "
                "give more time (--time-limit) or more steps, or set the count (--count)."
            )
        raise InfeasibleError(msg)
    if not np.isfinite(budget_s):
        _screen_finalists(problem, target, screened, plans, steps * FINAL_FACTOR, jobs, progress, cpu_log)
    chosen, _ = pick_count(screened, problem.total_pop / max(target, 1.0))
    return chosen, screened, plans


def _screen_finalists(
    problem: Problem,
    target: float,
    screened: dict[int, float],
    plans: dict[int, np.ndarray],
    steps: int,
    jobs: int,
    progress: Progress,
    cpu_log: list[float] | None,
) -> None:
    """Screen the best counts again with longer searches (``FINALISTS``, ``FINAL_MARGIN``),
    keeping each count's best score and plan of both rounds (updates ``screened`` and ``plans``)."""
    best = min(screened.values())
    finalists = sorted(screened, key=lambda c: (screened[c], c))[:FINALISTS]
    finalists = [c for c in finalists if screened[c] <= best + FINAL_MARGIN * abs(best)]
    if len(finalists) < 2:
        return
    seeds = child_seeds(SCREEN_SEED, len(finalists), stream=4)
    tasks = [(problem, k, target, seeds[j], steps, float("inf")) for j, k in enumerate(finalists)]
    for out in run_tasks(_screen_task, tasks, jobs):
        if cpu_log is not None:
            cpu_log.append(out.seconds_cpu)
        if out.labels is not None and out.cost < screened[out.count]:
            screened[out.count], plans[out.count] = out.cost, out.labels
        progress(f"count {out.count}: best longer search scores {out.cost:.4f}")


def pick_count(screened: dict[int, float], centre: float) -> tuple[int, list[int]]:
    """The count to search, from each screened count's best score, and the counts tied with it.

    Counts within ``COUNT_TIE`` of the best score are tied (short searches cannot rank them);
    the tied count nearest ``centre`` (total / target) wins, the smaller on equal distance.
    """
    best = min(screened.values())
    tied = [k for k, v in screened.items() if v <= best + COUNT_TIE * abs(best) + 1e-12]
    tied.sort(key=lambda k: (abs(k - centre), k))
    return tied[0], tied


def describe_count(screened: dict[int, float], chosen: int, centre: float) -> str:
    """One sentence for the user: which count was chosen, and why."""
    scores = sorted(screened, key=lambda k: (screened[k], k))
    span = f"counts {min(screened)}-{max(screened)}" if len(screened) > 1 else f"count {chosen}"
    _, tied = pick_count(screened, centre)
    if len(screened) == 1:
        return f"chose {chosen} areas: the only count screened that gave a valid plan"
    if len(tied) > 1:
        others = ", ".join(f"{k} ({screened[k]:.4f})" for k in sorted(tied) if k != chosen)
        return (
            f"chose {chosen} areas: its screening searches scored {screened[chosen]:.4f}, within "
            f"{COUNT_TIE:.0%} of {others}, and {chosen} is nearest to total / target = {centre:.1f} "
            f"({span} screened)"
        )
    runner = scores[1]
    return (
        f"chose {chosen} areas: its screening searches scored best ({screened[chosen]:.4f}; next "
        f"{runner} areas, {screened[runner]:.4f}; {span} screened)"
    )


def _ranges(counts: list[int]) -> str:
    """``[18, 19, 20, 24]`` -> ``'18-20, 24'``."""
    parts: list[str] = []
    for c in sorted(set(counts)):
        if parts and parts[-1].split("-")[-1] == str(c - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{c}"
        else:
            parts.append(str(c))
    return ", ".join(parts)


def _say_load(progress: Progress, seconds: float) -> None:
    """Tell the user when a worker had to compile the kernels (numba caches them on disk)."""
    if seconds > 5.0:
        progress(f"worker: compiling the search kernels (first run only): {seconds:.0f} s")


def start_from(
    problem: Problem, labels: np.ndarray, target: float, rng: np.random.Generator, progress: Progress
) -> tuple[Problem, np.ndarray]:
    """The problem and a valid plan to start from, given an assignment: renumbered ``0..k-1``
    (``repair.compact_labels``), and repaired when it breaks the band or contiguity.

    Raises
    ------
    InfeasibleError
        If the assignment breaks a rule (keep together/apart, locks) or cannot be repaired.
    """
    problem, labels = compact_labels(problem, labels)
    k = int(labels.max()) + 1
    broken = rule_breaks(problem, labels)
    if broken:
        msg = "the starting plan breaks a rule: " + "; ".join(broken) + "; change it or the rule."
        raise InfeasibleError(msg)
    pops = area_populations(labels, problem.pop, k)
    pieces = pieces_per_area(problem.indptr, problem.indices, labels, k)
    if bool(in_band(pops, problem.min_pop, problem.max_pop).all()) and bool((pieces == 1).all()):
        return problem, labels
    progress(
        f"starting plan: {int((~in_band(pops, problem.min_pop, problem.max_pop)).sum())} area(s) outside the band, "
        f"{int((pieces > 1).sum())} in more than one piece; repairing it, moving as few residents as possible"
    )
    return problem, repair_plan(problem, labels, target, rng)


def rule_breaks(problem: Problem, labels: np.ndarray) -> list[str]:
    """The rules other than band and contiguity that an assignment breaks, with who breaks
    them (each locked area is named after its lock for the check)."""
    names = [f"area {a + 1}" for a in range(int(labels.max()) + 1)]
    for li, name in enumerate(problem.lock_names):
        names[int(labels[problem.lock == li][0])] = name
    results = check_rules(problem, labels, names)
    return [f"{r.name}: {r.detail}" for r in results if not r.ok and r.name not in ("band", "contiguity")]


def _start_task(
    problem: Problem,
    k: int,
    goal: float,
    seed: np.random.SeedSequence,
    steps: int,
    seconds: float,
    construct_seconds: float,
    initial: np.ndarray | None,
    label: str,
    schedule: Schedule | None = None,
    until: float = float("inf"),
    keep_snapshots: bool = False,
) -> _Outcome:
    """One start: a first plan (or the given one), improved for ``steps`` (or ``seconds``) with
    ``schedule`` (by default the full one, or ``WARM_SCHEDULE`` from a given plan). With a time
    budget the improvement also ends by ``until`` (``time.monotonic()``, the same clock in every
    process), so the time a worker took to start or to build the first plan is not added on top.
    With ``keep_snapshots`` the outcome carries assignments seen on the way, for the pool."""
    load_s = _load_kernels(problem)
    cpu0 = time.process_time()
    rng = np.random.default_rng(seed)
    out = _Outcome(None, np.inf, k, seconds_load=load_s)
    labels = initial.copy() if initial is not None else _first_plan(problem, k, rng, construct_seconds)
    if labels is None:
        out.messages.append(f"start {label}: no valid first plan found with {k} areas")
        return out
    if schedule is None and initial is not None:
        schedule = WARM_SCHEDULE
    if schedule is None and _tight(problem, k):
        schedule = TIGHT_SCHEDULE
    if steps > 0 and initial is None and _tight(problem, k):
        steps *= TIGHT_EFFORT
    rounds = -(-steps // (schedule or Schedule()).chunk)
    snapshots = pool.Snapshots(rounds) if keep_snapshots else None
    if steps > 0:
        labels, cost = improve(
            problem, labels, goal, rng, deadline=float("inf"), steps=steps, schedule=schedule, snapshots=snapshots
        )
    elif seconds > 0.05:
        deadline = min(time.monotonic() + seconds, until)
        labels, cost = improve(problem, labels, goal, rng, deadline=deadline, schedule=schedule, snapshots=snapshots)
    else:
        cost = score_labels(problem, labels, goal)["objective"]
    out.labels, out.cost = labels, float(cost)
    out.snapshots = snapshots.kept if snapshots is not None else []
    out.messages.append(f"start {label}: {k} areas, objective {cost:.4f}")
    out.seconds_cpu = time.process_time() - cpu0
    return out


def _refine(
    problem: Problem,
    outcomes: list[_Outcome],
    goal: float,
    seed: int,
    steps: int,
    workers: int,
    say: Progress,
    task_cpu: dict[str, list[float]],
    round_: int = 0,
    keep_snapshots: bool = False,
) -> list[_Outcome]:
    """The final phase: the ``REFINE_PLANS`` best start plans annealed again for ``steps`` each,
    from a lower temperature (``REFINE_SCHEDULE``), side by side."""
    ranked: list[int] = []
    for i in sorted((i for i, o in enumerate(outcomes) if o.labels is not None), key=lambda i: (outcomes[i].cost, i)):
        same = any(np.array_equal(outcomes[i].labels, outcomes[j].labels) for j in ranked)  # type: ignore[arg-type]
        if len(ranked) < REFINE_PLANS and not same:
            ranked.append(i)
    if not ranked:
        return []
    which = "the best plan so far" if len(ranked) == 1 else f"the {len(ranked)} best plans so far"
    say(f"final phase: annealing {which} again, {steps:,} steps each, cooler")
    seeds = child_seeds(seed, len(ranked), stream=5 + round_)
    tasks = [
        (
            problem,
            outcomes[i].count,
            goal,
            seeds[j],
            steps,
            0.0,
            0.0,
            outcomes[i].labels,
            f"refine {j + 1}",
            REFINE_SCHEDULE,
            float("inf"),
            keep_snapshots,
        )
        for j, i in enumerate(ranked)
    ]
    refined = []
    for out in run_tasks(_start_task, tasks, workers):
        refined.append(out)
        task_cpu["starts"].append(out.seconds_cpu)
        if out.labels is not None:
            say(f"final phase {len(refined)}/{len(tasks)}: objective {out.cost:.4f}")
    return refined


def _pool(
    problem: Problem,
    outcomes: list[_Outcome],
    candidates: list[tuple[float, int, np.ndarray, int]],
    k: int,
    goal: float,
    seed: int,
    seconds: float,
) -> tuple[tuple[np.ndarray, float] | None, str, float]:
    """The cheapest plan made of areas any start has seen (``sda.engine.pool``), then polished,
    or None when it is no cheaper than the best candidate; what happened, in words (no timing:
    the words go into the report, which identical runs must repeat); and the pool's seconds."""
    best_cost, _, best_labels, _ = min(candidates, key=lambda c: (c[0], c[1]))
    # Every start's plan, then the snapshots latest first, taking turns between starts: when the
    # pool is full (pool.MAX_CANDIDATES) the early, rougher areas are the ones left out.
    plans = [o.labels for o in outcomes if o.labels is not None]
    latest_first = [o.snapshots[::-1] for o in outcomes]
    plans += [s[i] for i in range(max(map(len, latest_first), default=0)) for s in latest_first if i < len(s)]
    pooled = pool.best_partition(
        problem, plans, k, goal, best_labels, lambda labels: not rule_breaks(problem, labels), seconds=seconds
    )
    if pooled is None or pooled.cost >= best_cost - 1e-9:
        seen = f"the {pooled.candidates:,} areas the starts saw" if pooled else "them"
        return None, f"no better plan made of {seen}", pooled.seconds if pooled else 0.0
    rng = np.random.default_rng(child_seeds(seed, 1, stream=7)[0])
    labels, cost = polish(problem, pooled.labels, goal, rng)
    return (
        (labels, float(cost)),
        f"a better plan made of {k} of the {pooled.candidates:,} areas the starts saw: objective "
        f"{cost:.4f}, {100 * (best_cost - cost) / best_cost:.2f}% below the best start's",
        pooled.seconds,
    )


def combine_by_component(problem: Problem, plans: list[np.ndarray], goal: float) -> tuple[np.ndarray, float] | None:
    """The cheapest plan made of the ``plans``' sub-plans of each connected component of the
    unit graph (the districts when areas nest in them), or None with one component.

    No area crosses from one component to another, and the objective is a sum of area costs,
    so each component's areas can be taken from whichever plan did best there, as long as the
    counts of areas add up to the plans' count (a small knapsack over the components; plans
    usually agree on each component's count). Ties go to the earlier plan, so the result does
    not depend on how many workers made the plans.
    """
    parts = components(problem.indptr, problem.indices)
    if len(parts) < 2 or not plans:
        return None
    k = int(plans[0].max()) + 1
    comp = np.empty(problem.n, dtype=np.int64)
    for c, units in enumerate(parts):
        comp[units] = c
    # Per plan and component: (areas, cost); an area's component is that of any of its units.
    options: list[list[tuple[int, float, int]]] = [[] for _ in parts]
    for j, labels in enumerate(plans):
        costs = area_costs(problem, stats_of(problem, labels, k), goal, k)
        area_comp = np.empty(k, dtype=np.int64)
        area_comp[labels] = comp
        for c in range(len(parts)):
            mine = area_comp == c
            options[c].append((int(mine.sum()), float(costs[mine].sum()), j))
    # best[count] = (cost, choice per component so far); components in order, plans in order.
    best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for c in range(len(parts)):
        step: dict[int, tuple[float, tuple[int, ...]]] = {}
        for count, (cost, chosen) in best.items():
            for areas, part_cost, j in options[c]:
                key, value = count + areas, (cost + part_cost, (*chosen, j))
                if key <= k and (key not in step or value[0] < step[key][0] - 1e-12):
                    step[key] = value
        best = step
    if k not in best:
        return None
    cost, chosen = best[k]
    labels = np.empty(problem.n, dtype=np.int64)
    next_area = 0
    for c, units in enumerate(parts):
        taken, local = np.unique(plans[chosen[c]][units], return_inverse=True)
        labels[units] = next_area + local
        next_area += len(taken)
    return labels, float(area_costs(problem, stats_of(problem, labels, k), goal, k).sum())


def _combined(problem: Problem, outcomes: list[_Outcome], goal: float, k: int, say: Progress) -> list[_Outcome]:
    """The plan ``combine_by_component`` makes of the outcomes so far, as one more outcome when
    it is cheaper than every one of them (else none)."""
    plans = [o.labels for o in outcomes if o.labels is not None]
    made = combine_by_component(problem, plans, goal) if len(plans) > 1 else None
    if made is None or made[1] >= min(o.cost for o in outcomes if o.labels is not None) - 1e-12:
        return []
    say(f"the best sub-plan of each unlinked group of units (each district, when nested), together: {made[1]:.4f}")
    return [_Outcome(made[0], made[1], k)]


def _starts_agree(outcomes: list[_Outcome]) -> bool:
    """Whether every start found a plan and all found the same one (the same groups of units,
    whatever the areas' numbers)."""
    plans = [o.labels for o in outcomes if o.labels is not None]
    if len(outcomes) < 2 or len(plans) < len(outcomes):
        return False
    first = same_groups_form(plans[0])
    return all(np.array_equal(first, same_groups_form(p)) for p in plans[1:])


def same_groups_form(labels: np.ndarray) -> np.ndarray:
    """``labels`` renumbered in the order areas first appear (unit 0's area is 0, the next new
    area 1, ...): two plans with the same groups of units give the same array."""
    values, first = np.unique(labels, return_index=True)
    rank = np.empty(len(values), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(values))
    return rank[np.searchsorted(values, labels)]


def search(
    problem: Problem,
    *,
    count: int | str,
    target: int | str,
    seed: int,
    time_limit_s: float,
    starts: int,
    progress: Progress | None = None,
    initial_labels: np.ndarray | None = None,
    construct_seconds: float = 60.0,
    steps: int = 0,
    jobs: int = 1,
    starts_done: Callable[[int], object] | None = None,
) -> SearchResult:
    """Find a good valid plan.

    Parameters
    ----------
    problem
        The instance (checked by ``sda.feasibility.check_feasible`` first).
    count
        Number of areas, or ``"auto"`` to screen the feasible counts.
    target
        Balance target, or ``"auto"`` (see ``target_for``).
    seed
        Root seed: the screening of each count and each start draw from their own child seeds
        (``numpy.random.SeedSequence.spawn``), so the plan does not depend on ``jobs``.
    time_limit_s
        Budget for the whole search (choosing the count, constructing, improving), shared among
        the starts; a first plan is always completed, so a tiny budget gives the construction.
    starts
        Independent constructions to improve.
    progress
        Called with one-line messages for the user.
    initial_labels
        An assignment to start from (area index per unit, numbered like ``problem.previous``),
        for re-runs and repairs. Its count is kept (``count`` is ignored) and one start is made.
        A valid one is annealed from directly; one that breaks the band or contiguity is first
        repaired by ``sda.engine.repair.repair_plan``, moving as few residents as it can. With
        a previous plan on the problem (``Problem.with_previous``) the ``moved`` term prices
        every resident whose area changes, so an unchanged valid previous plan comes back
        unchanged.
    construct_seconds
        Cap on building each first plan.
    steps
        Annealing steps per start; > 0 replaces the time budget (clock-free, reproducible).
    jobs
        Worker processes for the screening and the starts (0: every core). With ``steps`` the
        plan is the same for any value.
    starts_done
        Called with the count once the starts (and the final phase) are done, before the pool:
        the workers are free from then on while this process pools, so the caller can hand them
        work that needs only the count (``sda propose`` starts the other counts' trade-offs).
    """
    say = progress or (lambda _msg: None)
    compile_s = compile_kernels(problem)
    if compile_s > 2.0:
        say(f"compiling the search kernels (first run only): {compile_s:.0f} s")
    global _KERNELS_LOADED
    _KERNELS_LOADED = True
    t0 = time.monotonic()
    workers = resolve_jobs(jobs)
    goal = target_for(problem, count, target)
    screened: dict[int, float] = {}
    plans: dict[int, np.ndarray] = {}
    task_cpu: dict[str, list[float]] = {"screen": [], "starts": []}
    initial = None
    if initial_labels is not None:
        problem, initial = start_from(
            problem, initial_labels, goal, np.random.default_rng(child_seeds(seed, 1, stream=2)[0]), say
        )
        k = int(initial.max()) + 1
    elif count == "auto":
        budget = SCREEN_SHARE * time_limit_s if steps == 0 else float("inf")
        k, screened, plans = choose_count(
            problem, goal, seed, say, jobs=workers, budget_s=budget, cpu_log=task_cpu["screen"]
        )
        say(describe_count(screened, k, problem.total_pop / max(goal, 1.0)))
    else:
        k = int(count)
    n_starts = starts if initial is None else 1
    spent = time.monotonic() - t0
    remaining = max(time_limit_s - spent, 0.0)
    # The areas every start sees are pooled at the end (sda.engine.pool), on a fresh search; on a
    # clock, HiGHS gets a share of the budget, held back from the starts.
    pooling = initial is None and n_starts > 0 and pool.usable(problem)
    pool_seconds = pool.GUARD_S if steps > 0 else max(pool.POOL_SHARE * remaining, 0.5)
    if pooling and steps == 0:
        remaining = max(remaining - pool_seconds, 0.0)
    if steps == 0 and remaining <= 0:
        # The time budget is spent: the screened plans stand, or else one first plan is made.
        n_starts = 0 if plans else 1
    # When screening overran its share of a time budget, constructions are slow next to it (a
    # national instance): the starts refine the screened plans instead of building new ones.
    reuse = steps == 0 and bool(plans) and spent > SCREEN_SHARE * time_limit_s
    if reuse and n_starts:
        say("constructions are slow for this budget: the starts refine the screened plans")
    # Every start searches the chosen count, so the plan's count is the one announced.
    firsts = [plans[k] if reuse else initial for _ in range(n_starts)]
    # With a step budget, a share of it is kept for refining the best start plans at the end;
    # not at a tight count, where long starts pay and the refined plans were worse.
    refine = initial is None and n_starts > 1 and not _tight(problem, k)
    refine_steps = int(REFINE_SHARE * steps * n_starts / REFINE_PLANS) if refine else 0
    start_steps = steps - refine_steps * REFINE_PLANS // max(n_starts, 1) if steps > 0 and refine_steps else steps
    # Starts run ``workers`` at a time, so each may take that many shares of what is left.
    share = remaining * min(workers, n_starts) / max(n_starts, 1)
    if n_starts == 0:
        say("time budget spent: the best screened plan stands")
    elif steps > 0:
        kept = f" (the other {steps - start_steps:,} are kept for the final phase)" if start_steps < steps else ""
        say(f"improving {n_starts} start(s) for {start_steps:,} steps each on {min(workers, n_starts)} worker(s){kept}")
        if (seconds := start_steps * TIGHT_EFFORT / STEPS_PER_CORE_SECOND) > LONG_START_S:
            say(
                f"  that is up to {_duration(seconds)} of one core a start (about {STEPS_PER_CORE_SECOND:,} steps "
                "a second): lower [search] steps (or --steps) for a shorter run; Ctrl-C stops it"
            )
    else:
        say(f"improving {n_starts} start(s) for about {share:.0f} s each on {min(workers, n_starts)} worker(s)")
    seeds = child_seeds(seed, n_starts, stream=1)
    # With a time budget, start s runs in round s // workers and must end with that round.
    now = time.monotonic()
    tasks = [
        (
            problem,
            k,
            goal,
            seeds[s],
            start_steps,
            share,
            construct_seconds,
            firsts[s],
            f"{s + 1}/{n_starts}",
            None,
            now + share * (s // max(min(workers, n_starts), 1) + 1) if steps == 0 else float("inf"),
            pooling,
        )
        for s in range(n_starts)
    ]
    outcomes: list[_Outcome] = []
    # On a clock the starts run in rounds of ``workers`` (each round ends at its deadline), so the
    # rounds are handed out one by one: once the starts so far agree, the later rounds are not run.
    # On steps they are handed out together (a worker takes the next start as soon as it is free).
    rounds = [tasks] if steps > 0 else [tasks[r : r + workers] for r in range(0, len(tasks), workers)]
    for r, round_tasks in enumerate(rounds):
        for out in run_tasks(_start_task, round_tasks, workers):
            _say_load(say, out.seconds_load)
            for message in out.messages:
                say(message)
            outcomes.append(out)
            task_cpu["starts"].append(out.seconds_cpu)
        if r + 1 < len(rounds) and _starts_agree(outcomes):
            left = len(tasks) - len(outcomes)
            say(f"the {len(outcomes)} starts so far ended in the same plan: the other {left} are not run")
            break
    if initial is None:
        outcomes += _combined(problem, outcomes, goal, k, say)
    if steps > 0 and refine_steps > 0:
        if _starts_agree(outcomes):
            # Independent starts that all end in one plan have found what this search finds:
            # the steps kept for the final phase are not spent.
            say(f"the {len(outcomes)} starts ended in the same plan: no final phase")
        else:
            for r in range(REFINE_ROUNDS):
                steps_r = refine_steps // REFINE_ROUNDS
                outcomes += _refine(problem, outcomes, goal, seed, steps_r, workers, say, task_cpu, r, pooling)
            outcomes += _combined(problem, outcomes, goal, k, say)
    if starts_done is not None:
        starts_done(k)
    start_costs = [o.cost for o in outcomes if o.labels is not None]
    # The best plan of any start, then the screened one; ties go to the earlier candidate, so the
    # pick is the same however many workers ran.
    candidates = [(o.cost, i, o.labels, o.count) for i, o in enumerate(outcomes) if o.labels is not None]
    # The chosen count's screened plan is a candidate too (a start that failed cannot lose it).
    if k in plans:
        candidates.append((screened[k], len(outcomes), plans[k], k))
    pool_note = ""
    if pooling and candidates and any(o.snapshots for o in outcomes):
        say("pool: looking for a better plan made of areas the starts saw (HiGHS, one core)")
        pooled, pool_note, took = _pool(problem, outcomes, candidates, k, goal, seed, pool_seconds)
        say(f"pool: {pool_note} ({took:.1f} s)")
        if pooled is not None:
            candidates.append((pooled[1], len(candidates), pooled[0], k))
    if not candidates:
        msg = (
            f"no valid plan with {k} areas was found in {n_starts} start(s) (each construction stops after "
            f"{construct_seconds:g} s); this does not prove there is none: try more time, another seed, more "
            "starts, or another count."
        )
        raise InfeasibleError(msg)
    best_cost, _, best_labels, best_k = min(candidates, key=lambda c: (c[0], c[1]))
    return SearchResult(
        labels=best_labels,
        objective=float(best_cost),
        count=int(best_k),
        screened=screened,
        starts=start_costs,
        seconds=time.monotonic() - t0,
        seconds_compile=compile_s,
        task_cpu_s=task_cpu,
        pool=pool_note,
    )
