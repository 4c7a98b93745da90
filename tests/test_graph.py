"""Tests for sda.graph: contiguity on grids whose answer is obvious, edits, islands, and the real LSOAs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
import shapely

from sda.config import GraphConfig, UnitsConfig
from sda.errors import ConfigError, InputError, SdaWarning
from sda.graph import build_adjacency, graph_edges_frame
from sda.io import read_units

SIDE_M = 1000.0
GridFactory = Callable[..., gpd.GeoDataFrame]


def _with_far_units(
    grid: gpd.GeoDataFrame, boxes: dict[str, tuple[float, float]], side: float = SIDE_M
) -> gpd.GeoDataFrame:
    """The grid plus extra square units with lower-left corners at the given offsets from the grid's corner."""
    x0, y0 = grid.total_bounds[:2]
    extra = gpd.GeoDataFrame(
        {"unit_name": list(boxes), "population": 50, "district": "D1", "district_name": "District One"},
        geometry=[shapely.box(x0 + dx, y0 + dy, x0 + dx + side, y0 + dy + side) for dx, dy in boxes.values()],
        crs=grid.crs,
        index=pd.Index(list(boxes), name="unit_code"),
    )
    return pd.concat([grid, extra])  # type: ignore[return-value]


# --------------------------------------------------------------------------- grids


@pytest.mark.parametrize("snap_m", [0.0, 1.0])
def test_three_by_three_grid_queen_and_rook(make_grid: GridFactory, snap_m: float) -> None:
    grid = make_grid(3, 3)
    queen = build_adjacency(grid, GraphConfig(contiguity="queen", snap_m=snap_m))
    rook = build_adjacency(grid, GraphConfig(contiguity="rook", snap_m=snap_m))
    assert queen.number_of_edges() == 20
    assert rook.number_of_edges() == 12
    assert queen.has_edge("R0C0", "R1C1") and not rook.has_edge("R0C0", "R1C1")
    for _, _, data in rook.edges(data=True):
        assert data["border_m"] == pytest.approx(SIDE_M, abs=1e-6)
        assert data["kind"] == "touch"
    assert queen.edges["R0C0", "R1C1"]["border_m"] == pytest.approx(0.0, abs=1e-6)
    assert list(queen.nodes) == list(grid.index)
    assert queen.nodes["R1C1"]["population"] == 1000
    assert queen.graph["edits"] == []


def test_snapping_closes_small_gaps_only(make_grid: GridFactory) -> None:
    grid = make_grid(1, 2)
    grid.loc["R0C1", "geometry"] = shapely.affinity.translate(grid.loc["R0C1", "geometry"], xoff=0.5)
    snapped = build_adjacency(grid, GraphConfig(snap_m=1.0))
    assert snapped.has_edge("R0C0", "R0C1")
    assert snapped.edges["R0C0", "R0C1"]["border_m"] == pytest.approx(SIDE_M, abs=1.0)
    with pytest.warns(SdaWarning, match="'R0C0'.*not connected to the other units"):
        strict = build_adjacency(grid, GraphConfig(snap_m=0.0))
    assert strict.edges["R0C0", "R0C1"]["kind"] == "island"


def test_rook_min_border_drops_short_shared_borders(make_grid: GridFactory) -> None:
    grid = make_grid(1, 2)
    shifted = shapely.affinity.translate(grid.loc["R0C1", "geometry"], yoff=SIDE_M - 5)  # 5 m of shared side left
    grid.loc["R0C1", "geometry"] = shifted
    assert (
        build_adjacency(grid, GraphConfig(contiguity="rook", min_border_m=1)).edges["R0C0", "R0C1"]["kind"] == "touch"
    )
    with pytest.warns(SdaWarning, match="not connected to the other units"):
        graph = build_adjacency(grid, GraphConfig(contiguity="rook", min_border_m=10))
    assert graph.edges["R0C0", "R0C1"]["kind"] == "island"


# --------------------------------------------------------------------------- islands


def test_island_is_joined_to_its_nearest_unit_with_a_warning(make_grid: GridFactory) -> None:
    units = _with_far_units(make_grid(3, 3), {"ISLE": (5000.0, 0.0)})  # 2 km east of the grid's right edge
    with pytest.warns(
        SdaWarning,
        match=r"unit 'ISLE' \(50 people\) is not connected to the other units; "
        r"linked 'ISLE' to the nearest unit 'R0C2', 2,000 m away",
    ):
        graph = build_adjacency(units, GraphConfig())
    assert nx.is_connected(graph)
    assert graph.edges["ISLE", "R0C2"] == {"border_m": 0.0, "kind": "island"}
    (edit,) = graph.graph["edits"]
    assert edit["kind"] == "island" and {edit["u"], edit["v"]} == {"ISLE", "R0C2"}
    assert "2,000 m" in edit["why"]


def test_a_unit_far_beyond_any_island_is_refused_not_joined(make_grid: GridFactory) -> None:
    # Shifted 200 km east (another CRS, a typo in a coordinate): no island is that far out.
    units = _with_far_units(make_grid(3, 3), {"LOST": (200_000.0, 0.0)})
    units.attrs["source"] = "parishes.gpkg"
    with pytest.raises(InputError, match=r"parishes\.gpkg: unit 'LOST' .*: it is 197 km from the nearest other unit"):
        build_adjacency(units, GraphConfig())
    linked = build_adjacency(units, GraphConfig(extra_links=(("LOST", "R0C2"),)))  # linked on purpose: kept
    assert linked.has_edge("LOST", "R0C2")


def test_separate_group_is_joined_as_a_whole(make_grid: GridFactory) -> None:
    units = _with_far_units(make_grid(2, 2), {"A": (0.0, 4000.0), "B": (1000.0, 4000.0)})
    with pytest.warns(
        SdaWarning, match=r"units 'A', 'B' \(2 units, 100 people\) form a group not connected to the other units"
    ):
        graph = build_adjacency(units, GraphConfig())
    assert nx.is_connected(graph)
    assert [e["kind"] for e in graph.graph["edits"]] == ["island"]


def test_refuse_islands_names_the_units(make_grid: GridFactory) -> None:
    units = _with_far_units(make_grid(3, 3), {"ISLE": (5000.0, 0.0)})
    units.attrs["source"] = "parishes.gpkg"
    with pytest.raises(
        InputError,
        match=r"parishes\.gpkg: the units do not form one connected whole: unit 'ISLE'.*nearest: 'R0C2', 2,000 m",
    ):
        build_adjacency(units, GraphConfig(islands="refuse"))


# --------------------------------------------------------------------------- link edits


def test_remove_and_extra_links_are_applied_and_recorded(make_grid: GridFactory) -> None:
    cfg = GraphConfig(contiguity="queen", remove_links=(("R0C0", "R0C1"),), extra_links=(("R0C0", "R2C2"),))
    graph = build_adjacency(make_grid(3, 3), cfg)
    assert not graph.has_edge("R0C0", "R0C1")
    assert graph.edges["R0C0", "R2C2"] == {"border_m": 0.0, "kind": "extra"}
    assert graph.number_of_edges() == 20
    assert graph.graph["edits"] == [
        {"kind": "removed", "u": "R0C0", "v": "R0C1", "why": "listed in [graph] remove_links"},
        {"kind": "added", "u": "R0C0", "v": "R2C2", "why": "listed in [graph] extra_links"},
    ]


@pytest.mark.parametrize("key", ["remove_links", "extra_links"])
def test_unknown_code_in_a_link_names_code_and_key(make_grid: GridFactory, key: str) -> None:
    cfg = GraphConfig(**{key: (("R0C0", "NOPE"),)})
    with pytest.raises(ConfigError, match=rf"\[graph\] {key}: unknown unit code 'NOPE'"):
        build_adjacency(make_grid(2, 2), cfg)


def test_pointless_or_contradictory_link_edits(make_grid: GridFactory) -> None:
    grid = make_grid(3, 3)
    with pytest.warns(SdaWarning, match=r"remove_links: units 'R0C0' and 'R2C2' are not neighbours"):
        build_adjacency(grid, GraphConfig(remove_links=(("R0C0", "R2C2"),)))
    with pytest.warns(SdaWarning, match=r"extra_links: units 'R0C0' and 'R0C1' already touch"):
        graph = build_adjacency(grid, GraphConfig(extra_links=(("R0C0", "R0C1"),)))
    assert graph.edges["R0C0", "R0C1"]["kind"] == "touch" and graph.graph["edits"] == []
    both = GraphConfig(remove_links=(("R0C0", "R0C1"),), extra_links=(("R0C1", "R0C0"),))
    with pytest.raises(ConfigError, match="in both remove_links and extra_links"):
        build_adjacency(grid, both)


def test_removing_every_link_of_a_unit_does_not_put_a_removed_link_back(make_grid: GridFactory) -> None:
    cfg = GraphConfig(contiguity="queen", remove_links=(("R0C0", "R0C1"), ("R0C0", "R1C0"), ("R0C0", "R1C1")))
    grid = make_grid(3, 3)
    with pytest.warns(SdaWarning, match="'R0C0'"):
        graph = build_adjacency(grid, cfg)
    (island,) = [e for e in graph.graph["edits"] if e["kind"] == "island"]
    assert {island["u"], island["v"]} in ({"R0C0", "R0C2"}, {"R0C0", "R2C0"}, {"R0C0", "R2C2"})


# --------------------------------------------------------------------------- edges frame


def test_graph_edges_frame_has_one_line_per_edge(make_grid: GridFactory) -> None:
    grid = make_grid(3, 3)
    graph = build_adjacency(grid, GraphConfig(contiguity="rook"))
    frame = graph_edges_frame(grid, graph)
    assert len(frame) == 12
    assert list(frame.columns) == ["u", "v", "border_m", "kind", "geometry"]
    assert frame.crs.to_epsg() == 27700
    row = frame[(frame["u"] == "R0C0") & (frame["v"] == "R0C1")].iloc[0]
    assert row.geometry.length == pytest.approx(SIDE_M)
    empty = graph_edges_frame(grid.iloc[:1], build_adjacency(grid.iloc[:1], GraphConfig()))
    assert len(empty) == 0 and list(empty.columns) == ["u", "v", "border_m", "kind", "geometry"]


def test_ten_thousand_units_get_every_link(make_grid: GridFactory) -> None:
    # National scale is timed in bench/ (synthetic instances of 12,000 units), not here.
    grid = make_grid(100, 100, side_m=100.0)
    graph = build_adjacency(grid, GraphConfig(contiguity="queen"))
    assert graph.number_of_edges() == 2 * 99 * 100 + 2 * 99 * 99  # rook pairs + diagonal pairs


# --------------------------------------------------------------------------- the shipped LSOAs


def test_shipped_lsoas_form_one_connected_graph(repo_root: Path) -> None:
    cfg = UnitsConfig(
        path=repo_root / "boundaries" / "lsoa2011_cambs_peterborough.geojson",
        code_field="LSOA11CD",
        population_field="pop_mid2018",
        district_field="LAD11CD",
    )
    units = read_units(cfg)
    graph = build_adjacency(units, GraphConfig(contiguity="queen"))
    assert graph.number_of_nodes() == 487
    assert nx.is_connected(graph)
    assert graph.graph["edits"] == []
    assert graph.number_of_edges() == 1351  # 1,333 sharing a border line + 18 meeting at a point
    default = build_adjacency(units, GraphConfig())  # rook, min_border_m 1: corners are not enough
    assert default.number_of_edges() == 1333 and nx.is_connected(default)
    assert sum(d["population"] for _, d in graph.nodes(data=True)) == 852_523
    assert min(d["border_m"] for *_, d in graph.edges(data=True)) >= 0
