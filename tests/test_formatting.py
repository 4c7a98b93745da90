"""Tests for sda.formatting: numbers read the same in every table, and missing values show as a dash."""

from __future__ import annotations

import math

import pandas as pd

from sda.formatting import (
    as_float,
    show_number,
    show_percent,
    show_signed_number,
    show_signed_whole,
    show_text,
    show_whole,
)


def test_numbers() -> None:
    assert show_whole(852523) == "852,523"
    assert show_signed_whole(-1234.4) == "-1,234"
    assert show_signed_whole(56) == "+56"
    assert show_number(1234.567, 1) == "1,234.6"
    assert show_signed_number(2.54, 1) == "+2.5"
    assert show_percent(0.9116) == "91.2%"
    assert show_percent(0.04673, 2) == "4.67%"


def test_missing_values() -> None:
    for missing in (None, math.nan, "n/a", pd.NA):
        assert show_whole(missing) == "-"
        assert show_number(missing, 2) == "-"
        assert show_percent(missing) == "-"
        assert math.isnan(as_float(missing))
    assert show_text(None) == show_text(math.nan) == show_text(pd.NA) == ""
    assert show_text("SDA-01") == "SDA-01"


def test_scores_have_one_vocabulary() -> None:
    from sda.formatting import SCORE_TEXT, score_text

    assert score_text("coterminosity").show(0.9123) == "91.2%"
    assert score_text("cut_border_km").show(1234.56) == "1,234.6"
    assert score_text("pcns_split").show(float("nan")) == "-"
    assert score_text("some_new_score").words == "some_new_score"  # unknown keys still show
    assert {k for k, t in SCORE_TEXT.items() if t.higher_is_better} == {"coterminosity", "mean_polsby_popper"}
