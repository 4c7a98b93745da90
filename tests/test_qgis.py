"""Tests for sda.qgis: every style is valid QGIS 3 QML and covers what it should."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import networkx as nx
import pytest

from sda.qgis import adjacency_qml, area_colours, areas_qml, practices_qml, units_qml

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


@pytest.mark.parametrize("build", [units_qml, adjacency_qml, practices_qml, lambda: areas_qml(AREA_IDS)])
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


def test_area_colours_distinct_and_neighbours_far_apart() -> None:
    ids = [f"A{i}" for i in range(30)]
    ring = nx.cycle_graph(ids)
    colours = area_colours(ids, ring)
    assert len(set(colours.values())) == 30
    assert colours == area_colours(list(reversed(ids)), ring)  # order of input does not matter
    for u, v in ring.edges():
        assert _hue_gap(colours[u], colours[v]) > 0.1


def _hue_gap(a: str, b: str) -> float:
    import colorsys

    def hue(c: str) -> float:
        r, g, bl = (int(c[i : i + 2], 16) / 255 for i in (1, 3, 5))
        return colorsys.rgb_to_hls(r, g, bl)[0]

    gap = abs(hue(a) - hue(b))
    return min(gap, 1 - gap)
