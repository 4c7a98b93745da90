"""The re-run map: which units moved since the previous plan (``sda.rerun``).

A re-run moves few units, and usually in one town: on the county map they are a few red specks
under crowded labels. So when the moved units sit in a small part of the plan, a close-up beside
the county map shows them with their areas named and, for a handful, the move itself
("SDA-02 → SDA-04"); the county map marks the close-up's frame. When they are spread out (or
the plan is small, such as a re-run of one district), the one map writes each of a handful of
moves on its unit, and the areas' ids where they cover no move.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import networkx as nx
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox

from sda.formatting import counted
from sda.maps.layers import (
    area_label,
    area_names,
    area_shapes,
    label_anchor,
    outline_collection,
    png_bytes,
    polygon_collection,
)
from sda.plan import Plan

_DPI = 110
_MOVED = "#d7301f"
#: A close-up is drawn when the moved units' frame spans at most this share of the plan's
#: width and of its height: beyond it the county map shows them well enough.
CLOSE_UP_SHARE = 0.35
#: The moves are written on the map when there are at most this many groups of units that moved
#: together (``move_groups``).
MAX_MOVE_LABELS = 12
_HALO = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}


def moved_codes(plan: Plan) -> list[str]:
    """Codes of the units a re-run moved (``Plan.moved_units``) that are in the plan."""
    return [str(m["unit_code"]) for m in plan.moved_units if str(m.get("unit_code")) in plan.units.index]


def close_up_frame(plan: Plan, codes: list[str]) -> tuple[float, float, float, float] | None:
    """The close-up's frame (xmin, ymin, xmax, ymax) around the moved units, square and padded;
    None when they spread over more than ``CLOSE_UP_SHARE`` of the plan either way."""
    x0, y0, x1, y1 = plan.units.total_bounds
    u0, v0, u1, v1 = plan.units.loc[codes].total_bounds
    if (u1 - u0) > CLOSE_UP_SHARE * (x1 - x0) or (v1 - v0) > CLOSE_UP_SHARE * (y1 - y0):
        return None
    # At least 4% of the plan across (2.5 km of the county), so that one small unit in a city
    # shows the streets' units around it.
    side = max(u1 - u0, v1 - v0, 0.04 * max(x1 - x0, y1 - y0)) * 1.3
    cx, cy = (u0 + u1) / 2, (v0 + v1) / 2
    return cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2


def draw_moved_units(plan: Plan) -> Figure | None:
    """The changes map: the plan's areas in grey with the moved units in red, and a close-up of
    them when they are close together (``close_up_frame``); None when nobody moved."""
    codes = moved_codes(plan)
    if not codes:
        return None
    frame = close_up_frame(plan, codes)
    title = f"{counted(len(codes), 'unit')} moved since the previous plan (red)"
    if frame is None:
        fig = Figure(figsize=(8.0, 8.5), dpi=_DPI, layout="constrained")
        ax = fig.add_subplot()
        _draw_areas(ax, plan, codes)
        fig.suptitle(title)
        _write_ids(ax, plan, _write_moves(ax, plan, codes))
        return fig
    fig = Figure(figsize=(13.0, 7.0), dpi=_DPI, layout="constrained")
    county, close = fig.subplots(1, 2, width_ratios=[1.0, 1.15])
    _draw_areas(county, plan, codes)
    x0, y0, x1, y1 = frame
    county.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, linestyle="--", linewidth=1.0))
    county.set_title("The whole plan; dashed: the close-up", fontsize=9)
    fig.suptitle(title)
    _draw_close_up(close, plan, codes, frame)
    _write_ids(county, plan, [])
    return fig


def plot_moved_units(plan: Plan) -> bytes | None:
    """``draw_moved_units`` as PNG bytes; None when nobody moved or the plan is not a re-run."""
    fig = draw_moved_units(plan)
    return None if fig is None else png_bytes(fig)


def _draw_areas(ax: Axes, plan: Plan, codes: list[str], *, close_up: bool = False) -> None:
    """Areas in light grey, the moved units in red, area outlines on top; in a close-up the units'
    outlines too. The labels come after, once the figure is laid out."""
    areas = area_shapes(plan)
    ax.add_collection(polygon_collection(areas.geometry, facecolor="#f2f2f2", edgecolor="none"))
    ax.add_collection(polygon_collection(plan.units.loc[codes].geometry, facecolor=_MOVED, edgecolor="none"))
    if close_up:
        ax.add_collection(outline_collection(plan.units.geometry, color="#b0b0b0", linewidth=0.3))
        # White between moved units side by side, so that each move's label has a unit to point at.
        ax.add_collection(outline_collection(plan.units.loc[codes].geometry, color="white", linewidth=0.9))
    ax.add_collection(outline_collection(areas.geometry, color="#1a1a1a", linewidth=0.8))
    ax.autoscale_view()
    ax.set_axis_off()
    ax.set_aspect("equal")


def _draw_close_up(ax: Axes, plan: Plan, codes: list[str], frame: tuple[float, float, float, float]) -> None:
    """The moved units up close: units outlined, each move written beside its units when there are
    few (``_write_moves``), and each area in view named at the middle of its part in view where
    that covers no other label (the moves are placed first: they are what the map is for)."""
    _draw_areas(ax, plan, codes, close_up=True)
    x0, y0, x1, y1 = frame
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    few = len(move_groups(plan, codes)) <= MAX_MOVE_LABELS
    ax.set_title(
        "Close-up: the moved units with their previous and new area" if few else "Close-up of the moved units",
        fontsize=9,
    )
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, linestyle="--", linewidth=1.0))
    taken = _write_moves(ax, plan, codes)
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    view = shapely.box(x0, y0, x1, y1)
    names = area_names(plan)
    clear = _moved_points(ax, plan, codes)
    for area, shape in area_shapes(plan).geometry.items():
        seen = shape.intersection(view)
        if seen.is_empty or seen.area < 0.01 * view.area:
            continue
        full = area_label(str(area), names.get(str(area)), width=16)
        tries = [(full, _MIDDLE), (full, _MIDDLE_UP), (full, _MIDDLE_DOWN), (str(area), _MIDDLE)]
        _place(ax, tries, label_anchor(seen), {"fontsize": 8}, renderer, taken, clear=clear)


def _write_moves(ax: Axes, plan: Plan, codes: list[str]) -> list[Bbox]:
    """Lay the figure out and write each group of units that moved together beside it ("SDA-03 →
    SDA-02", "SDA-05 → SDA-07 (5 units)"), joined to it by a line, none on another label or on a
    moved unit, when there are at most ``MAX_MOVE_LABELS`` groups; the boxes the labels take, for
    the area labels placed after them (the moves are what the map is for).

    Beside a tiny unit, a label without a line, or one over the next moved unit, is read as that
    unit's move: on a city's side-by-side moves the wrong unit was named."""
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # lays the figure out, so that label boxes are where they will be drawn
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    taken: list[Bbox] = []
    groups = move_groups(plan, codes)
    if len(groups) > MAX_MOVE_LABELS:
        return taken
    clear = _moved_points(ax, plan, codes)
    leader = {"arrowstyle": "-", "color": _MOVED, "linewidth": 0.9, "shrinkA": 0, "shrinkB": 0}
    for (origin, destination), group in groups:
        point = label_anchor(shapely.union_all(plan.units.geometry.loc[group].to_numpy()))
        text = f"{origin} → {destination}" + (f" ({len(group)} units)" if len(group) > 1 else "")
        style = {"fontsize": 8.5, "color": _MOVED, "fontweight": "bold", "arrowprops": leader}
        # Where no side is free, below all the same: a move is never left unwritten.
        _place(ax, [(text, side) for side in _MOVE_SIDES], point, style, renderer, taken, clear=clear, always=True)
    return taken


def _moved_points(ax: Axes, plan: Plan, codes: list[str]) -> list[tuple[float, float]]:
    """Each moved unit's inmost point on the canvas (the figure laid out): no label may cover one,
    or its red would be hidden, or read as the covering label's move."""
    points = [label_anchor(shape) for shape in plan.units.geometry.loc[codes]]
    return [(float(x), float(y)) for x, y in ax.transData.transform([(p.x, p.y) for p in points])]


def move_groups(plan: Plan, codes: list[str]) -> list[tuple[tuple[str, str], list[str]]]:
    """The moved units in groups that moved together: the same previous and new area, and
    neighbours (a connected run of the plan's graph). Each group is written once, as the eye
    sees it: side by side in one red patch, five units from SDA-05 to SDA-07 are one move."""
    by_move: dict[tuple[str, str], list[str]] = {}
    for m in plan.moved_units:
        if str(m.get("unit_code")) in codes:
            by_move.setdefault((str(m["from_area"]), str(m["to_area"])), []).append(str(m["unit_code"]))
    groups = []
    for move, members in by_move.items():
        for part in nx.connected_components(plan.graph.subgraph(members)):
            groups.append((move, [c for c in members if c in part]))
    return groups


def _write_ids(ax: Axes, plan: Plan, taken: list[Bbox]) -> None:
    """Each area's id on the whole plan's map (laid out already), at a point inside it or a line
    above or below, where it covers no label in ``taken`` (the moves, and the ids placed before)
    nor a moved unit: in a dense city some are left off rather than printed one over another."""
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    areas = area_shapes(plan)
    clear = _moved_points(ax, plan, moved_codes(plan))
    for area, point in zip(areas.index, areas.geometry.representative_point(), strict=True):
        tries = [(str(area), side) for side in (_MIDDLE, _MIDDLE_UP, _MIDDLE_DOWN)]
        _place(ax, tries, point, {"fontsize": 6, "color": "#404040"}, renderer, taken, clear=clear)


_Side = tuple[float, float, Literal["left", "center", "right"], Literal["top", "center", "bottom"]]
#: Where a move's label may go, in points from its unit's middle: below, above, right, left, then
#: farther out and on the diagonals (the line joins it to its unit).
_MOVE_SIDES: tuple[_Side, ...] = tuple(
    side
    for d in (12, 30, 50)
    for side in (
        (0, -d, "center", "top"),
        (0, d, "center", "bottom"),
        (d, 0, "left", "center"),
        (-d, 0, "right", "center"),
        (d, -d, "left", "top"),
        (-d, -d, "right", "top"),
        (d, d, "left", "bottom"),
        (-d, d, "right", "bottom"),
    )
    if d > 12 or side[0] == 0 or side[1] == 0
)
#: Where an area's name may go: at the middle of its part in view, or a line above or below.
_MIDDLE: _Side = (0, 0, "center", "center")
_MIDDLE_UP: _Side = (0, 24, "center", "center")
_MIDDLE_DOWN: _Side = (0, -24, "center", "center")


def _place(
    ax: Axes,
    tries: list[tuple[str, _Side]],
    point: shapely.Point,
    style: dict[str, Any],
    renderer: Any,
    taken: list[Bbox],
    *,
    clear: Sequence[tuple[float, float]] = (),
    always: bool = False,
) -> None:
    """Write the first of ``tries`` (text, side) that covers none of the boxes ``taken`` nor the
    canvas points ``clear`` and stays inside the axes, and take its box; with none, the first when
    ``always``, else nothing."""
    label = ax.annotate("", (point.x, point.y), xytext=(0, 0), textcoords="offset points", bbox=_HALO, **style)
    label.set_in_layout(False)
    inside = ax.get_window_extent(renderer)
    for text, side in tries:
        box = _put(label, text, side, renderer)
        free = not any(box.overlaps(other) for other in taken) and not any(box.contains(x, y) for x, y in clear)
        if free and _contains(inside, box):
            taken.append(box)
            return
    if always:
        taken.append(_put(label, *tries[0], renderer))
    else:
        label.remove()


def _put(label: Annotation, text: str, side: _Side, renderer: Any) -> Bbox:
    """Set ``label``'s text and side; its text's box on the canvas (without the line to its unit)."""
    dx, dy, ha, va = side
    label.set_text(text)
    label.xyann = (dx, dy)
    label.set_horizontalalignment(ha)
    label.set_verticalalignment(va)
    label.update_positions(renderer)
    return Text.get_window_extent(label, renderer)


def _contains(outer: Bbox, inner: Bbox) -> bool:
    return outer.x0 <= inner.x0 and outer.y0 <= inner.y0 and inner.x1 <= outer.x1 and inner.y1 <= outer.y1
