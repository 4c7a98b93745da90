"""Which Primary Care Network each unit belongs to.

PCNs are lists of GP practices, not areas, so a unit's PCN has to be inferred. The default takes
the PCN of the practice nearest the unit's centroid (straight-line, in British National Grid
metres); practices outside the study area count, because people near a border register across
it. Where a user has the NHS "patients registered at a GP practice by LSOA" table aggregated to
PCNs, ``method = "shares"`` takes each unit's largest PCN share instead, which is better.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from sda.errors import InputError, SdaWarning

METHOD_TEXT = {
    "nearest": "each unit takes the PCN of the GP practice nearest its centroid (straight-line distance)",
    "shares": "each unit takes the PCN with the largest share of its registered patients (shares table)",
}


#: Practices this much (metres) further than the nearest count as equally near.
TIE_M = 0.01
#: A unit whose nearest practice is further than this (metres) is named in a warning: in
#: Cambridgeshire & Peterborough no LSOA is more than 14 km from one, so 30 km means a practices
#: file for another region, or coordinates in the wrong columns.
FAR_M = 30_000.0


def nearest_practice_pcn(units: gpd.GeoDataFrame, practices: gpd.GeoDataFrame) -> pd.Series:
    """PCN code of the practice nearest each unit's centroid, indexed like ``units``.

    Both frames must be in the same projected CRS (EPSG:27700). When practices of different PCNs
    are equally near (within ``TIE_M``; practices often share a health centre), the first PCN code
    in sort order wins, so the answer does not depend on the order of the practice file.
    """
    centroids = units.geometry.centroid
    xy = np.column_stack([centroids.x, centroids.y])
    tree = cKDTree(np.column_stack([practices.geometry.x, practices.geometry.y]))
    distance, nearest = tree.query(xy)
    source = practices.attrs.get("source", "the GP practices file")
    if len(distance) and (distance > FAR_M).all():
        raise _nowhere_near(source, distance, xy, practices)
    _warn_far(units.index, distance, source)
    pcn = practices["pcn_code"].to_numpy().astype(str)
    chosen = pcn[nearest]
    for i, near in enumerate(tree.query_ball_point(xy, distance + TIE_M)):
        if len(near) > 1:
            chosen[i] = min(pcn[near])
    return pd.Series(chosen, index=units.index, name="pcn_code", dtype=object)


def _nowhere_near(source: object, distance: np.ndarray, xy: np.ndarray, practices: gpd.GeoDataFrame) -> InputError:
    """No unit near any practice: every PCN would be a guess, so the run stops, and says whether
    the practices would be near with easting and northing swapped."""
    swapped = cKDTree(np.column_stack([practices.geometry.y, practices.geometry.x])).query(xy)[0]
    if (swapped <= FAR_M).mean() >= 0.5:
        fix = "easting and northing look swapped: with them the other way round the practices lie among the units"
    else:
        fix = "give the practices file for this area (practices just over its borders count too)"
    msg = (
        f"no unit is within {FAR_M / 1000:.0f} km of a GP practice (the nearest is {distance.min() / 1000:,.0f} km "
        f"away), so no unit's PCN can be told; expected practices in and around the units' area. Fix: {fix}."
    )
    return InputError(source, msg)


def _warn_far(codes: pd.Index, distance: np.ndarray, source: object) -> None:
    """Warn when units are far from every practice: their PCN is then a guess across a region."""
    far = np.flatnonzero(distance > FAR_M)
    if len(far) == 0:
        return
    listed = ", ".join(f"{codes[i]} ({distance[i] / 1000:,.0f} km)" for i in far[np.argsort(-distance[far])][:5])
    warnings.warn(
        f"{source}: {len(far):,} of {len(codes):,} units are more than {FAR_M / 1000:.0f} km from the nearest "
        f"GP practice, furthest first: {listed}. Their PCN is taken from that practice anyway. Check that "
        "the practices file covers this area (and its borders) and that easting and northing are not swapped.",
        SdaWarning,
        stacklevel=3,
    )


def largest_share_pcn(units: gpd.GeoDataFrame, shares: pd.DataFrame) -> pd.Series:
    """PCN with the largest share of each unit's patients; units missing from the table get ""."""
    ranked = shares.sort_values(["unit_code", "share", "pcn_code"], ascending=[True, False, True])
    top = ranked.drop_duplicates("unit_code").set_index("unit_code")["pcn_code"]
    return top.reindex(units.index).fillna("").astype(str).rename("pcn_code")


def pcn_names(practices: pd.DataFrame | None) -> dict[str, str]:
    """``pcn_code -> pcn_name`` from the practices table (empty when PCNs are off or unnamed)."""
    if practices is None or "pcn_name" not in practices.columns or "pcn_code" not in practices.columns:
        return {}
    pairs = practices[["pcn_code", "pcn_name"]].dropna().drop_duplicates("pcn_code")
    return {str(c): str(n) for c, n in pairs.itertuples(index=False) if str(n).strip()}
