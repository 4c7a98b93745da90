"""Cartographic furniture: scale bar, north arrow, attribution, legend and title.

Each helper adds its artists to a figure or axes and tags them with a ``gid`` (``scale-bar``,
``north-arrow``, ``attribution``, ``legend``, ``title``), so tests and later edits can find
them. Maps are drawn in British National Grid metres, so a scale bar is a length in data units.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from sda.plan import Plan

__all__ = [
    "SHIPPED_FILES",
    "add_attribution",
    "add_legend",
    "add_north_arrow",
    "add_scale_bar",
    "attribution_lines",
]

_ONS = "Source: Office for National Statistics licensed under the Open Government Licence v.3.0."
_LSOA_LINES = (
    "GeoJSON and TopoJSON UK Boundary Data by Martin Chorley (CC BY 4.0).",
    "Contains Ordnance Survey data © Crown copyright and database right 2014.",
    _ONS,
)
_PRACTICE_LINES = (
    "Contains information from NHS England, licensed under the current version of the Open Government Licence.",
    _ONS,
    "Practice locations: contains OS data © Crown copyright and database right 2025; "
    "contains Royal Mail data © Royal Mail copyright and database right 2025.",
)

#: Each shipped file's attribution, as ``boundaries/README.md`` gives it under the file.
SHIPPED_FILES: dict[str, tuple[str, ...]] = {
    "lsoa2011_cambs_peterborough.geojson": _LSOA_LINES,
    "lad_cambs_peterborough.geojson": _LSOA_LINES,
    "oa21_cambs_peterborough_pop2021_pwc.csv": (
        _ONS,
        "Census 2021 population points: contains OS data © Crown copyright and database right 2021.",
    ),
    "gp_practices_pcn_cambs_peterborough.csv": _PRACTICE_LINES,
    "pcns_cambs_peterborough.csv": _PRACTICE_LINES,
}

INK = "#1a1a1a"
DISTRICT_INK = "#4d4d4d"
UNIT_INK = "#b3b3b3"
PRACTICE_STYLE: dict[str, Any] = {"marker": "o", "color": "#253494", "edgecolor": "white", "linewidth": 0.4}


def attribution_lines(plan: Plan) -> list[str]:
    """The attribution a map of this plan must carry.

    Each shipped file brings its lines from ``boundaries/README.md`` (once each). For other inputs
    the map names the files and asks for their own attribution, rather than guessing a licence.
    """
    files = [str(k).split(": ", 1)[-1] for k in (plan.provenance.get("data_files") or {})]
    lines = list(dict.fromkeys(line for name in files for line in SHIPPED_FILES.get(name, ())))
    others = [f for f in files if f not in SHIPPED_FILES]
    if others or not lines:
        listed = ", ".join(others) if others else "the input files"
        lines.append(f"Data: {listed}; add the attribution their licences require.")
    version = plan.provenance.get("sda_version")
    lines.append(
        "Areas proposed by sda" + (f" {version}" if version else "") + ": a proposal, not an adopted boundary."
    )
    return lines


def add_attribution(fig: Figure, plan: Plan, *, x: float, y: float, width_chars: int, fontsize: float) -> Text:
    """Write the attribution at the foot of the sheet (figure fraction ``x, y``, bottom-left)."""
    text = "\n".join(textwrap.fill(" ".join(attribution_lines(plan)), width=width_chars).splitlines())
    return fig.text(x, y, text, ha="left", va="bottom", fontsize=fontsize, color="#333333", gid="attribution")


def nice_length_m(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 times a power of ten metres) of about a fifth of ``span_m``."""
    target = max(span_m / 5.0, 1.0)
    best = 1.0
    power = 1.0
    while power <= target * 10:
        for step in (1.0, 2.0, 5.0):
            if step * power <= target:
                best = step * power
        power *= 10
    return best


def add_scale_bar(ax: Axes, *, fontsize: float, below: bool = False) -> AnchoredSizeBar:
    """Add a scale bar of a round length to a map axes in metres: in its lower-left corner, or
    ``below`` the axes (for small insets, where the corner holds map)."""
    x0, x1 = ax.get_xlim()
    length = nice_length_m(x1 - x0)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    bar = AnchoredSizeBar(
        ax.transData,
        length,
        label,
        "upper left" if below else "lower left",
        pad=0.3 if below else 0.5,
        borderpad=0.0 if below else 0.6,
        bbox_to_anchor=(0.0, -0.005) if below else None,
        bbox_transform=ax.transAxes if below else None,
        sep=3,
        frameon=True,
        size_vertical=(x1 - x0) / 250,
        color=INK,
        fontproperties={"size": fontsize},
    )
    bar.patch.set(facecolor="white", alpha=0.8, edgecolor="none")
    bar.set_gid("scale-bar")
    ax.add_artist(bar)
    return bar


def add_north_arrow(ax: Axes, *, fontsize: float, x: float = 0.95, y: float = 0.95) -> list[Any]:
    """Add a north arrow in the axes' top-right corner (grid north: British National Grid)."""
    arrow = ax.annotate(
        "",
        xy=(x, y - 0.035),
        xytext=(x, y - 0.11),
        xycoords="axes fraction",
        arrowprops={"arrowstyle": "-|>,head_length=0.8,head_width=0.4", "color": INK, "linewidth": 1.4},
        gid="north-arrow",
    )
    letter = ax.text(
        x,
        y - 0.03,
        "N",
        transform=ax.transAxes,
        ha="center",
        va="bottom",
        fontsize=fontsize,
        weight="bold",
        color=INK,
        gid="north-arrow",
    )
    return [arrow, letter]


def add_legend(
    fig: Figure,
    rect: tuple[float, float, float, float],
    *,
    fontsize: float,
    unit_kind: str,
    n_practices: int,
    has_districts: bool,
    has_insets: bool,
    named: bool = True,
    key: Sequence[tuple[str, str]] = (),
    labels_note: str = "",
) -> Legend:
    """Add the map key in its own frameless axes at ``rect`` (figure fraction).

    ``key`` lists ``(number, label)`` for labels that had to be numbered to avoid overlaps.
    ``labels_note``, when given, replaces the line that says what the labels show.
    """
    ax = fig.add_axes(rect, gid="legend-panel")
    ax.set_axis_off()
    handles: list[Any] = [
        Patch(facecolor="#fdb462", edgecolor=INK, linewidth=0.8, label="service delivery area"),
    ]
    if has_districts:
        handles.append(Line2D([], [], color=DISTRICT_INK, linewidth=2.2, alpha=0.7, label="district boundary"))
    handles.append(Line2D([], [], color=UNIT_INK, linewidth=0.5, label=f"{unit_kind} (building block)"))
    if n_practices:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=4,
                markerfacecolor=PRACTICE_STYLE["color"],
                markeredgecolor="white",
                label=f"GP practice ({n_practices})",
            )
        )
    if has_insets:
        handles.append(Patch(facecolor="none", edgecolor=INK, linestyle="--", linewidth=0.8, label="inset extent"))
    legend = ax.legend(
        handles=handles,
        loc="upper left",
        fontsize=fontsize,
        frameon=False,
        title="Key",
        title_fontsize=fontsize + 1,
        alignment="left",
        borderaxespad=0.0,
    )
    legend.set_gid("legend")
    labels_line = labels_note or "Labels: " + ("area id and name." if named else "area id.")
    note = "Colours only tell neighbouring areas apart.\n" + labels_line
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    bottom = ax.transAxes.inverted().transform(legend.get_window_extent(renderer))[0][1]
    _add_notes(ax, note, [f"{n}  {text}" for n, text in key], top=bottom - 0.04, fontsize=fontsize * 0.95)
    return legend


#: Heading of the key's list of labels numbered or shortened to avoid overlaps.
KEY_HEADING = "Labels shortened for room:"
#: The key's list may shrink to this share of the note's size, and flow into up to this many columns.
_KEY_MIN_SHRINK = 0.75
_KEY_MAX_COLUMNS = 3


def _add_notes(ax: Axes, note: str, entries: Sequence[str], *, top: float, fontsize: float) -> None:
    """Write ``note`` under the legend at ``top`` (axes fraction) and, under it, the shortened
    labels' ``entries``, kept inside the panel.

    A list that fits one column at ``fontsize`` joins the note as one text (``legend-note``).
    A longer one flows into columns (``legend-key``), at a smaller size when needed, each entry
    whole (wrapped under its name, ``KEY_CONTINUED``) where some layout allows; otherwise
    entries wider than a column end in "…". When even the smallest, widest layout cannot hold them all, the
    last line says how many more there are and that ``areas.csv`` identifies every area.
    """
    style: dict[str, Any] = {"transform": ax.transAxes, "va": "top", "color": "#333333"}
    if not entries:
        ax.text(0.0, top, note, fontsize=fontsize, gid="legend-note", **style)
        return
    fig = ax.get_figure(root=True)
    renderer = fig.canvas.get_renderer()  # type: ignore[union-attr]
    panel = ax.get_window_extent(renderer)
    whole = ax.text(0.0, top, note + "\n\n" + KEY_HEADING + "\n" + "\n".join(entries), fontsize=fontsize, **style)
    if _inside(whole.get_window_extent(renderer), panel):
        whole.set_gid("legend-note")
        return
    whole.remove()
    head = ax.text(0.0, top, note + "\n\n" + KEY_HEADING, fontsize=fontsize, gid="legend-note", **style)
    # A quarter line apart, so the columns clear the heading at any resolution.
    below = (
        ax.transAxes.inverted().transform(head.get_window_extent(renderer))[0][1]
        - 0.25 * renderer.points_to_pixels(fontsize) / panel.height
    )
    sizes = [fontsize * (1 - step * (1 - _KEY_MIN_SHRINK) / 3) for step in range(4)]
    # Every layout that writes each name whole first, then those that end long names in "…":
    # the key is the only place a shortened label's name is written.
    layouts = [(intact, size, n) for intact in (True, False) for size in sizes for n in range(1, _KEY_MAX_COLUMNS + 1)]
    ruler = _Ruler(ax, style)
    try:
        for i, (intact, size, n_columns) in enumerate(layouts):
            last = i == len(layouts) - 1
            drawn = _draw_columns(
                ax, entries, top=below, fontsize=size, n_columns=n_columns, cut=last, ruler=ruler, whole=intact
            )
            if drawn is not None and all(_inside(t.get_window_extent(renderer), panel) for t in drawn):
                return
            for text in drawn or []:
                text.remove()
    finally:
        ruler.remove()
    head.set_text(f"{note}\n\n{len(entries)} labels shortened for room: see areas.csv")


class _Ruler:
    """Sizes of key text in pixels, each text at each font size measured once (with one probe
    text): the key's layouts (sizes x columns) ask for the same lines again and again."""

    def __init__(self, ax: Axes, style: dict[str, Any]) -> None:
        self.renderer = ax.get_figure(root=True).canvas.get_renderer()  # type: ignore[union-attr]
        self.style = style
        self._probe = ax.text(0.0, 0.0, "", **style)
        self._sizes: dict[tuple[str, float], tuple[float, float]] = {}

    def size(self, text: str, fontsize: float) -> tuple[float, float]:
        """Width and height of ``text`` at ``fontsize``, in pixels."""
        got = self._sizes.get((text, fontsize))
        if got is None:
            self._probe.set_text(text)
            self._probe.set_fontsize(fontsize)
            box = self._probe.get_window_extent(self.renderer)
            got = self._sizes[(text, fontsize)] = (box.width, box.height)
        return got

    def width(self, text: str, fontsize: float) -> float:
        """Width of ``text`` at ``fontsize``, in pixels."""
        return self.size(text, fontsize)[0]

    def remove(self) -> None:
        """Take the probe text off the axes."""
        self._probe.remove()


def _draw_columns(
    ax: Axes,
    entries: Sequence[str],
    *,
    top: float,
    fontsize: float,
    n_columns: int,
    cut: bool,
    ruler: _Ruler,
    whole: bool = False,
) -> list[Text] | None:
    """Draw ``entries`` in ``n_columns`` texts of about equal length from ``top`` (axes fraction)
    down to the panel's foot, measured with ``ruler``; ``None`` when they do not all fit, unless
    ``cut``: then the columns fill up and the last line says how many more are in areas.csv.
    With ``whole``, also ``None`` when a line is wider than its column (rather than end it in "…")."""
    renderer = ruler.renderer
    panel = ax.get_window_extent(renderer)
    one = ruler.size("Ag", fontsize)[1]
    step = ruler.size("Ag\nAg", fontsize)[1] - one
    room = top * panel.height - 0.25 * step  # from the top down to the panel's foot, less a margin
    capacity = int((room - one) // step) + 1 if room >= one else 0
    if len(entries) <= capacity * n_columns:
        per = -(-len(entries) // n_columns)
        columns = [list(entries[i * per : (i + 1) * per]) for i in range(n_columns)]
    elif cut:
        kept = max(capacity * n_columns - 1, 0)
        columns = [list(entries[i * capacity : min((i + 1) * capacity, kept)]) for i in range(n_columns)]
        columns[-1].append(f"… and {len(entries) - kept} more: see areas.csv")
    else:
        return None
    columns = [column for column in columns if column]
    gap = renderer.points_to_pixels(fontsize)  # an em between columns
    natural = [max(ruler.width(line, fontsize) for line in column) for column in columns]
    allowed = _share_width(natural, panel.width, gap)
    if whole and any(want > room + 0.5 for want, room in zip(natural, allowed, strict=True)):
        width = (panel.width - gap * (n_columns - 1)) / n_columns
        packed = _pack_wrapped(ruler, entries, fontsize, width, capacity, n_columns)
        if packed is None:
            return None
        lines, allowed = packed, [width] * len(packed)
    else:
        lines = [
            [_fit_line(ruler, line, fontsize, width) for line in column]
            for width, column in zip(allowed, columns, strict=True)
        ]
    lefts = [panel.x0 + sum(allowed[:i]) + i * gap for i in range(len(lines))]
    to_axes = ax.transAxes.inverted()
    return [
        ax.text(
            float(to_axes.transform([[left, 0.0]])[0][0]),
            top,
            "\n".join(column),
            fontsize=fontsize,
            gid="legend-key",
            **ruler.style,
        )
        for left, column in zip(lefts, lines, strict=True)
    ]


def _share_width(natural: Sequence[float], total: float, gap: float) -> list[float]:
    """Widths for columns that want ``natural`` widths within ``total`` (``gap`` between them):
    their own where all fit, else narrow columns keep theirs and the wide ones share the rest."""
    budget = total - gap * (len(natural) - 1)
    allowed = list(natural)
    left = sorted(range(len(natural)), key=lambda i: natural[i])
    while left:
        share = budget / len(left)
        if natural[left[0]] > share:
            for i in left:
                allowed[i] = share
            break
        budget -= natural[left[0]]
        left.pop(0)
    return allowed


#: How a key entry wrapped onto more lines goes on: indented under its name.
KEY_CONTINUED = "    "


def _pack_wrapped(
    ruler: _Ruler, entries: Sequence[str], fontsize: float, column_px: float, capacity: int, n_columns: int
) -> list[list[str]] | None:
    """``entries`` wrapped at word breaks to ``column_px`` and packed, each entry whole in one
    column, into at most ``n_columns`` columns of ``capacity`` lines of about equal length;
    ``None`` when they do not fit (or a single word is wider than the column)."""
    blocks = []
    for entry in entries:
        lines: list[str] = []
        for word in entry.replace("  ", "\u00a0\u00a0", 1).split(" "):
            word = word.replace("\u00a0", " ")
            joined = f"{lines[-1]} {word}" if lines else word
            if lines and ruler.width(joined, fontsize) <= column_px:
                lines[-1] = joined
            elif ruler.width(KEY_CONTINUED + word if lines else word, fontsize) <= column_px:
                lines.append(KEY_CONTINUED + word if lines else word)
            else:
                return None
        blocks.append(lines)
    total = sum(len(block) for block in blocks)
    for limit in sorted({min(capacity, -(-total // n_columns)), capacity}):
        columns: list[list[str]] = [[]]
        for block in blocks:
            if columns[-1] and len(columns[-1]) + len(block) > limit:
                columns.append([])
            columns[-1].extend(block)
        if len(columns) <= n_columns and all(len(column) <= capacity for column in columns):
            return columns
    return None


def _fit_line(ruler: _Ruler, line: str, fontsize: float, column_px: float) -> str:
    """A key line, its end cut to "…" when wider than its column (the id, first, stays)."""
    width_px = ruler.width(line, fontsize)
    if width_px <= column_px:
        return line
    chars = min(len(line) - 1, int(len(line) * column_px / width_px))
    while chars > 8:
        if ruler.width(line[:chars].rstrip() + "…", fontsize) <= column_px:
            break
        chars -= 1
    return line[:chars].rstrip() + "…"


def _inside(box: Any, panel: Any) -> bool:
    """Whether a rendered box lies inside the key panel (one pixel of slack)."""
    return bool(panel.x0 - 1 <= box.x0 and box.x1 <= panel.x1 + 1 and panel.y0 - 1 <= box.y0 and box.y1 <= panel.y1 + 1)
