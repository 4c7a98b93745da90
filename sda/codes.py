"""What a code that matches no unit was meant to be.

Unit codes reach sda typed into a config or passed through a spreadsheet, and a code that matches
no unit is most often a real unit's code with a slip in it: a space or a change of case, a typo,
or the leading zeros Excel drops when it reads a column of codes as numbers (``01234`` saved as
``1234``). Every place that reports such a code asks here, so that one slip gets one diagnosis and
one fix wherever it is made.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

from sda.errors import ConfigError, ProblemsError, SdaError

__all__ = ["lost_case", "lost_zeros", "near_code_hint", "unknown_codes_error", "zeros_restored"]


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


def zeros_restored(unmatched: Iterable[str], codes: Iterable[str]) -> dict[str, str]:
    """Each of ``unmatched`` that is a unit code once zeros are put back in front, and that code.

    Only all-digit codes are tried, padded to the width of the all-digit unit codes: those are
    the codes a spreadsheet reads as numbers, and so the only ones whose zeros it drops.
    """
    known = {str(c) for c in codes}
    widths = sorted({len(c) for c in known if c.isdigit()})
    restored = {}
    for code in unmatched:
        padded = [code.zfill(w) for w in widths if code.isdigit() and w > len(code)]
        meant = next((p for p in padded if p in known), None)
        if meant is not None:
            restored[code] = meant
    return restored


def lost_zeros(unmatched: Iterable[str], codes: Iterable[str]) -> tuple[str, str] | None:
    """Why codes match no unit and the fix, when Excel dropped their leading zeros: ``(why, fix)``
    to put in a message in place of its usual ones; None unless putting the zeros back makes at
    least one of ``unmatched`` a unit code (then it is no guess)."""
    unmatched = list(dict.fromkeys(unmatched))
    restored = zeros_restored(unmatched, codes)
    if not restored:
        return None
    code, meant = next(iter(restored.items()))
    why = (
        f" {_which(restored, unmatched)} with the zeros in front put back ({code!r} would be {meant!r}): Excel "
        "drops the leading zeros of codes it reads as numbers when it opens and saves a CSV."
    )
    fix = (
        "open the CSV in Excel with Data > From Text/CSV, set the code column's type to Text and save "
        f"again (or give the column the custom number format {'0' * len(meant)} before saving), or "
        "take the column from the original file."
    )
    return why, fix


def lost_case(unmatched: Iterable[str], codes: Iterable[str]) -> tuple[str, str] | None:
    """Why codes match no unit and the fix, when they are unit codes in another case (``e04001601``
    for ``E04001601``: a database export, or codes typed by hand): ``(why, fix)`` to put in a
    message in place of its usual ones, which would send the officer to find a table of another
    geography; None unless at least one of ``unmatched`` is a unit code in another case."""
    unmatched = list(dict.fromkeys(unmatched))
    by_case: dict[str, str] = {}
    for known in codes:
        by_case.setdefault(str(known).casefold(), str(known))
    restored = {c: by_case[c.casefold()] for c in unmatched if c.casefold() in by_case}
    if not restored:
        return None
    code, meant = next(iter(restored.items()))
    why = f" {_which(restored, unmatched)} in the units file's case ({code!r} is {meant!r}): codes must match exactly."
    upper = all(m == m.upper() for m in restored.values())
    how = " (in Excel, =UPPER(A2) in a new column, then paste it as values over the codes)" if upper else ""
    fix = f"write the codes as the units file does{how}, or take the column from the original file."
    return why, fix


def _which(restored: Mapping[str, str], unmatched: list[str]) -> str:
    """``All 6 codes that match no unit would match units`` (or the one code, or some of them)."""
    if len(unmatched) == 1:
        which = "The code that matches no unit"
    elif len(restored) == len(unmatched):
        which = f"All {len(unmatched)} codes that match no unit"
    else:
        which = f"{len(restored)} of the {len(unmatched)} codes that match no unit"
    return f"{which} would match {'a unit' if len(restored) == 1 else 'units'}"


def unknown_codes_error(section: str, problems: Sequence[str]) -> SdaError:
    """The error for codes of a config section that match no unit: every one listed, so that a
    config written for another geography (LSOA codes against parishes) is fixed in one pass."""
    if len(problems) == 1:
        return ConfigError(problems[0])
    headline = f"{len(problems)} unit codes named in [{section}] are not in the units file (fix, then run again):"
    return ProblemsError(headline, problems)
