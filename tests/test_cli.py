"""End-to-end: the real command on the real shipped data, as an officer runs it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import threading
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
from click.testing import CliRunner

from sda.cli import Terminated, cli
from sda.config import load_config
from sda.outputs import read_plan

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
def test_same_seed_same_files_with_step_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # else each run's id differs (it is in the GeoJSON)
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
    assert (
        len(links) == 1339
    )  # rook: a shared border of >= 1 m (snap 10 m); 24 corner-only contacts left out; 1 extra link (Wisbech)
    assert json.loads(out.read_text())["type"] == "FeatureCollection"


def test_graph_never_replaces_a_file_it_did_not_write(tmp_path: Path) -> None:
    # sda graph --out run/plan.gpkg (or units.geojson) replaced another run's plan with links.
    config = ROOT / "tests" / "corpus" / "_controls" / "grid-nearest.toml"
    plan = tmp_path / "units.geojson"
    plan.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    gpkg = tmp_path / "plan.gpkg"
    gpkg.write_bytes(b"an officer's edited plan")
    before = {p: p.read_bytes() for p in (plan, gpkg)}
    for out, said in [
        (plan, f"--out {plan} is a file that sda graph did not write; writing there would replace it"),
        (gpkg, f"--out {gpkg}: sda graph writes GeoJSON; expected a file name ending in .geojson or .json"),
    ]:
        result = CliRunner().invoke(cli, ["graph", "--config", str(config), "--out", str(out), "--quiet"])
        assert result.exit_code == 1, result.output
        assert said in result.output and "Traceback" not in result.output
    assert {p: p.read_bytes() for p in (plan, gpkg)} == before
    links = tmp_path / "graph.geojson"  # its own earlier output is replaced
    for _ in range(2):
        result = CliRunner().invoke(cli, ["graph", "--config", str(config), "--out", str(links), "--quiet"])
        assert result.exit_code == 0, result.output
    assert len(gpd.read_file(links)) == 4


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


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals reach the main thread")
@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [(signal.SIGINT, 130, "Interrupted (Ctrl-C)."), (signal.SIGTERM, 143, "Terminated (SIGTERM).")],
    ids=["Ctrl-C", "SIGTERM"],
)
def test_ctrl_c_and_sigterm_are_said_at_once_and_once(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], sig: int, code: int, said: str
) -> None:
    # A run stopped while it draws its maps waits 6-8 s for the tasks already on the workers
    # before it exits; the terminal stayed silent all that time, like a Ctrl-C that was not seen.
    shown_while_unwinding = []

    def slow_to_unwind(path: Path) -> None:
        try:
            os.kill(os.getpid(), sig)
            time.sleep(10)  # the handler raises here
        finally:
            shown_while_unwinding.append(capfd.readouterr().err)

    monkeypatch.setattr("sda.cli.load_config", slow_to_unwind)
    # As in a terminal: pytest started in the background by a script without job control (as CI
    # may be) inherits Ctrl-C ignored, which sda leaves as it is.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = CliRunner().invoke(cli, ["check", "--config", str(DEFAULT)])
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    finally:
        signal.signal(signal.SIGINT, before)
    assert result.exit_code == code
    assert shown_while_unwinding == [f"{said}\n"]
    assert result.output == "" and capfd.readouterr().err == ""  # not said again at the end


@pytest.mark.parametrize(
    ("interruption", "code", "said"),
    [(Terminated, 143, "Terminated (SIGTERM)."), (KeyboardInterrupt, 130, "Interrupted (Ctrl-C).")],
)
def test_an_interruption_raised_inside_a_compiled_kernel_is_not_called_a_bug(
    monkeypatch: pytest.MonkeyPatch, interruption: type[BaseException], code: int, said: str
) -> None:
    # numba's wrapper calls back into Python (its unpickler) during some kernels' calls; a SIGTERM
    # handled there came out of the kernel as this SystemError, caused by Terminated, and sda
    # reported a bug of its own: "Internal error: SystemError ...", exit 4 and a crash log (seen
    # in sda repair stopped during its search, and 139 times in 2,000 SIGTERMs sent to the kernel).
    def kernel_hit_by_the_signal(path: Path) -> None:
        msg = "CPUDispatcher(<function _spanning_tree at 0x7f>) returned a result with an exception set"
        raise SystemError(msg) from interruption()

    monkeypatch.setattr("sda.cli.load_config", kernel_hit_by_the_signal)
    result = CliRunner().invoke(cli, ["check", "--config", str(DEFAULT)])
    assert result.exit_code == code, result.output
    assert result.output == f"{said}\n"


def test_numba_cache_moves_to_a_temporary_folder_when_none_is_writable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sda

    # Set, then deleted, so that monkeypatch records the variable's first state and removes what
    # _choose_numba_cache sets below: delenv of an unset variable records nothing, and the second
    # delenv then restored the temporary folder after the test, so the session's later sda
    # processes used that folder, not the package's cache, the first compiling again (7-10 s).
    monkeypatch.setenv("NUMBA_CACHE_DIR", "")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
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


# --------------------------------------------------------------------------- hostile inputs: now work or refuse


def _grid_case(
    folder: Path, *, codes: list[str] | None = None, names: list[str] | None = None, extra: str = ""
) -> Path:
    """A 3 x 3 grid of 1 km squares (1,500 residents each) with two practices, and its config."""
    from conftest import grid_units

    units = grid_units(3, 3, population=1500)
    units.index = codes or list(units.index)
    units.index.name = "unit_code"
    units["unit_name"] = names or list(units.index)
    folder.mkdir(parents=True, exist_ok=True)
    units.reset_index().to_file(folder / "units.geojson", driver="GeoJSON", engine="pyogrio")
    (folder / "practices.csv").write_text(
        "practice_code,practice_name,pcn_code,pcn_name,easting,northing\n"
        "D1,A,U1,PCN one,545500,258500\nD2,B,U2,PCN two,547500,260500\n",
        encoding="utf-8",
    )
    config = folder / "config.toml"
    config.write_text(
        '[units]\npath = "units.geojson"\ncode_field = "unit_code"\nname_field = "unit_name"\n'
        'population_field = "population"\ndistrict_field = "district"\n\n'
        '[areas]\nmin_population = 2000\nmax_population = 6000\n\n[pcn]\npractices = "practices.csv"\n\n'
        "[search]\nsteps = 2000\nstarts = 1\n\n[tradeoffs]\nensemble = 5\n\n" + extra,
        encoding="utf-8",
    )
    return config


def _run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def test_formula_cells_are_neutralised_and_markup_escaped(tmp_path: Path) -> None:
    codes = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "E6", "E7", "E8", "E9"]
    names = ["<script>alert(1)</script>", "[x](javascript:alert(1))", "a|b", "`c`", *"efghi"]
    config = _grid_case(tmp_path / "in", codes=codes, names=names)
    out = tmp_path / "out"
    # The count is given: screening the grid's other counts (4-6; 5 and 6 cannot be built) would
    # only cost time here, and no code or name passes through it.
    code, output = _run_cli("propose", "--config", str(config), "--out", str(out), "--quiet", "--count", "3")
    assert code == 0, output
    rows = (out / "assignment.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert {r.split(",")[0] for r in rows} >= {"'=1+1", "'+SUM(A1)", "'-2+3", "'@cmd"}
    assert not [r for r in rows if r[:1] in "=+-@\t"]
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in markdown
    assert not re.search(r"(?<!\\)\]\(javascript:", markdown), "a live link made from data"  # "\](" is text
    assert "&lt;script&gt;" in markdown
    read_back = read_plan(out)  # the neutralised CSV still matches the plan's assignment
    assert set(read_back.units.index) == {c.strip() for c in codes}


def test_lock_named_like_an_automatic_id_and_min_population_zero(tmp_path: Path) -> None:
    extra = '[rules]\n[[rules.lock]]\narea = "SDA-01"\nunits = ["R2C2"]\n'
    config = _grid_case(tmp_path / "in", extra=extra)
    text = config.read_text().replace("min_population = 2000", "min_population = 0")
    config.write_text(text)  # the trade-offs' band and count variants must cope with a minimum of 0
    out = tmp_path / "out"
    code, output = _run_cli("propose", "--config", str(config), "--out", str(out), "--quiet", "--count", "3")
    assert code == 0, output
    summary = json.loads((out / "summary.json").read_text())
    ids = [a["area_id"] for a in summary["areas"]]
    assert len(ids) == len(set(ids)) == 3 and "SDA-01" in ids
    assignment = pd.read_csv(out / "assignment.csv", dtype=str).set_index("unit_code")["area_id"]
    assert assignment["R2C2"] == "SDA-01"
    assert (assignment == "SDA-01").sum() < 9
    assert json.loads((out / "plan.json").read_text())["alternatives"]


def test_config_with_bom_is_read(tmp_path: Path) -> None:
    config = _grid_case(tmp_path / "in")
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())
    code, output = _run_cli("check", "--config", str(config))
    assert code == 0, output


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_time_limit_flag_must_be_finite(value: str) -> None:
    code, output = _run_cli("propose", "--config", str(DEFAULT), "--time-limit", value)
    assert code == 2 and "--time-limit" in output and "finite number of seconds" in output


def test_outputs_over_inputs_are_refused_and_inputs_untouched(tmp_path: Path) -> None:
    config = _grid_case(tmp_path / "in")
    before = {p.name: p.read_bytes() for p in config.parent.iterdir()}
    code, output = _run_cli("propose", "--config", str(config), "--out", str(config.parent))
    assert code == 1 and "would replace it" in output
    text = config.read_text() + '\n[output]\ndir = "."\n'
    config.write_text(text)
    before["config.toml"] = config.read_bytes()
    code, output = _run_cli("propose", "--config", str(config))
    assert code == 1 and "[output] dir" in output and "would replace it" in output
    for target in ("units.geojson", "config.toml"):
        code, output = _run_cli("graph", "--config", str(config), "--out", str(config.parent / target))
        assert code == 1 and "would replace it" in output
    assert {p.name: p.read_bytes() for p in config.parent.iterdir()} == before


def test_unwritable_output_location_is_a_clear_error(tmp_path: Path) -> None:
    config = _grid_case(tmp_path / "in")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, output = _run_cli("propose", "--config", str(config), "--out", str(blocker / "out"), "--quiet")
    assert code == 1 and "a-file" in output
    code, output = _run_cli("graph", "--config", str(config), "--out", str(blocker / "graph.geojson"))
    assert code == 1 and "a-file" in output


def test_json_on_stdout_parses_although_highs_prints_a_banner(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = _grid_case(tmp_path / "in")
    args = ["propose", "--config", str(config), "--out", str(tmp_path / "out"), "--json", "--quiet", "--no-tradeoffs"]
    # HiGHS runs in this process for the pool and the bound whatever the count; a given count spares
    # the screening of counts the grid cannot hold (5 and 6), the most of this test's time.
    result = subprocess.run(
        [sys.executable, "-m", "sda", *args, "--count", "3"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n_areas"] >= 1  # HiGHS's banner went to stderr, not into the JSON


def test_quiet_propose_prints_nothing_although_matplotlib_cannot_write_its_config(tmp_path: Path) -> None:
    # A locked-down PC: matplotlib logs two warnings as it is imported to draw the maps, which
    # Python printed on stderr past --quiet.
    import subprocess
    import sys

    config = _grid_case(tmp_path / "in")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    args = ["propose", "-c", str(config), "-o", str(tmp_path / "out"), "-q", "--no-tradeoffs", "--no-exact"]
    result = subprocess.run(
        [sys.executable, "-m", "sda", *args, "--count", "3", "--jobs", "1"],
        env=dict(os.environ, PYTHONPATH=str(ROOT), MPLCONFIGDIR=str(blocker / "matplotlib")),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("quiet", [False, True])
def test_a_library_log_record_is_a_warning_line_and_quiet_silences_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quiet: bool
) -> None:
    import sda.api

    config = _grid_case(tmp_path / "in")
    load_inputs = sda.api.load_inputs

    def load_and_log(*args: object, **kwargs: object) -> object:
        logging.getLogger("matplotlib.font_manager").warning("findfont: Font family %r not found.", "Arial")
        return load_inputs(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("sda.api.load_inputs", load_and_log)
    result = CliRunner().invoke(cli, ["check", "-c", str(config), *(["-q"] if quiet else [])])
    assert result.exit_code == 0, result.output
    said = "Warning (matplotlib): findfont: Font family 'Arial' not found.\n"
    if quiet:
        assert result.stderr == ""
    else:  # nothing useful lost: one line, as a warning is shown
        assert said in result.stderr


def test_jobs_flag_overrides_the_config() -> None:
    from sda.cli import _with_overrides

    cfg = load_config(DEFAULT)
    assert cfg.search.jobs == 0  # every core by default
    assert _with_overrides(cfg, jobs=1).search.jobs == 1
    assert _with_overrides(cfg, jobs=None).search.jobs == 0
    assert CliRunner().invoke(cli, ["propose", "--help"]).output.count("--jobs") == 1


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sda.api.run`` fails the test if called: a refusal must come before the run."""
    import sda.api

    def never(*_args: object, **_kwargs: object) -> None:
        msg = "the run started"
        raise AssertionError(msg)

    monkeypatch.setattr(sda.api, "run", never)


@pytest.mark.usefixtures("no_run")
def test_an_empty_previous_folder_is_refused_before_the_inputs_load(tmp_path: Path) -> None:
    # It was found only when the re-run read it, after the units, links and PCNs had loaded.
    (tmp_path / "2025").mkdir()
    args = ["propose", "-c", str(DEFAULT), "--previous", str(tmp_path / "2025"), "-o", str(tmp_path / "2026")]
    result = CliRunner().invoke(cli, [*args, "--jobs", "1"])
    assert result.exit_code == 1, result.output
    assert "no plan found in this folder" in result.output and not (tmp_path / "2026").exists()


@pytest.mark.usefixtures("no_run")
def test_a_propose_out_named_like_a_file_is_refused_before_the_inputs_load(tmp_path: Path) -> None:
    # `--out plan.gpkg` made a folder named plan.gpkg, after the whole run, as diff's --out did.
    result = CliRunner().invoke(cli, ["propose", "-c", str(DEFAULT), "-o", str(tmp_path / "plan.gpkg"), "--jobs", "1"])
    assert result.exit_code == 1, result.output
    assert "--out is a folder" in result.output and f"--out {tmp_path / 'plan'}" in result.output, result.output
    assert not (tmp_path / "plan.gpkg").exists()
