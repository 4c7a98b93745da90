"""The glossary: every score and term the report uses, in a sentence or two.

Scores read the same here as in ``sda.objective`` (the terms) and ``sda.area_table`` (outlines
and Polsby-Popper); the neighbour rule is stated with the values the run actually used.
"""

from __future__ import annotations

from typing import Any

from sda.formatting import show_number
from sda.plan import Plan
from sda.report.blocks import Heading, List

__all__ = ["GLOSSARY", "glossary_section", "neighbour_rule_text"]

#: Term -> plain-language meaning. Keys are the words used in the report's tables.
GLOSSARY: dict[str, str] = {
    "Coterminosity (PCN alignment)": (
        "the share of residents who live in an area whose dominant PCN (the Primary Care Network "
        "with most residents in it) is their own PCN. 100% would mean PCN and area boundaries "
        "line up everywhere. A 'point' of PCN alignment is one percentage point of this share."
    ),
    "PCNs split": "how many PCNs have residents in more than one area.",
    "Cut border": (
        "the total length of boundary between different areas, in km. Shorter means more compact "
        "areas that cut fewer communities; it is the compactness term of the objective."
    ),
    "Polsby-Popper (P-P)": (
        "4π x area / perimeter² of an area's outline: 1 for a circle, about 0.785 for a square, "
        "lower for long or ragged shapes. Measured on the cleaned outline (sliver gaps and narrow "
        "river channels closed)."
    ),
    "Objective": (
        "the single number the search minimises: a weighted sum of the share of residents outside "
        "their PCN's area (1 - coterminosity), the cut border as a share of all shared border, the "
        "mean deviation from the target size and the share of areas crossing a district boundary. "
        "Lower is better; weights are in the configuration ([objective])."
    ),
    "HiGHS bound and gap": (
        "HiGHS is an open-source optimisation solver. It proves a ceiling (the bound) on the "
        "coterminosity any valid plan with this many areas can reach; the gap is how far this plan "
        "is below that ceiling, as a share of it. A small gap means little is left to gain."
    ),
    "Deviation, mean_abs_deviation_pct": (
        "an area's population minus the target size (in residents and %); mean_abs_deviation_pct "
        "is the average size of that difference over all areas, in %."
    ),
    "cut_edges": "the number of neighbouring unit pairs that lie in different areas.",
    "district_splits": "the number of areas that include residents of more than one district.",
    "Ensemble": (
        "valid plans drawn at random (contiguous, in band, no objective); ranking this plan among "
        "them shows how much the search achieved beyond merely valid."
    ),
    "Quick estimate": (
        "an alternative run with a short search budget (stated in the Effort column); it shows the "
        "direction and rough size of a trade-off, and a full run with that setting would usually "
        "do at least as well."
    ),
    "Parts": (
        "the pieces of an area's outline. An area in more than one part is still connected through "
        "the neighbour rule (a gap narrower than the snap distance, a configured link or a joined "
        "island) but is drawn in separate pieces."
    ),
}


def neighbour_rule_text(plan: Plan) -> str:
    """The neighbour rule this run used, in words (from ``[graph]``)."""
    g = plan.config.graph
    snap = show_number(g.snap_m, 1)
    if g.contiguity == "rook":
        rule = (
            f"two units are neighbours when they share at least {show_number(g.min_border_m, 1)} m of border; "
            "units that meet only at a corner are not neighbours"
        )
    else:
        rule = "two units are neighbours when they touch, even at a single corner point (queen contiguity)"
    return f"{rule}; gaps up to {snap} m between unit boundaries count as touching and are closed in area outlines"


#: The objective's compactness term in words, by ``[graph] cut_measure``.
CUT_TERM = {
    "length": "the cut border as a share of all shared border",
    "links": "the links between neighbouring units that are cut (cut_edges) as a share of all links",
}


def glossary_section(plan: Plan, available: set[str]) -> list[Any]:
    terms = dict(GLOSSARY)
    measure = plan.config.graph.cut_measure
    terms["Objective"] = terms["Objective"].replace(CUT_TERM["length"], CUT_TERM.get(measure, CUT_TERM["length"]))
    items = [("Neighbours", neighbour_rule_text(plan) + "."), *terms.items()]
    return [Heading(2, "Glossary"), List(items)]
