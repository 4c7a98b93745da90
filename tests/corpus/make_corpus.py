"""Write the data files of the bad-input corpus (the configs and expected.txt are kept by hand).

Run once from anywhere (``python tests/corpus/make_corpus.py``); the files are kept in the
repository, so the tests never depend on running it. Re-running rewrites them byte for byte.

Each case folder gets only the damaged file(s) it needs; cases whose damage is in the config
alone point at the shared good fixtures in ``tests/data`` (``units_good.geojson``: a 2 x 2 grid
of 1 km squares at Cambridge, codes E01000001-4, 1,500-1,800 residents each; the ONS-schema
parish fixture; ``practices_good.csv``). Units files here reuse that grid (``grid_features``
from ``tests/data/make_bad_inputs.py``) with one kind of damage, so a row number in a message
always means the same square.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("make_bad_inputs", HERE.parent / "data" / "make_bad_inputs.py")
assert _spec is not None and _spec.loader is not None
_bad = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bad)

grid_features: Callable[[], list[dict[str, Any]]] = _bad.grid_features
square: Callable[..., dict[str, Any]] = _bad.square
X0, Y0, SIDE = _bad.X0, _bad.Y0, _bad.SIDE
PRACTICE_HEADER = ["practice_code", "practice_name", "pcn_code", "pcn_name", "easting", "northing"]
ONS_CODES = [p[0] for p in _bad.ONS_PARISHES]
ONS_POPULATION = list(_bad.ONS_POPULATION)

WRITERS: dict[str, Callable[[Path], None]] = {}


def case(name: str) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    """Register a writer for ``tests/corpus/<name>/``."""

    def register(writer: Callable[[Path], None]) -> Callable[[Path], None]:
        WRITERS[name] = writer
        return writer

    return register


# --------------------------------------------------------------------------- writers


def write_geojson(path: Path, features: list[dict[str, Any]], *, crs: str | None = "EPSG::27700") -> None:
    """A FeatureCollection, one feature per line (small and diff-friendly)."""
    head: dict[str, Any] = {"type": "FeatureCollection", "name": path.stem}
    if crs is not None:
        head["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:{crs}"}}
    lines = [json.dumps(head)[:-1] + ', "features": [']
    lines += [json.dumps(f) + ("," if i < len(features) - 1 else "") for i, f in enumerate(features)]
    lines.append("]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_csv(path: Path, header: list[str], rows: list[list[object]], *, delimiter: str = ",") -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def shifted(geometry: dict[str, Any], transform: Callable[[float, float], list[float]]) -> dict[str, Any]:
    """Copy a Polygon geometry with every coordinate passed through ``transform``."""
    out = copy.deepcopy(geometry)
    out["coordinates"] = [[transform(x, y) for x, y in ring] for ring in out["coordinates"]]
    return out


# --------------------------------------------------------------------------- units files


@case("units-empty-file")
def _(folder: Path) -> None:
    (folder / "units.geojson").write_bytes(b"")  # a failed export or a copy that was cut short


@case("units-no-features")
def _(folder: Path) -> None:
    write_geojson(folder / "units.geojson", [])  # exported with "selected features only" and none selected


@case("units-csv-not-spatial")
def _(folder: Path) -> None:
    rows = [[f["properties"][k] for k in ("code", "name", "pop", "lad")] for f in grid_features()]
    write_csv(folder / "units.csv", ["code", "name", "pop", "lad"], rows)  # the attribute table, no shapes


@case("units-not-utf8")
def _(folder: Path) -> None:
    features = grid_features()
    features[1]["properties"]["name"] = "Caf\u00e9 Ward"
    write_geojson(folder / "units.geojson", features)
    path = folder / "units.geojson"  # saved as Latin-1 by an editor that does not ask
    path.write_bytes(path.read_text(encoding="utf-8").replace("\\u00e9", "\u00e9").encode("latin-1"))


@case("units-shapefile-without-sidecars")
def _(folder: Path) -> None:
    frame = gpd.GeoDataFrame.from_features(grid_features(), crs="EPSG:27700")
    scratch = folder / "_scratch"
    scratch.mkdir(exist_ok=True)
    frame.to_file(scratch / "units.shp", engine="pyogrio")
    (folder / "units.shp").write_bytes((scratch / "units.shp").read_bytes())  # only the .shp was copied
    for part in scratch.iterdir():
        part.unlink()
    scratch.rmdir()


@case("units-code-trailing-space")
def _(folder: Path) -> None:
    features = grid_features()
    features[2]["properties"]["code"] = "E01000001 "  # typed by hand in Excel, with a trailing space
    write_geojson(folder / "units.geojson", features)


@case("units-code-lower-case")
def _(folder: Path) -> None:
    features = grid_features()
    features[2]["properties"]["code"] = "e01000001"  # typed by hand over another row's code
    write_geojson(folder / "units.geojson", features)


@case("units-population-thousands-separator")
def _(folder: Path) -> None:
    features = grid_features()
    for f in features:  # Excel "Number" format with separators, exported as text
        f["properties"]["pop"] = f"{f['properties']['pop']:,}"
    write_geojson(folder / "units.geojson", features)


@case("units-population-blank")
def _(folder: Path) -> None:
    features = grid_features()
    features[1]["properties"]["pop"] = None
    features[3]["properties"]["pop"] = None
    write_geojson(folder / "units.geojson", features)


@case("units-population-all-zero")
def _(folder: Path) -> None:
    features = grid_features()
    for f in features:  # a join in QGIS that matched nothing, leaving 0 everywhere
        f["properties"]["pop"] = 0
    write_geojson(folder / "units.geojson", features)


@case("units-population-spreadsheet-error")
def _(folder: Path) -> None:
    features = grid_features()
    for f in features:
        f["properties"]["pop"] = str(f["properties"]["pop"])
    features[0]["properties"]["pop"] = "#N/A"  # a VLOOKUP that found nothing
    features[3]["properties"]["pop"] = "#VALUE!"
    write_geojson(folder / "units.geojson", features)


@case("units-population-yes-no")
def _(folder: Path) -> None:
    features = grid_features()
    features[1]["properties"]["pop"] = True  # a "has residents" tick box joined in place of the count
    write_geojson(folder / "units.geojson", features)


@case("units-multipolygon-collapsed-part")
def _(folder: Path) -> None:
    features = grid_features()
    x, y = X0 + 2 * SIDE + 10, Y0 + 10  # a sliver left by clipping, collapsed to a line
    sliver = [[x, y], [x + 5, y], [x, y], [x, y]]
    features[1]["geometry"] = {
        "type": "MultiPolygon",
        "coordinates": [features[1]["geometry"]["coordinates"], [sliver]],
    }
    write_geojson(folder / "units.geojson", features)


@case("units-lonlat-labelled-bng")
def _(folder: Path) -> None:
    features = grid_features()
    for f in features:  # degrees near Cambridge, but the file says EPSG:27700
        f["geometry"] = shifted(
            f["geometry"], lambda x, y: [0.10 + 0.015 * (x - X0) / SIDE, 52.20 + 0.009 * (y - Y0) / SIDE]
        )
    write_geojson(folder / "units.geojson", features)


@case("units-bng-labelled-web-mercator")
def _(folder: Path) -> None:
    write_geojson(folder / "units.geojson", grid_features(), crs="EPSG::3857")  # metres, but the wrong CRS


@case("units-island-refused")
def _(folder: Path) -> None:
    features = grid_features()
    island = {"code": "E01000005", "name": "Test island", "pop": 900, "lad": "E07000008"}
    features.append({"type": "Feature", "properties": island, "geometry": square(5, 0)})
    write_geojson(folder / "units.geojson", features)


@case("units-district-blank")
def _(folder: Path) -> None:
    features = grid_features()
    features[1]["properties"]["lad"] = ""
    features[3]["properties"]["lad"] = None
    write_geojson(folder / "units.geojson", features)


@case("units-ring-not-closed")
def _(folder: Path) -> None:
    features = grid_features()
    ring = features[2]["geometry"]["coordinates"][0]
    features[2]["geometry"]["coordinates"][0] = ring[:-1]  # hand-edited GeoJSON: the closing point lost
    write_geojson(folder / "units.geojson", features)


@case("units-population-beyond-any-unit")
def _(folder: Path) -> None:
    features = grid_features()
    features[1]["properties"]["pop"] = 2**64  # an area in square metres or an id joined as the population
    write_geojson(folder / "units.geojson", features)


# --------------------------------------------------------------------------- population CSVs


def ons_rows() -> list[list[object]]:
    return [[code, pop] for code, pop in zip(ONS_CODES, ONS_POPULATION, strict=True)]


@case("population-csv-typo-code")
def _(folder: Path) -> None:
    rows = ons_rows()
    rows[3][0] = "E4300001"  # one zero short
    write_csv(folder / "population.csv", ["parish_code", "residents"], rows)


@case("population-csv-codes-lower-case")
def _(folder: Path) -> None:
    rows = [[str(code).lower(), pop] for code, pop in ons_rows()]  # a database export
    write_csv(folder / "population.csv", ["parish_code", "residents"], rows)


@case("population-csv-thousands-separator")
def _(folder: Path) -> None:
    rows = ons_rows()
    rows[2][1], rows[3][1] = "4,200", "24,500"
    write_csv(folder / "population.csv", ["parish_code", "residents"], rows)


@case("population-csv-duplicate-code")
def _(folder: Path) -> None:
    rows = ons_rows()
    rows.append([ONS_CODES[1], 850])  # pasted twice
    write_csv(folder / "population.csv", ["parish_code", "residents"], rows)


@case("population-csv-semicolon")
def _(folder: Path) -> None:
    write_csv(folder / "population.csv", ["parish_code", "residents"], ons_rows(), delimiter=";")


@case("population-csv-unicode-text")
def _(folder: Path) -> None:
    lines = ["parish_code\tresidents", *(f"{code}\t{pop}" for code, pop in ons_rows())]
    (folder / "population.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-16"))  # Excel "Unicode Text"


@case("population-csv-saved-as-xlsx")
def _(folder: Path) -> None:
    import zipfile

    # A workbook renamed to .csv: a zip archive, as every .xlsx is (its parts kept minimal here).
    with zipfile.ZipFile(folder / "population.csv", "w") as book:
        info = zipfile.ZipInfo("[Content_Types].xml", date_time=(2024, 1, 1, 0, 0, 0))
        book.writestr(info, '<?xml version="1.0"?><Types/>')


@case("population-csv-empty")
def _(folder: Path) -> None:
    (folder / "population.csv").write_bytes(b"")


def point_rows() -> list[list[object]]:
    """One point at the centre of each cell of units_good.geojson (1 km squares from 545000, 258000)."""
    centres = [(545_500, 258_500), (546_500, 258_500), (545_500, 259_500), (546_500, 259_500)]
    return [[f"E0000000{i + 1}", x, y, 1500] for i, (x, y) in enumerate(centres)]


@case("population-points-lonlat-as-bng")
def _(folder: Path) -> None:
    rows = [
        [code, 0.2 + (x - 545_000) / 100_000, 52.2 + (y - 258_000) / 100_000, pop] for code, x, y, pop in point_rows()
    ]
    write_csv(folder / "points.csv", ["oa", "lon", "lat", "residents"], rows)


@case("population-points-text-population")
def _(folder: Path) -> None:
    rows = point_rows()
    rows[1][3] = "1,5OO"
    write_csv(folder / "points.csv", ["oa", "easting", "northing", "residents"], rows)


@case("population-points-all-zero")
def _(folder: Path) -> None:
    rows = [[code, x, y, 0] for code, x, y, _ in point_rows()]
    write_csv(folder / "points.csv", ["oa", "easting", "northing", "residents"], rows)


# --------------------------------------------------------------------------- GP practices


@case("practices-missing-columns")
def _(folder: Path) -> None:
    write_csv(folder / "practices.csv", ["practice_code", "pcn_code", "postcode"], [["D81001", "U00001", "CB1 1AA"]])


@case("practices-lat-lon-columns")
def _(folder: Path) -> None:
    header = ["practice_code", "practice_name", "pcn_code", "pcn_name", "latitude", "longitude"]
    rows = [
        ["D81001", "FIXTURE SURGERY", "U00001", "FIXTURE PCN", 52.1987, 0.1190],
        ["D81002", "SECOND SURGERY", "U00002", "OTHER PCN", 52.2070, 0.1420],
    ]
    write_csv(folder / "practices.csv", header, rows)


@case("practices-pcn-not-found")
def _(folder: Path) -> None:
    rows = [
        ["D81001", "FIXTURE SURGERY", "U00001", "FIXTURE PCN", 545500, 258500],
        ["D81002", "SECOND SURGERY", "#N/A", "#N/A", 546500, 259500],  # VLOOKUP found no PCN
    ]
    write_csv(folder / "practices.csv", PRACTICE_HEADER, rows)


@case("practices-semicolons")
def _(folder: Path) -> None:
    rows = [
        ["D81001", "FIXTURE SURGERY", "U00001", "FIXTURE PCN", 545500, 258500],
        ["D81002", "SMITH, JONES AND PARTNERS", "U00002", "OTHER PCN", 546500, 259500],  # a comma inside
    ]
    write_csv(folder / "practices.csv", PRACTICE_HEADER, rows, delimiter=";")  # European Excel


@case("practices-header-only")
def _(folder: Path) -> None:
    write_csv(folder / "practices.csv", PRACTICE_HEADER, [])  # exported with a filter that matched nothing


@case("practices-title-row")
def _(folder: Path) -> None:
    rows = [["D81001", "FIXTURE SURGERY", "U00001", "FIXTURE PCN", 545500, 258500]]
    write_csv(folder / "practices.csv", ["GP practices by PCN, 2024", "", "", "", "", ""], [PRACTICE_HEADER, *rows])


@case("practices-totals-row")
def _(folder: Path) -> None:
    rows = [
        ["D81001", "FIXTURE SURGERY", "U00001", "FIXTURE PCN", 545500, 258500],
        ["D81002", "SECOND SURGERY", "U00002", "SECOND PCN", 546500, 259500],
        ["Total", "", "", "", "", ""],  # a spreadsheet's sum row left at the bottom
    ]
    write_csv(folder / "practices.csv", PRACTICE_HEADER, rows)


@case("practices-header-repeated")
def _(folder: Path) -> None:
    rows = [
        ["D81001", "FIXTURE SURGERY", "U00001", "FIXTURE PCN", 545500, 258500],
        PRACTICE_HEADER,  # two exports pasted together
        ["D81002", "SECOND SURGERY", "U00002", "SECOND PCN", 546500, 259500],
    ]
    write_csv(folder / "practices.csv", PRACTICE_HEADER, rows)


@case("practices-easting-northing-swapped")
def _(folder: Path) -> None:
    rows = [
        ["D81001", "FIXTURE SURGERY", "U00001", "FIXTURE PCN", 258500, 545500],
        ["D81002", "SECOND SURGERY", "U00002", "OTHER PCN", 259500, 546500],
    ]
    write_csv(folder / "practices.csv", PRACTICE_HEADER, rows)


@case("output-names-csv-problems")
def _(folder: Path) -> None:
    rows = [["SDA-01", ""], ["SDA-02", "Ely"], ["SDA-02", "Soham"], ["SDA-03", "Ely"]]
    write_csv(folder / "names.csv", ["area_id", "name"], rows)


@case("output-names-csv-lock-name")
def _(folder: Path) -> None:
    write_csv(folder / "names.csv", ["area_id", "name"], [["SDA-01", "Ely"]])


# --------------------------------------------------------------------------- PCN shares


@case("pcn-shares-not-summing-to-one")
def _(folder: Path) -> None:
    rows = [
        ["E01000001", "U00001", 0.8],
        ["E01000001", "U00002", 0.2],
        ["E01000002", "U00001", 0.6],
        ["E01000002", "U00002", 0.6],  # 1.2 in all: a row counted twice
        ["E01000003", "U00002", 0.45],  # 0.45 in all: rows missing
        ["E01000004", "U00002", 1],
    ]
    write_csv(folder / "shares.csv", ["unit_code", "pcn_code", "share"], rows)


@case("pcn-shares-unknown-units")
def _(folder: Path) -> None:
    rows = [  # codes of another release (E02 MSOAs instead of E01 LSOAs)
        ["E02000001", "U00001", 1],
        ["E02000002", "U00001", 1],
        ["E02000003", "U00002", 1],
        ["E02000004", "U00002", 1],
    ]
    write_csv(folder / "shares.csv", ["unit_code", "pcn_code", "share"], rows)


@case("pcn-shares-missing-column")
def _(folder: Path) -> None:
    rows = [[f"E0100000{i}", "U00001", 1] for i in range(1, 5)]
    write_csv(folder / "shares.csv", ["lsoa_code", "pcn_code", "proportion"], rows)


# --------------------------------------------------------------------------- config files


@case("config-not-utf8")
def _(folder: Path) -> None:
    text = (
        "# Saved from Notepad as 'Unicode' (UTF-16), not UTF-8.\n"
        '[units]\npath = "../../data/units_good.geojson"\ncode_field = "code"\npopulation_field = "pop"\n'
    )
    (folder / "config.toml").write_bytes(text.encode("utf-16"))


@case("config-output-dir-is-file")
def _(folder: Path) -> None:
    (folder / "results").write_text("A file where the output folder should be.\n", encoding="utf-8")


# --------------------------------------------------------------------------- plan files (sda evaluate, sda repair)

#: The grid's two areas: the bottom row (E01000001-2) and the top row (E01000003-4).
PLAN_ROWS = [["E01000001", "SDA-01"], ["E01000002", "SDA-01"], ["E01000003", "SDA-02"], ["E01000004", "SDA-02"]]


@case("plan-unknown-code")
def _(folder: Path) -> None:
    rows = copy.deepcopy(PLAN_ROWS)
    rows[3][0] = "E0100004"  # a digit lost when typing
    write_csv(folder / "plan.csv", ["unit_code", "area_id"], rows)


@case("plan-codes-lower-case")
def _(folder: Path) -> None:
    rows = [[code.lower(), area] for code, area in PLAN_ROWS]  # retyped, or a database export
    write_csv(folder / "plan.csv", ["unit_code", "area_id"], rows)


@case("plan-unit-missing")
def _(folder: Path) -> None:
    write_csv(folder / "plan.csv", ["unit_code", "area_id"], [r for r in PLAN_ROWS if r[0] != "E01000003"])


@case("plan-unit-in-two-areas")
def _(folder: Path) -> None:
    write_csv(folder / "plan.csv", ["unit_code", "area_id"], [*PLAN_ROWS, ["E01000002", "SDA-02"]])


@case("plan-blank-area")
def _(folder: Path) -> None:
    rows = copy.deepcopy(PLAN_ROWS)
    rows[2][1] = ""
    write_csv(folder / "plan.csv", ["unit_code", "area_id"], rows)


@case("plan-no-area-column")
def _(folder: Path) -> None:
    write_csv(folder / "plan.csv", ["unit_code", "zone_name"], PLAN_ROWS)


@case("plan-geojson-unknown-code")
def _(folder: Path) -> None:
    features = grid_features()
    for feature, (code, area) in zip(features, PLAN_ROWS, strict=True):
        feature["properties"] = {"unit_code": code, "area_id": area}
    features[1]["properties"]["unit_code"] = "E01000020"
    write_geojson(folder / "plan.geojson", features)


@case("plan-geojson-no-features")
def _(folder: Path) -> None:
    write_geojson(folder / "plan.geojson", [])  # exported with 'Save only selected features', none selected


@case("plan-csv-unicode-text")
def _(folder: Path) -> None:
    lines = ["unit_code\tarea_id", *(f"{code}\t{area}" for code, area in PLAN_ROWS)]
    (folder / "plan.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-16"))  # Excel "Unicode Text"


@case("plan-csv-saved-as-xlsx")
def _(folder: Path) -> None:
    import zipfile

    # The plan saved from Excel as a workbook and named .csv: a zip archive, as every .xlsx is.
    with zipfile.ZipFile(folder / "plan.csv", "w") as book:
        info = zipfile.ZipInfo("[Content_Types].xml", date_time=(2024, 1, 1, 0, 0, 0))
        book.writestr(info, '<?xml version="1.0"?><Types/>')


def main() -> None:
    for name, writer in WRITERS.items():
        folder = HERE / name
        folder.mkdir(exist_ok=True)
        writer(folder)
    print(f"wrote the data files of {len(WRITERS)} corpus cases under {HERE}")


if __name__ == "__main__":
    main()
