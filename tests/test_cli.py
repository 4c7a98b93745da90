"""End-to-end: the real command on the real shipped data, as an officer runs it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
from click.testing import CliRunner

from sda.cli import cli
from sda.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "configs" / "cambridgeshire-peterborough.toml"
TIGHT = ROOT / "configs" / "cambridgeshire-peterborough-28.toml"  # mid-2018 populations
MID2018 = ROOT / "configs" / "cambridgeshire-peterborough-mid2018.toml"
LSOAS = ROOT / "boundaries" / "lsoa2011_cambs_peterborough.geojson"
OAS = ROOT / "boundaries" / "oa21_cambs_peterborough_pop2021_pwc.csv"
CENSUS_2021 = 894_520  # official: Cambridgeshire 678,849 + Peterborough 215,671


def _census_2021_by_lsoa() -> pd.Series:
    """Census 2021 residents per LSOA, summed here from the OA centroids without sda's code."""
    lsoas = gpd.read_file(LSOAS).to_crs(27700)
    oas = pd.read_csv(OAS)
    points = gpd.GeoDataFrame(oas, geometry=gpd.points_from_xy(oas["easting"], oas["northing"]), crs=27700)
    inside = gpd.sjoin(points, lsoas[["LSOA11CD", "geometry"]], predicate="within")
    return inside.groupby("LSOA11CD")["usual_residents_2021"].sum()


def _propose(config: Path, out: Path, *extra: str) -> None:
    result = CliRunner().invoke(
        cli, ["propose", "--config", str(config), "--out", str(out), "--quiet", "--no-exact", "--no-tradeoffs", *extra]
    )
    assert result.exit_code == 0, result.output


def _check_plan(out: Path, expected_count: int | None, *, census_2021: bool = True) -> pd.DataFrame:
    assignment = pd.read_csv(out / "assignment.csv", dtype=str)
    units = gpd.read_file(LSOAS)
    # Every unit exactly once.
    assert sorted(assignment["unit_code"]) == sorted(units["LSOA11CD"])
    if census_2021:
        units["residents"] = units["LSOA11CD"].map(_census_2021_by_lsoa()).fillna(0).astype(int)
    else:
        units["residents"] = units["pop_mid2018"]
    merged = units.merge(assignment, left_on="LSOA11CD", right_on="unit_code")
    pops = merged.groupby("area_id")["residents"].sum()
    assert pops.sum() == units["residents"].sum()
    if census_2021:
        assert abs(pops.sum() - CENSUS_2021) <= 0.0001 * CENSUS_2021
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
    _check_plan(out, 28, census_2021=False)


def test_json_summary_and_exit_code_for_impossible_count(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["propose", "--config", str(DEFAULT), "--out", str(tmp_path), "--count", "40", "--quiet"]
    )
    assert result.exit_code == 3
    assert "count = 40" in result.output and "18 to 29" in result.output
    assert not list(tmp_path.iterdir()), "nothing may be written when the run fails"


def test_check_command_on_shipped_data() -> None:
    result = CliRunner().invoke(cli, ["check", "--config", str(DEFAULT)])
    assert result.exit_code == 0, result.output
    assert "487 units, 894,523 residents" in result.output  # Census 2021, best-fitted from OAs
    result = CliRunner().invoke(cli, ["check", "--config", str(MID2018)])
    assert result.exit_code == 0, result.output
    assert "487 units, 852,523 residents" in result.output


def test_bad_usage_exits_2() -> None:
    result = CliRunner().invoke(cli, ["propose", "--config", "no-such-file.toml"])
    assert result.exit_code == 2


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
    edited = load_config(config)  # the edits took effect (a changed shipped config would undo them)
    assert (edited.tradeoffs.time_limit_s, edited.tradeoffs.ensemble) == (3, 10)
    assert edited.units.path == ROOT / "boundaries" / "lsoa2011_cambs_peterborough.geojson"
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
    assert (plan["config"]["tradeoffs"]["time_limit_s"], plan["config"]["tradeoffs"]["ensemble"]) == (3, 10)
    assert 0 < len(plan["ensemble"]["records"]) <= 10
    labels = {a["label"] for a in plan["alternatives"]}
    assert {"18 areas", "28 areas", "ignore PCNs"} <= labels
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html
    # The provenance names the population's source and vintage.
    assert plan["provenance"]["population_source"].startswith("ONS Census 2021 usual residents")
    assert "ONS Census 2021 usual residents" in html
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


def test_jobs_flag_overrides_the_config() -> None:
    from sda.cli import _with_overrides

    cfg = load_config(Path("configs/cambridgeshire-peterborough.toml"))
    assert cfg.search.jobs == 0  # every core by default
    assert _with_overrides(cfg, jobs=1).search.jobs == 1
    assert _with_overrides(cfg, jobs=None).search.jobs == 0
    assert CliRunner().invoke(cli, ["propose", "--help"]).output.count("--jobs") == 1
