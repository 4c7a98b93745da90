"""Small hand-built unit graphs and plan checks shared by the engine tests.

Graphs here are plain networkx graphs as ``sda.graph`` produces them: nodes are unit codes with
a ``population`` attribute, edges carry ``border_m``. Codes are chosen so that their sorted order
(the order ``build_problem`` uses for positions) is the obvious one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np
from hypothesis import strategies as st

from sda.config import ObjectiveConfig, RulesConfig
from sda.problem import Problem, build_problem


def path_graph(n: int, population: int | Sequence[int] = 10, border_m: float = 100.0) -> nx.Graph:
    """Units ``U0..U{n-1}`` (n <= 10) in a line, ``population`` each (or one per unit)."""
    assert n <= 10, "codes U0..U9 sort correctly only up to 10 units"
    pops = [population] * n if isinstance(population, int) else list(population)
    graph = nx.Graph()
    for i in range(n):
        graph.add_node(f"U{i}", population=int(pops[i]))
    for i in range(n - 1):
        graph.add_edge(f"U{i}", f"U{i + 1}", border_m=border_m)
    return graph


def cell(r: int, c: int) -> str:
    """Code of grid cell (row, col): ``R{r}C{c}`` (rows and cols below 10, so codes sort row-major)."""
    return f"R{r}C{c}"


def grid_graph(rows: int, cols: int, population: int | Sequence[int] = 10, border_m: float = 1000.0) -> nx.Graph:
    """A rook-contiguous ``rows`` x ``cols`` grid; populations given per cell in row-major order."""
    assert rows <= 10 and cols <= 10
    n = rows * cols
    pops = [population] * n if isinstance(population, int) else list(population)
    graph = nx.Graph()
    for r in range(rows):
        for c in range(cols):
            graph.add_node(cell(r, c), population=int(pops[r * cols + c]))
    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols:
                graph.add_edge(cell(r, c), cell(r, c + 1), border_m=border_m)
            if r + 1 < rows:
                graph.add_edge(cell(r, c), cell(r + 1, c), border_m=border_m)
    return graph


def problem_of(
    graph: nx.Graph,
    min_pop: int,
    max_pop: int,
    *,
    pcn_of: Mapping[str, str] | None = None,
    district_of: Mapping[str, str] | None = None,
    rules: RulesConfig | None = None,
    weights: ObjectiveConfig | None = None,
) -> Problem:
    """``build_problem`` with keyword defaults."""
    return build_problem(
        graph, min_pop=min_pop, max_pop=max_pop, pcn_of=pcn_of, district_of=district_of, rules=rules, weights=weights
    )


def two_pcn_grid() -> Problem:
    """2 x 6 grid, 10 residents a cell; columns 0-2 are PCN ``A``, columns 3-5 PCN ``B``.

    The band [50, 70] forces 2 areas (120 residents), each of 5-7 cells; the plan with
    coterminosity 1.0 is exactly the left and right halves.
    """
    graph = grid_graph(2, 6)
    pcn = {cell(r, c): ("A" if c < 3 else "B") for r in range(2) for c in range(6)}
    return problem_of(graph, 50, 70, pcn_of=pcn)


def left_right_halves(problem: Problem) -> np.ndarray:
    """Labels of the two_pcn_grid optimum (0 = columns 0-2), as positions of ``problem.codes``."""
    return np.array([0 if int(code[3]) < 3 else 1 for code in problem.codes], dtype=np.int64)


def labels_from(problem: Problem, areas: Mapping[str, int]) -> np.ndarray:
    """Labels array (in ``problem.codes`` order) from ``{code: area}``."""
    return np.array([areas[c] for c in problem.codes], dtype=np.int64)


def area_sets(problem: Problem, labels: np.ndarray) -> set[frozenset[str]]:
    """The plan as a set of areas, each the frozenset of its unit codes (label-free)."""
    return {frozenset(problem.codes[i] for i in np.flatnonzero(labels == a)) for a in np.unique(labels)}


def problem_graph(problem: Problem) -> nx.Graph:
    """The Problem's adjacency as a networkx graph on positions (independent of sda's own checks)."""
    graph = nx.Graph()
    graph.add_nodes_from(range(problem.n))
    for i in range(problem.n):
        for j in problem.neighbours(i).tolist():
            graph.add_edge(i, int(j))
    return graph


def assert_valid_plan(problem: Problem, labels: np.ndarray | None, k: int | None = None) -> None:
    """Every unit in exactly one area ``0..k-1``; every area non-empty, connected and in band."""
    assert labels is not None
    labels = np.asarray(labels)
    assert labels.shape == (problem.n,)
    assert labels.min() >= 0
    n_areas = int(labels.max()) + 1
    if k is not None:
        assert n_areas == k
    graph = problem_graph(problem)
    for a in range(n_areas):
        members = np.flatnonzero(labels == a)
        assert len(members), f"area {a} is empty"
        people = int(problem.pop[members].sum())
        assert problem.min_pop <= people <= problem.max_pop, f"area {a} has {people}"
        assert nx.is_connected(graph.subgraph(members.tolist())), f"area {a} is not connected"


@st.composite
def grids_with_a_known_plan(draw: st.DrawFn) -> tuple[nx.Graph, dict[str, str], int, int, int]:
    """Random 3-5 x 3-5 grids, populations 1-20, two random PCNs, and a band that the plan "one
    area per row" meets with some slack (so a valid plan with ``rows`` areas exists)."""
    rows = draw(st.integers(3, 5))
    cols = draw(st.integers(3, 5))
    pops = draw(st.lists(st.integers(1, 20), min_size=rows * cols, max_size=rows * cols))
    row_pops = [sum(pops[r * cols : (r + 1) * cols]) for r in range(rows)]
    mean = sum(row_pops) / rows
    below = draw(st.integers(int(mean / 5), int(mean / 2)))
    above = draw(st.integers(int(mean / 5), int(mean / 2)))
    min_pop = max(min(row_pops) - below, 0)
    max_pop = max(row_pops) + above
    graph = grid_graph(rows, cols, population=pops)
    pcn = {code: draw(st.sampled_from("AB")) for code in sorted(graph.nodes)}
    return graph, pcn, min_pop, max_pop, rows
