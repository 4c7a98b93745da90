"""Carrying a previous plan onto changed units: same code, merged, split, recoded, new, ambiguous."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import shapely
from conftest import GridFactory

from sda.config import GraphConfig
from sda.graph import build_adjacency
from sda.planfile import PlanFile
from sda.previous import carry_previous, start_labels
from sda.problem import build_problem


def _previous(make_grid: GridFactory) -> PlanFile:
    """3 x 4 grid of 1 km cells; area A is columns 0-1, B columns 2-3."""
    units = make_grid(3, 4)
    assignment = pd.Series(
        ["A" if int(code[3]) < 2 else "B" for code in units.index], index=units.index, name="area_id"
    )
    return PlanFile(path=Path("previous.gpkg"), assignment=assignment, units=units)


def _reviewed(make_grid: GridFactory) -> gpd.GeoDataFrame:
    """The grid after a review: R0C0+R0C1 merged (M), R1C0 split (S1, S2), R2C3 recoded (X),
    R1C1+R1C2 merged across A and B (AB), and a new cell R3C0 north of the old extent."""
    grid = make_grid(4, 4)
    g = grid.geometry
    box = g["R1C0"].bounds
    mid = (box[0] + box[2]) / 2
    rows = {
        "M": shapely.union(g["R0C0"], g["R0C1"]),
        "S1": shapely.box(box[0], box[1], mid, box[3]),
        "S2": shapely.box(mid, box[1], box[2], box[3]),
        "X": g["R2C3"],
        "AB": shapely.union(g["R1C1"], g["R1C2"]),
        "R3C0": g["R3C0"],
    }
    kept = [c for c in grid.index if c not in {"R0C0", "R0C1", "R1C0", "R2C3", "R1C1", "R1C2"} and c[1] != "3"]
    frame = gpd.GeoDataFrame(
        {"population": 1000, "district": "D1"},
        geometry=[*g[kept], *rows.values()],
        index=pd.Index([*kept, *rows], name="unit_code"),
        crs="EPSG:27700",
    )
    frame["population"] = frame["population"].astype("int64")
    return frame


def test_each_unit_is_classified_and_carried(make_grid: GridFactory) -> None:
    carried = carry_previous(_reviewed(make_grid), _previous(make_grid))
    table = carried.table
    assert carried.weighting == "area"
    assert table.loc["M", ["kind", "sources", "previous_area"]].tolist() == ["merged from", "R0C0;R0C1", "A"]
    assert table.loc["S1", ["kind", "sources", "previous_area"]].tolist() == ["split from", "R1C0", "A"]
    assert table.loc["S2", "kind"] == "split from"
    assert table.loc["X", ["kind", "sources", "previous_area"]].tolist() == ["recoded", "R2C3", "B"]
    assert table.loc["R3C0", ["kind", "previous_area"]].tolist() == ["new", ""]
    assert table.loc["R2C1", ["kind", "previous_area"]].tolist() == ["same code", "A"]
    # Half A, half B by area: ambiguous, and flagged.
    assert table.loc["AB", "kind"] == "merged from"
    assert abs(table.loc["AB", "share"] - 0.5) < 1e-9
    assert carried.table.index[carried.table["ambiguous"]].tolist() == ["AB"]
    assert carried.counts()["same code"] == 6  # R0C2, R0C3, R1C3, R2C0, R2C1, R2C2


def test_population_points_weight_the_overlap(make_grid: GridFactory) -> None:
    x0, y0 = make_grid(1, 1).total_bounds[:2]
    # 900 residents in the B half of AB (cell R1C2), 100 in the A half (R1C1).
    points = gpd.GeoDataFrame(
        {"population": [100, 900]},
        geometry=[shapely.Point(x0 + 1500, y0 + 1500), shapely.Point(x0 + 2500, y0 + 1500)],
        crs="EPSG:27700",
    )
    carried = carry_previous(_reviewed(make_grid), _previous(make_grid), points=points)
    assert carried.weighting == "population points"
    assert carried.table.loc["AB", "previous_area"] == "B"
    assert abs(carried.table.loc["AB", "share"] - 0.9) < 1e-9
    assert not carried.table.loc["AB", "ambiguous"]


def test_a_csv_carries_by_code_only_and_says_so(make_grid: GridFactory) -> None:
    previous = _previous(make_grid)
    csv_only = PlanFile(path=Path("assignment.csv"), assignment=previous.assignment)
    carried = carry_previous(_reviewed(make_grid), csv_only)
    assert carried.weighting == "codes only"
    assert set(carried.table.loc[["M", "S1", "X", "AB"], "kind"]) == {"new"}
    assert "has unit codes only" in carried.notes[0] and "6 unit(s)" in carried.notes[0]
    new = carried.table.index[carried.table["kind"] == "new"].tolist()
    assert f"could not be carried by overlap: {', '.join(new)};" in carried.notes[0]  # each named


def test_a_csv_whose_leading_zeros_excel_dropped_is_named_in_the_note(make_grid: GridFactory) -> None:
    units = make_grid(1, 2).rename(index={"R0C0": "01001", "R0C1": "01002"})
    stripped = PlanFile(path=Path("assignment.csv"), assignment=pd.Series({"1001": "A", "1002": "A"}, name="area_id"))
    note = carry_previous(units, stripped).notes[0]
    assert "has unit codes only" in note
    assert "All 2 codes that match no unit would match units with the zeros in front put back" in note


def test_start_labels_are_contiguous_and_cover_every_unit(make_grid: GridFactory) -> None:
    units = _reviewed(make_grid)
    carried = carry_previous(units, _previous(make_grid))
    graph = build_adjacency(units, GraphConfig(contiguity="rook"))
    problem = build_problem(graph, min_pop=0, max_pop=10**6)
    labels, ids = start_labels(problem, carried)
    assert sorted(ids) == ["A", "B"]
    assert (labels >= 0).all()
    area = {code: ids[label] for code, label in zip(problem.codes, labels.tolist(), strict=True)}
    assert area["R3C0"] == "A"  # the new cell joins the area it borders
    for label in set(labels.tolist()):
        members = [c for c, lab in zip(problem.codes, labels.tolist(), strict=True) if lab == label]
        assert nx.is_connected(graph.subgraph(members))
