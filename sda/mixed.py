"""Mixed units: parishes where there are parishes, a finer layer where there are none.

The ONS "Parishes and Non Civil Parished Areas" layer stores each district's unparished land as
one feature (Cambridge: about 146,000 residents), far above any area's maximum. This module
replaces such a unit by the units of a finer layer (``[units.split]``: LSOAs, wards or output
areas) that lie inside it. It owns choosing the units to split, matching the two layers, and
accounting for what does not match:

- a finer unit goes to the unit it overlaps most (by area) and is clipped to it;
- land of a split unit that none of its pieces covers (a gap between the layers) is merged into
  the piece it borders most; land of a piece outside its unit (an overlap) is cut off. Both are
  reported with their area and residents when above ``tolerance_m2``, and never dropped
  silently: their area is counted in the run's summary;
- a piece's population comes from the points the unit was best-fitted from (so the unit's
  residents are shared out exactly), or else from the finer layer's own field or CSV (the
  difference from the unit's population is then reported).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from sda.config import SplitConfig, UnitsConfig
from sda.errors import ConfigError, InputError, SdaWarning
from sda.formatting import counted, show_whole
from sda.population import PopulationPoints, fit_points, read_population_points

__all__ = ["SplitUnit", "split_progress", "split_reasons", "split_units"]

_TOUCH_M = 0.5  # a gap part "borders" a piece when they come within this many metres


def split_progress(records: list[SplitUnit], n_units: int) -> str | None:
    """The progress line for a split: the units split, not those marked for it and kept whole
    (no finer unit lies inside them; a note of their own says so), which it counted too."""
    split = [r for r in records if r.pieces]
    kept = len(records) - len(split)
    if not split:
        return None
    whole = f" ({kept} kept whole)" if kept else ""
    return f"split {counted(len(split), 'unit')} into finer units{whole}: {n_units:,} units now"


@dataclass
class SplitUnit:
    """One unit replaced by finer pieces, and what did not match between the layers."""

    code: str
    name: str
    reason: str
    population: int
    pieces: list[str] = field(default_factory=list)
    pieces_population: int = 0
    gap_m2: float = 0.0
    gap_residents: int | None = None
    overlap_m2: float = 0.0
    overlap_residents: int | None = None
    notes: list[str] = field(default_factory=list)


def split_reasons(units: gpd.GeoDataFrame, cfg: UnitsConfig, max_population: int) -> dict[str, str]:
    """Which units ``[units.split]`` replaces, each with the reason in words.

    Raises
    ------
    InputError
        ``[units.split] field`` is not in the units file.
    ConfigError
        A code in ``[units.split] codes`` is not a unit.
    """
    split = _split_config(cfg)
    reasons: dict[str, str] = {}
    missing = [c for c in split.codes if c not in units.index]
    if missing:
        msg = (
            f"[units.split] codes: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
            f"in {cfg.path.name} (field {cfg.code_field!r}); expected unit codes. Fix: correct or remove them."
        )
        raise ConfigError(msg)
    marked = _marked_by_field(cfg, split, units) if split.field else set()
    for code, population in zip(units.index, units["population"], strict=True):
        why = []
        prefixes = [p for p in split.code_prefixes if p and str(code).startswith(p)]
        if prefixes:
            why.append(f"unparished (code starts {prefixes[0]})")
        if code in marked:
            why.append(f"unparished ({split.field} is {', '.join(split.values)})")
        if code in split.codes:
            why.append("unparished (listed in [units.split] codes)")
        if split.over_max and population > max_population:
            why.append(f"{show_whole(int(population))} residents, above max_population {show_whole(max_population)}")
        if why:
            reasons[str(code)] = "; ".join(why)
    return reasons


def _split_config(cfg: UnitsConfig) -> SplitConfig:
    if cfg.split is None:
        msg = "[units.split] is not configured"
        raise ConfigError(msg)
    return cfg.split


def _marked_by_field(cfg: UnitsConfig, split: SplitConfig, units: gpd.GeoDataFrame) -> set[str]:
    """Codes of the units whose ``split.field`` holds one of ``split.values``."""
    from sda.io import _require_fields

    info = pyogrio.read_info(cfg.path, layer=cfg.layer)
    _require_fields(
        cfg.path,
        [str(f) for f in info["fields"]],
        [str(split.field)],
        "named in [units.split]",
        "field",
        "the units file",
    )
    table = pyogrio.read_dataframe(
        cfg.path, layer=cfg.layer, columns=[cfg.code_field, str(split.field)], read_geometry=False
    )
    codes = table[cfg.code_field].astype(str).str.strip()
    values = table[str(split.field)].astype(str).str.strip()
    wanted = {v.strip() for v in split.values}
    return set(codes[values.isin(wanted)]) & set(units.index)


def split_units(
    units: gpd.GeoDataFrame, cfg: UnitsConfig, max_population: int
) -> tuple[gpd.GeoDataFrame, list[SplitUnit]]:
    """Replace the units ``[units.split]`` selects by the finer units inside them.

    Parameters
    ----------
    units
        Standard units frame from ``sda.io.read_units`` (EPSG:27700, file order).
    cfg
        The ``[units]`` section, with ``split`` set.
    max_population
        ``[areas] max_population``, for ``over_max``.

    Returns
    -------
    (GeoDataFrame, list of SplitUnit)
        The mixed units in the same standard frame (pieces take their unit's place and district;
        they are coded by the finer code and named ``"<unit>: <finer unit>"``), and one record per
        unit split. ``attrs["split"]`` holds a summary for provenance.

    Warns
    -----
    SdaWarning
        A unit with no finer unit mostly inside it (kept whole), and gaps or overlaps between the
        layers above ``tolerance_m2``.
    """
    split = _split_config(cfg)
    reasons = split_reasons(units, cfg, max_population)
    if not reasons:
        units.attrs["split"] = {"units_split": 0, "caveats": []}
        return units, []
    points = _points_for_pieces(cfg, split)
    fine = _read_finer(cfg, split)
    owner = _largest_overlap_owner(fine, units)
    rows: list[pd.DataFrame] = []
    records: list[SplitUnit] = []
    fit_assignment = _coarse_point_assignment(units, points)
    for position, code in enumerate(units.index):
        unit = units.iloc[[position]]
        if code not in reasons:
            rows.append(pd.DataFrame(unit))
            continue
        mine = fine[owner == position]
        record = SplitUnit(
            code=str(code),
            name=str(unit["unit_name"].iat[0]),
            reason=reasons[code],
            population=int(unit["population"].iat[0]),
        )
        records.append(record)
        if len(mine) == 0:
            record.notes.append(
                f"{record.name} ({code}) was to be split ({record.reason}) but no unit of "
                f"{split.path.name} lies mostly inside it; it is kept whole."
            )
            rows.append(pd.DataFrame(unit))
            continue
        rows.append(_pieces(unit, mine, record, split, points, fit_assignment, position, units))
    mixed = gpd.GeoDataFrame(pd.concat(rows), geometry="geometry", crs=units.crs)
    mixed.index.name = units.index.name
    _check_codes_unique(mixed, split)
    mixed.attrs = {k: v for k, v in units.attrs.items() if k != "split"}
    mixed.attrs["split"] = _summary(records, split, cfg)
    for note in mixed.attrs["split"]["warnings"]:
        warnings.warn(note, SdaWarning, stacklevel=2)
    return mixed, records


def _points_for_pieces(cfg: UnitsConfig, split: SplitConfig) -> PopulationPoints | None:
    """The points the pieces share their unit's residents by, or None when the finer layer has populations."""
    if split.population_field or split.population_csv:
        return None
    if cfg.population_points is None:
        msg = (
            "[units.split] has no population source: set population_field or population_csv in "
            "[units.split], or [units] population_points (points shared out among the pieces)."
        )
        raise ConfigError(msg)
    return read_population_points(cfg)


def _read_finer(cfg: UnitsConfig, split: SplitConfig) -> gpd.GeoDataFrame:
    """Read the finer layer with the units' own reader, so it gets the same checks."""
    from sda.io import read_units

    fine_cfg = UnitsConfig(
        path=split.path,
        code_field=split.code_field,
        layer=split.layer,
        name_field=split.name_field,
        population_field=split.population_field,
        population_csv=split.population_csv,
        population_csv_code_field=split.population_csv_code_field,
        population_csv_population_field=split.population_csv_population_field,
    )
    if not (split.population_field or split.population_csv):
        # Populations come from the unit's points (below); the layer needs one only to be read.
        fine_cfg = dataclasses.replace(
            fine_cfg,
            population_points=cfg.population_points,
            population_points_field=cfg.population_points_field,
            population_points_code_field=cfg.population_points_code_field,
            population_points_x_field=cfg.population_points_x_field,
            population_points_y_field=cfg.population_points_y_field,
            population_points_crs=cfg.population_points_crs,
            max_unplaced_share=1.0,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SdaWarning)  # the finer layer's own unplaced points do not matter
        return read_units(fine_cfg)


def _largest_overlap_owner(fine: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> np.ndarray:
    """Position of the unit each finer unit overlaps most (-1 when it overlaps none)."""
    tree = shapely.STRtree(units.geometry.to_numpy())
    fine_idx, unit_idx = tree.query(fine.geometry.to_numpy(), predicate="intersects")
    areas = shapely.area(shapely.intersection(fine.geometry.to_numpy()[fine_idx], units.geometry.to_numpy()[unit_idx]))
    owner = np.full(len(fine), -1, dtype=np.int64)
    best = np.zeros(len(fine))
    for f, u, a in zip(fine_idx.tolist(), unit_idx.tolist(), areas.tolist(), strict=True):
        if a > best[f]:  # ties keep the first unit in file order
            best[f], owner[f] = a, u
    return owner


def _coarse_point_assignment(units: gpd.GeoDataFrame, points: PopulationPoints | None) -> np.ndarray | None:
    """Which unit each point was counted in, as ``sda.population`` fitted them."""
    if points is None:
        return None
    return fit_points(units, points.points).unit_of_point


def _pieces(
    unit: gpd.GeoDataFrame,
    mine: gpd.GeoDataFrame,
    record: SplitUnit,
    split: SplitConfig,
    points: PopulationPoints | None,
    fit_assignment: np.ndarray | None,
    position: int,
    units: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """The unit's pieces: its finer units clipped to it, gaps merged in, populations shared out."""
    outline = unit.geometry.iat[0]
    originals = mine.geometry.to_numpy()
    clipped = shapely.intersection(originals, outline)
    outside = shapely.difference(originals, outline)
    record.overlap_m2 = float(shapely.area(outside).sum())
    covered = shapely.union_all(clipped)
    gap = shapely.difference(outline, covered)
    record.gap_m2 = float(shapely.area(gap))
    pieces = list(clipped)
    for part in shapely.get_parts(gap):
        if shapely.area(part) <= 0:
            continue
        near = shapely.buffer(part, _TOUCH_M)
        touch = shapely.area(shapely.intersection(near, np.array(pieces)))
        k = int(np.argmax(touch)) if touch.max() > 0 else int(np.argmin(shapely.distance(part, np.array(pieces))))
        pieces[k] = shapely.union(pieces[k], part)
    pieces_arr = np.array([_polygonal(g) for g in shapely.make_valid(np.array(pieces))])
    unparished = "unparished" in record.reason and "unparished" not in record.name.lower()
    label = f"{record.name} (unparished)" if unparished else record.name
    frame = gpd.GeoDataFrame(
        {
            "unit_name": [f"{label}: {n}" for n in mine["unit_name"]],
            "population": mine["population"].to_numpy().astype(np.int64),
            "district": unit["district"].iat[0],
            "district_name": unit["district_name"].iat[0],
        },
        geometry=pieces_arr,
        crs=unit.crs,
        index=pd.Index([str(c) for c in mine.index], name=unit.index.name, dtype=object),
    )
    for extra in unit.columns.difference([*frame.columns]):
        frame[extra] = unit[extra].iat[0]
    if points is not None and fit_assignment is not None:
        _share_points(frame, record, points, fit_assignment == position, gap, outside)
    record.pieces = list(frame.index)
    record.pieces_population = int(frame["population"].sum())
    return frame[unit.columns]


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep the polygons of a clipped piece (clipping can leave stray lines or points on the edge)."""
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6) and not p.is_empty]
    return shapely.union_all(parts) if parts else geom


def _share_points(
    frame: gpd.GeoDataFrame,
    record: SplitUnit,
    points: PopulationPoints,
    counted_here: np.ndarray,
    gap: shapely.Geometry,
    outside: np.ndarray,
) -> None:
    """Give the pieces the residents of the points their unit was counted from, exactly."""
    mine = points.points[counted_here]
    fit = fit_points(frame, mine)
    where = fit.unit_of_point.copy()
    lost = np.flatnonzero(where < 0)  # on the outline to within rounding: the nearest piece
    for i in lost.tolist():
        where[i] = int(np.argmin(shapely.distance(mine.geometry.iat[i], frame.geometry.to_numpy())))
    residents = mine["population"].to_numpy()
    frame["population"] = np.bincount(where, weights=residents, minlength=len(frame)).round().astype(np.int64)
    record.gap_residents = int(residents[shapely.covers(gap, mine.geometry.to_numpy())].sum()) if len(mine) else 0
    others = points.points[~counted_here]
    outside_all = shapely.union_all(outside)
    record.overlap_residents = int(
        others["population"].to_numpy()[shapely.covers(outside_all, others.geometry.to_numpy())].sum()
    )


def _check_codes_unique(mixed: gpd.GeoDataFrame, split: SplitConfig) -> None:
    repeated = mixed.index[mixed.index.duplicated()].unique().tolist()
    if repeated:
        msg = (
            f"codes {', '.join(map(str, repeated[:10]))} of {split.path.name} are also unit codes; expected "
            "the two layers to use different codes. Fix: use another code field for [units.split]."
        )
        raise InputError(split.path, msg, field=split.code_field)


def _ha(m2: float) -> str:
    return f"{m2 / 10_000:,.1f} ha"


def _summary(records: list[SplitUnit], split: SplitConfig, cfg: UnitsConfig) -> dict[str, Any]:
    """Provenance and report lines: what was split, into what, and what did not match."""
    caveats, notes = [], []
    for r in records:
        notes += r.notes
        if not r.pieces:
            continue
        caveats.append(
            f"Split: {r.name} ({r.code}, {show_whole(r.population)} residents; {r.reason}) is replaced by "
            f"its {len(r.pieces)} units of {split.path.name} ({show_whole(r.pieces_population)} residents), "
            "each clipped to it."
        )
        for what, m2, residents in (
            (
                "land of the unit that no finer unit covered (merged into the piece it borders most)",
                r.gap_m2,
                r.gap_residents,
            ),
            (
                "land of its finer units outside it (cut off, left to the units it lies in)",
                r.overlap_m2,
                r.overlap_residents,
            ),
        ):
            if m2 > split.tolerance_m2:
                people = "residents unknown" if residents is None else f"{show_whole(residents)} residents"
                notes.append(f"{r.name} ({r.code}): {_ha(m2)} of {what}, {people}.")
        if r.pieces_population != r.population:
            notes.append(
                f"{r.name} ({r.code}) has {show_whole(r.population)} residents in {cfg.path.name} but its "
                f"pieces have {show_whole(r.pieces_population)} in {split.path.name}; the pieces' figures are used."
            )
    return {
        "units_split": sum(1 for r in records if r.pieces),
        "finer_layer": split.path.name,
        "split": [dataclasses.asdict(r) | {"pieces": len(r.pieces)} for r in records],
        "caveats": caveats + notes,
        "warnings": notes,
    }
