"""Tests for sda.validate: each failure mode gives a message with file, row, field, found, expected, fix.

The broken files in tests/data (made by tests/data/make_bad_inputs.py) are read through
``read_units``, the path a user takes; the in-memory tests call the checks directly.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sda.config import UnitsConfig
from sda.errors import MAX_LISTED, ProblemsError, SdaWarning
from sda.io import read_units
from sda.validate import Finding, check_pcn_shares, check_practices, check_units, parse_numbers


def _units_cfg(path: Path, **overrides: object) -> UnitsConfig:
    fields: dict[str, object] = {
        "code_field": "code",
        "name_field": "name",
        "population_field": "pop",
        "district_field": "lad",
    }
    fields.update(overrides)
    return UnitsConfig(path=path, **fields)  # type: ignore[arg-type]


def _problems_of(path: Path) -> ProblemsError:
    with pytest.raises(ProblemsError) as caught:
        read_units(_units_cfg(path))
    return caught.value


@pytest.mark.parametrize(
    ("file_name", "expected_parts"),
    [
        (
            "units_text_population.geojson",
            [
                "units_text_population.geojson, row 2, code 'E01000002', field 'pop'",
                "got '12,4O0'",
                "did you mean 12400?",
                "expected a whole number >= 0",
                "Fix:",
            ],
        ),
        (
            "units_negative_population.geojson",
            ["row 2, code 'E01000002', field 'pop'", "got -40, a negative number", "expected a whole number >= 0"],
        ),
        (
            "units_fractional_population.geojson",
            [
                "row 2, code 'E01000002', field 'pop'",
                "got 1600.5, which is not a whole number",
                "expected a whole number >= 0",
            ],
        ),
        (
            "units_duplicate_code.geojson",
            [
                "units_duplicate_code.geojson, code 'E01000001', field 'code'",
                "appears in rows 1 and 3",
                "expected each unit code once",
                "Fix:",
            ],
        ),
        (
            "units_bowtie.geojson",
            [
                "units_bowtie.geojson, row 3, code 'E01000003'",
                "invalid polygon (Self-intersection",
                "expected a valid polygon",
                "Fix Geometries (make_valid)",
            ],
        ),
        (
            "units_points.geojson",
            ["units_points.geojson, row 1, code 'E01000001'", "got a Point", "expected a Polygon or MultiPolygon"],
        ),
        (
            "units_overlap.geojson",
            [
                "units_overlap.geojson",
                "'E01000001' (row 1) and 'E01000002' (row 2) overlap by 100,000 m²",
                "expected units that do not overlap",
                "Fix:",
            ],
        ),
        (
            "units_no_crs.shp",
            [
                "units_no_crs.shp",
                "has no coordinate reference system",
                "expected one such as EPSG:27700",
                "ogr2ogr -a_srs EPSG:27700",
                ".prj",
            ],
        ),
        (
            "units_bng_without_crs.geojson",
            [
                "units_bng_without_crs.geojson",
                "4 unit(s)",
                "not in Great Britain",
                "EPSG:4326",
                "look like metres",
                "probably EPSG:27700",
            ],
        ),
    ],
)
def test_broken_units_file_names_file_row_field_and_expectation(
    data_dir: Path, file_name: str, expected_parts: list[str]
) -> None:
    error = _problems_of(data_dir / file_name)
    message = str(error)
    assert error.exit_code == 1
    assert message.startswith("1 problem in the units file") or "problems in the units file" in message
    for part in expected_parts:
        assert part in message


def test_blank_codes_are_reported_for_each_row(data_dir: Path) -> None:
    error = _problems_of(data_dir / "units_blank_code.geojson")
    assert len(error.problems) == 2
    assert "units_blank_code.geojson, row 2, field 'code': the code is blank" in error.problems[0]
    assert "units_blank_code.geojson, row 4, field 'code': the code is blank" in error.problems[1]


def test_null_and_empty_geometries_are_both_reported(data_dir: Path) -> None:
    error = _problems_of(data_dir / "units_empty_geometry.geojson")
    assert "row 2, code 'E01000002': the unit has no geometry; expected a polygon" in error.problems[0]
    assert "row 4, code 'E01000004': the unit has an empty geometry; expected a polygon" in error.problems[1]


def test_zero_population_is_a_warning_not_an_error(data_dir: Path) -> None:
    with pytest.warns(SdaWarning, match=r"row 4, code 'E01000004', field 'pop': population is 0"):
        units = read_units(_units_cfg(data_dir / "units_zero_population.geojson"))
    assert units.loc["E01000004", "population"] == 0


def _square_frame(geoms: list[shapely.Geometry], **columns: list[object]) -> gpd.GeoDataFrame:
    data = {"code": [f"U{i + 1}" for i in range(len(geoms))], "pop": [100] * len(geoms), **columns}
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:27700")


def _squares(n: int, side: float = 1000.0) -> list[shapely.Geometry]:
    return [shapely.box(500_000 + i * side, 250_000, 500_000 + (i + 1) * side, 250_000 + side) for i in range(n)]


def test_all_problems_are_collected_before_failing() -> None:
    geoms = _squares(4)
    raw = _square_frame(geoms, code=["A", "A", "", "D"], pop=[1, "x", -2, 3])
    problems = check_units(raw, _units_cfg(Path("mem.gpkg"), district_field=None), "mem.gpkg")
    errors = [p for p in problems if p.severity == "error"]
    assert {(p.row, p.field) for p in errors} >= {(1, "code"), (2, "pop"), (3, "code"), (3, "pop")}
    assert all(isinstance(p, Finding) and p.message.startswith("mem.gpkg") for p in problems)


def test_error_lists_at_most_max_listed_and_a_total(tmp_path: Path) -> None:
    n = MAX_LISTED + 5
    raw = _square_frame(_squares(n), pop=[-1] * n)
    path = tmp_path / "many.gpkg"
    raw.to_file(path, engine="pyogrio")
    with pytest.raises(ProblemsError) as caught:
        read_units(_units_cfg(path, name_field=None, district_field=None))
    message = str(caught.value)
    assert message.startswith(f"{n} problems in the units file")
    assert message.count("a negative number") == MAX_LISTED
    assert f"... and 5 more ({n} problems in all)" in message


def test_touching_units_and_tiny_overlaps_are_not_overlaps() -> None:
    geoms = _squares(3)
    geoms[1] = shapely.box(500_999.9, 250_000, 502_000, 251_000)  # 0.1 m x 1 km = 100 m², < 0.1% of 1 km²
    problems = check_units(_square_frame(geoms), _units_cfg(Path("m"), district_field=None), "m")
    assert problems == []


def test_overlap_check_finds_nothing_on_ten_thousand_touching_units() -> None:
    # How long it takes at national scale is measured in bench/, not asserted here.
    side = 100.0
    xs, ys = np.meshgrid(np.arange(100) * side + 500_000, np.arange(100) * side + 250_000)
    geoms = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + side, ys.ravel() + side)
    raw = gpd.GeoDataFrame(
        {"code": [f"U{i}" for i in range(len(geoms))], "pop": np.full(len(geoms), 100)},
        geometry=geoms,
        crs="EPSG:27700",
    )
    problems = check_units(raw, _units_cfg(Path("m"), district_field=None), "m")
    assert problems == []


def test_parse_numbers_accepts_plain_text_numbers() -> None:
    parsed = parse_numbers(pd.Series([" 1200 ", "7", "12,400", ""], dtype=object))
    assert parsed.iloc[:2].tolist() == [1200.0, 7.0]
    assert parsed.iloc[2:].isna().all()


def test_check_practices_flags_lat_lon_as_degrees() -> None:
    table = pd.DataFrame(
        {
            "practice_code": ["P1"],
            "practice_name": ["X"],
            "pcn_code": ["U1"],
            "pcn_name": ["N"],
            "easting": ["0.137"],
            "northing": ["52.19"],
        }
    )
    messages = [p.message for p in check_practices(table, "p.csv")]
    assert len(messages) == 2
    assert all("looks like a longitude/latitude" in m for m in messages)


def test_a_pcn_code_with_two_names_is_a_warning_naming_both() -> None:
    table = pd.DataFrame(
        {
            "practice_code": ["P1", "P2", "P3"],
            "practice_name": ["X", "Y", "Z"],
            "pcn_code": ["U1", "U1", "U2"],
            "pcn_name": ["North PCN", "Old North PCN", "South PCN"],
            "easting": ["545000", "546000", "547000"],
            "northing": ["258000", "259000", "260000"],
        }
    )
    (found,) = check_practices(table, "p.csv")
    assert found.severity == "warning" and found.code == "U1" and found.row == 2  # row 1: the header
    assert "PCN U1 has 2 names ('North PCN', 'Old North PCN': 'North PCN' in row 2; 'Old North PCN' in row 3)" in (
        found.message
    )


def test_check_pcn_shares_warns_about_unknown_units_only() -> None:
    table = pd.DataFrame({"unit_code": ["A", "Z"], "pcn_code": ["U1", "U1"], "share": ["1", "0.5"]})
    problems = check_pcn_shares(table, "s.csv", ["A"])
    assert [p.severity for p in problems] == ["warning"]
    assert "'Z'" in problems[0].message


def test_degrees_in_a_file_labelled_british_national_grid_are_refused() -> None:
    geoms = [shapely.box(0.10 + 0.015 * i, 52.20, 0.115 + 0.015 * i, 52.209) for i in range(2)]
    problems = check_units(_square_frame(geoms), _units_cfg(Path("m"), district_field=None), "m")
    (problem,) = problems
    assert "2 unit(s) (first: row 1, code 'U1', first point 0.115, 52.2) are not in Great Britain" in problem.message
    assert "look like longitude/latitude degrees, so the CRS is probably EPSG:4326" in problem.message
    assert "ogr2ogr -a_srs EPSG:4326" in problem.message


def test_blank_district_is_an_error_naming_the_row() -> None:
    raw = _square_frame(_squares(3), lad=["E07000008", "", None])
    problems = check_units(raw, _units_cfg(Path("m")), "m")
    assert [(p.row, p.field, p.severity) for p in problems] == [(2, "lad", "error"), (3, "lad", "error")]
    assert "m, row 2, code 'U2', field 'lad': the district is blank" in problems[0].message


def test_duplicate_codes_differing_only_by_spaces_say_so() -> None:
    raw = _square_frame(_squares(2), code=["A", "A "])
    (problem,) = check_units(raw, _units_cfg(Path("m"), district_field=None), "m")
    assert "appears in rows 1 and 2 (written 'A', 'A '" in problem.message


def test_check_practices_flags_spreadsheet_placeholders_as_pcn_codes() -> None:
    table = pd.DataFrame(
        {
            "practice_code": ["P1", "P2"],
            "practice_name": ["X", "Y"],
            "pcn_code": ["U1", "#N/A"],
            "pcn_name": ["N", "#N/A"],
            "easting": ["545500", "546500"],
            "northing": ["258500", "259500"],
        }
    )
    (problem,) = check_practices(table, "p.csv")
    assert problem.message.startswith("p.csv, row 3, code 'P2', field 'pcn_code': got '#N/A', which is not a PCN code")


def test_check_pcn_shares_fractions_must_add_up_to_one_per_unit() -> None:
    table = pd.DataFrame(
        {"unit_code": ["A", "A", "B", "C"], "pcn_code": ["U1", "U2", "U1", "U1"], "share": ["0.6", "0.6", "0.98", "0"]}
    )
    problems = check_pcn_shares(table, "s.csv", ["A", "B", "C"])
    messages = [p.message for p in problems]
    assert len(messages) == 2  # B's 0.98 is within the tolerance
    assert "s.csv, code 'A', field 'share': the shares of this unit (rows 2 and 3) add up to 1.2" in messages[0]
    assert "s.csv, code 'C', field 'share': every share of this unit (row 5) is 0" in messages[1]


def test_check_pcn_shares_counts_of_patients_may_add_up_to_anything() -> None:
    table = pd.DataFrame({"unit_code": ["A", "A", "B"], "pcn_code": ["U1", "U2", "U1"], "share": ["600", "650", "3"]})
    assert check_pcn_shares(table, "s.csv", ["A", "B"]) == []


def test_check_pcn_shares_every_unit_needs_a_row_and_a_typo_is_pointed_out() -> None:
    table = pd.DataFrame({"unit_code": ["A", "E0100002"], "pcn_code": ["U1", "U1"], "share": ["1", "1"]})
    problems = check_pcn_shares(table, "s.csv", ["A", "E01000002"])
    assert [p.severity for p in problems] == ["error", "warning"]
    message = problems[0].message
    assert "s.csv, code 'E01000002', field 'unit_code': unit 'E01000002' of the units file has no row" in message
    assert "The CSV has 'E0100002', which matches no unit" in message


def test_codes_differing_only_in_case_are_refused_as_one_code_typed_twice() -> None:
    raw = _square_frame(_squares(3), code=["E01018000", "E01018001", "e01018000"])
    (problem,) = check_units(raw, _units_cfg(Path("m"), district_field=None), "m")
    assert problem.severity == "error"
    assert "the codes 'E01018000' (row 1), 'e01018000' (row 3) differ only in case" in problem.message
    assert "Fix: correct the case" in problem.message


def test_a_unit_saved_as_a_geometry_collection_is_told_how_to_keep_its_polygons(data_dir: Path, tmp_path: Path) -> None:
    # A clip or an intersection can save a unit as a GeometryCollection of its polygons. It was
    # told to "use the boundary (polygon) layer, not a points or lines layer", which it was.
    units = gpd.read_file(data_dir / "units_good.geojson")
    units.loc[1, "geometry"] = shapely.GeometryCollection(
        [units.geometry.iloc[1], shapely.LineString(units.geometry.iloc[1].exterior.coords[:2])]
    )
    path = tmp_path / "clipped.geojson"
    units.to_file(path)
    message = str(_problems_of(path))
    assert "clipped.geojson, row 2" in message and "got a GeometryCollection" in message, message
    assert "points or lines layer" not in message and "'Collect geometries' by the unit code" in message, message
