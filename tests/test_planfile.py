"""Reading plans from folders, GeoPackages, GeoJSON and CSV, and the errors bad plan files get."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import build_plan

from sda.errors import InputError, ProblemsError
from sda.outputs import write_outputs
from sda.planfile import read_assignment, read_planfile


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
    assert "row 2, field 'area_id': unit 'B' has no area" in text
    assert "row 3, field 'unit_code': unit 'A' again (first on row 1)" in text
    assert "row 4, field 'unit_code': blank unit code" in text


def test_missing_columns_and_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "plan.csv"
    path.write_text("lsoa,sda\nA,X\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"plan.csv, field 'unit_code': no unit code column.*found: lsoa, sda"):
        read_planfile(path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no plan found in this folder"):
        read_planfile(tmp_path / "empty")
