"""The report section of a re-run: what changed since the previous plan (``sda.rerun``)."""

from __future__ import annotations

from typing import Any

from sda.formatting import counted, show_percent, show_whole
from sda.plan import Plan
from sda.report.blocks import Figure, Heading, List, Para, Table


def changes_section(plan: Plan, available: set[str]) -> list[Any]:
    """ "Changes since the previous plan", for a re-run (``provenance["previous"]``, see
    ``sda.rerun``): how units were carried, residents moved, areas created or retired, a map."""
    record = plan.provenance.get("previous")
    if not record:
        return []
    total = int(plan.units["population"].sum())
    moved = list(record.get("moved_units") or [])
    residents = int(record.get("residents_moved", 0))
    counts = {k: v for k, v in (record.get("counts") or {}).items() if v and k != "same code"}
    carried = ", ".join(f"{v} {k}" for k, v in counts.items()) or "every unit under the same code"
    blocks: list[Any] = [
        Heading(2, "Changes since the previous plan"),
        Para(
            f"Re-run from {record.get('source', 'the previous plan')}: {counted(len(moved), 'unit')} and "
            f"{counted(residents, 'resident')} ({show_percent(residents / total if total else 0.0, 2)}) are in "
            f"another area than before. Units carried by {record.get('weighting', '-')}: {carried}. "
            f"{record.get('count_note', '')}."
        ),
        Para(
            f"Areas created: {', '.join(record.get('created_ids') or []) or 'none'}; retired: "
            f"{', '.join(record.get('retired_ids') or []) or 'none'}. Every other area keeps its id."
        ),
    ]
    outside = record.get("outside_band") or []
    if outside:
        told = "; ".join(f"{a['area_id']} with {show_whole(a['population'])}" for a in outside)
        low, high = show_whole(plan.config.areas.min_population), show_whole(plan.config.areas.max_population)
        blocks.append(
            Para(
                f"On the current data, before any move, {counted(len(outside), 'previous area')} "
                f"{'was' if len(outside) == 1 else 'were'} outside the band "
                f"of {low}-{high} residents, so residents had to move: {told}."
            )
        )
    ambiguous = record.get("ambiguous") or []
    notes = [*(record.get("notes") or [])]
    if ambiguous:
        notes.append(f"Ambiguous (no previous area holds 80% of them): {', '.join(ambiguous)}.")
    if notes:
        blocks.append(List([("", n) for n in notes]))
    changed = record.get("changed_units") or []
    if changed:
        rows = [
            [
                c["unit_code"],
                c["kind"],
                c["sources"],
                c["previous_area"],
                show_percent(c["share"]),
                show_whole(c["population"]),
            ]
            for c in changed
        ]
        blocks.append(Table(["Unit", "How", "From units", "Previous area", "Share", "Residents"], rows, {4, 5}))
    if moved:
        blocks.append(Para("Between areas: " + "; ".join(_flows(moved)) + "."))
        rows = [
            [m["unit_code"], m["from_area"], m["to_area"], show_whole(m["population"]), m.get("reason", "")]
            for m in moved
        ]
        blocks.append(Table(["Moved unit", "From", "To", "Residents", "Why"], rows, {3}))
    if "changes" in available:
        blocks.append(Figure("changes", "Units in another area than in the previous plan (red)."))
    return blocks


def _flows(moved: list[dict[str, Any]]) -> list[str]:
    """The moves summed by pair of areas, most residents first ("SDA-05 → SDA-07: 5 units,
    10,971 residents"), as ``sda diff`` prints them: what a committee reads before the table."""
    flows: dict[tuple[str, str], list[int]] = {}
    for m in moved:
        flow = flows.setdefault((str(m["from_area"]), str(m["to_area"])), [0, 0])
        flow[0] += 1
        flow[1] += int(m["population"])
    ordered = sorted(flows.items(), key=lambda kv: (-kv[1][1], kv[0]))
    return [f"{a} → {b}: {counted(n, 'unit')}, {counted(r, 'resident')}" for (a, b), (n, r) in ordered]
