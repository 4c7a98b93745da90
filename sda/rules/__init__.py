"""The hard rules: one class per rule, and a registry.

Each rule (``sda.rules.base.Rule``) is read from the config, translated into the engine's few
building blocks, checked before solving and checked on a finished plan. ``RULES`` lists them;
adding a rule is one module with one class and one line here (see docs/engine.md, "Adding a
rule"). The engine reads only the blocks the rules leave in the ``Problem``: group labels
(``together``), lock numbers (``lock``), forbidden pairs (``apart_pairs``), frozen units
(``frozen``) and the links removed from the graph.

The plan checks are a second, independent look: the report lists each rule with its result,
and a broken hard rule stops the run (``verify``) rather than let a wrong plan reach an officer.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sda.codes import unknown_codes_error
from sda.config import RulesConfig
from sda.errors import InvariantError
from sda.metrics import area_populations
from sda.plan import RuleResult
from sda.rules.band import Band
from sda.rules.base import Blocks, Rule
from sda.rules.contiguity import Contiguity
from sda.rules.keep_apart import KeepApart
from sda.rules.keep_together import KeepTogether
from sda.rules.lock import Lock
from sda.rules.nest_in import NestIn

if TYPE_CHECKING:
    from sda.problem import Problem

__all__ = [
    "RULES",
    "Blocks",
    "Rule",
    "check_feasible_rules",
    "check_rules",
    "group_labels",
    "rules_in_force",
    "translate",
    "verify",
    "verify_totals",
]

#: The registry, in the order rules are translated and checked (and listed in the report).
RULES: tuple[type[Rule], ...] = (Band, Contiguity, NestIn, Lock, KeepTogether, KeepApart)


def rules_in_force(rules: RulesConfig | None) -> list[Rule]:
    """Every rule instance the config asks for, band and contiguity first."""
    cfg = rules or RulesConfig()
    return [rule for cls in RULES for rule in cls.from_config(cfg)]


def translate(rules: Sequence[Rule], codes: Sequence[str], district: np.ndarray) -> Blocks:
    """The building blocks of ``rules`` (an error listing every unknown unit they name)."""
    blocks = Blocks(codes=codes, pos={c: i for i, c in enumerate(codes)}, district=district)
    named = (pair for rule in rules for pair in rule.named_units())
    unknown = [blocks.unknown(code, label) for label, code in dict.fromkeys(named) if code not in blocks.pos]
    if unknown:
        raise unknown_codes_error("rules", unknown)
    for rule in rules:
        rule.translate(blocks)
    return blocks


def group_labels(blocks: Blocks) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The group label of each unit (overlapping groups merged; -1 for none or a group of one),
    its lock number (-1 for none) and the lock names."""
    n = len(blocks.codes)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    grouped = np.zeros(n, dtype=bool)
    for g in blocks.groups:
        grouped[g] = True
        for a, b in itertools.pairwise(g):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
    roots: dict[int, int] = {}
    together = np.full(n, -1, dtype=np.int64)
    for i in np.flatnonzero(grouped).tolist():
        together[i] = roots.setdefault(find(i), len(roots))
    if roots:
        counts = np.bincount(together[together >= 0], minlength=len(roots))
        together[(together >= 0) & (counts[np.maximum(together, 0)] < 2)] = -1  # a group of one constrains nothing
    _, compact = np.unique(together, return_inverse=True)
    if (together >= 0).any():
        together = np.where(together >= 0, compact - (1 if (together < 0).any() else 0), -1).astype(np.int64)
    lock = np.full(n, -1, dtype=np.int64)
    lock_names = list(blocks.locks)
    for li, members in enumerate(blocks.locks.values()):
        lock[members] = li
    return together, lock, lock_names


def check_feasible_rules(problem: Problem, count: int | str) -> None:
    """Raise ``InfeasibleError`` naming the first rule that no plan can keep."""
    for rule in problem.rules:
        rule.check_feasible(problem, count, problem.rules)


def check_rules(
    problem: Problem, labels: np.ndarray, names: list[str], rules: RulesConfig | None = None
) -> list[RuleResult]:
    """Results of every rule in force on a finished plan: band, contiguity, and those configured
    (``rules``; the problem's own rules when omitted)."""
    in_force = rules_in_force(rules) if rules is not None else list(problem.rules)
    return [result for rule in in_force for result in rule.check_plan(problem, labels, names)]


def verify(problem: Problem, labels: np.ndarray, names: list[str], results: list[RuleResult]) -> None:
    """Stop the run if the plan loses a unit or a resident, or breaks a hard rule (a bug in sda)."""
    verify_totals(problem, labels, names)
    broken = [r for r in results if not r.ok]
    if broken:
        detail = "; ".join(f"{r.name}: {r.detail}" for r in broken)
        msg = f"internal error: the plan breaks a hard rule ({detail}); no output was written. Please report this."
        raise InvariantError(msg)


def verify_totals(problem: Problem, labels: np.ndarray, names: list[str]) -> None:
    """Stop if a unit has no area or residents went missing (a bug in sda). Also checked for
    plans made outside sda (``sda evaluate``), where broken rules are findings, not bugs."""
    if len(labels) != problem.n or (labels < 0).any() or (labels >= len(names)).any():
        msg = "internal error: some units have no area; no output was written. Please report this."
        raise InvariantError(msg)
    pops = area_populations(labels, problem.pop, len(names))
    if int(pops.sum()) != problem.total_pop:
        msg = f"internal error: areas hold {int(pops.sum()):,} residents, units {problem.total_pop:,}; nothing written."
        raise InvariantError(msg)
