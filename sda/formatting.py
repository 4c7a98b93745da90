"""Values as tables and reports show them: thousands separators, fixed places, and a dash for a
missing number (an empty string for missing text), so that one blank cell never breaks a table.

Shared by the terminal summary (``sda.outputs``), the report (``sda.report``) and the figures
(``sda.maps``), which must agree on how the same number reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

MISSING = "-"


def as_float(value: Any) -> float:
    """``value`` as a float; NaN when it is missing or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def show_text(value: Any) -> str:
    """``value`` as text; empty when it is missing (None, NaN, pandas NA)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def show_whole(value: Any) -> str:
    """A whole number with thousands separators: ``12,345``."""
    number = as_float(value)
    return MISSING if math.isnan(number) else f"{round(number):,}"


def show_signed_whole(value: Any) -> str:
    """A whole number with its sign: ``+1,234`` / ``-56``."""
    number = as_float(value)
    return MISSING if math.isnan(number) else f"{round(number):+,}"


def show_number(value: Any, places: int) -> str:
    """A number with ``places`` decimals and thousands separators."""
    number = as_float(value)
    return MISSING if math.isnan(number) else f"{number:,.{places}f}"


def show_signed_number(value: Any, places: int) -> str:
    """A number with its sign and ``places`` decimals: ``+2.5``."""
    number = as_float(value)
    return MISSING if math.isnan(number) else f"{number:+.{places}f}"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for one: "1 unit", "3 units", "1,432 residents"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def show_percent(value: Any, places: int = 1) -> str:
    """A share as a percentage: 0.912 -> ``91.2%``."""
    number = as_float(value)
    return MISSING if math.isnan(number) else f"{number:.{places}%}"


@dataclass(frozen=True)
class ScoreText:
    """How a plan score is named and shown to people: the words, the precision and which way is
    better. One table (``SCORE_TEXT``) so the terminal, ``sda diff``, ``sda evaluate`` and the
    report's ensemble ranking call a score the same thing."""

    words: str
    places: int
    percent: bool = False
    higher_is_better: bool = False

    def show(self, value: Any) -> str:
        """``value`` at this score's precision (a percentage for shares); a dash when missing."""
        return show_percent(value, self.places) if self.percent else show_number(value, self.places)


#: Plan scores (``sda.objective.score_labels`` keys) in words.
SCORE_TEXT: dict[str, ScoreText] = {
    "objective": ScoreText("objective", 4),
    "coterminosity": ScoreText("PCN coterminosity", 1, percent=True, higher_is_better=True),
    "pcns_split": ScoreText("PCNs split", 0),
    "cut_border_km": ScoreText("cut border, km", 1),
    "mean_polsby_popper": ScoreText("mean Polsby-Popper compactness", 3, higher_is_better=True),
    "mean_abs_deviation_pct": ScoreText("mean distance from the target population, %", 2),
    "cut_edges": ScoreText("links cut between areas", 0),
    "district_splits": ScoreText("areas crossing a district boundary", 0),
}


def score_text(key: str) -> ScoreText:
    """The words for score ``key``; the key itself, at 4 places, for a score not in the table."""
    return SCORE_TEXT.get(key, ScoreText(key, 4))
