"""Labels that never collide: fit inside the feature, else move with a leader line, else number.

Placement runs in three steps on a drawn figure:

1. Every label starts at its feature's pole of inaccessibility. A label whose text box lies
   inside its feature stays there; one that does not is moved to the spot nearest the pole
   where its whole box lies inside its feature, clear of the labels already placed, if any,
   its name wrapped narrower if that is what fits.
2. The rest are moved by ``adjustText`` (a maintained library), pushed away from each other
   and from the fixed labels, and joined to their anchor by a leader line.
3. ``adjustText`` minimises overlaps but cannot promise none, so a last deterministic pass
   measures every label's rendered box and, for each pair that still overlaps (or a label
   that leaves its map, covers the scale bar, or lies on the features it is not about, its
   ``others``), demotes the less important one, one step at a time: a full label shrinks to
   its id inside its feature (the name goes in the map key), then to a number in the key, and
   a number that still collides is left off and listed in the key.

After ``settle_labels`` no two visible labels of a figure overlap, which ``label_overlaps``
checks from the renderer's own text extents, and no label lies on a feature it does not name
(moved onto a neighbouring area, a short leader line did not stop it reading as that area's).

A plan with too many areas to label readably (``sda.maps.layers.MAX_LABELLED_AREAS``) skips
steps 2 and 3: ``place_fitting_labels`` keeps a label only where its whole box lies inside its
feature, inside the axes and off the obstacles, and hides the rest. Features do not overlap, so
neither do the labels kept, and the cost grows linearly with the number of labels.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
import shapely.ops
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patheffects import withStroke
from matplotlib.text import Text
from matplotlib.transforms import Bbox

__all__ = [
    "MapLabel",
    "label_boxes",
    "label_overlaps",
    "place_fitting_labels",
    "place_labels",
    "settle_labels",
    "unwrap",
]

#: ``gid`` prefix of every label text, so checks find them among the figure's artists.
LABEL_GID = "label"
_HALO = [withStroke(linewidth=2.2, foreground="white")]
#: Share of a label's box that may lie on its ``others`` whatever lies on its own feature (a
#: label moved off the map's features, joined by a leader, may touch one).
_STRAY_SHARE = 0.05
#: Most candidate spots tried when looking inside a feature for room for its label.
_MAX_SPOTS = 4000
_LEADER_INK = "#333333"


@dataclass
class MapLabel:
    """One label on one map axes.

    ``priority``: higher wins a collision. ``key_text`` is what the map key says for it when
    the label is numbered (defaults to the text on one line). An ``optional`` label (context,
    such as a district name) is simply left off when it does not fit or collides, and never
    enters the key. ``others`` are the features the label is not about (the other areas): a
    label lying on them would be read as theirs, so ``settle_labels`` demotes it.
    """

    key: str
    text: str
    anchor: tuple[float, float]
    shape: Any
    ax: Axes
    priority: int = 1
    fontsize: float = 7.0
    style: dict[str, Any] = field(default_factory=dict)
    movable: bool = True
    optional: bool = False
    key_text: str = ""
    others: Any = ()  # a sequence or array of geometries
    artist: Text | None = None
    leader: list[Any] = field(default_factory=list)
    state: str = "full"  # "full", "short" (first line only), "number" or "hidden"


def place_fitting_labels(labels: Sequence[MapLabel], *, obstacles: Sequence[Bbox] = ()) -> None:
    """Draw ``labels`` at their anchors and hide each one that does not lie wholly inside its feature.

    A label is also hidden when it leaves its axes or touches one of ``obstacles`` (display
    pixels). No label moves, so there are no leader lines; hidden labels get ``state="hidden"``.
    All labels must be on the same axes, whose limits are final, and their shapes must not
    overlap (areas of one plan), so the labels kept never overlap each other.
    """
    if not labels:
        return
    ax = labels[0].ax
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    inverse = ax.transData.inverted()
    frame = ax.get_window_extent(renderer)
    for label in labels:
        label.artist = _draw_at_anchor(ax, label)
        extent = label.artist.get_window_extent(renderer)
        fits = (
            extent.x0 >= frame.x0
            and extent.x1 <= frame.x1
            and extent.y0 >= frame.y0
            and extent.y1 <= frame.y1
            and not any(_overlap(extent, box) for box in obstacles)
            and label.shape.contains(_data_box(extent, inverse))
        )
        if not fits:
            label.state = "hidden"
            label.artist.set_visible(False)


def place_labels(labels: Sequence[MapLabel], *, obstacles: Sequence[Bbox] = (), fit_share: float = 0.97) -> None:
    """Draw ``labels`` at their anchors; move those that do not fit their feature with adjustText.

    All labels must be on the same axes, whose limits are final. ``obstacles`` are boxes
    (display pixels) that moved labels keep away from, such as the scale bar.
    """
    if not labels:
        return
    ax = labels[0].ax
    fig = ax.figure
    for label in labels:
        label.artist = _draw_at_anchor(ax, label)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    inverse = ax.transData.inverted()
    moving: list[MapLabel] = []
    fixed: list[MapLabel] = []
    misfits: list[MapLabel] = []
    for label in labels:
        assert label.artist is not None
        box = _data_box(label.artist.get_window_extent(renderer), inverse)
        inside = box.intersection(label.shape).area / box.area if box.area else 0.0
        if inside >= fit_share:
            fixed.append(label)
        elif label.movable:
            misfits.append(label)
        elif label.optional:
            label.state = "hidden"
            label.artist.set_visible(False)
        else:
            fixed.append(label)
    taken = [lab.artist.get_window_extent(renderer) for lab in fixed if lab.artist] + list(obstacles)
    for label in sorted(misfits, key=lambda lab: (-lab.priority, lab.key)):
        assert label.artist is not None
        if _move_inside(label, renderer, taken) or _rewrap_inside(label, renderer, taken):
            fixed.append(label)
            taken.append(label.artist.get_window_extent(renderer))
        elif label.optional:
            label.state = "hidden"
            label.artist.set_visible(False)
        else:
            moving.append(label)
    moving.sort(key=lambda lab: labels.index(lab))  # adjustText in the callers' order, as before
    moving = [label for label in moving if _fits_its_axes(label, renderer)]
    if not moving:
        return
    from adjustText import adjust_text  # imported here: it loads pyplot, which only maps need

    avoid = [lab.artist.get_window_extent(renderer).expanded(1.05, 1.15) for lab in fixed if lab.artist]
    avoid += list(obstacles)
    texts = [lab.artist for lab in moving if lab.artist is not None]
    adjust_text(
        texts,
        objects=avoid or None,
        ax=ax,
        ensure_inside_axes=True,
        expand=(1.15, 1.35),
        force_text=(0.3, 0.5),
        force_static=(0.3, 0.5),
        force_pull=(0.005, 0.005),
        iter_lim=400,
    )
    for label in moving:
        _draw_leader(label, renderer)


def settle_labels(fig: Figure, labels: Sequence[MapLabel], obstacles: Sequence[Any] = ()) -> list[tuple[str, str]]:
    """Demote labels until no two visible ones overlap, none covers an obstacle or its
    ``others``, and each lies inside its axes.

    ``obstacles`` are artists labels must not cover (scale bars, north arrows).

    Returns
    -------
    list of (str, str)
        The map key for demoted labels: ``(id, name)`` for labels shortened to their id,
        ``(number, text)`` for numbered ones, ``("-", text)`` for those left off the map.
    """
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    number = itertools.count(1)
    numbers: dict[str, str] = {}
    strays: dict[tuple[int, str, tuple[float, ...]], bool] = {}  # a label's stray test, by text and spot
    for _ in range(4 * len(labels) + 1):
        blocked = [artist.get_window_extent(renderer) for artist in obstacles]
        clash = _first_clash(labels, renderer, blocked, strays)
        if clash is None:
            break
        _demote(clash, numbers, number, renderer, [*blocked, *_boxes_except(labels, clash, renderer)])
    shortened = [lab for lab in labels if lab.state == "short"]
    key = [(lab.text.partition("\n")[0], unwrap(lab.text.partition("\n")[2])) for lab in shortened]
    numbered = sorted((lab for lab in labels if lab.key in numbers), key=lambda lab: int(numbers[lab.key]))
    key += [(numbers[lab.key], lab.key_text or unwrap(lab.text)) for lab in numbered]
    hidden = [lab for lab in labels if lab.state == "hidden" and not lab.optional]
    key += [("-", (lab.key_text or unwrap(lab.text)) + " (not labelled: no room)") for lab in hidden]
    return key


def unwrap(text: str) -> str:
    """Join a label wrapped over lines back into one line; a line broken after a hyphen
    ("Holywell-cum-" / "Needingworth") joins without a space."""
    lines = [line.strip() for line in text.split("\n")]
    out = lines[0] if lines else ""
    for line in lines[1:]:
        out += line if out.endswith("-") else " " + line
    return out


def label_boxes(fig: Figure) -> dict[str, Bbox]:
    """The rendered box (display pixels) of every visible label in a drawn figure, by ``gid``."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = {}
    for text in fig.findobj(Text):
        gid = text.get_gid() or ""
        if gid.startswith(LABEL_GID + ":") and text.get_visible() and text.get_text():
            boxes[gid] = text.get_window_extent(renderer)
    return boxes


def label_overlaps(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of visible labels whose rendered boxes overlap (an empty list on a good map)."""
    boxes = sorted(label_boxes(fig).items())
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if _overlap(box_a, box_b)]


# --------------------------------------------------------------------------- helpers


def _data_box(extent: Bbox, inverse: Any) -> shapely.Polygon:
    (x0, y0), (x1, y1) = inverse.transform([[extent.x0, extent.y0], [extent.x1, extent.y1]])
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _move_inside(label: MapLabel, renderer: Any, taken: Sequence[Bbox], *, keep_if_fits: bool = False) -> bool:
    """Put ``label`` at the spot nearest its anchor where its whole box lies inside its feature
    and its axes, clear of ``taken`` (display boxes); ``False``, and left where it was, if none.

    Spots are a grid over the feature at a quarter of the label's height (coarser on a big
    feature, at most ``_MAX_SPOTS``), tested all at once. With ``keep_if_fits``, a label whose
    box already lies inside its feature stays put.
    """
    assert label.artist is not None
    ax = label.ax
    inverse = ax.transData.inverted()
    extent = label.artist.get_window_extent(renderer)
    box = _data_box(extent, inverse)
    if keep_if_fits and label.shape.contains(box) and not any(_overlap(extent, other) for other in taken):
        return True
    x0, y0, x1, y1 = box.bounds
    half_w, half_h = (x1 - x0) / 2, (y1 - y0) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2  # the text's centre (its position is centred)
    sx0, sy0, sx1, sy1 = label.shape.bounds
    (vx0, vx1), (vy0, vy1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    left, right = max(sx0, vx0) + half_w, min(sx1, vx1) - half_w
    bottom, top = max(sy0, vy0) + half_h, min(sy1, vy1) - half_h
    if left > right or bottom > top:
        return False
    step = max(half_h / 2, ((right - left) * (top - bottom) / _MAX_SPOTS) ** 0.5, 1e-9)
    grid_x, grid_y = np.meshgrid(np.arange(left, right + step / 2, step), np.arange(bottom, top + step / 2, step))
    xs, ys = grid_x.ravel(), grid_y.ravel()
    shapely.prepare(label.shape)
    near = shapely.contains_xy(label.shape, xs, ys)
    xs, ys = xs[near], ys[near]
    if not len(xs):
        return False
    ok = shapely.contains(label.shape, shapely.box(xs - half_w, ys - half_h, xs + half_w, ys + half_h))
    for other in taken:
        (ox0, oy0), (ox1, oy1) = inverse.transform([[other.x0, other.y0], [other.x1, other.y1]])
        ox0, ox1, oy0, oy1 = min(ox0, ox1), max(ox0, ox1), min(oy0, oy1), max(oy0, oy1)
        ok &= ~((xs - half_w < ox1) & (ox0 < xs + half_w) & (ys - half_h < oy1) & (oy0 < ys + half_h))
    if not ok.any():
        return False
    ax_, ay_ = label.anchor
    best = int(np.argmin(np.where(ok, (xs - ax_) ** 2 + (ys - ay_) ** 2, np.inf)))
    px, py = label.artist.get_position()
    label.artist.set_position((px + xs[best] - cx, py + ys[best] - cy))
    return True


def _rewrap_inside(label: MapLabel, renderer: Any, taken: Sequence[Bbox]) -> bool:
    """Try ``label``'s name wrapped narrower (taller), each with ``_move_inside``; keep the first
    that fits (``label.text`` becomes it), or restore the text and return ``False``."""
    assert label.artist is not None
    first, _, rest = label.text.partition("\n")
    if not rest:
        return False
    name = unwrap(rest)
    widest = max(len(line) for line in rest.split("\n"))
    longest_word = max(len(word) for word in name.split())
    tried = {rest}
    for width in sorted({max(longest_word, round(widest * f), 6) for f in (0.75, 0.5)}, reverse=True):
        lines = "\n".join(textwrap.wrap(name, width=width, break_long_words=False))
        if lines in tried:
            continue
        tried.add(lines)
        label.artist.set_text(f"{first}\n{lines}")
        if _move_inside(label, renderer, taken):
            label.text = label.artist.get_text()
            return True
    label.artist.set_text(label.text)
    return False


def _strays(label: MapLabel, extent: Bbox) -> bool:
    """Whether ``label``'s rendered box (``extent``, display pixels) would be read as naming one
    of its ``others``: more of it lies on them than on its own feature (and over ``_STRAY_SHARE``)."""
    box = _data_box(extent, label.ax.transData.inverted())
    if not box.area:
        return False
    others = np.asarray(label.others, dtype=object)
    hit = others[shapely.intersects(box, others)]
    if not len(hit):
        return False
    on_others = float(shapely.area(shapely.intersection(box, hit)).sum()) / box.area
    return on_others > max(_STRAY_SHARE, box.intersection(label.shape).area / box.area)


def _boxes_except(labels: Sequence[MapLabel], label: MapLabel, renderer: Any) -> list[Bbox]:
    """The rendered boxes of the visible labels on ``label``'s axes, other than ``label``."""
    return [
        lab.artist.get_window_extent(renderer)
        for lab in _visible(labels)
        if lab is not label and lab.ax is label.ax and lab.artist is not None
    ]


def _fits_its_axes(label: MapLabel, renderer: Any) -> bool:
    """Whether ``label`` is no wider and no taller than its axes, shortened to its id first if not.

    No move puts a bigger label inside its map, and adjustText, asked to, logs "Some labels are
    too long" at every step: a warning line each time without ``--quiet`` (the CLI shows library
    log records as warnings). A label still too big stays at its anchor for ``settle_labels`` to
    number.
    """
    assert label.artist is not None
    frame = label.ax.get_window_extent(renderer)

    def fits() -> bool:
        assert label.artist is not None
        box = label.artist.get_window_extent(renderer)
        return box.width <= frame.width and box.height <= frame.height

    if fits():
        return True
    first_line, _, name = label.text.partition("\n")
    if not name:
        return False
    label.state = "short"  # as settle_labels shortens a label: the map key gives the name
    label.artist.set_text(first_line)
    return fits()


def _draw_leader(label: MapLabel, renderer: Any) -> None:
    """A line from the anchor to the nearest edge of the moved label, when it left its feature."""
    assert label.artist is not None
    ax = label.ax
    box = _data_box(label.artist.get_window_extent(renderer), ax.transData.inverted())
    anchor = shapely.Point(label.anchor)
    if box.buffer(box.length * 0.02).contains(anchor):
        return
    near = shapely.ops.nearest_points(box, anchor)[0]
    line = Line2D(
        [anchor.x, near.x], [anchor.y, near.y], color=_LEADER_INK, linewidth=0.6, zorder=5, gid=f"leader:{label.key}"
    )
    dot = Line2D([anchor.x], [anchor.y], marker="o", markersize=2.0, color=_LEADER_INK, zorder=5)
    ax.add_line(line)
    ax.add_line(dot)
    label.leader = [line, dot]


def _overlap(a: Bbox, b: Bbox) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _visible(labels: Iterable[MapLabel]) -> list[MapLabel]:
    return [lab for lab in labels if lab.artist is not None and lab.state != "hidden"]


def _first_clash(
    labels: Sequence[MapLabel],
    renderer: Any,
    blocked: Sequence[Bbox],
    strays: dict[tuple[int, str, tuple[float, ...]], bool],
) -> MapLabel | None:
    """The label to demote next: one outside its axes, on an obstacle or on its ``others``, or
    the loser of the first overlapping pair. ``strays`` caches the test on ``others``."""
    shown = _visible(labels)
    boxes = {id(lab): lab.artist.get_window_extent(renderer) for lab in shown if lab.artist is not None}
    for lab in sorted(shown, key=lambda lab: (lab.priority, lab.key)):
        if any(_overlap(boxes[id(lab)], box) for box in blocked):
            return lab
    for lab in shown:
        frame = lab.ax.get_window_extent(renderer)
        box = boxes[id(lab)]
        if box.x0 < frame.x0 - 0.5 or box.x1 > frame.x1 + 0.5 or box.y0 < frame.y0 - 0.5 or box.y1 > frame.y1 + 0.5:
            return lab
    for lab in shown:
        if not len(lab.others):
            continue
        assert lab.artist is not None
        seen = (id(lab), lab.artist.get_text(), tuple(lab.artist.get_position()))
        if seen not in strays:
            strays[seen] = _strays(lab, boxes[id(lab)])
        if strays[seen]:
            return lab
    for a, b in itertools.combinations(shown, 2):
        if _overlap(boxes[id(a)], boxes[id(b)]):
            # The lower priority loses; between equals, a moved or longer label gives way first.
            return min((a, b), key=lambda lab: (lab.priority, -len(lab.text), lab.key))
    return None


def _demote(label: MapLabel, numbers: dict[str, str], counter: Any, renderer: Any, taken: Sequence[Bbox]) -> None:
    """One step down: full -> id only (when it has a name) -> number -> hidden; optional labels
    hide at once. A shortened label goes back to its anchor, or to the spot nearest it where it
    fits inside its feature clear of ``taken`` (display boxes), when the anchor has no room."""
    assert label.artist is not None
    for artist in label.leader:
        artist.remove()
    label.leader = []
    first_line, _, rest = label.text.partition("\n")
    if label.optional or label.state == "number":
        label.state = "hidden"
        label.artist.set_visible(False)
        numbers.pop(label.key, None)
        return
    label.artist.set_position(label.anchor)
    if label.state == "full" and rest:
        label.state = "short"
        label.artist.set_text(first_line)
    else:
        numbers[label.key] = str(next(counter))
        label.state = "number"
        label.artist.set_text(numbers[label.key])
        label.artist.set_fontsize(max(label.fontsize - 1, 5))
    if label.movable:
        _move_inside(label, renderer, taken, keep_if_fits=True)


def _draw_at_anchor(ax: Any, label: MapLabel) -> Any:
    """The label's text artist at its anchor, centred, with the halo every map label has."""
    return ax.text(
        *label.anchor,
        label.text,
        ha="center",
        va="center",
        fontsize=label.fontsize,
        path_effects=_HALO,
        gid=f"{LABEL_GID}:{label.key}",
        zorder=6,
        **label.style,
    )
