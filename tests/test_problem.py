"""Tests for sda.problem.build_problem: the arrays the engine reads match the graph they came from."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from helpers import cell, grid_graph, path_graph, problem_of

from sda.config import LockConfig, ObjectiveConfig, RulesConfig
from sda.errors import ConfigError


def entries(problem) -> dict[tuple[str, str], float]:
    """{(code_i, code_j): border} for every CSR entry."""
    out = {}
    for i in range(problem.n):
        for j in range(problem.indptr[i], problem.indptr[i + 1]):
            out[(problem.codes[i], problem.codes[int(problem.indices[j])])] = float(problem.border_m[j])
    return out


def test_codes_sorted_and_populations_aligned() -> None:
    graph = path_graph(4, population=[5, 6, 7, 8])
    graph = nx.relabel_nodes(graph, {"U0": "D", "U1": "B", "U2": "A", "U3": "C"})
    problem = problem_of(graph, 1, 100)
    assert problem.codes == ["A", "B", "C", "D"]
    assert problem.pop.tolist() == [7, 6, 8, 5]
    assert problem.pop.dtype == np.int64
    assert problem.n == 4
    assert problem.total_pop == 26


def test_csr_symmetric_with_aligned_borders() -> None:
    graph = grid_graph(3, 3)
    # Give every edge a distinct border so misalignment would show.
    for k, (u, v) in enumerate(sorted(graph.edges)):
        graph.edges[u, v]["border_m"] = 100.0 + k
    problem = problem_of(graph, 1, 100)
    got = entries(problem)
    assert len(got) == 2 * graph.number_of_edges()
    for (a, b), border in got.items():
        assert got[(b, a)] == border
        assert graph.edges[a, b]["border_m"] == border
    # Rows are sorted and the matrix built from the arrays is symmetric.
    for i in range(problem.n):
        row = problem.neighbours(i)
        assert (np.diff(row) > 0).all()
    structure = sp.csr_matrix(
        (np.ones(len(problem.indices)), problem.indices, problem.indptr), shape=(problem.n, problem.n)
    )
    assert (structure != structure.T).nnz == 0
    assert problem.total_cut_weight == pytest.approx(sum(100.0 + k for k in range(graph.number_of_edges())))


def test_neighbours_of_grid_centre() -> None:
    problem = problem_of(grid_graph(3, 3), 1, 100)
    centre = problem.codes.index(cell(1, 1))
    got = {problem.codes[j] for j in problem.neighbours(centre)}
    assert got == {cell(0, 1), cell(1, 0), cell(1, 2), cell(2, 1)}


def test_zero_border_edges_are_kept() -> None:
    graph = path_graph(3)
    graph.edges["U0", "U1"]["border_m"] = 0.0  # point contact or an extra link
    del graph.edges["U1", "U2"]["border_m"]
    problem = problem_of(graph, 1, 100)
    got = entries(problem)
    assert set(got) == {("U0", "U1"), ("U1", "U0"), ("U1", "U2"), ("U2", "U1")}
    assert all(v == 0.0 for v in got.values())
    assert problem.total_cut_weight == 1.0  # no border at all: normalised by 1, not 0


def test_self_loops_ignored() -> None:
    graph = path_graph(2)
    graph.add_edge("U0", "U0", border_m=5.0)
    problem = problem_of(graph, 1, 100)
    assert set(entries(problem)) == {("U0", "U1"), ("U1", "U0")}


def test_single_unit_without_edges() -> None:
    graph = nx.Graph()
    graph.add_node("X", population=3)
    problem = problem_of(graph, 1, 10)
    assert problem.n == 1
    assert problem.indptr.tolist() == [0, 0]
    assert len(problem.indices) == 0


def test_pcn_and_district_indices() -> None:
    graph = path_graph(4)
    problem = problem_of(
        graph,
        1,
        100,
        pcn_of={"U0": "P2", "U1": "P1", "U2": "", "U3": "P2"},
        district_of={"U0": "D1", "U1": "D1", "U2": "D2", "U3": "D2"},
    )
    assert problem.pcn_codes == ["P1", "P2"]
    assert problem.pcn.tolist() == [1, 0, -1, 1]
    assert problem.n_pcn == 2
    assert problem.district_codes == ["D1", "D2"]
    assert problem.district.tolist() == [0, 0, 1, 1]


def test_no_pcns() -> None:
    problem = problem_of(path_graph(3), 1, 100)
    assert problem.n_pcn == 0
    assert (problem.pcn == -1).all()


def test_nest_in_district_drops_cross_district_edges() -> None:
    graph = grid_graph(2, 2)
    district_of = {cell(0, 0): "D1", cell(1, 0): "D1", cell(0, 1): "D2", cell(1, 1): "D2"}
    free = problem_of(graph, 1, 100, district_of=district_of)
    nested = problem_of(graph, 1, 100, district_of=district_of, rules=RulesConfig(nest_in="district"))
    assert len(free.indices) == 8
    got = entries(nested)
    assert set(got) == {
        (cell(0, 0), cell(1, 0)),
        (cell(1, 0), cell(0, 0)),
        (cell(0, 1), cell(1, 1)),
        (cell(1, 1), cell(0, 1)),
    }
    assert nested.total_cut_weight == 2000.0


def test_feasible_counts() -> None:
    problem = problem_of(path_graph(6), 20, 30)  # 60 residents
    assert problem.feasible_counts() == (2, 3)
    assert problem_of(path_graph(6), 25, 30).feasible_counts() == (2, 2)
    assert problem_of(path_graph(5), 0, 30).feasible_counts() == (2, 5)  # no floor: at most n areas


def test_weights_default_and_given() -> None:
    assert problem_of(path_graph(2), 1, 100).weights == ObjectiveConfig()
    w = ObjectiveConfig(pcn=2.0)
    assert problem_of(path_graph(2), 1, 100, weights=w).weights is w


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("rules", "where"),
    [
        (RulesConfig(keep_together=(("U0", "NOPE"),)), "keep_together"),
        (RulesConfig(keep_apart=(("U0", "NOPE"),)), "keep_apart"),
        (RulesConfig(locks=(LockConfig("North", ("NOPE",)),)), "lock 'North'"),
    ],
)
def test_unknown_rule_code_is_config_error(rules: RulesConfig, where: str) -> None:
    with pytest.raises(ConfigError, match=rf"\[rules\] {where} names unit 'NOPE', which is not in the units file"):
        problem_of(path_graph(3), 1, 100, rules=rules)


def test_keep_together_labels() -> None:
    rules = RulesConfig(keep_together=(("U1", "U2"), ("U4", "U5", "U6")))
    problem = problem_of(path_graph(8), 1, 100, rules=rules)
    t = problem.together
    assert t[0] == t[3] == t[7] == -1
    assert t[1] == t[2] >= 0
    assert t[4] == t[5] == t[6] >= 0
    assert t[1] != t[4]
    assert sorted(set(t[t >= 0].tolist())) == [0, 1]  # compact numbering


def test_overlapping_groups_are_merged() -> None:
    rules = RulesConfig(keep_together=(("U0", "U1"), ("U1", "U2")))
    problem = problem_of(path_graph(4), 1, 100, rules=rules)
    assert problem.together.tolist() == [0, 0, 0, -1]


def test_single_unit_group_constrains_nothing() -> None:
    rules = RulesConfig(keep_together=(("U2",),))
    problem = problem_of(path_graph(4), 1, 100, rules=rules)
    assert (problem.together == -1).all()


def test_lock_labels() -> None:
    rules = RulesConfig(
        locks=(
            LockConfig("North", ("U0", "U1")),
            LockConfig("South", ("U5",)),
            LockConfig("North", ("U2",)),  # a second entry for the same area
        )
    )
    problem = problem_of(path_graph(6), 1, 100, rules=rules)
    assert problem.lock_names == ["North", "South"]
    assert problem.lock.tolist() == [0, 0, 0, -1, -1, 1]
    # The North units form one keep-together group; a single locked unit is no group.
    assert problem.together[0] == problem.together[1] == problem.together[2] >= 0
    assert problem.together[5] == -1


def test_lock_and_keep_together_merge() -> None:
    rules = RulesConfig(locks=(LockConfig("North", ("U0",)),), keep_together=(("U0", "U3"),))
    problem = problem_of(path_graph(5), 1, 100, rules=rules)
    assert problem.together[0] == problem.together[3] >= 0
    assert problem.lock[0] == 0 and problem.lock[3] == -1


def test_unit_locked_to_two_areas_is_config_error() -> None:
    rules = RulesConfig(locks=(LockConfig("North", ("U0",)), LockConfig("South", ("U0",))))
    with pytest.raises(ConfigError, match="unit 'U0' is locked to two areas, 'North' and 'South'"):
        problem_of(path_graph(3), 1, 100, rules=rules)


def test_apart_pairs() -> None:
    rules = RulesConfig(keep_apart=(("U0", "U3"), ("U2", "U1")))
    problem = problem_of(path_graph(4), 1, 100, rules=rules)
    assert problem.apart_pairs.tolist() == [[0, 3], [2, 1]]
    assert problem_of(path_graph(4), 1, 100).apart_pairs.shape == (0, 2)
