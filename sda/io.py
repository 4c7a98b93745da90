"""Readers: turn input files into checked, standard frames (writers live elsewhere).

This module owns every input format: the units polygon file (any OGR format, fields mapped by
``[units]`` in the config, optional population CSV joined on the code), the GP practice list, the
unit -> PCN shares table, and file fingerprints for provenance. Each reader checks everything
with ``sda.validate`` first and then fails once, listing every problem (``ProblemsError``), so a
planner fixes a file in one pass. Recoverable oddities become ``SdaWarning``. What comes out is
always in EPSG:27700 with the same column names, whatever the source called them.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import itertools
import json
import re
import warnings
from collections.abc import Collection, Iterable, Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
import shapely.errors

from sda.config import MAX_POPULATION, UnitsConfig
from sda.crs import BNG
from sda.errors import MAX_LISTED, ConfigError, InputError, ProblemsError, SdaWarning
from sda.validate import (
    PRACTICE_COLUMNS,
    Finding,
    as_code_strings,
    check_pcn_shares,
    check_population_table,
    check_practices,
    check_units,
    parse_numbers,
    row_number,
)

__all__ = [
    "UNIT_COLUMNS",
    "columns_hint",
    "file_sha256",
    "gdal_reason",
    "not_utf8",
    "read_pcn_shares",
    "read_practices",
    "read_text_csv",
    "read_units",
    "refuse_misplaced_header",
    "refuse_repeated_headers",
    "refuse_spreadsheet_formats",
    "refuse_totals_rows",
]

#: Columns of the frame ``read_units`` returns (index ``unit_code``).
UNIT_COLUMNS = ("unit_name", "population", "district", "district_name", "places", "geometry")

_PYOGRIO_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.CRSError,
)


# --------------------------------------------------------------------------- units


def read_units(cfg: UnitsConfig) -> gpd.GeoDataFrame:
    """Read, check and standardise the units (parishes or small areas).

    Parameters
    ----------
    cfg
        The ``[units]`` section: file, layer, and which fields hold the code, name, population
        and district; or a population CSV joined on the code; or population points summed into
        the units (``sda.population``).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per unit in file order, indexed by ``unit_code`` (str), with ``unit_name``
        (str; the code when there is no name field), ``population`` (int64), ``district`` and
        ``district_name`` and ``places`` (str, ``""`` when not configured) and ``geometry``, in
        EPSG:27700.
        ``attrs["source"]`` holds the file path.

    Raises
    ------
    InputError
        The file is missing or unreadable, or a configured field or column does not exist.
    ProblemsError
        The data break one or more rules (see ``sda.validate.check_units``); all are listed.
    ConfigError
        Not exactly one of ``population_field``, ``population_csv`` and ``population_points``
        is set.

    Warns
    -----
    SdaWarning
        Units with zero population; population CSV codes that match no unit.
    """
    path = Path(cfg.path)
    _check_population_source(cfg)
    _require_file(path, "[units] path")
    layer = _choose_layer(path, cfg.layer)
    wanted = _configured_fields(cfg)
    info = _layer_info(path, layer)
    if info["features"] == 0:
        msg = (
            f"layer {layer!r} has no features (0 units); expected one polygon per unit. Fix: export "
            "the layer again (in QGIS, untick 'Save only selected features'), or set [units] layer."
        )
        raise InputError(path, msg)
    fields = [str(f) for f in info["fields"]]
    _require_fields(path, fields, wanted, "named in [units]", "field", f"layer {layer!r}")
    counts = [cfg.population_field] if cfg.population_field else []
    raw = _read_vector(path, layer, wanted, counts=counts, code_field=cfg.code_field)
    problems = check_units(raw, cfg, path)
    codes = as_code_strings(raw[cfg.code_field])
    if cfg.population_csv is not None:
        population = _population_from_csv(cfg, codes, problems)
    elif cfg.population_points is not None:
        population = pd.Series(0, index=codes.index)  # filled below by sda.population
    else:
        population = parse_numbers(raw[str(cfg.population_field)])
        problems += _too_many_residents(population, codes, path, str(cfg.population_field))
    what = f"the units file {path}" + (f" and {cfg.population_csv}" if cfg.population_csv else "")
    _raise_or_warn(problems, what)
    units = _standard_units(raw, cfg, codes, population)
    units.attrs["source"] = str(path)
    if cfg.population_points is not None:
        from sda.population import best_fit_units  # reads the points; imports from this module

        best_fit_units(units, cfg)
    return units


def _too_many_residents(population: pd.Series, codes: pd.Series, source: object, field: str) -> list[Finding]:
    """Populations beyond ``MAX_POPULATION``: no real unit holds them, and sums of them overflow
    the engine's 64-bit counts (an area in square metres or an id read as a population).
    ``population`` and ``codes`` are as ``source`` holds them, so that the rows named are its own."""
    numbers = pd.to_numeric(population, errors="coerce")
    problems = []
    for pos in np.flatnonzero((np.isfinite(numbers) & (numbers > MAX_POPULATION)).to_numpy()).tolist():
        value = float(numbers.iloc[pos])
        shown = f"{value:,.0f}" if value < 1e15 else f"{value:.3g}"
        row = row_number(source, population.index[pos])
        message = (
            f"{source}, row {row}, code {codes.iloc[pos]!r}, field {field!r}: got {shown}, "
            f"more residents than any unit holds; expected a whole number from 0 to {MAX_POPULATION:,}. Fix: "
            "check that this field is the population (not an area in square metres, or an id)."
        )
        problems.append(Finding(message, "error", codes.iloc[pos] or None, row, field))
    return problems


def _configured_fields(cfg: UnitsConfig) -> list[str]:
    """List the polygon-file fields the config names, each once, in a stable order."""
    fields = (
        cfg.code_field,
        cfg.name_field,
        cfg.population_field,
        cfg.district_field,
        cfg.district_name_field,
        cfg.place_field,
    )
    return list(dict.fromkeys(f for f in fields if f))


def _check_population_source(cfg: UnitsConfig) -> None:
    sources = [bool(cfg.population_field), bool(cfg.population_csv), bool(cfg.population_points)]
    if sum(sources) != 1:
        state = ("neither is set", "", "both are set", "all three are set")[sum(sources)]
        msg = (
            f"[units]: set exactly one of population_field (a field of {cfg.path}), "
            f"population_csv (a CSV joined on the code) or population_points (points summed "
            f"into the units); {state}."
        )
        raise ConfigError(msg)


def _population_from_csv(cfg: UnitsConfig, codes: pd.Series, problems: list[Finding]) -> pd.Series:
    """Join the population CSV onto the units by code; add its problems to ``problems``."""
    csv_path = Path(str(cfg.population_csv))
    _require_file(csv_path, "[units] population_csv")
    columns = [cfg.population_csv_code_field, cfg.population_csv_population_field]
    table = read_text_csv(csv_path, columns)
    _require_fields(csv_path, list(table.columns), columns, "named in [units]", "column", "the CSV")
    problems += check_population_table(table, cfg, csv_path, codes)
    csv_codes = as_code_strings(table[cfg.population_csv_code_field])
    numbers = parse_numbers(table[cfg.population_csv_population_field])
    ours = csv_codes.isin(set(codes))  # a national table's other rows are ignored, as check_population_table says
    problems += _too_many_residents(numbers[ours], csv_codes[ours], csv_path, cfg.population_csv_population_field)
    by_code = pd.Series(numbers.to_numpy(), index=csv_codes.to_numpy())
    by_code = by_code[~by_code.index.duplicated()]
    return pd.Series(by_code.reindex(codes.to_numpy()).to_numpy(), index=codes.index)


def _standard_units(
    raw: gpd.GeoDataFrame, cfg: UnitsConfig, codes: pd.Series, population: pd.Series
) -> gpd.GeoDataFrame:
    """Rename the configured fields to the standard columns and reproject to EPSG:27700."""

    def text(field: str | None) -> np.ndarray:
        if not field:
            return np.full(len(raw), "", dtype=object)
        return as_code_strings(raw[field]).to_numpy()

    code_values = codes.to_numpy()
    names = text(cfg.name_field)
    return gpd.GeoDataFrame(
        {
            "unit_name": np.where(names == "", code_values, names),  # a unit with no name shows its code
            "population": population.to_numpy().astype(np.int64),
            "district": text(cfg.district_field),
            "district_name": _first_name_per_code(text(cfg.district_field), text(cfg.district_name_field)),
            "places": text(cfg.place_field),
        },
        geometry=raw.geometry.to_crs(BNG).to_numpy(),
        crs=BNG,
        index=pd.Index(code_values, name="unit_code", dtype=object),
    )


def _first_name_per_code(codes: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Each code's first non-blank name on every row of it, so that a code given two names (a
    warning, ``validate._name_clashes``) is shown by one name in every map, table and report."""
    first: dict[str, str] = {}
    for code, name in zip(codes, names, strict=True):
        if code and name:  # no code (no district_field): names as given
            first.setdefault(code, name)
    return np.array([first.get(code, name) for code, name in zip(codes, names, strict=True)], dtype=object)


# --------------------------------------------------------------------------- practices


def read_practices(path: Path) -> gpd.GeoDataFrame:
    """Read and check the GP practice list.

    Parameters
    ----------
    path
        CSV with at least ``practice_code``, ``practice_name``, ``pcn_code``, ``pcn_name``,
        ``easting`` and ``northing`` (British National Grid metres). Other columns are kept.

    Returns
    -------
    geopandas.GeoDataFrame
        One point per practice in file order, EPSG:27700; ``easting``/``northing`` as float,
        the other columns as text.

    Raises
    ------
    InputError
        The file is missing or unreadable, or required columns are missing (all are named).
    ProblemsError
        Blank or duplicate practice codes, blank PCN codes, bad coordinates; all are listed.
    """
    path = Path(path)
    _require_file(path, "[pcn] practices")
    table = read_text_csv(path, PRACTICE_COLUMNS)
    _require_fields(path, list(table.columns), PRACTICE_COLUMNS, "needed for GP practices", "column", "the CSV")
    if table.empty:
        msg = (
            "the file has a header but no practices; expected one row per GP practice with its code, name, "
            "PCN and easting/northing. Fix: fill it in, or remove [pcn] practices to propose areas without PCNs."
        )
        raise InputError(path, msg)
    _raise_or_warn(check_practices(table, path), f"the GP practices file {path}")
    frame = table.reset_index(drop=True)  # the index held the rows, for messages
    for field in ("practice_code", "pcn_code"):
        frame[field] = as_code_strings(frame[field])
    frame["easting"] = parse_numbers(frame["easting"])
    frame["northing"] = parse_numbers(frame["northing"])
    ordered = [*PRACTICE_COLUMNS, *(c for c in frame.columns if c not in PRACTICE_COLUMNS)]
    points = gpd.points_from_xy(frame["easting"], frame["northing"], crs=BNG)
    practices = gpd.GeoDataFrame(frame[ordered], geometry=points, crs=BNG)
    practices.attrs["source"] = str(path)
    return practices


# --------------------------------------------------------------------------- PCN shares


def read_pcn_shares(path: Path, unit_codes: Iterable[str], pcn_codes: Iterable[str] | None = None) -> pd.DataFrame:
    """Read and check the unit -> PCN shares table.

    Parameters
    ----------
    path
        CSV with ``unit_code``, ``pcn_code`` and ``share`` (a fraction or a patient count, >= 0).
    unit_codes
        Codes of the units read by ``read_units``; every one needs a row, and rows for other
        codes are dropped with a warning.
    pcn_codes
        The PCNs of the practices file, when there is one: a row naming another PCN is an error.

    Returns
    -------
    pandas.DataFrame
        Columns ``unit_code`` (str), ``pcn_code`` (str), ``share`` (float >= 0), file order.

    Raises
    ------
    InputError
        The file is missing or unreadable, or a required column is missing.
    ProblemsError
        Blank codes, bad shares, repeated (unit, PCN) rows, units with no row, all-zero shares,
        fractions that do not add up to 1; all are listed.
    """
    path = Path(path)
    ordered = [str(c) for c in unit_codes]
    known = set(ordered)
    _require_file(path, "[pcn] shares")
    columns = ["unit_code", "pcn_code", "share"]
    table = read_text_csv(path, columns)
    _require_fields(path, list(table.columns), columns, "needed for PCN shares", "column", "the CSV")
    _raise_or_warn(check_pcn_shares(table, path, ordered, pcn_codes), f"the PCN shares file {path}")
    shares = pd.DataFrame(
        {
            "unit_code": as_code_strings(table["unit_code"]),
            "pcn_code": as_code_strings(table["pcn_code"]),
            "share": parse_numbers(table["share"]),
        }
    )
    return shares[shares["unit_code"].isin(known)].reset_index(drop=True)


# --------------------------------------------------------------------------- provenance


def file_sha256(path: Path | str) -> str:
    """SHA-256 of a file's bytes, as hex (for the provenance record of a run)."""
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        msg = f"cannot read the file ({exc.strerror})"
        raise InputError(path, msg) from exc
    return digest.hexdigest()


# --------------------------------------------------------------------------- shared helpers


#: Files a shipped config names but sda cannot ship, by the start of their name: where to get them.
NOT_SHIPPED = {
    "PARNCP": (
        "this is the ONS 'Parishes and Non Civil Parished Areas' boundary layer, which sda does not "
        "ship. Fix: download it from the ONS Open Geography Portal and save it at this path, as "
        "boundaries/README.md ('Using the official ONS parish file instead') explains."
    ),
}


def _require_file(path: Path, key: str) -> None:
    if not path.is_file():
        found = "is a folder" if path.is_dir() else "does not exist"
        missing = f"file not found (the path {found}); expected the file named by {key}"
        download = next((how for start, how in NOT_SHIPPED.items() if path.name.startswith(start)), None)
        if download:
            raise InputError(path, f"{missing}: {download}")
        fix = "Fix: correct the path in the config (relative paths are relative to the config file)."
        raise InputError(path, f"{missing}. {fix}")


def _choose_layer(path: Path, layer: str | None) -> str:
    """Pick the layer to read: the configured one (checked) or the first, warning if there are several."""
    missing = _missing_shapefile_parts(path)
    if missing:
        raise InputError(path, missing)
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except _PYOGRIO_ERRORS as exc:
        raise InputError(path, _unreadable(path, exc)) from exc
    if layer is not None:
        if layer not in layers:
            msg = (
                f"[units] layer = {layer!r} is not in the file; the layers are "
                f"{', '.join(map(repr, layers))}. Fix: set layer to one of them."
            )
            raise InputError(path, msg)
        return layer
    if not layers:
        msg = "the file has no layers; expected a polygon layer."
        raise InputError(path, msg)
    if len(layers) > 1:
        warnings.warn(
            f"{path} has {len(layers)} layers ({', '.join(map(repr, layers))}); reading the first, "
            f"{layers[0]!r}. Set [units] layer to choose another.",
            SdaWarning,
            stacklevel=3,
        )
    return layers[0]


def _unreadable(path: Path, exc: Exception) -> str:
    """Say why GDAL could not open a spatial file, in the terms of the usual causes."""
    expected = "expected a polygon file such as GeoPackage, GeoJSON or Shapefile."
    if path.stat().st_size == 0:
        return f"the file is empty (0 bytes); {expected} Fix: export or copy the layer again."
    return _missing_shapefile_parts(path) or f"cannot be read as a spatial file ({gdal_reason(exc)}); {expected}"


def _missing_shapefile_parts(path: Path) -> str | None:
    """Say which of a Shapefile's own files are not beside its .shp. Without the .shx GDAL cannot
    open it; without the .dbf it opens with no fields at all, which read as misnamed fields."""
    if path.suffix.lower() != ".shp":
        return None
    missing = [
        path.with_suffix(s).name
        for s in (".shx", ".dbf")
        if not (path.with_suffix(s).exists() or path.with_suffix(s.upper()).exists())
    ]
    if not missing:
        return None
    return (
        f"cannot be read: a Shapefile is several files with the same name, and "
        f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not next to {path.name}; expected a "
        "polygon file such as GeoPackage, GeoJSON or Shapefile. Fix: copy all of them (.shp, .shx, .dbf "
        "and .prj) to the same folder, or save the layer as one GeoPackage."
    )


def gdal_reason(exc: Exception) -> str:
    """GDAL's message without its advice about driver prefixes, which is not for users, and a
    damaged SQLite file (a GeoPackage cut short in a copy) said in words, not the SQL that failed."""
    reason = str(exc).split("; It might help", 1)[0]
    damaged = re.search(r"database disk image is malformed|file is not a database", reason)
    return f"the file is damaged: {damaged.group(0)}" if damaged else reason


def not_utf8(path: Path, exc: UnicodeDecodeError) -> InputError:
    """A vector file whose text is not UTF-8 (a GeoJSON saved as Latin-1, say): GDAL hands the
    bytes over undecoded, so the error names the byte and how to save the file again."""
    byte = exc.object[exc.start : exc.start + 1].hex().upper() if isinstance(exc.object, bytes) else "?"
    msg = (
        f"its text is not UTF-8 (byte 0x{byte} cannot be read; a name such as 'Café' saved as Latin-1 "
        "or Windows-1252 does this); GeoJSON must be UTF-8. Fix: in QGIS, Export > Save Features As... "
        "with Encoding UTF-8 (or save the file as UTF-8 in a text editor)."
    )
    return InputError(path, msg)


def _layer_info(path: Path, layer: str) -> dict[str, Any]:
    try:
        return dict(pyogrio.read_info(path, layer=layer))
    except _PYOGRIO_ERRORS as exc:
        msg = f"cannot read layer {layer!r} ({exc})"
        raise InputError(path, msg) from exc


def _require_fields(
    path: Path, present: Sequence[str], wanted: Iterable[str], wanted_by: str, noun: str, where: str
) -> None:
    """Raise one ``InputError`` naming every wanted field that is absent, and the ones present."""
    missing = [f for f in dict.fromkeys(wanted) if f not in present]
    if not missing:
        return
    lowered = {p.lower(): p for p in present}
    parts = []
    for name in missing:
        near = lowered.get(name.lower())
        cut = _cut_by_shapefile(path, present, name) if not near else None
        if near:
            parts.append(f"{name!r} (did you mean {near!r}? names are case-sensitive)")
        elif cut:
            parts.append(f"{name!r} (did you mean {cut!r}? a Shapefile keeps only 10 characters of a field name)")
        else:
            parts.append(f"{name!r}")
    plural = "s" if len(missing) > 1 else ""
    if wanted_by.startswith("named in"):
        fix = f"correct the name in the config, or add the {noun} to the file."
    else:
        fix = f"rename or add the {noun}{plural} in the file (names are fixed by sda)."
    why, fix = columns_hint(present, missing) or ("", fix)
    msg = (
        f"{noun}{plural} {', '.join(parts)} {wanted_by} not found in {where}; the {noun}s that "
        f"exist are {', '.join(repr(p) for p in present) or 'none'}.{why} Fix: {fix}"
    )
    raise InputError(path, msg, field=missing[0])


def _cut_by_shapefile(path: Path, present: Sequence[str], name: str) -> str | None:
    """The field a Shapefile made of ``name`` by cutting it to 10 characters (GDAL numbers clashes
    ``populati_1``), when the file is a Shapefile and has just one such field."""
    if path.suffix.lower() not in (".shp", ".dbf", ".zip") or len(name) <= 10:
        return None
    stem = name[:10].lower()
    cut = [p for p in present if p.lower() == stem or (len(p) == 10 and p.lower()[:8] == stem[:8] and "_" in p[8:])]
    return cut[0] if len(cut) == 1 else None


def columns_hint(present: Sequence[str], missing: Sequence[str]) -> tuple[str, str] | None:
    """Explain the usual cause when wanted columns are absent (another separator, degrees for metres) and its fix."""
    if len(present) == 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if sep in present[0]:
                why = f" The header is one column with {name} in it: the file is separated by {name}, not commas."
                return why, "save it again from Excel as 'CSV UTF-8 (Comma delimited)'."
    lowered = {p.lower() for p in present}
    if {"easting", "northing"} & set(missing) and lowered & {"lat", "latitude", "lon", "long", "lng", "longitude"}:
        why = (
            " The file has latitude/longitude (degrees); sda needs British National Grid eastings "
            "and northings (EPSG:27700 metres)."
        )
        fix = (
            "add easting and northing columns: take them from the ONS Postcode Directory for each "
            "practice's postcode, or in QGIS load the points as EPSG:4326, reproject them to "
            "EPSG:27700 and add $x and $y with the Field Calculator."
        )
        return why, fix
    return None


#: GDAL's notes while reading a file, in words an officer can act on (a part of the note -> what it means).
_GDAL_NOTES = {
    "too many members in array": (
        "some coordinates have more than three values (x, y, then z and m, say); sda reads x and y "
        "and ignores the rest, so nothing needs fixing unless the file is not what you meant"
    ),
}


def _read_vector(
    path: Path, layer: str, columns: list[str], *, counts: Sequence[str] = (), code_field: str | None = None
) -> gpd.GeoDataFrame:
    """A layer's ``columns`` and geometry, rows numbered from 0 in file order. ``counts`` are
    fields of residents, where true or false is refused (``_refuse_yes_no_counts``); rows are
    named with ``code_field``'s value when given."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = gpd.read_file(path, engine="pyogrio", layer=layer, columns=columns)
    except _PYOGRIO_ERRORS as exc:
        msg = f"cannot read layer {layer!r} ({exc})"
        raise InputError(path, msg) from exc
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from exc
    except shapely.errors.GEOSException as exc:
        raise _broken_rings(path, layer) from exc
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        msg = (
            f"layer {layer!r} has no geometry (it is a table, such as a CSV or a spreadsheet); "
            "expected a polygon layer with a boundary for each unit. Fix: point [units] path at the "
            "boundary file (GeoPackage, GeoJSON or Shapefile); to take populations from this table, "
            "set [units] population_csv to it."
        )
        raise InputError(path, msg)
    _pass_on_gdal_notes(path, caught)
    frame = frame.reset_index(drop=True)
    _refuse_yes_no_counts(path, layer, frame, [c for c in counts if c in frame.columns], code_field)
    return frame


def _refuse_yes_no_counts(
    path: Path, layer: str, frame: pd.DataFrame, counts: Sequence[str], code_field: str | None
) -> None:
    """Refuse true or false in a field of residents, which would count as 1 and 0 residents.

    GDAL reads a GeoJSON ``"pop": true`` as 1 (``false`` as 0) when other rows of the field hold
    numbers, typing the field as a plain integer, so the boolean is gone before sda sees it; the
    file itself is read again to find it. A field of booleans only (GDAL's integer with a boolean
    subtype, as a GeoPackage or Shapefile stores a yes/no field) is refused as a whole: it is the
    wrong field, not a slip in a few rows.
    """
    info: dict[str, Any] | None = None
    problems = []
    for field in counts:
        values = frame[field]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        # A boolean can only have become 0 or 1: any other file is read once, as before.
        if numeric and not values.isin([0, 1]).any():
            continue
        if info is None:
            info = _layer_info(path, layer)
        if pd.api.types.is_bool_dtype(values) or _subtype(info, field) == "OFSTBoolean":
            msg = (
                "the field holds yes/no (true/false) values, which would count as 1 and 0 residents; expected "
                "a whole number of residents >= 0 in each row. Fix: point the config at the field that holds "
                "the number of residents, or store this one as whole numbers."
            )
            raise InputError(path, msg, field=field)
        if numeric and info.get("driver") == "GeoJSON":
            found = _geojson_booleans(path, field, len(frame))
        else:  # a field GDAL left as JSON keeps Python's True and False
            found = {i: v for i, v in enumerate(values.tolist()) if isinstance(v, bool)}
        codes = as_code_strings(frame[code_field]) if code_field in frame.columns else None
        for pos, value in found.items():
            code = f", code {codes.iloc[pos]!r}" if codes is not None else ""
            problems.append(
                f"{path}, row {row_number(path, pos)}{code}, field {field!r}: got {str(value).lower()}, a yes/no "
                f"value, which would count as {int(value)} resident(s); expected a whole number of residents "
                ">= 0. Fix: write the number of residents (digits only, without quotes)."
            )
    if problems:
        count = f"{len(problems)} row" + ("s" if len(problems) > 1 else "")
        raise ProblemsError(
            f"{count} in {path} with true or false for a number of residents (fix, then run again):", problems
        )


def _subtype(info: dict[str, Any], field: str) -> str | None:
    """GDAL's subtype of ``field`` (``OFSTBoolean``...), from ``pyogrio.read_info``; None if unknown."""
    fields = [str(f) for f in info.get("fields", [])]
    subtypes = list(info.get("ogr_subtypes") or [])
    return str(subtypes[fields.index(field)]) if field in fields and len(subtypes) == len(fields) else None


def _geojson_booleans(path: Path, field: str, rows: int) -> dict[int, bool]:
    """Row (from 0) -> value, for the features whose ``field`` is a JSON ``true`` or ``false``;
    empty when the features cannot be matched one to one with the ``rows`` GDAL read."""
    try:
        features = json.loads(path.read_bytes()).get("features")
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(features, list) or len(features) != rows:
        return {}
    found = {}
    for i, feature in enumerate(features):
        properties = feature.get("properties") if isinstance(feature, dict) else None
        value = properties.get(field) if isinstance(properties, dict) else None
        if isinstance(value, bool):
            found[i] = value
    return found


def _pass_on_gdal_notes(path: Path, caught: list[warnings.WarningMessage]) -> None:
    """Warn again about what GDAL noted while reading, naming the file and, where known, saying
    what the note means; other warnings go on as they were."""
    for note in caught:
        text = str(note.message)
        if not issubclass(note.category, RuntimeWarning):
            warnings.warn_explicit(note.message, note.category, note.filename, note.lineno)
        elif "Non closed ring detected" in text:
            continue  # _broken_rings names the row instead
        else:
            meaning = next((m for part, m in _GDAL_NOTES.items() if part in text), None)
            said = text.split(" Further messages of this type will be suppressed.")[0]
            warnings.warn(f"{path}: {meaning or f'GDAL noted while reading: {said}'}", SdaWarning, stacklevel=3)


def _broken_rings(path: Path, layer: str) -> ProblemsError:
    """The rows whose geometry cannot even be built (a ring not closed, too few points, a
    non-finite coordinate), each with GEOS's reason: GDAL reads them, shapely refuses them."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Non closed ring detected", category=RuntimeWarning)
        _, _, wkbs, _ = pyogrio.raw.read(path, layer=layer, columns=[])
    problems = []
    for row, wkb in enumerate(wkbs, start=1):
        if wkb is None:
            continue
        try:
            shapely.from_wkb(wkb)
        except shapely.errors.GEOSException as exc:
            reason = str(exc).split(": ", 1)[-1]
            problems.append(
                f"{path}, row {row}, field 'geometry': the polygon is malformed at the ring level ({reason}); "
                "expected closed rings of at least 4 finite points. Fix: in QGIS run Vector > Geometry "
                "Tools > Fix Geometries (or redraw the unit) and export again."
            )
    count = f"{len(problems)} unit" + ("s" if len(problems) != 1 else "")
    return ProblemsError(f"{count} in {path} with geometry that cannot be read (fix, then run again):", problems)


#: First bytes of spreadsheet files that are not CSV text, and what saved them.
_SPREADSHEET_MAGIC = (
    (b"PK\x03\x04", "a zipped spreadsheet (Excel .xlsx or OpenDocument .ods), not CSV text"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls), not CSV text"),
    (b"\xff\xfe", "UTF-16 text (what Excel calls 'Unicode Text'), not UTF-8 CSV"),
    (b"\xfe\xff", "UTF-16 text (what Excel calls 'Unicode Text'), not UTF-8 CSV"),
)


def refuse_spreadsheet_formats(path: Path) -> None:
    """Name the format of a spreadsheet saved as something other than CSV, with the fix (every CSV
    reader asks here: decoded as text, such a file reads as columns of garbage)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return
    for magic, what in _SPREADSHEET_MAGIC:
        if head.startswith(magic):
            msg = (
                f"the file is {what}; expected a comma-separated CSV file. Fix: open it in Excel (or "
                "LibreOffice) and use Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'."
            )
            raise InputError(path, msg)


def refuse_repeated_headers(path: Path, header: str, sep: str = ",") -> None:
    """Refuse a CSV whose header names a column twice: pandas reads the first and renames the
    second (``area_id.1``), so an edit made in the second was lost without a word."""
    names = [n.strip() for n in next(csv.reader([header], delimiter=sep), [])]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name and name in seen:
            letters = f"{_column_letter(seen[name])} and {_column_letter(i)}"
            msg = (
                f"column {name!r} is given twice (columns {letters}); expected each column once: sda would "
                "read the first and ignore the second. Fix: delete or rename one of them."
            )
            raise InputError(path, msg, row=1)
        seen.setdefault(name, i)


def _column_letter(index: int) -> str:
    """A spreadsheet's letters for the 0-based column ``index``: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


#: How many rows above the header a title (and notes under it) may fill and still be recognised.
_TITLE_ROWS = 5


def refuse_misplaced_header(path: Path, rows: Iterable[Sequence[str]], wanted: Collection[str]) -> None:
    """Refuse a CSV whose header is not on its first row, or is on it again further down.

    A title typed above the header makes the title the column names, and a header pasted again
    below (two exports joined) reads as a row of data, so either was reported as missing columns
    or bad values, with a fix that does not fit. ``rows`` are the file's rows as ``csv.reader``
    gives them, from row 1, so that row numbers are the spreadsheet's; ``wanted`` are the
    columns the header must have.
    """
    numbered = ((n, _cells(row)) for n, row in enumerate(rows, start=1) if row)  # pandas skips empty lines too
    top = list(itertools.islice(numbered, _TITLE_ROWS + 1))
    at = next((i for i, (_, cells) in enumerate(top) if set(wanted) <= set(cells)), None)
    if at is not None and at > 0:
        raise InputError(path, _title_rows(top[0][1], top[0][0], top[at][0]))
    # Without the wanted columns near the top, _require_fields names them; row 1 is still the
    # header a pasted copy would repeat (a plan CSV may name its columns otherwise).
    header = top[0][1] if top else []
    repeats = [n for n, cells in itertools.chain(top[1:], numbered) if header and cells == header]
    if repeats:
        listed = [str(n) for n in repeats[:MAX_LISTED]]
        listed += [f"{len(repeats) - MAX_LISTED} more"] if len(repeats) > MAX_LISTED else []
        shown = " and ".join([", ".join(listed[:-1]), listed[-1]] if len(listed) > 1 else listed)
        which = f"row {shown} repeats" if len(repeats) == 1 else f"rows {shown} repeat"
        msg = (
            f"{which} the header; expected the column names once, on row {top[0][0]}, and data below them. "
            f"Fix: delete {'it' if len(repeats) == 1 else 'them'} (two exports pasted together?)."
        )
        raise InputError(path, msg)


def _title_rows(title_cells: list[str], first: int, header_row: int) -> str:
    """The message for a header found on ``header_row`` below a title on row ``first`` (and notes after it)."""
    title = ", ".join(cell for cell in title_cells if cell)
    title = title if len(title) <= 60 else title[:57] + "..."
    one = first == header_row - 1
    above = f"row {first}" if one else f"rows {first} to {header_row - 1}"
    if title:
        found = f"{above} {'looks' if one else 'look'} like a title ({title!r})"
    else:
        found = f"{above} {'is' if one else 'are'} blank"
    return f"{found}, the header is on row {header_row}; expected the column names on row 1. Fix: delete {above}."


def _cells(row: Sequence[str]) -> list[str]:
    """A CSV row's cells without surrounding spaces, and without the empty cells Excel pads rows with."""
    cells = [cell.strip() for cell in row]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def read_text_csv(path: Path, wanted: Collection[str] = (), separators: str = ",") -> pd.DataFrame:
    """Read a CSV as Excel or a text editor leaves it, every column as text so that bad values can
    be reported as written: the one reader of every tabular input.

    ``wanted`` are the columns its header must have (to recognise a title row above it);
    ``separators`` the ones accepted, the first found in the header wins (inputs take commas
    only, so that a European Excel's semicolons are named with the fix, rather than guessed).
    The file is read once: its layout and header are checked on the same text pandas reads.
    Wholly blank rows are skipped, and each record keeps its row in the index, so that
    ``sda.validate.row_number`` of a record's label is the row a spreadsheet shows.
    """
    refuse_spreadsheet_formats(path)
    text = _csv_text(path)
    body = text.lstrip("\r\n")  # pandas would take a blank first line for the header
    skipped = text[: len(text) - len(body)].count("\n")
    header = body.split("\n", 1)[0].rstrip("\r")
    sep = next((s for s in separators if s in header), separators[0])
    with contextlib.suppress(csv.Error):  # not CSV as the csv module reads it: pandas says why below
        refuse_misplaced_header(path, csv.reader(StringIO(text, newline=""), delimiter=sep), wanted)
    try:
        table = pd.read_csv(StringIO(body), dtype=str, keep_default_na=False, sep=sep, skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        hint = columns_hint([header.strip()], [])
        why = f"{hint[0]} Fix: {hint[1]}" if hint else ""
        msg = f"cannot be read as CSV ({str(exc).strip()}); expected a comma-separated file with a header row.{why}"
        raise InputError(path, msg) from exc
    table.columns = [str(c).strip() for c in table.columns]
    refuse_repeated_headers(path, header, sep)
    table.index = table.index + skipped
    blank = np.array([not "".join(cells).strip() for cells in table.itertuples(index=False)], dtype=bool)
    table = table[~blank]
    refuse_totals_rows(path, table)
    return table


#: What a spreadsheet's totals row says in its first filled cell: "Total", "Totals", "Grand total".
_TOTALS_WORD = re.compile(r"(grand\s+)?totals?:?", re.IGNORECASE)


def refuse_totals_rows(path: Path, table: pd.DataFrame) -> None:
    """Refuse a row whose first filled cell reads "Total" (as a spreadsheet's sum row does): read
    as data it would fail on its blank code or coordinates, or be counted, doubling residents."""
    firsts = [next((c.strip() for c in cells if c.strip()), "") for cells in table.itertuples(index=False)]
    totals = [(label, word) for label, word in zip(table.index, firsts, strict=True) if _TOTALS_WORD.fullmatch(word)]
    if totals:
        rows = [row_number(path, label) for label, _ in totals]
        also = f" (as {'does row' if len(rows) == 2 else 'do rows'} {', '.join(map(str, rows[1:MAX_LISTED]))})"
        msg = (
            f"looks like a totals row ({totals[0][1]!r}){also if len(rows) > 1 else ''}; expected data rows "
            "only: sda sums the rows itself, and a total read as data would count everything twice. "
            f"Fix: delete the row{'s' if len(rows) > 1 else ''}."
        )
        raise InputError(path, msg, row=rows[0])


def _csv_text(path: Path) -> str:
    """A CSV's text: UTF-8 (with or without a BOM), else Windows-1252, which Excel on Windows
    saves unless told otherwise."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding).lstrip("\ufeff")
        except UnicodeDecodeError:
            continue
    msg = "cannot be decoded as UTF-8 or Windows-1252 text; expected a CSV file. Fix: save it as CSV UTF-8."
    raise InputError(path, msg)


def _raise_or_warn(problems: list[Finding], what: str) -> None:
    """Raise ``ProblemsError`` listing every error (and the warnings, when there is room); otherwise warn."""
    errors = [p.message for p in problems if p.severity == "error"]
    notes = [p.message for p in problems if p.severity != "error"]
    if errors:
        count = f"{len(errors)} problem" + ("s" if len(errors) > 1 else "")
        headline = f"{count} in {what} (fix, then run again):"
        # Warnings go in the same listing while there is room: they often explain an error (a
        # CSV code that matches no unit is the mistyped code of the unit that has no row).
        room = max(MAX_LISTED - len(errors), 0)
        raise ProblemsError(headline, [*errors, *(f"warning: {n}" for n in notes[:room])])
    for message in notes[:MAX_LISTED]:
        warnings.warn(message, SdaWarning, stacklevel=3)
    if len(notes) > MAX_LISTED:
        warnings.warn(f"... and {len(notes) - MAX_LISTED} more warnings like these.", SdaWarning, stacklevel=3)
