"""QGIS styles: the QML text that makes every output layer open in QGIS already styled.

This module owns how the plan looks in QGIS and which colour each area gets. It builds QGIS 3
QML documents (the format QGIS writes with "Save Style... > QGIS Layer Style File") as plain
text, with no QGIS import, so they can be embedded in the GeoPackage's ``layer_styles`` table
and written as ``.qml`` sidecars next to GeoJSON files (QGIS loads a same-named ``.qml``
automatically). The same area colours are used by ``sda.maps``, so the report's map and the
QGIS layer agree.

The styles: areas categorised by ``area_id`` with semi-transparent fills and labels (area id
and population); units outlined thin grey with no fill; adjacency lines with cut edges red and
dashed, the rest light grey; GP practices as small points.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Iterable, Mapping, Sequence
from xml.sax.saxutils import quoteattr

import networkx as nx

__all__ = [
    "AREA_PALETTE",
    "QGIS_VERSION",
    "adjacency_qml",
    "area_colours",
    "areas_qml",
    "districts_qml",
    "moved_units_qml",
    "practices_qml",
    "units_qml",
]

#: The QGIS release whose QML dialect these documents follow (an LTR, read by all later 3.x).
QGIS_VERSION = "3.28.0-Firenze"

# Geometry type codes QGIS writes in <layerGeometryType>.
_POINT, _LINE, _POLYGON = 0, 1, 2
_FILL_ALPHA = 150  # of 255: enough to tell areas apart, light enough to see the basemap
_UNIT_GREY = "128,128,128,255"
_DISTRICT_INK = "77,77,77,255"  # the print maps' district boundary (sda.maps.furniture.DISTRICT_INK)
_OUTLINE = "35,35,35,255"


# --------------------------------------------------------------------------- colours


#: Paul Tol's "light" qualitative scheme, without its pale grey (which reads as "no area"):
#: made for backgrounds under black text, and told apart with the common colour-vision
#: deficiencies, unlike the ColorBrewer "Set3" pastels used before (under a deuteranopia
#: simulation two of them next to each other were nearly the same). Areas reuse colours, but
#: never next to each other. Hex values from Tol, "Colour Schemes", SRON/EPS/TN/09-002.
AREA_PALETTE: tuple[str, ...] = (
    "#77aadd",
    "#eedd88",
    "#44bb99",
    "#ee8866",
    "#99ddff",
    "#bbcc33",
    "#ffaaaa",
    "#aaaa00",
)


def area_colours(area_ids: Iterable[object], neighbours: nx.Graph | None = None) -> dict[str, str]:
    """Colour the areas so that two neighbouring areas never share a colour.

    The area adjacency graph is coloured with DSatur (``networkx.greedy_color``), which gives
    planar maps like these 4-6 classes; areas are then visited in that colouring's order and
    each takes the least-used palette colour that none of its neighbours has, so the colours
    spread evenly over ``AREA_PALETTE`` instead of piling on the first few. Colours repeat
    across the map (only neighbours must differ), so the map key is the label, not the colour.

    Parameters
    ----------
    area_ids
        The area ids (any type; keys of the result are ``str(area_id)``).
    neighbours
        Graph whose nodes are ``str(area_id)`` and whose edges join areas that touch. ``None``
        treats the areas as unrelated.

    Returns
    -------
    dict
        ``str(area_id) -> "#rrggbb"``, deterministic for the same ids and graph, whatever their
        order.
    """
    ids = sorted({str(a) for a in area_ids}, key=_natural_key)
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    if neighbours is not None:
        edges = sorted(tuple(sorted((str(u), str(v)), key=_natural_key)) for u, v in neighbours.edges())
        graph.add_edges_from((u, v) for u, v in edges if u in graph and v in graph and u != v)
    classes = nx.greedy_color(graph, strategy="DSATUR") if ids else {}
    palette = list(AREA_PALETTE)
    used = [0] * len(palette)
    chosen: dict[str, int] = {}
    for area in sorted(ids, key=lambda a: (classes[a], _natural_key(a))):
        taken = {chosen[n] for n in graph.neighbors(area) if n in chosen}
        free = [c for c in range(len(palette)) if c not in taken]
        if not free:  # never on a map (planar graphs need 4), but a dense graph could
            palette.append(_extra_colour(len(palette) - len(AREA_PALETTE)))
            used.append(0)
            free = [len(palette) - 1]
        pick = min(free, key=lambda c: (used[c], c))
        chosen[area] = pick
        used[pick] += 1
    return {area: palette[chosen[area]] for area in ids}


def _extra_colour(i: int) -> str:
    r, g, b = colorsys.hls_to_rgb((0.13 + 0.38 * i) % 1.0, 0.6, 0.45)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _natural_key(text: str) -> tuple[object, ...]:
    """Sort "A2" before "A10" (ids are often numbered)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    value = hex_colour.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{alpha}"


# --------------------------------------------------------------------------- public builders


def areas_qml(area_ids: Sequence[object], colours: Mapping[str, str] | None = None) -> str:
    """QML for the areas layer: categorised by ``area_id``, labelled with id, name and population.

    Parameters
    ----------
    area_ids
        Every area id in the plan; each becomes one category (value and legend label).
    colours
        ``str(area_id) -> "#rrggbb"``, e.g. from ``area_colours``; missing ids get a colour
        from ``area_colours(area_ids)``.

    Returns
    -------
    str
        A QGIS 3 QML document.
    """
    ids = [str(a) for a in area_ids]
    fallback = area_colours(ids)
    chosen = {a: (colours or {}).get(a, fallback[a]) for a in ids}
    symbols = [_fill_symbol(str(i), _rgba(chosen[a], _FILL_ALPHA), _OUTLINE, 0.46) for i, a in enumerate(ids)]
    categories = [(a, str(i), a) for i, a in enumerate(ids)]
    renderer = _categorized("area_id", categories, symbols, _fill_symbol("0", "200,200,200,150", _OUTLINE, 0.46))
    # Id, name and population on lines of their own (long names wrap), so that neighbouring labels
    # at county scale do not run into each other; attribute('name') is NULL, shown as nothing, on a
    # layer without names.
    label = 'concat("area_id", char(10), attribute(\'name\'), char(10), format_number("population", 0))'
    return _document(renderer, _POLYGON, labeling=_labeling(label))


def units_qml() -> str:
    """QML for the units layer: thin grey outlines and no fill, to sit under the areas."""
    renderer = _single(_fill_symbol("0", "255,255,255,0", _UNIT_GREY, 0.15, style="no"))
    return _document(renderer, _POLYGON)


def moved_units_qml() -> str:
    """QML for a re-run's moved units: red, as on ``changes.png``, each labelled with its move
    ("SDA-03 → SDA-02"), to sit over the areas."""
    renderer = _single(_fill_symbol("0", "215,48,31,200", "26,26,26,255", 0.3))
    label = 'concat("from_area", \' \u2192 \', "to_area")'
    return _document(renderer, _POLYGON, labeling=_labeling(label))


def districts_qml() -> str:
    """QML for the district outlines: thick dark grey lines and no fill, as the print maps draw
    them, to sit over the areas."""
    renderer = _single(_fill_symbol("0", "255,255,255,0", _DISTRICT_INK, 0.8, style="no"))
    return _document(renderer, _POLYGON)


def adjacency_qml() -> str:
    """QML for the adjacency lines: ``cut = 1`` (joins two areas) red dashed, others light grey."""
    symbols = [
        _line_symbol("0", "200,200,200,255", 0.2, "solid"),
        _line_symbol("1", "215,25,28,255", 0.5, "dash"),
    ]
    categories = [("0", "0", "same area"), ("1", "1", "cut: between areas")]
    renderer = _categorized("cut", categories, symbols, _line_symbol("0", "200,200,200,255", 0.2, "solid"))
    return _document(renderer, _LINE)


def practices_qml() -> str:
    """QML for GP practices: small dark circles with a white rim, readable over any fill."""
    symbol = (
        '<symbol type="marker" name="0" alpha="1" clip_to_extent="1" force_rhr="0">'
        + _layer(
            "SimpleMarker",
            {
                "name": "circle",
                "color": "20,20,20,255",
                "outline_color": "255,255,255,255",
                "outline_width": "0.3",
                "outline_width_unit": "MM",
                "outline_style": "solid",
                "size": "2",
                "size_unit": "MM",
                "angle": "0",
                "joinstyle": "bevel",
                "scale_method": "diameter",
                "vertical_anchor_point": "1",
                "horizontal_anchor_point": "1",
                "offset": "0,0",
                "offset_unit": "MM",
            },
        )
        + "</symbol>"
    )
    return _document(_single(symbol), _POINT)


# --------------------------------------------------------------------------- XML pieces


def _document(renderer: str, geometry_type: int, *, labeling: str = "") -> str:
    categories = "Symbology|Labeling" if labeling else "Symbology"
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="{QGIS_VERSION}" styleCategories="{categories}" labelsEnabled="{int(bool(labeling))}">\n'
        f"  {renderer}\n"
        f"  {labeling}\n"
        "  <blendMode>0</blendMode>\n"
        "  <featureBlendMode>0</featureBlendMode>\n"
        "  <layerOpacity>1</layerOpacity>\n"
        f"  <layerGeometryType>{geometry_type}</layerGeometryType>\n"
        "</qgis>\n"
    )


def _single(symbol: str) -> str:
    return (
        '<renderer-v2 type="singleSymbol" forceraster="0" symbollevels="0" enableorderby="0" referencescale="-1">'
        f"<symbols>{symbol}</symbols><rotation/><sizescale/></renderer-v2>"
    )


def _categorized(attr: str, categories: list[tuple[str, str, str]], symbols: list[str], source: str) -> str:
    """``categories`` are ``(value, symbol name, legend label)``."""
    cats = "".join(
        f'<category value={quoteattr(value)} symbol={quoteattr(symbol)} label={quoteattr(label)} render="true"/>'
        for value, symbol, label in categories
    )
    return (
        f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attr)} forceraster="0" symbollevels="0" '
        'enableorderby="0" referencescale="-1">'
        f"<categories>{cats}</categories>"
        f"<symbols>{''.join(symbols)}</symbols>"
        f"<source-symbol>{source}</source-symbol>"
        "<rotation/><sizescale/></renderer-v2>"
    )


def _layer(cls: str, options: Mapping[str, str]) -> str:
    body = "".join(f'<Option type="QString" name={quoteattr(k)} value={quoteattr(v)}/>' for k, v in options.items())
    return f'<layer class="{cls}" enabled="1" locked="0" pass="0"><Option type="Map">{body}</Option></layer>'


def _fill_symbol(name: str, fill_rgba: str, outline_rgba: str, width_mm: float, *, style: str = "solid") -> str:
    options = {
        "color": fill_rgba,
        "style": style,
        "outline_color": outline_rgba,
        "outline_style": "solid",
        "outline_width": f"{width_mm:g}",
        "outline_width_unit": "MM",
        "joinstyle": "bevel",
        "offset": "0,0",
        "offset_unit": "MM",
    }
    return (
        f'<symbol type="fill" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
        f"{_layer('SimpleFill', options)}</symbol>"
    )


def _line_symbol(name: str, rgba: str, width_mm: float, style: str) -> str:
    options = {
        "line_color": rgba,
        "line_style": style,
        "line_width": f"{width_mm:g}",
        "line_width_unit": "MM",
        "capstyle": "square",
        "joinstyle": "bevel",
        "offset": "0",
        "offset_unit": "MM",
        "use_custom_dash": "0",
    }
    return (
        f'<symbol type="line" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
        f"{_layer('SimpleLine', options)}</symbol>"
    )


#: Label lines longer than this many characters wrap at a space ("Holywell-cum-Needingworth &" /
#: "Houghton and Wyton").
_WRAP_CHARS = 20


#: QGIS's "Horizontal" polygon placement: candidates scattered over the polygon, ranked away
#: from its edges. "Over centroid" (1) put a snake-shaped area's label on its neighbour.
_INSIDE_POLYGON = 4


def _labeling(expression: str) -> str:
    """Build simple labels placed inside each polygon (``_INSIDE_POLYGON``)."""
    return (
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName={quoteattr(expression)} isExpression="1" '
        'fontSize="9" fontSizeUnit="Point" fontWeight="75" textColor="0,0,0,255" textOpacity="1" '
        'multilineAlign="1">'
        '<text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM" bufferColor="255,255,255,255" '
        'bufferOpacity="0.8" bufferJoinStyle="128"/>'
        "</text-style>"
        f'<text-format wrapChar="" autoWrapLength="{_WRAP_CHARS}" multilineHeight="1" plussign="0" formatNumbers="0"/>'
        f'<placement placement="{_INSIDE_POLYGON}" fitInPolygonOnly="0" centroidWhole="1" centroidInside="1" '
        'priority="5" overrunDistance="0"/>'
        '<rendering obstacle="1" scaleVisibility="0" upsidedownLabels="0" limitNumLabels="0" '
        'fontLimitPixelSize="0" displayAll="0" labelPerPart="0" mergeLines="0" drawLabels="1"/>'
        "</settings></labeling>"
    )
