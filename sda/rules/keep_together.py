"""keep_together: groups of units that must share an area (a town and its hinterland)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sda.config import RulesConfig
from sda.errors import InfeasibleError
from sda.plan import RuleResult
from sda.rules.base import Blocks, Rule, plan_units, unit_list

if TYPE_CHECKING:
    from sda.problem import Problem


def check_group(problem: Problem, members: np.ndarray) -> None:
    """Raise if a group that must share an area (merged with the groups and locks it overlaps)
    cannot: more residents than an area may hold, or two different locks."""
    people = int(problem.pop[members].sum())
    if people > problem.max_pop:
        msg = (
            f"rule keep_together/lock: units {unit_list(problem, members)} must share an area but have "
            f"{people:,} residents, above max_population {problem.max_pop:,}."
        )
        raise InfeasibleError(msg)
    locks = np.unique(problem.lock[members][problem.lock[members] >= 0])
    if len(locks) > 1:
        names = ", ".join(repr(problem.lock_names[i]) for i in locks)
        msg = (
            f"rule keep_together contradicts rule lock: units {unit_list(problem, members)} must share "
            f"an area but are locked to different areas ({names})."
        )
        raise InfeasibleError(msg)


class KeepTogether(Rule):
    """One ``keep_together`` group. Building block: a group label shared by its units (groups
    that overlap, or overlap a lock, merge); grouped units move only whole, by recombination."""

    name = "keep_together"

    def __init__(self, number: int, units: tuple[str, ...]) -> None:
        self.number = number
        self.units = units

    @classmethod
    def from_config(cls, rules: RulesConfig) -> list[Rule]:
        return [cls(i, tuple(group)) for i, group in enumerate(rules.keep_together, start=1)]

    def named_units(self) -> list[tuple[str, str]]:
        return [("keep_together", c) for c in self.units]

    def translate(self, blocks: Blocks) -> None:
        blocks.groups.append([blocks.unit(c, "keep_together") for c in self.units])

    def _positions(self, problem: Problem) -> np.ndarray:
        at = {c: i for i, c in enumerate(problem.codes)}
        return np.array([at[c] for c in self.units], dtype=np.int64)

    def holds_together(self, problem: Problem, x: int, y: int) -> bool:
        g = problem.together[x]
        return bool(g >= 0 and g == problem.together[y] and np.isin([x, y], self._positions(problem)).any())

    def check_feasible(self, problem: Problem, count: int | str, rules: Sequence[Rule]) -> None:
        group = problem.together[self._positions(problem)[0]]
        if group >= 0:
            check_group(problem, np.flatnonzero(problem.together == group))

    def check_plan(self, problem: Problem, labels: np.ndarray, names: list[str]) -> list[RuleResult]:
        positions = self._positions(problem)
        held = np.unique(labels[positions])
        detail = f"{plan_units(problem, positions)} in {', '.join(names[h] for h in held)}"
        return [RuleResult(f"keep_together #{self.number}", len(held) == 1, detail)]
