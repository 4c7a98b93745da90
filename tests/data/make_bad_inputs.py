"""Make the small input files in tests/data: one broken file per failure mode, plus fixtures.

Run once from anywhere (``python tests/data/make_bad_inputs.py``); the outputs are kept in the
repository next to this script, so tests never depend on running it. Re-running rewrites them.

Every units file is a 2 x 2 grid of 1 km squares at Cambridge in British National Grid
(EPSG:27700) with fields ``code``, ``name``, ``pop``, ``lad``, rows numbered 1-4 from the
bottom-left, row-major, and exactly one kind of damage:

========================================  =====================================================
file                                      damage
========================================  =====================================================
units_good.geojson                        none (the reference)
units_missing_field.geojson               population field is called ``POP``, not ``pop``
units_text_population.geojson             row 2 population is the text ``"12,4O0"``
units_negative_population.geojson         row 2 population is -40
units_fractional_population.geojson       row 2 population is 1600.5
units_zero_population.geojson             row 4 population is 0 (a warning, not an error)
units_duplicate_code.geojson              rows 1 and 3 are both ``E01000001``
units_blank_code.geojson                  row 2 code is ``""``, row 4 code is null
units_bowtie.geojson                      row 3 is a self-intersecting "bow-tie" polygon
units_empty_geometry.geojson              row 2 has null geometry, row 4 an empty polygon
units_points.geojson                      every feature is a Point
units_overlap.geojson                     row 2 slides 100 m onto row 1: 100,000 m² overlap
units_no_crs.shp (.shx, .dbf)             Shapefile without its .prj: no CRS at all
units_bng_without_crs.geojson             BNG metres but no ``crs`` member, so read as WGS84
ons_parishes_fixture.gpkg                 FIXTURE, made-up geometry in the official ONS
                                          "Parishes and Non Civil Parished Areas (Dec 2021)"
                                          schema (PARNCP21CD, PARNCP21NM, LAD21CD, LAD21NM),
                                          no population; layer ``parishes`` plus a second
                                          layer ``centroids`` to exercise layer choice
ons_parish_population_fixture.csv         population for those six codes (parish_code,
                                          residents)
population_unknown_code.csv               the six codes plus E04099999, which is not a unit
population_missing_code.csv               E43000001 has no row
practices_bad_coordinates.csv             row 2 easting blank, row 3 northing "abc",
                                          row 4 longitude/latitude instead of metres
practices_duplicate_code.csv              rows 1 and 3 are both D81001
practices_good.csv                        two practices in two PCNs on the units_good.geojson
                                          grid (a good fixture, for the bad-input corpus)
pcn_shares_good.csv                       shares for the units of units_good.geojson
pcn_shares_bad.csv                        row 2 unknown unit, row 3 share "abc", row 4 share
                                          -0.2, rows 5 and 6 repeat a (unit, PCN) pair
========================================  =====================================================
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

HERE = Path(__file__).resolve().parent
X0, Y0, SIDE = 545_000, 258_000, 1_000
BNG_CRS_MEMBER = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}


def square(col: int, row: int, shift_x: float = 0.0) -> dict[str, Any]:
    x, y = X0 + col * SIDE + shift_x, Y0 + row * SIDE
    ring = [[x, y], [x + SIDE, y], [x + SIDE, y + SIDE], [x, y + SIDE], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def grid_features() -> list[dict[str, Any]]:
    """Rows 1-4 of the reference 2 x 2 grid (bottom-left, bottom-right, top-left, top-right)."""
    features = []
    for i, (col, row) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        props = {"code": f"E0100000{i + 1}", "name": f"Test unit {i + 1}", "pop": 1500 + 100 * i, "lad": "E07000008"}
        features.append({"type": "Feature", "properties": props, "geometry": square(col, row)})
    return features


def write_geojson(name: str, features: list[dict[str, Any]], *, crs: bool = True) -> None:
    collection: dict[str, Any] = {"type": "FeatureCollection", "name": Path(name).stem}
    if crs:
        collection["crs"] = BNG_CRS_MEMBER
    collection["features"] = features
    text = json.dumps(collection, indent=1)
    (HERE / name).write_text(text + "\n", encoding="utf-8")


def write_csv(name: str, header: list[str], rows: list[list[object]]) -> None:
    with (HERE / name).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def make_units_files() -> None:
    write_geojson("units_good.geojson", grid_features())

    features = grid_features()
    for f in features:
        f["properties"]["POP"] = f["properties"].pop("pop")
    write_geojson("units_missing_field.geojson", features)

    features = grid_features()
    for f in features:  # a text field throughout, as a spreadsheet export would make it
        f["properties"]["pop"] = str(f["properties"]["pop"])
    features[1]["properties"]["pop"] = "12,4O0"
    write_geojson("units_text_population.geojson", features)

    for name, value in (("negative", -40), ("fractional", 1600.5)):
        features = grid_features()
        features[1]["properties"]["pop"] = value
        write_geojson(f"units_{name}_population.geojson", features)

    features = grid_features()
    features[3]["properties"]["pop"] = 0
    write_geojson("units_zero_population.geojson", features)

    features = grid_features()
    features[2]["properties"]["code"] = "E01000001"
    write_geojson("units_duplicate_code.geojson", features)

    features = grid_features()
    features[1]["properties"]["code"] = ""
    features[3]["properties"]["code"] = None
    write_geojson("units_blank_code.geojson", features)

    features = grid_features()
    x, y = X0, Y0 + SIDE
    features[2]["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + SIDE, y + SIDE], [x + SIDE, y], [x, y + SIDE], [x, y]]],
    }
    write_geojson("units_bowtie.geojson", features)

    features = grid_features()
    features[1]["geometry"] = None
    features[3]["geometry"] = {"type": "Polygon", "coordinates": []}
    write_geojson("units_empty_geometry.geojson", features)

    features = grid_features()
    for f in features:
        f["geometry"] = {"type": "Point", "coordinates": f["geometry"]["coordinates"][0][0]}
    write_geojson("units_points.geojson", features)

    features = grid_features()
    features[1]["geometry"] = square(1, 0, shift_x=-100)
    write_geojson("units_overlap.geojson", features)

    write_geojson("units_bng_without_crs.geojson", grid_features(), crs=False)

    frame = gpd.GeoDataFrame.from_features(grid_features(), crs=None)
    for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        (HERE / f"units_no_crs{suffix}").unlink(missing_ok=True)
    frame.to_file(HERE / "units_no_crs.shp", engine="pyogrio")
    (HERE / "units_no_crs.cpg").unlink(missing_ok=True)
    (HERE / "units_no_crs.prj").unlink(missing_ok=True)


ONS_PARISHES = [
    # code, name, district code, district name -- made-up geometry, real-looking schema
    ("E04001601", "Fixtureton", "E07000012", "South Cambridgeshire"),
    ("E04001602", "Little Fixture", "E07000012", "South Cambridgeshire"),
    ("E04001603", "Great Fixture", "E07000012", "South Cambridgeshire"),
    ("E43000001", "Testbridge, unparished area", "E07000008", "Cambridge"),
    ("E04001604", "Fixture St Mary", "E07000011", "Huntingdonshire"),
    ("E04001605", "Fixture Fen", "E07000011", "Huntingdonshire"),
]
ONS_POPULATION = [3100, 850, 4200, 24500, 1900, 640]


def make_ons_fixture() -> None:
    cells = [(col, row) for row in range(2) for col in range(3)]
    geoms = [shapely.geometry.shape(square(col, row)) for col, row in cells]
    frame = gpd.GeoDataFrame(
        {
            "PARNCP21CD": [p[0] for p in ONS_PARISHES],
            "PARNCP21NM": [p[1] for p in ONS_PARISHES],
            "LAD21CD": [p[2] for p in ONS_PARISHES],
            "LAD21NM": [p[3] for p in ONS_PARISHES],
        },
        geometry=geoms,
        crs="EPSG:27700",
    )
    target = HERE / "ons_parishes_fixture.gpkg"
    target.unlink(missing_ok=True)
    frame.to_file(target, layer="parishes", engine="pyogrio")
    centroids = frame[["PARNCP21CD"]].set_geometry(frame.centroid)
    centroids.to_file(target, layer="centroids", engine="pyogrio")

    rows = [[code, pop] for (code, *_), pop in zip(ONS_PARISHES, ONS_POPULATION, strict=True)]
    write_csv("ons_parish_population_fixture.csv", ["parish_code", "residents"], rows)
    write_csv("population_unknown_code.csv", ["parish_code", "residents"], [*rows, ["E04099999", 75]])
    write_csv("population_missing_code.csv", ["parish_code", "residents"], [r for r in rows if r[0] != "E43000001"])


def make_table_files() -> None:
    header = ["practice_code", "practice_name", "pcn_code", "pcn_name", "easting", "northing"]
    good = ["D81001", "FIXTURE SURGERY", "U00001", "FIXTURE PCN", 545500, 258500]
    write_csv(
        "practices_bad_coordinates.csv",
        header,
        [
            good,
            ["D81002", "BLANK EASTING SURGERY", "U00001", "FIXTURE PCN", "", 258500],
            ["D81003", "TEXT NORTHING SURGERY", "U00001", "FIXTURE PCN", 546500, "abc"],
            ["D81004", "LAT LON SURGERY", "U00002", "OTHER PCN", 0.137179, 52.192254],
        ],
    )
    write_csv(
        "practices_good.csv",
        header,
        [good, ["D81002", "SECOND SURGERY", "U00002", "SECOND PCN", 546500, 259500]],
    )
    write_csv(
        "practices_duplicate_code.csv",
        header,
        [good, ["D81002", "SECOND SURGERY", "U00001", "FIXTURE PCN", 546500, 258500], [*good[:1], "COPY", *good[2:]]],
    )
    shares_header = ["unit_code", "pcn_code", "share"]
    write_csv(
        "pcn_shares_good.csv",
        shares_header,
        [
            ["E01000001", "U00001", 0.8],
            ["E01000001", "U00002", 0.2],
            ["E01000002", "U00001", 1],
            ["E01000003", "U00002", 1],
            ["E01000004", "U00002", 1],
        ],
    )
    write_csv(
        "pcn_shares_bad.csv",
        shares_header,
        [
            ["E01000001", "U00001", 1],
            ["E01999999", "U00001", 1],
            ["E01000002", "U00001", "abc"],
            ["E01000003", "U00002", -0.2],
            ["E01000004", "U00002", 0.5],
            ["E01000004", "U00002", 0.5],
        ],
    )


if __name__ == "__main__":
    make_units_files()
    make_ons_fixture()
    make_table_files()
    print(f"wrote test inputs to {HERE}")
