"""Small hand-built unit graphs and plan checks shared by the engine tests, and the hand-made
4x4 ``Plan`` shared by the output and report tests.

Graphs here are plain networkx graphs as ``sda.graph`` produces them: nodes are unit codes with
a ``population`` attribute, edges carry ``border_m``. Codes are chosen so that their sorted order
(the order ``build_problem`` uses for positions) is the obvious one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from hypothesis import strategies as st

from sda.config import AreasConfig, LockConfig, ObjectiveConfig, RulesConfig, RunConfig, UnitsConfig
from sda.plan import Plan, RuleResult
from sda.problem import Problem, build_problem

ORIGIN = (545_000.0, 258_000.0)  # Cambridge, in British National Grid metres


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


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path, with its bytes: to see that a command
    left a folder exactly as it was."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


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
    cut_measure: str = "length",
) -> Problem:
    """``build_problem`` with keyword defaults."""
    return build_problem(
        graph,
        min_pop=min_pop,
        max_pop=max_pop,
        pcn_of=pcn_of,
        district_of=district_of,
        rules=rules,
        weights=weights,
        cut_measure=cut_measure,
    )


def two_pcn_grid() -> Problem:
    """2 x 6 grid, 10 residents a cell; columns 0-2 are PCN ``A``, columns 3-5 PCN ``B``.

    The band [50, 70] forces 2 areas (120 residents), each of 5-7 cells; the plan with
    coterminosity 1.0 is exactly the left and right halves.
    """
    graph = grid_graph(2, 6)
    pcn = {cell(r, c): ("A" if c < 3 else "B") for r in range(2) for c in range(6)}
    return problem_of(graph, 50, 70, pcn_of=pcn)


def ruled_grid() -> tuple[Problem, np.ndarray]:
    """A 4x4 grid (10 a cell, band [30, 50], PCN A in columns 0-1, B in 2-3) with every kind of
    rule: R0C0 and R0C1 kept together, R1C2 and R2C2 kept apart, R3C3 locked to "North"; and a
    valid start that keeps them all (one area per row)."""
    rules = RulesConfig(
        keep_together=((cell(0, 0), cell(0, 1)),),
        keep_apart=((cell(1, 2), cell(2, 2)),),
        locks=(LockConfig("North", (cell(3, 3),)),),
    )
    pcn = {cell(r, c): ("A" if c < 2 else "B") for r in range(4) for c in range(4)}
    problem = problem_of(grid_graph(4, 4), 30, 50, pcn_of=pcn, rules=rules)
    return problem, labels_from(problem, {c: int(c[1]) for c in problem.codes})


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


# --------------------------------------------------------------------------- a hand-made plan


def quadrant_plan(*, extras: bool = True) -> Plan:
    """Build a 4x4 grid of 1 km squares in four 2x2 quadrant areas A1-A4, two PCNs, band 3,000-6,000.

    Made by hand, not by the engine (``sda.api.build_plan`` makes a plan from an assignment), so
    the report and output tests check the writers against figures computed independently.

    Populations rise by 25 a cell in row-major order (1,000..1,375), so the areas hold 4,250
    (A1, bottom left), 4,450 (A2), 5,050 (A3) and 5,250 (A4, top right): 19,000 in all.
    PCN P1 is the west half plus cell R0C2, which sits in A2, so A2 is not fully coterminous.
    ``extras`` adds practices, alternatives, an ensemble and a bound.
    """
    codes, geoms, pops, pcns, areas = [], [], [], [], []
    for r in range(4):
        for c in range(4):
            x, y = ORIGIN[0] + c * 1000, ORIGIN[1] + r * 1000
            codes.append(f"R{r}C{c}")
            geoms.append(shapely.box(x, y, x + 1000, y + 1000))
            pops.append(1000 + 25 * (4 * r + c))
            pcns.append("P1" if c < 2 or (r, c) == (0, 2) else "P2")
            areas.append(_quadrant(r, c))
    units = gpd.GeoDataFrame(
        {
            "unit_name": [f"Unit {c}" for c in codes],
            "population": np.array(pops, dtype="int64"),
            "district": ["D1" if c < 2 else "D2" for r in range(4) for c in range(4)],
            "district_name": ["West" if c < 2 else "East" for r in range(4) for c in range(4)],
            "pcn_code": pcns,
            "area_id": areas,
        },
        geometry=geoms,
        crs="EPSG:27700",
        index=pd.Index(codes, name="unit_code"),
    )
    graph = nx.Graph(contiguity="queen", snap_m=1.0, edits=[])
    graph.add_nodes_from((code, {"population": int(p)}) for code, p in zip(codes, pops, strict=True))
    for r in range(4):
        for c in range(4):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr < 4 and c + dc < 4:
                    graph.add_edge(f"R{r}C{c}", f"R{r + dr}C{c + dc}", border_m=1000.0, kind="touch")
    config = RunConfig(
        units=UnitsConfig(path=Path("x.geojson"), code_field="code"),
        areas=AreasConfig(min_population=3000, max_population=6000),
    )
    target = 4750.0
    table = areas_table(units, graph, target)
    plan = Plan(
        units=units,
        areas=table,
        scores=plan_scores(units, table, graph),
        rules=[RuleResult("band", True), RuleResult("contiguity", True, "every area is connected")],
        graph=graph,
        config=config,
        target_population=target,
        warnings=["unit R0C0 has an odd shape"],
        provenance={"pcn_method": "nearest", "seed": 1, "timings": {"total_s": 1.5}},
    )
    if extras:
        plan.practices = gpd.GeoDataFrame(
            {"practice_code": ["X1", "X2"], "pcn_code": ["P1", "P2"], "pcn_name": ["West PCN", "East PCN"]},
            geometry=[
                shapely.Point(ORIGIN[0] + 500, ORIGIN[1] + 500),
                shapely.Point(ORIGIN[0] + 3500, ORIGIN[1] + 3500),
            ],
            crs="EPSG:27700",
        )
        plan.alternatives = [
            {
                "label": "k=3",
                "count": 3,
                "feasible": True,
                "coterminosity": 0.8,
                "pcns_split": 1,
                "cut_border_km": 5.0,
                "mean_polsby_popper": 0.6,
                "objective": 0.2,
            },
            {
                "label": "k=5",
                "count": 5,
                "feasible": False,
                "coterminosity": None,
                "pcns_split": None,
                "cut_border_km": None,
                "mean_polsby_popper": None,
                "objective": None,
                "error": "no 5-area plan fits",
            },
        ]
        rng = np.random.default_rng(0)
        plan.ensemble = pd.DataFrame(
            {
                "coterminosity": rng.uniform(0.6, 0.95, 40),
                "cut_border_km": rng.uniform(7.0, 10.0, 40),
                "mean_polsby_popper": rng.uniform(0.4, 0.8, 40),
            }
        )
        achieved = plan.scores["coterminosity"]
        plan.bound = {  # the shape sda.exact.bound_plan writes (sda.plan.Bound)
            "measure": "PCN coterminosity",
            "plan": achieved,
            "aggregate_bound": 1.0,
            "full_model": {
                "status": "Time limit reached",
                "primal": achieved * 19_000,
                "dual_bound": achieved * 19_000 / (1 - 0.0125),
                "seconds": 2.0,
            },
            "bound": achieved / (1 - 0.0125),
            "gap": 0.0125,
            "seconds": 2.1,
        }
    return plan


def _quadrant(r: int, c: int) -> str:
    return {(0, 0): "A1", (0, 1): "A2", (1, 0): "A3", (1, 1): "A4"}[(r // 2, c // 2)]


def areas_table(units: gpd.GeoDataFrame, graph: nx.Graph, target: float) -> gpd.GeoDataFrame:
    """Compute the ``plan.areas`` table the engine would make, the slow, obvious way."""
    assignment = units["area_id"]
    rows = []
    for area, members in units.groupby("area_id"):
        pop = int(members["population"].sum())
        by_pcn = members.groupby("pcn_code")["population"].sum()
        shape = members.geometry.union_all()
        cut = sum(
            d["border_m"] for u, v, d in graph.edges(data=True) if (assignment[u] == area) != (assignment[v] == area)
        )
        rows.append(
            {
                "area_id": area,
                "population": pop,
                "n_units": len(members),
                "deviation": pop - target,
                "deviation_pct": 100.0 * (pop - target) / target,
                "districts": ";".join(sorted(set(members["district"]))),
                "n_districts": members["district"].nunique(),
                "dominant_pcn": str(by_pcn.idxmax()),
                "pcn_coterminosity": float(by_pcn.max() / pop),
                "n_pcns": len(by_pcn),
                "cut_border_m": float(cut),
                "polsby_popper": float(4 * math.pi * shape.area / shape.length**2),
                "geometry": shape,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:27700").set_index("area_id")


def plan_scores(units: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, graph: nx.Graph) -> dict[str, float]:
    assignment = units["area_id"]
    cut_m = sum(d["border_m"] for u, v, d in graph.edges(data=True) if assignment[u] != assignment[v])
    kept = sum(areas["population"] * areas["pcn_coterminosity"])
    return {
        "coterminosity": float(kept / units["population"].sum()),
        "pcns_split": float((units.groupby("pcn_code")["area_id"].nunique() > 1).sum()),
        "cut_edges": float(sum(assignment[u] != assignment[v] for u, v in graph.edges())),
        "cut_border_km": cut_m / 1000.0,
        "mean_polsby_popper": float(areas["polsby_popper"].mean()),
        "objective": 0.1,
        "n_areas": float(len(areas)),
        "district_splits": float("nan"),
    }


def block_plan(rows: int, cols: int, block: int = 2, side_m: float = 200.0) -> Plan:
    """Build a plan of ``rows`` x ``cols`` square cells grouped into ``block`` x ``block`` square areas.

    Made by hand for the map tests at scale: a 40 x 40 grid in 2 x 2 blocks is 400 small areas
    (ids ``B000``...), each of 4 cells of 1,000 residents; the west and east halves are two
    districts. Only what the maps read is filled in (units, area shapes, scores, graph, config).
    """
    codes, geoms, areas, districts = [], [], [], []
    per_row = cols // block
    for r in range(rows):
        for c in range(cols):
            x, y = ORIGIN[0] + c * side_m, ORIGIN[1] + r * side_m
            codes.append(f"R{r}C{c}")
            geoms.append(shapely.box(x, y, x + side_m, y + side_m))
            areas.append(f"B{(r // block) * per_row + c // block:03d}")
            districts.append("D1" if c < cols // 2 else "D2")
    units = gpd.GeoDataFrame(
        {
            "unit_name": [f"Unit {c}" for c in codes],
            "population": np.full(len(codes), 1000, dtype="int64"),
            "district": districts,
            "district_name": ["West" if d == "D1" else "East" for d in districts],
            "pcn_code": areas,
            "area_id": areas,
        },
        geometry=geoms,
        crs="EPSG:27700",
        index=pd.Index(codes, name="unit_code"),
    )
    graph = nx.grid_2d_graph(rows, cols)
    graph = nx.relabel_nodes(graph, {(r, c): f"R{r}C{c}" for r, c in graph.nodes})
    per_area = 1000 * block * block
    table = units.dissolve(by="area_id", aggfunc={"population": "sum"})
    config = RunConfig(
        units=UnitsConfig(path=Path("x.geojson"), code_field="code"),
        areas=AreasConfig(min_population=per_area - 500, max_population=per_area + 500),
    )
    return Plan(
        units=units,
        areas=table,
        scores={"coterminosity": 1.0},
        rules=[],
        graph=graph,
        config=config,
        target_population=float(per_area),
        provenance={"seed": 1},
    )
