"""Terminal and machine-readable summaries of a plan: what ``sda propose`` prints.

``summary_table`` is the fixed-width table on the terminal, ``headline_lines`` its closing lines,
``summary_dict`` the JSON that ``--json`` prints and ``summary.json`` holds. ``jsonable`` turns
numpy, pandas and path values into plain JSON types (also used for ``plan.json``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sda.formatting import show_number, show_percent, show_signed_number, show_text, show_whole
from sda.metrics import outside_band
from sda.pcn import pcn_names
from sda.plan import Plan

__all__ = ["TERMINAL_AREAS", "headline_lines", "jsonable", "rules_hold_text", "summary_dict", "summary_table"]

#: Areas listed on the terminal at most. A national plan has over a thousand; the terminal then
#: shows the first ones and says where every area is listed (``areas.csv``, ``summary.json``).
TERMINAL_AREAS = 60


def summary_dict(plan: Plan) -> dict[str, Any]:
    """Build the machine-readable summary (``summary.json``, and what ``--json`` prints).

    Returns
    -------
    dict
        JSON-ready (NaN becomes ``None``): ``n_areas``, ``n_units``, ``total_population``,
        ``band`` ``[min, max]``, ``all_in_band``, ``areas_outside_band``, ``scores``, ``rules``,
        ``bound``, ``warnings``, ``areas`` (id, population, deviation_pct, n_units,
        dominant_pcn, pcn_coterminosity) and ``provenance``.
    """
    band_min, band_max = _band(plan)
    pops = plan.areas["population"]
    outside = outside_band(pops, band_min, band_max)
    columns = ["name", "population", "deviation_pct", "n_units", "n_parts", "dominant_pcn", "pcn_coterminosity"]
    areas = plan.areas[[c for c in columns if c in plan.areas.columns]]
    summary = {
        "n_areas": len(plan.areas),
        "n_units": len(plan.units),
        "total_population": int(plan.units["population"].sum()),
        "band": [band_min, band_max],
        "all_in_band": not outside,
        "areas_outside_band": outside,
        "scores": plan.scores,
        "rules": [dataclasses.asdict(r) for r in plan.rules],
        "bound": plan.bound,
        "warnings": plan.warnings,
        "areas": [{"area_id": a, **row} for a, row in zip(areas.index, areas.to_dict("records"), strict=True)],
        "provenance": plan.provenance,
    }
    plain: dict[str, Any] = jsonable(summary)
    return plain


def summary_table(plan: Plan, max_areas: int = TERMINAL_AREAS) -> str:
    """Fixed-width text table of the areas and the headline scores, for the terminal.

    Returns
    -------
    str
        One line per area (id, name, population, deviation %, units, dominant PCN by name, coterminosity;
        the first ``max_areas`` only, then a line saying how many more and where they are), a total
        line, then the scores and the rule results; ends with a newline.
    """
    headers = ["Area", "Name", "Population", "Dev %", "Units", "Dominant PCN", "Cotermin."]
    rows = []
    pcn = pcn_names(plan.practices)
    for area, row in plan.areas.head(max_areas).iterrows():
        dominant = show_text(row.get("dominant_pcn"))
        rows.append(
            [
                str(area),
                show_text(row.get("name")) or str(area),
                show_whole(row.get("population")),
                show_signed_number(row.get("deviation_pct"), 1),
                show_whole(row.get("n_units")),
                pcn.get(dominant, dominant) or "-",
                show_percent(row.get("pcn_coterminosity")),
            ]
        )
    total = [
        "Total",
        "",
        show_whole(plan.units["population"].sum()),
        "",
        show_whole(len(plan.units)),
        "",
        show_percent(plan.scores.get("coterminosity")),
    ]
    widths = [max(len(r[i]) for r in [headers, *rows, total]) for i in range(len(headers))]
    left = {0, 1, 5}  # text columns; numbers are right-aligned so digits line up

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    more = len(plan.areas) - len(rows)
    listed = [line(r) for r in rows]
    if more > 0:
        plural = "s" if more > 1 else ""
        listed.append(f"... and {more:,} more area{plural}: every area is in areas.csv, plan.gpkg and summary.json")
    lines = [line(headers), rule, *listed, rule, line(total), "", *headline_lines(plan)]
    return "\n".join(lines) + "\n"


def headline_lines(plan: Plan) -> list[str]:
    band_min, band_max = _band(plan)
    pops = plan.areas["population"]
    outside = [str(a) for a in outside_band(pops, band_min, band_max)]
    band = f"{band_min:,}-{band_max:,}"
    status = f"all within {band}" if not outside else f"{len(outside)} OUTSIDE {band}: {', '.join(outside)}"
    s = plan.scores
    lines = [
        f"{len(plan.areas)} area{'' if len(plan.areas) == 1 else 's'}, {status}.",
        f"Coterminosity {show_percent(s.get('coterminosity'))}, PCNs split {show_number(s.get('pcns_split'), 0)}, "
        f"cut border {show_number(s.get('cut_border_km'), 1)} km, mean Polsby-Popper "
        f"{show_number(s.get('mean_polsby_popper'), 3)}, objective {show_number(s.get('objective'), 4)}.",
    ]
    failed = [r.name for r in plan.rules if not r.ok]
    if plan.rules:
        lines.append(f"Rules: {rules_hold_text(plan)}." if not failed else f"Rules FAILED: {', '.join(failed)}.")
    if plan.bound and "gap" in plan.bound:
        lines.append(f"Gap to the HiGHS bound: {show_percent(plan.bound['gap'], 2)}.")
    return lines


def jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars unwrapped, NaN/inf -> None, frames as columns + records."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return {"columns": [str(c) for c in value.columns], "records": jsonable(value.to_dict("records"))}
    if isinstance(value, set | frozenset):
        return [jsonable(v) for v in sorted(value, key=str)]
    if isinstance(value, list | tuple | np.ndarray | pd.Series | pd.Index):
        return [jsonable(v) for v in list(value)]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if value is None or isinstance(value, str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _band(plan: Plan) -> tuple[int, int]:
    return int(plan.config.areas.min_population), int(plan.config.areas.max_population)


def rules_hold_text(plan: Plan) -> str:
    """That every rule holds, naming them: "both hold (band, contiguity)", not "all 2 hold"."""
    held = ", ".join(r.name for r in plan.rules)
    every = {1: "the one rule holds", 2: "both hold"}.get(len(plan.rules), f"all {len(plan.rules)} hold")
    return f"{every} ({held})"
