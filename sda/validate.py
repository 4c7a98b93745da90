"""Data checks: look at what was read and return every problem found, never print or raise.

This module owns the rules a units file, a population table, a GP practice list and a PCN
shares table must meet. Each check returns a list of ``Finding`` objects whose ``message`` is a
complete line a planner can act on: it names the file, the row (1-based feature or data row,
header not counted) and/or the unit code, the field, what was found, what was expected and how
to fix it. Callers (``sda.io``) decide what to do with them: raise on errors, warn on warnings.
Checking everything before failing means one run shows all the bad rows, not just the first.

Checks are vectorised (shapely 2 array functions, one bulk STRtree query) so that 10,000 units
validate in seconds; Python loops run only over the rows that are actually wrong.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sda.codes import lost_case, lost_zeros, zeros_restored
from sda.config import UnitsConfig

__all__ = [
    "BNG_BOUNDS",
    "OVERLAP_TOLERANCE_M2",
    "OVERLAP_TOLERANCE_SHARE",
    "PRACTICE_COLUMNS",
    "PRACTICE_EASTING_RANGE",
    "PRACTICE_NORTHING_RANGE",
    "SHARE_SUM_TOLERANCE",
    "Finding",
    "as_code_strings",
    "check_pcn_shares",
    "check_population_table",
    "check_practices",
    "check_units",
    "is_placeholder",
    "parse_numbers",
]

#: Overlaps smaller than both of these are rounding noise, not an error.
OVERLAP_TOLERANCE_M2 = 1.0
OVERLAP_TOLERANCE_SHARE = 0.001  # of the smaller unit's area

#: Generous British National Grid extent (xmin, ymin, xmax, ymax), metres; anything outside is
#: a wrong CRS, not a place in Great Britain.
BNG_BOUNDS = (-100_000.0, -100_000.0, 800_000.0, 1_400_000.0)

#: Longitudes and latitudes of Great Britain, generously: degrees swapped into (latitude,
#: longitude) order land in the sea off Somalia, and are told apart by these.
GB_LONGITUDES, GB_LATITUDES = (-9.0, 2.5), (49.0, 61.0)

#: Practice coordinates must fall in this (easting, northing) range, metres. Nothing in Great
#: Britain lies within 1 km of the grid's origin axes, so smaller values are degrees, not metres.
PRACTICE_EASTING_RANGE = (1_000.0, 700_000.0)
PRACTICE_NORTHING_RANGE = (1_000.0, 1_300_000.0)

PRACTICE_COLUMNS = ("practice_code", "practice_name", "pcn_code", "pcn_name", "easting", "northing")

#: Shares given as fractions must add up to 1 within this, for each unit (rounding to 2 decimals
#: over several PCNs can be a few hundredths off).
SHARE_SUM_TOLERANCE = 0.05

#: What a spreadsheet leaves in a cell when a formula or lookup fails, or a placeholder for "none".
_PLACEHOLDERS = frozenset(
    {"#N/A", "N/A", "NA", "#REF!", "#VALUE!", "#NAME?", "#DIV/0!", "#NULL!", "NULL", "NONE", "NAN", "UNKNOWN", "-", "?"}
)

_POLYGON_TYPE_IDS = (3, 6)  # shapely type ids of Polygon and MultiPolygon
_FIX_GEOMETRY = (
    "Fix: in QGIS run Vector > Geometry Tools > Fix Geometries (make_valid) and point the config at the fixed file."
)


def _fix_crs(crs: str = "EPSG:27700") -> str:
    return (
        "Fix: in QGIS set the layer's CRS (Layer Properties > Source) and save a copy with "
        f"Export > Save Features As, or run: ogr2ogr -a_srs {crs} fixed.gpkg input_file "
        "(for a Shapefile, the CRS lives in the .prj file next to the .shp)."
    )


@dataclass(frozen=True)
class Finding:
    """One finding about an input (an error, or a warning about a recoverable oddity), ready to print.

    Attributes
    ----------
    message : the full line: file, row/code, field, found, expected, fix.
    severity : ``"error"`` (the run cannot go on) or ``"warning"`` (recoverable oddity).
    code : the unit (or practice) code concerned, when known.
    row : the row as the officer's tool shows it (``row_number``), when known.
    field : the field concerned, when there is one.
    """

    message: str
    severity: str = "error"
    code: str | None = None
    row: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        """Return the message, so a problem prints as its line."""
        return self.message


# --------------------------------------------------------------------------- shared helpers


#: File types officers open in a spreadsheet, where the header is row 1 and the first record row 2.
SPREADSHEET_SUFFIXES = (".csv", ".txt", ".tsv")


def row_number(path: object, position: int | np.integer) -> int:
    """The row number an officer finds the record at ``position`` (0-based) under.

    A CSV opens in Excel with its header as row 1, so the first record is row 2; a layer opens in
    QGIS's attribute table, which numbers features from 1. Messages use the number the officer's
    own tool shows, so that the row they correct is the row the message meant. A CSV's position
    counts the blank rows a spreadsheet or text editor shows too: ``sda.io.read_text_csv`` skips
    them but keeps each record's position as its index label, which is what to pass here.
    """
    return int(position) + (2 if str(path).lower().endswith(SPREADSHEET_SUFFIXES) else 1)


def _where(path: object, row: int | None = None, code: str | None = None, field: str | None = None) -> str:
    """Location prefix in the same shape as ``InputError``: ``file, row 3, code 'X', field 'pop'``."""
    where = f"{path}"
    if row is not None:
        where += f", row {row}"
    if code:
        where += f", code {code!r}"
    if field is not None:
        where += f", field {field!r}"
    return where


def _rows_text(rows: Iterable[int]) -> str:
    rows = list(rows)
    if len(rows) == 1:
        return f"row {rows[0]}"
    return "rows " + ", ".join(str(r) for r in rows[:-1]) + f" and {rows[-1]}"


def as_code_strings(values: pd.Series) -> pd.Series:
    """Turn a code column into stripped strings; missing values become ``""``.

    Whole-number floats (a numeric code column with a gap reads as float) lose their ``.0``.
    """
    out = []
    for value in values.tolist():
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out.append("")
        elif isinstance(value, float) and value.is_integer():
            out.append(str(int(value)))
        else:
            out.append(str(value).strip())
    return pd.Series(out, index=values.index, dtype=object)


def parse_numbers(values: pd.Series) -> pd.Series:
    """Read a column of numbers (populations, coordinates, shares) as floats, NaN where not a number.

    Text is accepted when it is a plain number (``" 1200 "``), so a population stored as a text
    field still loads; ``"12,400"`` and blanks become NaN (the checks say why).
    """
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(np.nan, index=values.index)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    text = values.map(lambda v: v.strip() if isinstance(v, str) else v)
    return pd.to_numeric(text.replace("", np.nan), errors="coerce").astype(float)


def _show(value: object) -> str:
    """Show a value as the user wrote it: text quoted, numbers plain (no numpy reprs)."""
    if isinstance(value, str):
        return repr(value)
    item = getattr(value, "item", None)
    return repr(item() if callable(item) else value)


def _population_hint(found: str) -> str:
    cleaned = found.strip().replace(",", "").replace(" ", "").replace("O", "0").replace("o", "0")
    if cleaned != found.strip() and cleaned.isdigit():
        return f" (did you mean {int(cleaned)}? remove thousands separators and letters)"
    if is_placeholder(found):
        return " (a spreadsheet error or placeholder: the formula or lookup that made it found nothing)"
    return ""


def is_placeholder(value: str) -> bool:
    """Whether a cell holds what a spreadsheet leaves when a formula or lookup failed (``#N/A``,
    ``NULL``, ``nan``...) rather than a value."""
    return value.strip().upper() in _PLACEHOLDERS


def _close_codes(code: str, candidates: Sequence[str]) -> list[str]:
    """Codes among ``candidates`` that look like a typo of ``code`` (same once spaces and case go, or close)."""
    squashed = code.replace(" ", "").upper()
    exact = [c for c in candidates if c.replace(" ", "").upper() == squashed]
    if exact:
        return exact[:1]
    similar = [c for c in candidates if abs(len(c) - len(code)) <= 2][:5000]  # keeps difflib cheap
    return difflib.get_close_matches(code, similar, n=1, cutoff=0.85)


def _population_problems(values: pd.Series, codes: pd.Series, path: object, field: str, fix: str) -> list[Finding]:
    """Problems with a column of populations: missing, text, negative, fractional, zero."""
    numbers = parse_numbers(values)
    missing = values.isna() | values.map(lambda v: isinstance(v, str) and not v.strip())
    not_number = numbers.isna() & ~missing
    finite = numbers.where(np.isfinite(numbers))
    negative = finite < 0
    fractional = (finite % 1 != 0) & finite.notna()
    infinite = numbers.notna() & finite.isna()
    zero = finite == 0
    expected = "expected a whole number >= 0"
    problems: list[Finding] = []
    for pos in np.flatnonzero((missing | not_number | negative | fractional | infinite).to_numpy()).tolist():
        found = values.iloc[pos]
        if missing.iloc[pos]:
            what = "the population is missing"
        elif not_number.iloc[pos]:
            what = f"got {str(found)!r}, which is not a number{_population_hint(str(found))}"
        elif infinite.iloc[pos] or fractional.iloc[pos]:
            what = f"got {_show(found)}, which is not a whole number"
        else:
            what = f"got {_show(found)}, a negative number"
        problems.append(_row_problem(path, pos, codes, field, f"{what}; {expected}. {fix}"))
    if len(values) > 1 and zero.all():
        message = (
            f"{_where(path, field=field)}: the population of every unit (all {len(values)} rows) "
            f"is 0; expected the number of residents. Fix: check that {field!r} is the population "
            "field and that the join or formula that filled it worked."
        )
        return [*problems, Finding(message, field=field)]
    for pos in np.flatnonzero(zero.to_numpy()).tolist():
        row = row_number(path, values.index[pos])
        message = (
            f"{_where(path, row, codes.iloc[pos], field)}: population is 0; the unit is "
            "kept (it adds no residents to its area). Check that this is not a mistake."
        )
        problems.append(Finding(message, "warning", codes.iloc[pos] or None, row, field))
    return problems


def _row_problem(path: object, pos: int | np.integer, codes: pd.Series, field: str | None, text: str) -> Finding:
    row = row_number(path, codes.index[pos])
    code = codes.iloc[int(pos)] or None
    return Finding(f"{_where(path, row, code, field)}: {text}", "error", code, row, field)


def code_problems(codes: pd.Series, path: object, field: str, what: str, raw: pd.Series | None = None) -> list[Finding]:
    """Blank and duplicate codes; a duplicate names every row that carries the code.

    ``raw`` is the column as read (before spaces are stripped), to say when two codes differ
    only by spaces around them.
    """
    problems: list[Finding] = []
    for pos in np.flatnonzero((codes == "").to_numpy()):
        problems.append(
            _row_problem(
                path,
                pos,
                codes,
                field,
                f"the code is blank; expected a unique {what} code in every row. "
                "Fix: fill in the code or delete the row.",
            )
        )
    values = codes.to_numpy()
    repeated = np.flatnonzero((codes != "").to_numpy() & codes.duplicated(keep=False).to_numpy())
    positions_by_code: dict[str, list[int]] = {}
    for pos in repeated:
        positions_by_code.setdefault(values[pos], []).append(int(pos))
    for code, positions in sorted(positions_by_code.items()):
        rows = [row_number(path, codes.index[pos]) for pos in positions]
        spaces = ""
        written = [str(raw.iloc[pos]) for pos in positions] if raw is not None else []
        if len(set(written)) > 1 and len({w.strip() for w in written}) == 1:
            spaces = f" (written {', '.join(map(repr, written))}: spaces before or after a code are ignored)"
        message = (
            f"{_where(path, code=code, field=field)}: the code appears in {_rows_text(rows)}{spaces}; "
            f"expected each {what} code once. Fix: give each row its own code, or merge the rows."
        )
        problems.append(Finding(message, "error", code, rows[0], field))
    return problems + _codes_differing_in_case(codes, path, field, what)


def _codes_differing_in_case(codes: pd.Series, path: object, field: str, what: str) -> list[Finding]:
    """Codes that differ only in case (``E01018000`` and ``e01018000``): a slip, not two units.

    sda matches codes exactly, but a spreadsheet lookup or a GIS join that ignores case would
    treat them as one, so a plan and its tables would disagree on which row is meant.
    """
    spellings: dict[str, dict[str, int]] = {}
    for pos, code in enumerate(codes.to_numpy()):
        if code != "":
            spellings.setdefault(str(code).upper(), {}).setdefault(str(code), int(pos))
    problems = []
    for group in spellings.values():
        if len(group) < 2:
            continue
        written = ", ".join(f"{code!r} (row {row_number(path, codes.index[pos])})" for code, pos in group.items())
        first_code, first_pos = next(iter(group.items()))
        message = (
            f"{_where(path, code=first_code, field=field)}: the codes {written} differ only in case; "
            f"expected each {what} code once, and a spreadsheet or GIS join that ignores case would "
            "take them for one. Fix: correct the case of the mistyped code, or merge the rows."
        )
        problems.append(Finding(message, "error", first_code, row_number(path, codes.index[first_pos]), field))
    return problems


def _coverage(table_codes: list[str], unit_codes: list[str]) -> tuple[list[str], list[str], bool]:
    """How a table keyed by unit code covers the units: the units it has no row for, its codes
    that are no unit (once each, in table order), and whether none of its codes matches at all
    (then both lists are empty: one summary message says it better than one per unit)."""
    units = set(unit_codes) - {""}
    in_table = set(table_codes) - {""}
    if in_table and not in_table & units:
        return [], [], True
    uncovered = [c for c in unit_codes if c and c not in in_table]
    unknown = list(dict.fromkeys(c for c in table_codes if c and c not in units))
    return uncovered, unknown, False


def _typo_hint(code: str, unknown: list[str], n_uncovered: int) -> str:
    """A sentence naming the table's code that looks like ``code`` mistyped, or with its leading
    zeros dropped (empty if none does)."""
    stripped = [u for u, meant in zeros_restored(unknown, [code]).items() if meant == code]
    if stripped:
        return f" The CSV has {stripped[0]!r}, this code without its leading zeros."
    near = _close_codes(code, unknown) if n_uncovered <= 100 else []
    return f" The CSV has {near[0]!r}, which matches no unit: is that it, mistyped?" if near else ""


def _lost_zeros_problems(path: object, field: str, table_codes: list[str], unit_codes: list[str]) -> list[Finding]:
    """One error when codes of the table match units only with their leading zeros put back, so
    that the cause and its fix come before the units it leaves without a row (only those count:
    a national table may hold both ``1234`` and a unit's ``01234``)."""
    units, in_table = set(unit_codes), set(table_codes)
    unmatched = [c for c in dict.fromkeys(table_codes) if c and c not in units]
    hint = lost_zeros(unmatched, [c for c in unit_codes if c not in in_table])
    if hint is None:
        return []
    why, fix = hint
    return [Finding(f"{_where(path, field=field)}:{why} Fix: {fix}", field=field)]


def _listed(codes: list[str]) -> str:
    """The first ten codes, quoted."""
    return ", ".join(repr(c) for c in codes[:10]) + (" ..." if len(codes) > 10 else "")


def _no_code_matches(
    path: object, field: str, table_codes: list[str], unit_codes: list[str], units_file: str
) -> Finding:
    """One error for a table none of whose codes is a unit (another geography or year), instead of one per unit."""

    def some(codes: list[str]) -> str:
        return ", ".join(map(repr, codes[:3])) + (" ..." if len(codes) > 3 else "")

    why, fix = (
        lost_zeros(table_codes, unit_codes)
        or lost_case(table_codes, unit_codes)
        or (
            "",
            "use a table for the same geography and year as the units file (e.g. 2011 or 2021 LSOA codes), "
            "or correct [units] code_field.",
        )
    )
    message = (
        f"{_where(path, field=field)}: none of the {len(table_codes)} codes in the CSV is a unit of "
        f"{units_file} (the CSV has {some(table_codes)}; the units are {some([c for c in unit_codes if c])}); "
        f"expected the codes of the units file.{why} Fix: {fix}"
    )
    return Finding(message, field=field)


# --------------------------------------------------------------------------- units


def check_units(raw: gpd.GeoDataFrame, cfg: UnitsConfig, path: object) -> list[Finding]:
    """Check a units layer as read from file, before any field is renamed.

    Parameters
    ----------
    raw
        The layer as read, one row per feature in file order (row 1 is the first feature).
    cfg
        Which fields hold the code and (optionally) the population.
    path
        The file, used only in messages.

    Returns
    -------
    list of Finding
        Errors for blank or duplicate codes, blank districts (when ``district_field`` is set),
        a warning for a district code given two names (when ``district_name_field`` is set too),
        missing, text, negative or fractional populations, missing, empty, invalid or
        non-polygon geometry, a missing or implausible CRS and overlapping units; warnings for
        units with zero population. Empty when all is well.
    """
    codes = as_code_strings(raw[cfg.code_field])
    problems = code_problems(codes, path, cfg.code_field, "unit", raw[cfg.code_field])
    if cfg.district_field:
        problems += _district_problems(raw[cfg.district_field], codes, path, cfg.district_field)
        if cfg.district_name_field:
            districts = as_code_strings(raw[cfg.district_field])
            problems += _name_clashes(
                districts, raw[cfg.district_name_field], path, "district", cfg.district_name_field
            )
    if cfg.population_field:
        fix = "Fix: correct the value in the file (a count of residents, digits only)."
        problems += _population_problems(raw[cfg.population_field], codes, path, cfg.population_field, fix)
    geometry_problems, usable = _geometry_problems(raw, codes, path)
    problems += geometry_problems
    if raw.crs is None:
        return [*problems, _missing_crs_problem(path)]
    with np.errstate(all="ignore"):  # a wrong CRS can send coordinates to infinity; reported below
        usable_bng = raw.geometry[usable].to_crs(27700)
    crs_problems = _extent_problems(raw, usable_bng, np.flatnonzero(usable), codes, path)
    if crs_problems:
        return problems + crs_problems
    return problems + _overlap_problems(usable_bng, codes[usable], np.flatnonzero(usable), path)


def _district_problems(values: pd.Series, codes: pd.Series, path: object, field: str) -> list[Finding]:
    """Rows with a blank district code (a unit outside every district breaks nesting and reports)."""
    text = (
        f"the district is blank; expected a district (LAD) code in every row, since [units] "
        f"district_field = {field!r}. Fix: fill it in (the district the unit lies in), or remove "
        "district_field from the config if districts are not needed."
    )
    blank = (as_code_strings(values) == "").to_numpy()
    return [_row_problem(path, pos, codes, field, text) for pos in np.flatnonzero(blank)]


def _geometry_problems(raw: gpd.GeoDataFrame, codes: pd.Series, path: object) -> tuple[list[Finding], np.ndarray]:
    """Missing, empty, non-polygon and invalid geometries; also returns the mask of usable rows."""
    geoms = np.asarray(raw.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms)
    empty = shapely.is_empty(geoms) & ~missing
    type_ids = shapely.get_type_id(geoms)
    polygonal = np.isin(type_ids, _POLYGON_TYPE_IDS)
    wrong_type = ~missing & ~empty & ~polygonal
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[polygonal & ~empty] = ~shapely.is_valid(geoms[polygonal & ~empty])
    problems: list[Finding] = []
    for pos in np.flatnonzero(missing | empty):
        found = "no geometry" if missing[pos] else "an empty geometry"
        problems.append(
            _row_problem(
                path,
                pos,
                codes,
                None,
                f"the unit has {found}; expected a polygon. Fix: draw its boundary, or delete the "
                "row and give its residents to a neighbour.",
            )
        )
    for pos in np.flatnonzero(wrong_type):
        kind = geoms[pos].geom_type
        fix = (
            # What a clip or an intersection saves: polygons (and maybe slivers of line) in one bag.
            "A clip or an intersection can save one. Fix: keep its polygons alone, as a (Multi)Polygon: in "
            "QGIS, 'Multipart to singleparts', delete the line and point parts, then 'Collect geometries' by "
            "the unit code."
            if kind == "GeometryCollection"
            else "Fix: use the boundary (polygon) layer, not a points or lines layer."
        )
        problems.append(
            _row_problem(path, pos, codes, None, f"got a {kind}; expected a Polygon or MultiPolygon. {fix}")
        )
    for pos in np.flatnonzero(invalid):
        reason = re.sub(r"\[(\S+) (\S+)\]$", r" at \1, \2", str(shapely.is_valid_reason(geoms[pos])))
        kind = "multipolygon" if type_ids[pos] == 6 else "polygon"
        problems.append(
            _row_problem(
                path, pos, codes, None, f"invalid {kind} ({reason}); expected a valid polygon. {_FIX_GEOMETRY}"
            )
        )
    usable = polygonal & ~empty & ~invalid
    return problems, usable


def _missing_crs_problem(path: object) -> Finding:
    message = (
        f"{path}: the file has no coordinate reference system (CRS); expected one such as "
        f"EPSG:27700 (British National Grid) or EPSG:4326 (longitude/latitude). {_fix_crs()}"
    )
    return Finding(message)


def _extent_problems(
    raw: gpd.GeoDataFrame, usable_bng: gpd.GeoSeries, positions: np.ndarray, codes: pd.Series, path: object
) -> list[Finding]:
    """Report units that cannot be in Great Britain under the declared CRS (a wrong CRS).

    Two mislabellings are named: metres (British National Grid eastings/northings) in a file
    that says it is another CRS, and degrees (longitude/latitude) in a file that says it is a
    projected CRS. Degrees read as metres would land within 200 m of the grid's origin, which is
    inside the generous extent but in the sea off Cornwall, so that case is tested on its own.
    """
    if len(usable_bng) == 0:
        return []
    bounds = shapely.bounds(np.asarray(usable_bng.array, dtype=object))
    xmin, ymin, xmax, ymax = BNG_BOUNDS
    inside = (
        np.isfinite(bounds).all(axis=1)
        & (bounds[:, 0] >= xmin)
        & (bounds[:, 1] >= ymin)
        & (bounds[:, 2] <= xmax)
        & (bounds[:, 3] <= ymax)
    )
    as_written = shapely.bounds(np.asarray(raw.geometry.iloc[positions].array, dtype=object))
    x_degrees = (np.abs(as_written[:, [0, 2]]) <= 180).all(axis=1)
    looks_degrees = x_degrees & (np.abs(as_written[:, [1, 3]]) <= 90).all(axis=1)
    if not raw.crs.is_geographic:
        inside &= ~looks_degrees
    if inside.all():
        return []
    outside = positions[~inside]
    first = outside[0]
    x, y = shapely.get_coordinates(raw.geometry.iloc[first])[0]
    crs_name = raw.crs.to_string()
    looks_bng = (
        (as_written[~inside, 0] >= PRACTICE_EASTING_RANGE[0])
        & (as_written[~inside, 2] <= PRACTICE_EASTING_RANGE[1])
        & (as_written[~inside, 1] >= PRACTICE_NORTHING_RANGE[0])
        & (as_written[~inside, 3] <= PRACTICE_NORTHING_RANGE[1])
    ).all()
    hint, likely = "", "EPSG:27700"
    xs, ys = as_written[~inside][:, [0, 2]], as_written[~inside][:, [1, 3]]
    latitude_first = bool(
        ((xs >= GB_LATITUDES[0]) & (xs <= GB_LATITUDES[1])).all()
        and ((ys >= GB_LONGITUDES[0]) & (ys <= GB_LONGITUDES[1])).all()
    )
    if raw.crs.is_geographic and latitude_first:
        message = (
            f"{path}: {len(outside)} unit(s) (first: {_rows_text([row_number(path, first)])}, code "
            f"{codes.iloc[first]!r}, first point {x:.6g}, {y:.6g}) have their coordinates as latitude, "
            "longitude; expected longitude first (x, then y), as GeoJSON and GIS files store them. Fix: in "
            "QGIS run Processing Toolbox > Vector geometry > 'Swap X and Y coordinates' on the layer and save "
            "the result."
        )
        return [Finding(message, code=codes.iloc[first] or None, row=row_number(path, first))]
    if looks_bng and raw.crs.to_epsg() != 27700:
        hint = (
            " The coordinates look like metres (British National Grid eastings/northings), so the "
            "CRS is probably EPSG:27700."
        )
    elif looks_degrees[~inside].all() and not raw.crs.is_geographic:
        hint = " The coordinates look like longitude/latitude degrees, so the CRS is probably EPSG:4326."
        likely = "EPSG:4326"
    message = (
        f"{path}: {len(outside)} unit(s) (first: {_rows_text([row_number(path, first)])}, code "
        f"{codes.iloc[first]!r}, first point {x:.6g}, {y:.6g}) are not in Great Britain when read "
        f"with the file's CRS {crs_name}; expected coordinates in Great Britain.{hint} {_fix_crs(likely)}"
    )
    return [Finding(message, code=codes.iloc[first] or None, row=row_number(path, first))]


def _overlap_problems(geoms_bng: gpd.GeoSeries, codes: pd.Series, positions: np.ndarray, path: object) -> list[Finding]:
    """Pairs of units whose interiors overlap by more than the tolerance (areas in EPSG:27700)."""
    geoms = np.asarray(geoms_bng.array, dtype=object)
    if len(geoms) < 2:
        return []
    rows = [row_number(path, pos) for pos in positions]
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    # Touching along an edge is fine; only interiors meeting (DE-9IM "T********") can overlap.
    interiors_meet = shapely.relate_pattern(geoms[left], geoms[right], "T********")
    left, right = left[interiors_meet], right[interiors_meet]
    overlap_m2 = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    smaller_m2 = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
    tolerance = np.maximum(OVERLAP_TOLERANCE_M2, OVERLAP_TOLERANCE_SHARE * smaller_m2)
    code_values = codes.to_numpy()
    problems: list[Finding] = []
    for i in np.flatnonzero(overlap_m2 > tolerance):
        a, b = left[i], right[i]
        message = (
            f"{path}: units {code_values[a]!r} (row {rows[a]}) and {code_values[b]!r} (row {rows[b]}) "
            f"overlap by {overlap_m2[i]:,.0f} m²; expected units that do not overlap, so that every "
            "place and resident is in one unit only. Fix: remove the overlap in QGIS (e.g. Vector > "
            "Geometry Tools > Check Validity / the Topology Checker with 'must not overlap')."
        )
        problems.append(Finding(message, code=code_values[a] or None, row=int(rows[a])))
    return problems


# --------------------------------------------------------------------------- population table


def check_population_table(
    table: pd.DataFrame, cfg: UnitsConfig, path: object, unit_codes: Iterable[str]
) -> list[Finding]:
    """Check a population CSV (read as text) against the unit codes of the polygon file.

    Parameters
    ----------
    table
        The CSV as read, all columns as text; the configured code and population columns exist.
    cfg
        Names of the code (``population_csv_code_field``) and population columns.
    path
        The CSV, for messages.
    unit_codes
        Codes of the polygon file, in file order.

    Returns
    -------
    list of Finding
        Errors for blank or duplicate codes, bad populations and units the CSV does not cover;
        one warning for CSV codes that are not in the polygon file (they are ignored, since a
        national table legitimately covers more places than the study area).
    """
    unit_codes = list(unit_codes)
    code_field = cfg.population_csv_code_field
    pop_field = cfg.population_csv_population_field
    codes = as_code_strings(table[code_field])
    problems = code_problems(codes, path, code_field, "unit", table[code_field])
    fix = "Fix: correct the value in the CSV (a count of residents, digits only)."
    problems += _population_problems(table[pop_field], codes, path, pop_field, fix)
    uncovered, unknown, none_match = _coverage(list(codes), unit_codes)
    if none_match:
        problems.append(_no_code_matches(path, code_field, sorted(set(codes) - {""}), unit_codes, f"{cfg.path}"))
    else:
        problems += _lost_zeros_problems(path, code_field, list(codes), unit_codes)
    for code in uncovered:
        typo = _typo_hint(code, unknown, len(uncovered))
        message = (
            f"{_where(path, code=code, field=code_field)}: unit {code!r} of {cfg.path} has no row "
            f"in the population CSV; expected a population for every unit.{typo} Fix: add a row "
            f"({code_field}={code}, {pop_field}=<residents>)" + (" or correct the code." if typo else ".")
        )
        problems.append(Finding(message, code=code, field=code_field))
    if unknown:
        # How many residents go with them: a national table's other rows are expected, but a
        # few thousand residents under a mistyped code are residents lost from the plan.
        residents = parse_numbers(table[pop_field])[codes.isin(set(unknown)).to_numpy()].sum()
        held = f", with {int(residents):,} residents," if residents > 0 else ""
        message = (
            f"{_where(path, field=code_field)}: {len(unknown)} code(s) are not in {cfg.path} and are "
            f"ignored{held}: {_listed(unknown)}. Check for typos if you expected every code to match."
        )
        problems.append(Finding(message, "warning", field=code_field))
    return problems


# --------------------------------------------------------------------------- practices


def check_practices(table: pd.DataFrame, path: object) -> list[Finding]:
    """Check a GP practice CSV (read as text, with all of ``PRACTICE_COLUMNS``).

    Returns
    -------
    list of Finding
        Errors for blank or duplicate practice codes, blank PCN codes or spreadsheet
        placeholders such as ``#N/A`` in their place, and eastings or northings
        that are blank, not numbers, or outside Great Britain (with a hint when they look like
        longitude/latitude).
    """
    codes = as_code_strings(table["practice_code"])
    problems = code_problems(codes, path, "practice_code", "practice", table["practice_code"])
    pcn_codes = as_code_strings(table["pcn_code"])
    for pos in np.flatnonzero((pcn_codes == "").to_numpy()):
        problems.append(
            _row_problem(
                path,
                pos,
                codes,
                "pcn_code",
                "the PCN code is blank; expected the practice's PCN code (e.g. U89554). "
                "Fix: fill it in, or delete the practice if it belongs to no PCN.",
            )
        )
    for pos in np.flatnonzero(pcn_codes.map(is_placeholder).to_numpy()):
        problems.append(
            _row_problem(
                path,
                pos,
                codes,
                "pcn_code",
                f"got {pcn_codes.iloc[pos]!r}, which is not a PCN code (a spreadsheet error or "
                "placeholder: the lookup that filled it found no PCN for this practice); expected "
                "the practice's PCN code (e.g. U89554). Fix: look the practice up in the NHS "
                "'epcn' list and fill in its PCN, or delete the practice if it belongs to no PCN.",
            )
        )
    for field, (low, high) in (("easting", PRACTICE_EASTING_RANGE), ("northing", PRACTICE_NORTHING_RANGE)):
        values = table[field]
        numbers = parse_numbers(values)
        for pos in np.flatnonzero((numbers.isna() | (numbers < low) | (numbers > high)).to_numpy()):
            found = str(values.iloc[pos]).strip()
            if not found:
                what = "the value is blank"
            elif np.isnan(numbers.iloc[pos]):
                what = f"got {found!r}, which is not a number"
            else:
                what = f"got {found}, outside Great Britain"
                if abs(numbers.iloc[pos]) <= 180:
                    what += " (it looks like a longitude/latitude, not metres)"
            text = (
                f"{what}; expected British National Grid (EPSG:27700) metres between {low:,.0f} "
                f"and {high:,.0f}. Fix: use the practice postcode's grid reference from the ONS "
                "Postcode Directory."
            )
            problems.append(_row_problem(path, pos, codes, field, text))
    problems.extend(_name_clashes(pcn_codes, table["pcn_name"], path, "PCN", "pcn_name"))
    return sorted(problems, key=lambda p: p.row or 0)


def _name_clashes(codes: pd.Series, names: pd.Series, path: object, what: str, field: str) -> list[Finding]:
    """A warning per code given two names or more (a stale row after a PCN or district was
    renamed, or a code typed for another's): maps, tables and reports all show the first name."""
    given = pd.DataFrame({"code": codes, "name": names.astype(str).str.strip()})
    given = given[(given["code"] != "") & (given["name"] != "")]
    found = []
    for code, group in given.groupby("code", sort=True):
        seen = list(dict.fromkeys(group["name"]))
        if len(seen) > 1:
            where = [
                f"{name!r} in {_rows_text([row_number(path, i) for i in group.index[group['name'] == name]][:5])}"
                for name in seen
            ]
            message = (
                f"{path}, field {field!r}: {what} {code} has {len(seen)} names ({', '.join(map(repr, seen))}: "
                f"{'; '.join(where)}); expected one name per {what} code: sda shows {seen[0]!r}. Fix: correct "
                "the name, or the code."
            )
            found.append(Finding(message, "warning", str(code), row_number(path, group.index[0]), field))
    return found


# --------------------------------------------------------------------------- PCN shares


def _share_sum_problems(units: pd.Series, shares: pd.Series, path: object) -> list[Finding]:
    """Units whose shares are all 0, and (when the file holds fractions) whose shares do not add up to 1.

    A file holds fractions when no share is above 1; otherwise shares are counts of patients,
    which may add up to anything.
    """
    valid = (shares.notna() & np.isfinite(shares.fillna(0)) & (shares >= 0) & (units != "")).to_numpy()
    if not valid.any():
        return []
    frame = pd.DataFrame(
        {
            "unit": units.to_numpy()[valid],
            "share": shares.to_numpy()[valid],
            "row": [row_number(path, units.index[pos]) for pos in np.flatnonzero(valid)],
        }
    )
    totals = frame.groupby("unit", sort=True)["share"].sum()
    rows_of = frame.groupby("unit", sort=True)["row"].agg(list)
    fractions = bool((frame["share"] <= 1).all())
    problems: list[Finding] = []
    for unit, total in totals.items():
        rows = [int(r) for r in rows_of[unit]]
        if total == 0:
            text = (
                f"every share of this unit ({_rows_text(rows)}) is 0; expected a share above 0 for "
                "at least one PCN, so that the unit has a PCN. Fix: correct the shares."
            )
        elif fractions and abs(total - 1) > SHARE_SUM_TOLERANCE:
            text = (
                f"the shares of this unit ({_rows_text(rows)}) add up to {total:.3g}; expected "
                f"fractions that add up to 1 (within {SHARE_SUM_TOLERANCE}) for each unit, or counts "
                "of registered patients. Fix: correct the shares, or look for a row that is missing "
                "or given twice."
            )
        else:
            continue
        where = _where(path, code=str(unit), field="share")
        problems.append(Finding(f"{where}: {text}", code=str(unit), row=rows[0], field="share"))
    return problems


def check_pcn_shares(
    table: pd.DataFrame, path: object, unit_codes: Iterable[str], pcn_codes: Iterable[str] | None = None
) -> list[Finding]:
    """Check a unit -> PCN shares CSV (read as text, with ``unit_code``, ``pcn_code``, ``share``).

    ``pcn_codes``: the PCNs the practices file knows; a row naming another PCN is an error (a
    typo made a PCN of its own, which no practice serves, and coterminosity fell with it).

    Returns
    -------
    list of Finding
        Errors for blank codes, shares that are blank, not numbers or negative, repeated
        (unit, PCN) pairs, units of ``unit_codes`` with no row, units whose shares are all 0 and,
        when the shares are fractions (none above 1), units whose shares do not add up to 1
        within ``SHARE_SUM_TOLERANCE``; one warning for unit codes not among ``unit_codes``
        (ignored, since a national table covers more places than the study area).
    """
    units = as_code_strings(table["unit_code"])
    pcns = as_code_strings(table["pcn_code"])
    problems: list[Finding] = []
    for field, codes in (("unit_code", units), ("pcn_code", pcns)):
        for pos in np.flatnonzero((codes == "").to_numpy()):
            problems.append(
                _row_problem(
                    path, pos, units, field, "the code is blank; expected a code. Fix: fill it in or delete the row."
                )
            )
    shares = parse_numbers(table["share"])
    bad = shares.isna() | (shares < 0) | ~np.isfinite(shares.fillna(0))
    for pos in np.flatnonzero(bad.to_numpy()):
        found = str(table["share"].iloc[pos]).strip()
        what = "the share is blank" if not found else f"got {found!r}"
        text = f"{what}; expected a number >= 0 (a fraction or a count of registered patients). Fix: correct the value."
        problems.append(_row_problem(path, pos, units, "share", text))
    pairs = pd.DataFrame({"unit": units, "pcn": pcns})
    filled = (pairs["unit"] != "") & (pairs["pcn"] != "")
    repeated = pairs[filled & pairs.duplicated(keep=False)]
    for (unit, pcn), group in repeated.groupby(["unit", "pcn"], sort=True):
        rows = [row_number(path, i) for i in group.index]
        message = (
            f"{_where(path, code=unit, field='pcn_code')}: PCN {pcn!r} appears for this unit in "
            f"{_rows_text(rows)}; expected one row per unit and PCN. Fix: add the shares together "
            "in one row."
        )
        problems.append(Finding(message, code=unit, row=rows[0], field="pcn_code"))
    unit_codes = list(unit_codes)
    known = set(unit_codes)
    problems += _share_sum_problems(units.where(units.isin(known), ""), shares, path)
    uncovered, unknown, none_match = _coverage(list(units), unit_codes)
    unknown = sorted(unknown)
    if none_match:
        problems.append(_no_code_matches(path, "unit_code", sorted(set(units) - {""}), unit_codes, "the units file"))
    else:
        problems += _lost_zeros_problems(path, "unit_code", list(units), unit_codes)
    for code in uncovered:
        typo = _typo_hint(code, unknown, len(uncovered))
        message = (
            f"{_where(path, code=code, field='unit_code')}: unit {code!r} of the units file has no "
            f"row in the PCN shares CSV; expected at least one row (unit_code, pcn_code, share) for "
            f"every unit, so that each unit has a PCN.{typo} Fix: add its rows; check that the CSV "
            "uses the same geography and year as the units file (e.g. 2011 or 2021 LSOA codes)."
        )
        problems.append(Finding(message, code=code, field="unit_code"))
    if unknown:
        message = (
            f"{_where(path, field='unit_code')}: {len(unknown)} unit code(s) are not in the units "
            f"file and are ignored: {_listed(unknown)}. Check for typos if you expected every code to match."
        )
        problems.append(Finding(message, "warning", field="unit_code"))
    return problems + _unknown_pcn_problems(pcns, units, path, pcn_codes)


def _unknown_pcn_problems(
    pcns: pd.Series, units: pd.Series, path: object, pcn_codes: Iterable[str] | None
) -> list[Finding]:
    """Rows whose PCN no practice belongs to, each with its row and a likely intended code."""
    if pcn_codes is None:
        return []
    known = sorted({str(c) for c in pcn_codes})
    problems = []
    for pos in np.flatnonzero(((pcns != "") & ~pcns.isin(known)).to_numpy()):
        code = str(pcns.iloc[pos])
        near = _close_codes(code, known)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        text = (
            f"no practice in the practices file belongs to PCN {code!r}{hint}; expected the PCN of one of "
            "its practices. Fix: correct the code, or add the PCN's practices to the practices file."
        )
        problems.append(_row_problem(path, pos, units, "pcn_code", text))
    return problems
