"""Reading plans from folders, GeoPackages, GeoJSON and CSV, and the errors bad plan files get."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import grid_units
from editing import edit_units_in_place, fids_of, update_in_place
from helpers import quadrant_plan as build_plan

from sda.errors import InputError, ProblemsError, SdaWarning
from sda.outputs import write_outputs
from sda.planfile import changed_units, read_assignment, read_original, read_planfile, run_folder


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan")
    write_outputs(build_plan(extras=False), out)
    return out


@pytest.mark.parametrize("name", ["", "plan.gpkg", "units.geojson", "assignment.csv"])
def test_every_plan_file_gives_the_same_assignment(plan_dir: Path, name: str) -> None:
    expected = build_plan(extras=False).assignment.sort_index()
    read = read_assignment(plan_dir / name if name else plan_dir).sort_index()
    assert read.to_dict() == expected.to_dict()


def test_geometry_and_population_come_with_vector_files_only(plan_dir: Path) -> None:
    gpkg = read_planfile(plan_dir / "plan.gpkg")
    csv = read_planfile(plan_dir / "assignment.csv")
    assert gpkg.has_geometry and gpkg.units is not None and gpkg.units.crs == "EPSG:27700"
    assert gpkg.population is not None and int(gpkg.population.sum()) == 19_000
    assert not csv.has_geometry and csv.population is None
    assert csv.record is not None and csv.record["sda_plan_format"] >= 1


def test_bad_rows_are_all_listed(tmp_path: Path) -> None:
    path = tmp_path / "edited.csv"
    path.write_text("unit_code,area_id\nA,X\nB,\nA,Y\n,Z\n", encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        read_planfile(path)
    text = str(caught.value)
    # Rows as Excel numbers them: the header is row 1.
    assert "row 3, field 'area_id': unit 'B' has no area" in text
    assert "row 4, field 'unit_code': unit 'A' again (first on row 2)" in text
    assert "row 5, field 'unit_code': blank unit code" in text


def test_missing_columns_and_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "plan.csv"
    path.write_text("lsoa,sda\nA,X\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"plan.csv, field 'unit_code': no unit code column.*found: lsoa, sda"):
        read_planfile(path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no plan found in this folder"):
        read_planfile(tmp_path / "empty")


def test_a_file_that_is_no_plan_is_named_without_gdal_advice(tmp_path: Path) -> None:
    # E.g. --previous out/2025/map.png: GDAL's tip about driver prefixes is no help to an officer.
    picture = tmp_path / "map.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(InputError) as caught:
        read_planfile(picture)
    text = str(caught.value)
    assert "map.png" in text and "cannot open the plan" in text and "expected an sda plan.gpkg" in text
    assert "driver" not in text and "It might help" not in text, text


def test_a_damaged_plan_gpkg_is_said_to_be_damaged_and_its_run_has_the_plan_elsewhere(
    plan_dir: Path, tmp_path: Path
) -> None:
    # A plan.gpkg cut short in a copy gave SQLite's failed statement and no fix, though the run's
    # units.geojson beside it holds the same plan; plan.json, given as the plan, had no fix either.
    folder = tmp_path / "run"
    shutil.copytree(plan_dir, folder)
    damaged = folder / "plan.gpkg"
    damaged.write_bytes(damaged.read_bytes()[:5000])
    with pytest.raises(InputError) as caught:
        read_planfile(damaged)
    text = str(caught.value)
    assert "(the file is damaged: database disk image is malformed)" in text and "sqlite3_prepare" not in text, text
    assert f"Fix: give {folder / 'units.geojson'} (the same plan, from the same run) instead" in text, text
    with pytest.raises(InputError) as caught:
        read_planfile(plan_dir / "plan.json")
    assert f"plan.json records a run; it is not a plan. Fix: give its folder ({plan_dir}) instead." in str(caught.value)


@pytest.mark.parametrize("name", ["plan.gpkg", "units.geojson"])
def test_an_empty_plan_file_is_named_as_empty(tmp_path: Path, name: str) -> None:
    # A save that failed or a copy cut short leaves 0 bytes: GDAL's "not recognized as being in a
    # supported file format" sent the officer to look for a format problem.
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(InputError) as caught:
        read_planfile(tmp_path / name)
    assert str(caught.value) == (
        f"{tmp_path / name}: the file is empty (0 bytes); expected an sda plan.gpkg or units.geojson, or a CSV. "
        "Fix: save or copy the plan again."
    )


def test_a_plan_layer_with_no_features_is_named_as_such(tmp_path: Path) -> None:
    # Exported from QGIS with 'Save only selected features' and nothing selected: the GeoJSON has no
    # fields either, and was told it had no unit code column, to be named with --code-field.
    path = tmp_path / "units.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_planfile(path)
    assert str(caught.value) == (
        f"{path}: the plan has no features (0 units); expected one feature per unit, with its unit code and "
        "area. Fix: export the layer again (in QGIS, untick 'Save only selected features'), or undo the deletion "
        "of its features."
    )


def test_a_plan_geojson_saved_as_latin1_is_named_with_the_fix(plan_dir: Path, tmp_path: Path) -> None:
    # An officer renames an area "Ely Café" in a text editor that saves Latin-1.
    text = (plan_dir / "units.geojson").read_text(encoding="utf-8")
    edited = tmp_path / "units.geojson"
    edited.write_bytes(text.replace('"area_name": "', '"area_name": "Caf\u00e9 ', 1).encode("latin-1"))
    with pytest.raises(InputError, match=r"units.geojson: its text is not UTF-8 \(byte 0xE9 cannot be read"):
        read_planfile(edited)


# --------------------------------------------------------------------------- officers' edits

CODES = [f"R{r}C{c}" for r in range(2) for c in range(3)]
AREAS = ["A", "A", "B", "A", "B", "B"]


def _write_folder(folder: Path) -> Path:
    """A minimal output folder: plan.gpkg (``units`` layer), assignment.csv and plan.json."""
    folder.mkdir()
    layer = grid_units(2, 3).reset_index().assign(area_id=AREAS)
    layer[["unit_code", "population", "area_id", "geometry"]].to_file(folder / "plan.gpkg", layer="units")
    pd.DataFrame({"unit_code": CODES, "area_id": AREAS}).to_csv(folder / "assignment.csv", index=False)
    (folder / "plan.json").write_text("{}", encoding="utf-8")
    return folder


def test_an_in_place_edit_by_fid_is_read_and_told_from_the_run(tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "run")
    edit_units_in_place(folder / "plan.gpkg", {2: "B"})  # what QGIS saves when a cell is edited
    edited = read_assignment(folder, units=CODES)
    assert edited.to_dict() == dict(zip(CODES, ["A", "B", "B", "A", "B", "B"], strict=True))
    original = read_original(folder, units=CODES)
    assert original is not None
    assert changed_units(edited, original).to_dict("index") == {"R0C1": {"from_area": "A", "to_area": "B"}}
    assert run_folder(folder / "plan.gpkg") == folder
    assert read_original(folder / "assignment.csv") is None  # the run's own file has no edits


def test_an_edited_copy_saved_as_another_layer_of_the_gpkg_is_not_dropped_unseen(tmp_path: Path) -> None:
    # QGIS's "Save Features As" into plan.gpkg itself leaves the edits in a layer of their own
    # beside the run's `units`, which is the layer read: evaluate said "No edits since the run".
    folder = _write_folder(tmp_path / "run")
    units = gpd.read_file(folder / "plan.gpkg", layer="units")
    units.to_file(folder / "plan.gpkg", layer="units_backup")  # an identical copy is no conflict
    assert read_assignment(folder / "plan.gpkg").to_dict() == dict(zip(CODES, AREAS, strict=True))
    units.assign(area_id=["A", "B", "B", "A", "B", "B"]).to_file(folder / "plan.gpkg", layer="units_edited")
    for given in (folder, folder / "plan.gpkg"):
        with pytest.raises(InputError) as caught:
            read_planfile(given)
        text = str(caught.value)
        assert "the layer 'units' is the plan read, but 'units_edited' (1 unit(s) in another area" in text
        assert "units_backup" not in text
        assert "Fix: save the layer you edited as a GeoPackage of its own" in text


def _drafts(path: Path, **areas_by_layer: list[str]) -> Path:
    """A GeoPackage of the officer's own with one per-unit layer per draft, and no ``units`` layer."""
    units = grid_units(2, 3).reset_index()[["unit_code", "population", "geometry"]]
    for name, areas in areas_by_layer.items():
        units.assign(area_id=areas).to_file(path, layer=name)
    return path


def test_drafts_of_a_gpkg_without_units_that_disagree_are_named_not_one_read(tmp_path: Path) -> None:
    # Two drafts saved side by side in a new GeoPackage: the first listed was read, silently.
    moved = ["B", "B", "B", "A", "B", "B"]  # R0C0 and R0C1 in B
    plan = _drafts(tmp_path / "drafts.gpkg", draft_a=AREAS, draft_b=moved, draft_c=AREAS)
    with pytest.raises(InputError) as caught:
        read_planfile(plan)
    text = str(caught.value)
    assert "drafts.gpkg: no layer 'units', and the layers 'draft_a', 'draft_b' (2 unit(s) in another area " in text
    assert "draft_c" not in text  # a copy that agrees with the first is no conflict
    assert "Fix: save the layer you mean as a GeoPackage of its own" in text and "delete the other layers" in text


def test_a_gpkg_without_units_is_read_from_its_one_plan_or_copies_that_agree(plan_dir: Path, tmp_path: Path) -> None:
    agreeing = _drafts(tmp_path / "copies.gpkg", draft_a=AREAS, draft_b=AREAS)
    assert read_planfile(agreeing).assignment.to_dict() == dict(zip(CODES, AREAS, strict=True))
    # sda's areas layer saved first, then the officer's draft: the draft is the plan, not 'areas'.
    beside = tmp_path / "beside.gpkg"
    gpd.read_file(plan_dir / "plan.gpkg", layer="areas").to_file(beside, layer="areas")
    _drafts(beside, my_draft=AREAS)
    assert read_planfile(beside).assignment.to_dict() == dict(zip(CODES, AREAS, strict=True))
    # One layer, whatever its name, is the plan.
    single = _drafts(tmp_path / "single.gpkg", anything=AREAS)
    assert read_planfile(single).assignment.to_dict() == dict(zip(CODES, AREAS, strict=True))


def test_the_plan_layer_of_a_gpkg_with_several_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Choosing the layer read it (codes and areas) and then the plan was read from it again.
    import pyogrio

    reads: list[str] = []
    read_dataframe = pyogrio.read_dataframe

    def counted(path: Path, *args: object, **kwargs: object) -> object:
        reads.append(str(kwargs.get("layer")))
        return read_dataframe(path, *args, **kwargs)

    monkeypatch.setattr(pyogrio, "read_dataframe", counted)
    beside_units = _write_folder(tmp_path / "run") / "plan.gpkg"
    gpd.read_file(beside_units, layer="units").to_file(beside_units, layer="units_backup")
    drafts = _drafts(tmp_path / "drafts.gpkg", draft_a=AREAS, draft_b=AREAS)
    for path, layer in ((beside_units, "units"), (drafts, "draft_a")):
        reads.clear()
        plan = read_planfile(path)
        assert plan.assignment.to_dict() == dict(zip(CODES, AREAS, strict=True))
        assert plan.has_geometry and plan.units is not None and len(plan.units) == len(CODES)
        assert reads.count(layer) == 1, reads


def test_a_plan_csv_with_its_header_pasted_again_is_told_which_row_to_delete(tmp_path: Path) -> None:
    # Two exports of assignment.csv joined in Excel: the second header read as a unit 'unit_code'.
    rows = [f"{c},{a}" for c, a in zip(CODES, AREAS, strict=True)]
    plan = tmp_path / "plan.csv"
    plan.write_text(
        "\n".join(["unit_code,area_id", *rows[:3], "unit_code,area_id", *rows[3:]]) + "\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"row 5 repeats the header; .* Fix: delete it"):
        read_planfile(plan, units=CODES)


def test_a_header_pasted_again_is_found_when_the_plan_names_its_columns_otherwise(tmp_path: Path) -> None:
    # 'code' and 'sda' are plan columns sda accepts (planfile.CODE_FIELDS, AREA_FIELDS); once the
    # title check looked for 'unit_code,area_id', the copy of row 1 was read as a unit 'code'.
    rows = [f"{c},{a}" for c, a in zip(CODES, AREAS, strict=True)]
    plan = tmp_path / "plan.csv"
    plan.write_text("\n".join(["code,sda", *rows[:3], "code,sda", *rows[3:]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 5 repeats the header; .* Fix: delete it"):
        read_planfile(plan, units=CODES)


def test_a_plan_csv_with_a_title_above_its_header_is_told_which_row_to_delete(tmp_path: Path) -> None:
    # Before, the title was taken for the header and the plan had "no unit code column".
    rows = [f"{c},{a}" for c, a in zip(CODES, AREAS, strict=True)]
    plan = tmp_path / "plan.csv"
    plan.write_text("\n".join(["Plan for committee, March 2026,", "unit_code,area_id", *rows]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_planfile(plan, units=CODES)
    assert str(caught.value) == (
        f"{plan}: row 1 looks like a title ('Plan for committee, March 2026'), the header is on row 2; "
        "expected the column names on row 1. Fix: delete row 1."
    )


def test_rows_of_a_plan_csv_count_its_blank_lines(tmp_path: Path) -> None:
    # Before, a line left empty was skipped uncounted and the rows below it named one too high.
    rows = [f"{c},{a}" for c, a in zip(CODES, AREAS, strict=True)]
    rows[4] = f"{CODES[4]},"
    plan = tmp_path / "plan.csv"
    plan.write_text("\n".join(["unit_code,area_id", *rows[:2], "", ",", *rows[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(ProblemsError, match=rf"row 8, field 'area_id': unit '{CODES[4]}' has no area"):
        read_planfile(plan, units=CODES)


def test_a_bad_population_in_a_gpkg_is_named_by_fid(tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "run")
    update_in_place(folder / "plan.gpkg", "UPDATE units SET population = -5 WHERE fid = 4")
    with pytest.raises(InputError, match=r"population is not a whole number >= 0 \(fid 4\)"):
        read_planfile(folder / "plan.gpkg", units=CODES)


def test_other_column_names_are_found_or_named(tmp_path: Path) -> None:
    layer = grid_units(2, 3).reset_index().assign(SDA=AREAS).rename(columns={"unit_code": "LSOA11CD"})
    layer[["LSOA11CD", "SDA", "geometry"]].to_file(tmp_path / "plan.geojson", driver="GeoJSON")
    got = read_assignment(tmp_path / "plan.geojson", units=CODES, more_code_fields=("LSOA11CD",))
    assert got.to_dict() == dict(zip(CODES, AREAS, strict=True))
    pd.DataFrame({"zone": AREAS, "lsoa": CODES}).to_csv(tmp_path / "plan.csv", index=False)
    got = read_assignment(tmp_path / "plan.csv", code_field="lsoa", area_field="zone")
    assert got.to_dict() == dict(zip(CODES, AREAS, strict=True))
    with pytest.raises(InputError, match=r"no area column.*\(found: zone, lsoa\)\. Fix: .*--area-field"):
        read_assignment(tmp_path / "plan.csv", code_field="lsoa")


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("areas.gpkg", r"layer 'areas' has one row per area .* from the layer 'units', which this file does not have"),
        ("areas.geojson", r"an areas layer with one row per area .* Fix: give units.geojson or its output folder"),
        ("areas.csv", r"an areas table with one row per area .* Fix: give assignment.csv or its output folder"),
    ],
)
def test_an_areas_layer_given_as_the_plan_points_to_the_units(
    plan_dir: Path, tmp_path: Path, name: str, said: str
) -> None:
    # An officer who saved the areas layer of plan.gpkg on its own, or gave areas.geojson or
    # areas.csv, was told to name the unit code with --code-field: there is none to name.
    if name == "areas.gpkg":
        areas = gpd.read_file(plan_dir / "plan.gpkg", layer="areas")
        areas.to_file(tmp_path / name, layer="areas")
        plan = tmp_path / name
    else:
        plan = plan_dir / name
    with pytest.raises(InputError, match=said) as caught:
        read_planfile(plan)
    assert "--code-field" not in str(caught.value)


def test_unknown_missing_and_doubled_units_are_named_with_their_rows(tmp_path: Path) -> None:
    rows = [("R0C0", "A"), ("R0C1", ""), ("R0X2", "B"), ("R1C0", "A"), ("R1C1", "B"), ("R1C2", "B"), ("R1C0", "B")]
    pd.DataFrame(rows, columns=["unit_code", "area_id"]).to_csv(tmp_path / "plan.csv", index=False)
    with pytest.raises(ProblemsError) as caught:
        read_assignment(tmp_path / "plan.csv", units=CODES)
    text = str(caught.value)
    assert "4 problems in the plan" in text
    assert "row 3, field 'area_id': unit 'R0C1' has no area" in text
    assert "row 4, field 'unit_code': unit 'R0X2' is not in the units file (did you mean 'R0C2'?)" in text
    assert "row 8, field 'unit_code': unit 'R1C0' again (first on row 5), in two areas, 'A' and 'B'" in text
    assert "1 unit(s) of the units file have no row: R0C2" in text


def test_codes_whose_leading_zeros_excel_dropped_are_named_first(tmp_path: Path) -> None:
    pd.DataFrame({"unit_code": ["1001", "1002", "12004"], "area_id": ["A", "A", "B"]}).to_csv(
        tmp_path / "plan.csv", index=False
    )
    with pytest.raises(ProblemsError) as caught:
        read_assignment(tmp_path / "plan.csv", units=["01001", "01002", "12004"])
    assert caught.value.problems[0].startswith(
        "field 'unit_code': All 2 codes that match no unit would match units with the zeros in front put back "
        "('1001' would be '01001'): Excel drops the leading zeros"
    )


def test_codes_in_another_case_are_named_first_with_one_fix(tmp_path: Path) -> None:
    # Codes retyped or exported in lower case were each "not in the units file", one row at a
    # time, with "correct the code, or delete the row" for every one of them.
    pd.DataFrame({"unit_code": ["r0c0", "r0c1", "R0C2", "r1c0", "r1c1", "R1C2"], "area_id": AREAS}).to_csv(
        tmp_path / "plan.csv", index=False
    )
    with pytest.raises(ProblemsError) as caught:
        read_assignment(tmp_path / "plan.csv", units=CODES)
    assert caught.value.problems[0] == (
        "field 'unit_code': All 4 codes that match no unit would match units in the units file's case ('r0c0' is "
        "'R0C0'): codes must match exactly. Fix: write the codes as the units file does (in Excel, =UPPER(A2) in a "
        "new column, then paste it as values over the codes), or take the column from the original file."
    )


def test_a_unit_twice_in_the_same_area_is_a_warning(tmp_path: Path) -> None:
    rows = [*zip(CODES, AREAS, strict=True), ("R0C0", "A")]
    pd.DataFrame(rows, columns=["unit_code", "area_id"]).to_csv(tmp_path / "plan.csv", index=False)
    with pytest.warns(SdaWarning, match=r"R0C0 \(row 2 and row 8\)"):
        got = read_assignment(tmp_path / "plan.csv", units=CODES)
    assert got.to_dict() == dict(zip(CODES, AREAS, strict=True))


def test_gpkg_rows_are_named_by_fid(tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "run")
    edit_units_in_place(folder / "plan.gpkg", {5: None})
    with pytest.raises(ProblemsError, match=r"fid 5, field 'area_id': unit 'R1C1' has no area"):
        read_assignment(folder, units=CODES)


# --------------------------------------------------------------------------- a folder edited in Excel


def _copy_with_csv(plan_dir: Path, folder: Path, edit: dict[str, str], names: dict[str, str] | None = None) -> Path:
    """A copy of the run folder whose assignment.csv moved units to other areas (as in Excel)."""
    shutil.copytree(plan_dir, folder)
    frame = pd.read_csv(folder / "assignment.csv", dtype=str)
    frame["area_id"] = [edit.get(c, a) for c, a in zip(frame["unit_code"], frame["area_id"], strict=True)]
    if names:
        frame["area_name"] = [names.get(a, n) for a, n in zip(frame["area_id"], frame["area_name"], strict=True)]
    frame.to_csv(folder / "assignment.csv", index=False)
    return folder


def test_a_folder_whose_assignment_csv_was_edited_is_read_from_it(plan_dir: Path, tmp_path: Path) -> None:
    folder = _copy_with_csv(plan_dir, tmp_path / "excel", {"R0C1": "A2"})
    with pytest.warns(SdaWarning, match=r"assignment.csv was edited after the run \(1 unit\(s\) moved or dropped\)"):
        plan = read_planfile(folder)
    assert plan.path.name == "assignment.csv" and plan.assignment["R0C1"] == "A2"
    renamed = _copy_with_csv(plan_dir, tmp_path / "renamed", {}, names={"A1": "Ely & Soham"})
    record = json.loads((renamed / "plan.json").read_text(encoding="utf-8"))
    for area in record["areas"]:  # the run named its areas by their ids
        area["name"] = area["area_id"]
    (renamed / "plan.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.warns(SdaWarning, match=r"\(A1 renamed\)"):
        assert read_planfile(renamed).area_names["A1"] == "Ely & Soham"
    # Unedited, the GeoPackage is read as before, without a word.
    assert read_planfile(plan_dir).path.name == "plan.gpkg"


def test_two_files_of_a_folder_edited_differently_is_an_error(plan_dir: Path, tmp_path: Path) -> None:
    folder = _copy_with_csv(plan_dir, tmp_path / "both", {"R0C1": "A2"})
    edit_units_in_place(folder / "plan.gpkg", {fids_of(folder / "plan.gpkg")["R3C3"]: "A3"})
    with pytest.raises(InputError, match=r"plan.gpkg \(1 unit\(s\) moved or dropped\), assignment.csv .* differently"):
        read_planfile(folder)


def test_a_moved_units_stale_name_does_not_rename_its_new_area(tmp_path: Path) -> None:
    # Moved by editing area_id only: the row still says "March", its old area's name.
    path = tmp_path / "plan.csv"
    path.write_text(
        "unit_code,area_id,area_name\nU1,A,Ely\nU2,A,Ely\nU3,A,March\nU4,B,March\nU5,B,March\n", encoding="utf-8"
    )
    assert read_planfile(path).area_names == {"A": "Ely", "B": "March"}


def test_csvs_as_excel_saves_them_are_read(tmp_path: Path) -> None:
    expected = {"U1": "A", "U2": "B"}
    variants = {
        "semicolon.csv": "\ufeffunit_code;area_id;area_name\r\nU1;A;Caf\u00e9\r\nU2;B;Ely\r\n".encode(),
        "cp1252.csv": "unit_code,area_id,notes\nU1,A,caf\u00e9\nU2,B,\n".encode("cp1252"),
        "spaces.csv": b"unit_code ,area_id \nU1,A\nU2,B\n,\n , \n",
        "tabs.tsv": b"unit_code\tarea_id\nU1\tA\nU2\tB\n",
        "tabs.txt": b"unit_code\tarea_id\r\nU1\tA\r\nU2\tB\r\n",  # Excel's "Text (Tab delimited)"
    }
    for name, raw in variants.items():
        (tmp_path / name).write_bytes(raw)
        assert read_planfile(tmp_path / name).assignment.to_dict() == expected, name


@pytest.mark.parametrize("name", ["plan.txt", "plan.csv"])
def test_a_plan_saved_as_unicode_text_is_named_with_the_save_as(tmp_path: Path, name: str) -> None:
    # Excel's "Unicode Text" (UTF-16, tabs; .txt unless renamed) read as bytes gave columns of
    # garbage ('\xff\xfeu n i t _ c o d e') and "no unit code column".
    path = tmp_path / name
    path.write_bytes("unit_code\tarea_id\r\nU1\tA\r\nU2\tB\r\n".encode("utf-16"))
    with pytest.raises(InputError, match=r"UTF-16 text \(what Excel calls 'Unicode Text'\).*CSV UTF-8"):
        read_planfile(path)


def test_a_column_given_twice_is_refused_not_half_read(tmp_path: Path) -> None:
    # pandas reads the first "area_id" and renames the second: an edit made there was lost.
    path = tmp_path / "plan.csv"
    path.write_text("unit_code,area_id,area_id\nU1,B,A\nU2,B,B\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"plan.csv, row 1: column 'area_id' is given twice \(columns B and C\)"):
        read_planfile(path)
    path.write_text("unit_code;area_id;area_id\r\nU1;B;A\r\n", encoding="utf-8")  # European Excel
    with pytest.raises(InputError, match=r"column 'area_id' is given twice \(columns B and C\)"):
        read_planfile(path)


def test_a_spreadsheet_placeholder_is_no_area(tmp_path: Path) -> None:
    path = tmp_path / "plan.csv"
    path.write_text("unit_code,area_id\nU1,A\nU2,#N/A\n", encoding="utf-8")
    with pytest.raises(ProblemsError, match=r"row 3, field 'area_id': unit 'U2' has '#N/A' for its area"):
        read_planfile(path)
