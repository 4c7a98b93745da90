"""Values as tables and reports show them: thousands separators, fixed places, and a dash for a
missing number (an empty string for missing text), so that one blank cell never breaks a table.

Shared by the terminal summary (``sda.outputs``), the report (``sda.report``) and the figures
(``sda.maps``), which must agree on how the same number reads.
"""

from __future__ import annotations

import math
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


def show_percent(value: Any, places: int = 1) -> str:
    """A share as a percentage: 0.912 -> ``91.2%``."""
    number = as_float(value)
    return MISSING if math.isnan(number) else f"{number:.{places}%}"
