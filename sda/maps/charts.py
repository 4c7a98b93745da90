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

from sda.formatting import as_float

__all__ = ["ENSEMBLE_SCORES", "ensemble_columns", "frontier_points", "plot_ensemble", "plot_frontier"]

#: Ensemble columns drawn as histograms, with axis titles, in this order (absent ones are skipped).
ENSEMBLE_SCORES: dict[str, str] = {
    "coterminosity": "PCN coterminosity",
    "cut_border_km": "cut border (km)",
    "mean_polsby_popper": "mean Polsby-Popper",
    "objective": "objective",
}

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
            label = "feasible run" if feasible else "infeasible run"
            ax.scatter([p[1] for p in group], [p[2] for p in group], label=label, marker=marker, color=colour)
    for label, x, y, _ in points:
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
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
    ax.set_ylabel("cut border, km (lower is better)")
    ax.set_title("Trade-offs between alternative runs")
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


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
    columns = ensemble_columns(ensemble)
    if ensemble is None or not columns:
        return None
    # Fixed margins: constrained layout costs about a second on this many tick labels.
    fig = Figure(figsize=(3.3 * len(columns), 3.0), dpi=_DPI)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.8, wspace=0.3)
    axes = fig.subplots(1, len(columns), squeeze=False)[0]
    for ax, column in zip(axes, columns, strict=True):
        values = pd.to_numeric(ensemble[column], errors="coerce").dropna().to_numpy(dtype=float)
        ax.hist(values, bins=min(20, max(5, int(np.sqrt(len(values))))), color="#abd9e9", edgecolor="#2c7bb6")
        mine = as_float(chosen.get(column))
        if math.isfinite(mine):
            ax.axvline(mine, color="#d7191c", linewidth=2, label="this plan")
            ax.legend(fontsize=7)
        ax.set_title(ENSEMBLE_SCORES[column], fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Scores of {len(ensemble)} alternative valid plans", fontsize=10)
    return _png(fig)


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
