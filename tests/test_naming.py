"""Tests for sda.naming: readable, unique, stable area names, and the names CSV."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from sda.api import build_plan, load_inputs
from sda.config import LockConfig, load_config
from sda.engine.search import search
from sda.errors import InputError, ProblemsError
from sda.naming import name_areas, place_populations, read_names_csv


def _units(rows: list[tuple[str, str, int, str, str, float, float]]) -> gpd.GeoDataFrame:
    """(code, area, population, places, unit_name, x, y): 100 m squares at (x, y) in one district."""
    return gpd.GeoDataFrame(
        {
            "area_id": [r[1] for r in rows],
            "population": [r[2] for r in rows],
            "places": [r[3] for r in rows],
            "unit_name": [r[4] for r in rows],
            "district": ["D"] * len(rows),
        },
        geometry=[shapely.box(r[5], r[6], r[5] + 100, r[6] + 100) for r in rows],
        crs="EPSG:27700",
        index=pd.Index([r[0] for r in rows], name="unit_code"),
    )


def test_largest_place_names_the_area_and_a_close_second_joins_it() -> None:
    units = _units(
        [
            ("a", "SDA-01", 3000, "Ely", "X 001A", 0, 0),
            ("b", "SDA-01", 1000, "Stretham", "X 001B", 100, 0),
            ("c", "SDA-02", 2000, "Soham", "X 002A", 0, 5000),
            ("d", "SDA-02", 1500, "Fordham", "X 002B", 100, 5000),
        ]
    )
    names = name_areas(units)
    assert names == {"SDA-01": "Ely", "SDA-02": "Soham & Fordham"}  # 1,000 < half of 3,000; 1,500 >= half
    assert name_areas(units) == names  # the same plan always gets the same names


def test_a_place_split_between_areas_names_the_one_with_most_of_it() -> None:
    # Bretton spills into a second area; that area has a big place of its own (Marholm, over half
    # its Bretton), so it is named after it. A third area whose own place is a small village
    # (under half of its Bretton) keeps "Bretton" with a compass point rather than the village.
    units = _units(
        [
            ("a", "SDA-01", 9000, "Bretton", "X 001A", 0, 0),
            ("b", "SDA-02", 5000, "Bretton", "X 002A", 0, 5000),
            ("c", "SDA-02", 4000, "Marholm", "X 002B", 100, 5000),
            ("d", "SDA-03", 6000, "Bretton", "X 003A", 0, -5000),
            ("e", "SDA-03", 1000, "Sutton", "X 003B", 100, -5000),
        ]
    )
    names = name_areas(units)
    assert names["SDA-02"] == "Marholm"
    assert names["SDA-01"].startswith("Bretton") and names["SDA-03"].startswith("Bretton")
    assert len(set(names.values())) == 3 and "Sutton" not in names["SDA-03"]


def test_an_area_is_never_named_after_a_place_in_another_area_nor_a_districts_name() -> None:
    # Units listing no place, in a district where most do: SDA-02's big unit "b" lies next to
    # Benwick's unit in SDA-01, and used to borrow Benwick, naming SDA-02 "Benwick & Fenland"
    # ("Fenland" from "Fenland 008C" with its code cut off, a district's name). It now borrows from
    # its own area's Farcet, and a unit with no place near in its own area credits nothing.
    units = _units(
        [
            ("a", "SDA-01", 2000, "Benwick", "Fenland 001A", 0, 0),
            ("b", "SDA-02", 6000, "", "Fenland 002A", 100, 0),
            ("c", "SDA-02", 1000, "Farcet", "Fenland 002B", 1500, 0),
            ("d", "SDA-02", 5000, "", "Fenland 002C", 6000, 0),
            ("e", "SDA-03", 3000, "", "Fenland 003A", 0, 9000),
        ]
    )
    names = name_areas(units)
    assert names["SDA-01"] == "Benwick" and names["SDA-02"] == "Farcet"
    assert names["SDA-03"] == "Fenland"  # no place in the area: its units' names, as a last resort


def test_two_places_of_one_unit_do_not_make_a_pair() -> None:
    units = _units([("a", "SDA-01", 3000, "Great Paxton; Toseland", "X 001A", 0, 0)])
    assert name_areas(units) == {"SDA-01": "Great Paxton"}  # equal credit, same unit: alphabetical first


def test_repeated_names_get_compass_points_and_stay_unique() -> None:
    # An unparished city: no unit lists a place, so every area is named from the unit names.
    rows = [
        ("n", "SDA-01", 1000, "", "Cambridge 001A", 0, 10_000),
        ("s", "SDA-02", 1000, "", "Cambridge 002A", 0, -10_000),
        ("e", "SDA-03", 1000, "", "Cambridge 003A", 10_000, 0),
        ("c", "SDA-04", 1000, "", "Cambridge 004A", 0, 0),
    ]
    names = name_areas(_units(rows))
    assert names == {
        "SDA-01": "Cambridge North",
        "SDA-02": "Cambridge South",
        "SDA-03": "Cambridge East",
        "SDA-04": "Cambridge Central",
    }


def test_units_without_places_borrow_from_the_nearest_unit_with_places() -> None:
    units = _units(
        [
            ("town", "SDA-01", 2000, "Wisbech", "Fenland 001A", 0, 0),
            ("t2", "SDA-01", 2000, "", "Fenland 001B", 100, 0),
            ("t3", "SDA-01", 2000, "", "Fenland 001C", 200, 0),
            ("v", "SDA-01", 2500, "Leverington", "Fenland 002A", 5000, 0),
        ]
    )
    # Wisbech gets its own unit and the two town units beside it (6,000) over Leverington's 2,500.
    assert name_areas(units) == {"SDA-01": "Wisbech"}
    # The report and areas.csv list the places as the name counts them. Without the borrowing
    # units, the area named Wisbech was listed as "Leverington (2,500); Wisbech (2,000)" (on the
    # shipped data: "Marholm (1,711)" above "Hampton Hargate and Vale (1,523)", which named it).
    assert place_populations(units) == {"SDA-01": [("Wisbech", 6000), ("Leverington", 2500)]}


def test_given_names_win_and_made_names_avoid_them() -> None:
    units = _units([("a", "SDA-01", 3000, "Ely", "X", 0, 0), ("b", "SDA-02", 3000, "Ely", "Y", 0, 9000)])
    names = name_areas(units, given={"SDA-02": "Ely", "SDA-99": "Nowhere"})
    assert names["SDA-02"] == "Ely" and names["SDA-01"] != "Ely" and names["SDA-01"].startswith("Ely")


def test_place_populations_share_a_unit_equally() -> None:
    units = _units([("a", "SDA-01", 3001, "A; B", "X", 0, 0), ("b", "SDA-01", 1000, "B", "Y", 100, 0)])
    assert place_populations(units) == {"SDA-01": [("B", 2500), ("A", 1500)]}


def test_names_csv_with_a_title_or_a_second_header_is_told_which_row_to_delete(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text("Area names agreed 2025\narea_id,name\nSDA-01,Ely\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 1 looks like a title .* header is on row 2.*Fix: delete row 1\."):
        read_names_csv(path)
    path.write_text("area_id,name\nSDA-01,Ely\narea_id,name\nSDA-02,Soham\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 3 repeats the header.*Fix: delete it"):
        read_names_csv(path)


def test_names_csv_may_use_a_lock_name_only_when_the_lock_area_is_renamed_too(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    path.write_text("area_id,name\nSDA-02,Ely\nSoham,Soham & Fordham\n", encoding="utf-8")
    clash = r"row 2, field 'name': the name 'Ely' is the area of \[\[rules.lock\]\] 'Ely'"
    with pytest.raises(ProblemsError, match=clash):
        read_names_csv(path, ["Ely", "Soham"])
    path.write_text("area_id,name\nSDA-02,Ely\nEly,Ely City\nSoham,Soham\n", encoding="utf-8")
    assert read_names_csv(path, ["Ely", "Soham"]) == {"SDA-02": "Ely", "Ely": "Ely City", "Soham": "Soham"}


def test_names_csv_saved_by_excel_is_read_like_every_other_csv(tmp_path: Path) -> None:
    # Before, Windows-1252 was refused, blank lines were not counted in rows, and a totals row
    # was read as an area with a blank name.
    path = tmp_path / "names.csv"
    path.write_bytes("area_id,name\r\nSDA-01,Caf\u00e9 Quarter\r\n\r\nSDA-02,\r\n".encode("cp1252"))
    with pytest.raises(ProblemsError, match=r"names.csv, row 4, field 'name': blank"):
        read_names_csv(path)
    path.write_bytes("area_id,name\r\nSDA-01,Caf\u00e9 Quarter\r\nTotal,\r\n".encode("cp1252"))
    with pytest.raises(InputError, match=r"names.csv, row 3: looks like a totals row \('Total'\)"):
        read_names_csv(path)
    path.write_bytes("area_id,name\r\nSDA-01,Caf\u00e9 Quarter\r\n".encode("cp1252"))
    assert read_names_csv(path) == {"SDA-01": "Caf\u00e9 Quarter"}


def test_read_names_csv(tmp_path: Path) -> None:
    good = tmp_path / "names.csv"
    good.write_text("area_id,name\nSDA-01,Ely North\nSDA-02,Soham\n", encoding="utf-8")
    assert read_names_csv(good) == {"SDA-01": "Ely North", "SDA-02": "Soham"}
    bad = tmp_path / "bad.csv"
    bad.write_text("area_id,title\nSDA-01,Ely\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"column 'name' is missing.*Fix: name the columns area_id and name"):
        read_names_csv(bad)
    bad.write_bytes("\ufeffarea_id;name\r\nSDA-01;Ely\r\n".encode())  # European Excel: no fix was given
    with pytest.raises(InputError, match=r"separated by semicolons, not commas\. Fix: save it again from Excel"):
        read_names_csv(bad)
    # Every mistake of the file at once, each with its row and field.
    bad.write_text("area_id,name\nSDA-01,\nSDA-02,Ely\nSDA-02,Soham\nSDA-03,Ely\n", encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        read_names_csv(bad)
    assert [p.split(", ", 1)[1] for p in caught.value.problems] == [
        "row 2, field 'name': blank; expected an area id such as SDA-01 and its name",
        "row 4, field 'area_id': area 'SDA-02' is named twice; keep one row per area",
        "row 5, field 'name': the name 'Ely' is given to two areas; names must be unique",
    ]
    with pytest.raises(InputError, match="cannot read the names CSV"):
        read_names_csv(tmp_path / "absent.csv")


def test_lock_and_csv_names_reach_the_plan(tmp_path: Path) -> None:
    """On the shipped data: a lock's name names its area, a names CSV renames another, the rest are
    made from places, and every name is unique."""
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "cambridgeshire-peterborough.toml")
    lock = LockConfig(area="Ely Cathedral", units=("E01018024",))
    names_csv = tmp_path / "names.csv"
    names_csv.write_text("area_id,name\nSDA-01,Fen Edge\nSDA-99,Unused\n", encoding="utf-8")
    cfg = dataclasses.replace(
        cfg,
        rules=dataclasses.replace(cfg.rules, locks=(lock,)),
        output=dataclasses.replace(cfg.output, names=names_csv),
    )
    inputs = load_inputs(cfg)
    result = search(inputs.problem, count=22, target="auto", seed=1, time_limit_s=1, starts=1, steps=50_000)
    with pytest.warns(UserWarning, match="SDA-99"):
        plan = build_plan(cfg, inputs, result.labels, target=852_523 / 22)
    names = plan.areas["name"]
    assert names["Ely Cathedral"] == "Ely Cathedral" and names["SDA-01"] == "Fen Edge"
    assert names.is_unique and (names != names.index).sum() == len(names) - 1  # all but the lock are named
    assert (plan.units["area_name"] == plan.units["area_id"].map(names)).all()
    assert np.isfinite(plan.areas["polsby_popper"]).all()
