from __future__ import annotations

import pytest

from sda.codes import near_code_hint

CODES = ["E01000001", "E01000002"]


@pytest.mark.parametrize(
    ("typed", "fix"),
    [
        ("E01000001 ", ": remove the space after the code)"),
        ("  E01000001", ": remove the spaces before the code)"),
        (" E01000001 ", ": remove the spaces before and after the code)"),
        ("E0100 0001", ": remove the space inside the code)"),
        ("e01000001", "? spaces and case count in the config)"),
    ],
)
def test_a_code_off_by_spaces_or_case_is_named_with_its_fix(typed: str, fix: str) -> None:
    hint = near_code_hint(typed, CODES)
    assert hint.startswith(" (did you mean 'E01000001'? spaces and case count in the config")
    assert hint.endswith(fix)


def test_a_typo_is_named_and_a_stranger_is_not() -> None:
    assert near_code_hint("E01000003", CODES) == " (did you mean 'E01000002'?)"
    assert near_code_hint("W99", CODES) == ""
