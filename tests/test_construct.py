"""Tests for sda.engine.construct (and the tree cuts it uses): first plans are complete, connected,
in band, and follow the rules; forced plans are found exactly."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from helpers import (
    area_sets,
    assert_valid_plan,
    cell,
    grid_graph,
    path_graph,
    problem_of,
    two_pcn_grid,
)
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import sda.engine.construct as construct_module
from sda.config import LockConfig, RulesConfig
from sda.engine.construct import (
    construct,
    distribute_count,
    shift_into_window,
    split_set,
)
from sda.engine.trees import admissible_cuts, local_edges, random_tree
from sda.errors import InfeasibleError
from sda.feasibility import check_feasible
from sda.metrics import components


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def path_neighbours(n: int) -> list[list[int]]:
    return [[j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)]


def grid_neighbours(rows: int, cols: int) -> list[list[int]]:
    out = []
    for r in range(rows):
        for c in range(cols):
            out.append(
                [
                    rr * cols + cc
                    for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                    if 0 <= rr < rows and 0 <= cc < cols
                ]
            )
    return out


def side_connected(mask: np.ndarray, neighbours: list[list[int]]) -> bool:
    graph = nx.Graph()
    members = np.flatnonzero(mask).tolist()
    graph.add_nodes_from(members)
    graph.add_edges_from((v, w) for v in members for w in neighbours[v] if mask[w])
    return len(members) > 0 and nx.is_connected(graph)


# --------------------------------------------------------------------------- valid plans


@pytest.mark.parametrize(
    ("graph", "band", "k"),
    [
        (grid_graph(3, 3), (20, 40), 3),
        (grid_graph(3, 3), (10, 30), 5),
        (grid_graph(4, 4), (30, 50), 4),
        (grid_graph(4, 4), (50, 90), 2),
        (grid_graph(5, 5, population=list(range(1, 26))), (50, 110), 4),
        (path_graph(10, population=[3, 9, 1, 7, 5, 5, 8, 2, 6, 4]), (8, 16), 4),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_construct_gives_valid_plan(graph: nx.Graph, band: tuple[int, int], k: int, seed: int) -> None:
    problem = problem_of(graph, *band)
    labels = construct(problem, k, rng(seed))
    assert_valid_plan(problem, labels, k)
    assert labels.dtype == np.int64


def test_construct_is_deterministic_for_a_seed() -> None:
    problem = problem_of(grid_graph(4, 4), 30, 50)
    first = construct(problem, 4, rng(7))
    again = construct(problem, 4, rng(7))
    assert first is not None
    assert first.tolist() == again.tolist()


def test_construct_seeds_differ() -> None:
    problem = problem_of(grid_graph(4, 4), 30, 50)
    plans = {tuple(construct(problem, 4, rng(s)).tolist()) for s in range(8)}
    assert len(plans) > 1


def test_single_area_is_everything() -> None:
    problem = problem_of(grid_graph(3, 3), 80, 100)
    assert construct(problem, 1, rng()).tolist() == [0] * 9


# --------------------------------------------------------------------------- forced plans


def test_path_two_areas_forced() -> None:
    # 60 residents in 2 areas of at most 30: both exactly 30, so the split is after U2.
    problem = problem_of(path_graph(6), 20, 30)
    for seed in range(5):
        labels = construct(problem, 2, rng(seed))
        assert area_sets(problem, labels) == {frozenset({"U0", "U1", "U2"}), frozenset({"U3", "U4", "U5"})}


def test_path_three_areas_forced() -> None:
    # 3 areas of at least 20: all exactly 20, i.e. consecutive pairs.
    problem = problem_of(path_graph(6), 20, 30)
    for seed in range(5):
        labels = construct(problem, 3, rng(seed))
        assert area_sets(problem, labels) == {
            frozenset({"U0", "U1"}),
            frozenset({"U2", "U3"}),
            frozenset({"U4", "U5"}),
        }


def test_units_at_the_ceiling_stand_alone() -> None:
    problem = problem_of(grid_graph(2, 3, population=30), 20, 30)
    labels = construct(problem, 6, rng())
    assert sorted(labels.tolist()) == list(range(6))


@pytest.mark.parametrize("seed", range(4))
def test_exact_band_tilings(seed: int) -> None:
    # min == max: every area exactly 3 (3x3) or 4 (4x4) cells; often no tree edge lands exactly,
    # so this exercises the nearest-miss repair.
    p3 = problem_of(grid_graph(3, 3), 30, 30)
    assert_valid_plan(p3, construct(p3, 3, rng(seed)), 3)
    p4 = problem_of(grid_graph(4, 4), 40, 40)
    assert_valid_plan(p4, construct(p4, 4, rng(seed)), 4)


def test_uneven_populations_forced() -> None:
    # 50 + 10 | 10 + 50 with band [55, 65]: the only split is in the middle.
    problem = problem_of(path_graph(4, population=[50, 10, 10, 50]), 55, 65)
    labels = construct(problem, 2, rng())
    assert area_sets(problem, labels) == {frozenset({"U0", "U1"}), frozenset({"U2", "U3"})}


def star_of_three() -> nx.Graph:
    """A hub H and three leaves L1-L3, 10 residents each: two areas of exactly 20 would need
    two leaves together, so no split exists."""
    graph = nx.Graph()
    for v in ("H", "L1", "L2", "L3"):
        graph.add_node(v, population=10)
    for leaf in ("L1", "L2", "L3"):
        graph.add_edge("H", leaf, border_m=1.0)
    return graph


def test_geometrically_impossible_returns_none() -> None:
    problem = problem_of(star_of_three(), 20, 20)
    assert construct(problem, 2, rng(), attempts=2, max_trees=200) is None


def test_split_set_splits_a_set_into_the_band_and_counts_its_trees() -> None:
    # 2 x 6 grid of 10s, band [40, 40]: the 8 units of columns 1-4 split into two parts of 40.
    problem = problem_of(grid_graph(2, 6), 40, 40)
    nodes = np.array([problem.codes.index(cell(r, c)) for r in range(2) for c in range(1, 5)])
    parts, drawn = split_set(problem, nodes, 2, rng(), max_trees=100)
    assert parts is not None
    assert sorted(np.concatenate(parts).tolist()) == sorted(nodes.tolist())
    assert [int(problem.pop[p].sum()) for p in parts] == [40, 40]
    assert 1 <= drawn <= 100


def test_split_set_gives_up_after_its_trees() -> None:
    # No split exists: every tree is drawn.
    problem = problem_of(star_of_three(), 20, 20)
    assert split_set(problem, np.arange(4), 2, rng(), max_trees=7) == (None, 7)


def test_on_attempt_called() -> None:
    seen: list[int] = []
    construct(problem_of(grid_graph(3, 3), 20, 40), 3, rng(), on_attempt=seen.append)
    assert seen[0] == 0


class _Clock:
    """A stand-in for ``time.monotonic``: 0 at the first reading, 10 at every later one."""

    def __init__(self) -> None:
        self.readings = 0

    def monotonic(self) -> float:
        self.readings += 1
        return 0.0 if self.readings == 1 else 10.0


@pytest.mark.parametrize("tolerant_trees", [0, 3])
def test_a_deadline_passing_during_the_split_stops_it(monkeypatch: pytest.MonkeyPatch, tolerant_trees: int) -> None:
    # The deadline (5) is still ahead when the attempt starts and has passed by the first tree:
    # both the exact and the tolerant construction give up (None) rather than finish the plan.
    problem = problem_of(grid_graph(4, 4), 30, 50)
    monkeypatch.setattr(construct_module, "time", _Clock())
    assert construct(problem, 4, rng(), attempts=1, deadline=20.0, tolerant_trees=tolerant_trees) is not None
    clock = _Clock()
    monkeypatch.setattr(construct_module, "time", clock)
    assert construct(problem, 4, rng(), attempts=1, deadline=5.0, tolerant_trees=tolerant_trees) is None
    assert clock.readings == 2  # the attempt's reading, then the split's before its first tree


# --------------------------------------------------------------------------- disconnected parts


def two_parts() -> nx.Graph:
    """A path of 4 (P0-P3) and a separate path of 2 (Q0-Q1), 10 residents a unit."""
    graph = nx.Graph()
    for code in ("P0", "P1", "P2", "P3", "Q0", "Q1"):
        graph.add_node(code, population=10)
    nx.add_path(graph, ["P0", "P1", "P2", "P3"], border_m=1.0)
    graph.add_edge("Q0", "Q1", border_m=1.0)
    return graph


def test_components_largest_first() -> None:
    problem = problem_of(two_parts(), 20, 30)
    parts = components(problem.indptr, problem.indices)
    assert [sorted(problem.codes[i] for i in p) for p in parts] == [["P0", "P1", "P2", "P3"], ["Q0", "Q1"]]


def test_construct_on_disconnected_parts() -> None:
    problem = problem_of(two_parts(), 20, 30)
    for seed in range(3):
        labels = construct(problem, 3, rng(seed))
        assert_valid_plan(problem, labels, 3)
        assert frozenset({"Q0", "Q1"}) in area_sets(problem, labels)


def test_distribute_count() -> None:
    problem = problem_of(path_graph(2), 20, 30)
    assert distribute_count(problem, [60, 30], 3) == [2, 1]
    assert distribute_count(problem, [60, 30], 4) == [3, 1]
    # Extra areas go to the part whose areas are most crowded.
    wide = problem_of(path_graph(2), 10, 40)
    assert distribute_count(wide, [40, 40], 4) == [2, 2]
    assert distribute_count(wide, [80, 40], 5) == [3, 2]


def test_distribute_count_impossible_total() -> None:
    problem = problem_of(path_graph(2), 20, 30)
    with pytest.raises(
        InfeasibleError, match=r"5 areas cannot be shared among 2 separate parts .* between 3 and 4 areas"
    ):
        distribute_count(problem, [60, 30], 5)


def test_distribute_count_part_too_small() -> None:
    problem = problem_of(path_graph(2), 20, 30)
    with pytest.raises(InfeasibleError, match=r"populations 60, 10"):
        distribute_count(problem, [60, 10], 3)


def test_construct_raises_when_parts_cannot_share_count() -> None:
    problem = problem_of(two_parts(), 20, 30)
    with pytest.raises(InfeasibleError):
        construct(problem, 4, rng())


# --------------------------------------------------------------------------- shift_into_window


def test_shift_grows_side_on_a_path() -> None:
    mask = np.array([True, False, False, False, False, False])
    pop = np.full(6, 10)
    assert shift_into_window(mask, pop, 30, 30, path_neighbours(6), np.ones(6, dtype=bool))
    assert mask.tolist() == [True, True, True, False, False, False]


def test_shift_shrinks_side_on_a_path() -> None:
    mask = np.array([True, True, True, True, True, False])
    pop = np.array([5, 5, 5, 5, 5, 5])
    assert shift_into_window(mask, pop, 10, 12, path_neighbours(6), np.ones(6, dtype=bool))
    assert int(pop[mask].sum()) in range(10, 13)
    assert mask[0]  # only the end next to the other side can move
    assert side_connected(mask, path_neighbours(6)) and side_connected(~mask, path_neighbours(6))


def test_shift_already_in_window_changes_nothing() -> None:
    mask = np.array([True, True, False, False])
    assert shift_into_window(mask, np.full(4, 10), 15, 25, path_neighbours(4), np.ones(4, dtype=bool))
    assert mask.tolist() == [True, True, False, False]


def test_shift_respects_movable() -> None:
    mask = np.array([True, False, False, False])
    movable = np.array([True, False, True, True])  # U1 (the only way across) is pinned
    assert not shift_into_window(mask, np.full(4, 10), 20, 30, path_neighbours(4), movable)
    assert mask.tolist() == [True, False, False, False]


def test_shift_gives_up_when_window_unreachable() -> None:
    # Sides move in steps of 10, and 25 cannot be hit: stop, having come as near as possible.
    mask = np.array([True, False, False, False, False])
    assert not shift_into_window(mask, np.full(5, 10), 25, 25, path_neighbours(5), np.ones(5, dtype=bool))
    assert int(mask.sum()) in (2, 3)


def test_shift_keeps_both_sides_connected_on_a_grid() -> None:
    neighbours = grid_neighbours(4, 4)
    pop = np.full(16, 10)
    for start in range(16):
        mask = np.zeros(16, dtype=bool)
        mask[start] = True
        if not side_connected(~mask, neighbours):
            continue
        ok = shift_into_window(mask, pop, 60, 70, neighbours, np.ones(16, dtype=bool))
        assert side_connected(mask, neighbours) and side_connected(~mask, neighbours)
        if ok:
            assert 60 <= int(pop[mask].sum()) <= 70


def test_shift_never_empties_the_donor() -> None:
    mask = np.array([True, True, False])
    assert not shift_into_window(mask, np.full(3, 10), 30, 30, path_neighbours(3), np.ones(3, dtype=bool))
    assert mask.tolist() == [True, True, False]


# --------------------------------------------------------------------------- trees and cuts


def test_random_tree_spans_and_cuts_are_admissible() -> None:
    problem = problem_of(grid_graph(4, 4), 30, 50)
    nodes = np.arange(problem.n)
    edges = local_edges(problem, nodes)
    tree = random_tree(problem, nodes, edges, rng(3))
    assert tree is not None
    assert sorted(tree.order.tolist()) == list(range(16))
    assert tree.size[tree.order[0]] == 16
    cuts = admissible_cuts(problem, tree, 4)
    sub = tree.subtree_sums(problem.pop)
    for c, k1, s in zip(cuts.child.tolist(), cuts.k_sub.tolist(), cuts.sub_pop.tolist(), strict=True):
        assert s == sub[c]
        assert 1 <= k1 <= 3
        assert k1 * 30 <= s <= k1 * 50
        assert (4 - k1) * 30 <= 160 - s <= (4 - k1) * 50


def test_subtree_mask_is_the_far_side_of_a_path_from_the_root() -> None:
    # The only spanning tree of a path is the path; the subtree of unit c is every unit beyond
    # c, looking away from the root.
    problem = problem_of(path_graph(6), 10, 60)
    nodes = np.arange(6)
    for seed in range(6):
        tree = random_tree(problem, nodes, local_edges(problem, nodes), rng(seed))
        assert tree is not None
        root = int(tree.order[0])
        for c in range(6):
            expected = [j >= c if c > root else j <= c if c < root else True for j in range(6)]
            assert tree.subtree_mask(c).tolist() == expected


def test_random_tree_of_disconnected_nodes_is_none() -> None:
    problem = problem_of(two_parts(), 20, 30)
    nodes = np.arange(problem.n)
    assert random_tree(problem, nodes, local_edges(problem, nodes), rng()) is None


# --------------------------------------------------------------------------- rules


def test_keep_together_on_a_path() -> None:
    rules = RulesConfig(keep_together=(("U2", "U3"),))
    problem = problem_of(path_graph(6), 20, 40, rules=rules)
    for seed in range(10):
        labels = construct(problem, 2, rng(seed))
        assert_valid_plan(problem, labels, 2)
        assert labels[2] == labels[3]


def test_keep_together_never_split_on_grid() -> None:
    rules = RulesConfig(keep_together=((cell(0, 0), cell(0, 3)), (cell(2, 1), cell(3, 1), cell(3, 2))))
    problem = problem_of(grid_graph(4, 4), 30, 50, rules=rules)
    first = problem.codes.index
    for seed in range(10):
        labels = construct(problem, 4, rng(seed))
        assert labels is not None
        assert labels[first(cell(0, 0))] == labels[first(cell(0, 3))]
        assert len({labels[first(cell(2, 1))], labels[first(cell(3, 1))], labels[first(cell(3, 2))]}) == 1


def test_multi_unit_lock_never_split() -> None:
    rules = RulesConfig(locks=(LockConfig("North", (cell(0, 0), cell(0, 3))),))
    problem = problem_of(grid_graph(4, 4), 30, 50, rules=rules)
    for seed in range(10):
        labels = construct(problem, 4, rng(seed))
        assert labels is not None
        assert labels[0] == labels[3]


def test_locks_end_in_separate_areas() -> None:
    rules = RulesConfig(
        locks=(
            LockConfig("North", (cell(0, 0),)),
            LockConfig("South", (cell(0, 2),)),
            LockConfig("East", (cell(1, 1),)),
        )
    )
    problem = problem_of(grid_graph(4, 4), 30, 50, rules=rules)
    for seed in range(4):
        labels = construct(problem, 4, rng(seed))
        assert_valid_plan(problem, labels, 4)
        locked = [labels[problem.codes.index(c)] for c in (cell(0, 0), cell(0, 2), cell(1, 1))]
        assert len(set(locked)) == 3


def test_keep_apart_respected() -> None:
    rules = RulesConfig(keep_apart=((cell(0, 0), cell(0, 1)), (cell(2, 2), cell(3, 3))))
    problem = problem_of(grid_graph(4, 4), 30, 50, rules=rules)
    for seed in range(6):
        labels = construct(problem, 4, rng(seed))
        assert_valid_plan(problem, labels, 4)
        assert labels[problem.codes.index(cell(0, 0))] != labels[problem.codes.index(cell(0, 1))]
        assert labels[problem.codes.index(cell(2, 2))] != labels[problem.codes.index(cell(3, 3))]


def test_pcn_guided_construction_valid() -> None:
    problem = two_pcn_grid()
    for seed in range(4):
        assert_valid_plan(problem, construct(problem, 2, rng(seed), pcn_surcharge=1.0, greed=1.0), 2)


# --------------------------------------------------------------------------- property


@st.composite
def grid_instances(draw: st.DrawFn) -> tuple[nx.Graph, int, int]:
    rows = draw(st.integers(3, 6))
    cols = draw(st.integers(3, 6))
    pops = draw(st.lists(st.integers(1, 20), min_size=rows * cols, max_size=rows * cols))
    total = sum(pops)
    max_pop = draw(st.integers(max(pops) // 2 + 1, total))
    min_pop = draw(st.integers(0, max_pop - 1))
    return grid_graph(rows, cols, population=pops), min_pop, max_pop


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=grid_instances(), pick=st.integers(0, 1000), seed=st.integers(0, 2**16))
def test_property_valid_plan_or_infeasible(instance: tuple[nx.Graph, int, int], pick: int, seed: int) -> None:
    """On random grids (connected), the request is refused as infeasible exactly when no count
    fits the total or a unit is above the band; otherwise a plan has every unit in exactly one
    connected in-band area. (construct may give up on a hard packing: those cases are filtered.)"""
    graph, min_pop, max_pop = instance
    problem = problem_of(graph, min_pop, max_pop)
    total = problem.total_pop
    admits = any(k * min_pop <= total <= k * max_pop for k in range(1, problem.n + 1))
    too_big = int(problem.pop.max()) > max_pop
    if not admits or too_big:
        event("refused: no count fits or a unit is too big")
        with pytest.raises(InfeasibleError):
            check_feasible(problem, "auto")
        return
    check_feasible(problem, "auto")  # neither reason holds and the grid is one part: must pass
    lo, hi = problem.feasible_counts()
    assert 1 <= lo <= hi <= problem.n
    k = lo + pick % (hi - lo + 1)
    assert k * min_pop <= total <= k * max_pop
    labels = construct(problem, k, rng(seed), attempts=3, max_trees=400)
    event("construct gave up" if labels is None else "constructed")
    assume(labels is not None)
    assert_valid_plan(problem, labels, k)


@st.composite
def impossible_totals(draw: st.DrawFn) -> tuple[nx.Graph, int, int]:
    """A grid and a band with a gap around its total: k areas too small, k + 1 too big."""
    rows = draw(st.integers(3, 6))
    cols = draw(st.integers(3, 6))
    pops = draw(st.lists(st.integers(1, 20), min_size=rows * cols, max_size=rows * cols))
    total = sum(pops)
    k = draw(st.integers(1, 4))
    max_pop = (total - 1) // k  # k areas hold less than the total
    min_pop = total // (k + 1) + 1  # k + 1 areas need more than the total
    assume(min_pop < max_pop)
    return grid_graph(rows, cols, population=pops), min_pop, max_pop


@settings(max_examples=30, deadline=None)
@given(instance=impossible_totals())
def test_property_check_feasible_refuses_impossible_totals(instance: tuple[nx.Graph, int, int]) -> None:
    """Whenever no count of areas can hold the total, check_feasible raises InfeasibleError."""
    graph, min_pop, max_pop = instance
    problem = problem_of(graph, min_pop, max_pop)
    total = problem.total_pop
    assert not any(k * min_pop <= total <= k * max_pop for k in range(1, problem.n + 1))
    with pytest.raises(InfeasibleError):
        check_feasible(problem, "auto")
    with pytest.raises(InfeasibleError):
        check_feasible(problem, max(1, total // max_pop))
