"""What a code that matches no unit was meant to be.

Unit codes reach sda typed into a config or passed through a spreadsheet, and a code that matches
no unit is most often a real unit's code with a slip in it: a space or a change of case, a typo.
Every place that reports such a code asks here, so that one slip gets one diagnosis and one fix
wherever it is made.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["near_code_hint"]


def near_code_hint(code: str, codes: Iterable[str]) -> str:
    """`` (did you mean 'X'? ...)`` for a code of the config that differs from the unit code ``X``
    only in spaces or case (saying which space to remove: ``repr`` alone shows a trailing space
    but leaves the reader to spot it), or by a typo; ``""`` when no unit code is near."""
    codes = [str(c) for c in codes]
    same = [c for c in codes if c.replace(" ", "").upper() == code.replace(" ", "").upper()]
    if same:
        return f" (did you mean {same[0]!r}? spaces and case count in the config{_which_spaces(code, same[0])})"
    near = difflib.get_close_matches(code, [c for c in codes if abs(len(c) - len(code)) <= 2], n=1, cutoff=0.85)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _which_spaces(code: str, meant: str) -> str:
    """``: remove the space after the code`` (or before it, around it, inside it) when spaces are
    all that ``code`` and ``meant`` differ by; ``""`` otherwise."""
    if code.replace(" ", "") != meant.replace(" ", "") or code == meant:
        return ""
    if code.strip() != meant.strip():
        where = "inside"
    elif code.lstrip() == code:
        where = "after"
    elif code.rstrip() == code:
        where = "before"
    else:
        where = "before and after"
    spaces = "space" if len(code) - len(meant) == 1 else "spaces"
    return f": remove the {spaces} {where} the code"
