"""Checks made before solving, so an impossible request fails fast and names its cause.

Each rule in force (``sda.rules``) checks itself in registry order: a unit bigger than an area
may be and a count the total population cannot fill (the band), a part of the graph too small
for one area (contiguity), rules that contradict each other (locks, keep together, keep apart,
nesting). Messages name the rule and the units, and say what would fix it.
"""

from __future__ import annotations

from sda.problem import Problem
from sda.rules import check_feasible_rules


def check_feasible(problem: Problem, count: int | str) -> None:
    """Raise ``InfeasibleError`` naming the first reason no valid plan can exist.

    Parameters
    ----------
    problem
        The instance (with ``nest_in`` already applied to its edges).
    count
        The number of areas asked for, or ``"auto"``.
    """
    check_feasible_rules(problem, count)
