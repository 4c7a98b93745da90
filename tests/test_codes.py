from __future__ import annotations

import pytest

from sda.codes import lost_case, lost_zeros, near_code_hint, zeros_restored

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


def test_codes_excel_stripped_of_zeros_are_restored_only_when_that_makes_them_units() -> None:
    units = ["01001", "01002", "12004", "W04000001"]
    assert zeros_restored(["1001", "1002", "9999", "W4000001", "12004"], units) == {"1001": "01001", "1002": "01002"}
    assert lost_zeros(["9999", "1003"], units) is None  # no unit with the zeros back: no claim
    hint = lost_zeros(["1001", "9999"], units)
    assert hint is not None
    why, fix = hint
    assert why == (
        " 1 of the 2 codes that match no unit would match a unit with the zeros in front put back "
        "('1001' would be '01001'): Excel drops the leading zeros of codes it reads as numbers when it "
        "opens and saves a CSV."
    )
    assert "set the code column's type to Text" in fix and "custom number format 00000" in fix


def test_codes_in_another_case_are_named_only_when_that_makes_them_units() -> None:
    why, fix = lost_case(["e01000001", "e01000002"], CODES) or ("", "")
    assert "All 2 codes that match no unit would match units in the units file's case" in why
    assert "('e01000001' is 'E01000001')" in why
    assert fix.startswith("write the codes as the units file does (in Excel, =UPPER(A2)")
    why, _ = lost_case(["e01000001", "E09999999"], CODES) or ("", "")
    assert why.startswith(" 1 of the 2 codes that match no unit would match a unit")
    assert lost_case(["E09999999", "w01000001"], CODES) is None
    assert "UPPER" not in (lost_case(["ab1"], ["Ab1"]) or ("", ""))[1]  # mixed-case codes: no UPPER() to give
