"""Reading a plan someone hands us: an output folder, a ``plan.gpkg``, a ``units.geojson`` or an
``assignment.csv``, each turned into one thing: unit code -> area id (plus area names, unit
populations and geometries when the file has them).

``sda propose --previous``, ``sda diff`` and the officers' edits all start from a plan file that
may have been written by ``sda`` and then changed in QGIS or a spreadsheet, so everything is
checked here: a missing code or area, a code given twice, a layer without the fields, each gets
an error naming the file, the row and the field, with a fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors

from sda.errors import InputError, ProblemsError

__all__ = ["PlanFile", "find_plan_file", "read_assignment", "read_planfile"]

#: Files looked for in an output folder, best first (the GeoPackage has geometry in BNG and is
#: what officers edit in QGIS).
FOLDER_FILES = ("plan.gpkg", "units.geojson", "assignment.csv")
#: Column names accepted for the unit code and the area, first match wins.
CODE_FIELDS = ("unit_code", "code")
AREA_FIELDS = ("area_id", "area")
NAME_FIELDS = ("area_name",)

_BNG = "EPSG:27700"


@dataclass
class PlanFile:
    """One plan as read from disk.

    Attributes
    ----------
    path : the file actually read (inside the folder, when a folder was given).
    assignment : unit code -> area id (str), indexed by ``unit_code``, named ``area_id``.
    area_names : area id -> name, when the file has an ``area_name`` column (else empty).
    units : the unit layer in EPSG:27700 (``population`` when present, ``geometry``), or None
        for a CSV, which has codes only.
    record : ``plan.json`` beside the file (scores, areas table, config, provenance), or None.
    """

    path: Path
    assignment: pd.Series
    area_names: dict[str, str] = field(default_factory=dict)
    units: gpd.GeoDataFrame | None = None
    record: dict[str, Any] | None = None

    @property
    def has_geometry(self) -> bool:
        """Whether unit polygons came with the plan (needed to carry it onto changed units)."""
        return self.units is not None and "geometry" in self.units.columns

    @property
    def population(self) -> pd.Series | None:
        """Residents per unit code, when the file has them."""
        if self.units is None or "population" not in self.units.columns:
            return None
        return self.units["population"].astype("int64")


def find_plan_file(path: Path) -> Path:
    """The file to read for ``path``: itself, or in a folder the first of ``FOLDER_FILES``.

    Raises
    ------
    InputError
        Nothing readable is there.
    """
    path = Path(path)
    if path.is_dir():
        for name in FOLDER_FILES:
            if (path / name).is_file():
                return path / name
        msg = f"no plan found in this folder; expected one of {', '.join(FOLDER_FILES)} (an `sda propose` output)."
        raise InputError(path, msg)
    if not path.is_file():
        msg = "not found; give an output folder of `sda propose`, a plan.gpkg, units.geojson or assignment.csv."
        raise InputError(path, msg)
    return path


def read_assignment(path: Path | str) -> pd.Series:
    """Unit code -> area id of a plan file or output folder (see ``read_planfile``).

    The area names, when the file has them, are in ``series.attrs["area_names"]``.
    """
    plan = read_planfile(path)
    series = plan.assignment.copy()
    series.attrs["area_names"] = dict(plan.area_names)
    return series


def read_planfile(path: Path | str) -> PlanFile:
    """Read a plan: an output folder, a GeoPackage (layer ``units``), a GeoJSON or a CSV.

    Parameters
    ----------
    path
        A folder written by ``sda propose`` (``plan.gpkg`` is read, else ``units.geojson``, else
        ``assignment.csv``), or one of those files (or any vector file or CSV with a unit code
        and an area column: ``unit_code``/``code`` and ``area_id``/``area``).

    Returns
    -------
    PlanFile
        With ``record`` from ``plan.json`` when it sits beside the file.

    Raises
    ------
    InputError, ProblemsError
        Unreadable file, missing columns, blank or repeated codes, blank areas (all listed).
    """
    file = find_plan_file(Path(path))
    if file.suffix.lower() == ".csv":
        frame = _read_csv(file)
        units = None
    else:
        units = _read_vector(file)
        frame = pd.DataFrame(units.drop(columns="geometry"))
    code_col = _column(file, frame, CODE_FIELDS, "unit code")
    area_col = _column(file, frame, AREA_FIELDS, "area")
    codes = frame[code_col].map(_text)
    areas = frame[area_col].map(_text)
    _check_rows(file, codes, areas, code_col, area_col)
    assignment = pd.Series(areas.to_numpy(), index=pd.Index(codes.to_numpy(), name="unit_code"), name="area_id")
    names: dict[str, str] = {}
    name_col = next((c for c in NAME_FIELDS if c in frame.columns), None)
    if name_col is not None:
        for area, name in zip(areas, frame[name_col].map(_text), strict=True):
            if name:
                names.setdefault(area, name)
    if units is not None:
        units = units.assign(unit_code=codes.to_numpy()).set_index("unit_code")
        if "population" in units.columns:
            units["population"] = _whole_numbers(file, units["population"])
    record = _read_record(file.parent / "plan.json")
    return PlanFile(path=file, assignment=assignment, area_names=names, units=units, record=record)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = f"cannot read the plan as CSV ({exc}); expected columns unit_code,area_id."
        raise InputError(path, msg) from exc


def _read_vector(path: Path) -> gpd.GeoDataFrame:
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        layer = "units" if "units" in layers else layers[0]
        frame = pyogrio.read_dataframe(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, IndexError) as exc:
        msg = f"cannot open the plan ({exc}); expected an sda plan.gpkg or units.geojson, or a CSV."
        raise InputError(path, msg) from exc
    if frame.crs is None:
        msg = "the layer has no CRS; save it with one (sda writes EPSG:27700 in plan.gpkg, WGS84 in GeoJSON)."
        raise InputError(path, msg)
    return frame if frame.crs == _BNG else frame.to_crs(_BNG)


def _column(path: Path, frame: pd.DataFrame, choices: tuple[str, ...], what: str) -> str:
    for name in choices:
        if name in frame.columns:
            return name
    found = ", ".join(str(c) for c in frame.columns if c != "geometry") or "none"
    msg = f"no {what} column; expected one of {', '.join(choices)} (found: {found})."
    raise InputError(path, msg, field=choices[0])


def _check_rows(path: Path, codes: pd.Series, areas: pd.Series, code_col: str, area_col: str) -> None:
    problems = []
    seen: dict[str, int] = {}
    for row, (code, area) in enumerate(zip(codes, areas, strict=True), start=1):
        if not code:
            problems.append(f"row {row}, field {code_col!r}: blank unit code; give every row its unit's code")
            continue
        if code in seen:
            problems.append(
                f"row {row}, field {code_col!r}: unit {code!r} again (first on row {seen[code]}); "
                "a unit belongs to one area: delete one of the rows"
            )
        seen.setdefault(code, row)
        if not area:
            problems.append(f"row {row}, field {area_col!r}: unit {code!r} has no area; give it the id of its area")
    if problems:
        raise ProblemsError(f"{path}: the plan has {len(problems)} bad row(s):", problems)
    if not len(codes):
        msg = "the plan has no rows; expected one row per unit."
        raise InputError(path, msg)


def _whole_numbers(path: Path, values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = [i for i, v in enumerate(numbers, start=1) if pd.isna(v) or v < 0 or v != int(v)]
    if bad:
        msg = f"population is not a whole number >= 0 (rows {', '.join(map(str, bad[:10]))}); fix those rows."
        raise InputError(path, msg, field="population")
    return numbers.astype("int64")


def _read_record(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # the assignment is what matters; scores are extra
    return record if isinstance(record, dict) else None


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
