"""Benchmark instances: one problem, prepared once, read the same way by every method.

An instance is a folder holding ``instance.json`` (what to read and the problem: band and
number of areas), the sda config ``sda.toml``, and ``edges.csv``, the queen adjacency built
here once so that every peer and every metric sees exactly the same graph. The adjacency rule
is the one sda uses by default: two units are neighbours when their polygons touch, even at a
single point, or come within ``SNAP_M`` metres of each other (this closes slivers between
generalised boundaries). Each unit's PCN is the PCN of the GP practice nearest its centroid.

This module owns reading and preparing instances; it does not run any method and does not
import sda, so the benchmark stays an independent check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

CRS = "EPSG:27700"
SNAP_M = 1.0
BAND = (30_000, 50_000)


@dataclass
class Instance:
    """A prepared benchmark problem.

    Attributes
    ----------
    name : short label used in tables, e.g. ``cambs-22``.
    units : GeoDataFrame in EPSG:27700 with columns ``code``, ``population``, ``district``,
        ``pcn`` and ``geometry``, in a fixed row order (row ``i`` is graph node ``code[i]``).
    graph : networkx graph on unit codes (queen contiguity, ``SNAP_M`` snapping).
    n_areas : the number of areas peers are asked for.
    min_population, max_population : the band, inclusive.
    folder : where the instance files live.
    """

    name: str
    units: gpd.GeoDataFrame
    graph: nx.Graph
    n_areas: int
    min_population: int
    max_population: int
    folder: Path


def read_units(units_path: Path, fields: dict[str, str]) -> gpd.GeoDataFrame:
    """Read a polygon file and map its fields to ``code``, ``population``, ``district``.

    Parameters
    ----------
    units_path
        Any file geopandas reads, with a declared CRS.
    fields
        Maps ``code``, ``population`` and ``district`` to the file's column names.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code`` (str), ``population`` (int), ``district`` (str), ``geometry``, in
        EPSG:27700, sorted by code so that row order never depends on the file.
    """
    raw = gpd.read_file(units_path)
    units = gpd.GeoDataFrame(
        {
            "code": raw[fields["code"]].astype(str),
            "population": raw[fields["population"]].astype(np.int64),
            "district": raw[fields["district"]].astype(str),
        },
        geometry=raw.geometry,
        crs=raw.crs,
    ).to_crs(CRS)
    return units.sort_values("code").reset_index(drop=True)


def build_edges(geoms: np.ndarray, snap_m: float = SNAP_M) -> np.ndarray:
    """Return the queen adjacency of polygons as an ``(m, 2)`` array of row pairs ``i < j``.

    Two polygons are neighbours when they are within ``snap_m`` metres (touching at a point
    counts). Uses an STRtree, so memory stays linear in the number of units.
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=snap_m)
    keep = left < right
    return np.column_stack([left[keep], right[keep]])


def nearest_pcn(units: gpd.GeoDataFrame, practices: pd.DataFrame) -> np.ndarray:
    """Return the PCN code of the practice nearest each unit's centroid (EPSG:27700 metres)."""
    centroids = units.geometry.centroid
    xy = np.column_stack([centroids.x, centroids.y])
    tree = cKDTree(practices[["easting", "northing"]].to_numpy(float))
    _, idx = tree.query(xy)
    return practices["pcn_code"].astype(str).to_numpy()[idx]


def sda_config_text(
    units_path: str,
    fields: dict[str, str],
    practices_path: str,
    count: int | str,
    band: tuple[int, int] = BAND,
    time_limit_s: float = 20.0,
    seed: int = 1,
    exact: bool = False,
) -> str:
    """Return an sda run config (TOML). Paths are written as given (sda resolves relative ones
    against the config's folder).

    ``steps = 0`` makes ``time_limit_s`` the search budget whatever sda's default step budget
    is. ``[graph]`` gives sda the peers' graph (queen, ``SNAP_M``): sda's own default is rook
    (corner contacts are not neighbours), which would hold sda to stricter contiguity than the
    peers and the metrics. ``exact = false`` turns off sda's optional HiGHS bound, which reports a
    gap after the plan is made, and trade-offs are off (they re-run the search for the report);
    the benchmark times making the plan.
    """
    count_text = f'"{count}"' if isinstance(count, str) else str(int(count))
    name = f'name_field = "{fields["name"]}"\n' if fields.get("name") else ""
    return (
        "[units]\n"
        f"path = {json.dumps(units_path)}\n"
        f'code_field = "{fields["code"]}"\n'
        f"{name}"
        f'population_field = "{fields["population"]}"\n'
        f'district_field = "{fields["district"]}"\n\n'
        "[areas]\n"
        f"min_population = {band[0]}\n"
        f"max_population = {band[1]}\n"
        f"count = {count_text}\n\n"
        "[graph]\n"
        'contiguity = "queen"\n'
        f"snap_m = {SNAP_M:g}\n\n"
        "[pcn]\n"
        f"practices = {json.dumps(practices_path)}\n\n"
        "[search]\n"
        f"seed = {seed}\n"
        f"time_limit_s = {time_limit_s:g}\n"
        "steps = 0\n\n"
        "[exact]\n"
        f"enabled = {'true' if exact else 'false'}\n\n"
        "[tradeoffs]\n"
        "enabled = false\n"
    )


def write_instance(
    folder: Path,
    name: str,
    units_path: Path,
    fields: dict[str, str],
    practices_path: Path,
    n_areas: int,
    band: tuple[int, int] = BAND,
) -> Path:
    """Prepare an instance folder: ``instance.json`` and ``edges.csv``.

    Parameters
    ----------
    folder
        Created if missing.
    name
        Label for tables.
    units_path, fields
        The polygon file and its field mapping (see ``read_units``).
    practices_path
        CSV with ``practice_code``, ``pcn_code``, ``easting``, ``northing``.
    n_areas
        Number of areas requested from peers.
    band
        ``(min_population, max_population)``.

    Returns
    -------
    pathlib.Path
        The instance folder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    units = read_units(units_path, fields)
    edges = build_edges(units.geometry.to_numpy())
    pd.DataFrame({"a": units["code"].to_numpy()[edges[:, 0]], "b": units["code"].to_numpy()[edges[:, 1]]}).to_csv(
        folder / "edges.csv", index=False
    )
    spec = {
        "name": name,
        "units_path": str(Path(units_path).resolve()),
        "fields": fields,
        "practices_path": str(Path(practices_path).resolve()),
        "n_areas": int(n_areas),
        "min_population": int(band[0]),
        "max_population": int(band[1]),
        "n_units": len(units),
        "n_edges": len(edges),
        "total_population": int(units["population"].sum()),
    }
    (folder / "instance.json").write_text(json.dumps(spec, indent=2))
    return folder


def load_instance(folder: Path) -> Instance:
    """Read a folder written by ``write_instance`` into an ``Instance``."""
    folder = Path(folder)
    spec = json.loads((folder / "instance.json").read_text())
    units = read_units(Path(spec["units_path"]), spec["fields"])
    units["pcn"] = nearest_pcn(units, pd.read_csv(spec["practices_path"]))
    edges = pd.read_csv(folder / "edges.csv", dtype=str)
    graph = nx.Graph()
    graph.add_nodes_from(units["code"])
    graph.add_edges_from(zip(edges["a"], edges["b"], strict=True))
    return Instance(
        name=spec["name"],
        units=units,
        graph=graph,
        n_areas=spec["n_areas"],
        min_population=spec["min_population"],
        max_population=spec["max_population"],
        folder=folder,
    )
