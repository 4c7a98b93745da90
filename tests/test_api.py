"""Tests for sda.api: warnings recorded while reading inputs reach the caller, even when a later
step fails."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import sda.api as api
from sda.config import load_config
from sda.errors import InputError, SdaWarning
from sda.plan import Plan

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


@pytest.mark.slow
def test_meanwhile_gets_the_built_plan_before_its_trade_offs(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    cfg = load_config(CONFIG)
    cfg = dataclasses.replace(
        cfg,
        areas=dataclasses.replace(cfg.areas, count=24),
        search=dataclasses.replace(cfg.search, steps=20_000, starts=1, jobs=2),
        tradeoffs=dataclasses.replace(cfg.tradeoffs, steps=2_000, ensemble=3),
    )
    seen: list[tuple[object, int, bool, bool]] = []

    def meanwhile(plan: Plan) -> None:
        seen.append((plan, len(plan.alternatives), plan.ensemble is None, plan.bound is not None))

    # With the work on two workers, which load the kernels as they start, this process does not
    # compile a third copy alongside them (on a first run that cost 3 s of wall and 10 s of CPU).
    compiled: list[object] = []
    monkeypatch.setattr(api, "compile_kernels", compiled.append)
    said: list[str] = []
    plan = api.run(cfg, progress=said.append, meanwhile=meanwhile)
    assert compiled == []
    assert any(line.startswith("the workers are preparing the search kernels") for line in said)
    assert len(seen) == 1
    built, alternatives, no_ensemble, bounded = seen[0]
    assert built is plan  # the same plan, given its trade-offs afterwards
    # The bound is a worker's task alongside the trade-offs, so this process only draws maps.
    assert (alternatives, no_ensemble, bounded) == (0, True, False)
    assert "bounding the plan with HiGHS on a worker" in said
    assert plan.alternatives and plan.ensemble is not None and len(plan.ensemble) == 3
    assert plan.bound is not None and plan.bound["plan"] == pytest.approx(plan.scores["coterminosity"], abs=1e-9)
