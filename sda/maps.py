"""Static figures for the report: the plan map, the trade-off frontier and the ensemble histograms.

This module owns every picture ``sda`` draws. Each function returns PNG bytes (or ``None`` when
there is nothing to draw), so the report can embed them in a self-contained HTML file and the
output writer can save them next to ``report.md``. Figures are drawn on matplotlib's Agg canvas
directly, without ``pyplot``: no display is needed, no global backend is switched, and nothing
is left open between calls. Area colours come from ``sda.qgis.area_colours``, so the report's map
matches the QGIS layers.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sda.formatting import as_float
from sda.plan import Plan
from sda.qgis import area_colours

__all__ = [
    "ENSEMBLE_SCORES",
    "area_neighbours",
    "drawable_figures",
    "plot_ensemble",
    "plot_frontier",
    "plot_moved_units",
    "plot_plan_map",
    "render_figures",
]

#: Ensemble columns drawn as histograms, with axis titles, in this order (absent ones are skipped).
ENSEMBLE_SCORES: dict[str, str] = {
    "coterminosity": "PCN coterminosity",
    "cut_border_km": "cut border (km)",
    "mean_polsby_popper": "mean Polsby-Popper",
    "objective": "objective",
}

_DPI = 110


def render_figures(plan: Plan) -> dict[str, bytes | None]:
    """Draw every report figure of a plan.

    Returns
    -------
    dict
        ``"map"``, ``"frontier"`` and ``"ensemble"`` (and ``"changes"`` for a re-run) -> PNG
        bytes, or ``None`` for a figure with nothing to show (no alternatives, no ensemble).
    """
    figures = {
        "map": plot_plan_map(plan),
        "frontier": plot_frontier(plan.alternatives, plan.scores),
        "ensemble": plot_ensemble(plan.ensemble, plan.scores),
    }
    if plan.provenance.get("previous"):  # a re-run (see sda.rerun)
        figures["changes"] = plot_moved_units(plan)
    return figures


def drawable_figures(plan: Plan) -> set[str]:
    """Keys of the figures ``render_figures`` would draw for this plan, without drawing them."""
    keys = {"map"}
    if _frontier_points(plan.alternatives):
        keys.add("frontier")
    if _ensemble_columns(plan.ensemble):
        keys.add("ensemble")
    if (plan.provenance.get("previous") or {}).get("moved_units"):
        keys.add("changes")
    return keys


def area_neighbours(plan: Plan) -> nx.Graph:
    """Graph of areas (nodes ``str(area_id)``) joined where any of their units are adjacent."""
    areas = nx.Graph()
    lookup = {str(code): str(area) for code, area in plan.assignment.items()}
    areas.add_nodes_from(sorted(set(lookup.values())))
    for u, v in plan.graph.edges():
        a, b = lookup.get(str(u)), lookup.get(str(v))
        if a is not None and b is not None and a != b:
            areas.add_edge(a, b)
    return areas


def plot_plan_map(plan: Plan) -> bytes:
    """Map of the areas over the units, labelled by area id, with GP practices as points.

    Parameters
    ----------
    plan
        The plan; ``plan.areas`` geometry is drawn when present, else the units are dissolved.

    Returns
    -------
    bytes
        A PNG image.
    """
    fig = Figure(figsize=(8.0, 8.5), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    areas = _area_shapes(plan)
    colours = area_colours(areas.index, area_neighbours(plan))
    areas.plot(ax=ax, color=[colours[str(a)] for a in areas.index], alpha=0.75, linewidth=0)
    plan.units.boundary.plot(ax=ax, color="#8c8c8c", linewidth=0.25)
    areas.boundary.plot(ax=ax, color="#1a1a1a", linewidth=1.0)
    if plan.practices is not None and len(plan.practices):
        practices = plan.practices
        if practices.crs is not None and areas.crs is not None and practices.crs != areas.crs:
            practices = practices.to_crs(areas.crs)
        practices.plot(ax=ax, color="#141414", markersize=16, edgecolor="white", linewidth=0.5, zorder=3)
    for area, point in zip(areas.index, areas.geometry.representative_point(), strict=True):
        ax.annotate(
            str(area),
            (point.x, point.y),
            ha="center",
            va="center",
            fontsize=7,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75},
        )
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_title(f"{len(areas)} service delivery areas" + (" and GP practices" if _has_practices(plan) else ""))
    return _png(fig)


def plot_moved_units(plan: Plan) -> bytes | None:
    """Map of the units whose area changed since the previous plan (a re-run's
    ``provenance["previous"]["moved_units"]``), in red over the areas' outlines; None when nobody
    moved or the plan is not a re-run."""
    moved = (plan.provenance.get("previous") or {}).get("moved_units") or []
    codes = [str(m["unit_code"]) for m in moved if str(m.get("unit_code")) in plan.units.index]
    if not codes:
        return None
    fig = Figure(figsize=(8.0, 8.5), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    areas = _area_shapes(plan)
    areas.plot(ax=ax, color="#f2f2f2", linewidth=0)
    plan.units.loc[codes].plot(ax=ax, color="#d7301f", linewidth=0)
    areas.boundary.plot(ax=ax, color="#1a1a1a", linewidth=0.8)
    for area, point in zip(areas.index, areas.geometry.representative_point(), strict=True):
        ax.annotate(str(area), (point.x, point.y), ha="center", va="center", fontsize=6, color="#404040")
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_title(f"{len(codes)} units moved since the previous plan (red)")
    return _png(fig)


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
    points = _frontier_points(alternatives)
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
    columns = _ensemble_columns(ensemble)
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


def _frontier_points(alternatives: Sequence[Mapping[str, Any]] | None) -> list[tuple[str, float, float, bool]]:
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


def _ensemble_columns(ensemble: pd.DataFrame | None) -> list[str]:
    if ensemble is None or ensemble.empty:
        return []
    return [
        c
        for c in ENSEMBLE_SCORES
        if c in ensemble.columns and pd.to_numeric(ensemble[c], errors="coerce").notna().any()
    ]


def _area_shapes(plan: Plan) -> Any:
    areas = plan.areas
    if "geometry" in areas.columns and len(areas) and areas.geometry.notna().all():
        return areas
    return plan.units[["area_id", "geometry"]].dissolve(by="area_id")


def _has_practices(plan: Plan) -> bool:
    return plan.practices is not None and len(plan.practices) > 0


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return buffer.getvalue()
