"""The output folder as one unit (sda.folder), and the real command under signals and concurrency.

Process tests run ``python -m sda propose`` as an officer would and interrupt it while it writes
into a folder holding a previous run; afterwards the folder must hold exactly the previous run or
exactly the new one, and the next run must leave no temporary files.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sda.errors import OutputError
from sda.folder import (
    clean_leftovers,
    locked,
    new_run_id,
    refuse_overwriting_inputs,
    replace_folder,
    run_timestamp,
)
from sda.outputs import read_plan

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "cambridgeshire-peterborough.toml"
QUICK = ["--steps", "20000", "--starts", "1", "--count", "22", "--no-exact", "--no-tradeoffs", "--quiet"]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    if "SOURCE_DATE_EPOCH" not in extra:
        env.pop("SOURCE_DATE_EPOCH", None)
    return env


def _propose(out: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sda", "propose", "--config", str(DEFAULT), "--out", str(out), *extra],
        env=env or _env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _leftovers(parent: Path) -> list[str]:
    found = [p.name for p in parent.iterdir() if ".sda-" in p.name]
    found += [p.name for p in parent.rglob(".*.tmp*")]
    return found


# --------------------------------------------------------------------------- the module


def test_replace_folder_swaps_whole_set_and_keeps_other_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("old report")
    (out / "plan.json").write_text("old plan")
    (out / "my-project.qgz").write_text("officer's QGIS project")
    (out / "changes").mkdir()
    (out / "changes" / "changes.txt").write_text("the old plan against an older one")

    def write(folder: Path) -> list[Path]:
        (folder / "plan.json").write_text("new plan")
        return [folder / "plan.json"]

    written = replace_folder(out, write)
    assert written == [out / "plan.json"]
    assert (out / "plan.json").read_text() == "new plan"
    assert not (out / "report.md").exists(), "a stale output of the previous run would mix two runs"
    assert not (out / "changes").exists(), "the old plan's change log would describe a plan no longer there"
    assert (out / "my-project.qgz").read_text() == "officer's QGIS project"
    assert _leftovers(tmp_path) == []


def test_failed_write_leaves_folder_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "plan.json").write_text("old plan")

    def write(folder: Path) -> list[Path]:
        (folder / "plan.json").write_text("half")
        msg = "disk full"
        raise OSError(28, msg)

    with pytest.raises(OutputError, match="disk is full"):
        replace_folder(out, write)
    assert _snapshot(out) == {"plan.json": hashlib.sha256(b"old plan").hexdigest()}
    assert _leftovers(tmp_path) == []


def test_leftovers_of_crashed_runs_are_cleaned_and_half_swap_restored(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (tmp_path / ".out.sda-new-dead").mkdir()
    old = tmp_path / ".out.sda-old-dead"
    old.mkdir()
    (old / "plan.json").write_text("previous run")
    clean_leftovers(out)
    assert (out / "plan.json").read_text() == "previous run"  # caught between the two renames
    assert _leftovers(tmp_path) == []
    (out / ".plan.1a2b.tmp.json").write_text("stale temp of an old version")
    clean_leftovers(out)
    assert _leftovers(tmp_path) == []


def test_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with locked(out):
        code = (
            "import sys; from sda.folder import locked; from pathlib import Path\nwith locked(Path(sys.argv[1])): pass"
        )
        other = subprocess.run(
            [sys.executable, "-c", code, str(out)], env=_env(), capture_output=True, text=True, check=False
        )
        assert other.returncode != 0 and "another sda run is writing" in other.stderr
        with locked(out):  # re-entrant in the holding process
            pass
    assert _leftovers(tmp_path) == [] and not list(tmp_path.glob(".*lock"))


def test_outputs_over_inputs_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    units = data / "units.geojson"
    units.write_text("{}")
    for out in (data, tmp_path, units):
        with pytest.raises(OutputError, match="would replace it"):
            refuse_overwriting_inputs([out], [units])
    refuse_overwriting_inputs([tmp_path / "out"], [units])  # a folder of its own is fine


def test_source_date_epoch_fixes_time_and_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert run_timestamp().isoformat() == "2023-11-14T22:13:20+00:00"
    assert new_run_id("a", 1) == new_run_id("a", 1) != new_run_id("a", 2)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(OutputError, match="SOURCE_DATE_EPOCH"):
        run_timestamp()
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert new_run_id("a") != new_run_id("a")


# --------------------------------------------------------------------------- processes


@pytest.fixture(scope="module")
def previous_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder written by one quick real run (copied by each test that damages it)."""
    out = tmp_path_factory.mktemp("previous") / "out"
    proc = _propose(out, *QUICK)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return out


def _copy_of(previous: Path, parent: Path) -> Path:
    import shutil

    out = parent / "out"
    shutil.copytree(previous, out)
    return out


def _interrupt_while_writing(out: Path, sig: int) -> tuple[int, str]:
    """Start a run into ``out`` and send ``sig`` once it has begun writing the new set."""
    proc = _propose(out, *QUICK[:-1], "--seed", "9")
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if any(out.parent.glob(".out.sda-new-*")):
            time.sleep(0.3)  # part-way through writing
            break
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err


def _holds_exactly_one_run(out: Path, before: dict[str, str]) -> str:
    after = _snapshot(out)
    if after == before:
        return "previous"
    plan = read_plan(out)  # refuses a folder that mixes runs
    record = json.loads((out / "plan.json").read_text())
    assert record["provenance"]["run_id"] == plan.provenance["run_id"]
    assert set(after) == set(before), "the new run's set is incomplete"
    return "new"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_signal_during_writing_leaves_one_whole_run(previous_run: Path, tmp_path: Path, sig: int) -> None:
    out = _copy_of(previous_run, tmp_path)
    before = _snapshot(out)
    code, err = _interrupt_while_writing(out, sig)
    held = _holds_exactly_one_run(out, before)
    # Killed part-way through writing, the previous run stays; only a completed run may replace it.
    assert held == ("new" if code == 0 else "previous"), (code, err)
    assert "Traceback" not in err
    if sig == signal.SIGTERM:
        assert code in (143, 0), err
        assert _leftovers(tmp_path) == [], "SIGTERM unwinds and removes its temporary folder"
    # The next run cleans whatever the interrupted one left, and completes.
    again = _propose(out, *QUICK)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert _leftovers(tmp_path) == []
    assert _holds_exactly_one_run(out, before) == "new"


@pytest.mark.slow
def test_concurrent_runs_one_refuses_one_completes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = _propose(out, *QUICK[:-1], "--steps", "3000000")
    deadline = time.monotonic() + 600
    while not list(tmp_path.glob(".out.sda-lock")) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    second = _propose(out, *QUICK)
    _, err2 = second.communicate(timeout=600)
    _, err1 = first.communicate(timeout=600)
    assert second.returncode == 1
    assert "another sda run is writing to" in err2 and "Traceback" not in err2
    assert first.returncode == 0, err1
    read_plan(out)
    assert _leftovers(tmp_path) == []


@pytest.mark.slow
def test_identical_runs_give_identical_bytes_with_tradeoffs_and_bound(tmp_path: Path) -> None:
    """The default config (trade-offs and the HiGHS bound on), a small step budget, twice."""
    env = _env(SOURCE_DATE_EPOCH="1700000000")
    folders = []
    for name in ("first", "second"):
        out = tmp_path / "out"
        proc = _propose(out, "--steps", "20000", "--starts", "1", "--quiet", env=env)
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err
        folders.append(out.rename(tmp_path / name))  # same --out both times: the config records it
    first, second = (_snapshot(f) for f in folders)
    assert {"plan.gpkg", "report.html", "report.md", "frontier.png", "ensemble.png", "plan.json"} <= set(first)
    assert first == second
    record = json.loads((folders[0] / "plan.json").read_text())
    assert record["alternatives"] and record["bound"] and record["provenance"]["run_at"].startswith("2023-11-14")
