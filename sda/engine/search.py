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

from sda.engine.anneal import warm_up
from sda.engine.construct import construct
from sda.engine.improve import Schedule, improve
from sda.engine.repair import compact_labels, loose_then_repair, repair_plan
from sda.engine.trees import local_edges, random_tree
from sda.errors import InfeasibleError
from sda.metrics import area_populations, in_band, pieces_per_area
from sda.objective import score_labels
from sda.problem import Problem
from sda.rules import check_rules

Progress = Callable[[str], None]

#: Constructions drawn per candidate count when the count is "auto", each then annealed for
#: ``SCREEN_STEPS`` steps: counts are compared on short searches, not on raw constructions, which
#: rank them poorly. Counts of draws and steps, not seconds, so the choice does not depend on the
#: machine's speed.
SCREEN_DRAWS = 2
SCREEN_STEPS = 400_000
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
#: The screening search: small moves only, no recombination or polish (they cost more time than
#: they change the ranking).
SCREEN_SCHEDULE = Schedule(recombinations=0, polish_rounds=0)
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
    starts: list[float] = field(default_factory=list)
    seconds: float = 0.0
    seconds_compile: float = 0.0


def compile_kernels(problem: Problem) -> float:
    """Load the numba kernels (compiled on first use, then cached on disk), so that their one-off
    cost is not taken out of the search's time budget. Returns the seconds it took."""
    t0 = time.monotonic()
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
    labels = loose_then_repair(problem, k, rng, max_trees=min(1_500, plain_trees))
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
    """The (at most ``SCREEN_COUNTS``) counts in ``lo..hi`` nearest ``centre``, ascending."""
    nearest = sorted(range(lo, hi + 1), key=lambda c: (abs(c - centre), c))[:SCREEN_COUNTS]
    return sorted(nearest)


def choose_count(
    problem: Problem, target: float, rng: np.random.Generator, progress: Progress
) -> tuple[int, dict[int, float]]:
    """Screen the feasible counts with a few short searches; the count with the best result wins.

    At most ``SCREEN_COUNTS`` counts are screened, those nearest the count the balance target
    implies (total / target): a county has a dozen feasible counts, but 10,000 parishes have
    hundreds, and the best count lies near that one.
    """
    lo, hi = problem.feasible_counts()
    screened: dict[int, float] = {}
    for k in candidate_counts(lo, hi, problem.total_pop / max(target, 1.0)):
        best = np.inf
        for _ in range(SCREEN_DRAWS):
            try:
                labels = _first_plan(problem, k, rng, seconds=float("inf"), plain_attempts=2, plain_trees=SCREEN_TREES)
            except InfeasibleError:
                break
            if labels is not None:
                _, cost = improve(
                    problem, labels, target, rng, deadline=float("inf"), steps=SCREEN_STEPS, schedule=SCREEN_SCHEDULE
                )
                best = min(best, cost)
        if np.isfinite(best):
            screened[k] = float(best)
            progress(f"count {k}: best short search scores {best:.4f}")
        else:
            progress(f"count {k}: no valid plan found")
    if not screened:
        msg = (
            f"no valid plan was found for any count from {lo} to {hi}; the band "
            f"[{problem.min_pop:,}, {problem.max_pop:,}] may be too tight for this geography."
        )
        raise InfeasibleError(msg)
    return min(screened, key=lambda k: screened[k]), screened


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
) -> SearchResult:
    """Find a good valid plan.

    Parameters
    ----------
    problem
        The instance (checked by ``sda.feasibility.check_feasible`` first).
    count
        Number of areas, or ``"auto"`` to screen every feasible count.
    target
        Balance target, or ``"auto"`` (see ``target_for``).
    seed
        Seed of the only random generator used.
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
    """
    say = progress or (lambda _msg: None)
    compile_s = compile_kernels(problem)
    t0 = time.monotonic()
    deadline_all = t0 + max(time_limit_s, 0.0)
    rng = np.random.default_rng(seed)
    goal = target_for(problem, count, target)
    screened: dict[int, float] = {}
    initial = None
    if initial_labels is not None:
        problem, initial = start_from(problem, initial_labels, goal, rng, say)
        k = int(initial.max()) + 1
    elif count == "auto":
        k, screened = choose_count(problem, goal, rng, say)
        say(f"chose {k} areas (best short searches among counts {min(screened)}-{max(screened)})")
    else:
        k = int(count)
    # With a chosen count, the starts alternate between the two best-screened counts: short
    # screening searches rank close counts by luck, and full searches settle it.
    counts = sorted(screened, key=lambda c: screened[c])[:2] if screened else [k]
    if len(counts) > 1 and starts > 1:
        say(f"starts alternate between {counts[0]} and {counts[1]} areas")
    best_labels, best_cost, best_k, start_costs = None, np.inf, k, []
    n_starts = starts if initial is None else 1
    for s in range(n_starts):
        if steps == 0 and s > 0 and time.monotonic() >= deadline_all:
            say(f"time budget spent after {s} start(s)")
            break
        k = counts[s % len(counts)]
        labels = initial.copy() if initial is not None else _first_plan(problem, k, rng, construct_seconds)
        if labels is None:
            say(f"start {s + 1}/{starts}: no valid first plan found with {k} areas")
            continue
        remaining = deadline_all - time.monotonic()
        share = remaining / max(starts - s, 1)
        schedule = WARM_SCHEDULE if initial is not None else None
        if steps > 0:
            say(f"start {s + 1}/{starts}: improving for {steps:,} steps")
            labels, cost = improve(problem, labels, goal, rng, deadline=float("inf"), steps=steps, schedule=schedule)
        elif share > 0.05:
            say(f"start {s + 1}/{starts}: improving for {share:.0f} s")
            labels, cost = improve(problem, labels, goal, rng, deadline=time.monotonic() + share, schedule=schedule)
        else:
            cost = score_labels(problem, labels, goal)["objective"]
        start_costs.append(float(cost))
        say(f"start {s + 1}/{starts}: {k} areas, objective {cost:.4f}")
        if cost < best_cost:
            best_labels, best_cost, best_k = labels, float(cost), k
    if best_labels is None:
        msg = (
            f"no valid plan with {k} areas was found in {len(start_costs) or starts} starts; "
            "the band may be too tight for this geography: try another seed, more starts, or another count."
        )
        raise InfeasibleError(msg)
    return SearchResult(
        labels=best_labels,
        objective=best_cost,
        count=best_k,
        screened=screened,
        starts=start_costs,
        seconds=time.monotonic() - t0,
        seconds_compile=compile_s,
    )
