"""Simulated changes to the shipped units between two runs, shared by the re-run tests and
``bench/rerun.py``.

These are TEST FIXTURES built from the shipped data, not data: the codes they make up start with
``REVIEW-`` so that they can never be taken for real ONS codes.

- ``boundary_review``: two neighbouring units merged, one unit split in two (its population
  divided in proportion to the Census 2021 output-area residents in each half, when the points
  file is given, else by area), one unit recoded, and one district's population grown by 20%.
- ``population_refresh``: every unit's population times 1.05, with per-unit noise.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sda.config import RunConfig

#: The district grown by 20% (South Cambridgeshire: Northstowe, Cambourne, Waterbeach).
GROWN_DISTRICT = "E07000012"
CODE, POP, DISTRICT = "LSOA11CD", "pop_mid2018", "LAD11CD"


@dataclasses.dataclass
class Review:
    """What a simulated review changed (codes before -> after)."""

    merged: tuple[str, str]
    merged_into: str
    split: str
    split_into: tuple[str, str]
    recoded: str
    recoded_to: str
    grown_district: str


def read_shipped(cfg: RunConfig) -> gpd.GeoDataFrame:
    """The shipped units file of a config, as stored (WGS84 GeoJSON with LSOA fields)."""
    return gpd.read_file(cfg.units.path)


def boundary_review(
    units: gpd.GeoDataFrame, previous: pd.Series | None = None, points_csv: Path | None = None
) -> tuple[gpd.GeoDataFrame, Review]:
    """The shipped units after a simulated boundary review (see the module docstring).

    The merged pair is the first pair of touching units (in code order) of one district that sit
    in one area of ``previous`` (when given); the split unit is the most populous unit; the
    recoded unit is the first unit in code order not otherwise touched.
    """
    bng = units.to_crs("EPSG:27700").sort_values(CODE).reset_index(drop=True)
    codes = bng[CODE].tolist()
    geoms = bng.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    split_row = int(bng[POP].idxmax())
    pair = None
    for i, code in enumerate(codes):
        if i == split_row:
            continue
        for j in sorted(tree.query(geoms[i], predicate="intersects").tolist()):
            if j <= i or j == split_row or bng.at[i, DISTRICT] != bng.at[j, DISTRICT]:
                continue
            if shapely.length(shapely.intersection(geoms[i], geoms[j])) < 100:
                continue
            if previous is not None and previous.get(code) != previous.get(codes[j]):
                continue
            pair = (i, j)
            break
        if pair:
            break
    assert pair is not None
    recode_row = next(i for i in range(len(codes)) if i not in (*pair, split_row))
    rows = []
    for i, row in bng.iterrows():
        if i in (pair[1], split_row):
            continue
        record = row.to_dict()
        if i == pair[0]:
            other = bng.loc[pair[1]]
            record.update(
                {
                    CODE: "REVIEW-M1",
                    "LSOA11NM": f"{row['LSOA11NM']} + {other['LSOA11NM']}",
                    POP: int(row[POP] + other[POP]),
                    "geometry": shapely.union(row.geometry, other.geometry),
                }
            )
        elif i == recode_row:
            record[CODE] = "REVIEW-R1"
        rows.append(record)
    rows.extend(_halves(bng.loc[split_row], points_csv))
    reviewed = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:27700")
    grown = reviewed[DISTRICT] == GROWN_DISTRICT
    reviewed.loc[grown, POP] = np.round(reviewed.loc[grown, POP] * 1.2).astype("int64")
    review = Review(
        merged=(codes[pair[0]], codes[pair[1]]),
        merged_into="REVIEW-M1",
        split=codes[split_row],
        split_into=("REVIEW-S1", "REVIEW-S2"),
        recoded=codes[recode_row],
        recoded_to="REVIEW-R1",
        grown_district=GROWN_DISTRICT,
    )
    return reviewed.to_crs(units.crs), review


def _halves(row: pd.Series, points_csv: Path | None) -> list[dict[str, object]]:
    """The unit of ``row`` cut in two by a vertical line through its centroid."""
    geom = row.geometry
    x = geom.centroid.x
    xmin, ymin, xmax, ymax = geom.bounds
    west = shapely.intersection(geom, shapely.box(xmin - 1, ymin - 1, x, ymax + 1))
    east = shapely.intersection(geom, shapely.box(x, ymin - 1, xmax + 1, ymax + 1))
    share = west.area / geom.area
    if points_csv is not None:
        points = pd.read_csv(points_csv)
        where = shapely.points(points["easting"].to_numpy(), points["northing"].to_numpy())
        in_west = float(points.loc[shapely.contains(west, where), "usual_residents_2021"].sum())
        in_east = float(points.loc[shapely.contains(east, where), "usual_residents_2021"].sum())
        if in_west + in_east > 0:
            share = in_west / (in_west + in_east)
    pop_west = round(int(row[POP]) * share)
    out = []
    for code, shape, pop in (("REVIEW-S1", west, pop_west), ("REVIEW-S2", east, int(row[POP]) - pop_west)):
        record = row.to_dict()
        record.update({CODE: code, "LSOA11NM": f"{row['LSOA11NM']} ({code[-2:]})", POP: int(pop), "geometry": shape})
        out.append(record)
    return out


def population_refresh(units: gpd.GeoDataFrame, seed: int = 0, noise: float = 0.05) -> gpd.GeoDataFrame:
    """Every unit's population times 1.05 and a per-unit factor exp(N(0, noise))."""
    rng = np.random.default_rng(seed)
    refreshed = units.copy()
    factor = 1.05 * np.exp(rng.normal(0.0, noise, len(units)))
    refreshed[POP] = np.round(refreshed[POP].to_numpy() * factor).astype("int64")
    return refreshed


def write_units(frame: gpd.GeoDataFrame, cfg: RunConfig, folder: Path) -> RunConfig:
    """Write ``frame`` as the units file of a copy of ``cfg`` (same fields) and return that copy."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "units.geojson"
    frame.to_file(path, driver="GeoJSON")
    return dataclasses.replace(cfg, units=dataclasses.replace(cfg.units, path=path), source=None, sha256="")
