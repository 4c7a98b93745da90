"""Editing a plan.gpkg as QGIS does: an UPDATE of ``area_id`` in the ``units`` table, by fid.

A GeoPackage is an SQLite file. GDAL's spatial-index triggers name the ``ST_*`` functions that
QGIS (through GDAL) registers on its connection; plain ``sqlite3`` lacks them, so stand-ins are
registered that fail if called. An attribute edit never calls them: the triggers that use them
fire only when the geometry or the fid changes.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sda.api import run
from sda.config import RunConfig, load_config
from sda.outputs import write_outputs
from sda.problem import Problem


def _never(*_args: object) -> None:
    msg = "a spatial-index trigger ran: the edit touched the geometry or the fid"
    raise AssertionError(msg)


def update_in_place(gpkg: Path, sql: str, parameters: tuple[object, ...] = ()) -> int:
    """Run one attribute ``UPDATE`` on the GeoPackage, in place, as QGIS saves an edit made in an
    attribute table; returns the rows changed."""
    with sqlite3.connect(gpkg) as db:
        for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            db.create_function(name, 1, _never)
        changed = int(db.execute(sql, parameters).rowcount)
    db.close()
    return changed


def edit_units_in_place(gpkg: Path, area_by_fid: Mapping[int, str | None]) -> None:
    """Set ``area_id`` of the ``units`` features with these fids, in place, as QGIS saves an edit."""
    for fid, area in area_by_fid.items():
        changed = update_in_place(gpkg, "UPDATE units SET area_id = ? WHERE fid = ?", (area, int(fid)))
        assert changed == 1, f"no feature with fid {fid} in {gpkg}"


def rename_area_in_place(gpkg: Path, area: str, name: str) -> None:
    """Set ``area_name`` of every unit of ``area`` in the ``units`` layer, in place (a rename in QGIS)."""
    changed = update_in_place(gpkg, "UPDATE units SET area_name = ? WHERE area_id = ?", (name, area))
    assert changed > 0, f"no units of {area} in {gpkg}"


def merge_areas_layer_in_place(gpkg: Path, into: str, merged: str) -> None:
    """Give area ``merged``'s feature of the ``areas`` layer the id ``into``, in place, as an officer
    merging areas in QGIS's attribute table of that layer would."""
    changed = update_in_place(gpkg, "UPDATE areas SET area_id = ? WHERE area_id = ?", (into, merged))
    assert changed == 1, f"no area {merged} in {gpkg}"


def fids_of(gpkg: Path) -> dict[str, int]:
    """``unit_code -> fid`` of the ``units`` layer."""
    with sqlite3.connect(gpkg) as db:
        rows = db.execute("SELECT unit_code, fid FROM units").fetchall()
    db.close()
    return {str(code): int(fid) for code, fid in rows}


@dataclass(frozen=True)
class BreakingEdits:
    """Edits that take one area below the band and cut another in two, each nothing else."""

    moves: dict[str, str]  # unit code -> new area id
    short_area: str  # falls below min_population
    short_to: str  # the neighbour that took its units
    short_units: tuple[str, ...]
    split_area: str  # loses a unit that held it together
    split_unit: str
    split_to: str


def choose_breaking_edits(problem: Problem, assignment: Mapping[str, str]) -> BreakingEdits:
    """Pick, on a valid plan, the edits an officer might make in QGIS: border units of the
    smallest area moved to a neighbour until it falls below the band (it stays connected and
    the neighbour stays in band), and, in a third area, one unit whose removal splits it, moved
    to a fourth (both stay in band)."""
    codes = problem.codes
    area = [str(assignment[c]) for c in codes]
    pop = {a: 0 for a in set(area)}
    for i, a in enumerate(area):
        pop[a] += int(problem.pop[i])

    def nbrs(i: int) -> list[int]:
        return [int(j) for j in problem.neighbours(i)]

    def connected(members: set[int]) -> bool:
        if not members:
            return True
        start = next(iter(members))
        seen, todo = {start}, [start]
        while todo:
            for j in nbrs(todo.pop()):
                if j in members and j not in seen:
                    seen.add(j)
                    todo.append(j)
        return len(seen) == len(members)

    members = {a: {i for i, x in enumerate(area) if x == a} for a in pop}
    for short in sorted(pop, key=lambda a: pop[a]):
        for to in sorted({area[j] for i in members[short] for j in nbrs(i)} - {short}):
            moved: list[int] = []
            left = set(members[short])
            frontier = sorted(i for i in left if any(area[j] == to for j in nbrs(i)))
            while frontier and pop[short] - sum(int(problem.pop[i]) for i in moved) >= problem.min_pop:
                i = frontier.pop(0)
                if i in moved or not connected(left - {i}):
                    continue
                moved.append(i)
                left.discard(i)
                frontier += sorted(j for j in nbrs(i) if j in left and j not in frontier)
            taken = sum(int(problem.pop[i]) for i in moved)
            if pop[short] - taken >= problem.min_pop or pop[to] + taken > problem.max_pop or not left:
                continue
            others = sorted(set(pop) - {short, to})
            for split in others:
                for u in sorted(members[split]):
                    rest = members[split] - {u}
                    if connected(rest) or pop[split] - int(problem.pop[u]) < problem.min_pop:
                        continue
                    for dest in sorted({area[j] for j in nbrs(u)} - {split, short, to}):
                        if pop[dest] + int(problem.pop[u]) <= problem.max_pop:
                            moves = {codes[i]: to for i in moved} | {codes[u]: dest}
                            return BreakingEdits(
                                moves, short, to, tuple(codes[i] for i in moved), split, codes[u], dest
                            )
    msg = "no such edits on this plan"
    raise AssertionError(msg)


def quick_config(repo_root: Path, out: Path, name: str = "cambridgeshire-peterborough.toml") -> RunConfig:
    """A shipped config with a small step budget, one start, no bound and no trade-offs."""
    cfg = load_config(repo_root / "configs" / name)
    return dataclasses.replace(
        cfg,
        search=dataclasses.replace(cfg.search, steps=100_000, starts=1),
        tradeoffs=dataclasses.replace(cfg.tradeoffs, enabled=False),
        exact=dataclasses.replace(cfg.exact, enabled=False),
        output=dataclasses.replace(cfg.output, dir=out),
    )


def write_real_run(cfg: RunConfig) -> Path:
    """Propose with ``cfg`` on the shipped units and write the output folder (as ``sda propose``)."""
    write_outputs(run(cfg), cfg.output.dir)
    return cfg.output.dir


def copy_run(folder: Path, to: Path) -> Path:
    """A copy of an output folder, to edit without touching the original."""
    shutil.copytree(folder, to)
    return to
