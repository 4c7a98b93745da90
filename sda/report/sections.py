"""What the report says, section by section: each section turns the Plan into blocks.

Sections: headline, map, areas table, rules checked, trade-offs, ensemble ranking, one card per
area (room in the band, districts and PCNs, boundary units that could move), data caveats,
warnings and provenance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sda.area_table import CHANNEL_M, uncovered_gaps
from sda.formatting import (
    as_float,
    counted,
    score_text,
    show_number,
    show_percent,
    show_signed_number,
    show_signed_whole,
    show_text,
    show_whole,
)
from sda.maps.furniture import attribution_lines
from sda.metrics import in_band, outside_band
from sda.naming import BORROW_M, place_populations
from sda.plan import Bound, Plan
from sda.report.analysis import (
    district_labels,
    edge_populations,
    flatten,
    has_practices,
    movable_units,
    pcn_codes,
    pcn_labels,
    population_band,
    residents_by_area,
)
from sda.report.blocks import Card, Figure, Heading, List, Para, Pre, Table
from sda.report.changes import changes_section
from sda.report.glossary import glossary_section, neighbour_rule_text
from sda.report.tradeoffs import tradeoffs_section
from sda.summary import rules_hold_text

#: The scores the ensemble ranking compares, in this order (words and precision: ``SCORE_TEXT``).
ENSEMBLE_RANKED = (
    "coterminosity",
    "mean_polsby_popper",
    "cut_border_km",
    "objective",
    "pcns_split",
    "cut_edges",
    "mean_abs_deviation_pct",
    "district_splits",
)

#: How many candidate boundary moves each area card lists.
MAX_MOVES_LISTED = 5


def build_blocks(plan: Plan, *, available: set[str]) -> list[Any]:
    blocks: list[Any] = [Heading(1, f"Proposed service delivery areas: {len(plan.areas)} areas")]
    for section in (
        _headline,
        changes_section,
        _map_section,
        _areas_section,
        _rules_section,
        tradeoffs_section,
        _ensemble_section,
        _cards_section,
        _caveats_section,
        _warnings_section,
        glossary_section,
        _attribution_section,
        _provenance_section,
    ):
        blocks.extend(section(plan, available))
    return blocks


def _headline(plan: Plan, available: set[str]) -> list[Any]:
    band_min, band_max = population_band(plan)
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
        ("Neighbours", neighbour_rule_text(plan)),
        ("Area outlines", _parts_text(plan)),
    ]
    if plan.bound:
        items.append(("Gap to the HiGHS bound", _bound_text(plan.bound, s)))
    if plan.warnings:
        items.append(("Warnings", f"{len(plan.warnings)}, listed under Warnings below"))
    return [Heading(2, "Headline"), List(items)]


def _parts_text(plan: Plan) -> str:
    """Say which areas are drawn in several pieces (each is still connected by the neighbour rule)."""
    if "n_parts" not in plan.areas.columns:
        return "not measured"
    several = [(a, int(n)) for a, n in plan.areas["n_parts"].items() if int(n) > 1]
    if not several:
        return "every area is one piece"
    listed = ", ".join(f"{area_title(plan, a)} ({n} pieces)" for a, n in several)
    return (
        f"{len(several)} of {len(plan.areas)} areas {'is' if len(several) == 1 else 'are'} drawn in more than one "
        f"piece: {listed}. Each extra piece "
        "lies more than the snap distance from the rest: a detached fragment of a unit's own polygon, an island, "
        "or units joined by a configured link. On the neighbour graph every area is still one connected group"
    )


def area_title(plan: Plan, area: Any) -> str:
    """``"SDA-01 Wisbech"``: the id, and the name when there is one that differs."""
    name = show_text(plan.areas.at[area, "name"]) if "name" in plan.areas.columns else ""
    return f"{area} {name}" if name and name != str(area) else str(area)


def _coterminosity_text(plan: Plan) -> str:
    value = as_float(plan.scores.get("coterminosity"))
    if math.isnan(value):
        return "n/a (PCN alignment was not used)"
    return f"{value:.1%} ({value:.3f}) of residents live in an area whose dominant PCN is their own PCN"


def _pcns_split_text(plan: Plan) -> str:
    value = as_float(plan.scores.get("pcns_split"))
    if math.isnan(value):
        return "n/a"
    n_pcns = pcn_codes(plan).nunique()
    return f"{int(value)} of {n_pcns} PCNs have residents in more than one area"


def _rules_text(plan: Plan) -> str:
    failed = [r.name for r in plan.rules if not r.ok]
    if not plan.rules:
        return "none recorded"
    if not failed:
        return rules_hold_text(plan)
    return f"{len(failed)} of {len(plan.rules)} FAIL: {', '.join(failed)}"


def _bound_text(bound: Bound, scores: Mapping[str, float]) -> str:
    """``bound["gap"]`` is read as a fraction (0.012 = 1.2%) of the bound."""
    gap = as_float(bound.get("gap"))
    head = f"{gap:.2%}" if not math.isnan(gap) else "not known"
    parts = []
    value = as_float(bound.get("bound"))
    if not math.isnan(value):
        achieved = as_float(bound.get("plan", scores.get("coterminosity")))
        # Plain words first (a committee reads this line); how the bound was proved after them.
        head += (
            f": no plan can exceed {value:.1%} PCN coterminosity ({value:.3f}), and this plan has {achieved:.1%} "
            f"({achieved:.3f})"
        )
        full = bound.get("full_model")
        if isinstance(full, str):
            parts.append(f"full per-unit model {full}")
        elif isinstance(full, Mapping):
            took = f" in {full['seconds']} s" if full.get("seconds") is not None else ""
            parts.append(f"full HiGHS model: {full.get('status')}{took}")
    parts += [f"bound used: {bound['method']}"] if bound.get("method") else []
    return f"{head} (how it was proved: {'; '.join(parts)})" if parts else head


def _map_section(plan: Plan, available: set[str]) -> list[Any]:
    caption = (
        "Areas coloured and labelled by id and name (the id alone where the name did not fit; the map's key "
        "gives the name) over the unit boundaries (grey)"
    )
    if has_practices(plan):
        caption += "; dots are GP practices"
    return [Heading(2, "Map"), Figure("map", caption + ".")]


def _areas_section(plan: Plan, available: set[str]) -> list[Any]:
    areas = plan.areas
    headers = [
        "Area",
        "Name",
        "Population",
        "Deviation",
        "Deviation %",
        "Units",
        "Districts",
        "Dominant PCN",
        "Coterminosity",
        "Polsby-Popper",
        "Parts",
    ]
    rows = []
    names, pcn_names = district_labels(plan), pcn_labels(plan)
    for area, row in areas.iterrows():
        districts = [d for d in str(row.get("districts", "") or "").split(";") if d]
        rows.append(
            [
                str(area),
                show_text(row.get("name")) or str(area),
                show_whole(row["population"]),
                show_signed_whole(row.get("deviation")),
                show_signed_number(row.get("deviation_pct"), 1) + "%",
                show_whole(row.get("n_units")),
                "; ".join(names.get(d, d) for d in districts) or show_whole(row.get("n_districts")),
                pcn_names.get(show_text(row.get("dominant_pcn")), show_text(row.get("dominant_pcn"))) or "-",
                show_percent(row.get("pcn_coterminosity")),
                show_number(row.get("polsby_popper"), 3),
                show_whole(row.get("n_parts", 1)),
            ]
        )
    total = show_whole(areas["population"].sum())
    rows.append(
        [
            "Total",
            "",
            total,
            "",
            "",
            show_whole(len(plan.units)),
            "",
            "",
            show_percent(plan.scores.get("coterminosity")),
            "",
            "",
        ]
    )
    blocks: list[Any] = [Heading(2, "Areas")]
    if plan.target_population:
        blocks.append(Para(_deviation_text(plan)))
    blocks.append(
        Para(
            "Names come from the places listed by the small areas (units) inside each area: the place whose "
            "units hold most residents, or two. A unit that lists no place counts under the places of the nearest "
            f"unit of the same area that does (within {BORROW_M / 1000:g} km), so the residents counted for a "
            "place (each area's Places below) are those of the units listing it or counted under it, not the "
            "place's own population; a place split between areas names the one holding most of it. The id stays the "
            "same for this plan. Polsby-Popper is measured on the cleaned outline; Parts is how many pieces the "
            "outline has."
        )
    )
    return [*blocks, Table(headers, rows, {2, 3, 4, 5, 8, 9, 10})]


def _deviation_text(plan: Plan) -> str:
    """What Deviation is measured from, and, when the areas' mean is elsewhere (the count chosen
    for the PCNs, not the target), why most areas sit on one side of it."""
    target = float(plan.target_population or 0)
    text = f"Deviation is from the target of {show_whole(target)} residents."
    mean = float(plan.areas["population"].sum()) / max(len(plan.areas), 1) if len(plan.areas) else target
    if target and abs(mean - target) >= 0.02 * target:
        side = "below" if mean < target else "above"
        text += (
            f" With {len(plan.areas)} areas the mean area holds {show_whole(mean)}, so most areas are {side} the "
            "target: that follows from the number of areas, not from one area's shape."
        )
    return text


def _rules_section(plan: Plan, available: set[str]) -> list[Any]:
    if not plan.rules:
        return [Heading(2, "Rules checked"), Para("No rule results were recorded for this plan.")]
    rows = [[r.name, "pass" if r.ok else "FAIL", r.detail or ""] for r in plan.rules]
    blocks: list[Any] = [Heading(2, "Rules checked"), Table(["Rule", "Result", "Detail"], rows)]
    if "n_parts" in plan.areas.columns and (plan.areas["n_parts"] > 1).any():
        blocks.append(
            Para(
                "Contiguity is checked on the neighbour graph (see Glossary: Neighbours). "
                f"Area outlines: {_parts_text(plan)}."
            )
        )
    return blocks


def _ensemble_section(plan: Plan, available: set[str]) -> list[Any]:
    blocks: list[Any] = [Heading(2, "Ensemble ranking")]
    ensemble = plan.ensemble
    if ensemble is None or ensemble.empty:
        return [*blocks, Para("No ensemble of alternative valid plans was drawn, so this plan is not ranked.")]
    rows = []
    for column in ENSEMBLE_RANKED:
        if column not in ensemble.columns:
            continue
        values = pd.to_numeric(ensemble[column], errors="coerce").dropna()
        mine = as_float(plan.scores.get(column))
        if values.empty or math.isnan(mine):
            continue
        text = score_text(column)
        share = (values <= mine).mean() if text.higher_is_better else (values >= mine).mean()
        rows.append(
            [
                text.words,
                text.show(mine),
                text.show(values.min()),
                text.show(values.median()),
                text.show(values.max()),
                f"{share:.0%}",
                "higher" if text.higher_is_better else "lower",
            ]
        )
    blocks.append(
        Para(
            f"This plan compared with {len(ensemble)} alternative valid plans. "
            "'At least as good as' is the share of ensemble plans this plan matches or beats."
        )
    )
    if rows:
        blocks.append(
            Table(
                ["Score", "This plan", "Min", "Median", "Max", "At least as good as", "Better is"],
                rows,
                {1, 2, 3, 4, 5},
            )
        )
    if "ensemble" in available:
        blocks.append(Figure("ensemble", "Histograms of the ensemble's scores; the red line is this plan."))
    return blocks


def _cards_section(plan: Plan, available: set[str]) -> list[Any]:
    moves = movable_units(plan)
    blocks: list[Any] = [
        Heading(2, "Area by area"),
        Para(
            "For each area: how much room it has in the band, who lives in it, and which of its boundary units "
            "could move to a neighbouring area while both stay in the band (and the area stays in one piece)."
        ),
    ]
    # Everything per area is grouped once here: thousands of areas must not mean thousands of scans.
    moves_of = dict(tuple(moves.groupby("area_id"))) if len(moves) else {}
    members_of = dict(tuple(plan.units.groupby("area_id")))
    edges_of = edge_populations(plan)
    pcn_names = pcn_labels(plan)
    districts_of = residents_by_area(plan.units, "district", district_labels(plan))
    pcns_of = residents_by_area(plan.units, "pcn_code", pcn_names)
    places_of = place_populations(plan.units) if "places" in plan.units.columns else {}
    for area in plan.areas.index:
        facts = _AreaFacts(
            n_units=len(members_of.get(area, ())),
            members=_members_text(members_of.get(area)),
            places="; ".join(f"{p} ({show_whole(n)})" for p, n in places_of.get(str(area), [])),
            districts=districts_of.get(area, ""),
            pcns=pcns_of.get(area, ""),
            moves=moves_of.get(area, moves.iloc[0:0]),
            edge_pops=edges_of.get(area, ([], [])),
        )
        card = _card(plan, area, facts, pcn_names)
        locator = f"locator-{area}"  # a small map of where the area lies, when sda.maps draws one
        if locator in available:
            card.insert(0, Figure(locator, f"Where {area_title(plan, area)} lies in the county."))
        blocks.append(Card(f"Area {area_title(plan, area)}", card))
    return blocks


@dataclass
class _AreaFacts:
    """What one area's card needs beyond the area table: its unit count, residents by district and
    by PCN (as text), its possible moves, and the populations of its boundary units and of the
    units just outside it."""

    n_units: int
    members: str
    places: str
    districts: str
    pcns: str
    moves: pd.DataFrame
    edge_pops: tuple[list[int], list[int]]


def _card(plan: Plan, area: Any, facts: _AreaFacts, pcn_names: Mapping[str, str]) -> list[Any]:
    row = plan.areas.loc[area]
    population = int(row["population"])
    dominant = show_text(row.get("dominant_pcn"))
    items = [
        ("Population", _room_text(population, *population_band(plan))),
        ("Binding", _binding_text(plan, population, facts.edge_pops)),
        ("Units", f"{show_whole(facts.n_units)}: {facts.members}" if facts.members else show_whole(facts.n_units)),
        *([("Places (residents counted for each, as for the name)", facts.places)] if facts.places else []),
        ("Districts", facts.districts),
        ("PCNs", facts.pcns or "none recorded"),
        (
            "Dominant PCN",
            f"{pcn_names.get(dominant, dominant) or '-'}, "
            f"holding {show_percent(row.get('pcn_coterminosity'))} of its residents",
        ),
    ]
    return [List(items), *_moves_blocks(population, facts.moves)]


def _members_text(members: pd.DataFrame | None) -> str:
    """``"E0101 Fenland 002A (2,721); ..."``, largest first."""
    if members is None or members.empty:
        return ""
    names = members["unit_name"] if "unit_name" in members.columns else pd.Series(members.index, index=members.index)
    ordered = sorted(
        zip(members.index, names, members["population"], strict=True), key=lambda t: (-int(t[2]), str(t[0]))
    )
    return "; ".join(f"{_unit_label(str(c), n)} ({show_whole(p)})" for c, n, p in ordered)


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
            Para("No boundary unit can move to a neighbouring area without breaking the band or splitting this area.")
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
    return [Para(f"Boundary units that could move{more}:"), Table(headers, rows, {1})]


def _binding_text(plan: Plan, population: int, edge_pops: tuple[list[int], list[int]]) -> str:
    """Whether the band, not the objective, stops this area giving or taking boundary units."""
    band_min, band_max = population_band(plan)
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
    gaps = uncovered_gaps(plan.areas.geometry) if "geometry" in plan.areas.columns else []
    if gaps:
        one = len(gaps) == 1
        items.append(
            (
                "Gaps",
                f"the areas enclose {counted(len(gaps), 'gap')} that no unit covers "
                f"({show_number(sum(gaps) / 1e4, 1)} ha in all, the largest {show_number(gaps[0] / 1e4, 1)} ha): "
                f"the unit boundaries leave {'it' if one else 'them'} out (a tidal river in clipped boundaries, "
                f"say), and the area outlines close only gaps up to {show_number(plan.config.graph.snap_m, 1)} m "
                f"and channels up to {show_number(CHANNEL_M, 0)} m wide between one area's own banks. "
                f"A point there lies in no area; give {'it' if one else 'each'} to a neighbouring area if the "
                "plan is used to look up addresses.",
            )
        )
    for extra in plan.provenance.get("data_caveats", []) or []:
        items.append(("", str(extra)))
    return [Heading(2, "Data caveats"), List(items)]


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
        return [Heading(2, "Warnings"), Para("None.")]
    return [Heading(2, "Warnings"), List([("", str(w)) for w in plan.warnings])]


def _attribution_section(plan: Plan, available: set[str]) -> list[Any]:
    """The data's attribution in words a reader can copy: the maps carry it in small print."""
    return [
        Heading(2, "Data and attribution"),
        Para("Keep these lines with any copy of this report or its maps:"),
        List([("", line) for line in attribution_lines(plan)]),
    ]


def _provenance_section(plan: Plan, available: set[str]) -> list[Any]:
    cfg = plan.config
    rows = [
        ["sda version", show_text(plan.provenance.get("sda_version")) or "unknown"],
        ["config file", cfg.source.as_posix() if cfg.source else "(built in code)"],
        ["config sha256", cfg.sha256 or show_text(plan.provenance.get("config_sha256")) or "-"],
        ["seed", str(cfg.search.seed)],
    ]
    # A re-run's record (``previous``, ``lineage``) has a section of its own (``changes_section``).
    shown = {"sda_version", "config_sha256", "config_file", "seed", "data_caveats", "previous", "lineage"}
    rows += [[key, value] for key, value in flatten(plan.provenance) if key.split(".", 1)[0] not in shown]
    return [
        Heading(2, "Provenance"),
        Table(["Item", "Value"], rows),
        Para("The configuration this run actually used:"),
        Pre(json.dumps(cfg.to_dict(), indent=2, default=str)),
    ]
