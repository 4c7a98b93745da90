"""Best-fit populations: residents given as points, summed into the polygons they fall in.

ONS builds its best-fit lookups this way: each output area goes, whole, to the polygon holding
its population-weighted centroid. This module does the same for any polygon layer, so parish or
ward polygons without a population table still get one. It owns reading the points (a CSV with
coordinate columns in any CRS, or a point layer), the point-in-polygon count, and the accounting
of the points that do not land in exactly one unit:

- a point on the border of two or more units is counted once, in the first of them in file
  order (deterministic), and reported;
- a point in no unit is not counted; such points are reported with their residents, and the run
  is refused when their share of all residents is above ``[units] max_unplaced_share``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pyproj.exceptions

from sda.config import UnitsConfig
from sda.errors import ConfigError, InputError, ProblemsError
from sda.formatting import show_whole
from sda.validate import as_code_strings, code_problems, parse_numbers, row_number

__all__ = ["PointFit", "PopulationPoints", "best_fit_units", "fit_points", "read_population_points", "summarise_fit"]

_BNG = "EPSG:27700"
_SHOWN_CODES = 10  # points named in a message before "..."


@dataclass(frozen=True)
class PopulationPoints:
    """Points holding residents, in EPSG:27700.

    Attributes
    ----------
    points : one point per row in file order, with ``population`` (int64) and ``code`` (str; the
        1-based row number when no code column is configured).
    source : the file, for messages and provenance.
    swapped : for a CSV, the same points read with its x and y columns the other way round, in
        EPSG:27700, to tell a run whose points mostly miss that the columns look swapped.
    """

    points: gpd.GeoDataFrame
    source: Path
    swapped: gpd.GeoSeries | None = None  # the CSV's points with x and y the other way round


@dataclass
class PointFit:
    """The result of summing points into units.

    Attributes
    ----------
    population : residents per unit, aligned with the units (int64).
    unit_of_point : position of the unit each point was counted in, -1 for none.
    on_border : points on the border of two or more units (counted once, in the first).
    """

    population: np.ndarray
    unit_of_point: np.ndarray
    on_border: np.ndarray
    total: int
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def unplaced(self) -> np.ndarray:
        """Mask of the points that fell in no unit."""
        return self.unit_of_point < 0


def read_population_points(cfg: UnitsConfig) -> PopulationPoints:
    """Read ``[units] population_points``: a CSV with coordinate columns, or a point layer.

    Raises
    ------
    InputError
        The file is missing or unreadable, a configured column is absent, or it has no points.
    ProblemsError
        Rows with a missing or non-numeric coordinate, or a population that is not a whole
        number >= 0; all are listed with their row.
    ConfigError
        ``population_points_crs`` is not a CRS pyproj knows.
    """
    from sda.io import _read_vector, _require_fields, _require_file, read_text_csv

    path = Path(str(cfg.population_points))
    _require_file(path, "[units] population_points")
    pop_field = cfg.population_points_field
    code_field = cfg.population_points_code_field
    if path.suffix.lower() in (".csv", ".txt"):
        x_field, y_field = cfg.population_points_x_field, cfg.population_points_y_field
        wanted = [x_field, y_field, pop_field, *([code_field] if code_field else [])]
        table = read_text_csv(path, wanted)
        _require_fields(path, list(table.columns), wanted, "named in [units]", "column", "the CSV")
        crs = _parse_crs(cfg.population_points_crs)
        x, y = parse_numbers(table[x_field]), parse_numbers(table[y_field])
        problems = [
            f"{path}, row {row_number(path, table.index[i])}, fields {x_field!r}/{y_field!r}: got "
            f"{table[x_field].iat[i]!r}, {table[y_field].iat[i]!r}; expected two numbers. "
            f"Fix: {_coordinates_fix(table, x_field, y_field, int(i))}"
            for i in np.flatnonzero(~(np.isfinite(x.to_numpy()) & np.isfinite(y.to_numpy())))
        ]
        geometry = gpd.points_from_xy(x.fillna(0), y.fillna(0), crs=crs)
        frame = gpd.GeoDataFrame(table, geometry=geometry, crs=crs)
        with np.errstate(all="ignore"):
            swapped = gpd.GeoSeries(gpd.points_from_xy(y.fillna(0), x.fillna(0), crs=crs)).to_crs(_BNG)
    else:
        from sda.io import _choose_layer

        layer = _choose_layer(path, None)
        columns = [pop_field, *([code_field] if code_field else [])]
        frame = _read_vector(path, layer, columns, counts=[pop_field], code_field=code_field or None)
        _require_fields(path, list(frame.columns), [pop_field], "named in [units]", "field", f"layer {layer!r}")
        if frame.crs is None:
            msg = "the point layer has no CRS; expected one (e.g. EPSG:27700). Fix: set it in QGIS and save again."
            raise InputError(path, msg)
        swapped = None
        kinds = set(frame.geometry.geom_type.dropna())
        problems = [] if kinds <= {"Point"} else [f"{path}: geometry types {sorted(kinds)}; expected points only."]
    residents = parse_numbers(frame[pop_field])
    values = residents.to_numpy()
    bad = ~(np.isfinite(values) & (values >= 0) & (np.mod(np.nan_to_num(values), 1) == 0))
    problems += [
        f"{path}, row {row_number(path, frame.index[i])}, field {pop_field!r}: got {frame[pop_field].iat[i]!r}; "
        "expected a whole number of residents >= 0. Fix: correct the value (digits only)."
        for i in np.flatnonzero(bad)
    ]
    if code_field:  # a row pasted twice would count its residents twice
        written = frame[code_field].reset_index(drop=True)
        problems += [f.message for f in code_problems(as_code_strings(written), path, code_field, "point", written)]
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise ProblemsError(f"{count} in the population points file {path} (fix, then run again):", problems)
    if len(frame) == 0:
        msg = "the file has no rows; expected one point per small area with its residents."
        raise InputError(path, msg)
    if not values.any():  # nothing to place: the share "unplaced" would be 0 of 0 residents
        msg = (
            f"every point (all {show_whole(len(frame))} rows) has 0 residents; expected the number of "
            f"residents at each point. Fix: check that {pop_field!r} is the population column "
            "(population_points_field in [units]) and that the export or join that filled it worked."
        )
        raise InputError(path, msg, field=pop_field)
    codes = as_code_strings(frame[code_field]) if code_field else pd.Series([str(i + 1) for i in range(len(frame))])
    with np.errstate(all="ignore"):
        geometry_bng = frame.geometry.to_crs(_BNG)
    points = gpd.GeoDataFrame(
        {"code": codes.to_numpy(), "population": values.astype(np.int64)},
        geometry=geometry_bng.to_numpy(),
        crs=_BNG,
    )
    return PopulationPoints(points=points, source=path, swapped=swapped)


def _coordinates_fix(table: pd.DataFrame, x_field: str, y_field: str, i: int) -> str:
    """The fix for a row whose coordinates are not two numbers: a decimal comma (a European
    spreadsheet's "0,295853") is not a missing value."""
    written = [str(table[f].iat[i]).strip() for f in (x_field, y_field)]
    if any(re.fullmatch(r"-?\d+,\d+", w) for w in written):
        return "write the decimals with a point (0.295853), not a comma; or save the CSV with a point as separator."
    return "fill in the coordinates or delete the row."


def _parse_crs(text: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError as exc:
        msg = (
            f"[units] population_points_crs = {text!r} is not a CRS pyproj knows; expected e.g. "
            '"EPSG:27700" (eastings/northings) or "EPSG:4326" (lon/lat).'
        )
        raise ConfigError(msg) from exc


def fit_points(units: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> PointFit:
    """Sum point populations into the polygons that hold them (point-in-polygon, ONS best-fit).

    Parameters
    ----------
    units
        Polygons in EPSG:27700, in file order (a point on a shared border goes to the first).
    points
        Points in EPSG:27700 with an integer ``population`` column.

    Returns
    -------
    PointFit
        Residents per unit and, for every point, the unit it was counted in (-1 for none).
    """
    geoms = gpd.GeoDataFrame(geometry=units.geometry.to_numpy(), crs=units.crs)
    pts = gpd.GeoDataFrame(geometry=points.geometry.to_numpy(), crs=points.crs)
    joined = gpd.sjoin(pts, geoms, how="inner", predicate="intersects")
    hits = pd.DataFrame({"point": joined.index.to_numpy(), "unit": joined["index_right"].to_numpy()})
    n_hits = np.bincount(hits["point"].to_numpy(), minlength=len(points)) if len(hits) else np.zeros(len(points), int)
    first = hits.groupby("point")["unit"].min()  # the first unit in file order: deterministic
    unit_of_point = np.full(len(points), -1, dtype=np.int64)
    unit_of_point[first.index.to_numpy()] = first.to_numpy()
    residents = points["population"].to_numpy().astype(np.int64)
    placed = unit_of_point >= 0
    population = np.bincount(unit_of_point[placed], weights=residents[placed], minlength=len(units))
    return PointFit(
        population=np.rint(population).astype(np.int64),
        unit_of_point=unit_of_point,
        on_border=n_hits > 1,
        total=int(residents.sum()),
    )


def best_fit_units(units: gpd.GeoDataFrame, cfg: UnitsConfig) -> PointFit:
    """Give ``units`` their populations from ``[units] population_points``, refusing too many unplaced.

    Sets ``units["population"]`` in place and returns the fit, whose ``summary`` (also in
    ``units.attrs["population_fit"]``) records what was placed, unplaced and on a border.

    Raises
    ------
    InputError
        More than ``max_unplaced_share`` of the points' residents fall in no unit.

    Points in no unit and points on a border are not warnings (a points file often reaches beyond
    the units on purpose); they are in ``summary["notes"]``, which the run shows in its progress
    and the report lists under data caveats.
    """
    source = read_population_points(cfg)
    fit = fit_points(units, source.points)
    fit.summary = summarise_fit(fit, source, cfg)
    share = fit.summary["unplaced_share"]
    if share > cfg.max_unplaced_share:
        fix = _swapped_columns_fix(units, source, cfg) or (
            f"Fix: check population_points_crs = {cfg.population_points_crs!r} (when most points miss, "
            "the coordinates are in another CRS: lon/lat need 'EPSG:4326'), check that the points and "
            "the units cover the same place, or raise max_unplaced_share if the file deliberately "
            "reaches beyond the units."
        )
        msg = (
            f"{fit.summary['unplaced_text']}: {100 * share:.2f}% of the residents in the file, above "
            f"[units] max_unplaced_share = {cfg.max_unplaced_share}. {fix}"
        )
        raise InputError(source.source, msg, field=cfg.population_points_field)
    units["population"] = fit.population
    empty = fit.population == 0
    if empty.any():  # not an error (a park, an airfield), but a gap in the points looks the same
        note = (
            f"Units with no point of {source.source.name}, and so no residents: {show_whole(int(empty.sum()))} "
            f"of {show_whole(len(units))} (codes {_some(units.index.to_numpy()[empty])}). A unit may "
            "truly have nobody in it (a park, an airfield); otherwise check that the points file covers it."
        )
        fit.summary["notes"].append(note)
        fit.summary["caveats"].append(note)
    units.attrs["population_fit"] = fit.summary
    return fit


def _swapped_columns_fix(units: gpd.GeoDataFrame, source: PopulationPoints, cfg: UnitsConfig) -> str:
    """What to change when the CSV's x and y columns look swapped (read the other way round, most
    residents fall in a unit: a file whose northing comes first), else ""."""
    if source.swapped is None:
        return ""
    fit = fit_points(units, source.points.set_geometry(source.swapped.to_numpy()))
    residents = source.points["population"].to_numpy()
    placed = float(residents[~fit.unplaced].sum()) / fit.total if fit.total else 0.0
    if placed < 0.5:
        return ""
    x_field, y_field = cfg.population_points_x_field, cfg.population_points_y_field
    return (
        f"The x and y columns look swapped: read with {y_field!r} as x and {x_field!r} as y, "
        f"{100 * placed:.1f}% of the residents fall in a unit. Fix: set population_points_x_field = "
        f"{y_field!r} and population_points_y_field = {x_field!r} in [units]."
    )


def summarise_fit(fit: PointFit, source: PopulationPoints, cfg: UnitsConfig) -> dict[str, Any]:
    """What a fit placed, left out and counted once on a border, in words and numbers."""
    pts = source.points
    residents = pts["population"].to_numpy()
    name = source.source.name
    unplaced = fit.unplaced
    border = fit.on_border & ~unplaced
    unplaced_residents = int(residents[unplaced].sum())
    share = unplaced_residents / fit.total if fit.total else 1.0
    codes = pts["code"].to_numpy()
    what = "codes" if cfg.population_points_code_field else "rows"
    unplaced_text = (
        f"{show_whole(int(unplaced.sum()))} of {show_whole(len(pts))} points in {name} "
        f"({show_whole(unplaced_residents)} residents) fall in no unit"
    )
    notes = []
    if unplaced.any():
        notes.append(
            f"{unplaced_text} and are not counted ({what} {_some(codes[unplaced])}): "
            f"{100 * share:.1f}% of the file's residents, within [units] max_unplaced_share = "
            f"{cfg.max_unplaced_share:g} (a points file may reach beyond the units on purpose)."
        )
    if border.any():
        notes.append(
            f"{show_whole(int(border.sum()))} points in {name} ({show_whole(int(residents[border].sum()))} "
            f"residents) lie on the border of two or more units; each is counted once, in the first of "
            f"them in file order ({what} {_some(codes[border])})."
        )
    placed = int(residents[~unplaced].sum())
    line = (
        f"Populations: {show_whole(placed)} residents from {show_whole(int((~unplaced).sum()))} points in "
        f"{name}, each counted in the unit holding it (point-in-polygon, as ONS best-fits areas)."
    )
    if cfg.population_source:
        line += f" Source: {cfg.population_source}."
    return {
        "file": name,
        "points": len(pts),
        "points_total_residents": fit.total,
        "placed_residents": placed,
        "unplaced_points": int(unplaced.sum()),
        "unplaced_residents": unplaced_residents,
        "unplaced_share": round(share, 6),
        "max_unplaced_share": cfg.max_unplaced_share,
        "border_points": int(border.sum()),
        "border_residents": int(residents[border].sum()),
        "unplaced_text": unplaced_text,
        "caveats": [line, *notes],
        "notes": notes,
    }


def _some(codes: np.ndarray) -> str:
    shown = ", ".join(str(c) for c in codes[:_SHOWN_CODES])
    return shown + (f" and {len(codes) - _SHOWN_CODES} more" if len(codes) > _SHOWN_CODES else "")
