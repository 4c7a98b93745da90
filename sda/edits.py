"""Repairing a plan an officer edited (``sda repair``): a valid plan, few residents moved.

The officer's edits (units whose area differs from the run's ``assignment.csv``) and every unit
of the ``--keep`` areas are held where the officer put them (the engine's frozen units). The
engine then starts from the edited plan (``search(initial_labels=...)``), repairs the band and
contiguity moving as few residents as it can, and anneals with the ``moved`` term pricing every
resident whose area differs from the edited plan, so that it only moves what it must.

When holding the edits makes the rules impossible, ``find_conflicts`` says which held unit
conflicts with which rule, with the numbers: an area that cannot reach the band because every
neighbour it could take in is held elsewhere, held units of one area that no free unit can join,
held units that break a lock, a keep-together group or a keep-apart pair, or that put an area
above the band on their own.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from sda.config import RunConfig
from sda.errors import InfeasibleError, InputError
from sda.formatting import show_whole
from sda.problem import Problem

__all__ = ["find_conflicts", "held_units"]

Progress = Callable[[str], None]


def held_units(
    problem: Problem,
    labels: np.ndarray,
    names: Sequence[str],
    edits: Iterable[str],
    keep: Iterable[str],
    source: Path | str = "PLAN",
) -> np.ndarray:
    """Which units stay where the plan puts them: the edited units and every unit of the
    ``keep`` areas (bool per unit, in the problem's order).

    Raises
    ------
    InputError
        A ``keep`` area is not an area of the plan (with the nearest id).
    """
    held = np.zeros(problem.n, dtype=bool)
    position = {c: i for i, c in enumerate(problem.codes)}
    for code in edits:
        held[position[str(code)]] = True
    for area in keep:
        if area not in names:
            near = difflib.get_close_matches(area, list(names), n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            msg = (
                f"--keep {area!r} is not an area of the plan{hint}; the areas are {', '.join(names)}. "
                "Fix: give an area id as it is in the plan's area_id column."
            )
            raise InputError(source, msg, field="area_id")
        held |= labels == names.index(area)
    return held


def find_conflicts(
    problem: Problem,
    labels: np.ndarray,
    names: Sequence[str],
    held: np.ndarray,
    cfg: RunConfig,
    edits: pd.DataFrame | None = None,
) -> list[str]:
    """Every way holding the ``held`` units where they are makes the rules impossible, one line
    each naming the held units, the areas, the rule and the numbers; empty when none is found.

    These are sure conflicts (necessary conditions), not a proof that a plan exists: an empty
    answer means the engine is worth running, not that it will succeed.
    """
    edited = set() if edits is None else {str(c) for c in edits.index}
    lines: list[str] = []
    lines += _rule_conflicts(problem, labels, names, held, cfg)
    lines += _band_and_contiguity_conflicts(problem, labels, names, held, edited)
    return lines


def _rule_conflicts(
    problem: Problem, labels: np.ndarray, names: Sequence[str], held: np.ndarray, cfg: RunConfig
) -> list[str]:
    lines = []
    for i in np.flatnonzero(held & (problem.lock >= 0)).tolist():
        lock = problem.lock_names[problem.lock[i]]
        if names[labels[i]] != lock:
            lines.append(
                f"holding {problem.codes[i]} in {names[labels[i]]} breaks the lock of {lock!r}: "
                f"the config locks it to {lock}"
            )
    for gi, group in enumerate(cfg.rules.keep_together, start=1):
        positions = [problem.codes.index(c) for c in group]
        areas = {names[labels[i]] for i in positions if held[i]}
        if len(areas) > 1:
            where = ", ".join(f"{problem.codes[i]} in {names[labels[i]]}" for i in positions if held[i])
            lines.append(f"holding {where} breaks keep_together #{gi}: the group must share one area")
    for x, y in problem.apart_pairs.tolist():
        if held[x] and held[y] and labels[x] == labels[y]:
            lines.append(
                f"holding {problem.codes[x]} and {problem.codes[y]} in {names[labels[x]]} breaks keep_apart: "
                "they must be in different areas"
            )
    if cfg.rules.nest_in == "district":
        for a, name in enumerate(names):
            inside = np.flatnonzero(held & (labels == a))
            districts = np.unique(problem.district[inside])
            if len(districts) > 1:
                parts = [
                    f"{_codes(problem, inside[problem.district[inside] == d])} ({problem.district_codes[d]})"
                    for d in districts
                ]
                lines.append(f"holding {' and '.join(parts)} in {name} breaks nest_in = 'district'")
    return lines


def _band_and_contiguity_conflicts(
    problem: Problem, labels: np.ndarray, names: Sequence[str], held: np.ndarray, edited: set[str]
) -> list[str]:
    """Per area: its held units must fit the band on their own and be joinable through free
    units; and the area must be able to reach the minimum through units not held elsewhere."""
    lines = []
    src = np.repeat(np.arange(problem.n), np.diff(problem.indptr))
    dst = problem.indices
    for a, name in enumerate(names):
        mine = held & (labels == a)
        open_ = ~held | mine  # units this area could end up holding
        keep = open_[src] & open_[dst]
        graph = sp.csr_matrix((np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(problem.n, problem.n))
        _, comp = connected_components(graph, directed=False)
        held_pop = int(problem.pop[mine].sum())
        if held_pop > problem.max_pop:
            lines.append(
                f"holding {_codes(problem, np.flatnonzero(mine))} in {name} puts {show_whole(held_pop)} residents "
                f"there, {show_whole(held_pop - problem.max_pop)} above the maximum of {show_whole(problem.max_pop)}"
            )
        members = np.flatnonzero(labels == a)
        seeds = np.flatnonzero(mine) if mine.any() else members
        groups = np.unique(comp[seeds])
        if mine.any() and len(groups) > 1:
            parts = [_codes(problem, np.flatnonzero(mine & (comp == g))) for g in groups]
            lines.append(
                f"holding {' | '.join(parts)} in {name} cuts it in {len(groups)}: no free units join these groups "
                f"(units held in other areas lie between them), so {name} cannot be one piece"
            )
            continue
        reach = np.isin(comp, groups) & open_
        reach_pop = int(problem.pop[reach].sum())
        if reach_pop < problem.min_pop:
            now = int(problem.pop[members].sum())
            border = _held_border(problem, reach, held, labels, a)
            blamed = [i for i in border if problem.codes[i] in edited] or border
            holders = sorted({names[labels[i]] for i in blamed})
            lines.append(
                f"holding {_codes(problem, np.array(blamed))} in {', '.join(holders)} leaves {name} at "
                f"{show_whole(now)} residents with no free neighbour to take in: at most "
                f"{show_whole(reach_pop)} residents are within its reach, below the minimum of "
                f"{show_whole(problem.min_pop)}"
            )
    return lines


def _held_border(problem: Problem, reach: np.ndarray, held: np.ndarray, labels: np.ndarray, a: int) -> list[int]:
    """Held units of other areas that touch the region an area can reach (they fence it in)."""
    out = set()
    for i in np.flatnonzero(reach).tolist():
        for j in problem.neighbours(i).tolist():
            if held[j] and labels[j] != a and not reach[j]:
                out.add(int(j))
    return sorted(out)


def _codes(problem: Problem, positions: np.ndarray, limit: int = 8) -> str:
    codes = [problem.codes[i] for i in np.asarray(positions, dtype=np.int64).tolist()]
    shown = ", ".join(codes[:limit])
    return shown + (f" (+{len(codes) - limit} more)" if len(codes) > limit else "")


def _raise_conflicts(conflicts: list[str], n_held: int) -> None:
    if conflicts:
        body = "\n".join(f"  - {c}" for c in conflicts)
        msg = (
            f"holding the {n_held} unit(s) in place makes the rules impossible:\n{body}\n"
            "Fix: undo or change those edits (sda evaluate lists them), or --keep fewer areas."
        )
        raise InfeasibleError(msg)
