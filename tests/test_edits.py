"""sda repair: holding an officer's edits, saying which edit conflicts with which rule, and
repairing a real edited plan.gpkg with few residents moved."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from editing import (
    BreakingEdits,
    choose_breaking_edits,
    copy_run,
    edit_units_in_place,
    fids_of,
)
from helpers import cell, folder_bytes, grid_graph, labels_from, problem_of
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sda.api import load_inputs
from sda.cli import cli
from sda.config import RulesConfig, RunConfig, UnitsConfig
from sda.edits import (
    _find_culprit,
    _held_apart,
    _search_near,
    cheapest_single_move,
    find_conflicts,
    held_units,
    repair_edited_plan,
    undo_needless_moves,
)
from sda.errors import InfeasibleError, InputError
from sda.planfile import changed_units, read_assignment, read_planfile
from sda.problem import Problem
from sda.rules import check_rules

NAMES = ["West", "East"]


def _halves() -> tuple[Problem, np.ndarray]:
    """2 x 6 grid, 10 residents a cell, band [50, 70]: West is columns 0-2, East 3-5."""
    problem = problem_of(grid_graph(2, 6), 50, 70)
    return problem, labels_from(problem, {c: 0 if int(c[3]) < 3 else 1 for c in problem.codes})


def _cfg(rules: RulesConfig | None = None) -> RunConfig:
    return RunConfig(units=UnitsConfig(path=Path("units.gpkg"), code_field="code"), rules=rules or RulesConfig())


def _edits(moves: dict[str, tuple[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(moves, orient="index", columns=["from_area", "to_area"])
    frame.index.name = "unit_code"
    return frame


def test_an_area_fenced_in_by_held_edits_is_named_with_the_edits_and_numbers() -> None:
    problem, labels = _halves()
    moved = {cell(0, 2): ("West", "East"), cell(1, 2): ("West", "East")}
    for code in moved:
        labels[problem.codes.index(code)] = 1
    held = held_units(problem, labels, NAMES, moved, keep=[])
    conflicts = find_conflicts(problem, labels, NAMES, held, _cfg(), _edits(moved))
    assert conflicts == [
        "holding R0C2, R1C2 in East leaves West at 40 residents with no free neighbour to take in: "
        "at most 40 residents are within its reach, below the minimum of 50"
    ]


def test_the_same_edits_without_holding_them_have_no_conflict() -> None:
    problem, labels = _halves()
    labels[problem.codes.index(cell(0, 2))] = 1
    labels[problem.codes.index(cell(1, 2))] = 1
    held = held_units(problem, labels, NAMES, [], keep=[])
    assert find_conflicts(problem, labels, NAMES, held, _cfg()) == []


def test_held_units_cut_off_from_their_area_and_broken_rules_are_named() -> None:
    problem, labels = _halves()
    labels[problem.codes.index(cell(0, 0))] = 1  # a corner cell typed into East, across West
    rules = RulesConfig(keep_apart=((cell(0, 4), cell(1, 4)),))
    problem = problem_of(grid_graph(2, 6), 50, 70, rules=rules)
    held = held_units(problem, labels, NAMES, [cell(0, 0)], keep=["West", "East"])
    conflicts = find_conflicts(problem, labels, NAMES, held, _cfg(rules))
    assert "holding R0C4 and R1C4 in East breaks keep_apart: they must be in different areas" in conflicts
    assert any(c.startswith("holding R0C0 | R0C3, R0C4") and "cuts it in 2" in c for c in conflicts), conflicts


def test_keep_names_an_unknown_area() -> None:
    problem, labels = _halves()
    with pytest.raises(InputError, match=r"--keep 'Eats' is not an area of the plan \(did you mean 'East'\?\)"):
        held_units(problem, labels, NAMES, [], keep=["Eats"])


# --------------------------------------------------------------------------- a real edited plan.gpkg


@pytest.fixture(scope="module")
def edited(real_run: tuple[RunConfig, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BreakingEdits]:
    cfg, folder = real_run
    copy = copy_run(folder, tmp_path_factory.mktemp("edited") / "run")
    edits = choose_breaking_edits(load_inputs(cfg).problem, read_assignment(folder).to_dict())
    fid = fids_of(copy / "plan.gpkg")
    edit_units_in_place(copy / "plan.gpkg", {fid[code]: area for code, area in edits.moves.items()})
    return copy, edits


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def _repair(cfg: RunConfig, plan: Path, out: Path, *more: str) -> tuple[int, str]:
    """``sda repair`` of ``plan`` into ``out`` with the run's config."""
    assert cfg.source is not None
    return _invoke("repair", "--config", str(cfg.source), str(plan), "--out", str(out), *more)


def test_repair_holds_the_edits_moves_few_residents_and_diff_lists_its_moves(
    real_run: tuple[RunConfig, Path], edited: tuple[Path, BreakingEdits], tmp_path: Path
) -> None:
    cfg, _ = real_run
    assert cfg.source is not None
    folder, edits = edited
    out = tmp_path / "repaired"
    code, output = _repair(cfg, folder, out, "--steps", "1000")  # an older repair, which the next replaces
    assert code == 0, output
    (out / "changes" / "stale.txt").write_text("from an older repair")  # replaced with the rest, not kept
    code, output = _repair(cfg, folder, out, "--steps", "200000")
    assert code == 0, output
    changes = sorted(p.name for p in (out / "changes").iterdir())
    assert changes == ["areas.csv", "changes.txt", "moved.csv", "moved.geojson"]
    before = read_assignment(folder)
    after = read_assignment(out)
    for unit, area in edits.moves.items():  # every edit stays where the officer put it
        assert after[unit] == area, unit
    moved = changed_units(after, before)
    problem = load_inputs(cfg).problem
    pop = dict(zip(problem.codes, problem.pop.tolist(), strict=True))
    residents_moved = sum(pop[c] for c in moved.index)
    assert 0 < residents_moved < 0.03 * problem.total_pop, residents_moved
    assert f"The repair moved {len(moved)} unit(s)" in output
    assert read_planfile(out).area_names == read_planfile(folder).area_names  # every area keeps its name
    # the repaired plan keeps every rule, by the same check an officer would run
    code, output = _invoke("evaluate", "--config", str(cfg.source), str(out), "-q")
    assert code == 0, output
    # the change log beside it, and sda diff, list exactly the units the repair moved
    logged = pd.read_csv(out / "changes" / "moved.csv", dtype=str)
    assert set(logged["unit_code"]) == set(moved.index)
    assert logged["reason"].notna().all()  # and says why, with names and scores as sda diff would
    areas = pd.read_csv(out / "changes" / "areas.csv", dtype=str)
    assert areas["area_name"].notna().all() and areas["pcn_coterminosity_after"].notna().all()
    assert "Plan scores (before -> after):" in (out / "changes" / "changes.txt").read_text(encoding="utf-8")
    code, output = _invoke("diff", str(folder), str(out), "--out", str(tmp_path / "diff"))
    assert code == 0, output
    listed = pd.read_csv(tmp_path / "diff" / "moved.csv", dtype=str)
    assert set(listed["unit_code"]) == set(moved.index)
    assert all(c in output for c in moved.index)


def test_holding_every_neighbour_of_the_short_area_is_named_as_the_conflict(
    real_run: tuple[RunConfig, Path], edited: tuple[Path, BreakingEdits]
) -> None:
    cfg, _ = real_run
    assert cfg.source is not None
    folder, edits = edited
    problem = load_inputs(cfg).problem
    plan = read_assignment(folder)
    short = {i for i, c in enumerate(problem.codes) if plan[c] == edits.short_area}
    around = sorted({plan[problem.codes[j]] for i in short for j in problem.neighbours(i)} - {edits.short_area})
    keep = [arg for area in around for arg in ("--keep", area)]
    code, output = _invoke("repair", "--config", str(cfg.source), str(folder), *keep, "-q")
    assert code == 3, output
    assert f"leaves {edits.short_area} at " in output and "with no free neighbour to take in" in output
    assert "below the minimum of 30,000" in output


def test_repair_of_a_valid_plan_moves_nobody(real_run: tuple[RunConfig, Path]) -> None:
    cfg, folder = real_run
    rep = repair_edited_plan(cfg, folder, keep=["SDA-01"], steps=1000)
    assert rep.evaluation.ok and rep.moved.empty and rep.residents_moved == 0
    assert rep.plan.assignment.to_dict() == read_assignment(folder).to_dict()
    assert len(rep.held) == int((rep.plan.assignment == "SDA-01").sum())


def test_a_held_unit_typed_into_an_area_it_does_not_touch_is_named() -> None:
    problem = problem_of(grid_graph(2, 3), 30, 30)
    # A: R0C0, R0C1 and R1C2; B: R0C2, R1C0, R1C1. R1C2 and R0C2 were swapped, each into an area it does not touch.
    labels = labels_from(problem, {c: 0 if c in {cell(0, 0), cell(0, 1), cell(1, 2)} else 1 for c in problem.codes})
    held = held_units(problem, labels, ["A", "B"], [cell(1, 2), cell(0, 2)], keep=[])
    assert find_conflicts(problem, labels, ["A", "B"], held, _cfg()) == []  # no rule makes it impossible
    tail = "and sda repair keeps each area's largest piece; move them next to it, or release them"
    assert _held_apart(problem, labels, ["A", "B"], held) == [
        f"holding R1C2 in A: not joined to the rest of A (20 residents in its largest piece), {tail}",
        f"holding R0C2 in B: not joined to the rest of B (20 residents in its largest piece), {tail}",
    ]


def test_when_no_plan_holds_every_edit_the_edit_in_the_way_is_named() -> None:
    problem = problem_of(grid_graph(2, 2), 20, 20)
    # A holds R0C0 and R1C1, which touch only at a corner (rook adjacency): no valid A holds both.
    labels = labels_from(problem, {c: 0 if c in {cell(0, 0), cell(1, 1)} else 1 for c in problem.codes})
    edits = _edits({cell(0, 0): ("B", "A"), cell(1, 1): ("B", "A")})
    held = held_units(problem, labels, ["A", "B"], edits.index, keep=[])
    assert find_conflicts(problem, labels, ["A", "B"], held, _cfg(), edits) == []
    with pytest.raises(InfeasibleError):
        _search_near(_cfg(), problem, labels, held, 20.0, 1000, lambda _m: None)
    culprit = _find_culprit(_cfg(), problem, labels, ["A", "B"], held, edits, 20.0, 1000)
    assert culprit is not None
    assert culprit.startswith(("holding R0C0 in A (an edit)", "holding R1C1 in A (an edit)")), culprit
    assert "with it released, the plan repairs" in culprit


def test_a_needless_swap_is_given_back() -> None:
    problem = problem_of(grid_graph(2, 4), 40, 40)  # two rows of four; any single move leaves the band
    start = labels_from(problem, {c: int(c[1]) for c in problem.codes})
    swapped = start.copy()
    swapped[problem.codes.index(cell(0, 3))] = 1
    swapped[problem.codes.index(cell(1, 0))] = 0
    assert np.array_equal(undo_needless_moves(problem, _cfg(), start, swapped, ["A", "B"]), start)
    # a move the band needs stays: the start's 46/34 is out of band, the repair's 36/44 is kept
    uneven = problem_of(grid_graph(2, 4, population=[12, 12, 12, 10, 10, 10, 10, 4]), 35, 45)
    before = labels_from(uneven, {c: int(c[1]) for c in uneven.codes})
    after = before.copy()
    after[uneven.codes.index(cell(0, 3))] = 1
    assert all(r.ok for r in check_rules(uneven, after, ["A", "B"], RulesConfig()))
    assert np.array_equal(undo_needless_moves(uneven, _cfg(), before, after, ["A", "B"]), after)


def test_the_cheapest_single_move_that_mends_the_band_is_found() -> None:
    # Rows A (46 residents) and B (34), band 35-45: moving the 10-resident corner of A mends both;
    # moving a 12 would leave A short, and a held corner leaves no single move at all.
    uneven = problem_of(grid_graph(2, 4, population=[12, 12, 12, 10, 10, 10, 10, 4]), 35, 45)
    labels = labels_from(uneven, {c: int(c[1]) for c in uneven.codes})
    free = np.zeros(uneven.n, dtype=bool)
    found = cheapest_single_move(uneven, _cfg(), labels, free, ["A", "B"])
    assert found is not None and [uneven.codes[i] for i in np.flatnonzero(found != labels)] == [cell(0, 3)]
    held = free.copy()
    held[uneven.codes.index(cell(0, 3))] = True
    assert cheapest_single_move(uneven, _cfg(), labels, held, ["A", "B"]) is None
    assert cheapest_single_move(uneven, _cfg(), found, free, ["A", "B"]) is None  # in band: nothing to mend


@st.composite
def _grid_plans(draw: st.DrawFn) -> tuple[nx.Graph, dict[str, int], dict[str, bool], int, int]:
    """A 3 x 4 grid (1-20 residents a cell, two PCNs) cut into 2-4 contiguous areas grown from
    random seeds, a few held cells, and a band near the areas' sizes that often leaves one or two
    areas a little outside."""
    pops = draw(st.lists(st.integers(1, 20), min_size=12, max_size=12))
    graph = grid_graph(3, 4, population=pops)
    nx.set_node_attributes(graph, {code: "AB"[int(code[3]) // 2] for code in graph}, "pcn")
    k = draw(st.integers(2, 4))
    codes = sorted(graph)
    area = dict(zip(draw(st.lists(st.sampled_from(codes), min_size=k, max_size=k, unique=True)), range(k), strict=True))
    while len(area) < len(codes):  # each cell joins an area it touches: every area is contiguous
        border = sorted(c for c in codes if c not in area and any(n in area for n in graph[c]))
        code = draw(st.sampled_from(border))
        area[code] = draw(st.sampled_from(sorted({area[n] for n in graph[code] if n in area})))
    held = {code: draw(st.integers(0, 4)) == 0 for code in codes}
    pops = [sum(graph.nodes[c]["population"] for c in codes if area[c] == a) for a in range(k)]
    low = draw(st.integers(min(pops) - 10, min(pops) + 10))  # near the areas' own sizes
    return graph, area, held, low, max(low, draw(st.integers(max(pops) - 10, max(pops) + 10)))


def _keeps_band_and_contiguity(graph: nx.Graph, area: dict[str, int], k: int, low: int, high: int) -> bool:
    """Recounted with networkx from the grid itself: every area non-empty, connected and in band."""
    for a in range(k):
        members = [code for code, b in area.items() if b == a]
        population = sum(graph.nodes[code]["population"] for code in members)
        if not members or not nx.is_connected(graph.subgraph(members)) or not low <= population <= high:
            return False
    return True


@settings(max_examples=120, deadline=None)
@given(_grid_plans())
def test_the_cheapest_single_move_is_the_cheapest_that_brute_force_finds(
    case: tuple[nx.Graph, dict[str, int], dict[str, bool], int, int],
) -> None:
    graph, area, held_at, low, high = case
    k = max(area.values()) + 1
    problem = problem_of(graph, low, high, pcn_of=nx.get_node_attributes(graph, "pcn"))
    labels = labels_from(problem, area)
    held = np.array([held_at[code] for code in problem.codes])
    names = [f"A{a}" for a in range(k)]
    # Every move of one free unit to another area that leaves a valid plan, with its residents.
    fixes = [
        graph.nodes[code]["population"]
        for code in area
        if not held_at[code]
        for to in range(k)
        if to != area[code] and _keeps_band_and_contiguity(graph, {**area, code: to}, k, low, high)
    ]
    pops = [sum(graph.nodes[c]["population"] for c in area if area[c] == a) for a in range(k)]
    outside = any(not low <= p <= high for p in pops)
    found = cheapest_single_move(problem, _cfg(), labels, held, names)
    event("mendable" if outside and fixes else "in band" if not outside else "no single move mends it")
    if not outside or not fixes:
        assert found is None
    else:
        assert found is not None
        moved = [problem.codes[i] for i in np.flatnonzero(found != labels)]
        assert len(moved) == 1 and not held_at[moved[0]]
        after = {code: int(found[problem.codes.index(code)]) for code in area}
        assert _keeps_band_and_contiguity(graph, after, k, low, high)
        assert graph.nodes[moved[0]]["population"] == min(fixes)


def test_repair_never_writes_over_the_plan_it_repairs(
    real_run: tuple[RunConfig, Path], edited: tuple[Path, BreakingEdits], tmp_path: Path
) -> None:
    cfg, run = real_run
    folder, _ = edited
    original = copy_run(run, tmp_path / "run")
    moved = tmp_path / "edited.gpkg"
    moved.write_bytes((folder / "plan.gpkg").read_bytes())
    before = {path: folder_bytes(path) for path in (folder, original)}
    for plan, out, more in [
        (folder, folder, ()),
        (folder, folder.parent, ()),
        (moved, original, ("--original", str(original))),
    ]:
        code, output = _repair(cfg, plan, out, *more, "--steps", "1000")
        assert code == 1 and "would replace it" in output and "--out out/repaired" in output, output
    assert {path: folder_bytes(path) for path in (folder, original)} == before


def test_repair_never_writes_over_another_runs_plan(
    real_run: tuple[RunConfig, Path], edited: tuple[Path, BreakingEdits], tmp_path: Path
) -> None:
    # A tester's sda repair --out replaced a folder holding another run's plan (here a proposed
    # one, not the plan repaired): it is refused before the search, and the folder left as it was.
    cfg, run = real_run
    folder, _ = edited
    proposed = copy_run(run, tmp_path / "proposed")
    before = folder_bytes(proposed)
    code, output = _repair(cfg, folder, proposed, "--steps", "1000")
    assert code == 1, output
    assert f"--out {proposed} holds a plan written by sda propose (areas.csv, " in output
    assert "sda repair would replace it. Fix: write to a folder of its own, e.g. --out out/repaired" in output
    assert "repairing" not in output  # refused before the work
    assert folder_bytes(proposed) == before


def test_a_repair_that_fails_to_write_its_changes_leaves_the_folder_as_it_was(
    real_run: tuple[RunConfig, Path],
    edited: tuple[Path, BreakingEdits],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg, _ = real_run
    folder, _ = edited
    out = tmp_path / "repaired"
    code, output = _repair(cfg, folder, out, "--steps", "1000")
    assert code == 0, output
    before = folder_bytes(out)

    def full_disk(*args: object, **kwargs: object) -> list[Path]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sda.diff.write_diff", full_disk)
    code, output = _repair(cfg, folder, out, "--steps", "1000")
    assert code == 1 and "the disk is full" in output, output
    assert folder_bytes(out) == before


@pytest.mark.filterwarnings("default::sda.errors.SdaWarning")  # shown by the CLI as "Warning: ..."
def test_a_unit_moved_to_a_mistyped_area_id_is_refused_before_a_new_area_is_built(
    real_run: tuple[RunConfig, Path], tmp_path: Path
) -> None:
    # 'SDA-7' for 'SDA-07' (or 'sda-07'): repair held the unit in a new area of its own and grew it
    # to the band around it, moving 26 units and 43,131 residents of the shipped plan.
    cfg, run = real_run
    folder = copy_run(run, tmp_path / "run")
    plan = read_assignment(folder)
    unit = str(plan.index[0])
    other = sorted(set(plan) - {plan[unit]})[0]  # e.g. SDA-01
    slip = other.lower().replace("-0", "-")  # e.g. sda-1
    edit_units_in_place(folder / "plan.gpkg", {fids_of(folder / "plan.gpkg")[unit]: slip})
    out = tmp_path / "repaired"
    code, output = _repair(cfg, folder, out, "--steps", "1000")
    assert code == 1, output
    assert f"area id {slip!r} (1 unit(s): {unit}) differs from the run's {other!r} only in case" in output
    assert f"Fix: correct the area id ({slip!r} -> {other!r})" in output
    assert not out.exists()
    # Every unit of the area given the look-alike id is a rename, repaired as given.
    renamed = copy_run(run, tmp_path / "renamed")
    fid = fids_of(renamed / "plan.gpkg")
    edit_units_in_place(renamed / "plan.gpkg", {fid[c]: slip for c in plan.index[plan == other]})
    code, output = _repair(cfg, renamed, tmp_path / "renamed-repaired", "--steps", "1000")
    assert code == 0, output
    assert "Warning: Renumbered since the run (1 area(s)" in output, output
    assert f"{other} -> {slip} (only case, spaces or leading zeros differ: a slip?)" in output, output
