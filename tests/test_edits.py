"""sda repair: holding an officer's edits, saying which edit conflicts with which rule, and
repairing a real edited plan.gpkg with few residents moved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import cell, grid_graph, labels_from, problem_of

from sda.config import RulesConfig, RunConfig, UnitsConfig
from sda.edits import find_conflicts, held_units
from sda.errors import InputError
from sda.problem import Problem

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
