"""Reading a plan someone hands us: an output folder, a ``plan.gpkg``, a ``units.geojson`` or an
``assignment.csv``, each turned into one thing: unit code -> area id (plus area names, unit
populations and geometries when the file has them).

``sda propose --previous``, ``sda diff`` and the officers' edits all start from a plan file that
may have been written by ``sda`` and then changed in QGIS or a spreadsheet, so everything is
checked here: a missing code or area, a code given twice, a layer without the fields, each gets
an error naming the file, the row and the field, with a fix. Given the run's unit codes, a code
that is not a unit (with the nearest code, "did you mean") and units with no row are errors too.
Rows are named as the officer sees them: a GeoPackage's fid (QGIS's attribute table), a GeoJSON's
feature number, a CSV's row after the header.

``read_original`` reads the assignment the run itself wrote (``assignment.csv`` beside the plan)
and ``changed_units`` lists what an officer moved, so that ``sda evaluate`` and ``sda repair``
can tell the officer's edits from the run's plan.
"""

from __future__ import annotations

import difflib
import functools
import json
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pyogrio.errors

from sda.cells import plain_cell
from sda.codes import lost_case, lost_zeros
from sda.errors import InputError, ProblemsError, SdaWarning
from sda.io import gdal_reason, not_utf8, read_text_csv
from sda.validate import SPREADSHEET_SUFFIXES, is_placeholder, row_number

__all__ = [
    "PlanFile",
    "areas_layer_changes",
    "areas_layer_note",
    "changed_units",
    "find_plan_file",
    "plan_text",
    "quick_pairs",
    "read_assignment",
    "read_original",
    "read_planfile",
    "recorded_area_names",
    "run_areas",
    "run_folder",
]

#: Files looked for in an output folder, best first (the GeoPackage has geometry in BNG and is
#: what officers edit in QGIS).
FOLDER_FILES = ("plan.gpkg", "units.geojson", "assignment.csv")
#: Column names accepted for the unit code and the area, first match wins.
CODE_FIELDS = ("unit_code", "code")
AREA_FIELDS = ("area_id", "area", "sda", "sda_id")
NAME_FIELDS = ("area_name",)
#: The columns of the plan CSV sda writes (``assignment.csv``), which an officer edits in Excel.
PLAN_COLUMNS = ("unit_code", "area_id")

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

    @functools.cached_property
    def as_run_wrote(self) -> bool:
        """Whether this is the plan its ``plan.json`` records (not edited since): only then do the
        record's scores and area table describe it."""
        saved = (self.record or {}).get("assignment")
        if not isinstance(saved, dict):
            return False
        return {str(k): str(v) for k, v in saved.items()} == {str(k): str(v) for k, v in self.assignment.items()}

    @property
    def population(self) -> pd.Series | None:
        """Residents per unit code, when the file has them."""
        if self.units is None or "population" not in self.units.columns:
            return None
        return self.units["population"].astype("int64")


def recorded_area_names(record: Mapping[str, Any] | None) -> dict[str, str]:
    """Area id -> name as a run recorded them in ``plan.json`` (empty when it has none): the
    names the committee saw."""
    areas = (record or {}).get("areas")
    if not isinstance(areas, list):
        return {}
    return {
        str(a["area_id"]): str(a["name"])
        for a in areas
        if isinstance(a, Mapping) and a.get("area_id") and isinstance(a.get("name"), str) and a["name"]
    }


def find_plan_file(path: Path) -> Path:
    """The file to read for ``path``: itself, or in a folder the first of ``FOLDER_FILES``.

    Raises
    ------
    InputError
        Nothing readable is there.
    """
    path = Path(path)
    if path.is_dir():
        present = [path / name for name in FOLDER_FILES if (path / name).is_file()]
        if present:
            return _edited_or_first(path, present)
        msg = f"no plan found in this folder; expected one of {', '.join(FOLDER_FILES)} (an `sda propose` output)."
        raise InputError(path, msg)
    if not path.is_file():
        msg = "not found; give an output folder of `sda propose`, a plan.gpkg, units.geojson or assignment.csv."
        raise InputError(path, msg)
    return path


def _edited_or_first(folder: Path, present: list[Path]) -> Path:
    """The file of an output folder to read: the one an officer edited, if any, else the first.

    QGIS edits ``plan.gpkg``, Excel ``assignment.csv``; either way the folder's other files still
    hold the run's plan (``plan.json`` records it), and reading those would drop the edits
    unseen. Two files edited differently cannot be told apart, so that is an error.
    """
    record = _read_record(folder / "plan.json") or {}
    saved = {str(k): str(v) for k, v in (record.get("assignment") or {}).items()}
    if not saved:
        return present[0]
    names = recorded_area_names(record)
    edited: dict[Path, dict[str, tuple[str, str]]] = {}
    moved: dict[Path, int] = {}
    renamed: dict[Path, list[str]] = {}
    for file in present:
        pairs = quick_pairs(file)
        if pairs is None:
            continue
        renamed[file] = sorted({a for a, n in pairs.values() if n and names.get(a) and n != names[a]})
        moved[file] = sum(saved.get(c) != a for c, (a, _) in pairs.items()) + len(set(saved) - set(pairs))
        if moved[file] or renamed[file]:
            edited[file] = pairs
    if not edited:
        return present[0]
    if len({tuple(sorted(p.items())) for p in edited.values()}) > 1:
        listed = ", ".join(f"{f.name} ({moved[f]} unit(s) moved or dropped)" for f in edited)
        msg = (
            f"{listed} were each edited after the run, differently, so it is not clear which is the plan. "
            f"Fix: give the file you edited, e.g. {next(iter(edited))}."
        )
        raise InputError(folder, msg)
    chosen = next(iter(edited))
    if chosen != present[0]:
        left = ", ".join(f.name for f in present if f not in edited)
        what = [f"{moved[chosen]} unit(s) moved or dropped"] if moved[chosen] else []
        what += [f"{', '.join(renamed[chosen])} renamed"] if renamed[chosen] else []
        warnings.warn(
            f"{folder}: {chosen.name} was edited after the run ({'; '.join(what)}) "
            f"and is the plan read; {left} still hold the run's plan.",
            SdaWarning,
            stacklevel=3,
        )
    return chosen


def quick_pairs(
    file: Path,
    layer: str | None = None,
    *,
    code_fields: Sequence[str] = ("unit_code",),
    area_fields: Sequence[str] = ("area_id",),
) -> dict[str, tuple[str, str]] | None:
    """``unit_code -> (area_id, area_name)`` of a plan file (``assignment.csv`` as Excel may have
    saved it, ``units.geojson``, a layer of a GeoPackage: ``layer``, else ``units``), read without
    geometry; None when it cannot be read that way or lacks the fields (``read_planfile`` then
    says why, if it is the one read). The code and area are the first of ``code_fields`` and
    ``area_fields`` the file has, in any case.

    The one reader for telling whether copies of a plan agree: a folder's files, a GeoPackage's
    layers, a run's files before a report.
    """
    try:
        if file.suffix.lower() in SPREADSHEET_SUFFIXES:
            frame = _read_csv(file)
        else:
            layer = layer or ("units" if file.suffix.lower() == ".gpkg" else None)
            frame = pyogrio.read_dataframe(file, layer=layer, read_geometry=False)
    except (InputError, OSError, ValueError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return None
    return _pairs(frame, code_fields, area_fields)


def _pairs(
    frame: pd.DataFrame, code_fields: Sequence[str], area_fields: Sequence[str]
) -> dict[str, tuple[str, str]] | None:
    """``quick_pairs`` of a table already read; None when it lacks the code or area column."""
    code_col, area_col = _find_column(frame.columns, code_fields), _find_column(frame.columns, area_fields)
    if code_col is None or area_col is None:
        return None
    name_col = _find_column(frame.columns, NAME_FIELDS)
    names = frame[name_col] if name_col is not None else frame[area_col].map(lambda _: "")
    cells = [frame[code_col], frame[area_col], names]
    return {plan_text(c): (plan_text(a), plan_text(n)) for c, a, n in zip(*cells, strict=True)}


def plan_text(value: Any) -> str:
    """A code, area id or name as every copy of a plan is compared: blank for a missing value, a
    whole float without its ``.0``, without surrounding spaces or the ``'`` sda's CSVs put before
    a formula-like cell (``sda.cells``)."""
    return plain_cell(_text(value))


def read_assignment(
    path: Path | str,
    *,
    units: Iterable[str] | None = None,
    code_field: str | None = None,
    area_field: str | None = None,
    more_code_fields: Sequence[str] = (),
) -> pd.Series:
    """Unit code -> area id of a plan file or output folder (see ``read_planfile``).

    The area names, when the file has them, are in ``series.attrs["area_names"]``; the file
    read is ``series.attrs["source"]``; its populations and polygons (EPSG:27700), or None, are in
    ``series.attrs["population"]`` and ``series.attrs["geometry"]``.
    """
    plan = read_planfile(
        path, units=units, code_field=code_field, area_field=area_field, more_code_fields=more_code_fields
    )
    series = plan.assignment.copy()
    series.attrs["area_names"] = dict(plan.area_names)
    series.attrs["source"] = str(plan.path)
    series.attrs["population"] = plan.population  # the file's own, to tell when it differs from the config's
    series.attrs["geometry"] = plan.units.geometry if plan.has_geometry and plan.units is not None else None  # same
    return series


def read_planfile(
    path: Path | str,
    *,
    units: Iterable[str] | None = None,
    code_field: str | None = None,
    area_field: str | None = None,
    more_code_fields: Sequence[str] = (),
    more_area_fields: Sequence[str] = (),
    field_options: bool = True,
) -> PlanFile:
    """Read a plan: an output folder, a GeoPackage (layer ``units``, else its one layer with a unit
    code and an area), a GeoJSON or a CSV.

    Parameters
    ----------
    path
        A folder written by ``sda propose`` (``plan.gpkg`` is read, else ``units.geojson``, else
        ``assignment.csv``), or one of those files (or any vector file or CSV with a unit code
        and an area column: ``unit_code``/``code`` and ``area_id``/``area``/``sda``, any case).
    units
        The run's unit codes. When given, codes that are not among them and units with no row
        are errors too; without it only the file itself is checked.
    code_field, area_field
        Column names to use instead of looking for the usual ones (``--code-field``,
        ``--area-field`` on the command line).
    more_code_fields, more_area_fields
        Further names to try for the code and area columns (the config's ``[units]
        code_field``; ``sda diff``'s ``--code-field``, which may name a column of one plan only).
    field_options
        Whether the command has ``--code-field`` and ``--area-field`` (``sda propose --previous``
        has not): a missing column's fix names them, else renaming the column.

    Returns
    -------
    PlanFile
        With ``record`` from ``plan.json`` when it sits beside the file.

    Raises
    ------
    InputError, ProblemsError
        Unreadable file, missing columns, blank, unknown or repeated codes, units in two
        areas, blank areas, units with no row (all listed).

    Warns
    -----
    SdaWarning
        A unit listed twice with the same area (the extra row is ignored).
    """
    file = find_plan_file(Path(path))
    known = None if units is None else [str(u) for u in units]
    # The names given, else the usual ones: a layer counts as a plan when it has both.
    code_choices = (code_field,) if code_field else (*CODE_FIELDS, *more_code_fields)
    area_choices = (area_field,) if area_field else (*AREA_FIELDS, *more_area_fields)
    layer: gpd.GeoDataFrame | None
    if file.suffix.lower() in SPREADSHEET_SUFFIXES:
        frame = _read_csv(file, (code_field or PLAN_COLUMNS[0], area_field or PLAN_COLUMNS[1]))
        layer, rows, layer_name = None, [f"row {row_number(file, i)}" for i in frame.index], None
    else:
        read, layer_name = _read_vector(file, code_choices, area_choices)
        if len(read) == 0:  # no fields either, in a GeoJSON: not a column to name with --code-field
            what = f"layer {layer_name!r}" if file.suffix.lower() == ".gpkg" else "the plan"
            msg = (
                f"{what} has no features (0 units); expected one feature per unit, with its unit code and area. "
                "Fix: export the layer again (in QGIS, untick 'Save only selected features'), or undo the "
                "deletion of its features."
            )
            raise InputError(file, msg)
        # QGIS shows a GeoPackage's fids in the attribute table; other files have features in order.
        gpkg = file.suffix.lower() == ".gpkg"
        rows = [f"fid {int(i)}" if gpkg else f"feature {n}" for n, i in enumerate(read.index, start=1)]
        read = read.reset_index(drop=True)
        # A table without geometry (a tab-separated file, a GeoPackage attribute table) is read
        # like a CSV: codes and areas only.
        layer = read if isinstance(read, gpd.GeoDataFrame) else None
        frame = pd.DataFrame(read.drop(columns="geometry") if layer is not None else read)
    _refuse_areas_table(
        file, layer_name, frame, [*CODE_FIELDS, *more_code_fields, *([code_field] if code_field else [])]
    )
    code_option, area_option = ("--code-field", "--area-field") if field_options else (None, None)
    code_col = _column(file, frame, (*CODE_FIELDS, *more_code_fields), "unit code", code_field, code_option)
    area_col = _column(file, frame, (*AREA_FIELDS, *more_area_fields), "area", area_field, area_option)
    codes = frame[code_col].map(_text)
    areas = frame[area_col].map(_text)
    keep = _check_rows(file, rows, codes, areas, code_col, area_col, known)
    codes, areas, frame = codes[keep], areas[keep], frame[keep]
    assignment = pd.Series(areas.to_numpy(), index=pd.Index(codes.to_numpy(), name="unit_code"), name="area_id")
    names: dict[str, str] = {}
    name_col = next((c for c in NAME_FIELDS if c in frame.columns), None)
    if name_col is not None:
        # The name most of an area's rows give: a unit moved by editing its area id keeps its old
        # area's name on its row, and must not rename the area it joined.
        given = pd.DataFrame({"area": areas.to_numpy(), "name": frame[name_col].map(_text).to_numpy()})
        given = given[given["name"] != ""]
        counted = given.groupby(["area", "name"], sort=False).size().reset_index(name="rows")
        for area, name in counted.sort_values("rows", ascending=False, kind="stable")[["area", "name"]].itertuples(
            index=False
        ):
            names.setdefault(str(area), str(name))
    if layer is not None:
        layer = layer[keep].assign(unit_code=codes.to_numpy()).set_index("unit_code")
        if "population" in layer.columns:
            kept = [row for row, kept_row in zip(rows, keep, strict=True) if kept_row]
            layer["population"] = _whole_numbers(file, layer["population"], kept)
    record = _read_record(file.parent / "plan.json")
    if file.suffix.lower() == ".gpkg":
        _warn_if_areas_layer_edited(file, record)
    return PlanFile(path=file, assignment=assignment, area_names=names, units=layer, record=record)


def run_folder(path: Path | str) -> Path | None:
    """The ``sda`` output folder a plan sits in (the folder itself, or the file's folder), or None.

    A folder counts when it holds the run's ``assignment.csv`` and ``plan.json``.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if (folder / "assignment.csv").is_file() and (folder / "plan.json").is_file():
        return folder
    return None


def run_areas(plan: PlanFile, codes: Iterable[str]) -> list[str] | None:
    """Each of ``codes``' area as the plan's run made it ("" unknown), when the plan was edited
    after its run (its ``plan.json`` records another assignment), else None: a re-run or a diff
    can then tell a move that undoes the edit from any other."""
    saved = (plan.record or {}).get("assignment")
    if not isinstance(saved, dict) or plan.as_run_wrote:
        return None
    made = {str(k): str(v) for k, v in saved.items()}
    return [made.get(str(code), "") for code in codes]


def read_original(path: Path | str, *, units: Iterable[str] | None = None) -> pd.Series | None:
    """The assignment the run wrote: ``assignment.csv`` of the output folder ``path`` is or sits
    in. None when there is no such folder, or when ``path`` is that very file.

    QGIS edits ``plan.gpkg`` (or ``units.geojson``) in place and leaves ``assignment.csv`` as
    the run wrote it, so the two differ exactly by the officer's edits.
    """
    folder = run_folder(path)
    if folder is None:
        return None
    csv = folder / "assignment.csv"
    if find_plan_file(Path(path)).resolve() == csv.resolve():
        return None
    return read_assignment(csv, units=units, code_field="unit_code", area_field="area_id")


def changed_units(edited: pd.Series, original: pd.Series) -> pd.DataFrame:
    """Units whose area differs between two assignments (``unit_code -> area_id``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``unit_code`` (sorted), columns ``from_area`` (in ``original``) and
        ``to_area`` (in ``edited``); units in only one of the two are left out.
    """
    common = edited.index.intersection(original.index)
    before, after = original.loc[common].astype(str), edited.loc[common].astype(str)
    moved = (before != after).to_numpy()
    frame = pd.DataFrame({"from_area": before[moved], "to_area": after[moved]})
    frame.index.name = "unit_code"
    return frame.sort_index()


def _read_csv(path: Path, wanted: Sequence[str] = PLAN_COLUMNS) -> pd.DataFrame:
    """A plan CSV as Excel saves it too (see ``sda.io.read_text_csv``), also semicolon (European
    Excel) or tab separated; ``wanted`` are the code and area columns its header should have. A workbook or
    Excel's "Unicode Text" given as the plan is refused with the Save As that makes it a CSV."""
    try:
        return read_text_csv(path, wanted, separators=",;\t")
    except OSError as exc:
        raise InputError(path, f"cannot read the plan ({exc}).") from exc


def _read_vector(path: Path, code_fields: Sequence[str], area_fields: Sequence[str]) -> tuple[pd.DataFrame, str]:
    """The plan's layer in EPSG:27700 (of a GeoPackage with several, the one ``_plan_layer``
    chooses), and its name; a plain DataFrame when the layer has no geometry."""
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        layer, frame = _plan_layer(path, layers, code_fields, area_fields)
        if frame is None:
            frame = pyogrio.read_dataframe(path, layer=layer, fid_as_index=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, IndexError) as exc:
        expected = "expected an sda plan.gpkg or units.geojson, or a CSV."
        if path.stat().st_size == 0:  # a save that failed or a copy cut short, not a format problem
            msg = f"the file is empty (0 bytes); {expected} Fix: save or copy the plan again."
        else:
            msg = f"cannot open the plan ({gdal_reason(exc)}); {expected} {_unreadable_fix(path)}"
        raise InputError(path, msg) from exc
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        return frame, layer
    if frame.crs is None:
        msg = "the layer has no CRS; save it with one (sda writes EPSG:27700 in plan.gpkg, WGS84 in GeoJSON)."
        raise InputError(path, msg)
    return (frame if frame.crs == _BNG else frame.to_crs(_BNG)), layer


def _unreadable_fix(path: Path) -> str:
    """The fix for a plan file that cannot be opened: its folder's record is no plan, and a run's
    folder has the same plan in other files (a plan.gpkg damaged in a copy, beside its CSV)."""
    if path.name == "plan.json":
        return f"plan.json records a run; it is not a plan. Fix: give its folder ({path.parent}) instead."
    others = [n for n in ("units.geojson", "assignment.csv") if n != path.name and (path.parent / n).is_file()]
    if others:
        same = path.parent / others[0]
        return f"Fix: give {same} (the same plan, from the same run) instead, or save the plan again."
    return "Fix: save the plan again, as a GeoPackage, GeoJSON or CSV."


#: The layers of sda's plan.gpkg that are not the plan (``units`` is).
_OTHER_SDA_LAYERS = ("areas", "adjacency", "practices", "districts", "moved_units", "layer_styles")


def _plan_layer(
    path: Path, layers: Sequence[str], code_fields: Sequence[str], area_fields: Sequence[str]
) -> tuple[str, pd.DataFrame | None]:
    """The layer of a file that is the plan: the only one; else ``units``; else the one layer with
    a unit code and an area (sda's other layers aside), or the first of copies that agree.

    QGIS's "Save Features As" into an existing GeoPackage adds a layer: an officer's edits end up
    beside the run's ``units`` (``units_edited``), or two drafts side by side in a file of their
    own. Reading one of them would drop the other's edits unseen, so plans that differ are an
    error that names the layers; the first layer is read only when no layer holds a plan.

    Returns the layer and, when choosing it read it whole (as ``_read_vector`` reads it, with its
    geometry and fids), its frame, so that it is not read twice; else None, to be read.
    """
    if len(layers) <= 1:
        return layers[0], None  # an IndexError for a file with no layer: "cannot open the plan"
    given = "units" if "units" in layers else None
    others = [name for name in layers if name != given and name not in _OTHER_SDA_LAYERS]
    if not others:
        return given or layers[0], None
    pairs: dict[str, dict[str, str]] = {}
    frames: dict[str, pd.DataFrame] = {}
    for name in [*([given] if given else []), *others]:
        # The layer that will be the plan (``units``, else the first with a code and an area) is
        # read whole; the others only for their codes and areas.
        whole = name == given or (
            given is None and not pairs and _has_plan_fields(path, name, code_fields, area_fields)
        )
        frame = _read_whole(path, name) if whole else None
        if frame is not None:
            frames[name] = frame
            read = _pairs(frame, code_fields, area_fields)
        else:  # also a layer that could not be read whole: its codes and areas may still be read
            read = quick_pairs(path, name, code_fields=code_fields, area_fields=area_fields)
        if read is not None:
            pairs[name] = {code: area for code, (area, _) in read.items()}
    plan = given or next(iter(pairs), layers[0])
    if plan not in pairs:  # no layer holds a plan: reading it names the missing fields
        return plan, frames.get(plan)
    differing = {name: _units_differing(pairs[plan], theirs) for name, theirs in pairs.items() if name != plan}
    differing = {name: count for name, count in differing.items() if count}
    if not differing:
        return plan, frames.get(plan)
    than = f"in another area or not in {plan!r}" if given else f"in another area than in {plan!r}"
    listed = ", ".join(f"{name!r} ({count} unit(s) {than})" for name, count in differing.items())
    fix = (
        f"Fix: save the layer you {'edited' if given else 'mean'} as a GeoPackage of its own (QGIS: Export > "
        "Save Features As, a new file) and give that file"
    )
    if given:
        msg = (
            f"the layer {plan!r} is the plan read, but {listed} "
            f"{'holds' if len(differing) == 1 else 'hold'} another plan of the same units (an edited copy saved "
            f"into the same file?); expected one per-unit layer, or copies that agree. {fix}, or copy its edits "
            f"into {plan!r} and delete the other layer."
        )
    else:
        msg = (
            f"no layer 'units', and the layers {plan!r}, {listed} hold different plans of the same units, so it "
            f"is not clear which is the plan; expected one per-unit layer, or copies that agree. {fix}, or delete "
            "the other layers."
        )
    raise InputError(path, msg)


def _has_plan_fields(path: Path, layer: str, code_fields: Sequence[str], area_fields: Sequence[str]) -> bool:
    """Whether a layer has a unit code and an area field, from its field list alone."""
    try:
        fields = pyogrio.read_info(path, layer=layer)["fields"]
    except (OSError, ValueError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return False
    return _find_column(fields, code_fields) is not None and _find_column(fields, area_fields) is not None


def _read_whole(path: Path, layer: str) -> pd.DataFrame | None:
    """A layer with its geometry and fids, as ``_read_vector`` reads the plan; None when it cannot
    be read (then ``_read_vector`` reads it again and names the reason)."""
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, fid_as_index=True)
    except (OSError, ValueError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return None
    return frame if isinstance(frame, pd.DataFrame) else None


def _units_differing(plan: Mapping[str, str], other: Mapping[str, str]) -> int:
    """How many units two plans put in different areas, a unit in one plan only counting too."""
    return sum(plan.get(code) != other.get(code) for code in set(plan) | set(other))


def _refuse_areas_table(path: Path, layer: str | None, frame: pd.DataFrame, code_fields: Sequence[str]) -> None:
    """sda's ``areas`` layer or ``areas.csv`` read as a plan has no unit codes, and the fix is the
    per-unit layer or file beside it, not ``--code-field``: say so. ``layer`` is None for a CSV."""
    columns = {str(c).lower() for c in frame.columns}
    if any(name.lower() in columns for name in code_fields):
        return
    if (layer or "").lower() != "areas" and "n_units" not in columns:
        return
    if path.suffix.lower() == ".gpkg":
        found, per_unit = f"layer {layer!r} has", "the layer 'units', which this file does not have"
        fix = "the plan.gpkg sda propose wrote"
    elif layer is None:
        found, per_unit, fix = "this is an areas table with", "a table such as assignment.csv", "assignment.csv"
    else:
        found, per_unit, fix = "this is an areas layer with", "a layer such as units.geojson", "units.geojson"
    msg = (
        f"{found} one row per area (no unit codes); sda reads a plan, one row per unit (unit_code, area_id), "
        f"from {per_unit}. Fix: give {fix} or its output folder; to move a unit to another area, change "
        "its area_id there."
    )
    raise InputError(path, msg)


def areas_layer_changes(drawn: Iterable[Any], run_ids: set[str]) -> str:
    """How the ids of an ``areas`` layer differ from the run's areas ("" when they do not): ids
    given twice (areas merged in QGIS), missing (deleted) or new. Ids are read as every copy of a
    plan is (``plan_text``), so an id typed again with a space is the same area."""
    counts = Counter(plan_text(a) for a in drawn)
    twice = sorted(a for a, n in counts.items() if n > 1)
    gone, new = sorted(run_ids - set(counts)), sorted(set(counts) - run_ids)
    parts = (
        f"{', '.join(twice)} more than once" if twice else "",
        f"{', '.join(gone)} missing" if gone else "",
        f"{', '.join(new)} not in the run" if new else "",
    )
    return "; ".join(part for part in parts if part)


def _warn_if_areas_layer_edited(path: Path, record: dict[str, Any] | None) -> None:
    """Warn with ``areas_layer_note`` when the GeoPackage's ``areas`` layer was edited."""
    if note := areas_layer_note(path, record):
        warnings.warn(note, SdaWarning, stacklevel=3)


def areas_layer_note(path: Path, record: Mapping[str, Any] | None) -> str:
    """A note when the ``areas`` layer of a GeoPackage has ids that are not the areas of the run
    ``record`` (its ``plan.json``) describes, "" otherwise: an officer may merge or delete areas
    there in QGIS, and sda reads the units, so those edits are not read."""
    areas = (record or {}).get("areas")
    run_ids = {str(a.get("area_id")) for a in areas if isinstance(a, dict)} if isinstance(areas, list) else set()
    if not run_ids or path.suffix.lower() != ".gpkg":
        return ""
    try:  # a file without the layer: DataLayerError
        drawn = pyogrio.read_dataframe(path, layer="areas", columns=["area_id"], read_geometry=False)["area_id"]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError, KeyError):
        return ""
    found = areas_layer_changes(drawn, run_ids)
    if not found:
        return ""
    return (
        f"{path}: layer 'areas' was edited after the run ({found}); sda reads the plan "
        "from layer 'units' only, so edits to the areas layer are not read. To merge or move areas, change "
        "area_id of their units."
    )


def _column(
    path: Path, frame: pd.DataFrame, choices: tuple[str, ...], what: str, named: str | None, option: str | None
) -> str:
    """The column of ``what``: ``named`` (given with ``option``), else the first of ``choices``."""
    found = ", ".join(str(c) for c in frame.columns if c != "geometry") or "none"
    if named is not None:
        if named in frame.columns:
            return named
        msg = f"{option} {named!r} is not a column of the plan (found: {found}); give one of those."
        raise InputError(path, msg, field=named)
    column = _find_column(frame.columns, choices)
    if column is not None:
        return column
    fix = f"name the column with {option} NAME" if option else f"rename the column to {choices[0]} in the file"
    msg = f"no {what} column; expected one of {', '.join(dict.fromkeys(choices))} (found: {found}). Fix: {fix}."
    raise InputError(path, msg, field=choices[0])


def _find_column(columns: Iterable[object], choices: Sequence[str]) -> str | None:
    """The first of ``choices`` among ``columns``, as spelt there: the same name, else in another case."""
    names = [str(c) for c in columns]
    lowered = {name.lower(): name for name in reversed(names)}
    for choice in choices:
        if choice in names:
            return choice
        if choice.lower() in lowered:
            return lowered[choice.lower()]
    return None


def _check_rows(
    path: Path,
    rows: Sequence[str],
    codes: pd.Series,
    areas: pd.Series,
    code_col: str,
    area_col: str,
    known: Sequence[str] | None,
) -> list[bool]:
    """Raise listing every bad row (and units with no row); return which rows to keep (the first
    of a unit listed twice with the same area)."""
    problems = []
    keep = []
    known_set = None if known is None else set(known)
    missing = [] if known is None else sorted(set(known) - set(codes))
    seen: dict[str, tuple[str, str]] = {}
    twice: list[str] = []
    for row, code, area in zip(rows, codes, areas, strict=True):
        keep.append(False)
        if not code:
            problems.append(f"{row}, field {code_col!r}: blank unit code; give every row its unit's code")
            continue
        if known_set is not None and code not in known_set:
            near = difflib.get_close_matches(code, missing, n=1, cutoff=0.6) or difflib.get_close_matches(
                code, list(known or []), n=1, cutoff=0.6
            )
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            problems.append(
                f"{row}, field {code_col!r}: unit {code!r} is not in the units file{hint}; expected one of "
                f"its {len(known_set):,} unit codes. Fix: correct the code, or delete the row"
            )
            continue
        if is_placeholder(area):
            problems.append(
                f"{row}, field {area_col!r}: unit {code!r} has {area!r} for its area, which a spreadsheet leaves when "
                "a formula or lookup failed; expected an area id. Fix: give it the id of its area"
            )
            continue
        if not area:
            example = next((a for a in areas if a), "SDA-01")
            problems.append(
                f"{row}, field {area_col!r}: unit {code!r} has no area (blank); expected an area id such as "
                f"{example!r}. Fix: give it the id of its area"
            )
            continue
        if code in seen:
            first_row, first_area = seen[code]
            if first_area != area:
                problems.append(
                    f"{row}, field {code_col!r}: unit {code!r} again (first on {first_row}), in two areas, "
                    f"{first_area!r} and {area!r}; a unit belongs to one area: delete one of the rows"
                )
            else:
                twice.append(f"{code} ({first_row} and {row})")
            continue
        seen[code] = (row, area)
        keep[-1] = True
    unknown = [] if known_set is None else [c for c in dict.fromkeys(codes) if c and c not in known_set]
    # Zeros Excel dropped, or codes in another case (retyped, a database export): one diagnosis
    # and one fix for them all, first, so that the listing of rows never cuts it off.
    slip = lost_zeros(unknown, missing) or lost_case(unknown, missing)
    if slip:
        problems.insert(0, f"field {code_col!r}:{slip[0]} Fix: {slip[1]}")
    if missing:
        shown = ", ".join(missing[:20]) + (f" (+{len(missing) - 20} more)" if len(missing) > 20 else "")
        problems.append(
            f"field {code_col!r}: {len(missing)} unit(s) of the units file have no row: {shown}; every unit "
            "needs an area: add them back (the run's assignment.csv lists them), or undo the deletion in QGIS"
        )
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise ProblemsError(f"{path}: {count} in the plan (fix, then run again):", problems)
    if not len(codes):
        msg = "the plan has no rows; expected one row per unit."
        raise InputError(path, msg)
    if twice:
        warnings.warn(
            f"{path}: {len(twice)} unit(s) listed twice with the same area, the extra rows ignored: "
            + ", ".join(twice[:10]),
            SdaWarning,
            stacklevel=4,
        )
    return keep


def _whole_numbers(path: Path, values: pd.Series, rows: Sequence[str]) -> pd.Series:
    """The layer's populations as integers; ``rows`` name its features as the other checks do."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = [row for row, v in zip(rows, numbers, strict=True) if pd.isna(v) or v < 0 or v != int(v)]
    if bad:
        msg = f"population is not a whole number >= 0 ({', '.join(bad[:10])}); fix those rows."
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
