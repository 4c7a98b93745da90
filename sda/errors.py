"""Exception and warning classes, and nothing else.

Every failure a user can cause (bad data, bad config, a rule set that cannot be met) is an
``SdaError``; the CLI shows it as one line and exits with its ``exit_code``. Any other exception is
a bug in ``sda`` and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence

#: How many individual problems one error message lists before it says "and N more".
MAX_LISTED = 20


class SdaError(Exception):
    """Base class: shown by the CLI as a message without a traceback."""

    exit_code = 1


class InputError(SdaError):
    """A data file (units, practices, populations) is unreadable or holds bad values.

    The message always names the file and, where they are known, the row (as the officer's tool
    shows it, ``sda.validate.row_number``: in a CSV the header is row 1), the field, what was found
    and what was expected.
    """

    def __init__(
        self,
        path: object,
        problem: str,
        *,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        where = f"{path}"
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.row = row
        self.field = field


class ProblemsError(SdaError):
    """Several problems found at once, all listed (up to ``MAX_LISTED``) with a total."""

    def __init__(self, headline: str, problems: Sequence[str], exit_code: int = 1) -> None:
        shown = list(problems[:MAX_LISTED])
        more = len(problems) - len(shown)
        lines = [headline, *(f"  - {p}" for p in shown)]
        if more > 0:
            lines.append(f"  ... and {more} more ({len(problems)} problems in all)")
        super().__init__("\n".join(lines))
        self.problems = list(problems)
        self.exit_code = exit_code


class ConfigError(SdaError):
    """The TOML configuration is missing, malformed, or has unknown or out-of-range keys."""


class OutputError(SdaError):
    """An output cannot be written where asked: it would replace an input, the folder is busy with
    another run, or it is not writable (permissions, a full disk, a file in the way)."""


class InfeasibleError(SdaError):
    """The rules cannot all be met; the message names the rule and the units that break it."""

    exit_code = 3


class InvariantError(SdaError):
    """A produced plan broke an invariant (a unit lost, population not adding up).

    This is a bug in ``sda``, never the user's fault; the run stops rather than write a wrong plan.
    """

    exit_code = 4


class PlanBrokenError(SdaError):
    """A plan read from a file (``sda evaluate``) breaks a rule; the message lists each area and
    unit at fault. Its own exit code, so that scripts can tell "checked: broken" from bad input."""

    exit_code = 5


class SdaWarning(UserWarning):
    """A recoverable oddity (an island joined to its nearest unit, a unit with no residents).

    Warnings are shown on stderr and repeated in the report.
    """
