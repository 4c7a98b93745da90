"""Best-fit populations (``sda.population``): points summed into the polygons that hold them.

Hand-made squares whose counts are obvious, and the shipped Census 2021 output-area centroids
best-fitted into the shipped LSOAs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from sda.api import load_inputs
from sda.cli import cli
from sda.config import UnitsConfig, load_config
from sda.errors import ConfigError, InputError, ProblemsError
from sda.io import read_units
from sda.population import fit_points

X0, Y0 = 545_000.0, 258_000.0  # Cambridge, in British National Grid metres
CENSUS_2021 = 894_520  # official: Cambridgeshire 678,849 + Peterborough 215,671


def _two_squares(tmp_path: Path) -> Path:
    """Units A (west) and B (east), 1 km squares sharing the border x = X0 + 1000."""
    units = gpd.GeoDataFrame(
        {"code": ["A", "B"]},
        geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 1000), shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)],
        crs="EPSG:27700",
    )
    path = tmp_path / "units.geojson"
    units.to_file(path)
    return path


def _points_csv(tmp_path: Path, rows: list[tuple[str, float, float, object]]) -> Path:
    path = tmp_path / "points.csv"
    pd.DataFrame(rows, columns=["oa", "easting", "northing", "residents"]).to_csv(path, index=False)
    return path


# In A, in B, on the A|B border, and 5 km east of both.
POINTS = [
    ("P1", X0 + 500, Y0 + 500, 10),
    ("P2", X0 + 1500, Y0 + 500, 20),
    ("P3", X0 + 1000, Y0 + 500, 5),
    ("P4", X0 + 7000, Y0 + 500, 7),
]


def _cfg(tmp_path: Path, **extra: object) -> UnitsConfig:
    base = UnitsConfig(
        path=_two_squares(tmp_path),
        code_field="code",
        population_points=_points_csv(tmp_path, POINTS),
        population_points_field="residents",
        population_points_code_field="oa",
    )
    return dataclasses.replace(base, **extra)  # type: ignore[arg-type]


def test_points_are_summed_into_the_polygon_holding_them_and_border_points_counted_once() -> None:
    units = gpd.GeoSeries([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs="EPSG:27700").to_frame("geometry")
    points = gpd.GeoDataFrame(
        {"population": [10, 20, 5, 7]},
        geometry=gpd.points_from_xy([0.5, 1.5, 1.0, 9.0], [0.5, 0.5, 0.5, 0.5]),
        crs="EPSG:27700",
    )
    fit = fit_points(units, points)
    assert fit.population.tolist() == [15, 20]  # the border point goes to the first unit only
    assert fit.unit_of_point.tolist() == [0, 1, 0, -1]
    assert fit.on_border.tolist() == [False, False, True, False]
    assert fit.unplaced.tolist() == [False, False, False, True]
    assert fit.total == 42


def test_points_outside_every_unit_are_reported_with_count_and_residents(tmp_path: Path) -> None:
    units = read_units(_cfg(tmp_path, max_unplaced_share=0.5))
    assert units["population"].to_dict() == {"A": 15, "B": 20}
    fit = units.attrs["population_fit"]
    assert (fit["unplaced_points"], fit["unplaced_residents"], fit["placed_residents"]) == (1, 7, 35)
    assert (fit["border_points"], fit["border_residents"]) == (1, 5)
    notes = " ".join(fit["notes"])
    assert "1 of 4 points in points.csv (7 residents) fall in no unit" in notes and "codes P4" in notes
    # The officer reads that the share left out is allowed by the config, not an error.
    assert "16.7% of the file's residents, within [units] max_unplaced_share = 0.5" in notes
    assert "1 points in points.csv (5 residents) lie on the border" in notes and "codes P3" in notes


def test_run_is_refused_when_the_unplaced_share_is_above_the_limit(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"max_unplaced_share = 0\.1") as caught:
        read_units(_cfg(tmp_path, max_unplaced_share=0.1))
    message = str(caught.value)
    assert "points.csv" in message and "1 of 4 points" in message and "(7 residents)" in message
    assert "16.67% of the residents" in message  # 7 of 42


def test_swapped_coordinate_columns_are_named_with_the_config_fix(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)  # writes points.csv, which is then swapped: northing written first
    swapped = pd.read_csv(cfg.population_points).rename(columns={"easting": "northing", "northing": "easting"})
    swapped[["oa", "easting", "northing", "residents"]].to_csv(cfg.population_points, index=False)
    with pytest.raises(InputError) as caught:
        read_units(cfg)
    message = str(caught.value)
    assert "4 of 4 points" in message
    assert "The x and y columns look swapped: read with 'northing' as x and 'easting' as y, 83.3% of the residents" in (
        message
    )  # 35 of 42: P4 lies east of both squares either way
    assert "Fix: set population_points_x_field = 'northing' and population_points_y_field = 'easting'" in message
    assert "population_points_crs" not in message


def test_a_point_given_twice_is_refused_not_counted_twice(tmp_path: Path) -> None:
    # A row pasted twice in Excel added its residents again without a word (8,400 for 6,600).
    twice = tmp_path / "twice.csv"
    pd.DataFrame([*POINTS, POINTS[1]], columns=["oa", "easting", "northing", "residents"]).to_csv(twice, index=False)
    with pytest.raises(ProblemsError) as caught:
        read_units(_cfg(tmp_path, population_points=twice, max_unplaced_share=0.5))
    (problem,) = caught.value.problems
    assert "twice.csv, code 'P2', field 'oa': the code appears in rows 3 and 6" in problem
    assert "expected each point code once" in problem


def test_points_with_a_title_above_the_header_are_told_to_delete_it(tmp_path: Path) -> None:
    titled = tmp_path / "titled.csv"
    titled.write_text("Census 2021 output areas\n" + _points_csv(tmp_path, POINTS).read_text(), encoding="utf-8")
    with pytest.raises(InputError, match=r"titled.csv: row 1 looks like a title .* header is on row 2"):
        read_units(_cfg(tmp_path, population_points=titled))


def test_cli_refuses_the_shipped_points_with_a_strict_limit(tmp_path: Path, repo_root: Path) -> None:
    text = (repo_root / "configs" / "cambridgeshire-peterborough.toml").read_text()
    text = text.replace('"../', f'"{repo_root.as_posix()}/').replace(
        "max_unplaced_share = 0.25", "max_unplaced_share = 0.1"
    )
    config = tmp_path / "strict.toml"
    config.write_text(text)
    result = CliRunner().invoke(cli, ["check", "--config", str(config)])
    assert result.exit_code == 1
    assert "777 of 3,518 points" in result.output and "(249,283 residents)" in result.output
    assert "21.79% of the residents" in result.output and "max_unplaced_share = 0.1" in result.output


def test_lon_lat_points_give_the_same_populations(tmp_path: Path) -> None:
    rows = [(code, *_lon_lat(x, y), pop) for code, x, y, pop in POINTS]
    cfg = _cfg(tmp_path, max_unplaced_share=0.5)
    path = tmp_path / "lonlat.csv"
    pd.DataFrame(rows, columns=["oa", "lon", "lat", "residents"]).to_csv(path, index=False)
    cfg = dataclasses.replace(
        cfg,
        population_points=path,
        population_points_x_field="lon",
        population_points_y_field="lat",
        population_points_crs="EPSG:4326",
    )
    # The border point moves by a rounding error, so only the points clear of it are compared.
    units = read_units(cfg)
    assert units["population"].sum() == 35
    assert units.loc["B", "population"] in (20, 25)


def _lon_lat(x: float, y: float) -> tuple[float, float]:
    point = gpd.GeoSeries(gpd.points_from_xy([x], [y]), crs="EPSG:27700").to_crs("EPSG:4326").iloc[0]
    return point.x, point.y


def test_bad_point_rows_are_all_listed(tmp_path: Path) -> None:
    rows = [*POINTS, ("P5", X0 + 10, Y0 + 10, "12,4O0"), ("P6", None, Y0 + 10, 3), ("P7", X0 + 20, Y0 + 20, -1)]
    cfg = dataclasses.replace(_cfg(tmp_path), population_points=_points_csv(tmp_path, rows))
    with pytest.raises(ProblemsError) as caught:
        read_units(cfg)
    problems = caught.value.problems
    assert len(problems) == 3
    # Rows as Excel numbers them: the header is row 1, so P5 (the fifth point) is row 6.
    assert "points.csv, row 7, fields 'easting'/'northing'" in problems[0]
    assert "row 6, field 'residents': got '12,4O0'; expected a whole number" in problems[1]
    assert "row 8, field 'residents': got '-1'" in problems[2]


def test_a_point_layer_with_true_for_residents_is_refused(tmp_path: Path) -> None:
    # A GeoJSON point layer read its true as 1 resident, as a units file did.
    points = gpd.GeoDataFrame(
        {"oa": [p[0] for p in POINTS], "residents": [p[3] for p in POINTS]},
        geometry=gpd.points_from_xy([p[1] for p in POINTS], [p[2] for p in POINTS]),
        crs="EPSG:27700",
    )
    path = tmp_path / "points.geojson"
    points.to_file(path, driver="GeoJSON")
    collection = json.loads(path.read_text())
    collection["features"][1]["properties"]["residents"] = True
    path.write_text(json.dumps(collection))
    with pytest.raises(ProblemsError) as caught:
        read_units(dataclasses.replace(_cfg(tmp_path), population_points=path))
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}, row 2, code 'P2', field 'residents': got true, a yes/no value")


def test_decimal_commas_in_coordinates_get_their_own_fix(tmp_path: Path) -> None:
    # "0,295853" from a European spreadsheet was told to "fill in the coordinates".
    path = tmp_path / "commas.csv"
    path.write_text('oa,lon,lat,residents\nP1,"0,295853","52,205574",10\n', encoding="utf-8")
    cfg = _cfg(tmp_path, population_points=path, population_points_x_field="lon", population_points_y_field="lat")
    with pytest.raises(ProblemsError) as caught:
        read_units(dataclasses.replace(cfg, population_points_crs="EPSG:4326"))
    (problem,) = caught.value.problems
    assert "commas.csv, row 2, fields 'lon'/'lat': got '0,295853', '52,205574'" in problem
    assert "Fix: write the decimals with a point (0.295853), not a comma" in problem


def test_unknown_crs_and_two_population_sources_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="population_points_crs = 'EPSG:99999'"):
        read_units(_cfg(tmp_path, population_points_crs="EPSG:99999"))
    with pytest.raises(ConfigError, match="both are set"):
        read_units(_cfg(tmp_path, population_field="code"))


def test_missing_points_column_names_the_columns_that_exist(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"column 'people' named in \[units\] not found.*'residents'"):
        read_units(_cfg(tmp_path, population_points_field="people"))


def test_default_config_is_census_2021_within_a_hundredth_of_a_percent(repo_root: Path) -> None:
    cfg = load_config(repo_root / "configs" / "cambridgeshire-peterborough.toml")
    inputs = load_inputs(cfg)
    total = inputs.problem.total_pop
    assert abs(total - CENSUS_2021) <= 0.0001 * CENSUS_2021, total
    by_district = inputs.units.groupby("district_name")["population"].sum().to_dict()
    # As documented in boundaries/README.md (official figures within 12 of each).
    assert by_district == {
        "Cambridge": 145_662,
        "East Cambridgeshire": 87_756,
        "Fenland": 102_482,
        "Huntingdonshire": 180_829,
        "Peterborough": 215_679,
        "South Cambridgeshire": 162_115,
    }
    notes = inputs.population_notes
    assert notes["population_source"].startswith("ONS Census 2021 usual residents")
    assert notes["population_points"]["unplaced_points"] == 777
    assert any("fall in no unit" in line for line in notes["data_caveats"])


def test_mid2018_config_keeps_the_estimates(repo_root: Path) -> None:
    cfg = load_config(repo_root / "configs" / "cambridgeshire-peterborough-mid2018.toml")
    units = read_units(cfg.units)
    assert int(units["population"].sum()) == 852_523
    assert cfg.units.population_source is not None and "mid-2018" in cfg.units.population_source


def test_a_unit_with_no_point_is_named_in_the_notes(tmp_path: Path) -> None:
    # Only P1 (in A) and P4 (outside both) are given: B gets no point and so no residents, which
    # a gap in the points file looks like, so the run names it rather than carrying on in silence.
    cfg = _cfg(tmp_path, max_unplaced_share=0.5)
    cfg = dataclasses.replace(cfg, population_points=_points_csv(tmp_path, [POINTS[0], POINTS[3]]))
    units = read_units(cfg)
    assert units["population"].to_dict() == {"A": 10, "B": 0}
    fit = units.attrs["population_fit"]
    note = "Units with no point of points.csv, and so no residents: 1 of 2 (codes B)."
    assert any(note in n for n in fit["notes"]) and any(note in c for c in fit["caveats"])
    full = read_units(_cfg(tmp_path, max_unplaced_share=0.5))
    assert not any("no point of" in n for n in full.attrs["population_fit"]["notes"])
