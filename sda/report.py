"""The report: a Plan explained for officers and committee, as Markdown and self-contained HTML.

This module owns what the report says. It reads only the Plan (never re-running anything), so
``sda report DIR`` can re-render it from a saved output folder. The content is built once as a
list of simple blocks (headings, paragraphs, tables, figures, cards) and then written out by two
small renderers, so the Markdown and HTML versions always say the same thing. The HTML embeds
its figures as base64 PNGs and its CSS inline: one file that opens offline and can be emailed.
Every string that comes from data or config is escaped in the HTML.

Sections: headline, map, areas table, rules checked, trade-offs, ensemble ranking, one card per
area (room in the band, districts and PCNs, boundary units that could move), data caveats,
warnings and provenance.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import pandas as pd

from sda.formatting import (
    as_float,
    show_number,
    show_percent,
    show_signed_number,
    show_signed_whole,
    show_text,
    show_whole,
)
from sda.maps import drawable_figures, render_figures
from sda.metrics import in_band, outside_band
from sda.plan import Bound, Plan

__all__ = ["ENSEMBLE_DIRECTIONS", "movable_units", "render_report_html", "render_report_md"]

#: Whether a higher value of an ensemble score is better (True) or worse (False).
ENSEMBLE_DIRECTIONS: dict[str, bool] = {
    "coterminosity": True,
    "mean_polsby_popper": True,
    "cut_border_km": False,
    "objective": False,
    "pcns_split": False,
    "cut_edges": False,
    "mean_abs_deviation_pct": False,
    "district_splits": False,
}

#: Decimal places for ensemble scores in the ranking table (others: 3).
_SCORE_PLACES = {
    "cut_border_km": 1,
    "objective": 4,
    "mean_abs_deviation_pct": 2,
    "pcns_split": 0,
    "cut_edges": 0,
    "district_splits": 0,
}

#: How many candidate boundary moves each area card lists.
MAX_MOVES_LISTED = 5

_FIGURE_TITLES = {
    "map": "Map of the proposed areas",
    "frontier": "Trade-offs between alternative runs",
    "ensemble": "Where this plan sits among alternative valid plans",
}


# --------------------------------------------------------------------------- blocks


@dataclass
class _Heading:
    level: int
    text: str


@dataclass
class _Para:
    text: str
    label: str = ""  # shown in bold before the text


@dataclass
class _List:
    items: list[tuple[str, str]]  # (bold label, text); an empty label gives a plain item


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[str]]
    right: set[int] = field(default_factory=set)  # numeric columns, right-aligned


@dataclass
class _Figure:
    key: str
    caption: str


@dataclass
class _Pre:
    text: str


@dataclass
class _Card:
    title: str
    blocks: list[Any]


# --------------------------------------------------------------------------- public API


def render_report_md(plan: Plan, *, images: Mapping[str, str] | None = None) -> str:
    """Render the report as Markdown.

    Parameters
    ----------
    plan
        The plan to explain.
    images
        Figure key (``"map"``, ``"frontier"``, ``"ensemble"``) -> relative path of a PNG already
        written next to the report (``sda.outputs.write_report`` does this). Figures without a
        path are referred to ``report.html``, which embeds them.

    Returns
    -------
    str
        The Markdown text.
    """
    return _to_markdown(_build(plan, available=drawable_figures(plan)), images or {})


def render_report_html(plan: Plan, *, figures: Mapping[str, bytes | None] | None = None) -> str:
    """Render the report as one self-contained HTML page (inline CSS, figures as data URIs).

    Parameters
    ----------
    plan
        The plan to explain.
    figures
        Pre-drawn figures from ``sda.maps.render_figures`` (to avoid drawing twice); drawn here
        when omitted.

    Returns
    -------
    str
        The HTML document.
    """
    if figures is None:
        figures = render_figures(plan)
    available = {k for k, v in figures.items() if v}
    body = _to_html(_build(plan, available=available), figures)
    title = html.escape(f"Service delivery areas: {len(plan.areas)} areas")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>'
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


def movable_units(plan: Plan) -> pd.DataFrame:
    """Boundary units that could move to a neighbouring area without breaking the band.

    A unit on an area's edge can move to a touching area when the area it leaves stays at or
    above ``min_population`` and keeps at least one unit, the receiving area stays at or below
    ``max_population``, and the area it leaves stays connected (the unit is not a cut vertex of
    its area's subgraph).

    Returns
    -------
    pandas.DataFrame
        One row per (unit, receiving area): ``area_id``, ``unit_code``, ``unit_name``,
        ``population``, ``to_area``, ``shared_border_m``, ``area_pop_after``,
        ``to_pop_after`` and ``helps_pcn`` (the unit's PCN is the receiving area's dominant PCN
        and not its own area's). Sorted by area, then PCN-helping moves and longest shared
        border first.
    """
    band_min, band_max = _band(plan)
    assignment = {str(k): v for k, v in plan.assignment.items()}
    pops = {str(k): int(v) for k, v in plan.units["population"].items()}
    area_pop = plan.units.groupby("area_id")["population"].sum()
    area_size = plan.units.groupby("area_id").size()
    border: dict[tuple[str, Any], float] = {}
    for u, v, data in plan.graph.edges(data=True):
        a, b = assignment.get(str(u)), assignment.get(str(v))
        if a is None or b is None or a == b:
            continue
        length = float(data.get("border_m", 0.0) or 0.0)
        border[(str(u), b)] = border.get((str(u), b), 0.0) + length
        border[(str(v), a)] = border.get((str(v), a), 0.0) + length
    rows = []
    for (unit, to_area), length in border.items():
        area = assignment[unit]
        after, to_after = int(area_pop[area]) - pops[unit], int(area_pop[to_area]) + pops[unit]
        if area_size[area] > 1 and after >= band_min and to_after <= band_max:
            rows.append((area, unit, to_area, length, after, to_after))
    frame = pd.DataFrame(
        rows, columns=["area_id", "unit_code", "to_area", "shared_border_m", "area_pop_after", "to_pop_after"]
    )
    frame = frame[~frame["unit_code"].isin(_cut_vertices(plan, set(frame["area_id"])))]
    return _describe_moves(plan, frame)


# --------------------------------------------------------------------------- building the content


def _build(plan: Plan, *, available: set[str]) -> list[Any]:
    blocks: list[Any] = [_Heading(1, f"Proposed service delivery areas: {len(plan.areas)} areas")]
    for section in (
        _headline,
        _changes_section,
        _map_section,
        _areas_section,
        _rules_section,
        _tradeoffs_section,
        _ensemble_section,
        _cards_section,
        _caveats_section,
        _warnings_section,
        _provenance_section,
    ):
        blocks.extend(section(plan, available))
    return blocks


def _headline(plan: Plan, available: set[str]) -> list[Any]:
    band_min, band_max = _band(plan)
    pops = plan.areas["population"]
    outside = [f"{a} ({show_whole(pops[a])})" for a in outside_band(pops, band_min, band_max)]
    band = f"{show_whole(band_min)}-{show_whole(band_max)}"
    in_band = (
        f"yes, every area has {band} residents"
        if not outside
        else f"NO: {len(outside)} outside {band}: {', '.join(outside)}"
    )
    s = plan.scores
    items = [
        (
            "Areas",
            f"{len(plan.areas)}, for {show_whole(plan.units['population'].sum())} residents in {len(plan.units)} units",
        ),
        ("All in the population band", in_band),
        ("Smallest and largest area", f"{show_whole(pops.min())} and {show_whole(pops.max())}" if len(pops) else "n/a"),
        ("PCN coterminosity", _coterminosity_text(plan)),
        ("PCNs split between areas", _pcns_split_text(plan)),
        (
            "Cut border",
            f"{show_number(s.get('cut_border_km'), 1)} km of boundary between different areas (lower is more compact)",
        ),
        (
            "Mean Polsby-Popper",
            f"{show_number(s.get('mean_polsby_popper'), 3)} (1 is a circle; higher is more compact)",
        ),
        ("Rules", _rules_text(plan)),
    ]
    if plan.bound:
        items.append(("Gap to the exact bound", _bound_text(plan.bound, s)))
    if plan.warnings:
        items.append(("Warnings", f"{len(plan.warnings)}, listed under Warnings below"))
    return [_Heading(2, "Headline"), _List(items)]


def _coterminosity_text(plan: Plan) -> str:
    value = as_float(plan.scores.get("coterminosity"))
    if math.isnan(value):
        return "n/a (PCN alignment was not used)"
    return f"{value:.1%} ({value:.3f}) of residents live in an area whose dominant PCN is their own PCN"


def _pcns_split_text(plan: Plan) -> str:
    value = as_float(plan.scores.get("pcns_split"))
    if math.isnan(value):
        return "n/a"
    n_pcns = _pcn_codes(plan).nunique()
    return f"{int(value)} of {n_pcns} PCNs have residents in more than one area"


def _rules_text(plan: Plan) -> str:
    failed = [r.name for r in plan.rules if not r.ok]
    if not plan.rules:
        return "none recorded"
    if not failed:
        return f"all {len(plan.rules)} hold"
    return f"{len(failed)} of {len(plan.rules)} FAIL: {', '.join(failed)}"


def _bound_text(bound: Bound, scores: Mapping[str, float]) -> str:
    """``bound["gap"]`` is read as a fraction (0.012 = 1.2%) of the bound."""
    gap = as_float(bound.get("gap"))
    parts = [f"{gap:.2%}" if not math.isnan(gap) else "not known"]
    value = as_float(bound.get("bound"))
    if not math.isnan(value):
        achieved = as_float(bound.get("plan", scores.get("coterminosity")))
        parts.append(f"in PCN coterminosity (plan {achieved:.3f}, no plan can exceed {value:.3f})")
        full = bound.get("full_model")
        if isinstance(full, str):
            parts.append(f"; aggregate HiGHS bound only ({full})")
        elif isinstance(full, Mapping):
            took = f" in {full['seconds']} s" if full.get("seconds") is not None else ""
            parts.append(f"; full HiGHS model: {full.get('status')}{took}")
    parts += [f"; bound used: {bound['method']}"] if bound.get("method") else []
    return " ".join(parts)


def _changes_section(plan: Plan, available: set[str]) -> list[Any]:
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
        _Heading(2, "Changes since the previous plan"),
        _Para(
            f"Re-run from {record.get('source', 'the previous plan')}: {show_whole(len(moved))} units and "
            f"{show_whole(residents)} residents ({show_percent(residents / total if total else 0.0, 2)}) are in "
            f"another area than before. Units carried by {record.get('weighting', '-')}: {carried}. "
            f"{record.get('count_note', '')}."
        ),
        _Para(
            f"Areas created: {', '.join(record.get('created_ids') or []) or 'none'}; retired: "
            f"{', '.join(record.get('retired_ids') or []) or 'none'}. Every other area keeps its id."
        ),
    ]
    ambiguous = record.get("ambiguous") or []
    notes = [*(record.get("notes") or [])]
    if ambiguous:
        notes.append(f"Ambiguous (no previous area holds 80% of them): {', '.join(ambiguous)}.")
    if notes:
        blocks.append(_List([("", n) for n in notes]))
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
        blocks.append(_Table(["Unit", "How", "From units", "Previous area", "Share", "Residents"], rows, {4, 5}))
    if moved:
        rows = [[m["unit_code"], m["from_area"], m["to_area"], show_whole(m["population"])] for m in moved]
        blocks.append(_Table(["Moved unit", "From", "To", "Residents"], rows, {3}))
    if "changes" in available:
        blocks.append(_Figure("changes", "Units in another area than in the previous plan (red)."))
    return blocks


def _map_section(plan: Plan, available: set[str]) -> list[Any]:
    caption = "Areas coloured and labelled by id over the unit boundaries (grey)"
    if _has_practices(plan):
        caption += "; dots are GP practices"
    return [_Heading(2, "Map"), _Figure("map", caption + ".")]


def _areas_section(plan: Plan, available: set[str]) -> list[Any]:
    areas = plan.areas
    headers = [
        "Area",
        "Population",
        "Deviation",
        "Deviation %",
        "Units",
        "Districts",
        "Dominant PCN",
        "Coterminosity",
        "Polsby-Popper",
    ]
    rows = []
    names, pcn_names = _district_names(plan), _pcn_names(plan)
    for area, row in areas.iterrows():
        districts = [d for d in str(row.get("districts", "") or "").split(";") if d]
        rows.append(
            [
                str(area),
                show_whole(row["population"]),
                show_signed_whole(row.get("deviation")),
                show_signed_number(row.get("deviation_pct"), 1) + "%",
                show_whole(row.get("n_units")),
                "; ".join(names.get(d, d) for d in districts) or show_whole(row.get("n_districts")),
                pcn_names.get(show_text(row.get("dominant_pcn")), show_text(row.get("dominant_pcn"))) or "-",
                show_percent(row.get("pcn_coterminosity")),
                show_number(row.get("polsby_popper"), 3),
            ]
        )
    total = show_whole(areas["population"].sum())
    rows.append(
        [
            "Total",
            total,
            "",
            "",
            show_whole(len(plan.units)),
            "",
            "",
            show_percent(plan.scores.get("coterminosity")),
            "",
        ]
    )
    blocks: list[Any] = [_Heading(2, "Areas")]
    if plan.target_population:
        blocks.append(_Para(f"Deviation is from the target of {show_whole(plan.target_population)} residents."))
    return [*blocks, _Table(headers, rows, {1, 2, 3, 4, 7, 8})]


def _rules_section(plan: Plan, available: set[str]) -> list[Any]:
    if not plan.rules:
        return [_Heading(2, "Rules checked"), _Para("No rule results were recorded for this plan.")]
    rows = [[r.name, "pass" if r.ok else "FAIL", r.detail or ""] for r in plan.rules]
    return [_Heading(2, "Rules checked"), _Table(["Rule", "Result", "Detail"], rows)]


def _tradeoffs_section(plan: Plan, available: set[str]) -> list[Any]:
    blocks: list[Any] = [_Heading(2, "Trade-offs")]
    if not plan.alternatives:
        return [*blocks, _Para("No alternative runs were made, so there is no trade-off table or frontier plot.")]
    headers = [
        "Run",
        "Areas",
        "Feasible",
        "Coterminosity",
        "PCNs split",
        "Cut border km",
        "Mean P-P",
        "Objective",
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
            "",
        ]
    ]
    for alt in plan.alternatives:
        rows.append(
            [
                show_text(alt.get("label")),
                show_whole(alt.get("count")),
                "yes" if alt.get("feasible") else "no",
                show_percent(alt.get("coterminosity")),
                show_number(alt.get("pcns_split"), 0),
                show_number(alt.get("cut_border_km"), 1),
                show_number(alt.get("mean_polsby_popper"), 3),
                show_number(alt.get("objective"), 4),
                show_text(alt.get("error")),
            ]
        )
    blocks.append(_Para("Each row is a run with a different area count, weights or rules; compare it with this plan."))
    blocks.append(_Table(headers, rows, {1, 3, 4, 5, 6, 7}))
    if "frontier" in available:
        blocks.append(
            _Figure(
                "frontier",
                "Coterminosity against cut border: up and to the left is worse, "
                "down and to the right is better. The star is this plan.",
            )
        )
    else:
        blocks.append(_Para("No run has both coterminosity and cut border, so the frontier plot is left out."))
    return blocks


def _ensemble_section(plan: Plan, available: set[str]) -> list[Any]:
    blocks: list[Any] = [_Heading(2, "Ensemble ranking")]
    ensemble = plan.ensemble
    if ensemble is None or ensemble.empty:
        return [*blocks, _Para("No ensemble of alternative valid plans was drawn, so this plan is not ranked.")]
    rows = []
    for column, higher_better in ENSEMBLE_DIRECTIONS.items():
        if column not in ensemble.columns:
            continue
        values = pd.to_numeric(ensemble[column], errors="coerce").dropna()
        mine = as_float(plan.scores.get(column))
        if values.empty or math.isnan(mine):
            continue
        share = (values <= mine).mean() if higher_better else (values >= mine).mean()
        places = _SCORE_PLACES.get(column, 3)
        rows.append(
            [
                column,
                show_number(mine, places),
                show_number(values.min(), places),
                show_number(values.median(), places),
                show_number(values.max(), places),
                f"{share:.0%}",
                "higher" if higher_better else "lower",
            ]
        )
    blocks.append(
        _Para(
            f"This plan compared with {len(ensemble)} alternative valid plans. "
            "'At least as good as' is the share of ensemble plans this plan matches or beats."
        )
    )
    if rows:
        blocks.append(
            _Table(
                ["Score", "This plan", "Min", "Median", "Max", "At least as good as", "Better is"],
                rows,
                {1, 2, 3, 4, 5},
            )
        )
    if "ensemble" in available:
        blocks.append(_Figure("ensemble", "Histograms of the ensemble's scores; the red line is this plan."))
    return blocks


def _cards_section(plan: Plan, available: set[str]) -> list[Any]:
    moves = movable_units(plan)
    blocks: list[Any] = [
        _Heading(2, "Area by area"),
        _Para(
            "For each area: how much room it has in the band, who lives in it, and which of its boundary units "
            "could move to a neighbouring area while both stay in the band (and the area stays in one piece)."
        ),
    ]
    # Everything per area is grouped once here: thousands of areas must not mean thousands of scans.
    moves_of = dict(tuple(moves.groupby("area_id"))) if len(moves) else {}
    members_of = dict(tuple(plan.units.groupby("area_id")))
    edges_of = _edge_populations(plan)
    pcn_names = _pcn_names(plan)
    districts_of = _residents_by_area(plan.units, "district", _district_names(plan))
    pcns_of = _residents_by_area(plan.units, "pcn_code", pcn_names)
    for area in plan.areas.index:
        facts = _AreaFacts(
            n_units=len(members_of.get(area, ())),
            districts=districts_of.get(area, ""),
            pcns=pcns_of.get(area, ""),
            moves=moves_of.get(area, moves.iloc[0:0]),
            edge_pops=edges_of.get(area, ([], [])),
        )
        blocks.append(_Card(f"Area {area}", _card(plan, area, facts, pcn_names)))
    return blocks


@dataclass
class _AreaFacts:
    """What one area's card needs beyond the area table: its unit count, residents by district and
    by PCN (as text), its possible moves, and the populations of its boundary units and of the
    units just outside it."""

    n_units: int
    districts: str
    pcns: str
    moves: pd.DataFrame
    edge_pops: tuple[list[int], list[int]]


def _card(plan: Plan, area: Any, facts: _AreaFacts, pcn_names: Mapping[str, str]) -> list[Any]:
    row = plan.areas.loc[area]
    population = int(row["population"])
    dominant = show_text(row.get("dominant_pcn"))
    items = [
        ("Population", _room_text(population, *_band(plan))),
        ("Binding", _binding_text(plan, population, facts.edge_pops)),
        ("Units", show_whole(facts.n_units)),
        ("Districts", facts.districts),
        ("PCNs", facts.pcns or "none recorded"),
        (
            "Dominant PCN",
            f"{pcn_names.get(dominant, dominant) or '-'}, "
            f"holding {show_percent(row.get('pcn_coterminosity'))} of its residents",
        ),
    ]
    return [_List(items), *_moves_blocks(population, facts.moves)]


def _room_text(population: int, band_min: int, band_max: int) -> str:
    if population < band_min:
        return f"{show_whole(population)}: {show_whole(band_min - population)} BELOW the minimum {show_whole(band_min)}"
    if population > band_max:
        return f"{show_whole(population)}: {show_whole(population - band_max)} ABOVE the maximum {show_whole(band_max)}"
    return (
        f"{show_whole(population)}: {show_whole(population - band_min)} above the minimum {show_whole(band_min)}, "
        f"{show_whole(band_max - population)} below the maximum {show_whole(band_max)}"
    )


def _moves_blocks(population: int, moves: pd.DataFrame) -> list[Any]:
    if moves.empty:
        return [
            _Para("No boundary unit can move to a neighbouring area without breaking the band or splitting this area.")
        ]
    shown = moves.head(MAX_MOVES_LISTED)
    rows = [
        [
            _unit_label(r.unit_code, r.unit_name),
            show_whole(r.population),
            str(r.to_area),
            f"{show_whole(population)} -> {show_whole(r.area_pop_after)}",
            f"{show_whole(r.to_pop_after - r.population)} -> {show_whole(r.to_pop_after)}",
            "yes" if r.helps_pcn else "",
        ]
        for r in shown.itertuples()
    ]
    more = f" (showing {len(shown)} of {len(moves)})" if len(moves) > len(shown) else ""
    headers = ["Unit", "Residents", "To area", "This area", "Receiving area", "Joins its PCN's area"]
    return [_Para(f"Boundary units that could move{more}:"), _Table(headers, rows, {1})]


def _binding_text(plan: Plan, population: int, edge_pops: tuple[list[int], list[int]]) -> str:
    """Whether the band, not the objective, stops this area giving or taking boundary units."""
    band_min, band_max = _band(plan)
    if not in_band(population, band_min, band_max):
        return "outside the band"
    inside, outside = edge_pops
    notes = []
    if inside and population - min(inside) < band_min:
        notes.append(
            f"at minimum: losing any of its {len(inside)} boundary units would take it below {show_whole(band_min)}"
        )
    if outside and population + min(outside) > band_max:
        notes.append(f"at maximum: gaining any neighbouring unit would take it above {show_whole(band_max)}")
    return "; ".join(notes) if notes else "no: it can give and take boundary units within the band"


def _unit_label(code: str, name: Any) -> str:
    name = show_text(name)
    return code if not name or name == code else f"{code} {name}"


def _edge_populations(plan: Plan) -> dict[Any, tuple[list[int], list[int]]]:
    """Per area, the populations of its boundary units and of the neighbouring units outside it
    (one pass over the links for all areas)."""
    assignment = {str(k): v for k, v in plan.assignment.items()}
    pops = {str(k): int(v) for k, v in plan.units["population"].items()}
    inside: dict[Any, set[str]] = {}
    outside: dict[Any, set[str]] = {}
    for u, v in plan.graph.edges():
        a, b = assignment.get(str(u)), assignment.get(str(v))
        if a == b or a is None or b is None:
            continue
        inside.setdefault(a, set()).add(str(u))
        outside.setdefault(a, set()).add(str(v))
        inside.setdefault(b, set()).add(str(v))
        outside.setdefault(b, set()).add(str(u))
    return {area: ([pops[c] for c in inside[area]], [pops[c] for c in outside.get(area, set())]) for area in inside}


def _caveats_section(plan: Plan, available: set[str]) -> list[Any]:
    items: list[tuple[str, str]] = []
    code_field = str(getattr(plan.config.units, "code_field", "") or "")
    if code_field.upper().startswith("LSOA"):
        items.append(
            (
                "Units",
                "the building blocks are 2011 Lower Layer Super Output Areas (LSOAs) with populations "
                f"from {plan.provenance.get('population_source') or 'ONS mid-2018 estimates'}, "
                "standing in for civil parishes, whose boundaries "
                "and populations were not available. Areas built from them are realistic in size "
                "and shape but do not follow parish boundaries.",
            )
        )
    else:
        items.append(
            (
                "Units",
                f"{len(plan.units)} units read from {plan.config.units.path.name} "
                f"(code field {code_field!r}); populations: "
                f"{plan.provenance.get('population_source') or 'as given in the input'}.",
            )
        )
    items.append(("PCN affiliation", _pcn_method_text(plan)))
    for extra in plan.provenance.get("data_caveats", []) or []:
        items.append(("", str(extra)))
    return [_Heading(2, "Data caveats"), _List(items)]


_PCN_METHODS = {
    "nearest": "each unit is given the PCN of the GP practice nearest its centroid.",
    "shares": "each unit is given the PCN holding the largest share of its registered patients.",
}
_NEAREST_CAVEAT = (
    " This approximates where residents are registered; patients choose their practice, so real PCN catchments overlap."
)


def _pcn_method_text(plan: Plan) -> str:
    """Explain the PCN method; the run's own description (provenance) wins over the config keyword."""
    if plan.config.pcn.practices is None and not plan.provenance.get("pcn_method"):
        return "PCN alignment was not used (no GP practice file configured)."
    method = plan.config.pcn.method
    described = str(plan.provenance.get("pcn_method") or method)
    text = _PCN_METHODS.get(described, described.rstrip(".") + ".")
    return text + (_NEAREST_CAVEAT if method == "nearest" else "")


def _warnings_section(plan: Plan, available: set[str]) -> list[Any]:
    if not plan.warnings:
        return [_Heading(2, "Warnings"), _Para("None.")]
    return [_Heading(2, "Warnings"), _List([("", str(w)) for w in plan.warnings])]


def _provenance_section(plan: Plan, available: set[str]) -> list[Any]:
    cfg = plan.config
    rows = [
        ["sda version", show_text(plan.provenance.get("sda_version")) or "unknown"],
        ["config file", cfg.source.as_posix() if cfg.source else "(built in code)"],
        ["config sha256", cfg.sha256 or show_text(plan.provenance.get("config_sha256")) or "-"],
        ["seed", str(cfg.search.seed)],
    ]
    shown = {"sda_version", "config_sha256", "seed", "data_caveats", "previous", "lineage"}
    rows += [[key, value] for key, value in _flatten(plan.provenance) if key not in shown]
    return [
        _Heading(2, "Provenance"),
        _Table(["Item", "Value"], rows),
        _Para("The configuration this run actually used:"),
        _Pre(json.dumps(cfg.to_dict(), indent=2, default=str)),
    ]


# --------------------------------------------------------------------------- data helpers


def _band(plan: Plan) -> tuple[int, int]:
    return int(plan.config.areas.min_population), int(plan.config.areas.max_population)


def _has_practices(plan: Plan) -> bool:
    return plan.practices is not None and len(plan.practices) > 0


def _pcn_codes(plan: Plan) -> pd.Series:
    if "pcn_code" not in plan.units.columns:
        return pd.Series([], dtype=object)
    codes = plan.units["pcn_code"].dropna().astype(str)
    return codes[codes != ""]


def _district_names(plan: Plan) -> dict[str, str]:
    if "district_name" not in plan.units.columns:
        return {}
    pairs = plan.units[["district", "district_name"]].dropna().drop_duplicates("district")
    return {str(d): f"{n} ({d})" if str(n) and str(n) != str(d) else str(d) for d, n in pairs.itertuples(index=False)}


def _pcn_names(plan: Plan) -> dict[str, str]:
    practices = plan.practices
    if practices is None or "pcn_name" not in practices.columns:
        return {}
    pairs = practices[["pcn_code", "pcn_name"]].dropna().drop_duplicates("pcn_code")
    return {str(c): f"{n} ({c})" for c, n in pairs.itertuples(index=False)}


def _residents_by_area(units: pd.DataFrame, column: str, names: Mapping[str, str]) -> dict[Any, str]:
    """Per area, "name: residents; ..." for each value of ``column``, largest first."""
    if column not in units.columns:
        return {}
    keys = units[column].fillna("").astype(str)
    totals = units.groupby([units["area_id"], keys])["population"].sum()
    texts: dict[Any, str] = {}
    for area, part in totals.groupby(level=0):
        ordered = part.droplevel(0).sort_values(ascending=False)
        texts[area] = "; ".join(f"{names.get(k, k) if k else 'none'}: {show_whole(v)}" for k, v in ordered.items())
    return texts


def _cut_vertices(plan: Plan, areas: set[Any]) -> set[str]:
    """Units whose removal would split their own area (only for areas with candidate moves)."""
    found: set[str] = set()
    codes_by_area = plan.units.groupby("area_id").groups
    for area in areas:
        members = [str(c) for c in codes_by_area[area]]
        found.update(str(c) for c in nx.articulation_points(plan.graph.subgraph(members)))
    return found


def _describe_moves(plan: Plan, frame: pd.DataFrame) -> pd.DataFrame:
    units = plan.units
    names = units["unit_name"] if "unit_name" in units.columns else pd.Series(units.index, index=units.index)
    frame = frame.assign(
        unit_name=frame["unit_code"].map(lambda c: str(names.get(c, c))),
        population=frame["unit_code"].map(lambda c: int(units.at[c, "population"])),
    )
    dominant = plan.areas["dominant_pcn"] if "dominant_pcn" in plan.areas.columns else pd.Series(dtype=object)
    pcn = units["pcn_code"] if "pcn_code" in units.columns else pd.Series(dtype=object)

    def helps(row: Any) -> bool:
        own = show_text(pcn.get(row.unit_code))
        return bool(own) and own == show_text(dominant.get(row.to_area)) and own != show_text(dominant.get(row.area_id))

    frame["helps_pcn"] = [helps(r) for r in frame.itertuples()] if len(frame) else pd.Series([], dtype=bool)
    columns = [
        "area_id",
        "unit_code",
        "unit_name",
        "population",
        "to_area",
        "shared_border_m",
        "area_pop_after",
        "to_pop_after",
        "helps_pcn",
    ]
    ordered = frame.sort_values(
        ["helps_pcn", "shared_border_m", "unit_code"], ascending=[False, False, True], kind="stable"
    )
    return ordered[columns].reset_index(drop=True)


def _flatten(value: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            rows.extend(_flatten(item, f"{name}."))
        elif isinstance(item, list | tuple):
            rows.append((name, ", ".join(str(x) for x in item)))
        elif isinstance(item, float):
            rows.append((name, f"{item:g}"))
        else:
            rows.append((name, str(item)))
    return rows


# --------------------------------------------------------------------------- number formatting


# --------------------------------------------------------------------------- Markdown


def _to_markdown(blocks: Sequence[Any], images: Mapping[str, str]) -> str:
    out: list[str] = []
    for block in blocks:
        out.extend(_md_block(block, images))
    return "\n\n".join(part for part in out if part) + "\n"


#: Characters that could make data into a link, image, code span or table cell edge.
_MD_SPECIAL = re.compile(r"([\\`\[\]|])")


def _md(text: Any, *, cell: bool = False) -> str:
    """Text from data or config as inert Markdown: no links, images, emphasis, code or raw HTML.

    ``&``, ``<`` and ``>`` become entities (so ``<script>`` and ``<javascript:...>`` autolinks
    are shown, not run), brackets, backticks, backslashes and pipes are backslash-escaped, line
    breaks become spaces, and (outside table cells) a leading ``-``, ``+``, ``*``, ``#`` or ``1.``
    cannot start a list or heading.
    """
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _MD_SPECIAL.sub(r"\\\1", out).replace("\r", " ").replace("\n", " ")
    if cell:
        return out
    out = re.sub(r"^(\s*)([-+*#])(?=\s|$)", r"\1\\\2", out)
    return re.sub(r"^(\s*\d+)([.)])(?=\s|$)", r"\1\\\2", out)


def _md_block(block: Any, images: Mapping[str, str]) -> list[str]:
    if isinstance(block, _Heading):
        return ["#" * block.level + " " + _md(block.text)]
    if isinstance(block, _Para):
        return [(f"**{_md(block.label)}:** " if block.label else "") + _md(block.text)]
    if isinstance(block, _List):
        return [
            "\n".join(f"- **{_md(label)}:** {_md(text)}" if label else f"- {_md(text)}" for label, text in block.items)
        ]
    if isinstance(block, _Table):
        return [_md_table(block)]
    if isinstance(block, _Figure):
        title = _md(_FIGURE_TITLES.get(block.key, block.key))
        if block.key in images:
            return [f"![{title}]({images[block.key]})\n\n*{_md(block.caption)}*"]
        return [f"*{title}: see report.html.*"]
    if isinstance(block, _Pre):
        # A fence longer than any run of backticks in the text, so nothing in it can close it.
        longest = max((len(run) for run in re.findall(r"`+", block.text)), default=0)
        fence = "`" * max(3, longest + 1)
        return [f"{fence}json\n" + block.text + f"\n{fence}"]
    if isinstance(block, _Card):
        return ["### " + _md(block.title), *(part for b in block.blocks for part in _md_block(b, images))]
    msg = f"unknown report block {block!r}"
    raise TypeError(msg)


def _md_table(table: _Table) -> str:
    def cell(text: str) -> str:
        return _md(text, cell=True)

    align = ["---:" if i in table.right else "---" for i in range(len(table.headers))]
    lines = ["| " + " | ".join(cell(h) for h in table.headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML


def _to_html(blocks: Sequence[Any], figures: Mapping[str, bytes | None]) -> str:
    return "\n".join(_html_block(block, figures) for block in blocks)


def _html_block(block: Any, figures: Mapping[str, bytes | None]) -> str:
    esc = html.escape
    if isinstance(block, _Heading):
        return f'<h{block.level} id="{_slug(block.text)}">{esc(block.text)}</h{block.level}>'
    if isinstance(block, _Para):
        if not block.text:
            return ""
        label = f"<strong>{esc(block.label)}:</strong> " if block.label else ""
        return f"<p>{label}{esc(block.text)}</p>"
    if isinstance(block, _List):
        items = "".join(
            f"<li><strong>{esc(label)}:</strong> {esc(text)}</li>" if label else f"<li>{esc(text)}</li>"
            for label, text in block.items
        )
        return f"<ul>{items}</ul>"
    if isinstance(block, _Table):
        return _html_table(block)
    if isinstance(block, _Figure):
        data = figures.get(block.key)
        if not data:
            return f"<p><em>{esc(_FIGURE_TITLES.get(block.key, block.key))}: not drawn.</em></p>"
        encoded = base64.b64encode(data).decode("ascii")
        alt = esc(_FIGURE_TITLES.get(block.key, block.key))
        return (
            f'<figure><img src="data:image/png;base64,{encoded}" alt="{alt}">'
            f"<figcaption>{esc(block.caption)}</figcaption></figure>"
        )
    if isinstance(block, _Pre):
        return f"<details><summary>Configuration</summary><pre>{esc(block.text)}</pre></details>"
    if isinstance(block, _Card):
        inner = "\n".join(_html_block(b, figures) for b in block.blocks)
        return f'<section class="card"><h3 id="{_slug(block.title)}">{esc(block.title)}</h3>{inner}</section>'
    msg = f"unknown report block {block!r}"
    raise TypeError(msg)


def _html_table(table: _Table) -> str:
    esc = html.escape

    def cls(i: int) -> str:
        return ' class="num"' if i in table.right else ""

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(table.headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{esc(c)}</td>" for i, c in enumerate(row)) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1a1a1a;background:#fff;margin:0}
main{max-width:1100px;margin:0 auto;padding:1.5rem}
h1{font-size:1.6rem;border-bottom:3px solid #2c7bb6;padding-bottom:.3rem}
h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem;margin:.2rem 0 .5rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.88rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f5f8}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafafa}
figure{margin:1rem 0}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0;break-inside:avoid}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;font-size:.8rem}
@media print{main{max-width:none}.card{page-break-inside:avoid}}
"""
