"""The trade-offs section: what each choice costs, in plain words first, then the table.

Alternatives are re-runs with one setting changed (see ``sda.tradeoffs``). They get a short
search each, so every row says its effort: a "quick estimate" is a lower bound on what a full run
with that setting would reach, unless it started from this plan. Rows are labelled by what was
produced, and a variant with no row says why (proven infeasible, or not found within the budget).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sda.formatting import as_float, show_number, show_percent, show_text, show_whole
from sda.plan import Plan
from sda.report.blocks import Figure, Heading, List, Para, Table

__all__ = ["plan_effort_text", "summary_sentences", "tradeoffs_section"]


def plan_effort_text(plan: Plan) -> str:
    """The plan's own search effort in words (from the configuration actually used)."""
    search = plan.config.search
    if search.steps > 0:
        return f"{search.starts} starts x {search.steps:,} steps"
    return f"{search.starts} starts sharing {search.time_limit_s:g} s"


def summary_sentences(plan: Plan) -> list[str]:
    """Plain-language sentences comparing this plan with the alternatives: one for the other area
    counts, one for each other alternative, and one for each variant without a plan saying why.

    Points of PCN alignment are percentage points of residents living in their own PCN's area;
    border changes are relative to the other plan's total border between areas.
    """
    mine_cot = as_float(plan.scores.get("coterminosity"))
    mine_km = as_float(plan.scores.get("cut_border_km"))
    nested = plan.config.rules.nest_in == "district"
    sentences = []
    counts = [a for a in plan.alternatives if a.get("kind") == "count" and a.get("feasible")]
    if counts:
        best = max(counts, key=lambda a: (as_float(a.get("coterminosity")), -int(a.get("count", 0))))
        values = [as_float(a.get("coterminosity")) for a in counts]
        listed = sorted(int(a["count"]) for a in counts)
        best_cot, best_km = as_float(best.get("coterminosity")), as_float(best.get("cut_border_km"))
        change = _change_text(best_cot - mine_cot, best_km, mine_km)
        sentences.append(
            f"Other numbers of areas ({listed[0]}-{listed[-1]}, quick estimates) reach {min(values):.0%}-"
            f"{max(values):.0%} PCN alignment, against {mine_cot:.0%} for this plan's {len(plan.areas)} areas; "
            f"the best, {best['label']}, would {change}."
        )
    for alt in plan.alternatives:
        label = str(alt.get("label", ""))
        if not alt.get("feasible"):
            reason = str(alt.get("error", "")).split(";")[0]
            sentences.append(f"{_describe(alt)}: {reason}.")
            continue
        if alt.get("kind") == "count":
            continue
        cot, km = as_float(alt.get("coterminosity")), as_float(alt.get("cut_border_km"))
        if alt.get("kind") == "rule" and label.startswith("without nesting") and nested:
            # This plan is the nested one: say what nesting costs against the unnested run.
            sentences.append(
                "Nesting areas inside districts "
                + _change_text(mine_cot - cot, mine_km, km, says=True)
                + _quick(alt, nested_plan=True)
                + "."
            )
        elif alt.get("kind") == "rule" and label.startswith("nested in districts"):
            sentences.append(
                "Nesting areas inside districts would " + _change_text(cot - mine_cot, km, mine_km) + _quick(alt) + "."
            )
        else:
            sentences.append(f"{_describe(alt)} would {_change_text(cot - mine_cot, km, mine_km)}{_quick(alt)}.")
    return sentences


def _describe(alt: Mapping[str, Any]) -> str:
    label = str(alt.get("label", ""))
    kind = alt.get("kind")
    if kind == "count":
        return f"{label[:1].upper()}{label[1:]} instead of this plan's count"
    if kind == "weights":
        return f"Weighting the search '{label}'"
    if kind == "band":
        return f"A {label}"
    if kind == "rule" and label.startswith("nested in districts"):
        return "Nesting areas inside districts"
    return label[:1].upper() + label[1:]


def _change_text(cot_gain: float, km_new: float, km_old: float, *, says: bool = False) -> str:
    """'cost 4 points of PCN alignment and cut the total border by 12%'; with ``says`` the verbs
    take an s ('costs ... and cuts ...')."""

    def verb(base: str) -> str:
        return base + "s" if says else base

    parts = []
    if not math.isnan(cot_gain):
        points = round(100 * cot_gain)
        if points == 0:
            parts.append(f"{verb('leave')} PCN alignment about the same (within a point)")
        else:
            unit = "point" if abs(points) == 1 else "points"
            parts.append(f"{verb('gain' if points > 0 else 'cost')} {abs(points)} {unit} of PCN alignment")
    if not (math.isnan(km_new) or math.isnan(km_old)) and km_old > 0:
        change = round(100 * (km_new - km_old) / km_old)
        if change == 0:
            parts.append(f"{verb('keep')} the total border about the same")
        else:
            parts.append(f"{verb('cut' if change < 0 else 'lengthen')} the total border by {abs(change)}%")
    return " and ".join(parts) or f"{verb('change')} nothing measurable"


def _quick(alt: Mapping[str, Any], *, nested_plan: bool = False) -> str:
    if nested_plan:
        start = ", started from this plan" if alt.get("from_plan") else ""
        return f" (against a quick re-run without nesting{start})"
    if alt.get("from_plan"):
        return " (a quick estimate that started from this plan)"
    return " (a quick estimate: a full run would likely do better)"


def tradeoffs_section(plan: Plan, available: set[str]) -> list[Any]:
    """Summary, effort statement, table and frontier figure."""
    blocks: list[Any] = [Heading(2, "Trade-offs")]
    if not plan.alternatives:
        return [*blocks, Para("No alternative runs were made, so there is no trade-off table or frontier plot.")]
    sentences = summary_sentences(plan)
    if sentences:
        blocks.append(Para("In short:"))
        blocks.append(List([("", s) for s in sentences]))
    blocks.append(
        Para(
            f"This plan had the full search ({plan_effort_text(plan)}). Each alternative is a re-run with one "
            "setting changed and a much shorter search (its budget is in the Effort column), so it shows the "
            "direction and rough size of a trade-off, not the best that setting can do. Points of PCN alignment "
            "are percentage points of residents living in their own PCN's area. A run 'starting from this plan' "
            "could only improve on it, so it shows what that setting gains at least."
        )
    )
    headers = [
        "Run",
        "Areas",
        "Valid plan",
        "Coterminosity",
        "PCNs split",
        "Cut border km",
        "Mean P-P",
        "Objective",
        "Effort",
        "Note",
    ]
    s = plan.scores
    rows = [
        [
            "this plan",
            show_whole(s.get("n_areas", len(plan.areas))),
            "yes",
            show_percent(s.get("coterminosity")),
            show_number(s.get("pcns_split"), 0),
            show_number(s.get("cut_border_km"), 1),
            show_number(s.get("mean_polsby_popper"), 3),
            show_number(s.get("objective"), 4),
            f"full: {plan_effort_text(plan)}",
            "",
        ]
    ]
    for alt in plan.alternatives:
        status = alt.get("status", "ok" if alt.get("feasible") else "infeasible")
        rows.append(
            [
                show_text(alt.get("label")),
                show_whole(alt.get("count")),
                {"ok": "yes", "not_found": "not found"}.get(str(status), "none exists"),
                show_percent(alt.get("coterminosity")),
                show_number(alt.get("pcns_split"), 0),
                show_number(alt.get("cut_border_km"), 1),
                show_number(alt.get("mean_polsby_popper"), 3),
                show_number(alt.get("objective"), 4),
                show_text(alt.get("effort")),
                _note(alt),
            ]
        )
    blocks.append(Table(headers, rows, {1, 3, 4, 5, 6, 7}))
    if "frontier" in available:
        blocks.append(
            Figure(
                "frontier",
                "Coterminosity against cut border for each run. The star is this plan; "
                "alternatives are quick estimates.",
            )
        )
    else:
        blocks.append(Para("No run has both coterminosity and cut border, so the frontier plot is left out."))
    return blocks


def _note(alt: Mapping[str, Any]) -> str:
    notes = []
    asked, label = str(alt.get("asked", "") or ""), str(alt.get("label", "") or "")
    if asked and asked != label and alt.get("feasible"):
        notes.append(f"asked for '{asked}'; the nearest count the rules allow was used")
    if alt.get("error"):
        notes.append(str(alt["error"]))
    return "; ".join(notes)
