"""Tests for sda.area_table: clean area outlines in every format, on shipped and full-precision data."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from helpers import quadrant_plan as build_plan

from sda.area_table import AREAS_CSV_COLUMNS, areas_csv_text, clean_polygonal, dissolve_areas, uncovered_gaps
from sda.cli import cli

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "default": (ROOT / "configs" / "cambridgeshire-peterborough.toml", "22"),
    "28": (ROOT / "configs" / "cambridgeshire-peterborough-28.toml", "28"),
    "districts": (ROOT / "configs" / "cambridgeshire-peterborough-districts.toml", "22"),
}


def _propose(config: Path, out: Path, count: str) -> None:
    args = ["propose", "--config", str(config), "--out", str(out), "--quiet", "--no-exact", "--no-tradeoffs"]
    result = CliRunner().invoke(cli, [*args, "--count", count, "--steps", "200000", "--starts", "1"])
    assert result.exit_code == 0, result.output


def _assert_clean(frame: gpd.GeoDataFrame, where: str) -> None:
    """Every area one valid Polygon, or a MultiPolygon whose parts are really apart: no part within
    1 m of the rest, so no sliver seam or corner point splits an area."""
    bng = frame.to_crs("EPSG:27700")
    assert set(frame.geom_type) <= {"Polygon", "MultiPolygon"}, f"{where}: {set(frame.geom_type)}"
    assert frame.is_valid.all() and bng.is_valid.all(), f"{where}: invalid outline"
    for area, geom in zip(frame["area_id"], bng.geometry, strict=True):
        parts = list(shapely.get_parts(geom))
        assert len(parts) == int(frame.loc[frame["area_id"] == area, "n_parts"].iloc[0])
        # No hairline crack: closing 5 cm gaps shortens no outline (a crack 4.6 km long inside one
        # area drew as a border along the Hundred Foot River).
        sealed = shapely.buffer(shapely.buffer(geom, 0.05, join_style="mitre"), -0.05, join_style="mitre")
        assert sealed.length >= 0.999 * geom.length, f"{where}: {area} has a crack {geom.length - sealed.length:.0f} m"
        for i, part in enumerate(parts):
            rest = shapely.union_all([p for j, p in enumerate(parts) if j != i])
            if len(parts) > 1:
                assert part.distance(rest) > 1.0, f"{where}: {area} is split by a seam"


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def shipped_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config, count = CONFIGS[request.param]
    out = tmp_path_factory.mktemp(f"run-{request.param}")
    _propose(config, out, count)
    return out


@pytest.mark.slow
def test_shipped_configs_write_clean_areas(shipped_run: Path) -> None:
    out = shipped_run
    geojson = gpd.read_file(out / "areas.geojson")
    gpkg = gpd.read_file(out / "plan.gpkg", layer="areas")
    _assert_clean(geojson, "areas.geojson")
    _assert_clean(gpkg, "plan.gpkg")
    # No uncovered channel under 50 m wide left as a slit inside one piece (the tidal Nene through
    # Wisbech and the Hundred Foot River were drawn as borders through their areas).
    units = gpd.read_file(ROOT / "boundaries" / "lsoa2011_cambs_peterborough.geojson").to_crs("EPSG:27700")
    covered = shapely.union_all(np.asarray(units.geometry.array))
    bng = geojson.to_crs("EPSG:27700")
    others = shapely.union_all(np.asarray(bng.geometry.array))
    for area, geom in zip(bng["area_id"], bng.geometry, strict=True):
        closed = shapely.buffer(shapely.buffer(geom, 24, join_style="mitre"), -24, join_style="mitre")
        slits = shapely.difference(shapely.difference(closed, others), covered)
        pieces = shapely.get_parts(geom)
        inside = [s.area for s in shapely.get_parts(slits) if (shapely.distance(pieces, s) < 0.01).sum() == 1]
        assert max(inside, default=0.0) < 2_500, f"{area}: an uncovered slit of {max(inside):.0f} m²"
    # Most areas are one piece; a GeoPackage of single pieces is a Polygon layer.
    assert (geojson["n_parts"] == 1).mean() > 0.8
    assert (gpkg.geom_type == "Polygon").all() == (gpkg["n_parts"] == 1).all()


@pytest.mark.slow
def test_full_precision_input_gives_clean_areas(tmp_path: Path) -> None:
    """Units shrunk by 0.4 m and moved by up to 5 cm (a function of each vertex, so rings stay
    closed): full-precision coordinates and sliver gaps of about 0.8 m between all neighbours, as
    exported GIS layers often have."""
    units = gpd.read_file(ROOT / "boundaries" / "lsoa2011_cambs_peterborough.geojson").to_crs("EPSG:27700")
    shrunk = shapely.buffer(np.asarray(units.geometry.array), -0.4, join_style="mitre")
    units = units.set_geometry(
        [shapely.transform(g, lambda xy: xy + 0.05 * np.sin(7.3 * xy[:, ::-1])) for g in shrunk], crs="EPSG:27700"
    )
    assert shapely.is_valid(np.asarray(units.geometry.array)).all()
    units.to_file(tmp_path / "units.gpkg", driver="GPKG")
    text = (ROOT / "configs" / "cambridgeshire-peterborough.toml").read_text()
    boundaries = (ROOT / "boundaries").as_posix()
    text = text.replace('"../boundaries/lsoa2011_cambs_peterborough.geojson"', '"units.gpkg"')
    text = text.replace('"../boundaries/', f'"{boundaries}/').replace('dir = "../out/', 'dir = "out/')
    config = tmp_path / "full.toml"
    config.write_text(text)
    out = tmp_path / "out"
    _propose(config, out, "22")
    for frame, where in (
        (gpd.read_file(out / "areas.geojson"), "areas.geojson"),
        (gpd.read_file(out / "plan.gpkg", layer="areas"), "plan.gpkg"),
    ):
        _assert_clean(frame, where)
        assert (frame["n_parts"] == 1).mean() > 0.8
        # Compactness is read from the clean outline, not from slivers (the shipped data give ~0.2).
        assert frame["polsby_popper"].mean() > 0.15
    with (out / "areas.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 22 and all(r["name"] and r["units"] for r in rows)


# --------------------------------------------------------------------------- small hand-made cases


def _squares(gap_m: float) -> gpd.GeoDataFrame:
    """Three 100 m squares in a row, the first two in area A with a gap of gap_m, the third in B."""
    boxes = [shapely.box(0, 0, 100, 100), shapely.box(100 + gap_m, 0, 200, 100), shapely.box(200, 0, 300, 100)]
    return gpd.GeoDataFrame({"area_id": ["A", "A", "B"]}, geometry=boxes, crs="EPSG:27700", index=["a", "b", "c"])


def test_gap_narrower_than_snap_is_closed_without_reaching_into_the_neighbour() -> None:
    outlines = dissolve_areas(_squares(0.6), snap_m=1.0)
    a = outlines.loc["A"]
    assert a.geom_type == "Polygon" and a.is_valid
    assert a.area == pytest.approx(200 * 100, rel=1e-6)  # the 0.6 m gap is filled
    assert outlines.loc["B"].area == pytest.approx(100 * 100)
    assert a.intersection(outlines.loc["B"]).area == pytest.approx(0.0, abs=1e-6)


def test_gap_wider_than_snap_stays_two_parts() -> None:
    a = dissolve_areas(_squares(5.0), snap_m=1.0).loc["A"]
    assert a.geom_type == "MultiPolygon" and len(a.geoms) == 2


def test_clean_polygonal_drops_lines_and_points() -> None:
    mixed = shapely.GeometryCollection(
        [shapely.box(0, 0, 1, 1), shapely.LineString([(2, 2), (3, 3)]), shapely.Point(5, 5)]
    )
    assert clean_polygonal(mixed).equals(shapely.box(0, 0, 1, 1))
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # self-intersecting
    fixed = clean_polygonal(bowtie)
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon" and fixed.area == pytest.approx(2.0)


def test_pieces_meeting_at_a_corner_or_within_snap_are_joined() -> None:
    corner = gpd.GeoDataFrame(
        {"area_id": ["A", "A"]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 100, 200, 200)],
        crs="EPSG:27700",
        index=["a", "b"],
    )
    joined = dissolve_areas(corner, snap_m=1.0).loc["A"]
    assert joined.geom_type == "Polygon" and joined.is_valid  # not two squares touching at a point
    assert joined.area == pytest.approx(20_000, rel=1e-3)  # the bridge is tiny
    near = dissolve_areas(_squares(5.0), snap_m=10.0).loc["A"]
    assert near.geom_type == "Polygon"  # a 5 m gap is within the 10 m snap distance


def _river(width_m: float, *, joined: bool) -> gpd.GeoDataFrame:
    """Area A on both banks of an uncovered channel ``width_m`` wide, 400 m long, that opens onto
    area B's unit on the left (a tidal river clipped out of the units). With ``joined`` A's banks
    meet beyond the channel's end; without, the channel cuts A in two."""
    top = 40 + width_m
    boxes = [shapely.box(0, 0, 400, 40), shapely.box(0, top, 400, top + 40), shapely.box(-100, 0, 0, top + 40)]
    codes, areas = ["south", "north", "b"], ["A", "A", "B"]
    if joined:
        boxes.append(shapely.box(400, 0, 440, top + 40))
        codes.append("end")
        areas.append("A")
    return gpd.GeoDataFrame({"area_id": areas}, geometry=boxes, crs="EPSG:27700", index=codes)


def test_channel_between_an_areas_own_banks_is_part_of_its_outline() -> None:
    units = _river(30.0, joined=True)
    outlines = dissolve_areas(units, snap_m=10.0)
    a = outlines.loc["A"]
    own = shapely.union_all(units.geometry[units["area_id"] == "A"].to_numpy())
    # The 30 x 400 m channel is filled: no slit drawn as a border through the area.
    assert a.geom_type == "Polygon" and not a.interiors
    assert a.area == pytest.approx(own.area + 30 * 400, rel=1e-6)
    assert a.length == pytest.approx(2 * (440 + 110), rel=1e-6)
    assert outlines.loc["B"].equals(units.geometry["b"])  # the neighbour is left as it is
    assert a.intersection(outlines.loc["B"]).area == pytest.approx(0.0, abs=1e-6)


def test_channel_wider_than_the_limit_or_cutting_an_area_in_two_stays_open() -> None:
    wide = _river(60.0, joined=True)
    a = dissolve_areas(wide, snap_m=10.0).loc["A"]
    assert a.area == pytest.approx(shapely.union_all(wide.geometry[wide["area_id"] == "A"].to_numpy()).area)
    cut = dissolve_areas(_river(30.0, joined=False), snap_m=10.0).loc["A"]
    assert cut.geom_type == "MultiPolygon" and len(cut.geoms) == 2  # a real gap, reported as two parts
    assert cut.area == pytest.approx(2 * 400 * 40, rel=1e-6)


def test_a_hairline_crack_is_sealed_and_a_real_slit_is_not() -> None:
    # A unit with a slit 0.1 mm wide and 80 m long from its top edge (what a union of pieces that
    # should meet exactly can leave), one with a slit 2 m wide, and area B's unit beside them.
    def slit(x0: float, width: float) -> shapely.Polygon:
        box = shapely.box(x0, 0, x0 + 100, 100)
        return box.difference(shapely.box(x0 + 50 - width / 2, 20, x0 + 50 + width / 2, 100))

    units = gpd.GeoDataFrame(
        {"area_id": ["A", "C", "B"]},
        geometry=[slit(0, 1e-4), slit(300, 2.0), shapely.box(100, 0, 200, 100)],
        crs="EPSG:27700",
        index=["a", "c", "b"],
    )
    outlines = dissolve_areas(units, snap_m=0.0)
    assert outlines.loc["A"].length == pytest.approx(400, abs=0.01)  # the crack's 160 m are gone
    assert outlines.loc["C"].length == pytest.approx(400 + 160, abs=0.01)  # 2 m is a real gap
    assert outlines.loc["A"].intersection(outlines.loc["B"]).area == pytest.approx(0, abs=1e-6)


def test_areas_csv_lists_units_and_places_with_residents() -> None:
    plan = build_plan()
    plan.units["places"] = ["Ashby" if code == "R0C0" else "" for code in plan.units.index]
    rows = list(csv.DictReader(areas_csv_text(plan).splitlines()))
    assert [r["area_id"] for r in rows] == list(plan.areas.index)
    assert list(rows[0]) == list(AREAS_CSV_COLUMNS)
    for row in rows:
        listed = [int(part.rsplit("(", 1)[1].rstrip(")")) for part in row["units"].split("; ")]
        assert sum(listed) == int(row["population"])  # every member unit, with its residents
        assert listed == sorted(listed, reverse=True)
    a1 = next(r for r in rows if r["area_id"] == "A1")
    # A1's other units list no place and lie within 2 km of Ashby's: they count under it, as the name counts them.
    assert a1["places"] == f"Ashby ({a1['population']})" and a1["dominant_pcn_name"] == "West PCN"


def test_areas_csv_shows_a_formula_like_name_as_text() -> None:
    # A names file anyone can edit: "=cmd|x" must not run as a formula when areas.csv opens in Excel.
    plan = build_plan()
    plan.areas["name"] = ["=cmd|x", "-1", "@here", "Ely"][: len(plan.areas)]
    names = [r["name"] for r in csv.DictReader(areas_csv_text(plan).splitlines())]
    assert names == ["'=cmd|x", "-1", "'@here", "Ely"][: len(plan.areas)]


def test_gaps_the_areas_enclose_are_measured_less_any_area_inside_them() -> None:
    # Eight 1 km squares round an empty middle, with a 400 m square area inside it: the gap is
    # the middle less that area (840,000 m²); a 20 x 20 m pinhole in a corner is a sliver, ignored.
    ring = [shapely.box(x * 1000, y * 1000, x * 1000 + 1000, y * 1000 + 1000) for x in range(3) for y in range(3)]
    del ring[4]
    ring[0] = ring[0].difference(shapely.box(100, 100, 120, 120))
    island = shapely.box(1300, 1300, 1700, 1700)
    assert uncovered_gaps(gpd.GeoSeries([*ring, island])) == [pytest.approx(840_000.0)]
    assert uncovered_gaps(gpd.GeoSeries(ring[:3])) == []  # a strip of squares encloses nothing
