"""Band: every area holds between ``min_population`` and ``max_population`` residents (always on)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sda.config import RulesConfig
from sda.errors import InfeasibleError
from sda.metrics import area_populations, in_band
from sda.plan import RuleResult
from sda.rules.base import Rule, unit_list

if TYPE_CHECKING:
    from sda.problem import Problem


class Band(Rule):
    """Populations within the band. Its building block is the band itself (``min_pop``,
    ``max_pop`` in the ``Problem``), set from ``[areas]``."""

    name = "band"

    @classmethod
    def from_config(cls, rules: RulesConfig) -> list[Rule]:
        return [cls()]

    def check_feasible(self, problem: Problem, count: int | str, rules: Sequence[Rule]) -> None:
        big = np.flatnonzero(problem.pop > problem.max_pop)
        if len(big):
            msg = (
                f"units {unit_list(problem, big)} each have more residents than max_population "
                f"{problem.max_pop:,} (largest {int(problem.pop[big].max()):,}); raise max_population "
                "or split those units."
            )
            raise InfeasibleError(msg)
        lo, hi = problem.feasible_counts()
        if lo > hi:
            total = problem.total_pop
            msg = f"no number of areas fits {total:,} residents in [{problem.min_pop:,}, {problem.max_pop:,}]: " + (
                f"even one area would hold fewer than {problem.min_pop:,}; widen the band (lower min_population)."
                if hi == 0
                else f"{hi} area(s) would each hold more than {problem.max_pop:,} on average, "
                f"{lo} fewer than {problem.min_pop:,}; widen the band."
            )
            raise InfeasibleError(msg)

    def check_plan(self, problem: Problem, labels: np.ndarray, names: list[str]) -> list[RuleResult]:
        pop = area_populations(labels, problem.pop, len(names))
        outside = np.flatnonzero(~in_band(pop, problem.min_pop, problem.max_pop))
        bad = [f"{names[a]} has {pop[a]:,}" for a in outside]
        band = f"[{problem.min_pop:,}, {problem.max_pop:,}]"
        return [RuleResult("band", not bad, f"all {len(names)} areas within {band}" if not bad else "; ".join(bad))]
