"""The unit adjacency graph: which units are neighbours, how long their shared border is, and why.

This module owns contiguity. ``build_adjacency`` turns the standard units frame (EPSG:27700,
indexed by unit code) into a networkx graph whose nodes are unit codes and whose edges say that
two units may share an area. Neighbours are found with one bulk STRtree query (never a loop over
all pairs), so 10,000 units take seconds. The config can remove links (a river with no crossing)
and add links (a bridge); islands and other separate components are joined to their nearest unit
or refused. Every such edit is recorded in ``graph.graph["edits"]`` with the reason, so the report
can show exactly how the graph differs from the map.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely

from sda.codes import near_code_hint, unknown_codes_error
from sda.config import GraphConfig
from sda.crs import BNG
from sda.errors import MAX_LISTED, ConfigError, InputError, SdaWarning

__all__ = ["EDGE_KINDS", "GRAPH_FIELDS", "build_adjacency", "graph_edges_frame", "is_graph_file"]

#: ``kind`` of an edge: the units touch (within ``snap_m``); a link added by the config; a link
#: that joins an island or separate component to its nearest unit.
EDGE_KINDS = ("touch", "extra", "island")


def build_adjacency(units: gpd.GeoDataFrame, cfg: GraphConfig) -> nx.Graph:
    """Build the contiguity graph of the units.

    Parameters
    ----------
    units
        Standard units frame from ``sda.io.read_units``: indexed by unit code, with
        ``population`` and polygon ``geometry`` in EPSG:27700 (other CRSs are reprojected).
    cfg
        ``[graph]``: ``contiguity`` (queen: touching at a point is enough; rook: a shared border
        of at least ``min_border_m``), ``snap_m`` (gaps up to this many metres count as touching),
        ``remove_links``, ``extra_links`` and ``islands`` (``"join"`` or ``"refuse"``).

    Returns
    -------
    networkx.Graph
        Nodes are unit codes (in frame order) with attribute ``population``; edges carry
        ``border_m`` (shared border in metres, 0 for links between units that do not touch) and
        ``kind`` (one of ``EDGE_KINDS``). ``graph.graph["edits"]`` lists every change from plain
        touching as ``{"kind": "removed"|"added"|"island", "u", "v", "why"}``. The graph is
        connected.

    Raises
    ------
    ConfigError
        A code in ``remove_links`` or ``extra_links`` is not a unit, or a pair is in both.
    InputError
        With ``islands = "refuse"``: the units do not form one connected whole.

    Warns
    -----
    SdaWarning
        Each island or separate component joined to its nearest unit (names, distance); a
        ``remove_links`` pair that does not touch; an ``extra_links`` pair that already touches.
    """
    units = units if units.crs is None or units.crs == BNG else units.to_crs(BNG)
    codes = [str(c) for c in units.index]
    geoms = np.asarray(units.geometry.array, dtype=object)
    graph = nx.Graph(contiguity=cfg.contiguity, snap_m=float(cfg.snap_m), edits=[])
    populations = units["population"].to_numpy()
    graph.add_nodes_from((code, {"population": int(pop)}) for code, pop in zip(codes, populations, strict=True))
    left, right, border_m = _touching_pairs(geoms, cfg.snap_m)
    if cfg.contiguity == "rook":
        keep = border_m >= cfg.min_border_m
        left, right, border_m = left[keep], right[keep], border_m[keep]
    graph.add_edges_from(
        (codes[i], codes[j], {"border_m": float(b), "kind": "touch"})
        for i, j, b in zip(left.tolist(), right.tolist(), border_m.tolist(), strict=True)
    )
    _apply_link_edits(graph, cfg)
    _join_components(graph, units, geoms, cfg)
    return graph


#: The fields of each link ``graph_edges_frame`` gives and ``sda graph`` writes.
GRAPH_FIELDS = ("u", "v", "border_m", "kind")


def is_graph_file(path: Path) -> bool:
    """Whether ``path`` is a links file ``sda graph`` wrote (its fields are ``GRAPH_FIELDS``), which
    a new graph may replace; False for any other file, or one that cannot be read as a layer."""
    try:
        fields = [str(f) for f in pyogrio.read_info(path)["fields"]]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, UnicodeDecodeError):
        return False
    return fields == list(GRAPH_FIELDS)


def graph_edges_frame(units: gpd.GeoDataFrame, graph: nx.Graph) -> gpd.GeoDataFrame:
    """One line per edge, between the two units' representative points, for maps and QGIS.

    Parameters
    ----------
    units
        The units frame the graph was built from (indexed by unit code).
    graph
        The graph from ``build_adjacency``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``u``, ``v``, ``border_m``, ``kind`` and LineString ``geometry`` in EPSG:27700.
    """
    units = units if units.crs is None or units.crs == BNG else units.to_crs(BNG)
    edges = list(graph.edges(data=True))
    points = units.geometry.representative_point()
    xy = pd.DataFrame({"x": points.x.to_numpy(), "y": points.y.to_numpy()}, index=units.index.astype(str))
    u = [str(a) for a, _, _ in edges]
    v = [str(b) for _, b, _ in edges]
    coords = np.stack([xy.loc[u].to_numpy(), xy.loc[v].to_numpy()], axis=1) if edges else np.empty((0, 2, 2))
    return gpd.GeoDataFrame(
        {
            "u": u,
            "v": v,
            "border_m": [float(d.get("border_m", 0.0)) for _, _, d in edges],
            "kind": [str(d.get("kind", "touch")) for _, _, d in edges],
        },
        geometry=shapely.linestrings(coords) if edges else [],
        crs=BNG,
    )


# --------------------------------------------------------------------------- touching pairs


def _touching_pairs(geoms: np.ndarray, snap_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions ``(i, j)``, ``i < j``, of units within ``snap_m`` of each other, and their border.

    One bulk STRtree query finds the pairs; the border is then measured for those pairs only,
    with vectorised shapely calls.
    """
    tree = shapely.STRtree(geoms)
    if snap_m > 0:
        left, right = tree.query(geoms, predicate="dwithin", distance=snap_m)
    else:
        left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    return left, right, _shared_border_m(geoms, left, right, snap_m)


def _shared_border_m(geoms: np.ndarray, left: np.ndarray, right: np.ndarray, snap_m: float) -> np.ndarray:
    """Length of boundary shared by each pair, in metres.

    Without snapping it is the length of the intersection of the two boundaries. With snapping it
    is the length of one boundary within a distance ``r`` of the other, less ``2 r``: where the
    boundaries part, each end of a shared stretch adds about ``r`` of boundary that lies within
    the buffer without being shared. The correction makes a corner-only touch measure 0 (so rook
    contiguity does not pick it up) and a shared edge measure its true length. The larger of the
    measures at ``r = snap_m / 2`` and ``r = snap_m`` is kept, so that two edges running in
    parallel across a gap up to ``snap_m`` wide count as a border.
    """
    if len(left) == 0:
        return np.zeros(0)
    boundaries = shapely.boundary(geoms)
    if snap_m <= 0:
        return shapely.length(shapely.intersection(boundaries[left], boundaries[right]))
    used = np.unique(right)
    best = np.zeros(len(left))
    # Half the snap distance measures touching boundaries closely; the full distance also finds
    # borders across a gap wider than half of it (e.g. 8.5 m between generalised edges, snap 10).
    for reach in (snap_m / 2, snap_m):
        near_right = np.empty(len(geoms), dtype=object)
        near_right[used] = shapely.buffer(boundaries[used], reach)
        within = shapely.length(shapely.intersection(boundaries[left], near_right[right]))
        best = np.maximum(best, within - 2 * reach)
    return np.maximum(best, 0.0)


# --------------------------------------------------------------------------- link edits


def _apply_link_edits(graph: nx.Graph, cfg: GraphConfig) -> None:
    """Apply ``remove_links`` then ``extra_links``, recording each change in ``graph.graph["edits"]``."""
    unknown = [*_unknown_link_codes(graph, cfg.remove_links, "remove_links")]
    unknown += _unknown_link_codes(graph, cfg.extra_links, "extra_links")
    if unknown:
        raise unknown_codes_error("graph", unknown)
    _check_self_links(cfg.remove_links, "remove_links")
    _check_self_links(cfg.extra_links, "extra_links")
    both = {frozenset(p) for p in cfg.remove_links} & {frozenset(p) for p in cfg.extra_links}
    if both:
        pair = sorted(sorted(p) for p in both)[0]
        msg = f"[graph] the pair {pair} is in both remove_links and extra_links; keep it in one of them."
        raise ConfigError(msg)
    edits = graph.graph["edits"]
    for u, v in cfg.remove_links:
        if graph.has_edge(u, v):
            graph.remove_edge(u, v)
            edits.append({"kind": "removed", "u": u, "v": v, "why": "listed in [graph] remove_links"})
        else:
            warnings.warn(
                f"[graph] remove_links: units {u!r} and {v!r} are not neighbours, so there is no "
                "link to remove; check the codes.",
                SdaWarning,
                stacklevel=3,
            )
    for u, v in cfg.extra_links:
        if graph.has_edge(u, v):
            warnings.warn(
                f"[graph] extra_links: units {u!r} and {v!r} already touch; the extra link changes nothing.",
                SdaWarning,
                stacklevel=3,
            )
            continue
        graph.add_edge(u, v, border_m=0.0, kind="extra")
        edits.append({"kind": "added", "u": u, "v": v, "why": "listed in [graph] extra_links"})


def _unknown_link_codes(graph: nx.Graph, pairs: Iterable[tuple[str, str]], key: str) -> list[str]:
    """One message per code of ``pairs`` that is not a unit."""
    return [
        f"[graph] {key}: unknown unit code {code!r} in the pair {list(pair)}{near_code_hint(code, graph.nodes)}; "
        "expected codes from the units file's code field. Fix: correct the code in the config."
        for pair in pairs
        for code in dict.fromkeys(pair)
        if code not in graph
    ]


def _check_self_links(pairs: Iterable[tuple[str, str]], key: str) -> None:
    for pair in pairs:
        if pair[0] == pair[1]:
            msg = f"[graph] {key}: the pair {list(pair)} links a unit to itself; expected two different codes."
            raise ConfigError(msg)


# --------------------------------------------------------------------------- islands


#: A part of the units further than this (metres) from the rest is not joined as an island: it
#: is misplaced (the furthest inhabited islands of England, the Isles of Scilly, are about 45 km
#: from Land's End).
MAX_ISLAND_LINK_M = 60_000.0


def _join_components(graph: nx.Graph, units: gpd.GeoDataFrame, geoms: np.ndarray, cfg: GraphConfig) -> None:
    """Make the graph connected by linking each smaller component to its nearest other unit.

    The biggest component (most units, then most people) is the mainland; the others are handled
    smallest first, each linked to the nearest unit outside it, so the component count falls by
    one per link and the result does not depend on set ordering.
    """
    components = _components_smallest_first(graph)
    if len(components) <= 1:
        return
    position = {str(code): i for i, code in enumerate(units.index)}
    if cfg.islands == "refuse":
        _refuse(graph, components, position, geoms, units.attrs.get("source", "units"))
    while len(components) > 1:
        part = components[0]
        inside, outside, distance_m = _nearest_link(part, graph, position, geoms)
        people = sum(graph.nodes[c]["population"] for c in part)
        if distance_m > MAX_ISLAND_LINK_M:
            msg = (
                f"{_describe_part(part, people)}: it is {distance_m / 1000:,.0f} km from the nearest other unit "
                f"({outside!r}), further than any island is from the mainland (the Isles of Scilly are about "
                f"45 km out), so it is most likely misplaced: coordinates shifted or in another CRS. Fix: correct "
                f"its geometry, or remove it; to link it on purpose, add [{inside!r}, {outside!r}] to "
                "[graph] extra_links."
            )
            raise InputError(units.attrs.get("source", "units"), msg)
        why = (
            f"{_describe_part(part, people)}; linked {inside!r} to the nearest unit {outside!r}, "
            f"{distance_m:,.0f} m away"
        )
        warnings.warn(
            f"{why}. To link it elsewhere add the pair to [graph] extra_links; to stop instead, set "
            '[graph] islands = "refuse".',
            SdaWarning,
            stacklevel=3,
        )
        graph.add_edge(inside, outside, border_m=0.0, kind="island")
        graph.graph["edits"].append({"kind": "island", "u": inside, "v": outside, "why": why})
        components = _components_smallest_first(graph)


def _components_smallest_first(graph: nx.Graph) -> list[list[str]]:
    def size(part: list[str]) -> tuple[int, int, str]:
        return (len(part), sum(graph.nodes[c]["population"] for c in part), min(part))

    return sorted((sorted(c) for c in nx.connected_components(graph)), key=size)


def _nearest_link(
    part: list[str], graph: nx.Graph, position: dict[str, int], geoms: np.ndarray
) -> tuple[str, str, float]:
    """Find the closest pair (unit in ``part``, unit outside it) and their distance in metres.

    Pairs the config removed are passed over while another pair exists, so a removed link is not
    silently put back: the search widens until it finds a pair that was not removed.
    """
    codes = list(position)
    members = np.array([position[c] for c in part])
    others = np.setdiff1d(np.arange(len(geoms)), members)
    tree = shapely.STRtree(geoms[others])
    (inner, outer), distances = tree.query_nearest(geoms[members], return_distance=True, all_matches=True)
    removed = {frozenset((e["u"], e["v"])) for e in graph.graph["edits"] if e["kind"] == "removed"}
    closest = _ranked_pairs(inner, outer, distances, members, others, codes)
    allowed = [c for c in closest if frozenset(c[1:]) not in removed]
    reach = max(float(distances.min()), 1.0)
    span = float(np.ptp(shapely.bounds(geoms).reshape(-1, 2), axis=0).max())
    while not allowed and reach <= 2 * span:
        reach *= 4
        inner, outer = tree.query(geoms[members], predicate="dwithin", distance=reach)
        distances = shapely.distance(geoms[members[inner]], geoms[others[outer]])
        ranked = _ranked_pairs(inner, outer, distances, members, others, codes)
        allowed = [c for c in ranked if frozenset(c[1:]) not in removed]
    distance_m, inside, outside = (allowed or closest)[0]
    return inside, outside, distance_m


def _ranked_pairs(
    inner: np.ndarray,
    outer: np.ndarray,
    distances: np.ndarray,
    members: np.ndarray,
    others: np.ndarray,
    codes: list[str],
) -> list[tuple[float, str, str]]:
    """List ``(distance, inside code, outside code)``, nearest first, ties broken by code."""
    return sorted(
        (float(d), codes[members[a]], codes[others[b]]) for a, b, d in zip(inner, outer, distances, strict=True)
    )


def _describe_part(part: list[str], people: int) -> str:
    """Say which units are cut off, e.g. ``unit 'X' (50 people) is not connected to the other units``."""
    if len(part) == 1:
        return f"unit {part[0]!r} ({people:,} people) is not connected to the other units"
    shown = ", ".join(repr(c) for c in part[:10]) + (" ..." if len(part) > 10 else "")
    return f"units {shown} ({len(part)} units, {people:,} people) form a group not connected to the other units"


def _refuse(
    graph: nx.Graph, components: list[list[str]], position: dict[str, int], geoms: np.ndarray, source: object
) -> None:
    details = []
    for part in components[:-1][:MAX_LISTED]:
        people = sum(graph.nodes[c]["population"] for c in part)
        inside, outside, distance_m = _nearest_link(part, graph, position, geoms)
        details.append(f"{_describe_part(part, people)} (nearest: {outside!r}, {distance_m:,.0f} m from {inside!r})")
    if len(components) - 1 > MAX_LISTED:
        details.append(f"and {len(components) - 1 - MAX_LISTED} more such groups")
    msg = (
        f"the units do not form one connected whole: {'; '.join(details)}. Expected every unit to "
        "touch another (within [graph] snap_m). Fix: add links with [graph] extra_links, raise "
        'snap_m, or set [graph] islands = "join".'
    )
    raise InputError(source, msg)
