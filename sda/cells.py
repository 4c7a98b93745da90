"""CSV cells a spreadsheet shows as text: every CSV sda writes goes through ``csv_text``.

Officers open ``assignment.csv``, ``areas.csv`` and the change logs in Excel, and area names can
come from a names file anyone edited. A cell starting with ``=``, ``+``, ``-`` or ``@`` would be run
as a formula there (OWASP "CSV injection"), so such cells get a leading ``'``, and ``plain_cell``
takes it off again when sda reads its own files back.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable

__all__ = ["csv_text", "neutral_cell", "plain_cell"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutral_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: one starting with ``= + - @``, tab or carriage
    return gets a leading ``'`` (the OWASP convention), except plain numbers such as ``-3.5``.
    A missing value (None, NaN) is an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value)
    if text.startswith(_FORMULA_START):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def csv_text(header: Iterable[object], rows: Iterable[Iterable[object]]) -> str:
    """CSV text (comma, ``\\n`` line ends) with every cell passed through ``neutral_cell``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutral_cell(c) for c in header])
    writer.writerows([neutral_cell(c) for c in row] for row in rows)
    return buffer.getvalue()


def plain_cell(text: str) -> str:
    """Undo ``neutral_cell``: drop the ``'`` put before a formula-like cell."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text
