"""Plan metrics, computed the same way for every method and independently of sda's scoring.

Input is the instance's units (``code``, ``population``, ``pcn``, ``geometry`` in metres), its
shared queen graph, the band, and an assignment unit code -> area label. Definitions:

* **areas**: distinct labels. Units missing from the assignment are *unassigned*; their
  residents count as outside the band.
* **areas in band**: areas with ``min_population <= population <= max_population``.
* **residents outside band**: residents of out-of-band areas plus unassigned residents.
* **contiguous**: every area induces a connected subgraph of the queen graph.
* **PCN coterminosity**: share of all residents whose area's *dominant PCN* (the PCN with the
  most residents in that area) is their own PCN. 1.0 means every area is a single PCN.
* **PCNs split**: PCNs with at least two pieces of at least ``SPLIT_SHARE`` (5%) of the PCN's
  residents in different areas. Slivers below 5% (a unit at the edge whose nearest practice
  happens to be across the line) do not count as a split.
* **cut edges**: graph edges whose two units are in different areas.
* **mean Polsby-Popper**: mean over areas of ``4 pi A / P^2`` of the dissolved area polygon
  (1 for a disc, lower for ragged shapes; holes add perimeter).
* **valid**: all units assigned, every area in band and contiguous.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import geopandas as gpd
import networkx as nx
import pandas as pd
import shapely

SPLIT_SHARE = 0.05


def area_table(units: gpd.GeoDataFrame, assignment: Mapping[str, object]) -> pd.DataFrame:
    """Return the assigned units as ``code, population, pcn, area`` (area labels as strings)."""
    frame = pd.DataFrame(units[["code", "population", "pcn"]])
    frame["area"] = frame["code"].map({str(k): str(v) for k, v in assignment.items()})
    return frame.dropna(subset=["area"])


def band_metrics(area_pop: pd.Series, unassigned_pop: int, band: tuple[int, int]) -> dict[str, object]:
    """Return counts and residents in and out of the band from per-area populations."""
    in_band = (area_pop >= band[0]) & (area_pop <= band[1])
    return {
        "n_areas": int(area_pop.size),
        "areas_in_band": int(in_band.sum()),
        "residents_outside_band": int(area_pop[~in_band].sum()) + unassigned_pop,
        "min_area_pop": int(area_pop.min()) if area_pop.size else 0,
        "max_area_pop": int(area_pop.max()) if area_pop.size else 0,
    }


def noncontiguous_areas(graph: nx.Graph, table: pd.DataFrame) -> int:
    """Return how many areas are not connected on the graph."""
    return sum(not nx.is_connected(graph.subgraph(list(codes))) for _, codes in table.groupby("area")["code"])


def pcn_metrics(table: pd.DataFrame) -> dict[str, object]:
    """Return PCN coterminosity and the number of PCNs split (see the module docstring)."""
    by_area_pcn = table.groupby(["area", "pcn"])["population"].sum()
    dominant = by_area_pcn.groupby(level="area").max().sum()
    total = table["population"].sum()
    pcn_total = table.groupby("pcn")["population"].sum()
    share = by_area_pcn / pcn_total.reindex(by_area_pcn.index.get_level_values("pcn")).to_numpy()
    pieces = (share >= SPLIT_SHARE).groupby(level="pcn").sum()
    return {
        "coterminosity": float(dominant / total) if total else 0.0,
        "pcns_split": int((pieces >= 2).sum()),
        "n_pcns": int(pcn_total.size),
    }


def cut_edges(graph: nx.Graph, assignment: Mapping[str, object]) -> int:
    """Return the number of graph edges whose ends lie in different areas."""
    label = {str(k): str(v) for k, v in assignment.items()}
    return sum(label.get(a) != label.get(b) for a, b in graph.edges())


def mean_polsby_popper(units: gpd.GeoDataFrame, table: pd.DataFrame) -> float:
    """Return the mean ``4 pi A / P^2`` of the areas' dissolved polygons."""
    geoms = units.set_index("code").geometry
    scores = []
    for _, codes in table.groupby("area")["code"]:
        shape = shapely.union_all(geoms.loc[list(codes)].to_numpy())
        perimeter = shape.length
        scores.append(4 * math.pi * shape.area / perimeter**2 if perimeter else 0.0)
    return float(sum(scores) / len(scores)) if scores else 0.0


def compute_metrics(
    units: gpd.GeoDataFrame,
    graph: nx.Graph,
    assignment: Mapping[str, object],
    band: tuple[int, int],
) -> dict[str, object]:
    """Score one plan.

    Parameters
    ----------
    units
        ``code``, ``population``, ``pcn`` and ``geometry`` (projected, metres).
    graph
        Queen adjacency on unit codes, the same one every method got.
    assignment
        Unit code -> area label. Codes not in ``units`` are ignored.
    band
        ``(min_population, max_population)``, inclusive.

    Returns
    -------
    dict
        The metrics named in the module docstring, JSON-ready.
    """
    table = area_table(units, assignment)
    unassigned = units.loc[~units["code"].isin(table["code"])]
    area_pop = table.groupby("area")["population"].sum()
    result: dict[str, object] = {"unassigned_units": len(unassigned)}
    result |= band_metrics(area_pop, int(unassigned["population"].sum()), band)
    n_broken = noncontiguous_areas(graph, table)
    result["noncontiguous_areas"] = int(n_broken)
    result["contiguous"] = n_broken == 0
    result |= pcn_metrics(table)
    result["cut_edges"] = cut_edges(graph, assignment)
    result["mean_polsby_popper"] = mean_polsby_popper(units, table)
    result["valid"] = bool(
        result["contiguous"] and not len(unassigned) and result["areas_in_band"] == result["n_areas"]
    )
    return result
