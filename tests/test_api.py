"""Tests for sda.api: warnings recorded while reading inputs reach the caller, even when a later
step fails."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import sda.api as api
from sda.config import load_config
from sda.errors import InputError, SdaWarning

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cambridgeshire-peterborough.toml"


def test_warnings_are_replayed_when_reading_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def warn_then_fail(cfg: object, say: object) -> None:
        warnings.warn("3 codes in the CSV match no unit", SdaWarning, stacklevel=2)
        msg = "unit 'E01000001' has no population"
        raise InputError("population.csv", msg)

    monkeypatch.setattr(api, "_read_and_link", warn_then_fail)
    with pytest.warns(SdaWarning, match="match no unit"), pytest.raises(InputError, match="no population"):
        api.load_inputs(load_config(CONFIG))


def test_warnings_are_kept_on_the_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    real = api._read_and_link

    def warn_then_read(cfg: object, say: object) -> object:
        warnings.warn("an island was joined to its nearest neighbour", SdaWarning, stacklevel=2)
        return real(cfg, say)  # type: ignore[arg-type]

    monkeypatch.setattr(api, "_read_and_link", warn_then_read)
    with pytest.warns(SdaWarning, match="island"):
        inputs = api.load_inputs(load_config(CONFIG))
    assert any("island" in w for w in inputs.warnings)
    assert inputs.problem.n == 487
