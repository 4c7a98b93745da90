"""Tests for sda.maps: the structure of the maps (colours, labels, furniture, sizes), on the real
shipped data and on the hand-made 4x4 plan.

The figures themselves were looked at by eye while building them; these tests pin what can be
measured: neighbouring areas never share a colour, no two labels' rendered boxes overlap,
every area is labelled or listed in the key, and the key, scale bar, north arrow and
attribution are on the sheet at the right paper size and resolution.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
from PIL import Image

from sda import api
from sda.config import load_config
from sda.maps import (
    area_neighbours,
    draw_sheet,
    drawable_figures,
    plot_locator,
    plot_plan_map,
    render_figures,
    render_locators,
    render_print_maps,
)
from sda.maps.changes import draw_moved_units, move_groups
from sda.maps.furniture import KEY_CONTINUED, attribution_lines
from sda.maps.labels import (
    MapLabel,
    label_boxes,
    label_overlaps,
    place_fitting_labels,
    place_labels,
    settle_labels,
    unwrap,
)
from sda.maps.layers import MAX_LABELLED_AREAS, area_label, area_names, area_shapes, label_anchor
from sda.plan import Plan
from sda.qgis import AREA_PALETTE, area_colours
from tests.helpers import block_plan, quadrant_plan

CONFIG_28 = Path(__file__).resolve().parents[1] / "configs" / "cambridgeshire-peterborough-28.toml"


@pytest.fixture(scope="module")
def real_plan() -> Plan:
    """The officers' 28 areas on the shipped data, from a short fixed step budget (a real plan,
    not a good one), with made-up two-word names so the labels are as long as real ones."""
    cfg = load_config(CONFIG_28)
    cfg = dataclasses.replace(
        cfg,
        search=dataclasses.replace(cfg.search, steps=200_000, starts=1),
        exact=dataclasses.replace(cfg.exact, enabled=False),
        tradeoffs=dataclasses.replace(cfg.tradeoffs, enabled=False),
    )
    plan = api.run(cfg)
    plan.areas["area_name"] = [f"Placename {a[-2:]} & Elsewhere" for a in plan.areas.index.astype(str)]
    return plan


@pytest.fixture(scope="module")
def sheet(real_plan: Plan) -> Figure:
    return draw_sheet(real_plan, "a4")


def _unit_level_neighbours(plan: Plan) -> set[tuple[str, str]]:
    """Area pairs that touch, straight from the unit graph (independent of sda.maps)."""
    area = {str(u): str(a) for u, a in plan.assignment.items()}
    return {tuple(sorted((area[u], area[v]))) for u, v in plan.graph.edges() if area[u] != area[v]}  # type: ignore[misc]


# --------------------------------------------------------------------------- colours


def test_neighbouring_areas_never_share_a_colour_on_the_shipped_plan(real_plan: Plan) -> None:
    pairs = _unit_level_neighbours(real_plan)
    assert len(pairs) > 40  # 28 areas on a real map touch in many places
    colours = area_colours(real_plan.areas.index, area_neighbours(real_plan))
    assert set(colours) == {str(a) for a in real_plan.areas.index}
    assert set(colours.values()) <= set(AREA_PALETTE)
    assert all(colours[a] != colours[b] for a, b in pairs)


def test_area_neighbours_of_the_hand_made_quadrants() -> None:
    plan = quadrant_plan(extras=False)  # A1 A2 bottom, A3 A4 top; rook links only
    graph = area_neighbours(plan)
    assert {tuple(sorted(e)) for e in graph.edges()} == {("A1", "A2"), ("A1", "A3"), ("A2", "A4"), ("A3", "A4")}
    colours = area_colours(graph.nodes, graph)
    assert all(colours[a] != colours[b] for a, b in graph.edges())


def test_the_sheet_fills_areas_with_their_colours(real_plan: Plan, sheet: Figure) -> None:
    main = next(ax for ax in sheet.axes if ax.get_gid() == "main-map")
    fills = main.collections[0].get_facecolors()
    assert len(fills) == len(real_plan.areas)
    drawn = {"#{:02x}{:02x}{:02x}".format(*(round(255 * v) for v in rgba[:3])) for rgba in fills}
    assert drawn <= set(AREA_PALETTE)
    assert len(drawn) >= 4  # a map needs at least four colours


# --------------------------------------------------------------------------- labels


def _visible_labels(fig: Figure) -> list[Text]:
    return [
        t
        for t in fig.findobj(Text)
        if (t.get_gid() or "").startswith("label:") and t.get_visible() and t.get_text().strip()
    ]


def _overlap(p: Bbox, q: Bbox) -> bool:
    return p.x0 < q.x1 and q.x0 < p.x1 and p.y0 < q.y1 and q.y0 < p.y1


def test_label_boxes_never_overlap(sheet: Figure) -> None:
    renderer = sheet.canvas.get_renderer()  # type: ignore[attr-defined]
    texts = _visible_labels(sheet)
    assert len(texts) >= 20
    boxes = [(t.get_gid(), t.get_window_extent(renderer)) for t in texts]
    clashes = [(a, b) for (a, p), (b, q) in itertools.combinations(boxes, 2) if _overlap(p, q)]
    assert clashes == []
    for text in texts:  # and none spills out of its map
        frame = text.axes.get_window_extent(renderer)
        box = text.get_window_extent(renderer)
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1 and frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1


def _labels_on_other_areas(fig: Figure, plan: Plan) -> list[tuple[str, str, float, float]]:
    """``(map, label, own share, others' share)`` for each visible area label lying more on other
    areas than on its own (and on them by more than 5% of its box): it reads as theirs. Measured
    from the rendered text and the area polygons, independently of sda.maps.labels."""
    shapes = area_shapes(plan)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    found = []
    for ax in fig.axes:
        inverse = ax.transData.inverted()
        for text in ax.texts:
            gid = text.get_gid() or ""
            area = gid.rpartition(":")[2]
            if not (gid.startswith("label:") and text.get_visible() and area in shapes.index):
                continue
            extent = text.get_window_extent(renderer)
            (x0, y0), (x1, y1) = inverse.transform([[extent.x0, extent.y0], [extent.x1, extent.y1]])
            box = shapely.box(x0, y0, x1, y1)
            own = box.intersection(shapes.geometry[area]).area / box.area
            others = sum(box.intersection(g).area for a, g in shapes.geometry.items() if a != area) / box.area
            if others > max(own, 0.05):
                found.append((str(ax.get_gid()), text.get_text().replace("\n", " "), round(own, 2), round(others, 2)))
    return found


@pytest.mark.parametrize("paper", ["a4", "screen"])
def test_no_label_sits_on_another_area(real_plan: Plan, sheet: Figure, paper: str) -> None:
    # adjustText moved labels that did not fit at their area's centre onto neighbouring areas,
    # joined by a leader a few pixels long: on the report's map "SDA-14 Huntingdon" covered
    # St Neots' area, and "SDA-05 Hampton Hargate and Vale" lay over three Peterborough areas.
    fig = sheet if paper == "a4" else draw_sheet(real_plan, paper)
    assert _labels_on_other_areas(fig, real_plan) == []


def test_every_area_is_labelled_or_in_the_key(real_plan: Plan, sheet: Figure) -> None:
    shown = {t.get_text().split("\n")[0] for t in _visible_labels(sheet)}
    note = " ".join(t.get_text() for t in sheet.findobj(Text) if t.get_gid() in ("legend-note", "legend-key"))
    for area in real_plan.areas.index.astype(str):
        assert area in shown or re.search(rf"\b{re.escape(area)}\b", note), area


def test_labels_carry_the_area_names(sheet: Figure) -> None:
    full = [t.get_text() for t in _visible_labels(sheet) if "\n" in t.get_text()]
    assert full and all("Placename" in t for t in full)


def test_dense_cities_get_insets_lettered_north_to_south_on_every_sheet(real_plan: Plan, sheet: Figure) -> None:
    for figure in (sheet, draw_sheet(real_plan, "a3")):
        titles = sorted(ax.get_title(loc="left") for ax in figure.axes if (ax.get_gid() or "").startswith("inset-"))
        assert titles == ["A  Peterborough", "B  Cambridge"]  # A3 had them the other way round


def test_overlapping_labels_fall_back_to_the_key() -> None:
    # Three long labels on one tiny square that fits none of them: whatever adjustText does,
    # the last pass must leave no overlaps and list what it shortened.
    fig = Figure(figsize=(2, 2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    square = shapely.box(4.9, 4.9, 5.1, 5.1)
    labels = [
        MapLabel(key=f"A{i}", text=f"A{i}\nA rather long place name", anchor=(5, 5), shape=square, ax=ax, fontsize=9)
        for i in range(3)
    ]
    place_labels(labels)
    key = settle_labels(fig, labels)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    shown = [lab.artist.get_window_extent(renderer) for lab in labels if lab.artist and lab.artist.get_visible()]
    assert all(
        not (p.x0 < q.x1 and q.x0 < p.x1 and p.y0 < q.y1 and q.y0 < p.y1) for p, q in itertools.combinations(shown, 2)
    )
    assert len(shown) + sum(1 for n, _ in key if n == "-") == 3
    assert key == settle_labels(fig, labels)  # settled: a second pass changes nothing


def test_a_label_wider_than_its_map_is_shortened_without_adjust_text_logging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A long area name from a names file, on a small map (an inset): no move fits it inside, and
    # adjustText logged "Some labels are too long" at every step, on stderr past --quiet.
    fig = Figure(figsize=(1, 1), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    name = "Chatteris-Manea-Wimblington-Doddington-and-Benwick"
    labels = [
        MapLabel(key="A1", text=f"A1\n{name}", anchor=(5, 8), shape=shapely.box(4.9, 7.9, 5.1, 8.1), ax=ax),
        MapLabel(
            key="an-area-id-far-too-long-for-this-map",
            text="an-area-id-far-too-long-for-this-map",
            anchor=(5, 2),
            shape=shapely.box(4.9, 1.9, 5.1, 2.1),
            ax=ax,
        ),
    ]
    with caplog.at_level(logging.WARNING):
        place_labels(labels)
        key = settle_labels(fig, labels)
    assert [record.getMessage() for record in caplog.records] == []
    assert labels[0].state == "short" and ("A1", name) in key
    assert labels[1].state in ("number", "hidden")  # too wide even alone: numbered, or listed as no room


def test_area_label_falls_back_to_the_id() -> None:
    assert area_label("SDA-01", None) == "SDA-01"
    assert area_label("SDA-01", "") == "SDA-01"
    assert area_label("SDA-01", "Ely & Soham") == "SDA-01\nEly & Soham"
    plan = quadrant_plan(extras=False)
    assert area_names(plan) == {}
    plan.areas["area_name"] = ["West", "", "North", "East"]
    assert area_names(plan) == {"A1": "West", "A3": "North", "A4": "East"}


# --------------------------------------------------------------------------- furniture and sizes


def test_sheet_carries_key_scale_north_arrow_attribution_and_title(sheet: Figure) -> None:
    gids = {a.get_gid() for a in sheet.findobj()}
    assert {"legend", "north-arrow", "attribution", "title"} <= gids
    bars = [a for ax in sheet.axes for a in ax.artists if isinstance(a, AnchoredSizeBar)]
    assert len(bars) == 3  # the main map and each inset
    legend = next(a for a in sheet.findobj(Legend) if a.get_gid() == "legend")
    entries = [t.get_text() for t in legend.get_texts()]
    assert "GP practice (87)" in entries and "district boundary" in entries
    attribution = next(t.get_text() for t in sheet.findobj(Text) if t.get_gid() == "attribution")
    flat = " ".join(attribution.split())
    for needed in ("Ordnance Survey", "Office for National Statistics", "NHS England", "Martin Chorley"):
        assert needed in flat
    title = next(t.get_text() for t in sheet.findobj(Text) if t.get_gid() == "title")
    assert "28 areas" in title


def test_the_default_runs_data_bring_their_own_attribution_and_other_files_are_named(repo_root: Path) -> None:
    cfg = load_config(repo_root / "configs" / "cambridgeshire-peterborough.toml")
    files = {"units": cfg.units.path, "population_points": cfg.units.population_points, "practices": cfg.pcn.practices}
    default = SimpleNamespace(provenance={"data_files": {f"{k}: {Path(str(v)).name}": "" for k, v in files.items()}})
    lines = attribution_lines(default)  # type: ignore[arg-type]
    assert not any("add the attribution" in line for line in lines)  # was printed on the default run's maps
    assert "Census 2021 population points: contains OS data © Crown copyright and database right 2021." in lines
    assert len(lines) == len(set(lines))  # the ONS line once, though three files need it
    other = SimpleNamespace(provenance={"data_files": {"units: wards.gpkg": "", **default.provenance["data_files"]}})
    assert "Data: wards.gpkg; add the attribution their licences require." in attribution_lines(other)  # type: ignore[arg-type]


def test_print_maps_are_a4_and_a3_at_200_dpi_in_png_and_pdf() -> None:
    files = render_print_maps(quadrant_plan())
    assert set(files) == {"map_a4.png", "map_a4.pdf", "map_a3.png", "map_a3.pdf"}
    for paper, (w_mm, h_mm) in {"a4": (297, 210), "a3": (420, 297)}.items():
        image = Image.open(io.BytesIO(files[f"map_{paper}.png"]))
        assert image.size == pytest.approx((w_mm / 25.4 * 200, h_mm / 25.4 * 200), abs=2)
        assert image.info["dpi"] == pytest.approx((200, 200), abs=0.5)
        pdf = files[f"map_{paper}.pdf"]
        assert pdf.startswith(b"%PDF")
        box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)", pdf)
        assert box is not None
        assert (float(box[1]), float(box[2])) == pytest.approx((w_mm / 25.4 * 72, h_mm / 25.4 * 72), abs=1.5)


def test_print_maps_repeat_byte_for_byte() -> None:
    plan = quadrant_plan()
    first = render_print_maps(plan)
    assert first["map_a4.pdf"] == render_print_maps(plan)["map_a4.pdf"]


# --------------------------------------------------------------------------- locators


def test_locators_highlight_each_area(real_plan: Plan) -> None:
    pngs = render_locators(real_plan)
    assert set(pngs) == {str(a) for a in real_plan.areas.index}
    assert len(set(pngs.values())) == len(pngs)  # every area highlights somewhere else
    first = next(iter(pngs))
    assert plot_locator(real_plan, first) == pngs[first]
    image = Image.open(io.BytesIO(pngs[first])).convert("RGB")
    assert image.size == (160, 180)
    red = sum(1 for r, g, b in image.getdata() if r > 180 and g < 90 and b < 60)
    assert red > 20
    with pytest.raises(ValueError, match="no area 'nowhere'"):
        plot_locator(real_plan, "nowhere")


def test_report_map_is_a_landscape_a4_page_for_screens() -> None:
    data = plot_plan_map(quadrant_plan())
    assert Image.open(io.BytesIO(data)).size == pytest.approx((1169, 827), abs=2)


# --------------------------------------------------------------------------- many areas


@pytest.fixture(scope="module")
def many_areas_plan() -> Plan:
    """400 areas of 400 m x 400 m (a 40 x 40 grid of cells in 2 x 2 blocks): above the label limit.

    Named, so that full labels (id and name) would not fit their squares and would go to adjustText.
    """
    plan = block_plan(40, 40)
    plan.areas["area_name"] = [f"Placename {a} & Elsewhere" for a in plan.areas.index]
    assert len(plan.areas) == 400 > MAX_LABELLED_AREAS
    return plan


def _no_adjust_text(*args: object, **kwargs: object) -> None:
    raise AssertionError("adjustText was called for a plan with too many areas to label")


def test_many_areas_are_labelled_by_id_where_it_fits_without_adjust_text(
    many_areas_plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adjustText.adjust_text", _no_adjust_text)
    fig = draw_sheet(many_areas_plan, "a4")
    shapes = area_shapes(many_areas_plan)
    main = next(ax for ax in fig.axes if ax.get_gid() == "main-map")
    inverse = main.transData.inverted()
    boxes = label_boxes(fig)
    area_boxes = {gid.partition(":")[2]: box for gid, box in boxes.items() if not gid.startswith("label:district")}
    assert len(area_boxes) > 300  # the ids fit in most of these squares at A4
    for area, box in area_boxes.items():
        (x0, y0), (x1, y1) = inverse.transform([[box.x0, box.y0], [box.x1, box.y1]])
        assert shapes.geometry[area].contains(shapely.box(x0, y0, x1, y1)), area
    assert label_overlaps(fig) == []
    assert not [ax for ax in fig.axes if (ax.get_gid() or "").startswith("inset-")]
    texts = {t.get_gid(): t.get_text() for t in fig.findobj(Text) if t.get_gid()}
    assert "400 areas are too many to label" in texts["label-note"]
    assert "areas.csv" in texts["label-note"] and "plan.gpkg" in texts["label-note"]
    assert "areas.csv" in texts["legend-note"]
    assert (
        "shortened for room" not in texts["legend-note"] and "legend-key" not in texts
    )  # nothing numbered into the key


def test_a_label_that_does_not_fit_its_area_is_left_off() -> None:
    fig = Figure(figsize=(4, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1000)
    ax.set_ylim(0, 1000)
    big, tiny = shapely.box(0, 0, 600, 600), shapely.box(700, 700, 720, 720)
    labels = [
        MapLabel(key="big", text="B1", anchor=(300, 300), shape=big, ax=ax, optional=True),
        MapLabel(key="tiny", text="B2", anchor=(710, 710), shape=tiny, ax=ax, optional=True),
    ]
    place_fitting_labels(labels)
    assert [lab.state for lab in labels] == ["full", "hidden"]
    assert set(label_boxes(fig)) == {"label:big"}


def test_many_areas_get_no_locators_and_a_report_map(many_areas_plan: Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("adjustText.adjust_text", _no_adjust_text)
    assert render_locators(many_areas_plan) == {}
    keys = drawable_figures(many_areas_plan)
    assert "map" in keys and not [k for k in keys if k.startswith("locator-")]
    figures = render_figures(many_areas_plan)
    assert not [k for k in figures if k.startswith("locator-")]
    png = figures["map"]
    assert png is not None
    assert Image.open(io.BytesIO(png)).size == pytest.approx((1169, 827), abs=2)


def test_map_key_joins_a_name_wrapped_after_a_hyphen_without_a_space() -> None:
    # The map key lists shortened labels on one line: "Holywell-cum-\nNeedingworth" was shown
    # as "Holywell-cum- Needingworth".
    assert (
        unwrap("Holywell-cum-\nNeedingworth & Houghton\nand Wyton") == "Holywell-cum-Needingworth & Houghton and Wyton"
    )
    assert unwrap("Cambridge North-\nWest") == "Cambridge North-West"
    assert unwrap("Offord Cluny and\nOfford D'Arcy") == "Offord Cluny and Offord D'Arcy"


# --------------------------------------------------------------------------- a long key


def _long_key(n: int) -> list[tuple[str, str]]:
    """``n`` shortened labels as settle_labels lists them, some of them long place names."""
    names = ["Placename & Elsewhere", "Holywell-cum-Needingworth & Houghton and Wyton", "Ely"]
    return [(f"SDA-{i:03d}", f"{names[i % 3]} {i}") for i in range(1, n + 1)]


def _sheet_with_key(monkeypatch: pytest.MonkeyPatch, paper: str, n: int) -> Figure:
    """The hand-made quadrant plan's sheet, as if ``n`` labels had been shortened for room."""
    import sda.maps.sheet

    real = sda.maps.sheet.settle_labels

    def settle_with_long_key(*args: object, **kwargs: object) -> list[tuple[str, str]]:
        return real(*args, **kwargs) + _long_key(n)  # type: ignore[arg-type]

    monkeypatch.setattr(sda.maps.sheet, "settle_labels", settle_with_long_key)
    return draw_sheet(quadrant_plan(), paper)


@pytest.mark.parametrize(("paper", "n"), [("a4", 5), ("a4", 40), ("a3", 60), ("a4", 90), ("a3", 90), ("a3", 400)])
def test_the_key_stays_on_the_sheet_however_long(monkeypatch: pytest.MonkeyPatch, paper: str, n: int) -> None:
    # From about 60 areas the key's one column of shortened labels ran off the foot of the page.
    fig = _sheet_with_key(monkeypatch, paper, n)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    page = fig.bbox
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    for text in texts:
        box = text.get_window_extent(renderer)
        inside = page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
        assert inside, (text.get_gid(), text.get_text()[:60], box, page)
    key = [t for t in texts if t.get_gid() in ("legend-note", "legend-key")]
    panel = next(ax for ax in fig.axes if ax.get_gid() == "legend-panel").get_window_extent(renderer)
    boxes = [t.get_window_extent(renderer) for t in key]
    assert all(panel.y0 - 1 <= b.y0 and b.x1 <= panel.x1 + 1 for b in boxes)  # and inside the key's panel
    assert not [(p, q) for p, q in itertools.combinations(boxes, 2) if _overlap(p, q)]  # columns apart
    listed = " ".join(t.get_text() for t in key)
    ids = [area for area, _ in _long_key(n)]
    shown = [area for area in ids if re.search(rf"\b{area}\b", listed)]
    more = re.search(r"… and (\d+) more: see areas\.csv", listed)
    if n <= 60:  # these fit: a short list in one text under the note, as before; longer ones in columns
        assert shown == ids and more is None
        assert len(key) == 1 if n == 5 else len(key) > 2
    else:  # these cannot: the first ones are listed and the last line counts the rest
        assert more is not None and 0 < len(shown) < n
        assert shown == ids[: len(shown)] and int(more[1]) == n - len(shown)


#: The labels the report's map of the default run shortened (24 areas, two insets).
_REPORT_MAP_KEY = [
    ("SDA-05", "Hampton Hargate and Vale"),
    ("SDA-07", "Orton Waterville"),
    ("SDA-11", "Witchford & Littleport"),
    ("SDA-12", "Holywell-cum-Needingworth & Fenstanton"),
    ("SDA-14", "Huntingdon"),
    ("SDA-16", "Impington & Histon"),
    ("SDA-22", "Cambridge South-East"),
    ("SDA-04", "Peterborough North-East"),
    ("SDA-18", "Cambridge North"),
    ("SDA-19", "Cambridge North-West"),
    ("1", "SDA-17 Swavesey & Longstanton"),
]


@pytest.mark.parametrize("paper", ["screen", "a4"])
def test_the_key_cuts_no_name_short_when_a_layout_holds_them_whole(monkeypatch: pytest.MonkeyPatch, paper: str) -> None:
    # The report's map listed these in three columns cut to "SDA-05  Hampton Hargat…" and
    # "SDA-12  Holywell-cum-Ne…" while fewer columns, or names wrapped under themselves, held
    # every name whole: the key is the only place a shortened label's name is written.
    import sda.maps.sheet

    real = sda.maps.sheet.settle_labels
    monkeypatch.setattr(sda.maps.sheet, "settle_labels", lambda *a, **k: real(*a, **k) + _REPORT_MAP_KEY)
    fig = draw_sheet(quadrant_plan(), paper)
    listed = "\n".join(t.get_text() for t in fig.findobj(Text) if t.get_gid() in ("legend-note", "legend-key"))
    listed = listed.replace("\n" + KEY_CONTINUED, " ")  # an entry wrapped under its name
    for area, name in _REPORT_MAP_KEY:
        assert f"{area}  {name}" in listed, (area, name)
    assert "…" not in listed


# --------------------------------------------------------------------------- a re-run's changes


def _moved(plan: Plan, codes: list[str]) -> Plan:
    """``plan`` as if a re-run had moved ``codes`` into their areas from the area of the first
    unit's neighbour in another area (the record ``sda.rerun`` keeps)."""
    area = {str(u): str(a) for u, a in plan.assignment.items()}
    moves = []
    for i, code in enumerate(codes):
        # An area of its own where no neighbour is in another, so that no two moves share one.
        origin = next((area[str(v)] for v in plan.graph.neighbors(code) if area[str(v)] != area[code]), f"SDA-{90 + i}")
        moves.append({"unit_code": code, "from_area": origin, "to_area": area[code], "population": 1, "reason": "-"})
    provenance = dict(plan.provenance)
    provenance["previous"] = {"moved_units": moves}
    return dataclasses.replace(plan, provenance=provenance)  # type: ignore[arg-type]


def _move_labels(fig: Figure) -> list[Text]:
    return [t for ax in fig.axes for t in ax.texts if "\u2192" in t.get_text()]


def test_moves_close_together_get_a_close_up_with_each_move_written_and_no_label_on_another(real_plan: Plan) -> None:
    # Three small units moved side by side in a city: on the county map alone they were red specks
    # under crowded ids, and two moves next to each other printed one label on the other.
    # The smallest unit and its two smallest neighbours: their labels, each below its unit, collide.
    size = real_plan.units.geometry.area
    start = str(size.idxmin())
    near = [start, *sorted((str(v) for v in real_plan.graph.neighbors(start)), key=lambda v: size[v])[:2]]
    fig = draw_moved_units(_moved(real_plan, near))
    assert fig is not None and len(fig.axes) == 2
    close = fig.axes[1]
    (x0, x1), (y0, y1) = close.get_xlim(), close.get_ylim()
    frame = shapely.box(x0, y0, x1, y1)
    assert all(frame.contains(real_plan.units.geometry[c].representative_point()) for c in near)
    labels = _move_labels(fig)
    assert sorted(t.get_text() for t in labels) == sorted(_expected_move_labels(_moved(real_plan, near)))
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [Text.get_window_extent(t, renderer) for t in close.texts]  # the words, not a move's line
    assert not [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]
    # Areas are named where there is room around the moves, else shown by id.
    names = set(area_names(real_plan).values())
    assert any(t.get_text().partition("\n")[2].replace("\n", " ") in names for t in close.texts)


def test_moves_across_the_county_are_written_on_the_county_map(real_plan: Plan) -> None:
    # Spread out, the moves get no close-up; the one map writes each of them, and the areas' ids
    # only where they cover no move. Before, it showed red specks with no word of the move.
    x = real_plan.units.geometry.centroid.x
    far = [str(x.idxmin()), str(x.idxmax())]  # the westernmost and easternmost units
    fig = draw_moved_units(_moved(real_plan, far))
    assert fig is not None and len(fig.axes) == 1
    assert sorted(t.get_text() for t in _move_labels(fig)) == sorted(_expected_move_labels(_moved(real_plan, far)))
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [Text.get_window_extent(t, renderer) for t in fig.axes[0].texts]  # the words, not a move's line
    assert len(boxes) > len(far)  # area ids too
    assert not [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]
    assert draw_moved_units(real_plan) is None  # not a re-run: nothing moved


def test_units_that_moved_together_are_written_once(real_plan: Plan) -> None:
    # A unit and its neighbours in the same area, all moved from the same area: one patch of
    # red, one label with the number of units; a unit moved elsewhere has its own.
    start = str(real_plan.units.geometry.area.idxmax())
    area = real_plan.assignment
    together = [start, *[str(v) for v in real_plan.graph.neighbors(start) if area[str(v)] == area[start]][:2]]
    assert len(together) == 3
    x = real_plan.units.geometry.centroid.x
    far_away = str((x - x[start]).abs().idxmax())
    moves = [
        {"unit_code": c, "from_area": "SDA-98", "to_area": str(area[c]), "population": 1, "reason": "-"}
        for c in [*together, far_away]
    ]
    provenance = dict(real_plan.provenance) | {"previous": {"moved_units": moves}}
    plan = dataclasses.replace(real_plan, provenance=provenance)  # type: ignore[arg-type]
    groups = move_groups(plan, [*together, far_away])
    assert sorted(sorted(g) for _, g in groups) == sorted([sorted(together), [far_away]])
    fig = draw_moved_units(plan)
    assert fig is not None
    assert sorted(t.get_text() for t in _move_labels(fig)) == sorted(
        [f"SDA-98 \u2192 {area[start]} (3 units)", f"SDA-98 \u2192 {area[far_away]}"]
    )


def _expected_move_labels(plan: Plan) -> list[str]:
    """One label per unit moved, written "from → to": the tests' moves touch no other move of the
    same areas (else they would be written once, with the number of units)."""
    return [f"{m['from_area']} \u2192 {m['to_area']}" for m in plan.provenance["previous"]["moved_units"]]


def _window_point(ax: Axes, point: shapely.Point) -> tuple[float, float]:
    x, y = ax.transData.transform((point.x, point.y))
    return float(x), float(y)


def _neighbourhood(plan: Plan, start: str, n: int) -> list[str]:
    """``start`` and the units nearest it in the plan's graph (breadth first), ``n`` in all."""
    near = [start]
    for code in near:
        near += [str(v) for v in plan.graph.neighbors(code) if str(v) not in near]
        if len(near) >= n:
            break
    return near[:n]


def test_each_move_label_points_at_its_own_units_and_covers_no_other_move(real_plan: Plan) -> None:
    # Six small city units side by side, each moved from an area of its own, and two units at the
    # county's ends (so there is no close-up). The labels, set beside tiny units with nothing
    # joining them, landed on the neighbouring moved units, so "SDA-04 → SDA-03" was read on units
    # that went to SDA-05. Now no label covers another moved unit, and a line joins it to its own.
    # Tried around a dozen of the smallest units, the cities' densest places.
    x = real_plan.units.geometry.centroid.x
    far = [str(x.idxmin()), str(x.idxmax())]
    area = real_plan.assignment
    smallest = [str(c) for c in real_plan.units.geometry.area.sort_values().index[:40:3]]
    wrong, unjoined = [], []
    for start in smallest:
        moves = [
            {"unit_code": c, "from_area": f"SDA-{90 + i}", "to_area": str(area[c]), "population": 1, "reason": "-"}
            for i, c in enumerate([*_neighbourhood(real_plan, start, 6), *far])
        ]
        provenance = dict(real_plan.provenance) | {"previous": {"moved_units": moves}}
        plan = dataclasses.replace(real_plan, provenance=provenance)  # type: ignore[arg-type]
        fig = draw_moved_units(plan)
        assert fig is not None and len(fig.axes) == 1
        ax = fig.axes[0]
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        owner = {f"{m['from_area']} \u2192 {m['to_area']}": str(m["unit_code"]) for m in moves}
        labels = _move_labels(fig)
        assert sorted(t.get_text() for t in labels) == sorted(owner)
        for label in labels:
            own = owner[label.get_text()]
            box = Text.get_window_extent(label, renderer)  # the words, not the line to the unit
            wrong += [
                (start, label.get_text(), c)
                for c in owner.values()
                if c != own and box.contains(*_window_point(ax, label_anchor(plan.units.geometry[c])))
            ]
            end = shapely.Point(label.xy)  # type: ignore[attr-defined]
            if label.arrow_patch is None or not plan.units.geometry[own].buffer(1.0).contains(end):  # type: ignore[attr-defined]
                unjoined.append((start, label.get_text()))
    assert not wrong
    assert not unjoined
