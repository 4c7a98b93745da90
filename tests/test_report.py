"""Tests for sda.report (and the figures it embeds): the numbers printed are the plan's numbers."""

from __future__ import annotations

import dataclasses
import re

import pandas as pd
import pytest
import shapely
from helpers import quadrant_plan  # the shared hand-made 4x4 plan

from sda.config import AreasConfig, RulesConfig
from sda.maps import plot_ensemble, plot_frontier, render_figures
from sda.maps.furniture import attribution_lines
from sda.plan import Plan, RuleResult
from sda.report import movable_units, render_report_html, render_report_md
from sda.report.markdown import md_text


@pytest.fixture(scope="module")
def plan() -> Plan:
    return quadrant_plan()


@pytest.fixture(scope="module")
def figures(plan: Plan) -> dict[str, bytes | None]:
    return render_figures(plan)


@pytest.fixture(scope="module")
def markdown(plan: Plan) -> str:
    return render_report_md(plan, images={"map": "map.png"})


def _section(text: str, title: str) -> str:
    """Return the Markdown between heading ``## title`` and the next level-2 heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M)
    assert match, f"no section {title!r}"
    return match.group(1)


# --------------------------------------------------------------------------- Markdown content


def test_headline_numbers_match_plan(plan: Plan, markdown: str) -> None:
    headline = _section(markdown, "Headline")
    assert markdown.startswith("# Proposed service delivery areas: 4 areas")
    assert "**Areas:** 4, for 19,000 residents in 16 units" in headline
    assert "yes, every area has 3,000-6,000 residents" in headline
    assert f"{plan.scores['coterminosity']:.1%} ({plan.scores['coterminosity']:.3f})" in headline
    assert f"{int(plan.scores['pcns_split'])} of 2 PCNs have residents in more than one area" in headline
    assert f"{plan.scores['cut_border_km']:.1f} km" in headline
    assert "1.25%" in headline  # gap to the bound
    assert plan.bound is not None  # the keys sda.exact.bound_plan writes, read back
    assert f"no plan can exceed {plan.bound['bound']:.1%} PCN coterminosity ({plan.bound['bound']:.3f})" in headline
    assert "(how it was proved: full HiGHS" in headline  # plain words first, the method after
    assert "full HiGHS model: Time limit reached in 2.0 s" in headline
    assert " ; " not in headline  # the bound's clauses are joined with "; " (was " ; ")
    assert "Gap to the HiGHS bound" in headline  # the glossary's words; the aggregate bound is not "exact"
    assert f"both hold ({', '.join(r.name for r in plan.rules)})" in headline  # which rules, by name ("all 2 hold")


def test_areas_table_has_every_area(plan: Plan, markdown: str) -> None:
    table = _section(markdown, "Areas")
    for area, row in plan.areas.iterrows():
        line = next(x for x in table.splitlines() if x.startswith(f"| {area} |"))
        assert f"{row['population']:,}" in line
        assert f"{row['deviation_pct']:+.1f}%" in line
        assert f"{row['pcn_coterminosity']:.1%}" in line
    assert "| Total |  | 19,000 |" in table
    assert "4,750" in table  # the target


def test_area_outside_band_is_flagged(plan: Plan) -> None:
    tight = dataclasses.replace(plan.config, areas=AreasConfig(min_population=4_500, max_population=6_000))
    text = render_report_md(dataclasses.replace(plan, config=tight))
    assert "NO: 2 outside 4,500-6,000: A1 (4,250), A2 (4,450)" in text


def test_rules_and_warnings_listed(plan: Plan) -> None:
    failing = dataclasses.replace(plan, rules=[*plan.rules, RuleResult("lock", False, "unit R0C0 not in Cambridge")])
    text = render_report_md(failing)
    assert "1 of 3 FAIL: lock" in text
    assert "| lock | FAIL | unit R0C0 not in Cambridge |" in _section(text, "Rules checked")
    assert "unit R0C0 has an odd shape" in _section(text, "Warnings")


def test_tradeoffs_table(plan: Plan, markdown: str) -> None:
    section = _section(markdown, "Trade-offs")
    assert "| this plan |" in section
    assert "| k=3 | 3 | yes | 80.0% |" in section
    assert "| k=5 | 5 | none exists |" in section and "no 5-area plan fits" in section


def test_ensemble_percentiles(plan: Plan) -> None:
    ensemble = pd.DataFrame({"coterminosity": [0.5, 0.6, 0.7, 0.99], "cut_border_km": [1.0, 2.0, 30.0, 40.0]})
    text = render_report_md(dataclasses.replace(plan, ensemble=ensemble))
    section = _section(text, "Ensemble ranking")
    assert "compared with 4 alternative valid plans" in section
    # Scores are named in words, at their own precision, as everywhere else.
    assert re.search(r"\| PCN coterminosity \| [\d.]+% \| 50\.0% \| 65\.0% \| 99\.0% \| 75% \| higher \|", section)
    assert re.search(r"\| cut border, km \|[^\n]*\| 1\.0 \| 16\.0 \| 40\.0 \| 50% \| lower \|", section)
    assert "cut_border_km" not in section


def test_missing_alternatives_and_ensemble_are_explained(plan: Plan) -> None:
    bare = dataclasses.replace(plan, alternatives=[], ensemble=None, bound=None)
    text = render_report_md(bare)
    assert "No alternative runs were made" in _section(text, "Trade-offs")
    assert "not ranked" in _section(text, "Ensemble ranking")
    assert "Gap to the HiGHS bound" not in text
    figures = render_figures(bare)
    assert figures["frontier"] is None and figures["ensemble"] is None and figures["map"]


def test_caveats_and_provenance(plan: Plan, markdown: str) -> None:
    caveats = _section(markdown, "Data caveats")
    assert "PCN of the GP practice nearest its centroid" in caveats
    lsoa = dataclasses.replace(plan.config, units=dataclasses.replace(plan.config.units, code_field="LSOA11CD"))
    assert "2011 Lower Layer Super Output Areas" in render_report_md(dataclasses.replace(plan, config=lsoa))
    described = dataclasses.replace(plan, provenance={"pcn_method": "nearest practice by road distance"})
    assert "**PCN affiliation:** nearest practice by road distance. This approximates" in render_report_md(described)
    provenance = _section(markdown, "Provenance")
    assert "| seed | 1 |" in provenance
    assert "| timings.total_s | 1.5 |" in provenance
    assert '"code_field": "code"' in provenance


def test_the_report_carries_the_maps_attribution_in_words(plan: Plan, markdown: str) -> None:
    section = _section(markdown, "Data and attribution")
    for line in attribution_lines(plan):
        assert md_text(line) in section
    assert "a proposal, not an adopted boundary" in section


def test_a_gap_the_areas_enclose_is_a_data_caveat(plan: Plan, markdown: str) -> None:
    assert "Gaps" not in _section(markdown, "Data caveats")  # the grid's areas tile it
    areas = plan.areas.copy()
    first = areas.index[0]
    x0, y0 = areas.geometry[first].bounds[:2]
    areas.loc[first, "geometry"] = areas.geometry[first].difference(shapely.box(x0 + 300, y0 + 300, x0 + 800, y0 + 800))
    caveats = _section(render_report_md(dataclasses.replace(plan, areas=areas)), "Data caveats")
    assert "**Gaps:** the areas enclose 1 gap that no unit covers (25.0 ha in all, the largest 25.0 ha)" in caveats
    assert "close only gaps up to 1.0 m and channels up to 50 m wide between one area's own banks" in caveats


def test_the_terminal_says_the_rules_hold_as_the_report_does(plan: Plan) -> None:
    from sda.summary import headline_lines

    said = [line for line in headline_lines(plan) if line.startswith("Rules")]
    assert said == [f"Rules: both hold ({', '.join(r.name for r in plan.rules)})."]  # "all 2 hold"


def test_deviation_says_why_most_areas_are_below_a_target_the_count_misses(plan: Plan) -> None:
    areas = _section(render_report_md(plan), "Areas")
    assert "Deviation is from the target of 4,750 residents." in areas and "mean area" not in areas  # 19,000 / 4
    aimed_higher = _section(render_report_md(dataclasses.replace(plan, target_population=5_000.0)), "Areas")
    assert "With 4 areas the mean area holds 4,750, so most areas are below the target" in aimed_higher


def test_areas_in_several_pieces_are_counted_in_good_grammar(plan: Plan) -> None:
    areas = plan.areas.assign(n_parts=1)
    areas.loc[areas.index[0], "n_parts"] = 2
    text = render_report_md(dataclasses.replace(plan, areas=areas))
    assert "1 of 4 areas is drawn in more than one piece" in text  # "1 of 24 areas are drawn"
    areas.loc[areas.index[1], "n_parts"] = 3
    assert "2 of 4 areas are drawn in more than one piece" in render_report_md(dataclasses.replace(plan, areas=areas))


def test_markdown_links_written_images_only(markdown: str) -> None:
    assert "![Map of the proposed areas](map.png)" in markdown
    assert "Where this plan sits among alternative valid plans: see report.html" in markdown


# --------------------------------------------------------------------------- area cards


def test_area_cards(plan: Plan, markdown: str) -> None:
    cards = _section(markdown, "Area by area")
    for area in plan.areas.index:
        assert f"### Area {area}" in cards
    a1 = cards.split("### Area A1")[1].split("### Area A2")[0]
    assert "4,250: 1,250 above the minimum 3,000, 1,750 below the maximum 6,000" in a1
    assert "West (D1): 4,250" in a1
    assert "West PCN (P1): 4,250" in a1


def test_movable_units_respect_band_and_contiguity(plan: Plan) -> None:
    moves = movable_units(plan)
    pops = plan.areas["population"]
    assert not moves.empty
    assert (moves["area_pop_after"] >= 3000).all() and (moves["to_pop_after"] <= 6000).all()
    for row in moves.itertuples():
        assert row.area_pop_after == pops[row.area_id] - row.population
        assert row.to_pop_after == pops[row.to_area] + row.population
        assert plan.assignment[row.unit_code] == row.area_id
    # R0C2 (P1) sits in A2 next to A1, whose dominant PCN is P1: moving it helps and is listed first.
    a2 = moves[moves["area_id"] == "A2"]
    assert a2.iloc[0]["unit_code"] == "R0C2" and a2.iloc[0]["to_area"] == "A1" and a2.iloc[0]["helps_pcn"]


def test_binding_at_minimum(plan: Plan) -> None:
    # A1 holds 4,250; its smallest boundary unit holds 1,025, so with a 3,300 minimum it cannot give any.
    tight = dataclasses.replace(plan.config, areas=AreasConfig(min_population=3_300, max_population=6_000))
    text = render_report_md(dataclasses.replace(plan, config=tight))
    a1 = text.split("### Area A1")[1].split("### Area A2")[0]
    assert "at minimum: losing any of its 3 boundary units would take it below 3,300" in a1
    assert movable_units(dataclasses.replace(plan, config=tight)).query("area_id == 'A1'").empty


def test_binding_at_maximum(plan: Plan) -> None:
    tight = dataclasses.replace(plan.config, areas=AreasConfig(min_population=3_000, max_population=5_300))
    text = render_report_md(dataclasses.replace(plan, config=tight))
    a4 = text.split("### Area A4")[1]
    assert "at maximum: gaining any neighbouring unit would take it above 5,300" in a4


# --------------------------------------------------------------------------- HTML


def test_html_is_self_contained(plan: Plan, figures: dict[str, bytes | None]) -> None:
    page = render_report_html(plan, figures=figures)
    assert page.startswith("<!DOCTYPE html>")
    # map, frontier, ensemble, and a locator map on each area card
    assert page.count("data:image/png;base64,") == 3 + len(plan.areas)
    assert "<style>" in page
    assert not re.search(r"""(src|href)=["']https?://""", page)  # nothing fetched: opens offline
    assert "19,000" in page and f"{plan.scores['coterminosity']:.1%}" in page


def test_html_escapes_user_strings(plan: Plan, figures: dict[str, bytes | None]) -> None:
    units = plan.units.copy()
    units.loc["R0C2", "unit_name"] = "<script>alert(1)</script> & Co"
    hostile = dataclasses.replace(plan, units=units, warnings=["<b>bold</b> warning"])
    page = render_report_html(hostile, figures=figures)
    assert "<script>" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page
    assert "&lt;b&gt;bold&lt;/b&gt; warning" in page


def test_html_draws_figures_when_not_given(plan: Plan) -> None:
    bare = dataclasses.replace(plan, alternatives=[], ensemble=None)
    page = render_report_html(bare)
    assert page.count("data:image/png;base64,") == 1 + len(plan.areas)  # the map and the locators


# --------------------------------------------------------------------------- figures


def test_figures_are_png(figures: dict[str, bytes | None]) -> None:
    for data in figures.values():
        assert data is not None and data.startswith(b"\x89PNG\r\n\x1a\n")


def test_frontier_skips_runs_without_scores() -> None:
    assert plot_frontier([]) is None
    assert plot_frontier([{"label": "x", "feasible": False, "error": "infeasible"}]) is None


def test_frontier_labels_stay_inside_the_axes_and_apart() -> None:
    # Close scores (as for 22 and 23 areas) and points at the right edge printed labels over each
    # other and cut off at the frame ("looser ba").
    from matplotlib.figure import Figure

    from sda.maps.charts import _label_points

    points = [(f"{n} areas", 0.90 + n / 1000, 780.0 + n, True) for n in range(20, 26)]
    points += [("looser band 25,000-55,000", 0.916, 727.0, True), ("ignore PCNs", 0.65, 520.0, True)]
    points += [("tighter band 32,000-48,000", 0.930, 779.0, True)]  # left of it, 23 areas' point
    fig = Figure(figsize=(7.0, 4.8), dpi=110)
    ax = fig.add_subplot()
    ax.scatter([p[1] for p in points], [p[2] for p in points])
    _label_points(fig, ax, points)
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    frame = ax.get_window_extent(renderer)
    boxes = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]  # not the leader lines
    assert len(boxes) == len(points)
    for box in boxes:
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1 and frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1
    overlaps = [(i, j) for i in range(len(boxes)) for j in range(i) if boxes[i].overlaps(boxes[j])]
    assert not overlaps
    # Nor does a label cover another run's point ("tighter band" over 23 areas read as its label).
    texts = {t.get_text(): t.get_window_extent(renderer) for t in ax.texts if t.get_text()}
    for label, x, y, _ in points:
        px, py = ax.transData.transform((x, y))
        covering = [other for other, box in texts.items() if other != label and box.contains(px, py)]
        assert not covering, (label, covering)


def test_ensemble_histograms_read_as_the_report_table_does() -> None:
    # The histograms showed coterminosity as 0.5-0.9 next to a table saying 91.4%, counted plans
    # in halves (2.5, 7.5) on an unlabelled axis, did not say which way is better, and the
    # legend sat on the tallest bar.
    from sda.maps.charts import draw_ensemble

    rng = __import__("numpy").random.default_rng(0)
    ensemble = pd.DataFrame(
        {
            "coterminosity": rng.normal(0.58, 0.03, 100),
            "cut_border_km": rng.normal(850.0, 40.0, 100),
            "objective": rng.normal(0.46, 0.03, 100),
        }
    )
    fig = draw_ensemble(ensemble, {"coterminosity": 0.914, "cut_border_km": 804.5, "objective": 0.1236})
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    axes = {ax.get_title(): ax for ax in fig.axes}
    assert sorted(axes) == [
        "PCN coterminosity\n(higher is better)",
        "cut border, km\n(lower is better)",
        "objective\n(lower is better)",
    ]
    share = axes["PCN coterminosity\n(higher is better)"]
    ticks = [t.get_text() for t in share.get_xticklabels() if t.get_text()]
    assert ticks and all(t.endswith("%") for t in ticks), ticks
    for ax in fig.axes:
        assert ax.get_ylabel() == "plans"
        counts = [v for v in ax.get_yticks() if ax.get_ylim()[0] <= v <= ax.get_ylim()[1]]
        assert counts and all(float(v).is_integer() for v in counts), counts
        bars = [patch.get_window_extent(renderer) for patch in ax.patches]
        for legend in [*fig.legends, *([ax.get_legend()] if ax.get_legend() else [])]:
            box = legend.get_window_extent(renderer)
            assert not any(box.overlaps(bar) for bar in bars)


def test_ensemble_skips_empty() -> None:
    assert plot_ensemble(None, {}) is None
    assert plot_ensemble(pd.DataFrame(), {}) is None
    assert plot_ensemble(pd.DataFrame({"other": [1.0]}), {}) is None


# --------------------------------------------------------------------------- trade-off summary and glossary


def test_tradeoffs_open_with_a_plain_summary(plan: Plan) -> None:
    nested = dataclasses.replace(plan.config, rules=RulesConfig(nest_in="district"))
    scores = {**plan.scores, "coterminosity": 0.8, "cut_border_km": 10.0}
    unnested = {
        "kind": "rule",
        "label": "without nesting in districts",
        "count": 4,
        "feasible": True,
        "status": "ok",
        "coterminosity": 0.9,
        "cut_border_km": 10.0 / 0.56,  # this plan's border is 44% shorter
        "effort": "quick: 1 start, 1.0 s, from this plan",
        "from_plan": True,
    }
    not_found = {"kind": "count", "label": "6 areas", "count": 6, "feasible": False, "status": "not_found"}
    not_found["error"] = "no valid plan found within the quick budget (1.0 s); a full run may still find one"
    text = render_report_md(dataclasses.replace(plan, config=nested, scores=scores, alternatives=[unnested, not_found]))
    section = _section(text, "Trade-offs")
    assert section.index("In short:") < section.index("| Run |")
    assert "Nesting areas inside districts costs 10 points of PCN alignment and cuts the total border by 44%" in section
    assert "6 areas instead of this plan's count: no valid plan found within the quick budget (1.0 s)." in section
    assert "| 6 areas | 6 | not found |" in section
    assert "full: 4 starts sharing 60 s" in section  # the plan's own effort is stated beside the quick estimates


def test_glossary_explains_every_score(markdown: str) -> None:
    glossary = _section(markdown, "Glossary")
    for term in ("Coterminosity", "PCNs split", "Cut border", "Polsby-Popper", "Objective", "HiGHS bound and gap"):
        assert f"**{term}" in glossary
    for key in ("mean_abs_deviation_pct", "cut_edges", "district_splits", "Quick estimate", "Neighbours"):
        assert key in glossary
    assert "units that meet only at a corner are not neighbours" in glossary  # the default rook rule


def test_cards_list_member_units_with_residents(plan: Plan, markdown: str) -> None:
    a1 = _section(markdown, "Area by area").split("### Area A1")[1].split("### Area A2")[0]
    assert "**Units:** 4: R1C1 Unit R1C1 (1,125); R1C0 Unit R1C0 (1,100); R0C1 Unit R0C1 (1,025)" in a1


def test_config_file_listed_once_in_provenance(plan: Plan) -> None:
    provenance = {**plan.provenance, "config_file": "x.toml"}
    section = _section(render_report_md(dataclasses.replace(plan, provenance=provenance)), "Provenance")
    assert section.count("| config file |") == 1 and "config_file" not in section


def test_markdown_text_keeps_a_plain_ampersand_and_disarms_markup() -> None:
    assert md_text("Littleport & Coveney") == "Littleport & Coveney"
    assert md_text("R&D &copy; &#169;") == "R&D &amp;copy; &amp;#169;"  # shown as typed, not as ©
    assert md_text("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
    assert md_text("[x](javascript:1)") == "\\[x\\](javascript:1)"  # no link without brackets
