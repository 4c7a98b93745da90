"""Which Primary Care Network each unit belongs to.

PCNs are lists of GP practices, not areas, so a unit's PCN has to be inferred. The default takes
the PCN of the practice nearest the unit's centroid (straight-line, in British National Grid
metres); practices outside the study area count, because people near a border register across
it. Where a user has the NHS "patients registered at a GP practice by LSOA" table aggregated to
PCNs, ``method = "shares"`` takes each unit's largest PCN share instead, which is better.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

METHOD_TEXT = {
    "nearest": "each unit takes the PCN of the GP practice nearest its centroid (straight-line distance)",
    "shares": "each unit takes the PCN with the largest share of its registered patients (shares table)",
}


#: Practices this much (metres) further than the nearest count as equally near.
TIE_M = 0.01


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
    pcn = practices["pcn_code"].to_numpy().astype(str)
    chosen = pcn[nearest]
    for i, near in enumerate(tree.query_ball_point(xy, distance + TIE_M)):
        if len(near) > 1:
            chosen[i] = min(pcn[near])
    return pd.Series(chosen, index=units.index, name="pcn_code", dtype=object)


def largest_share_pcn(units: gpd.GeoDataFrame, shares: pd.DataFrame) -> pd.Series:
    """PCN with the largest share of each unit's patients; units missing from the table get ""."""
    ranked = shares.sort_values(["unit_code", "share", "pcn_code"], ascending=[True, False, True])
    top = ranked.drop_duplicates("unit_code").set_index("unit_code")["pcn_code"]
    return top.reindex(units.index).fillna("").astype(str).rename("pcn_code")
