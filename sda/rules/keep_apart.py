"""keep_apart: pairs of units that must be in different areas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sda.config import RulesConfig
from sda.errors import InfeasibleError
from sda.plan import RuleResult
from sda.rules.base import Blocks, Rule

if TYPE_CHECKING:
    from sda.problem import Problem


class KeepApart(Rule):
    """One ``keep_apart`` pair. Building block: a forbidden pair (no move puts both units in
    one area; no recombination cut leaves them on one side)."""

    name = "keep_apart"

    def __init__(self, a: str, b: str) -> None:
        self.a = a
        self.b = b

    @classmethod
    def from_config(cls, rules: RulesConfig) -> list[Rule]:
        return [cls(a, b) for a, b in rules.keep_apart]

    def named_units(self) -> list[tuple[str, str]]:
        return [("keep_apart", self.a), ("keep_apart", self.b)]

    def translate(self, blocks: Blocks) -> None:
        blocks.apart.append((blocks.unit(self.a, "keep_apart"), blocks.unit(self.b, "keep_apart")))

    def _pair(self, problem: Problem) -> tuple[int, int]:
        return problem.codes.index(self.a), problem.codes.index(self.b)

    def check_feasible(self, problem: Problem, count: int | str, rules: Sequence[Rule]) -> None:
        x, y = self._pair(problem)
        if x == y:
            msg = f"rule keep_apart ({self.a}, {self.b}) contradicts itself: a unit cannot be apart from itself."
            raise InfeasibleError(msg)
        together = [r for r in rules if r.holds_together(problem, x, y)]
        if together or (problem.together[x] >= 0 and problem.together[x] == problem.together[y]):
            names = ", ".join(sorted({r.name for r in together})) or "keep_together/lock"
            msg = (
                f"rule keep_apart ({self.a}, {self.b}) contradicts keep_together/lock ({names}), "
                "which puts both in one area."
            )
            raise InfeasibleError(msg)

    def check_plan(self, problem: Problem, labels: np.ndarray, names: list[str]) -> list[RuleResult]:
        x, y = self._pair(problem)
        ok = bool(labels[x] != labels[y])
        return [RuleResult(f"keep_apart {self.a}/{self.b}", ok, f"in {names[labels[x]]} and {names[labels[y]]}")]
