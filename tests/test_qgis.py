"""Tests for sda.qgis: every style is valid QGIS 3 QML and covers what it should."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from sda.qgis import (
    AREA_PALETTE,
    adjacency_qml,
    area_colours,
    areas_qml,
    districts_qml,
    moved_units_qml,
    practices_qml,
    units_qml,
)

AREA_IDS = ["A1", "A2", "A10", "Cambridge & <South>", 7]


def _parse(text: str) -> ET.Element:
    assert text.startswith("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>")
    root = ET.fromstring(text)
    assert root.tag == "qgis"
    assert root.get("version", "").startswith("3.28")
    return root


def _option(layer: ET.Element, name: str) -> str | None:
    found = layer.find(f"./Option/Option[@name='{name}']")
    return None if found is None else found.get("value")


@pytest.mark.parametrize(
    "build", [units_qml, adjacency_qml, practices_qml, districts_qml, moved_units_qml, lambda: areas_qml(AREA_IDS)]
)
def test_every_style_is_valid_qml(build: object) -> None:
    root = _parse(build())  # type: ignore[operator]
    renderer = root.find("renderer-v2")
    assert renderer is not None
    assert root.find("layerGeometryType") is not None
    # Every category points at a symbol that exists.
    names = {s.get("name") for s in renderer.findall("./symbols/symbol")}
    assert {c.get("symbol") for c in renderer.iter("category")} <= names


def test_areas_categories_cover_every_area() -> None:
    root = _parse(areas_qml(AREA_IDS))
    renderer = root.find("renderer-v2")
    assert renderer is not None
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "area_id"
    categories = renderer.findall("./categories/category")
    assert [c.get("value") for c in categories] == [str(a) for a in AREA_IDS]  # escaping round-trips
    assert [c.get("label") for c in categories] == [str(a) for a in AREA_IDS]
    fills = [_option(layer, "color") for layer in renderer.findall("./symbols/symbol/layer")]
    assert len(set(fills)) == len(AREA_IDS)
    assert all(f is not None and f.endswith(",150") for f in fills)  # semi-transparent


def test_areas_are_labelled_with_id_and_population() -> None:
    root = _parse(areas_qml(["A1"]))
    assert root.get("labelsEnabled") == "1"
    labeling = root.find("labeling")
    assert labeling is not None and labeling.get("type") == "simple"
    style = labeling.find("./settings/text-style")
    assert style is not None and style.get("isExpression") == "1"
    assert '"area_id"' in style.get("fieldName", "") and '"population"' in style.get("fieldName", "")
    # Id, name and population on lines of their own and long names wrapped: one-line labels such
    # as "SDA-11 Holywell-cum-Needingworth & Houghton and Wyton" ran over their neighbours in QGIS.
    assert style.get("fieldName", "").startswith("concat(\"area_id\", char(10), attribute('name'), char(10)")
    text_format = labeling.find("./settings/text-format")
    assert text_format is not None and 10 <= int(text_format.get("autoWrapLength", "0")) <= 30
    # "Horizontal" (4), inside the polygon: "over centroid" (1) drew a snake-shaped area's label on
    # its neighbour (SDA-10's on SDA-09, seen in QGIS 3.28).
    placement = labeling.find("./settings/placement")
    assert placement is not None and placement.get("placement") == "4"


def test_moved_units_are_red_and_labelled_with_their_move() -> None:
    root = _parse(moved_units_qml())
    fill = root.find("./renderer-v2/symbols/symbol/layer")
    assert fill is not None and _option(fill, "color") == "215,48,31,200"  # the red of changes.png
    style = root.find("./labeling/settings/text-style")
    assert style is not None and style.get("fieldName") == 'concat("from_area", \' \u2192 \', "to_area")'


def test_areas_use_given_colours() -> None:
    root = _parse(areas_qml(["A1", "A2"], {"A1": "#ff0000"}))
    fills = [_option(layer, "color") for layer in root.findall("./renderer-v2/symbols/symbol/layer")]
    assert fills[0] == "255,0,0,150"
    assert fills[1] is not None


def test_units_are_thin_grey_outlines_without_fill() -> None:
    layer = _parse(units_qml()).find("./renderer-v2/symbols/symbol/layer")
    assert layer is not None and layer.get("class") == "SimpleFill"
    assert _option(layer, "style") == "no"
    assert _option(layer, "outline_color") == "128,128,128,255"
    assert float(_option(layer, "outline_width") or 0) <= 0.2


def test_adjacency_cut_edges_red_dashed() -> None:
    renderer = _parse(adjacency_qml()).find("renderer-v2")
    assert renderer is not None and renderer.get("attr") == "cut"
    by_value = {c.get("value"): c.get("symbol") for c in renderer.iter("category")}
    assert set(by_value) == {"0", "1"}
    symbols = {s.get("name"): s.find("layer") for s in renderer.findall("./symbols/symbol")}
    cut, kept = symbols[by_value["1"]], symbols[by_value["0"]]
    assert cut is not None and kept is not None
    assert _option(cut, "line_style") == "dash" and (_option(cut, "line_color") or "").startswith("215,25,28")
    assert _option(kept, "line_style") == "solid"


def test_practices_are_points() -> None:
    root = _parse(practices_qml())
    assert root.findtext("layerGeometryType") == "0"
    layer = root.find("./renderer-v2/symbols/symbol/layer")
    assert layer is not None and layer.get("class") == "SimpleMarker"


def test_area_colours_never_repeat_across_a_border() -> None:
    # A 5x5 grid of areas touching across edges and corners (queen): every cell has up to 8
    # neighbours, so this needs 4 colours and punishes any careless reuse.
    grid = nx.Graph()
    cells = [(r, c) for r in range(5) for c in range(5)]
    grid.add_nodes_from(f"A{r}{c}" for r, c in cells)
    for (r, c), (s, d) in itertools.combinations(cells, 2):
        if max(abs(r - s), abs(c - d)) == 1:
            grid.add_edge(f"A{r}{c}", f"A{s}{d}")
    colours = area_colours(grid.nodes, grid)
    assert set(colours) == set(grid.nodes)
    assert all(colours[u] != colours[v] for u, v in grid.edges())
    assert set(colours.values()) <= set(AREA_PALETTE)
    assert colours == area_colours(list(reversed(list(grid.nodes))), grid)  # input order does not matter


def test_area_colours_spread_over_the_palette() -> None:
    ids = [f"A{i}" for i in range(30)]
    ring = nx.cycle_graph(ids)
    colours = area_colours(ids, ring)
    assert all(colours[u] != colours[v] for u, v in ring.edges())
    uses = [list(colours.values()).count(c) for c in AREA_PALETTE]
    assert max(uses) - min(uses) <= 1  # balanced, not two colours alternating round the ring
    unrelated = area_colours(["A1", "A2", "A3"])
    assert len(set(unrelated.values())) == 3


def test_area_colours_extend_the_palette_for_a_dense_graph() -> None:
    clique = nx.complete_graph([f"A{i}" for i in range(len(AREA_PALETTE) + 3)])
    colours = area_colours(clique.nodes, clique)
    assert len(set(colours.values())) == clique.number_of_nodes()


def test_palette_colours_are_far_apart_and_light() -> None:
    rgb = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in AREA_PALETTE]
    for a, b in itertools.combinations(rgb, 2):
        assert sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5 > 35
    # Light enough for black label text: relative luminance above 0.35.
    assert all((0.2126 * r + 0.7152 * g + 0.0722 * b) / 255 > 0.35 for r, g, b in rgb)
