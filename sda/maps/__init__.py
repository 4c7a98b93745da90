"""Every picture ``sda`` draws: the plan map (screen and print), area locators and the report charts.

Figures are drawn on matplotlib's Agg canvas directly, without ``pyplot``: no display is needed,
no global backend is switched, and nothing is left open between calls. Area colours come from
``sda.qgis.area_colours``, so the maps match the QGIS layers.

Modules: ``layers`` (what is drawn: shapes, names, anchors), ``labels`` (placement without
overlaps), ``furniture`` (scale bar, north arrow, legend, attribution), ``sheet`` (the plan map
and print sheets), ``locator`` (small maps for the area cards), ``charts`` (frontier, ensemble).
"""

from __future__ import annotations

from collections.abc import Mapping

from sda.maps.changes import moved_codes, plot_moved_units
from sda.maps.charts import ENSEMBLE_SCORES, ensemble_columns, frontier_points, plot_ensemble, plot_frontier
from sda.maps.layers import area_neighbours, area_shapes, labels_readable
from sda.maps.locator import plot_locator, render_locators
from sda.maps.sheet import PRINT_PAPERS, draw_sheet, plot_plan_map, render_print_maps, render_sheet
from sda.plan import Plan

__all__ = [
    "ENSEMBLE_SCORES",
    "PRINT_PAPERS",
    "area_neighbours",
    "draw_sheet",
    "drawable_figures",
    "plot_ensemble",
    "plot_frontier",
    "plot_locator",
    "plot_moved_units",
    "plot_plan_map",
    "render_figures",
    "render_locators",
    "render_plan_figures",
    "render_print_maps",
    "render_sheet",
]


def render_figures(plan: Plan, *, ahead: Mapping[str, bytes | None] | None = None) -> dict[str, bytes | None]:
    """Draw every report figure of a plan, taking those in ``ahead`` as drawn already.

    Returns
    -------
    dict
        ``"map"``, ``"frontier"`` and ``"ensemble"`` (and ``"changes"`` for a re-run, and one
        ``"locator-<area>"`` per area) -> PNG bytes, or ``None`` for a figure with nothing to
        show (no alternatives, no ensemble).
    """
    figures: dict[str, bytes | None] = dict(ahead or render_plan_figures(plan))
    figures["frontier"] = plot_frontier(plan.alternatives, plan.scores)
    figures["ensemble"] = plot_ensemble(plan.ensemble, plan.scores)
    return figures


def render_plan_figures(plan: Plan) -> dict[str, bytes | None]:
    """The report figures that show the plan itself, not its trade-offs or ensemble: the plan
    map, the changes of a re-run, and the area cards' locators. ``sda propose`` draws them while
    the trade-offs run (``sda.outputs.draw_maps``)."""
    figures: dict[str, bytes | None] = {"map": plot_plan_map(plan)}
    if plan.provenance.get("previous"):  # a re-run (see sda.rerun)
        figures["changes"] = plot_moved_units(plan)
    # One small "where is it" map per area card (report.html embeds them; report.md leaves them
    # out); none for a plan with too many areas (see sda.maps.layers.MAX_LABELLED_AREAS).
    figures.update({f"locator-{area}": png for area, png in render_locators(plan).items()})
    return figures


def drawable_figures(plan: Plan) -> set[str]:
    """Keys of the figures ``render_figures`` would draw for this plan, without drawing them."""
    keys = {"map"}
    if frontier_points(plan.alternatives):
        keys.add("frontier")
    if ensemble_columns(plan.ensemble):
        keys.add("ensemble")
    if moved_codes(plan):
        keys.add("changes")
    shapes = area_shapes(plan)
    if labels_readable(len(shapes)):  # as render_locators
        keys.update(f"locator-{area}" for area in shapes.index)
    return keys
