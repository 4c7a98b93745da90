"""End-to-end: the real command on the real shipped data, as an officer runs it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
from click.testing import CliRunner

from sda.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "cambridgeshire-peterborough.toml"
TIGHT = ROOT / "configs" / "cambridgeshire-peterborough-28.toml"
TOTAL = 852_523


def _propose(config: Path, out: Path, *extra: str) -> None:
    result = CliRunner().invoke(
        cli, ["propose", "--config", str(config), "--out", str(out), "--quiet", "--no-exact", "--no-tradeoffs", *extra]
    )
    assert result.exit_code == 0, result.output


def _check_plan(out: Path, expected_count: int | None) -> pd.DataFrame:
    assignment = pd.read_csv(out / "assignment.csv", dtype=str)
    units = gpd.read_file(ROOT / "boundaries" / "lsoa2011_cambs_peterborough.geojson")
    # Every unit exactly once.
    assert sorted(assignment["unit_code"]) == sorted(units["LSOA11CD"])
    merged = units.merge(assignment, left_on="LSOA11CD", right_on="unit_code")
    pops = merged.groupby("area_id")["pop_mid2018"].sum()
    assert pops.sum() == TOTAL
    assert pops.between(30_000, 50_000).all(), pops[~pops.between(30_000, 50_000)]
    if expected_count is not None:
        assert len(pops) == expected_count
    # Contiguity, checked independently of sda's own graph code (within snap_m = 10 m, in BNG).
    bng = merged.to_crs(27700)
    for area, members in bng.groupby("area_id"):
        g = nx.Graph()
        g.add_nodes_from(members.index)
        geoms = members.geometry
        for i in members.index:
            near = geoms[geoms.distance(geoms[i]) <= 10.0].index  # the configs' snap_m
            g.add_edges_from((i, j) for j in near if j != i)
        assert nx.is_connected(g), f"{area} is not contiguous"
    areas = gpd.read_file(out / "areas.geojson")
    assert areas.crs.to_epsg() == 4326
    assert set(areas["area_id"]) == set(pops.index)
    return assignment


@pytest.mark.slow
def test_default_config_gives_valid_plan(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    _propose(DEFAULT, out, "--time-limit", "3", "--count", "22", "--starts", "1")
    _check_plan(out, 22)
    summary = json.loads((out / "summary.json").read_text())
    assert summary  # the machine-readable summary is written beside the plan


@pytest.mark.slow
def test_same_seed_same_files_with_step_budget(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        out = tmp_path / name
        _propose(DEFAULT, out, "--steps", "400", "--count", "22", "--starts", "1", "--seed", "5")
        digests.append(
            [hashlib.sha256((out / f).read_bytes()).hexdigest() for f in ("assignment.csv", "units.geojson")]
        )
    assert digests[0] == digests[1]


@pytest.mark.slow
def test_28_areas_all_in_band(tmp_path: Path) -> None:
    out = tmp_path / "28"
    _propose(TIGHT, out, "--time-limit", "2", "--starts", "1")
    _check_plan(out, 28)


def test_json_summary_and_exit_code_for_impossible_count(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["propose", "--config", str(DEFAULT), "--out", str(tmp_path), "--count", "40", "--quiet"]
    )
    assert result.exit_code == 3
    assert "count = 40" in result.output and "18 to 28" in result.output
    assert not list(tmp_path.iterdir()), "nothing may be written when the run fails"


def test_check_command_on_shipped_data() -> None:
    result = CliRunner().invoke(cli, ["check", "--config", str(DEFAULT)])
    assert result.exit_code == 0, result.output
    assert "487 units, 852,523 residents" in result.output


def test_bad_usage_exits_2() -> None:
    result = CliRunner().invoke(cli, ["propose", "--config", "no-such-file.toml"])
    assert result.exit_code == 2


def test_every_command_has_help_with_an_example_and_is_in_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, _command in cli.commands.items():
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.output, name
        assert f"sda {name}" in readme, f"README does not mention 'sda {name}'"


def test_graph_command_writes_links(tmp_path: Path) -> None:
    out = tmp_path / "graph.geojson"
    result = CliRunner().invoke(cli, ["graph", "--config", str(DEFAULT), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    links = gpd.read_file(out)
    assert len(links) == 1358
    assert json.loads(out.read_text())["type"] == "FeatureCollection"


@pytest.mark.slow
def test_nested_in_districts_no_area_crosses_a_district(tmp_path: Path) -> None:
    out = tmp_path / "nested"
    _propose(
        ROOT / "configs" / "cambridgeshire-peterborough-districts.toml",
        out,
        "--time-limit",
        "2",
        "--count",
        "22",
        "--starts",
        "1",
    )
    _check_plan(out, 22)
    assignment = pd.read_csv(out / "assignment.csv", dtype=str)
    units = gpd.read_file(ROOT / "boundaries" / "lsoa2011_cambs_peterborough.geojson")
    merged = units.merge(assignment, left_on="LSOA11CD", right_on="unit_code")
    assert (merged.groupby("area_id")["LAD11CD"].nunique() == 1).all()


@pytest.mark.slow
def test_full_run_with_bound_tradeoffs_and_report(tmp_path: Path) -> None:
    text = DEFAULT.read_text().replace('"../boundaries/', f'"{(ROOT / "boundaries").as_posix()}/')
    text = text.replace("time_limit_s = 15\nensemble = 100", "time_limit_s = 3\nensemble = 10")
    config = tmp_path / "run.toml"
    config.write_text(text)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "propose",
            "--config",
            str(config),
            "--out",
            str(out),
            "--quiet",
            "--time-limit",
            "2",
            "--count",
            "22",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "plan.json").read_text())
    bound = plan["bound"]
    assert 0 < bound["plan"] <= bound["bound"] <= 1
    assert bound["gap"] == pytest.approx((bound["bound"] - bound["plan"]) / bound["bound"], abs=1e-9)
    labels = {a["label"] for a in plan["alternatives"]}
    assert {"18 areas", "28 areas", "ignore PCNs"} <= labels
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html
    assert f"{plan['scores']['coterminosity']:.3f}" in html or f"{100 * plan['scores']['coterminosity']:.1f}%" in html


def test_unexpected_exception_exits_4_with_one_line_and_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: Path) -> None:
        msg = "simulated bug\nsecond line"
        raise RuntimeError(msg)

    monkeypatch.setattr("sda.cli.load_config", broken)
    result = CliRunner().invoke(cli, ["check", "--config", str(DEFAULT)])
    assert result.exit_code == 4
    assert "Traceback" not in result.output
    line = result.output.strip()
    assert "\n" not in line and "RuntimeError: simulated bug" in line
    log = Path(line.split("the traceback is in ")[1].split(";")[0])
    try:
        text = log.read_text()
        assert "Traceback" in text and "simulated bug" in text and "'check'" in text
    finally:
        log.unlink()


def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(path: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("sda.cli.load_config", interrupted)
    result = CliRunner().invoke(cli, ["check", "--config", str(DEFAULT)])
    assert result.exit_code == 130
    assert "Interrupted" in result.output and "Traceback" not in result.output


def test_numba_cache_moves_to_a_temporary_folder_when_none_is_writable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sda

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    locked_down = {Path(sda.__file__).resolve().parent / "engine" / "__pycache__"}
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    locked_down.add(tmp_path / "home-cache" / "numba")
    monkeypatch.setattr("sda._can_write", lambda folder: folder not in locked_down)
    note = sda._choose_numba_cache()
    assert note and str(tmp_path) in note
    assert os.environ["NUMBA_CACHE_DIR"].startswith(str(tmp_path))
    monkeypatch.setattr("sda._can_write", lambda folder: True)
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert sda._choose_numba_cache() is None
    assert "NUMBA_CACHE_DIR" not in os.environ
