"""What a user sees in the terminal: stdout carries only results (JSON stays JSON with the HiGHS
bound on), progress explains the first run's compile pause, and paths read cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sda.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "cambridgeshire-peterborough.toml"


@pytest.mark.slow
def test_json_output_is_json_with_the_bound_on(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["propose", "--config", str(DEFAULT), "--out", str(tmp_path / "out"), "--json", "--no-tradeoffs"]
    done = subprocess.run(
        [sys.executable, "-m", "sda", *args, "--count", "22", "--steps", "100000", "--starts", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # HiGHS prints a banner on stdout unless it is kept off
    assert summary["bound"] and summary["bound"]["bound"] > 0
    assert "HiGHS" not in done.stdout
    assert all(area["name"] for area in summary["areas"])
    assert "compiling on the first run only" in done.stderr


def test_config_paths_are_normalised() -> None:
    cfg = load_config(DEFAULT)
    assert ".." not in cfg.output.dir.parts and ".." not in cfg.units.path.parts
    assert cfg.output.dir.name == "cambridgeshire-peterborough"
