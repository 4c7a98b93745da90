"""Contiguity: every area is one connected piece of the unit graph (always on)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sda.config import RulesConfig
from sda.errors import InfeasibleError
from sda.metrics import components, count_bounds, pieces_per_area
from sda.plan import RuleResult
from sda.rules.base import Rule, unit_list

if TYPE_CHECKING:
    from sda.problem import Problem


class Contiguity(Rule):
    """Areas connected. No building block: the kernel keeps every move contiguous, and the
    graph's separate parts must each hold a whole number of areas."""

    name = "contiguity"

    @classmethod
    def from_config(cls, rules: RulesConfig) -> list[Rule]:
        return [cls()]

    def check_feasible(self, problem: Problem, count: int | str, rules: Sequence[Rule]) -> None:
        parts = components(problem.indptr, problem.indices)
        for part in parts:
            people = int(problem.pop[part].sum())
            lo, hi = count_bounds(people, problem.min_pop, problem.max_pop)
            if people >= problem.min_pop and lo > hi:
                msg = (
                    f"units {unit_list(problem, part)} form a separate part of the graph with {people:,} "
                    f"residents, which no whole number of areas in [{problem.min_pop:,}, {problem.max_pop:,}] "
                    "can hold; link it to its neighbours with [graph] extra_links or widen the band."
                )
                raise InfeasibleError(msg)
            if people < problem.min_pop:
                msg = (
                    f"units {unit_list(problem, part)} form a separate part of the graph with {people:,} "
                    f"residents, below min_population {problem.min_pop:,}; link them with "
                    '[graph] extra_links, or (with nest_in = "district") check their district.'
                )
                raise InfeasibleError(msg)
        if count != "auto":
            from sda.engine.construct import distribute_count  # the engine imports the rules' package

            k, total = int(count), problem.total_pop
            if not k * problem.min_pop <= total <= k * problem.max_pop:
                lo_all, hi_all = problem.feasible_counts()
                msg = (
                    f"count = {k} needs between {k * problem.min_pop:,} and {k * problem.max_pop:,} "
                    f"residents but there are {total:,}; choose a count from {lo_all} to {hi_all}."
                )
                raise InfeasibleError(msg)
            if k > problem.n:  # with no floor (min_population = 0) the residents alone allow it
                lo_all, hi_all = problem.feasible_counts()
                msg = (
                    f"count = {k} asks for more areas than there are units ({problem.n:,}): every area needs "
                    f"at least one unit; choose a count from {lo_all} to {hi_all}."
                )
                raise InfeasibleError(msg)
            distribute_count(problem, [int(problem.pop[p].sum()) for p in parts], k, [len(p) for p in parts])

    def check_plan(self, problem: Problem, labels: np.ndarray, names: list[str]) -> list[RuleResult]:
        pieces = pieces_per_area(problem.indptr, problem.indices, labels, len(names))
        bad = [f"{names[a]} is in {pieces[a]} pieces" for a in np.flatnonzero(pieces != 1)]
        return [RuleResult("contiguity", not bad, "every area is one connected piece" if not bad else "; ".join(bad))]
