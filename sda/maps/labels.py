"""Labels that never collide: fit inside the feature, else move with a leader line, else number.

Placement runs in three steps on a drawn figure:

1. Every label starts at its feature's pole of inaccessibility. A label whose text box lies
   inside its feature stays there.
2. The rest are moved by ``adjustText`` (a maintained library), pushed away from each other
   and from the fixed labels, and joined to their anchor by a leader line.
3. ``adjustText`` minimises overlaps but cannot promise none, so a last deterministic pass
   measures every label's rendered box and, for each pair that still overlaps (or a label
   that leaves its map or covers the scale bar), demotes the less important one, one step at
   a time: a full label shrinks to its id at its anchor (the name goes in the map key), then to
   a number in the key, and a number that still collides is left off and listed in the key.

After ``settle_labels`` no two visible labels of a figure overlap, which ``label_overlaps``
checks from the renderer's own text extents.

A plan with too many areas to label readably (``sda.maps.layers.MAX_LABELLED_AREAS``) skips
steps 2 and 3: ``place_fitting_labels`` keeps a label only where its whole box lies inside its
feature, inside the axes and off the obstacles, and hides the rest. Features do not overlap, so
neither do the labels kept, and the cost grows linearly with the number of labels.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
_LEADER_INK = "#333333"


@dataclass
class MapLabel:
    """One label on one map axes.

    ``priority``: higher wins a collision. ``key_text`` is what the map key says for it when
    the label is numbered (defaults to the text on one line). An ``optional`` label (context,
    such as a district name) is simply left off when it does not fit or collides, and never
    enters the key.
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
    for label in labels:
        assert label.artist is not None
        box = _data_box(label.artist.get_window_extent(renderer), inverse)
        inside = box.intersection(label.shape).area / box.area if box.area else 0.0
        if inside >= fit_share:
            fixed.append(label)
        elif label.optional:
            label.state = "hidden"
            label.artist.set_visible(False)
        else:
            (moving if label.movable else fixed).append(label)
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
    """Demote labels until no two visible ones overlap, none covers an obstacle, and each lies inside its axes.

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
    for _ in range(4 * len(labels) + 1):
        blocked = [artist.get_window_extent(renderer) for artist in obstacles]
        clash = _first_clash(labels, renderer, blocked)
        if clash is None:
            break
        _demote(clash, numbers, number)
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


def _first_clash(labels: Sequence[MapLabel], renderer: Any, blocked: Sequence[Bbox]) -> MapLabel | None:
    """The label to demote next: one outside its axes or on an obstacle, or the loser of the first overlapping pair."""
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
    for a, b in itertools.combinations(shown, 2):
        if _overlap(boxes[id(a)], boxes[id(b)]):
            # The lower priority loses; between equals, a moved or longer label gives way first.
            return min((a, b), key=lambda lab: (lab.priority, -len(lab.text), lab.key))
    return None


def _demote(label: MapLabel, numbers: dict[str, str], counter: Any) -> None:
    """One step down: full -> id only (when it has a name) -> number -> hidden; optional labels hide at once."""
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
        return
    numbers[label.key] = str(next(counter))
    label.state = "number"
    label.artist.set_text(numbers[label.key])
    label.artist.set_fontsize(max(label.fontsize - 1, 5))


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
