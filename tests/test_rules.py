"""Tests for sda.rules: each rule spots a hand-broken plan and names who breaks it; verify stops the run."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import cell, grid_graph, labels_from, path_graph, problem_of

from sda.config import LockConfig, RulesConfig
from sda.errors import ConfigError, InfeasibleError, InvariantError, SdaError
from sda.feasibility import check_feasible
from sda.plan import RuleResult
from sda.rules import RULES, check_rules, verify
from sda.rules.band import Band
from sda.rules.contiguity import Contiguity

NAMES = ["A1", "A2", "A3"]


def check_band(problem, labels, names) -> RuleResult:
    (result,) = Band().check_plan(problem, labels, names)
    return result


def check_contiguity(problem, labels, names) -> RuleResult:
    (result,) = Contiguity().check_plan(problem, labels, names)
    return result


def path6():
    return problem_of(path_graph(6), 20, 30)


def test_check_band_passes_valid_plan() -> None:
    result = check_band(path6(), np.array([0, 0, 1, 1, 2, 2]), NAMES)
    assert result == RuleResult("band", True, "all 3 areas within [20, 30]")


def test_check_band_names_areas_outside() -> None:
    result = check_band(path6(), np.array([0, 1, 1, 1, 1, 2]), NAMES)
    assert not result.ok
    assert result.name == "band"
    assert result.detail == "A1 has 10; A2 has 40; A3 has 10"


def test_check_contiguity_passes_valid_plan() -> None:
    result = check_contiguity(path6(), np.array([0, 0, 0, 1, 1, 1]), NAMES[:2])
    assert result.ok
    assert result.detail == "every area is one connected piece"


def test_check_contiguity_names_broken_area() -> None:
    # A1 = {U0, U1, U4, U5}: two pieces on the path.
    result = check_contiguity(path6(), np.array([0, 0, 1, 1, 0, 0]), NAMES[:2])
    assert not result.ok
    assert result.detail == "A1 is in 2 pieces"


def test_check_contiguity_on_grid_diagonal() -> None:
    # Rook grid: diagonal neighbours do not connect an area.
    problem = problem_of(grid_graph(2, 2), 1, 100)
    labels = labels_from(problem, {cell(0, 0): 0, cell(1, 1): 0, cell(0, 1): 1, cell(1, 0): 2})
    result = check_contiguity(problem, labels, NAMES)
    assert not result.ok
    assert "A1 is in 2 pieces" in result.detail


def test_check_contiguity_flags_empty_area() -> None:
    result = check_contiguity(path6(), np.array([0, 0, 0, 2, 2, 2]), NAMES)
    assert not result.ok
    assert "A2 is in 0 pieces" in result.detail


def test_check_rules_lists_configured_rules() -> None:
    rules = RulesConfig(
        nest_in="district",
        locks=(LockConfig("A1", ("U0",)),),
        keep_together=(("U2", "U3"),),
        keep_apart=(("U0", "U5"),),
    )
    district = {f"U{i}": "D1" for i in range(6)}
    problem = problem_of(path_graph(6), 20, 30, district_of=district, rules=rules)
    results = check_rules(problem, np.array([0, 0, 1, 1, 2, 2]), NAMES, rules)
    assert [r.name for r in results] == [
        "band",
        "contiguity",
        "nest_in_district",
        "lock 'A1'",
        "keep_together #1",
        "keep_apart U0/U5",
    ]
    assert all(r.ok for r in results)


def test_check_rules_without_extra_rules() -> None:
    rules = RulesConfig()
    results = check_rules(path6(), np.array([0, 0, 1, 1, 2, 2]), NAMES, rules)
    assert [r.name for r in results] == ["band", "contiguity"]


def test_check_rules_detects_each_broken_rule() -> None:
    rules = RulesConfig(
        nest_in="district",
        locks=(LockConfig("A3", ("U0",)),),
        keep_together=(("U1", "U2"),),
        keep_apart=(("U4", "U5"),),
    )
    district = {f"U{i}": ("D1" if i < 3 else "D2") for i in range(6)}
    problem = problem_of(path_graph(6), 20, 30, district_of=district, rules=rules)
    # A1 = U0, U1 (D1); A2 = U2, U3 (crosses D1/D2); A3 = U4, U5.
    results = {r.name: r for r in check_rules(problem, np.array([0, 0, 1, 1, 2, 2]), NAMES, rules)}
    assert results["band"].ok
    # nest_in dropped the U2-U3 edge, so the crossing area is also in two pieces.
    assert results["contiguity"].detail == "A2 is in 2 pieces"
    assert not results["nest_in_district"].ok
    assert results["nest_in_district"].detail == "crossing: A2"
    assert not results["lock 'A3'"].ok
    assert results["lock 'A3'"].detail == "U0 in A1"
    assert not results["keep_together #1"].ok
    assert results["keep_together #1"].detail == "U1, U2 in A1, A2"
    assert not results["keep_apart U4/U5"].ok
    assert results["keep_apart U4/U5"].detail == "in A3 and A3"


def test_lock_split_across_areas() -> None:
    rules = RulesConfig(locks=(LockConfig("A1", ("U0", "U3")),))
    problem = problem_of(path_graph(6), 20, 30, rules=rules)
    results = {r.name: r for r in check_rules(problem, np.array([0, 0, 1, 1, 2, 2]), NAMES, rules)}
    assert not results["lock 'A1'"].ok
    assert results["lock 'A1'"].detail == "U0, U3 in A1, A2"


# --------------------------------------------------------------------------- verify


def test_verify_passes_good_plan() -> None:
    problem = path6()
    labels = np.array([0, 0, 1, 1, 2, 2])
    verify(problem, labels, NAMES, check_rules(problem, labels, NAMES, RulesConfig()))


def test_verify_raises_on_broken_rule() -> None:
    problem = path6()
    labels = np.array([0, 0, 1, 1, 0, 2])  # A1 in two pieces, A3 has 10
    results = check_rules(problem, labels, NAMES, RulesConfig())
    with pytest.raises(InvariantError) as info:
        verify(problem, labels, NAMES, results)
    assert info.value.exit_code == 4
    assert isinstance(info.value, SdaError)
    msg = str(info.value)
    assert "breaks a hard rule" in msg
    assert "band: A3 has 10" in msg
    assert "contiguity: A1 is in 2 pieces" in msg


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 0, 1, 1, 2]),  # a unit lost
        np.array([0, 0, 1, 1, 2, -1]),  # a unit with no area
        np.array([0, 0, 1, 1, 2, 3]),  # an area with no name
    ],
)
def test_verify_raises_on_lost_unit(labels: np.ndarray) -> None:
    with pytest.raises(InvariantError, match="some units have no area"):
        verify(path6(), labels, NAMES, [])


def test_verify_raises_on_any_failed_result() -> None:
    problem = path6()
    labels = np.array([0, 0, 1, 1, 2, 2])
    with pytest.raises(InvariantError, match=r"keep_apart X/Y: in A1 and A1"):
        verify(problem, labels, NAMES, [RuleResult("keep_apart X/Y", False, "in A1 and A1")])


# --------------------------------------------------------------------------- the registry


def test_registry_lists_every_rule_once() -> None:
    assert [cls.name for cls in RULES] == [
        "band",
        "contiguity",
        "nest_in_district",
        "lock",
        "keep_together",
        "keep_apart",
    ]


def test_keep_apart_of_a_unit_with_itself_is_a_contradiction() -> None:
    problem = problem_of(path_graph(6), 20, 30, rules=RulesConfig(keep_apart=(("U2", "U2"),)))
    with pytest.raises(InfeasibleError, match=r"keep_apart \(U2, U2\) contradicts itself"):
        check_feasible(problem, 3)


def test_lock_and_keep_apart_contradiction_names_the_lock() -> None:
    rules = RulesConfig(locks=(LockConfig("Town", ("U0", "U1")),), keep_apart=(("U1", "U0"),))
    problem = problem_of(path_graph(6), 20, 30, rules=rules)
    with pytest.raises(InfeasibleError, match=r"keep_apart \(U1, U0\) contradicts keep_together/lock \(lock\)"):
        check_feasible(problem, 3)


def test_a_lock_code_with_a_trailing_space_is_named_with_the_space_to_remove() -> None:
    # The message remove_links gives for the same slip: the code as typed, the one meant, the fix.
    rules = RulesConfig(locks=(LockConfig("Town", ("U0 ", "U1")),))
    with pytest.raises(ConfigError) as caught:
        problem_of(path_graph(6), 20, 30, rules=rules)
    assert str(caught.value) == (
        "[rules] lock 'Town' names unit 'U0 ', which is not in the units file (did you mean 'U0'? spaces "
        "and case count in the config: remove the space after the code); expected a code of the units "
        "file's code field. Fix: correct the code in the config."
    )


def test_rules_translate_into_building_blocks_only() -> None:
    # nest_in removes the link between districts; a lock and a group become labels; a pair
    # becomes a forbidden pair. Nothing else reaches the engine.
    rules = RulesConfig(
        nest_in="district",
        locks=(LockConfig("North", ("U0", "U1")),),
        keep_together=(("U3", "U4"),),
        keep_apart=(("U0", "U5"),),
    )
    district = {f"U{i}": ("D1" if i < 3 else "D2") for i in range(6)}
    problem = problem_of(path_graph(6), 10, 40, district_of=district, rules=rules)
    assert sorted(problem.neighbours(2).tolist()) == [1]  # U2-U3 crossed districts: removed
    assert problem.lock.tolist() == [0, 0, -1, -1, -1, -1]
    assert problem.together[0] == problem.together[1] != problem.together[3] == problem.together[4]
    assert problem.apart_pairs.tolist() == [[0, 5]]
    assert not problem.movable[[0, 1, 3, 4]].any() and problem.movable[[2, 5]].all()
    assert [type(r).__name__ for r in problem.rules] == [
        "Band",
        "Contiguity",
        "NestIn",
        "Lock",
        "KeepTogether",
        "KeepApart",
    ]
