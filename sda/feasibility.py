"""Checks made before solving, so an impossible request fails fast and names its cause.

Each check looks for a reason no plan can exist: a unit bigger than an area may be, a part of
the graph too small for one area, a count the total population cannot fill, or rules that
contradict each other. Messages name the rule and the units, and say what would fix it.
"""

from __future__ import annotations

import numpy as np

from sda.engine.construct import components, distribute_count
from sda.errors import InfeasibleError
from sda.problem import Problem


def _names(problem: Problem, positions: np.ndarray, limit: int = 8) -> str:
    codes = [problem.codes[i] for i in positions[:limit]]
    more = len(positions) - limit
    return ", ".join(codes) + (f" and {more} more" if more > 0 else "")


def check_feasible(problem: Problem, count: int | str) -> None:
    """Raise ``InfeasibleError`` naming the first reason no valid plan can exist.

    Parameters
    ----------
    problem
        The instance (with ``nest_in`` already applied to its edges).
    count
        The number of areas asked for, or ``"auto"``.
    """
    big = np.flatnonzero(problem.pop > problem.max_pop)
    if len(big):
        msg = (
            f"units {_names(problem, big)} each have more residents than max_population "
            f"{problem.max_pop:,} (largest {int(problem.pop[big].max()):,}); raise max_population "
            "or split those units."
        )
        raise InfeasibleError(msg)
    lo, hi = problem.feasible_counts()
    total = problem.total_pop
    # Whether the total alone fits; a part that does not fit on its own is named further down.
    whole_lo, whole_hi = -(-total // problem.max_pop), total // max(problem.min_pop, 1)
    if whole_lo > whole_hi:
        lo, hi = whole_lo, whole_hi
        msg = f"no number of areas fits {total:,} residents in [{problem.min_pop:,}, {problem.max_pop:,}]: " + (
            f"even one area would hold fewer than {problem.min_pop:,}; widen the band (lower min_population)."
            if hi == 0
            else f"{hi} area(s) would each hold more than {problem.max_pop:,} on average, "
            f"{lo} fewer than {problem.min_pop:,}; widen the band."
        )
        raise InfeasibleError(msg)
    for part in components(problem):
        people = int(problem.pop[part].sum())
        fits_some_count = -(-people // problem.max_pop) <= people // max(problem.min_pop, 1)
        if people >= problem.min_pop and not fits_some_count:
            msg = (
                f"units {_names(problem, part)} form a separate part of the graph with {people:,} "
                f"residents, which no whole number of areas in [{problem.min_pop:,}, {problem.max_pop:,}] "
                "can hold; link it to its neighbours with [graph] extra_links or widen the band."
            )
            raise InfeasibleError(msg)
        if people < problem.min_pop:
            msg = (
                f"units {_names(problem, part)} form a separate part of the graph with {people:,} "
                f"residents, below min_population {problem.min_pop:,}; link them with "
                '[graph] extra_links, or (with nest_in = "district") check their district.'
            )
            raise InfeasibleError(msg)
    if count != "auto":
        k = int(count)
        if not k * problem.min_pop <= total <= k * problem.max_pop:
            msg = (
                f"count = {k} needs between {k * problem.min_pop:,} and {k * problem.max_pop:,} "
                f"residents but there are {total:,}; choose a count from {lo} to {hi}."
            )
            raise InfeasibleError(msg)
        parts = components(problem)
        distribute_count(problem, [int(problem.pop[p].sum()) for p in parts], k)
    _check_rules(problem, count)


def _check_rules(problem: Problem, count: int | str) -> None:
    groups = problem.together
    for g in np.unique(groups[groups >= 0]):
        members = np.flatnonzero(groups == g)
        people = int(problem.pop[members].sum())
        if people > problem.max_pop:
            msg = (
                f"rule keep_together/lock: units {_names(problem, members)} must share an area but have "
                f"{people:,} residents, above max_population {problem.max_pop:,}."
            )
            raise InfeasibleError(msg)
        locks = np.unique(problem.lock[members][problem.lock[members] >= 0])
        if len(locks) > 1:
            names = ", ".join(repr(problem.lock_names[i]) for i in locks)
            msg = (
                f"rule keep_together contradicts rule lock: units {_names(problem, members)} must share "
                f"an area but are locked to different areas ({names})."
            )
            raise InfeasibleError(msg)
        if len(np.unique(problem.district[members])) > 1 and _nested(problem, members):
            msg = (
                f'rule keep_together/lock contradicts nest_in = "district": units '
                f"{_names(problem, members)} must share an area but lie in different districts."
            )
            raise InfeasibleError(msg)
    for x, y in problem.apart_pairs.tolist():
        if groups[x] >= 0 and groups[x] == groups[y]:
            msg = (
                f"rule keep_apart ({problem.codes[x]}, {problem.codes[y]}) contradicts keep_together/lock, "
                "which puts both in one area."
            )
            raise InfeasibleError(msg)
    if count != "auto" and len(problem.lock_names) > int(count):
        msg = f"rule lock names {len(problem.lock_names)} areas but count = {count}."
        raise InfeasibleError(msg)


def _nested(problem: Problem, members: np.ndarray) -> bool:
    """True when the problem has no edges between districts (nest_in applied)."""
    src = np.repeat(np.arange(problem.n), np.diff(problem.indptr))
    return not (problem.district[src] != problem.district[problem.indices]).any()
