"""What every rule is: a class with four steps, and the building blocks it translates into.

A rule is read from the config (``from_config``), translated into the kernel's few building
blocks (``translate``: frozen units, group labels, locks, forbidden pairs, removed links),
checked before solving (``check_feasible``: raise ``InfeasibleError`` naming the culprits, and
naming contradictions as such), and checked on a finished plan (``check_plan``: one
``RuleResult`` per rule instance, naming the violators). The engine never sees a rule, only the
blocks in the ``Problem``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from sda.codes import near_code_hint
from sda.config import RulesConfig
from sda.errors import ConfigError
from sda.plan import RuleResult

if TYPE_CHECKING:
    from sda.problem import Problem


@dataclass
class Blocks:
    """The building blocks the rules add to, before they become the ``Problem``'s arrays.

    Attributes
    ----------
    codes, pos : unit codes and code -> position.
    district : district index per unit.
    groups : lists of positions that must share an area (merged when they overlap).
    locks : area name -> positions locked to it (in order of first mention).
    apart : pairs of positions that must be in different areas.
    frozen : units no move may take out of their area.
    separate : per-unit label arrays; a link between two units whose labels differ is removed.
    """

    codes: Sequence[str]
    pos: Mapping[str, int]
    district: np.ndarray
    groups: list[list[int]] = field(default_factory=list)
    locks: dict[str, list[int]] = field(default_factory=dict)
    apart: list[tuple[int, int]] = field(default_factory=list)
    frozen: list[int] = field(default_factory=list)
    separate: list[np.ndarray] = field(default_factory=list)

    def unit(self, code: str, rule: str) -> int:
        """Position of ``code``; a ``ConfigError`` naming the rule when it is not in the data."""
        if code not in self.pos:
            raise ConfigError(self.unknown(code, rule))
        return self.pos[code]

    def unknown(self, code: str, rule: str) -> str:
        """What to say about ``code``, named by ``rule`` and not in the data."""
        return (
            f"[rules] {rule} names unit {code!r}, which is not in the units file"
            f"{near_code_hint(code, self.codes)}; expected a code of the units file's code field. "
            "Fix: correct the code in the config."
        )


class Rule:
    """Base of every rule. Subclasses set ``name`` and override the steps they need."""

    name: ClassVar[str] = ""

    @classmethod
    def from_config(cls, rules: RulesConfig) -> list[Rule]:
        """The instances of this rule the config asks for (none when it is off)."""
        return []

    def named_units(self) -> list[tuple[str, str]]:
        """``(how the message names this rule, code)`` for each unit code the config gives it."""
        return []

    def translate(self, blocks: Blocks) -> None:
        """Add this rule's building blocks."""

    def holds_together(self, problem: Problem, x: int, y: int) -> bool:
        """Does this rule put units ``x`` and ``y`` in one area (for naming contradictions)?"""
        return False

    def check_feasible(self, problem: Problem, count: int | str, rules: Sequence[Rule]) -> None:
        """Raise ``InfeasibleError`` naming why no plan can keep this rule (``rules``: all in force)."""

    def check_plan(self, problem: Problem, labels: np.ndarray, names: list[str]) -> list[RuleResult]:
        """Results on a finished plan, naming the violators."""
        return []


def unit_list(problem: Problem, positions: np.ndarray | Sequence[int], limit: int = 8, sep: str = " and ") -> str:
    """Codes of ``positions`` for a message: the first ``limit``, then how many more."""
    codes = [problem.codes[i] for i in list(positions)[:limit]]
    more = len(positions) - limit
    return ", ".join(codes) + (f"{sep}{more} more" if more > 0 else "")


def plan_units(problem: Problem, positions: np.ndarray, limit: int = 6) -> str:
    """Codes of ``positions`` for a plan check: the first ``limit``, then "(+N more)"."""
    shown = ", ".join(problem.codes[i] for i in positions[:limit])
    return shown + (f" (+{len(positions) - limit} more)" if len(positions) > limit else "")
