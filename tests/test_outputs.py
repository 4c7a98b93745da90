"""Tests for sda.outputs: every file is written, atomically, in the right CRS, and reads back."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from editing import merge_areas_layer_in_place, update_in_place
from helpers import quadrant_plan  # the shared hand-made 4x4 plan

from sda.config import RunConfig, UnitsConfig
from sda.errors import InputError, OutputError, SdaWarning
from sda.layers import write_geojson
from sda.outputs import read_plan, refuse_another_runs_files, write_outputs
from sda.plan import Plan
from sda.planfile import read_planfile
from sda.summary import summary_dict, summary_table

EXPECTED_FILES = {
    "units.geojson",
    "units.qml",
    "areas.geojson",
    "areas.qml",
    "assignment.csv",
    "areas.csv",
    "plan.gpkg",
    "plan.json",
    "map.png",
    "frontier.png",
    "ensemble.png",
    "map_a4.png",
    "map_a4.pdf",
    "map_a3.png",
    "map_a3.pdf",
    "report.md",
    "report.html",
    "summary.json",
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def plan() -> Plan:
    return quadrant_plan()


@pytest.fixture(scope="module")
def written(plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One full write shared by the read-only tests (drawing figures is the slow part)."""
    return write_outputs(plan, tmp_path_factory.mktemp("out") / "nested" / "run")  # parents are created


@pytest.fixture(scope="module")
def out_dir(written: list[Path]) -> Path:
    return written[0].parent


def _temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or ".tmp" in p.name)


# --------------------------------------------------------------------------- files


def test_write_outputs_writes_every_file_and_no_temporaries(written: list[Path], out_dir: Path) -> None:
    assert out_dir.name == "run" and out_dir.parent.name == "nested"
    assert {p.name for p in written} == EXPECTED_FILES
    assert {p.name for p in out_dir.iterdir()} == EXPECTED_FILES
    assert all(p.stat().st_size > 0 for p in written)
    assert _temp_files(out_dir) == []


def test_plan_without_extras_skips_empty_figures_and_layers(tmp_path: Path) -> None:
    # Stale figures from an earlier run with alternatives must not survive into this one.
    (tmp_path / "frontier.png").write_bytes(b"old")
    (tmp_path / "ensemble.png").write_bytes(b"old")
    names = {p.name for p in write_outputs(quadrant_plan(extras=False), tmp_path)}
    assert names == EXPECTED_FILES - {"frontier.png", "ensemble.png"}
    assert {p.name for p in tmp_path.iterdir()} == names
    layers = {name for name, _ in pyogrio.list_layers(tmp_path / "plan.gpkg")}
    assert "practices" not in layers


@pytest.mark.parametrize("name", ["units.geojson", "areas.geojson"])
def test_geojson_is_rfc7946_lon_lat(out_dir: Path, name: str) -> None:
    document = json.loads((out_dir / name).read_text(encoding="utf-8"))
    assert document["type"] == "FeatureCollection"
    assert "crs" not in document  # RFC 7946 drops the member: WGS84 lon/lat is implied
    coords = np.array(
        [xy for f in document["features"] for xy in shapely.get_coordinates(shapely.geometry.shape(f["geometry"]))]
    )
    assert coords[:, 0].min() > 0.0 and coords[:, 0].max() < 0.3  # longitude near Cambridge
    assert coords[:, 1].min() > 52.0 and coords[:, 1].max() < 52.4  # latitude
    decimals = max(len(repr(float(v)).split(".")[1]) for v in coords.ravel())
    assert decimals <= 7
    assert pyogrio.read_info(out_dir / name)["crs"] == "EPSG:4326"


def test_units_geojson_fields(out_dir: Path, plan: Plan) -> None:
    units = gpd.read_file(out_dir / "units.geojson")
    for field in ("unit_code", "unit_name", "population", "district", "pcn_code", "area_id"):
        assert field in units.columns
    assert len(units) == 16
    assert dict(zip(units["unit_code"], units["area_id"], strict=True)) == plan.assignment.to_dict()


def test_areas_geojson_fields(out_dir: Path, plan: Plan) -> None:
    areas = gpd.read_file(out_dir / "areas.geojson").set_index("area_id")
    for field in (
        "population",
        "n_units",
        "deviation",
        "deviation_pct",
        "dominant_pcn",
        "pcn_coterminosity",
        "polsby_popper",
        "n_districts",
    ):
        assert field in areas.columns
    assert areas["population"].to_dict() == plan.areas["population"].to_dict()
    # PCN and district names beside their codes, in the layers as in areas.csv (the GeoPackage
    # held codes only, so a QGIS label or filter by PCN name was not possible).
    table = pd.read_csv(out_dir / "areas.csv", keep_default_na=False).set_index("area_id")
    layer = pyogrio.read_dataframe(out_dir / "plan.gpkg", layer="areas").set_index("area_id")
    for frame in (areas, layer):
        assert frame["dominant_pcn_name"].to_dict() == table["dominant_pcn_name"].to_dict()
        assert frame["district_names"].to_dict() == table["districts"].to_dict()
    assert set(table["dominant_pcn_name"]) == {"West PCN", "East PCN"}


def test_sidecar_qml_files_parse(out_dir: Path, plan: Plan) -> None:
    root = ET.parse(out_dir / "areas.qml").getroot()
    values = {c.get("value") for c in root.iter("category")}
    assert values == {str(a) for a in plan.areas.index}
    assert ET.parse(out_dir / "units.qml").getroot().tag == "qgis"


def test_assignment_csv_sorted(out_dir: Path, plan: Plan) -> None:
    lines = (out_dir / "assignment.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "unit_code,area_id,area_name"
    rows = [line.split(",") for line in lines[1:]]
    assert [r[0] for r in rows] == sorted(plan.units.index)
    assert {r[0]: r[1] for r in rows} == plan.assignment.to_dict()
    assert all(r[2] for r in rows)  # every unit's area has a name (its id when none was made)


# --------------------------------------------------------------------------- GeoPackage


def test_geopackage_layers_in_british_national_grid(out_dir: Path) -> None:
    gpkg = out_dir / "plan.gpkg"
    layers = {name: kind for name, kind in pyogrio.list_layers(gpkg)}
    assert {"units", "areas", "adjacency", "practices", "districts", "layer_styles"} <= set(layers)
    for name in ("units", "areas", "adjacency", "practices", "districts"):
        assert pyogrio.read_info(gpkg, layer=name)["crs"] == "EPSG:27700"
    assert layers["adjacency"] == "LineString"
    assert layers["layer_styles"] is None  # a plain attribute table, as QGIS makes it


def test_geopackage_has_the_district_outlines_the_print_maps_draw(out_dir: Path, plan: Plan) -> None:
    # Without them QGIS could not redraw the print map's district boundaries.
    districts = pyogrio.read_dataframe(out_dir / "plan.gpkg", layer="districts")
    assert sorted(districts["district"]) == sorted(set(plan.units["district"].astype(str)))
    union = shapely.union_all(np.asarray(plan.units.geometry.array, dtype=object))
    assert shapely.union_all(np.asarray(districts.geometry.array, dtype=object)).symmetric_difference(
        union
    ).area == pytest.approx(0.0, abs=1.0)


def test_geopackage_is_version_1_3_for_older_qgis(out_dir: Path) -> None:
    # GDAL 3.12 writes GeoPackage 1.4 by default, which QGIS on GDAL 3.6 opens with the warning
    # "may only be partially supported"; the header's user_version says which version it is.
    import sqlite3

    with sqlite3.connect(out_dir / "plan.gpkg") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10300
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"


def test_geopackage_areas_carry_provenance(out_dir: Path) -> None:
    areas = pyogrio.read_dataframe(out_dir / "plan.gpkg", layer="areas")
    for field in ("sda_version", "config_sha256", "run_at"):
        assert areas[field].astype(bool).all()
    assert len(set(areas["config_sha256"])) == 1


def test_geopackage_adjacency_marks_cut_edges(out_dir: Path, plan: Plan) -> None:
    edges = pyogrio.read_dataframe(out_dir / "plan.gpkg", layer="adjacency")
    assert len(edges) == plan.graph.number_of_edges()
    assignment = plan.assignment
    expected = [int(assignment[u] != assignment[v]) for u, v in zip(edges["u"], edges["v"], strict=True)]
    assert edges["cut"].tolist() == expected
    assert sum(expected) == plan.scores["cut_edges"]


def test_geopackage_layer_styles_table(out_dir: Path) -> None:
    gpkg = out_dir / "plan.gpkg"
    info = pyogrio.read_info(gpkg, layer="layer_styles")
    assert info["fid_column"] == "id"
    for column in (
        "f_table_catalog",
        "f_table_schema",
        "f_table_name",
        "f_geometry_column",
        "styleName",
        "styleQML",
        "styleSLD",
        "useAsDefault",
        "description",
        "owner",
        "ui",
        "update_time",
    ):
        assert column in info["fields"]
    styles = pyogrio.read_dataframe(gpkg, layer="layer_styles")
    assert set(styles["f_table_name"]) == {"units", "areas", "adjacency", "practices", "districts"}
    assert styles["useAsDefault"].all()
    assert (styles["f_table_schema"] == "").all()
    for row in styles.itertuples():
        assert row.f_geometry_column == pyogrio.read_info(gpkg, layer=row.f_table_name)["geometry_name"]
        assert ET.fromstring(row.styleQML).tag == "qgis"


# --------------------------------------------------------------------------- plan.json and read_plan


def test_read_plan_round_trips(out_dir: Path, plan: Plan) -> None:
    back = read_plan(out_dir)
    assert back.assignment.sort_index().to_dict() == plan.assignment.sort_index().to_dict()
    assert back.scores.keys() == plan.scores.keys()
    for key, value in plan.scores.items():
        assert back.scores[key] == pytest.approx(value, nan_ok=True)
    assert back.rules == plan.rules
    assert back.config == plan.config
    assert back.units.crs == "EPSG:27700"
    assert back.areas["population"].to_dict() == plan.areas["population"].to_dict()
    assert back.areas["dominant_pcn"].to_dict() == plan.areas["dominant_pcn"].to_dict()
    assert {frozenset(e) for e in back.graph.edges()} == {frozenset(e) for e in plan.graph.edges()}
    assert back.graph.graph["contiguity"] == "queen"
    assert back.alternatives[0] == plan.alternatives[0]
    assert back.alternatives[1]["error"] == "no 5-area plan fits"
    pd.testing.assert_frame_equal(back.ensemble, plan.ensemble)
    assert back.bound == plan.bound
    assert back.warnings == plan.warnings
    assert back.target_population == plan.target_population
    assert back.provenance["timings"] == {"total_s": 1.5}
    assert back.practices is not None and len(back.practices) == 2


def test_plan_json_is_strict_json(out_dir: Path) -> None:
    text = (out_dir / "plan.json").read_text(encoding="utf-8")
    record = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert record["scores"]["district_splits"] is None  # NaN is written as null
    assert "geometry" not in record["areas"][0]
    assert record["config"]["units"]["code_field"] == "code"


def test_read_plan_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"plan\.json: not found"):
        read_plan(tmp_path)


def test_read_plan_refuses_unknown_format(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(json.dumps({"sda_plan_format": 99, "config": {}}), encoding="utf-8")
    with pytest.raises(InputError, match="format"):
        read_plan(tmp_path)


# --------------------------------------------------------------------------- atomic writes


def test_failed_geojson_write_keeps_previous_file(plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "units.geojson"
    write_geojson(plan.units.reset_index(), target)
    before = target.read_bytes()

    def half_write(frame: object, path: object, **kwargs: object) -> None:
        Path(str(path)).write_text('{"type": "FeatureCollection", "feat', encoding="utf-8")
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr("sda.layers.pyogrio.write_dataframe", half_write)
    with pytest.raises(OSError, match="disk full"):
        write_geojson(plan.units.reset_index(), target)
    assert target.read_bytes() == before
    assert _temp_files(tmp_path) == []


def test_failed_report_keeps_previous_report(
    plan: Plan, out_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(out_dir, tmp_path, dirs_exist_ok=True)  # a previous run's folder
    before = (tmp_path / "report.html").read_bytes()

    def broken(*args: object, **kwargs: object) -> str:
        msg = "template bug"
        raise RuntimeError(msg)

    monkeypatch.setattr("sda.outputs.render_figures", lambda plan, **_: {"map": b"png"})  # skip the slow drawing
    monkeypatch.setattr("sda.outputs.render_report_html", broken)
    with pytest.raises(RuntimeError, match="template bug"):
        write_outputs(plan, tmp_path)
    assert (tmp_path / "report.html").read_bytes() == before
    assert _temp_files(tmp_path) == []


def test_write_geojson_needs_a_crs(plan: Plan, tmp_path: Path) -> None:
    frame = plan.units.reset_index().set_crs(None, allow_override=True)
    with pytest.raises(ValueError, match="no CRS"):
        write_geojson(frame, tmp_path / "x.geojson")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- summaries


def test_summary_table_lists_areas_and_scores(plan: Plan) -> None:
    table = summary_table(plan)
    for area, pop in plan.areas["population"].items():
        assert area in table
        assert f"{pop:,}" in table
    assert f"{plan.units['population'].sum():,}" in table
    assert f"{plan.scores['coterminosity']:.1%}" in table
    assert "all within 3,000-6,000" in table
    widths = {len(line) for line in table.splitlines()[:2]}
    assert len(widths) == 1  # header and rule line up


def test_summary_table_lists_the_first_areas_and_says_where_the_rest_are(plan: Plan) -> None:
    table = summary_table(plan, max_areas=3)
    first, last = plan.areas.index[:3], plan.areas.index[3]
    assert all(f"\n{area} " in table for area in first)
    assert f"\n{last} " not in table
    assert "... and 1 more area: every area is in areas.csv" in table
    assert f"{plan.units['population'].sum():,}" in table  # the total still counts every area
    assert "more area" not in summary_table(plan)


def test_summary_json_matches_plan(out_dir: Path, plan: Plan) -> None:
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary == json.loads(json.dumps(summary_dict(plan) | {"provenance": summary["provenance"]}))
    assert summary["n_areas"] == 4
    assert summary["total_population"] == int(plan.units["population"].sum())
    assert summary["all_in_band"] is True
    assert summary["scores"]["coterminosity"] == pytest.approx(plan.scores["coterminosity"])
    assert summary["provenance"]["sda_version"]


def test_saved_config_round_trips_every_section() -> None:
    from sda.config import GraphConfig, LockConfig, PcnConfig, RulesConfig, SearchConfig, restore_config

    config = RunConfig(
        units=UnitsConfig(path=Path("data/units.gpkg"), code_field="code", layer="parishes"),
        graph=GraphConfig(contiguity="rook", extra_links=(("A", "B"),)),
        pcn=PcnConfig(practices=Path("data/practices.csv"), method="nearest"),
        rules=RulesConfig(
            nest_in="district", locks=(LockConfig("Cambridge", ("A", "B")),), keep_together=(("C", "D"),)
        ),
        search=SearchConfig(seed=7, time_limit_s=5.0),
        source=Path("configs/run.toml"),
        sha256="ab" * 32,
    )
    saved = json.loads(json.dumps(config.to_dict()))
    assert restore_config(saved, Path("plan.json")) == config


# --------------------------------------------------------------------------- runs, cells and stamps


def test_cells_that_start_like_formulas_are_neutralised() -> None:
    from sda.cells import csv_text, neutral_cell

    for risky in ('=HYPERLINK("x")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert neutral_cell(risky) == "'" + risky
    for safe in ("E01000001", "-3.5", "+7", "Ely", "", None, 12):
        assert neutral_cell(safe) == ("" if safe is None else str(safe))
    assert csv_text(["a", "b"], [["=1", "x"]]) == "a,b\n'=1,x\n"


def test_every_file_records_the_run(out_dir: Path) -> None:
    run = json.loads((out_dir / "plan.json").read_text())["provenance"]["run_id"]
    assert run and json.loads((out_dir / "summary.json").read_text())["provenance"]["run_id"] == run
    for name in ("units.geojson", "areas.geojson"):
        assert json.loads((out_dir / name).read_text())["description"] == f"sda run {run}"
    for name in ("units.qml", "areas.qml", "report.md", "report.html"):
        assert f"sda run {run}" in (out_dir / name).read_text()
    for name in ("map.png", "frontier.png", "ensemble.png"):
        data = (out_dir / name).read_bytes()
        assert b"tEXtsda-run\x00sda run " + run.encode() in data
        from PIL import Image

        Image.open(out_dir / name).verify()  # the chunk keeps the PNG valid (CRC included)
    assert set(pyogrio.read_dataframe(out_dir / "plan.gpkg", layer="areas")["run_id"]) == {run}


def test_report_refuses_an_assignment_edited_and_saved_by_european_excel(out_dir: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(out_dir, edited)
    rows = [r.split(",") for r in (edited / "assignment.csv").read_text(encoding="utf-8-sig").splitlines()]
    code, area = rows[1][0], rows[1][1]
    rows[1][1] = next(r[1] for r in rows[2:] if r[1] != area)
    # Excel set to a European locale saves semicolons, in Windows-1252, with CRLF line ends.
    (edited / "assignment.csv").write_bytes("\r\n".join(";".join(r) for r in rows).encode("cp1252") + b"\r\n")
    with pytest.raises(InputError, match=rf"assignment.csv: edited after the run: 1 unit\(s\) changed area .*{code}"):
        read_plan(edited)


def test_report_refuses_a_folder_mixing_two_runs(plan: Plan, out_dir: Path, tmp_path: Path) -> None:
    other = write_outputs(plan, tmp_path / "other")[0].parent
    mixed = tmp_path / "mixed"
    shutil.copytree(out_dir, mixed)
    shutil.copy(other / "areas.geojson", mixed / "areas.geojson")
    with pytest.raises(InputError, match=r"mixes files of different runs: .* areas.geojson \(run "):
        read_plan(mixed)


def test_report_refuses_an_assignment_edited_after_the_run(out_dir: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(out_dir, edited)
    rows = (edited / "assignment.csv").read_text().splitlines()
    code, area, name = rows[1].split(",")  # unit_code,area_id,area_name
    new_area = next(r.split(",")[1] for r in rows[1:] if r.split(",")[1] != area)
    rows[1] = f"{code},{new_area},{name}"
    (edited / "assignment.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(
        InputError, match=rf"edited after the run: 1 unit\(s\) changed area .*{code}: {area} -> {new_area}"
    ):
        read_plan(edited)
    with pytest.raises(InputError, match="sda evaluate --config CONFIG PLAN --out DIR"):
        read_plan(edited)


def test_report_refuses_an_areas_layer_edited_after_the_run(out_dir: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(out_dir, edited)
    first, second = sorted(read_plan(out_dir).areas.index.astype(str))[:2]
    merge_areas_layer_in_place(edited / "plan.gpkg", into=first, merged=second)
    said = rf"layer 'areas' was edited after the run \({first} more than once; {second} missing\)"
    with pytest.raises(InputError, match=said):
        read_plan(edited)
    with pytest.warns(SdaWarning, match=said):
        assert read_planfile(edited).path.name == "plan.gpkg"


def test_report_refuses_residents_edited_after_the_run(out_dir: Path, tmp_path: Path) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(out_dir, edited)
    # A population typed over in QGIS's attribute table.
    assert update_in_place(edited / "plan.gpkg", "UPDATE units SET population = population + 99000 WHERE fid = 1")
    with pytest.raises(InputError, match=r"field 'population': edited after the run: residents of the units changed"):
        read_plan(edited)


def test_report_reads_an_area_id_retyped_with_a_space_as_every_plan_reader_does(out_dir: Path, tmp_path: Path) -> None:
    # An area id typed again in QGIS with a trailing space: `sda evaluate` reads the same plan, so
    # `sda report` must not call it an edit (it said the residents of the units changed).
    edited = tmp_path / "edited"
    shutil.copytree(out_dir, edited)
    code, area = pyogrio.read_dataframe(edited / "plan.gpkg", layer="units", read_geometry=False).loc[
        0, ["unit_code", "area_id"]
    ]
    assert update_in_place(edited / "plan.gpkg", "UPDATE units SET area_id = ? WHERE fid = 1", (f"{area} ",))
    assert read_planfile(edited).assignment[code] == area
    assert read_plan(edited).units.at[code, "area_id"] == area


def test_an_area_id_retyped_with_a_space_in_the_areas_layer_is_not_an_edit(out_dir: Path, tmp_path: Path) -> None:
    # The areas layer's ids are read as the units' are (planfile.plan_text): "SDA-01 " was
    # refused as an area "not in the run" and "SDA-01" as "missing".
    edited = tmp_path / "edited"
    shutil.copytree(out_dir, edited)
    area = pyogrio.read_dataframe(edited / "plan.gpkg", layer="areas", read_geometry=False).loc[0, "area_id"]
    assert update_in_place(edited / "plan.gpkg", "UPDATE areas SET area_id = ? WHERE fid = 1", (f"{area} ",))
    assert set(read_plan(edited).units["area_id"]) >= {area}


def test_report_timings_stay_in_plan_json(plan: Plan, tmp_path: Path) -> None:
    import dataclasses

    timed = dataclasses.replace(plan, provenance={**plan.provenance, "seconds_search": 12.34})
    out = write_outputs(timed, tmp_path / "out")[0].parent
    assert json.loads((out / "plan.json").read_text())["provenance"]["seconds_search"] == 12.34
    assert "seconds_search" not in (out / "report.md").read_text()
    assert "12.34" not in (out / "report.html").read_text()


def test_maps_drawn_ahead_are_written_for_their_plan_only(plan: Plan, tmp_path: Path) -> None:
    import dataclasses

    from sda.outputs import DrawnMaps, _complete_provenance, draw_maps

    ready = dataclasses.replace(plan, provenance=_complete_provenance(plan))  # as sda propose's plan
    drawn = draw_maps(ready)
    assert set(drawn.files) == {"map_a4.png", "map_a4.pdf", "map_a3.png", "map_a3.pdf"}
    assert "map" in drawn.figures and any(key.startswith("locator-") for key in drawn.figures)
    # Marked stand-ins: written as they are when they are this plan's maps.
    marked = DrawnMaps(
        drawn.drawn_from,
        {name: f"drawn ahead: {name}".encode() for name in drawn.files},
        {**drawn.figures, "map": b"drawn ahead: map", "locator-SDA-01": b"drawn ahead: locator"},
    )
    write_outputs(ready, tmp_path / "same", drawn=marked)
    for name in drawn.files:
        assert (tmp_path / "same" / name).read_bytes() == f"drawn ahead: {name}".encode()
    assert (tmp_path / "same" / "map.png").read_bytes() == b"drawn ahead: map"
    # Another plan (here: another coterminosity, which the sheets print) gets its own maps.
    other = dataclasses.replace(ready, scores={**ready.scores, "coterminosity": 0.5})
    write_outputs(other, tmp_path / "other", drawn=marked)
    assert (tmp_path / "other" / "map_a4.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "other" / "map.png").read_bytes().startswith(b"\x89PNG")


def _made_by(out_dir: Path, to: Path, made_by: str | None) -> Path:
    """A copy of a plan folder whose ``plan.json`` says ``made_by`` wrote it (None: no plan.json)."""
    shutil.copytree(out_dir, to)
    record = json.loads((to / "plan.json").read_text(encoding="utf-8"))
    if made_by is None:
        (to / "plan.json").unlink()
    elif made_by:
        record["provenance"]["made_by"] = made_by
        (to / "plan.json").write_text(json.dumps(record), encoding="utf-8")
    return to


def test_each_command_replaces_only_its_own_earlier_output(out_dir: Path, tmp_path: Path) -> None:
    # A tester's sda evaluate --out and sda repair --out replaced a proposed plan's folder, and
    # any other run's; like propose, each may replace only what it wrote itself.
    proposed = _made_by(out_dir, tmp_path / "proposed", "")
    evaluated = _made_by(out_dir, tmp_path / "evaluated", "sda evaluate (a plan read from a file, checked and scored)")
    repaired = _made_by(out_dir, tmp_path / "repaired", "sda repair (an edited plan made valid)")
    unknown = _made_by(out_dir, tmp_path / "unknown", None)
    change_log = tmp_path / "changes"
    change_log.mkdir()
    for name in ("changes.txt", "moved.csv", "areas.csv"):
        (change_log / name).write_text("written by sda diff --out", encoding="utf-8")
    own_table = tmp_path / "own"  # an officer's own areas.csv is no change log (it was called one)
    own_table.mkdir()
    (own_table / "areas.csv").write_text("area,notes\n", encoding="utf-8")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("the officer's own file", encoding="utf-8")
    allowed = {
        "sda evaluate": [evaluated, notes, tmp_path / "new"],
        "sda repair": [repaired, notes, tmp_path / "new"],
        "sda propose": [proposed, notes, tmp_path / "new"],
    }
    refused = {
        "sda evaluate": [(proposed, "a plan written by sda propose"), (repaired, "a plan written by sda repair")],
        "sda repair": [(proposed, "a plan written by sda propose"), (evaluated, "a plan written by sda evaluate")],
        "sda propose": [(evaluated, "a plan written by sda evaluate"), (repaired, "a plan written by sda repair")],
    }
    for command in ("sda evaluate", "sda repair", "sda propose"):
        for folder in allowed[command]:
            refuse_another_runs_files(folder, command, example="out/new")
        for folder, what in [
            *refused[command],
            (change_log, "a change log written by sda diff"),
            (unknown, "files with the names sda writes, and no plan.json that says which run wrote them"),
            (own_table, "files with the names sda writes, and no plan.json that says which run wrote them"),
        ]:
            with pytest.raises(OutputError) as caught:
                refuse_another_runs_files(folder, command, example="out/new")
            assert str(caught.value).startswith(f"--out {folder} holds {what} ("), caught.value
            assert f"{command} would replace it. Fix: write to a folder of its own, e.g. --out out/new" in str(
                caught.value
            )
