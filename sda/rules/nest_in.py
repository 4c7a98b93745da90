"""nest_in = "district": every area lies inside one district."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sda.config import RulesConfig
from sda.errors import InfeasibleError
from sda.plan import RuleResult
from sda.rules.base import Blocks, Rule, unit_list

if TYPE_CHECKING:
    from sda.problem import Problem


class NestIn(Rule):
    """Areas nested in districts. Building block: the links between districts are removed, so
    contiguity alone keeps each area inside one."""

    name = "nest_in_district"

    @classmethod
    def from_config(cls, rules: RulesConfig) -> list[Rule]:
        return [cls()] if rules.nest_in == "district" else []

    def translate(self, blocks: Blocks) -> None:
        blocks.separate.append(blocks.district)

    def check_feasible(self, problem: Problem, count: int | str, rules: Sequence[Rule]) -> None:
        groups = problem.together
        for g in np.unique(groups[groups >= 0]).tolist():
            members = np.flatnonzero(groups == g)
            if len(np.unique(problem.district[members])) > 1:
                msg = (
                    f'rule keep_together/lock contradicts nest_in = "district": units '
                    f"{unit_list(problem, members)} must share an area but lie in different districts."
                )
                raise InfeasibleError(msg)

    def check_plan(self, problem: Problem, labels: np.ndarray, names: list[str]) -> list[RuleResult]:
        crossing = [names[a] for a in range(len(names)) if len(np.unique(problem.district[labels == a])) > 1]
        detail = "no area crosses a district boundary" if not crossing else "crossing: " + ", ".join(crossing)
        return [RuleResult(self.name, not crossing, detail)]
