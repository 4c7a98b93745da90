"""The plan map as a printable sheet: areas, districts, practices, labels, insets and furniture.

One drawing serves every size: ``draw_sheet`` lays out a landscape page (A4 or A3) with the
whole study area on the left and, on the right, insets for the dense clusters where labels do
not fit at the main scale (Cambridge and Peterborough on the shipped data), then the key. The
report's ``map.png`` is the A4 page with larger text at screen resolution; ``render_print_maps`` gives the print
files (PNG at 200 dpi and vector PDF).

A plan with more areas than ``MAX_LABELLED_AREAS`` (see ``sda.maps.layers``) is drawn the
cheap way: no insets, each area labelled by its id only where the id fits inside it, and a note
in the right-hand column (and the key) saying that areas.csv and plan.gpkg identify every area.

Insets are found, not hard-coded: areas whose label does not fit inside them at the main scale
are grouped by distance, and the two largest groups of two or more get an inset named after the
district holding most of their residents.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.transforms import Bbox

from sda.formatting import show_percent, show_whole
from sda.maps.furniture import (
    DISTRICT_INK,
    INK,
    PRACTICE_STYLE,
    UNIT_INK,
    add_attribution,
    add_legend,
    add_north_arrow,
    add_scale_bar,
)
from sda.maps.labels import MapLabel, place_fitting_labels, place_labels, settle_labels
from sda.maps.layers import (
    area_label,
    area_names,
    area_neighbours,
    area_shapes,
    district_shapes,
    figure_bytes,
    label_anchor,
    labels_readable,
    outline_collection,
    polygon_collection,
    practices_in,
)
from sda.plan import Plan
from sda.qgis import area_colours

__all__ = [
    "PAPER_IN",
    "PRINT_DPI",
    "PRINT_PAPERS",
    "REPORT_DPI",
    "draw_sheet",
    "plot_plan_map",
    "render_print_maps",
    "render_sheet",
]

#: Landscape page sizes in inches (ISO 216); "screen" is the A4 page with larger text, for the
#: report's ``map.png``, which a browser shows about 1,000 pixels wide.
PAPER_IN: dict[str, tuple[float, float]] = {"a4": (11.69, 8.27), "a3": (16.54, 11.69), "screen": (11.69, 8.27)}
#: Resolution of the print PNGs.
PRINT_DPI = 200
#: Resolution of the report's ``map.png`` (the "screen" sheet: 1,169 x 827 pixels).
REPORT_DPI = 100
#: Text sizes (points) on A4; A3 scales them by ``_A3_FONT`` (less than the page, so A3 fits more labels).
_FONT = {"title": 13.0, "subtitle": 7.5, "area": 6.5, "district": 6.0, "furniture": 6.5, "attribution": 5.0}
_A3_FONT = 1.2
_SCREEN_FONT = 1.3
_MAX_INSETS = 2
#: An area is "dense" at a scale when its label box covers at least this share of it.
_DENSE_SHARE = 0.35
#: An inset's areas span at most this share of the main map's width (so it enlarges ~3x or more).
_INSET_MAX_SPAN = 0.16


@dataclass
class _Inset:
    letter: str
    name: str
    areas: list[str]
    extent: tuple[float, float, float, float]


def plot_plan_map(plan: Plan) -> bytes:
    """The report's map: the "screen" sheet (A4 with larger text) as a PNG at ``REPORT_DPI``."""
    return figure_bytes(draw_sheet(plan, "screen"), "png", REPORT_DPI)


#: The print sheets, in the order their files are listed.
PRINT_PAPERS = ("a4", "a3")


def render_print_maps(plan: Plan) -> dict[str, bytes]:
    """The print maps of a plan: ``map_a4.png``, ``map_a4.pdf``, ``map_a3.png``, ``map_a3.pdf``.

    PNGs are at ``PRINT_DPI`` (200 dpi); PDFs are vector. Each sheet is drawn once and saved in
    both formats.
    """
    files: dict[str, bytes] = {}
    for paper in PRINT_PAPERS:
        files.update(render_sheet(plan, paper))
    return files


def render_sheet(plan: Plan, paper: str, districts: gpd.GeoDataFrame | None = None) -> dict[str, bytes]:
    """One print sheet's files, by name: ``map_<paper>.png`` and ``map_<paper>.pdf``. A task of
    its own, so the writer can draw the sheets on other cores while it writes the rest of the
    folder; ``districts``, the outlines already dissolved (``district_shapes``), spares each
    worker dissolving them again."""
    fig = draw_sheet(plan, paper, districts)
    return {f"map_{paper}.png": figure_bytes(fig, "png", PRINT_DPI), f"map_{paper}.pdf": figure_bytes(fig, "pdf")}


def draw_sheet(plan: Plan, paper: str = "a4", districts: gpd.GeoDataFrame | None = None) -> Figure:
    """Draw the plan map on a landscape page of ``paper`` (``"a4"``, ``"a3"`` or ``"screen"``),
    with the district outlines ``districts`` (default: ``district_shapes(plan)``).

    Returns
    -------
    Figure
        A drawn figure (Agg canvas attached, labels settled), for saving or inspecting.
    """
    if paper not in PAPER_IN:
        msg = f"unknown paper size {paper!r}; expected one of {sorted(PAPER_IN)}"
        raise ValueError(msg)
    width, height = PAPER_IN[paper]
    scale = {"a4": 1.0, "a3": _A3_FONT, "screen": _SCREEN_FONT}[paper]
    font = {k: v * scale for k, v in _FONT.items()}
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(width, height), dpi=PRINT_DPI if paper == "a4" else 150)
    FigureCanvasAgg(fig)
    shapes = area_shapes(plan)
    districts = district_shapes(plan) if districts is None else districts.copy()
    colours = area_colours(shapes.index, area_neighbours(plan))
    names = area_names(plan)
    practices = practices_in(plan, shapes.crs)

    # Page layout in inches, then figure fractions.
    margin, top, foot, gap = 0.3 * scale, 0.9 * scale, 0.62 * scale, 0.25 * scale
    bounds = shapes.total_bounds
    aspect = (bounds[2] - bounds[0]) / max(bounds[3] - bounds[1], 1.0)
    map_h = height - top - foot
    map_w = min(map_h * aspect * 1.04, 0.62 * (width - 2 * margin))
    main = fig.add_axes((margin / width, foot / height, map_w / width, map_h / height), gid="main-map")
    _fit_extent(main, bounds, pad=0.02)
    _draw_layers(main, shapes, districts, colours, plan, practices, marker_size=6 * scale)

    readable = labels_readable(len(shapes))
    geoms = shapes.geometry.to_numpy()
    labels = [
        MapLabel(
            key=area,
            text=area_label(area, names.get(area), width=20) if readable else area,
            key_text=f"{area} {names[area]}" if area in names else area,
            anchor=_xy(label_anchor(shapes.geometry[area])),
            shape=shapes.geometry[area],
            ax=main,
            priority=2,
            fontsize=font["area"],
            optional=not readable,  # too many areas: an id that does not fit is left off, not keyed
            style={"weight": "bold", "linespacing": 1.0},
            others=np.delete(geoms, i),
        )
        for i, area in enumerate(shapes.index)
    ]
    insets, crowded = _find_insets(fig, main, labels, plan, shapes) if readable else ([], [])
    col_x = (margin + map_w + gap) / width
    col_w = (width - margin) / width - col_x
    inset_axes = _open_insets(
        fig,
        insets,
        (col_x, 0.44, col_w, (height - top) / height - 0.44),
        shapes,
        districts,
        colours,
        plan,
        practices,
        font,
        scale,
    )
    in_inset = {a for inset in insets for a in inset.areas}
    for inset in insets:  # a crowded area mostly inside an inset is labelled there too
        view = shapely.box(*inset.extent)
        for area in crowded:
            shape = shapes.geometry[area]
            if area not in in_inset and shape.intersection(view).area >= 0.5 * shape.area:
                inset.areas.append(area)
                in_inset.add(area)
    main_labels = [lab for lab in labels if lab.key not in in_inset]
    furniture = [
        add_scale_bar(main, fontsize=font["furniture"]),
        *add_north_arrow(main, fontsize=font["furniture"] + 2),
    ]
    frames = [_draw_frame(main, inset, font["furniture"]) for inset in insets]
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    keep_clear = [a.get_window_extent(renderer) for a in furniture] + [
        _display_box(main, inset.extent) for inset in insets
    ]
    if readable:
        place_labels(main_labels, obstacles=keep_clear)
    else:
        place_fitting_labels(main_labels, obstacles=keep_clear)
    district_labels = _district_labels(main, districts, main_labels, insets, font["district"])
    place_labels(district_labels)
    inset_labels = _label_insets(fig, insets, inset_axes, shapes, font, names)
    place_labels(frames)
    furniture += [artist for ax in fig.axes for artist in ax.artists if artist.get_gid() == "scale-bar"]
    if readable:
        key = settle_labels(fig, frames + main_labels + district_labels + inset_labels, obstacles=furniture)
    else:
        # The ids kept lie inside their own areas, so they cannot overlap each other: only the
        # district names are settled, with the ids as obstacles (linear in the number of areas).
        ids = [lab.artist for lab in main_labels if lab.state != "hidden" and lab.artist is not None]
        key = settle_labels(fig, district_labels, obstacles=[*furniture, *ids])
        _add_label_note(fig, (col_x, 0.44, col_w, (height - top) / height - 0.44), len(shapes), font["furniture"])
    add_legend(
        fig,
        (col_x, foot / height, col_w, 0.40 - foot / height),
        fontsize=font["furniture"],
        unit_kind="unit",
        n_practices=0 if practices is None else len(practices),
        has_districts=len(districts) > 1,
        has_insets=bool(insets),
        named=bool(names),
        key=key,
        labels_note="" if readable else _ID_NOTE,
    )
    _add_title(fig, plan, shapes, margin / width, 1 - 0.22 * scale / height, font)
    add_attribution(
        fig,
        plan,
        x=margin / width,
        y=0.12 * scale / height,
        width_chars=int(width * 24 / scale),
        fontsize=font["attribution"],
    )
    fig.canvas.draw()
    return fig


#: The key's line on labels when there are too many areas to label in full.
_ID_NOTE = "Labels: area id, only where it fits inside\nits area. areas.csv and plan.gpkg list\nevery area."


def _add_label_note(fig: Figure, rect: tuple[float, float, float, float], n_areas: int, fontsize: float) -> None:
    """Say, where the insets would go, why the areas are not named and where to find them."""
    x, y, _, h = rect
    text = (
        f"{show_whole(n_areas)} areas are too many to label\n"
        "readably on one sheet, so there are no\n"
        "insets and no names on this map: an\n"
        "area's id is shown only where it fits\n"
        "inside the area.\n\n"
        "Every area is identified in areas.csv\n"
        "and in plan.gpkg (layer 'areas'), which\n"
        "QGIS can label and zoom."
    )
    fig.text(x, y + h, text, fontsize=fontsize + 0.5, va="top", color="#333333", gid="label-note", linespacing=1.3)


# --------------------------------------------------------------------------- layers


def _draw_layers(
    ax: Axes,
    shapes: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    colours: dict[str, str],
    plan: Plan,
    practices: gpd.GeoDataFrame | None,
    *,
    marker_size: float,
) -> None:
    view = _view_box(ax)
    ax.add_collection(
        polygon_collection(
            shapes.geometry, facecolors=[colours[a] for a in shapes.index], edgecolors="none", linewidths=0, zorder=1
        ),
        autolim=False,
    )
    units = plan.units.geometry if view is None else plan.units.geometry[plan.units.intersects(view)]
    ax.add_collection(outline_collection(units, colors=UNIT_INK, linewidths=0.2, zorder=2), autolim=False)
    if len(districts) > 1:
        ax.add_collection(
            outline_collection(districts.geometry, colors=DISTRICT_INK, linewidths=2.2, alpha=0.6, zorder=3),
            autolim=False,
        )
    ax.add_collection(outline_collection(shapes.geometry, colors=INK, linewidths=0.7, zorder=4), autolim=False)
    if practices is not None:
        ax.scatter(
            practices.geometry.x, practices.geometry.y, s=marker_size, zorder=5, gid="practices", **PRACTICE_STYLE
        )
    ax.set_aspect("equal")
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.6)


def _view_box(ax: Axes) -> shapely.Polygon | None:
    """The axes' data limits as a box, once set (``None`` while still at matplotlib's default)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    return None if (x0, x1) == (0.0, 1.0) else shapely.box(x0, y0, x1, y1)


def _fit_extent(ax: Axes, bounds: Sequence[float], *, pad: float) -> None:
    """Set limits showing ``bounds`` (plus ``pad``), widened to the axes' shape so the box stays put."""
    x0, y0, x1, y1 = bounds
    w, h = (x1 - x0) * (1 + 2 * pad), (y1 - y0) * (1 + 2 * pad)
    box = ax.get_position()
    fw, fh = ax.get_figure(root=True).get_size_inches()  # type: ignore[union-attr]
    ratio = (box.width * fw) / (box.height * fh)
    if w / h < ratio:
        w = h * ratio
    else:
        h = w / ratio
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)


def _display_box(ax: Axes, extent: tuple[float, float, float, float]) -> Bbox:
    x0, y0, x1, y1 = extent
    (a, b), (c, d) = ax.transData.transform([[x0, y0], [x1, y1]])
    return Bbox([[min(a, c), min(b, d)], [max(a, c), max(b, d)]])


def _xy(point: shapely.Point) -> tuple[float, float]:
    return (float(point.x), float(point.y))


# --------------------------------------------------------------------------- insets


def _find_insets(
    fig: Figure, ax: Axes, labels: list[MapLabel], plan: Plan, shapes: gpd.GeoDataFrame
) -> tuple[list[_Inset], list[str]]:
    """Group the areas whose label does not fit at the main scale; the largest groups get insets."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    inverse = ax.transData.inverted()
    density: dict[str, float] = {}
    for label in labels:
        probe = ax.text(*label.anchor, label.text, ha="center", va="center", fontsize=label.fontsize, **label.style)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        (x0, y0), (x1, y1) = inverse.transform([[extent.x0, extent.y0], [extent.x1, extent.y1]])
        box = shapely.box(x0, y0, x1, y1)
        # Dense: the label is a sizeable share of the area itself, so no nudge would fit it.
        # (A big rural area whose long label only pokes out is nudged by adjustText instead.)
        if box.intersection(label.shape).area < 0.97 * box.area and box.area >= _DENSE_SHARE * label.shape.area:
            density[label.key] = box.area / max(label.shape.area, 1.0)
    crowded = sorted(density)
    near = nx.Graph()
    near.add_nodes_from(crowded)
    span = ax.get_xlim()[1] - ax.get_xlim()[0]
    for i, a in enumerate(crowded):
        for b in crowded[i + 1 :]:
            if shapes.geometry[a].distance(shapes.geometry[b]) <= 0.03 * span:
                near.add_edge(a, b)
    # Grow each inset round the densest area not yet taken, nearest areas first, while it stays
    # small enough to be worth enlarging; then start again from the next densest area left.
    groups: list[list[str]] = []
    taken: set[str] = set()
    for seed in sorted(crowded, key=lambda a: (-density[a], a)):
        if seed in taken:
            continue
        reach = nx.node_connected_component(near.subgraph(set(crowded) - taken), seed)
        core = [seed]
        for area in sorted(reach - {seed}, key=lambda a: (shapes.geometry[a].distance(shapes.geometry[seed]), a)):
            x0, y0, x1, y1 = shapes.loc[[*core, area]].total_bounds
            if max(x1 - x0, y1 - y0) <= _INSET_MAX_SPAN * span:
                core.append(area)
        if len(core) >= 2:
            groups.append(sorted(core))
            taken.update(core)
        else:
            taken.add(seed)
    groups = sorted(groups, key=lambda g: (-len(g), g[0]))[:_MAX_INSETS]
    # Lettered north to south, as area ids are numbered, so that A is the same place on every
    # sheet (by size, the A4 and A3 sheets swapped Peterborough and Cambridge).
    groups.sort(key=lambda g: -shapes.loc[g].total_bounds[[1, 3]].mean())
    insets = []
    for letter, group in zip("ABCD", groups, strict=False):
        x0, y0, x1, y1 = shapes.loc[group].total_bounds
        insets.append(_Inset(letter, _place_name(plan, group), group, (x0, y0, x1, y1)))
    return insets, crowded


def _place_name(plan: Plan, areas: list[str]) -> str:
    """The district holding most of these areas' residents (or the first area id, without districts)."""
    units = plan.units[plan.units["area_id"].astype(str).isin(areas)]
    if "district_name" in units.columns and units["district_name"].astype(str).str.strip().any():
        by_district = units.groupby(units["district_name"].astype(str))["population"].sum()
        return str(by_district.idxmax())
    return areas[0]


def _open_insets(
    fig: Figure,
    insets: list[_Inset],
    rect: tuple[float, float, float, float],
    shapes: gpd.GeoDataFrame,
    districts: gpd.GeoDataFrame,
    colours: dict[str, str],
    plan: Plan,
    practices: gpd.GeoDataFrame | None,
    font: dict[str, float],
    scale: float,
) -> list[Axes]:
    """Draw the insets side by side in ``rect`` (figure fraction); each inset's extent becomes its view."""
    x, y, w, h = rect
    gap = 0.012
    each = (w - gap * (len(insets) - 1)) / max(len(insets), 1)
    axes = []
    for i, inset in enumerate(insets):
        ax = fig.add_axes((x + i * (each + gap), y, each, h - 0.03), gid=f"inset-{inset.letter}")
        _fit_extent(ax, inset.extent, pad=0.06)
        _draw_layers(ax, shapes, districts, colours, plan, practices, marker_size=14 * scale)
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        inset.extent = (x0, y0, x1, y1)
        ax.set_title(f"{inset.letter}  {inset.name}", fontsize=font["furniture"] + 1.5, loc="left", weight="bold")
        add_scale_bar(ax, fontsize=font["furniture"] - 0.5, below=True)
        axes.append(ax)
    return axes


def _label_insets(
    fig: Figure,
    insets: list[_Inset],
    axes: list[Axes],
    shapes: gpd.GeoDataFrame,
    font: dict[str, float],
    names: dict[str, str],
) -> list[MapLabel]:
    """Full labels for each inset's own areas; the other areas in view get their id where it fits."""
    labels: list[MapLabel] = []
    geoms = shapes.geometry.to_numpy()
    others = {area: np.delete(geoms, i) for i, area in enumerate(shapes.index)}
    for inset, ax in zip(insets, axes, strict=True):
        view = shapely.box(*inset.extent)
        batch = []
        for area in inset.areas:
            shape = shapes.geometry[area].intersection(view)
            batch.append(
                MapLabel(
                    key=f"{inset.letter}:{area}",
                    text=area_label(area, names.get(area), width=16),
                    key_text=f"{area} {names[area]}" if area in names else area,
                    anchor=_xy(label_anchor(shape)),
                    shape=shape,
                    ax=ax,
                    priority=2,
                    fontsize=font["area"],
                    style={"weight": "bold", "linespacing": 1.0},
                    others=others[area],
                )
            )
        for area in shapes.index[shapes.intersects(view)]:
            shape = shapes.geometry[area].intersection(view)
            if area in inset.areas or shape.area < 0.04 * view.area:
                continue
            batch.append(
                MapLabel(
                    key=f"{inset.letter}:{area}",
                    text=area,
                    anchor=_xy(label_anchor(shape)),
                    shape=shape,
                    ax=ax,
                    priority=0,
                    fontsize=font["area"] - 0.5,
                    optional=True,
                    style={"color": "#444444"},
                    others=others[area],
                )
            )
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        bars = [a.get_window_extent(renderer) for a in ax.artists if a.get_gid() == "scale-bar"]
        place_labels(batch, obstacles=bars)
        labels += batch
    return labels


def _draw_frame(ax: Axes, inset: _Inset, fontsize: float) -> MapLabel:
    """Outline the inset's extent on the main map; return the label with its letter (top-left, outside)."""
    x0, y0, x1, y1 = inset.extent
    ax.add_patch(
        Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=INK, linestyle="--", linewidth=0.8, zorder=7)
    )
    span = ax.get_xlim()[1] - ax.get_xlim()[0]
    pad = 0.012 * span
    return MapLabel(
        key=f"frame:{inset.letter}",
        text=inset.letter,
        key_text=f"inset {inset.letter}",
        anchor=(x0 - pad, y1 + pad),  # just outside the top-left corner
        shape=shapely.box(x0 - span, y0 - span, x1 + span, y1 + span),  # any room near the frame will do
        ax=ax,
        priority=3,
        fontsize=fontsize + 1,
        movable=False,
        optional=True,
        style={"weight": "bold"},
    )


# --------------------------------------------------------------------------- districts and title


def _district_labels(
    ax: Axes, districts: gpd.GeoDataFrame, area_labels: list[MapLabel], insets: list[_Inset], fontsize: float
) -> list[MapLabel]:
    """District names at a free spot inside each district (away from the area labels)."""
    if len(districts) < 2:
        return []
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    inverse = ax.transData.inverted()
    taken = []
    for lab in area_labels:
        if lab.artist is not None:
            ext = lab.artist.get_window_extent(renderer).expanded(1.3, 1.6)
            (x0, y0), (x1, y1) = inverse.transform([[ext.x0, ext.y0], [ext.x1, ext.y1]])
            taken.append(shapely.box(x0, y0, x1, y1))
    covered = shapely.union_all([shapely.box(*i.extent) for i in insets]) if insets else shapely.Polygon()
    blocked = shapely.union_all([*taken, covered]) if taken else covered
    labels = []
    for code, row in districts.iterrows():
        shape = row.geometry
        if shape.intersection(covered).area > 0.5 * shape.area:
            continue  # the inset's title names it
        free = shape.difference(blocked)
        if free.is_empty:
            continue
        labels.append(
            MapLabel(
                key=f"district:{code}",
                text=str(row["name"]).upper(),
                key_text=f"district: {row['name']}",
                anchor=_xy(label_anchor(free)),
                shape=free,
                ax=ax,
                priority=1,
                fontsize=fontsize,
                movable=False,
                optional=True,
                style={"color": "#555555", "style": "italic"},
            )
        )
    return labels


def _add_title(fig: Figure, plan: Plan, shapes: gpd.GeoDataFrame, x: float, y: float, font: dict[str, float]) -> None:
    """Title (how many areas) and, under it, the plan in one or two lines: people, band, PCN
    alignment, nesting; then which config, seed and date made it."""
    total = int(np.asarray(plan.units["population"], dtype=np.int64).sum())
    band = plan.config.areas
    facts = [
        f"{show_whole(total)} residents",
        f"{show_whole(band.min_population)}-{show_whole(band.max_population)} residents per area",
    ]
    if "coterminosity" in plan.scores and np.isfinite(plan.scores["coterminosity"]):
        facts.append(
            f"{show_percent(plan.scores['coterminosity'], 1)} of residents live in an area whose main PCN is their own"
        )
    facts.append("every area inside one district" if plan.config.rules.nest_in else "areas may cross districts")
    source = plan.provenance.get("config_file")
    run = [f"config {source}" if source else "", f"seed {plan.provenance['seed']}" if "seed" in plan.provenance else ""]
    run_at = str(plan.provenance.get("run_at", ""))[:10]
    made = ", ".join(p for p in [*run, run_at] if p)
    width_in = fig.get_size_inches()[0] * (1 - 2 * x)
    chars = int(width_in * 72 / (0.55 * font["subtitle"]))  # average glyph about 0.55 em wide
    lines = textwrap.wrap(" · ".join(facts), width=chars) + ([f"Made with {made}."] if made else [])
    fig.text(
        x,
        y,
        f"Proposed service delivery areas: {len(shapes)} areas",
        fontsize=font["title"],
        weight="bold",
        va="top",
        gid="title",
    )
    below = (font["title"] * 1.45) / 72 / fig.get_size_inches()[1]
    fig.text(x, y - below, "\n".join(lines), fontsize=font["subtitle"], va="top", color="#333333", gid="subtitle")
