"""Tests for sda.io: the shipped data load as documented; bad paths, fields and tables fail clearly."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tomllib
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from sda.config import UnitsConfig, config_from_dict, load_config
from sda.errors import ConfigError, InputError, ProblemsError, SdaWarning
from sda.io import UNIT_COLUMNS, file_sha256, read_pcn_shares, read_practices, read_units

LSOA_FILE = "lsoa2011_cambs_peterborough.geojson"
GOOD_CODES = ["E01000001", "E01000002", "E01000003", "E01000004"]


@pytest.fixture(scope="module")
def lsoa_units(repo_root: Path) -> gpd.GeoDataFrame:
    cfg = UnitsConfig(
        path=repo_root / "boundaries" / LSOA_FILE,
        code_field="LSOA11CD",
        name_field="LSOA11NM",
        population_field="pop_mid2018",
        district_field="LAD11CD",
        district_name_field="LAD_NM",
    )
    return read_units(cfg)


def _ons_cfg(data_dir: Path, csv_name: str = "ons_parish_population_fixture.csv", **overrides: object) -> UnitsConfig:
    fields: dict[str, object] = {
        "path": data_dir / "ons_parishes_fixture.gpkg",
        "layer": "parishes",
        "code_field": "PARNCP21CD",
        "name_field": "PARNCP21NM",
        "district_field": "LAD21CD",
        "district_name_field": "LAD21NM",
        "population_csv": data_dir / csv_name,
        "population_csv_code_field": "parish_code",
        "population_csv_population_field": "residents",
    }
    fields.update(overrides)
    return UnitsConfig(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- shipped data


def test_shipped_lsoas_load_as_the_standard_frame(lsoa_units: gpd.GeoDataFrame) -> None:
    units = lsoa_units
    assert len(units) == 487
    assert int(units["population"].sum()) == 852_523
    assert units.index.name == "unit_code"
    assert units.index.is_unique
    assert list(units.columns) == list(UNIT_COLUMNS)
    assert units["population"].dtype == "int64"
    assert units.crs.to_epsg() == 27700
    assert units.loc["E01017943", "unit_name"] == "Cambridge 006A"
    assert units.loc["E01017943", "district"] == "E07000008"
    assert units.loc["E01017943", "district_name"] == "Cambridge"
    assert units.groupby("district").size().to_dict() == {
        "E06000031": 112,
        "E07000008": 69,
        "E07000009": 50,
        "E07000010": 55,
        "E07000011": 105,
        "E07000012": 96,
    }
    minx, miny, maxx, maxy = units.total_bounds
    assert 500_000 < minx < maxx < 580_000 and 230_000 < miny < maxy < 320_000
    assert units.attrs["source"].endswith(LSOA_FILE)


def test_shipped_practices_load_as_points(repo_root: Path) -> None:
    practices = read_practices(repo_root / "boundaries" / "gp_practices_pcn_cambs_peterborough.csv")
    assert len(practices) == 87
    assert practices["pcn_code"].nunique() == 22
    assert practices.crs.to_epsg() == 27700
    assert list(practices.columns[:6]) == [
        "practice_code",
        "practice_name",
        "pcn_code",
        "pcn_name",
        "easting",
        "northing",
    ]
    first = practices.iloc[0]
    assert (first.geometry.x, first.geometry.y) == (first["easting"], first["northing"])


def test_every_shipped_file_is_documented_and_no_stand_in_layer_is_a_default(repo_root: Path) -> None:
    folder = repo_root / "boundaries"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    shipped = [p.name for p in folder.iterdir() if p.is_file() and p.name != "README.md"]
    assert LSOA_FILE in shipped
    for name in shipped:
        assert f"## `{name}`" in readme
    assert "parishes_approx_cambs_peterborough.geojson" not in shipped
    assert "postcodes_cb_pe.csv" not in shipped


# --------------------------------------------------------------------------- units: configuration and paths


def test_units_without_name_or_district_fields_use_code_and_blank(data_dir: Path) -> None:
    units = read_units(UnitsConfig(path=data_dir / "units_good.geojson", code_field="code", population_field="pop"))
    assert units.index.tolist() == GOOD_CODES
    assert units["unit_name"].tolist() == GOOD_CODES
    assert units["district"].tolist() == [""] * 4
    assert units["population"].tolist() == [1500, 1600, 1700, 1800]


def test_a_district_code_with_two_names_warns_and_shows_the_first_name_everywhere(
    data_dir: Path, tmp_path: Path
) -> None:
    layer = gpd.read_file(data_dir / "units_good.geojson")
    layer["lad"] = "E07000008"
    layer["lad_name"] = ["Cambridge", "Cambridge", "Cambridge City", "Cambridge"]
    path = tmp_path / "units.geojson"
    layer.to_file(path, driver="GeoJSON")
    cfg = UnitsConfig(
        path=path, code_field="code", population_field="pop", district_field="lad", district_name_field="lad_name"
    )
    with pytest.warns(SdaWarning) as caught:
        units = read_units(cfg)
    (message,) = [str(w.message) for w in caught]
    assert "field 'lad_name': district E07000008 has 2 names ('Cambridge', 'Cambridge City': " in message
    assert "'Cambridge' in rows 1, 2 and 4; 'Cambridge City' in row 3)" in message
    assert "sda shows 'Cambridge'" in message
    assert units["district_name"].tolist() == ["Cambridge"] * 4


def test_gdal_notes_while_reading_name_the_file_and_say_what_they_mean(data_dir: Path, tmp_path: Path) -> None:
    collection = json.loads((data_dir / "units_good.geojson").read_text())
    for feature in collection["features"]:  # x, y, z, m: GDAL reads three and notes the fourth
        feature["geometry"]["coordinates"] = [
            [[*point, 0.0, 7.0] for point in ring] for ring in feature["geometry"]["coordinates"]
        ]
    path = tmp_path / "units.geojson"
    path.write_text(json.dumps(collection))
    with pytest.warns(SdaWarning) as caught:
        units = read_units(UnitsConfig(path=path, code_field="code", population_field="pop"))
    (message,) = [str(w.message) for w in caught]
    assert message.startswith(f"{path}: some coordinates have more than three values")
    assert "OGRGeoJSONReadRawPoint" not in message
    assert units["population"].tolist() == [1500, 1600, 1700, 1800]


def test_latitude_written_before_longitude_is_named_with_the_fix(data_dir: Path, tmp_path: Path) -> None:
    layer = gpd.read_file(data_dir / "units_good.geojson").to_crs(4326)
    collection = json.loads(layer.to_json())
    for feature in collection["features"]:  # (latitude, longitude): a hand-made GeoJSON's usual slip
        feature["geometry"]["coordinates"] = [[[y, x] for x, y in ring] for ring in feature["geometry"]["coordinates"]]
    path = tmp_path / "units.geojson"
    path.write_text(json.dumps(collection))
    with pytest.raises(ProblemsError) as caught:
        read_units(UnitsConfig(path=path, code_field="code", population_field="pop"))
    (problem,) = caught.value.problems
    assert "4 unit(s) (first: row 1, code 'E01000001', first point 52.2" in problem
    assert "have their coordinates as latitude, longitude; expected longitude first" in problem
    assert "'Swap X and Y coordinates'" in problem and "ogr2ogr -a_srs" not in problem


def test_a_population_given_as_true_or_false_is_refused_by_row(data_dir: Path, tmp_path: Path) -> None:
    # GDAL types a field of numbers with a true among them as a plain integer field and reads the
    # true as 1: the unit counted one resident, and nothing was said.
    collection = json.loads((data_dir / "units_good.geojson").read_text())
    collection["features"][1]["properties"]["pop"] = True
    collection["features"][3]["properties"]["pop"] = False
    path = tmp_path / "units.geojson"
    path.write_text(json.dumps(collection))
    with pytest.raises(ProblemsError) as caught:
        read_units(UnitsConfig(path=path, code_field="code", population_field="pop"))
    assert str(caught.value).startswith(f"2 rows in {path} with true or false for a number of residents")
    assert caught.value.problems == [
        f"{path}, row {row}, code {code!r}, field 'pop': got {value}, a yes/no value, which would count as "
        f"{count} resident(s); expected a whole number of residents >= 0. Fix: write the number of residents "
        "(digits only, without quotes)."
        for row, code, value, count in ((2, "E01000002", "true", 1), (4, "E01000004", "false", 0))
    ]


def test_a_yes_no_field_given_as_the_population_is_refused_as_a_whole(data_dir: Path, tmp_path: Path) -> None:
    # A boolean field (GDAL's integer with a boolean subtype) with a blank row: the blank was the
    # only problem named, and the other rows counted 1 resident each.
    collection = json.loads((data_dir / "units_good.geojson").read_text())
    for feature, value in zip(collection["features"], [True, None, True, False], strict=True):
        feature["properties"]["pop"] = value
    geojson = tmp_path / "units.geojson"
    geojson.write_text(json.dumps(collection))
    gpkg = tmp_path / "units.gpkg"
    gpd.read_file(data_dir / "units_good.geojson").assign(pop=[True, True, False, True]).to_file(gpkg)
    for path in (geojson, gpkg):
        with pytest.raises(InputError) as caught:
            read_units(UnitsConfig(path=path, code_field="code", population_field="pop"))
        assert str(caught.value) == (
            f"{path}, field 'pop': the field holds yes/no (true/false) values, which would count as 1 and 0 "
            "residents; expected a whole number of residents >= 0 in each row. Fix: point the config at the field "
            "that holds the number of residents, or store this one as whole numbers."
        )


def test_a_field_name_a_shapefile_cut_to_ten_characters_is_pointed_out(data_dir: Path, tmp_path: Path) -> None:
    layer = gpd.read_file(data_dir / "units_good.geojson").rename(columns={"pop": "population_2021"})
    with warnings.catch_warnings():  # geopandas and GDAL both say that the name is cut
        warnings.simplefilter("ignore")
        layer.to_file(tmp_path / "units.shp")
    cfg = UnitsConfig(path=tmp_path / "units.shp", code_field="code", population_field="population_2021")
    with pytest.raises(InputError, match=r"'population_2021' \(did you mean 'population'\? a Shapefile keeps only 10"):
        read_units(cfg)


def test_the_ons_parish_file_the_worked_example_names_is_said_to_need_downloading(repo_root: Path) -> None:
    cfg = load_config(repo_root / "configs" / "ons-parishes-census2021.toml")
    assert not Path(cfg.units.path).exists()  # official parish polygons are not shipped
    with pytest.raises(InputError, match=r"which sda does not ship\. Fix: download it from the ONS Open Geography"):
        read_units(cfg.units)


def test_a_shapefile_without_its_dbf_is_named_as_such(data_dir: Path, tmp_path: Path) -> None:
    # GDAL opens it with no fields at all, which read as "fields 'code', 'pop' ... not found".
    gpd.read_file(data_dir / "units_good.geojson").to_file(tmp_path / "units.shp")
    (tmp_path / "units.dbf").unlink()
    with pytest.raises(InputError, match=r"units.dbf is not next to units.shp.*Fix: copy all of them"):
        read_units(UnitsConfig(path=tmp_path / "units.shp", code_field="code", population_field="pop"))


def test_missing_units_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_parishes.gpkg"
    with pytest.raises(InputError, match=r"no_such_parishes\.gpkg: file not found"):
        read_units(UnitsConfig(path=missing, code_field="c", population_field="p"))


def test_missing_field_names_the_field_and_lists_those_that_exist(data_dir: Path) -> None:
    cfg = UnitsConfig(path=data_dir / "units_missing_field.geojson", code_field="code", population_field="pop")
    with pytest.raises(InputError) as caught:
        read_units(cfg)
    message = str(caught.value)
    assert message.startswith(f"{data_dir / 'units_missing_field.geojson'}, field 'pop': field 'pop'")
    assert "did you mean 'POP'?" in message
    assert "the fields that exist are 'code', 'name', 'lad', 'POP'" in message


def test_unreadable_file_is_an_input_error(data_dir: Path) -> None:
    cfg = UnitsConfig(path=data_dir / "make_bad_inputs.py", code_field="code", population_field="pop")
    with pytest.raises(InputError, match="cannot be read as a spatial file"):
        read_units(cfg)


def test_population_source_must_be_exactly_one(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match="neither is set"):
        read_units(UnitsConfig(path=data_dir / "units_good.geojson", code_field="code"))
    with pytest.raises(ConfigError, match="both are set"):
        read_units(_ons_cfg(data_dir, population_field="PARNCP21NM"))


# --------------------------------------------------------------------------- units: ONS parish schema + CSV


def test_ons_parish_schema_loads_from_config_fields_alone(data_dir: Path) -> None:
    units = read_units(_ons_cfg(data_dir))
    assert units.index.tolist() == ["E04001601", "E04001602", "E04001603", "E43000001", "E04001604", "E04001605"]
    assert units["population"].tolist() == [3100, 850, 4200, 24500, 1900, 640]
    assert units.loc["E43000001", "unit_name"] == "Testbridge, unparished area"
    assert units.loc["E04001604", "district"] == "E07000011"
    assert units.loc["E04001604", "district_name"] == "Huntingdonshire"


def test_first_of_several_layers_is_read_with_a_warning(data_dir: Path) -> None:
    with pytest.warns(SdaWarning, match=r"has 2 layers \('parishes', 'centroids'\); reading the first"):
        units = read_units(_ons_cfg(data_dir, layer=None))
    assert len(units) == 6


def test_unknown_layer_lists_the_layers(data_dir: Path) -> None:
    with pytest.raises(
        InputError, match=r"layer = 'parish' is not in the file; the layers are 'parishes', 'centroids'"
    ):
        read_units(_ons_cfg(data_dir, layer="parish"))


def test_population_csv_code_not_in_polygons_is_a_warning(data_dir: Path) -> None:
    with pytest.warns(
        SdaWarning, match=r"population_unknown_code\.csv, field 'parish_code': 1 code\(s\) .* 'E04099999'"
    ):
        units = read_units(_ons_cfg(data_dir, "population_unknown_code.csv"))
    assert int(units["population"].sum()) == 35_190


def test_population_csv_missing_a_unit_is_an_error_naming_it(data_dir: Path) -> None:
    with pytest.raises(ProblemsError) as caught:
        read_units(_ons_cfg(data_dir, "population_missing_code.csv"))
    (problem,) = caught.value.problems
    assert "population_missing_code.csv, code 'E43000001', field 'parish_code'" in problem
    assert "has no row in the population CSV; expected a population for every unit" in problem
    assert "Fix: add a row (parish_code=E43000001, residents=<residents>)" in problem


def test_a_population_csv_with_a_column_given_twice_is_refused(data_dir: Path, tmp_path: Path) -> None:
    table = pd.read_csv(data_dir / "ons_parish_population_fixture.csv", dtype=str)
    second = table.columns[1]
    table.insert(2, f"{second}_copy", table[second])
    path = tmp_path / "population.csv"
    table.to_csv(path, index=False)
    path.write_text(path.read_text().replace(f"{second}_copy", second, 1))  # the header names it twice
    cfg = _ons_cfg(data_dir)
    with pytest.raises(
        InputError, match=rf"population.csv, row 1: column '{second}' is given twice \(columns B and C\)"
    ):
        read_units(dataclasses.replace(cfg, population_csv=path))


def _numbered_units(tmp_path: Path, codes: list[str]) -> UnitsConfig:
    """A row of 1 km squares coded ``codes`` (all digits, as parish or ODS-style codes can be),
    with their populations in a CSV keyed by the same codes."""
    squares = [shapely.box(545_000 + 1000 * i, 258_000, 546_000 + 1000 * i, 259_000) for i in range(len(codes))]
    path = tmp_path / "units.geojson"
    gpd.GeoDataFrame({"code": codes}, geometry=squares, crs="EPSG:27700").to_file(path)
    return UnitsConfig(
        path=path,
        code_field="code",
        population_csv=tmp_path / "population.csv",
        population_csv_code_field="code",
        population_csv_population_field="residents",
    )


def test_codes_whose_leading_zeros_excel_dropped_are_named_with_the_fix(tmp_path: Path) -> None:
    cfg = _numbered_units(tmp_path, ["01001", "01002", "12004"])
    Path(str(cfg.population_csv)).write_text("code,residents\n1001,1500\n1002,1600\n12004,1700\n", encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        read_units(cfg)
    first, *units_without_rows = caught.value.problems
    assert first == (
        f"{cfg.population_csv}, field 'code': All 2 codes that match no unit would match units with the zeros in "
        "front put back ('1001' would be '01001'): Excel drops the leading zeros of codes it reads as numbers when "
        "it opens and saves a CSV. Fix: open the CSV in Excel with Data > From Text/CSV, set the code column's "
        "type to Text and save again (or give the column the custom number format 00000 before saving), or take "
        "the column from the original file."
    )
    assert "unit '01001' of" in units_without_rows[0]
    assert "The CSV has '1001', this code without its leading zeros." in units_without_rows[0]
    # Every code stripped: none matches, and the fix is the zeros', not another geography's.
    cfg = _numbered_units(tmp_path, ["01001", "01002"])
    Path(str(cfg.population_csv)).write_text("code,residents\n1001,1500\n1002,1600\n", encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        read_units(cfg)
    (problem,) = caught.value.problems
    assert "none of the 2 codes in the CSV is a unit" in problem
    assert "All 2 codes that match no unit would match units with the zeros in front put back" in problem
    assert "same geography and year" not in problem


def test_codes_that_zeros_do_not_explain_keep_the_usual_message(tmp_path: Path) -> None:
    cfg = _numbered_units(tmp_path, ["01001", "01002"])
    Path(str(cfg.population_csv)).write_text("code,residents\n01001,1500\n2002,1600\n", encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        read_units(cfg)
    assert not any("zeros in front" in p for p in caught.value.problems)


def test_pcn_shares_with_leading_zeros_dropped_say_so(tmp_path: Path) -> None:
    path = tmp_path / "shares.csv"
    path.write_text("unit_code,pcn_code,share\n1001,U1,1\n1002,U1,1\n11003,U1,1\n", encoding="utf-8")
    with pytest.raises(ProblemsError, match=r"shares.csv, field 'unit_code': All 2 codes that match no unit would"):
        read_pcn_shares(path, ["01001", "01002", "11003"])


def test_population_csv_missing_column_lists_columns(data_dir: Path) -> None:
    with pytest.raises(
        InputError, match=r"column 'population' .* the columns that exist are 'parish_code', 'residents'"
    ):
        read_units(_ons_cfg(data_dir, population_csv_population_field="population"))


def test_readme_parish_config_block_is_a_valid_units_section(repo_root: Path) -> None:
    readme = (repo_root / "boundaries" / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", readme, re.S)
    assert block is not None
    cfg = config_from_dict(tomllib.loads(block.group(1)), source=repo_root / "configs" / "example.toml")
    assert cfg.units.code_field == "PARNCP21CD"
    assert cfg.units.population_csv is not None and cfg.units.population_field is None


# --------------------------------------------------------------------------- practices and shares


def test_practices_bad_coordinates_are_all_reported_by_row(data_dir: Path) -> None:
    with pytest.raises(ProblemsError) as caught:
        read_practices(data_dir / "practices_bad_coordinates.csv")
    problems = caught.value.problems
    # Rows as Excel numbers them (the header is row 1), so the row named holds the code named.
    assert [re.search(r"row (\d)", p).group(1) for p in problems] == ["3", "4", "5", "5"]  # type: ignore[union-attr]
    lines = (data_dir / "practices_bad_coordinates.csv").read_text().splitlines()
    for problem in problems:
        row, code = re.search(r"row (\d+), code '(\w+)'", problem).groups()  # type: ignore[union-attr]
        assert lines[int(row) - 1].startswith(code)
    assert "practices_bad_coordinates.csv, row 3, code 'D81002', field 'easting': the value is blank" in problems[0]
    assert "row 4, code 'D81003', field 'northing': got 'abc', which is not a number" in problems[1]
    assert "row 5, code 'D81004', field 'easting': got 0.137179" in problems[2]
    assert "looks like a longitude/latitude" in problems[3]
    assert all("expected British National Grid (EPSG:27700) metres" in p for p in problems)


def test_practices_duplicate_code_names_both_rows(data_dir: Path) -> None:
    with pytest.raises(ProblemsError, match=r"code 'D81001', field 'practice_code': the code appears in rows 2 and 4"):
        read_practices(data_dir / "practices_duplicate_code.csv")


def test_practices_missing_columns_are_all_named(tmp_path: Path) -> None:
    path = tmp_path / "practices.csv"
    pd.DataFrame({"practice_code": ["P1"], "pcn_code": ["U1"], "x": [1]}).to_csv(path, index=False)
    with pytest.raises(
        InputError,
        match=r"columns 'practice_name', 'pcn_name', 'easting', 'northing' needed for GP practices not found",
    ):
        read_practices(path)


def test_practices_with_a_title_above_the_header_are_told_to_delete_it(data_dir: Path, tmp_path: Path) -> None:
    # Before, the title's words were taken for the columns and every column was "not found".
    path = tmp_path / "practices.csv"
    good = (data_dir / "practices_good.csv").read_text(encoding="utf-8")
    path.write_text("GP practices by PCN, 2024\n" + good, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_practices(path)
    assert str(caught.value) == (
        f"{path}: row 1 looks like a title ('GP practices by PCN, 2024'), the header is on row 2; "
        "expected the column names on row 1. Fix: delete row 1."
    )
    # Excel pads a title and a note under it with commas to the width of the table.
    path.write_text("GP practices by PCN 2024,,,,,\nSource: NHS Digital,,,,,\n" + good, encoding="utf-8")
    with pytest.raises(
        InputError, match=r"rows 1 to 2 look like a title .* header is on row 3.*Fix: delete rows 1 to 2"
    ):
        read_practices(path)


def test_practices_with_the_header_pasted_again_are_told_which_row_to_delete(data_dir: Path, tmp_path: Path) -> None:
    # Two exports pasted together: the second header was read as a practice called 'practice_code'.
    header, *rows = (data_dir / "practices_good.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "practices.csv"
    path.write_text("\n".join([header, rows[0], f" {header},,", rows[1]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_practices(path)
    assert str(caught.value) == (
        f"{path}: row 3 repeats the header; expected the column names once, on row 1, and data below them. "
        "Fix: delete it (two exports pasted together?)."
    )


def test_every_csv_reader_shares_the_header_diagnosis(data_dir: Path, tmp_path: Path) -> None:
    shares = tmp_path / "shares.csv"
    good = (data_dir / "pcn_shares_good.csv").read_text(encoding="utf-8")
    shares.write_text("Patients by LSOA and PCN\n" + good, encoding="utf-8")
    with pytest.raises(InputError, match=r"row 1 looks like a title \('Patients by LSOA and PCN'\)"):
        read_pcn_shares(shares, GOOD_CODES)
    population = tmp_path / "population.csv"
    table = (data_dir / "ons_parish_population_fixture.csv").read_text(encoding="utf-8")
    population.write_text(table + table.splitlines()[0] + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"population.csv: row \d+ repeats the header"):
        read_units(_ons_cfg(data_dir, population_csv=population))


def test_a_blank_first_line_is_still_read_as_before(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "practices.csv"
    path.write_text("\n" + (data_dir / "practices_good.csv").read_text(encoding="utf-8"), encoding="utf-8")
    assert list(read_practices(path)["practice_code"]) == ["D81001", "D81002"]


def test_pcn_shares_load(data_dir: Path) -> None:
    shares = read_pcn_shares(data_dir / "pcn_shares_good.csv", GOOD_CODES)
    assert list(shares.columns) == ["unit_code", "pcn_code", "share"]
    assert shares["share"].tolist() == [0.8, 0.2, 1.0, 1.0, 1.0]


def test_a_pcn_no_practice_belongs_to_is_refused_with_the_code_meant(data_dir: Path, tmp_path: Path) -> None:
    # A typo in a PCN code made a PCN of its own, served by no practice: coterminosity fell from
    # 74.2% to 53.0% on the grid, without a word.
    rows = (data_dir / "pcn_shares_good.csv").read_text().splitlines()
    rows[3] = rows[3].replace("U00002", "U0002").replace("U00001", "U0001")
    path = tmp_path / "shares.csv"
    path.write_text("\n".join(rows) + "\n")
    assert read_pcn_shares(path, GOOD_CODES)["pcn_code"].str.len().min() == 5  # without practices: read as given
    with pytest.raises(ProblemsError) as caught:
        read_pcn_shares(path, GOOD_CODES, ["U00001", "U00002"])
    (problem,) = caught.value.problems
    assert (
        "shares.csv, row 4, code 'E01000002', field 'pcn_code': no practice in the practices file belongs to PCN"
        in (problem)
    )
    assert "(did you mean 'U00001'?)" in problem or "(did you mean 'U00002'?)" in problem


def test_pcn_shares_bad_rows_are_reported(data_dir: Path) -> None:
    with pytest.raises(ProblemsError) as caught:
        read_pcn_shares(data_dir / "pcn_shares_bad.csv", GOOD_CODES)
    message = str(caught.value)
    assert "pcn_shares_bad.csv, row 4, code 'E01000002', field 'share': got 'abc'; expected a number >= 0" in message
    assert "row 5, code 'E01000003', field 'share': got '-0.2'" in message
    assert "PCN 'U00002' appears for this unit in rows 6 and 7" in message


def test_pcn_shares_unknown_unit_is_dropped_with_a_warning(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "shares.csv"
    rows = "".join(f"{code},U1,1\n" for code in [*GOOD_CODES, "E01999999"])
    path.write_text("unit_code,pcn_code,share\n" + rows, encoding="utf-8")
    with pytest.warns(SdaWarning, match="'E01999999'"):
        shares = read_pcn_shares(path, GOOD_CODES)
    assert shares["unit_code"].tolist() == GOOD_CODES


def test_file_sha256_matches_hashlib(data_dir: Path) -> None:
    path = data_dir / "units_good.geojson"
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(InputError, match="cannot read the file"):
        file_sha256(data_dir / "absent.csv")


def test_layer_without_features_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.geojson: layer 'empty' has no features \(0 units\)"):
        read_units(UnitsConfig(path=path, code_field="code", population_field="pop"))


def test_warnings_are_listed_with_the_errors_they_may_explain(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "population.csv"
    path.write_text(
        (data_dir / "ons_parish_population_fixture.csv").read_text(encoding="utf-8").replace("E43000001", "E4300001"),
        encoding="utf-8",
    )
    with pytest.raises(ProblemsError) as caught:
        read_units(_ons_cfg(data_dir, population_csv=path))
    message = str(caught.value)
    assert message.startswith("1 problem in the units file")  # the warning is listed, not counted
    assert "unit 'E43000001'" in message and "The CSV has 'E4300001', which matches no unit" in message
    assert "  - warning: " in message


def test_semicolon_separated_csv_is_recognised(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "population.csv"
    path.write_text("parish_code;residents\nE04001601;3100\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"separated by semicolons, not commas"):
        read_units(_ons_cfg(data_dir, population_csv=path))


# --------------------------------------------------------------------------- totals rows and blank lines


def test_a_totals_row_is_named_once_with_the_row_to_delete(data_dir: Path, tmp_path: Path) -> None:
    # Before, a "Total" row was read as a practice with no PCN and no coordinates (three errors).
    practices = tmp_path / "practices.csv"
    good = (data_dir / "practices_good.csv").read_text(encoding="utf-8")
    practices.write_text(good + "\nTotal,,,,,\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_practices(practices)
    assert str(caught.value) == (
        f"{practices}, row 5: looks like a totals row ('Total'); expected data rows only: sda sums the rows "
        "itself, and a total read as data would count everything twice. Fix: delete the row."
    )
    practices.write_text(good + "D81009,Total,U00001,FIXTURE PCN,545600,258600\n", encoding="utf-8")
    assert list(read_practices(practices)["practice_name"]) == ["FIXTURE SURGERY", "SECOND SURGERY", "Total"]
    # Counted, the population CSV's total would have doubled the residents of a unit it matched.
    population = tmp_path / "population.csv"
    table = (data_dir / "ons_parish_population_fixture.csv").read_text(encoding="utf-8")
    population.write_text(table + "GRAND TOTAL,35650\n", encoding="utf-8")
    rows = len(table.splitlines()) + 1
    with pytest.raises(InputError, match=rf"population.csv, row {rows}: looks like a totals row \('GRAND TOTAL'\)"):
        read_units(_ons_cfg(data_dir, population_csv=population))
    shares = tmp_path / "shares.csv"
    good = (data_dir / "pcn_shares_good.csv").read_text(encoding="utf-8")
    shares.write_text(good + ",Totals:,5\n,totals,5\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row \d+: looks like a totals row \('Totals:'\) \(as does row \d+\)"):
        read_pcn_shares(shares, GOOD_CODES)


def test_rows_named_count_the_blank_lines_a_spreadsheet_shows(data_dir: Path, tmp_path: Path) -> None:
    # Before, pandas skipped blank lines and the rows below them were named one row too high.
    header, first, second = (data_dir / "practices_good.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "practices.csv"
    lines = ["", header, first, "", ",,,,,", second, "", first.replace("545500", "abc")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        read_practices(path)
    problems = caught.value.problems
    assert "the code appears in rows 3 and 8" in problems[0]
    assert "row 8, code 'D81001', field 'easting': got 'abc'" in problems[1]
    assert len(problems) == 2  # the row of empty cells is skipped, like the blank lines


def test_a_population_too_large_names_its_row_of_the_csv_not_of_the_units(data_dir: Path, tmp_path: Path) -> None:
    # Before, the row was the unit's position in the polygon file, another row of the CSV.
    header, *rows = (data_dir / "ons_parish_population_fixture.csv").read_text(encoding="utf-8").splitlines()
    code = rows[0].split(",")[0]
    rows = [*reversed(rows[1:]), f"{code},{10**13}"]
    path = tmp_path / "population.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(ProblemsError, match=rf"population.csv, row {len(rows) + 1}, code '{code}', field 'residents'"):
        read_units(_ons_cfg(data_dir, population_csv=path))
