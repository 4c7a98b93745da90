"""Locks: units locked to a named area (the area takes the lock's name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sda.config import RulesConfig
from sda.errors import ConfigError, InfeasibleError
from sda.plan import RuleResult
from sda.rules.base import Blocks, Rule, plan_units
from sda.rules.keep_together import check_group

if TYPE_CHECKING:
    from sda.problem import Problem


class Lock(Rule):
    """The units locked to one area (every ``[[rules.locks]]`` entry naming it). Building
    blocks: its units join one group (moved only whole, by recombination) and carry the lock's
    number; units of different locks may never share an area."""

    name = "lock"

    def __init__(self, area: str, units: tuple[str, ...]) -> None:
        self.area = area
        self.units = units

    @classmethod
    def from_config(cls, rules: RulesConfig) -> list[Rule]:
        by_area: dict[str, list[str]] = {}
        for spec in rules.locks:
            by_area.setdefault(spec.area, []).extend(spec.units)
        return [cls(area, tuple(units)) for area, units in by_area.items()]

    def named_units(self) -> list[tuple[str, str]]:
        return [(f"lock {self.area!r}", c) for c in self.units]

    def translate(self, blocks: Blocks) -> None:
        members = [blocks.unit(c, f"lock {self.area!r}") for c in self.units]
        for m in members:
            for other, held in blocks.locks.items():
                if m in held:
                    msg = (
                        f"[rules] unit {blocks.codes[m]!r} is locked to two areas, {other!r} "
                        f"and {self.area!r}; lock it to one."
                    )
                    raise ConfigError(msg)
        blocks.locks[self.area] = members
        blocks.groups.append(members)

    def _members(self, problem: Problem) -> np.ndarray:
        return np.flatnonzero(problem.lock == problem.lock_names.index(self.area))

    def holds_together(self, problem: Problem, x: int, y: int) -> bool:
        li = problem.lock_names.index(self.area)
        return bool(problem.lock[x] == li and problem.lock[y] == li)

    def check_feasible(self, problem: Problem, count: int | str, rules: Sequence[Rule]) -> None:
        members = self._members(problem)
        group = problem.together[members[0]]
        check_group(problem, members if group < 0 else np.flatnonzero(problem.together == group))
        if count != "auto" and len(problem.lock_names) > int(count):
            msg = f"rule lock names {len(problem.lock_names)} areas but count = {count}."
            raise InfeasibleError(msg)

    def check_plan(self, problem: Problem, labels: np.ndarray, names: list[str]) -> list[RuleResult]:
        members = self._members(problem)
        held = np.unique(labels[members])
        ok = len(held) == 1 and names[held[0]] == self.area
        detail = f"{plan_units(problem, members)} in {', '.join(names[h] for h in held)}"
        return [RuleResult(f"lock {self.area!r}", ok, detail)]
