"""The re-run map: which units moved since the previous plan (``sda.rerun``)."""

from __future__ import annotations

from matplotlib.figure import Figure

from sda.formatting import counted
from sda.maps.layers import area_shapes, outline_collection, png_bytes, polygon_collection
from sda.plan import Plan

_DPI = 110


def moved_codes(plan: Plan) -> list[str]:
    """Codes of the units a re-run moved (``provenance["previous"]["moved_units"]``) that are in the plan."""
    moved = (plan.provenance.get("previous") or {}).get("moved_units") or []
    return [str(m["unit_code"]) for m in moved if str(m.get("unit_code")) in plan.units.index]


def plot_moved_units(plan: Plan) -> bytes | None:
    """Map of the units whose area changed since the previous plan, in red over the areas'
    outlines; None when nobody moved or the plan is not a re-run."""
    codes = moved_codes(plan)
    if not codes:
        return None
    fig = Figure(figsize=(8.0, 8.5), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    areas = area_shapes(plan)
    ax.add_collection(polygon_collection(areas.geometry, facecolor="#f2f2f2", edgecolor="none"))
    ax.add_collection(polygon_collection(plan.units.loc[codes].geometry, facecolor="#d7301f", edgecolor="none"))
    ax.add_collection(outline_collection(areas.geometry, color="#1a1a1a", linewidth=0.8))
    for area, point in zip(areas.index, areas.geometry.representative_point(), strict=True):
        ax.annotate(str(area), (point.x, point.y), ha="center", va="center", fontsize=6, color="#404040")
    ax.autoscale_view()
    ax.set_axis_off()
    ax.set_aspect("equal")
    ax.set_title(f"{counted(len(codes), 'unit')} moved since the previous plan (red)")
    return png_bytes(fig)
