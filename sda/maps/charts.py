"""Charts for the report: the trade-off frontier and the ensemble histograms.

Each function returns PNG bytes (or ``None`` when there is nothing to draw). Figures are drawn
on matplotlib's Agg canvas directly, without ``pyplot``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from matplotlib.transforms import Bbox, offset_copy

from sda.formatting import as_float, score_text

__all__ = ["ENSEMBLE_SCORES", "draw_ensemble", "ensemble_columns", "frontier_points", "plot_ensemble", "plot_frontier"]

#: Ensemble columns drawn as histograms, in this order (absent ones are skipped); each is named
#: as the report's ranking table names it (``sda.formatting.score_text``).
ENSEMBLE_SCORES: tuple[str, ...] = ("coterminosity", "cut_border_km", "mean_polsby_popper", "objective")

_DPI = 110


def plot_frontier(alternatives: Sequence[Mapping[str, Any]], chosen: Mapping[str, float] | None = None) -> bytes | None:
    """Trade-off scatter: coterminosity (x) against cut border (y), one labelled point per run.

    Parameters
    ----------
    alternatives
        Dicts with ``label``, ``feasible``, ``coterminosity`` and ``cut_border_km``; runs that
        failed or lack either score are left out.
    chosen
        The chosen plan's scores, drawn as a star.

    Returns
    -------
    bytes or None
        A PNG image, or ``None`` when no alternative has both scores.
    """
    points = frontier_points(alternatives)
    if not points:
        return None
    fig = Figure(figsize=(7.0, 4.8), dpi=_DPI)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.11, top=0.92)
    ax = fig.add_subplot()
    for feasible, marker, colour in ((True, "o", "#2c7bb6"), (False, "x", "#999999")):
        group = [p for p in points if p[3] is feasible]
        if group:
            label = "alternative plan, rules hold" if feasible else "alternative, breaks a rule"
            ax.scatter([p[1] for p in group], [p[2] for p in group], label=label, marker=marker, color=colour)
    if chosen is not None and math.isfinite(as_float(chosen.get("coterminosity"))):
        ax.scatter(
            [as_float(chosen.get("coterminosity"))],
            [as_float(chosen.get("cut_border_km"))],
            marker="*",
            s=180,
            color="#d7191c",
            label="this plan",
            zorder=3,
        )
    ax.set_xlabel("PCN coterminosity (higher is better)")
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))  # as the report writes it
    ax.set_ylabel("cut border, km (lower is better)")
    ax.set_title("Trade-offs between alternative runs")
    legend = ax.legend(fontsize=8, loc="best")
    star = [] if chosen is None else [(as_float(chosen.get("coterminosity")), as_float(chosen.get("cut_border_km")))]
    _label_points(fig, ax, points, also_avoid=star, legend=legend)
    return _png(fig)


def _label_points(
    fig: Figure,
    ax: Any,
    points: list[tuple[str, float, float, bool]],
    also_avoid: Sequence[tuple[float, float]] = (),
    legend: Any = None,
) -> None:
    """Label each point so that no label covers another label, another point (or the points of
    ``also_avoid``, the chosen plan's star), the legend, or leaves the axes.

    Runs with close scores (22 and 23 areas) printed their labels over each other, labels of
    points near the right edge were cut off, and a label over a neighbouring point read as that
    point's ("tighter band" over 23 areas). Labels go right of points in the left half and left
    of points in the right half; a label that would cover something tries offsets above and
    below in turn (with a leader line), top point first, so the result is deterministic.
    """
    FigureCanvasAgg(fig)
    ax.margins(x=0.05, y=0.1)
    ax.autoscale_view()
    ax.set_xlim(*ax.get_xlim())  # freeze the limits before measuring labels
    ax.set_ylim(*ax.get_ylim())
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    frame = ax.get_window_extent(renderer)
    x_mid = sum(ax.get_xlim()) / 2
    reach = 4 * fig.dpi / 72  # a marker's half-width, in pixels
    markers = {}
    for label, x, y, _ in points:
        px, py = ax.transData.transform((x, y))
        markers[label, x, y] = Bbox.from_extents(px - reach, py - reach, px + reach, py + reach)
    for x, y in also_avoid:
        if math.isfinite(x) and math.isfinite(y):
            px, py = ax.transData.transform((x, y))
            markers["", x, y] = Bbox.from_extents(px - 2 * reach, py - 2 * reach, px + 2 * reach, py + 2 * reach)
    placed: list[Any] = [legend.get_window_extent(renderer)] if legend is not None else []
    offsets = (4, -12, 14, -22, 24, -32, 34, -42, 44, -52)
    for label, x, y, _ in sorted(points, key=lambda p: (-p[2], p[1], p[0])):
        left = x > x_mid
        dx = -5 if left else 5
        for i, dy in enumerate(offsets):
            where = offset_copy(ax.transData, fig=fig, x=dx, y=dy, units="points")
            text = ax.text(x, y, label, transform=where, ha="right" if left else "left", va="center", fontsize=7)
            box = text.get_window_extent(renderer)
            inside = frame.y0 <= box.y0 and box.y1 <= frame.y1 and frame.x0 <= box.x0 and box.x1 <= frame.x1
            others = [m for key, m in markers.items() if key != (label, x, y)]
            clear = not any(box.overlaps(other) for other in [*placed, *others])
            if (inside and clear) or i == len(offsets) - 1:
                placed.append(box)
                if i:  # a leader line from the point to its moved label
                    ax.annotate(
                        "",
                        (x, y),
                        xytext=(dx, dy),
                        textcoords="offset points",
                        arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.5},
                    )
                break
            text.remove()


def plot_ensemble(ensemble: pd.DataFrame | None, chosen: Mapping[str, float]) -> bytes | None:
    """Histograms of the ensemble's scores with the chosen plan's value marked in red.

    Parameters
    ----------
    ensemble
        One row per alternative valid plan; columns named in ``ENSEMBLE_SCORES`` are drawn.
    chosen
        The chosen plan's scores.

    Returns
    -------
    bytes or None
        A PNG image, or ``None`` when the ensemble is missing, empty or has none of the columns.
    """
    fig = draw_ensemble(ensemble, chosen)
    return None if fig is None else _png(fig)


def draw_ensemble(ensemble: pd.DataFrame | None, chosen: Mapping[str, float]) -> Figure | None:
    """The figure ``plot_ensemble`` saves, drawn (or ``None`` when there is nothing to draw)."""
    columns = ensemble_columns(ensemble)
    if ensemble is None or not columns:
        return None
    # Fixed margins: constrained layout costs about a second on this many tick labels.
    fig = Figure(figsize=(3.3 * len(columns), 3.0), dpi=_DPI)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.72, wspace=0.35)
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    marked = None
    for ax, column in zip(axes, columns, strict=True):
        values = pd.to_numeric(ensemble[column], errors="coerce").dropna().to_numpy(dtype=float)
        ax.hist(values, bins=min(20, max(5, int(np.sqrt(len(values))))), color="#abd9e9", edgecolor="#2c7bb6")
        mine = as_float(chosen.get(column))
        if math.isfinite(mine):
            marked = ax.axvline(mine, color="#d7191c", linewidth=2, label="this plan")
        # Named, scaled and ranked as the report's ranking table (sda.formatting.SCORE_TEXT).
        text = score_text(column)
        better = "higher" if text.higher_is_better else "lower"
        ax.set_title(f"{text.words}\n({better} is better)", fontsize=9)
        if text.percent:
            ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # plans are counted whole
        ax.set_ylabel("plans", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Scores of {len(ensemble)} alternative valid plans", fontsize=10, y=0.98)
    if marked is not None:  # one key for every panel, above them, off the bars
        fig.legend(handles=[marked], loc="upper center", bbox_to_anchor=(0.5, 0.92), fontsize=7, frameon=False)
    FigureCanvasAgg(fig).draw()
    return fig


# --------------------------------------------------------------------------- helpers


def frontier_points(alternatives: Sequence[Mapping[str, Any]] | None) -> list[tuple[str, float, float, bool]]:
    """``(label, coterminosity, cut_border_km, feasible)`` of the runs that have both scores."""
    points = [
        (
            str(alt.get("label", "")),
            as_float(alt.get("coterminosity")),
            as_float(alt.get("cut_border_km")),
            bool(alt.get("feasible")),
        )
        for alt in alternatives or ()
    ]
    return [p for p in points if math.isfinite(p[1]) and math.isfinite(p[2])]


def ensemble_columns(ensemble: pd.DataFrame | None) -> list[str]:
    if ensemble is None or ensemble.empty:
        return []
    return [
        c
        for c in ENSEMBLE_SCORES
        if c in ensemble.columns and pd.to_numeric(ensemble[c], errors="coerce").notna().any()
    ]


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()
