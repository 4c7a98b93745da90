"""Proof of quality: HiGHS models that bound (and on small instances solve) PCN coterminosity.

Four models, all real MIPs solved by HiGHS (``highspy``):

- **Aggregate bound** (any size, milliseconds). Forget geography: choose how many areas each PCN
  dominates (``n_p``), how many of its residents are coterminous (``x_p``) and how many others
  fill its areas (``y_p``), with ``min*n_p <= x_p + y_p <= max*n_p``, ``sum n_p = k`` and every
  resident in some area. Every valid plan is a solution of this relaxation, so its optimum is an
  upper bound on any plan's coterminosity with ``k`` areas. It is what limits small PCNs
  (below the band floor) and large ones (above the ceiling).
- **Per component** (``component_bound``): the aggregate model per connected component of the
  unit graph (the districts when areas nest in them).
- **Per PCN piece** (``pieces_bound``, 2-4 s on the shipped data): each PCN cut into its
  connected pieces; an area holding two pieces of its PCN also holds the other residents
  between them, and what a ring of pieces gives to other areas it cannot also keep
  (``ring_cuts``). The tightest geography-aware bound that fits in a run.
- **Full model** (up to ``max_units`` units). Unit-to-area assignment ``x[i,a]``, a designated PCN
  per area ``d[a,p]``, coterminous residents ``z[i,a] <= x[i,a], z[i,a] <= d[a,pcn(i)]``, the band
  on every area, and contiguity by single-commodity flow (Shirabe 2005): each area has one root
  that supplies flow, every other member consumes one unit, and flow runs only between members.
  HiGHS starts from the heuristic plan; within the time limit it either proves it optimal,
  improves it (the better plan is returned), or leaves a dual bound. When the objective it
  reports is not its solution's, it solves again without the start (as the pool does).

The reported bound is the tightest of them, and the gap is ``(bound - plan) / bound``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import time
from collections.abc import Iterator
from typing import NamedTuple

import highspy
import numpy as np
import scipy.sparse as sp

from sda.config import ExactConfig
from sda.joins import joining_costs
from sda.metrics import edge_sources, link_components
from sda.objective import stats_of
from sda.plan import Bound, HighsResult
from sda.problem import Problem
from sda.ring_cuts import AreaTypes, ring_cuts
from sda.rules import check_rules

_INF = highspy.kHighsInf
#: HiGHS branch-and-bound nodes at most for each geography-aware bound: a work limit, so a busy
#: machine proves the same bound as a quiet one. The shipped configs close within 892 nodes (28
#: areas; 15-293 on the default config). ``[exact] time_limit_s`` is only a guard: when a 10 s
#: clock alone stopped the search, a loaded machine reported 0.950 where the model proves 0.946.
BOUND_MAX_NODES = 10_000


@contextlib.contextmanager
def silenced_solver_output() -> Iterator[None]:
    """Discard what the C++ solver prints on file descriptor 1 for a while.

    HiGHS prints its banner on stdout when a ``Highs`` object is made, before ``output_flag`` can
    be set, which would break ``sda propose --json`` (stdout is for results only). Python's
    ``sys.stdout`` is flushed first so nothing already written is lost or reordered.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (some embedded hosts): nothing to protect
        yield
        return
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(sink)


def quiet_highs(time_limit_s: float) -> highspy.Highs:
    """A HiGHS that prints nothing, uses one thread and a fixed seed (the same answer on any
    machine and at any number of workers), with a clock limit."""
    with silenced_solver_output():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    return h


def reports_its_solution(reported: float, actual: float) -> bool:
    """Whether the objective HiGHS reports is that of the solution it returns, ``actual``, to
    1e-6 (its tolerances). HiGHS 1.16's presolve, given a start, has been seen to end "Optimal"
    with an objective below the LP relaxation and hand the start back (``sda.engine.pool``)."""
    return abs(actual - reported) <= 1e-6 * max(1.0, abs(reported))


def _solve(
    cost: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    integer: np.ndarray,
    rows: sp.coo_matrix,
    row_lo: np.ndarray,
    row_hi: np.ndarray,
    time_limit_s: float,
    start: np.ndarray | None = None,
    max_nodes: int | None = None,
) -> tuple[highspy.Highs, HighsResult]:
    """Maximise ``cost @ v`` subject to ``row_lo <= rows @ v <= row_hi`` and bounds; a HiGHS MIP,
    stopped by the clock or after ``max_nodes`` branch-and-bound nodes."""
    h = quiet_highs(time_limit_s)
    if max_nodes is not None:
        h.setOptionValue("mip_max_nodes", int(max_nodes))
    lp = highspy.HighsLp()
    n = len(cost)
    lp.num_col_ = n
    lp.num_row_ = rows.shape[0]
    lp.col_cost_ = cost.astype(float)
    lp.col_lower_ = lower.astype(float)
    lp.col_upper_ = upper.astype(float)
    lp.row_lower_ = row_lo.astype(float)
    lp.row_upper_ = row_hi.astype(float)
    lp.sense_ = highspy.ObjSense.kMaximize
    csc = rows.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous for f in integer]
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = start.astype(float).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    t0 = time.monotonic()
    with silenced_solver_output():
        h.run()
    info = h.getInfo()
    status = h.modelStatusToString(h.getModelStatus())
    return h, {
        "status": status,
        "primal": float(info.objective_function_value),
        "dual_bound": float(info.mip_dual_bound),
        "seconds": round(time.monotonic() - t0, 2),
    }


def _answer_checks_out(h: highspy.Highs, cost: np.ndarray, result: HighsResult) -> bool:
    """Whether the objective HiGHS reports is that of the solution it returns
    (``reports_its_solution``); True when there is no solution to compare."""
    values = np.asarray(h.getSolution().col_value)
    if len(values) != len(cost) or not np.isfinite(result["primal"]):
        return True
    return reports_its_solution(result["primal"], float(cost @ values))


class _Rows:
    """Accumulates constraint rows in COO form."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.count = 0

    def add(self, row: np.ndarray, col: np.ndarray, val: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        """Add rows numbered ``0..len(lo)-1`` locally (``row`` indexes them)."""
        self.r.append(np.asarray(row) + self.count)
        self.c.append(np.asarray(col))
        self.v.append(np.asarray(val, dtype=float))
        self.lo.append(np.asarray(lo, dtype=float))
        self.hi.append(np.asarray(hi, dtype=float))
        self.count += len(lo)

    def matrix(self, n_cols: int) -> tuple[sp.coo_matrix, np.ndarray, np.ndarray]:
        m = sp.coo_matrix(
            (np.concatenate(self.v), (np.concatenate(self.r), np.concatenate(self.c))), shape=(self.count, n_cols)
        )
        return m, np.concatenate(self.lo), np.concatenate(self.hi)


def _coterminous(problem: Problem, labels: np.ndarray, k: int) -> float:
    """Residents in an area dominated by their own PCN (``stats_of``'s residents per area and PCN,
    as ``score_labels`` counts them)."""
    return float(stats_of(problem, labels, k).pcn_pop.max(axis=1).sum()) if problem.n_pcn else 0.0


def _coterminous_at_most(problem: Problem) -> float:
    """The trivial bound: every resident of a unit with a PCN."""
    return float(problem.pop[problem.pcn >= 0].sum())


def aggregate_bound(problem: Problem, k: int, time_limit_s: float = 10.0) -> float:
    """Upper bound on coterminous residents of any valid ``k``-area plan (geography ignored)."""
    p_count = problem.n_pcn
    pcn_pop = np.bincount(problem.pcn[problem.pcn >= 0], weights=problem.pop[problem.pcn >= 0], minlength=p_count)
    total = problem.total_pop
    # Columns: n_p (p_count), x_p (p_count), y_p (p_count).
    n_col = 3 * p_count
    idx_n, idx_x, idx_y = np.arange(p_count), p_count + np.arange(p_count), 2 * p_count + np.arange(p_count)
    rows = _Rows()
    local = np.arange(p_count)
    rows.add(
        np.r_[local, local, local],
        np.r_[idx_x, idx_y, idx_n],
        np.r_[np.ones(p_count), np.ones(p_count), -problem.min_pop * np.ones(p_count)],
        np.zeros(p_count),
        np.full(p_count, _INF),
    )
    rows.add(
        np.r_[local, local, local],
        np.r_[idx_x, idx_y, idx_n],
        np.r_[np.ones(p_count), np.ones(p_count), -problem.max_pop * np.ones(p_count)],
        np.full(p_count, -_INF),
        np.zeros(p_count),
    )
    rows.add(np.zeros(p_count, dtype=int), idx_n, np.ones(p_count), np.array([k]), np.array([k]))
    rows.add(
        np.zeros(2 * p_count, dtype=int),
        np.r_[idx_x, idx_y],
        np.ones(2 * p_count),
        np.array([total]),
        np.array([total]),
    )
    # Residents of p can only be coterminous in areas p dominates: x_p <= P_p * [n_p > 0].
    rows.add(
        np.r_[local, local],
        np.r_[idx_x, idx_n],
        np.r_[np.ones(p_count), -pcn_pop],
        np.full(p_count, -_INF),
        np.zeros(p_count),
    )
    matrix, lo, hi = rows.matrix(n_col)
    cost = np.r_[np.zeros(p_count), np.ones(p_count), np.zeros(p_count)]
    lower = np.zeros(n_col)
    upper = np.r_[np.full(p_count, k), pcn_pop, np.full(p_count, total)]
    integer = np.r_[np.ones(p_count, dtype=bool), np.zeros(2 * p_count, dtype=bool)]
    _, result = _solve(cost, lower, upper, integer, matrix, lo, hi, time_limit_s, max_nodes=BOUND_MAX_NODES)
    if result["status"] == "Optimal":
        return result["primal"]
    return min(result["dual_bound"], float(pcn_pop.sum()))


def component_bound(problem: Problem, k: int, time_limit_s: float = 10.0) -> tuple[float, int]:
    """Upper bound on coterminous residents that knows which units can share an area.

    Areas are contiguous, so each lies inside one connected component of the unit graph; with
    ``[rules] nest_in = "district"`` the links between districts are dropped, so the components
    are (pieces of) districts. The aggregate model is written per component and PCN cell: how
    many areas PCN ``p`` dominates inside component ``c`` (``n_cp``, integer), its coterminous
    residents there (``x_cp <= P_cp * [n_cp > 0]``) and the others filling them (``y_cp``), each
    component's residents all placed in its own areas, and the areas of all components adding up
    to ``k`` (so the count is split across components as integer variables). A PCN that straddles
    a district line can no longer pool its residents across it. With one component it is the
    aggregate bound. Returns (bound, number of components).
    """
    comp, n_comp = _linked(problem)
    # Cells: (component, PCN) pairs present, plus one "no PCN" cell per component for areas that
    # no PCN dominates (their residents are all fillers).
    pcn = np.where(problem.pcn >= 0, problem.pcn, problem.n_pcn)
    key = comp.astype(np.int64) * (problem.n_pcn + 1) + pcn
    cells, cell_of = np.unique(np.r_[key, np.arange(n_comp) * (problem.n_pcn + 1) + problem.n_pcn], return_inverse=True)
    cell_of = cell_of[: problem.n]
    m = len(cells)
    cell_comp = cells // (problem.n_pcn + 1)
    cell_is_pcn = cells % (problem.n_pcn + 1) < problem.n_pcn
    cell_pop = np.bincount(cell_of, weights=problem.pop, minlength=m) * cell_is_pcn
    comp_pop = np.bincount(comp, weights=problem.pop, minlength=n_comp)
    # Columns: n (m), x (m), y (m).
    idx_n, idx_x, idx_y = np.arange(m), m + np.arange(m), 2 * m + np.arange(m)
    rows = _Rows()
    local = np.arange(m)
    ones = np.ones(m)
    rows.add(
        np.r_[local, local, local],
        np.r_[idx_x, idx_y, idx_n],
        np.r_[ones, ones, -problem.min_pop * ones],
        np.zeros(m),
        np.full(m, _INF),
    )
    rows.add(
        np.r_[local, local, local],
        np.r_[idx_x, idx_y, idx_n],
        np.r_[ones, ones, -problem.max_pop * ones],
        np.full(m, -_INF),
        np.zeros(m),
    )
    rows.add(np.r_[local, local], np.r_[idx_x, idx_n], np.r_[ones, -cell_pop], np.full(m, -_INF), np.zeros(m))
    rows.add(np.zeros(m, dtype=int), idx_n, ones, np.array([k]), np.array([k]))
    rows.add(np.r_[cell_comp, cell_comp], np.r_[idx_x, idx_y], np.r_[ones, ones], comp_pop, comp_pop)
    matrix, lo, hi = rows.matrix(3 * m)
    cost = np.r_[np.zeros(m), ones, np.zeros(m)]
    upper = np.r_[np.full(m, k), cell_pop, comp_pop[cell_comp]]
    integer = np.r_[np.ones(m, dtype=bool), np.zeros(2 * m, dtype=bool)]
    _, result = _solve(cost, np.zeros(3 * m), upper, integer, matrix, lo, hi, time_limit_s, max_nodes=BOUND_MAX_NODES)
    if result["status"] == "Optimal":
        return result["primal"], n_comp
    if result["status"] == "Infeasible":
        return 0.0, n_comp
    return min(result["dual_bound"], float(cell_pop.sum())), n_comp


#: A PCN with more pieces than this in one component keeps its largest pieces apart and lumps
#: the rest into one piece, touched when any of them is, so that its area types stay at most
#: ``2**MAX_PIECES - 1`` (and the joining costs ``2**MAX_PIECES`` shortest-path runs); lumping
#: only loosens the bound.
MAX_PIECES = 6
#: Above this many area types the pieces bound is not built (a national instance): the model
#: would not be solved in the bound's time, and the other bounds stand.
MAX_TYPES = 20_000


def pcn_pieces(problem: Problem) -> tuple[np.ndarray, int]:
    """Each unit's piece: a piece is a connected run of one PCN's units (linked through units of
    that PCN only); a unit without a PCN is a piece of its own. Returns (piece of each unit,
    number of pieces)."""
    src = edge_sources(problem.indptr)
    return _linked(problem, (problem.pcn[src] == problem.pcn[problem.indices]) & (problem.pcn[src] >= 0))


def _linked(problem: Problem, keep: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Each unit's connected component when only the links where ``keep`` is True count (every
    link when None: the unit graph's components), and how many components there are."""
    comp = link_components(problem.indptr, problem.indices, keep)
    return comp, int(comp.max()) + 1 if len(comp) else 0


def _area_types(
    problem: Problem, piece: np.ndarray, n_pieces: int, comp: np.ndarray
) -> tuple[list[tuple[int, tuple[int, ...], float]], np.ndarray, np.ndarray, dict[int, list[int]]] | None:
    """The area types of ``pieces_bound``: (component, a PCN's pieces touched, the other residents
    needed to join them, ``joins.joining_costs``), every set of one PCN's pieces in a component whose
    joining residents and smallest units fit under the ceiling, plus one type per component with
    units without a PCN. Returns them with each piece's residents and smallest unit (a lump's:
    see ``MAX_PIECES``) and the lumps (lump id: its pieces), or None above ``MAX_TYPES`` types."""
    pop = problem.pop.astype(float)
    piece_pop = np.bincount(piece, weights=pop, minlength=n_pieces)
    piece_pcn = np.full(n_pieces, -1)
    piece_pcn[piece] = problem.pcn
    piece_comp = np.zeros(n_pieces, dtype=np.int64)
    piece_comp[piece] = comp
    smallest = np.full(n_pieces, np.inf)
    np.minimum.at(smallest, piece, pop)
    types: list[tuple[int, tuple[int, ...], float]] = []
    lumped: dict[int, list[int]] = {}  # lump id (its first piece) -> the pieces in it
    by_cell: dict[tuple[int, int], list[int]] = {}  # (component, PCN) -> pieces, largest first
    for f in np.argsort(-piece_pop, kind="stable"):
        if piece_pcn[f] >= 0:
            by_cell.setdefault((int(piece_comp[f]), int(piece_pcn[f])), []).append(int(f))
    for cell, members in by_cell.items():
        if len(members) > MAX_PIECES:
            lump = members[MAX_PIECES - 1]
            lumped[lump] = members[MAX_PIECES - 1 :]
            piece_pop[lump] = piece_pop[lumped[lump]].sum()
            smallest[lump] = smallest[lumped[lump]].min()
            by_cell[cell] = members[:MAX_PIECES]
    for (c, pcn), kept in sorted(by_cell.items()):
        joining = joining_costs(problem, piece, pcn, kept, lumped)
        for size in range(1, len(kept) + 1):
            for members_s in itertools.combinations(kept, size):
                bridge = joining[members_s]
                if bridge + sum(float(smallest[f]) for f in members_s) <= problem.max_pop:
                    types.append((c, members_s, bridge))
        if len(types) > MAX_TYPES:
            return None
    for c in np.unique(comp[problem.pcn < 0]):
        types.append((int(c), (), 0.0))  # areas of units without a PCN: nobody coterminous
    return types, piece_pop, smallest, lumped


def _with_lumps(
    piece: np.ndarray, lumped: dict[int, list[int]], types: list[tuple[int, tuple[int, ...], float]]
) -> AreaTypes:
    """The area types with the pieces they name: each unit's piece as the model sees it (a
    lumped piece's units under their lump's id) beside its own."""
    in_model = piece.copy()
    for lump, members in lumped.items():
        in_model[np.isin(piece, members)] = lump
    return AreaTypes(in_model, piece, lumped, types)


class PiecesBound(NamedTuple):
    """``pieces_bound``'s answer: coterminous residents at most, from how many area types, and
    what stopped HiGHS before it closed its search, if anything (``"clock"`` or ``"nodes"``; the
    bound is then still valid, but looser than the model's own)."""

    residents: float
    area_types: int
    stopped_by: str | None = None

    @property
    def closed(self) -> bool:
        return self.stopped_by is None


def pieces_bound(problem: Problem, k: int, time_limit_s: float = 10.0) -> PiecesBound | None:
    """Upper bound on coterminous residents that knows where each PCN's residents are.

    Each PCN is cut into pieces (``pcn_pieces``). An area's dominant PCN ``p`` fixes its *type*:
    ``p`` and the set ``S`` of ``p``'s pieces the area touches. Pieces of one PCN do not touch,
    so an area holding two of them also holds residents of other PCNs between them (at least
    ``joins.joining_costs``, a Steiner tree's). The model counts areas of each type (``n_t``,
    integer), their coterminous residents from each piece (``c_tf``: at most the piece's
    residents over all types, at least one unit's worth per area that touches it) and their
    other residents (``y_t >= bridge * n_t``), with the band on every type, every component's
    residents in its own areas (so district nesting is known, as in ``component_bound``),
    ``k`` areas in all, and ring cuts (``ring_cuts``: the residents a ring of pieces gives away
    as fillers and joins are not also coterminous). Every valid plan is a solution, so the
    optimum is a bound (HiGHS's dual bound: valid wherever its search stopped). None when there
    are more than ``MAX_TYPES`` types.
    """
    piece, n_pieces = pcn_pieces(problem)
    comp, n_comp = _linked(problem)
    pop = problem.pop.astype(float)
    made = _area_types(problem, piece, n_pieces, comp)
    if made is None:
        return None
    types, piece_pop, smallest, lumped = made
    cuts = ring_cuts(problem, _with_lumps(piece, lumped, types))
    n_types = len(types)
    cells = [(t, f) for t, (_, members_s, _) in enumerate(types) for f in members_s]
    n_cells = len(cells)
    cell_type = np.array([t for t, _ in cells], dtype=np.int64)
    cell_piece = np.array([f for _, f in cells], dtype=np.int64)
    type_comp = np.array([c for c, _, _ in types], dtype=np.int64)
    type_bridge = np.array([b for _, _, b in types])
    # Columns: n (types), y (types), c (cells).
    idx_n, idx_y, idx_c = np.arange(n_types), n_types + np.arange(n_types), 2 * n_types + np.arange(n_cells)
    rows = _Rows()
    local, ones = np.arange(n_types), np.ones(n_types)
    for band_end, below, above in ((problem.min_pop, 0.0, _INF), (problem.max_pop, -_INF, 0.0)):
        rows.add(
            np.r_[cell_type, local, local],
            np.r_[idx_c, idx_y, idx_n],
            np.r_[np.ones(n_cells), ones, -band_end * ones],
            np.full(n_types, below),
            np.full(n_types, above),
        )
    rows.add(
        np.r_[local, local], np.r_[idx_y, idx_n], np.r_[ones, -type_bridge], np.zeros(n_types), np.full(n_types, _INF)
    )
    cells_local, cells_ones = np.arange(n_cells), np.ones(n_cells)
    rows.add(
        np.r_[cells_local, cells_local],
        np.r_[idx_c, idx_n[cell_type]],
        np.r_[cells_ones, -piece_pop[cell_piece]],
        np.full(n_cells, -_INF),
        np.zeros(n_cells),
    )
    rows.add(
        np.r_[cells_local, cells_local],
        np.r_[idx_c, idx_n[cell_type]],
        np.r_[cells_ones, -smallest[cell_piece]],
        np.zeros(n_cells),
        np.full(n_cells, _INF),
    )
    used, piece_row = np.unique(cell_piece, return_inverse=True)
    rows.add(piece_row, idx_c, cells_ones, np.full(len(used), -_INF), piece_pop[used])
    comp_pop = np.bincount(comp, weights=pop, minlength=n_comp)
    rows.add(
        np.r_[type_comp, type_comp[cell_type]],
        np.r_[idx_y, idx_c],
        np.r_[ones, cells_ones],
        comp_pop,
        comp_pop,
    )
    rows.add(np.zeros(n_types, dtype=np.int64), idx_n, ones, np.array([k]), np.array([k]))
    cost = np.r_[np.zeros(2 * n_types), cells_ones]
    upper = np.r_[np.full(n_types, k), comp_pop[type_comp], piece_pop[cell_piece]]
    integer = np.r_[np.ones(n_types, dtype=bool), np.zeros(n_types + n_cells, dtype=bool)]
    for cut in cuts:
        held, taking = np.flatnonzero(cut.ring[cell_piece]), np.flatnonzero(cut.least)
        rows.add(
            np.zeros(len(held) + len(taking), dtype=np.int64),
            np.r_[idx_c[held], idx_n[taking]],
            np.r_[np.ones(len(held)), cut.least[taking]],
            np.array([-_INF]),
            np.array([cut.residents]),
        )
    matrix, lo, hi = rows.matrix(len(cost))
    _, result = _solve(
        cost, np.zeros(len(cost)), upper, integer, matrix, lo, hi, time_limit_s, max_nodes=BOUND_MAX_NODES
    )
    if result["status"] == "Infeasible":
        return PiecesBound(0.0, n_types)
    # The dual bound even when "Optimal": HiGHS stops within a small relative gap of it.
    value = max(min(result["dual_bound"], _coterminous_at_most(problem)), 0.0)
    if result["status"] == "Optimal":
        return PiecesBound(value, n_types)
    return PiecesBound(value, n_types, "clock" if result["status"] == "Time limit reached" else "nodes")


def full_model(
    problem: Problem, k: int, time_limit_s: float, start_labels: np.ndarray | None = None
) -> tuple[HighsResult, np.ndarray | None]:
    """Solve the full assignment model with flow contiguity; returns (result, best labels or None)."""
    n, p_count = problem.n, problem.n_pcn
    src = edge_sources(problem.indptr)
    dst = problem.indices
    n_arc = len(src)
    # Column blocks: x[i,a], z[i,a], r[i,a], d[a,p], f[a,arc].
    off_x, off_z, off_r = 0, n * k, 2 * n * k
    off_d = 3 * n * k
    off_f = off_d + k * p_count
    n_col = off_f + k * n_arc

    def xi(i: np.ndarray, a: np.ndarray) -> np.ndarray:
        return off_x + i * k + a

    grid_i, grid_a = np.meshgrid(np.arange(n), np.arange(k), indexing="ij")
    ii, aa = grid_i.ravel(), grid_a.ravel()
    rows = _Rows()
    # Each unit in exactly one area.
    rows.add(ii, xi(ii, aa), np.ones(n * k), np.ones(n), np.ones(n))
    # Band on every area.
    rows.add(aa, xi(ii, aa), problem.pop[ii], np.full(k, problem.min_pop), np.full(k, problem.max_pop))
    # One designated PCN per area.
    a_d, p_d = np.meshgrid(np.arange(k), np.arange(p_count), indexing="ij")
    rows.add(a_d.ravel(), off_d + a_d.ravel() * p_count + p_d.ravel(), np.ones(k * p_count), np.ones(k), np.ones(k))
    # z <= x and z <= d[a, pcn(i)] (z = 0 for units without a PCN).
    m = n * k
    local = np.arange(m)
    rows.add(
        np.r_[local, local],
        np.r_[off_z + local, xi(ii, aa)],
        np.r_[np.ones(m), -np.ones(m)],
        np.full(m, -_INF),
        np.zeros(m),
    )
    has = problem.pcn[ii] >= 0
    d_col = off_d + aa * p_count + np.where(has, problem.pcn[ii], 0)
    rows.add(
        np.r_[local, local[has]],
        np.r_[off_z + local, d_col[has]],
        np.r_[np.ones(m), -np.ones(has.sum())],
        np.full(m, -_INF),
        np.zeros(m),
    )
    # One root per area, inside it.
    rows.add(aa, off_r + local, np.ones(m), np.ones(k), np.ones(k))
    rows.add(
        np.r_[local, local],
        np.r_[off_r + local, xi(ii, aa)],
        np.r_[np.ones(m), -np.ones(m)],
        np.full(m, -_INF),
        np.zeros(m),
    )
    # Flow: inflow - outflow >= x[i,a] - n * r[i,a]; flow only on arcs inside the area.
    arc_a = np.repeat(np.arange(k), n_arc)
    arc_e = np.tile(np.arange(n_arc), k)
    f_col = off_f + arc_a * n_arc + arc_e
    node_row_in = dst[arc_e] * k + arc_a
    node_row_out = src[arc_e] * k + arc_a
    rows.add(
        np.r_[node_row_in, node_row_out, local, local],
        np.r_[f_col, f_col, xi(ii, aa), off_r + local],
        np.r_[np.ones(len(f_col)), -np.ones(len(f_col)), -np.ones(m), np.full(m, float(n))],
        np.zeros(m),
        np.full(m, _INF),
    )
    big = float(n)
    q = len(f_col)
    lq = np.arange(q)
    for end in (src, dst):
        rows.add(
            np.r_[lq, lq],
            np.r_[f_col, xi(end[arc_e], arc_a)],
            np.r_[np.ones(q), -big * np.ones(q)],
            np.full(q, -_INF),
            np.zeros(q),
        )
    matrix, lo, hi = rows.matrix(n_col)
    cost = np.zeros(n_col)
    cost[off_z : off_z + m] = problem.pop[ii]
    lower = np.zeros(n_col)
    upper = np.ones(n_col)
    upper[off_f:] = big
    integer = np.zeros(n_col, dtype=bool)
    integer[off_x : off_x + m] = True
    integer[off_r : off_r + m] = True
    integer[off_d : off_d + k * p_count] = True
    start = None
    if start_labels is not None:
        start = _start_vector(problem, start_labels, k, n_col, (off_x, off_z, off_r, off_d, off_f))
    h, result = _solve(cost, lower, upper, integer, matrix, lo, hi, time_limit_s, start)
    if start is not None and not _answer_checks_out(h, cost, result):
        # HiGHS's presolve, given a start, has been seen to end "Optimal" with an objective that
        # is not its solution's (sda.engine.pool.choose_areas): solve again without the start.
        h, result = _solve(cost, lower, upper, integer, matrix, lo, hi, time_limit_s)
    labels = None
    if result["status"] in ("Optimal", "Time limit reached") and np.isfinite(result["primal"]):
        values = np.asarray(h.getSolution().col_value)
        if len(values) == n_col:
            x = values[off_x : off_x + m].reshape(n, k)
            labels = x.argmax(axis=1).astype(np.int64)
    return result, labels


def _start_vector(problem: Problem, labels: np.ndarray, k: int, n_col: int, offsets: tuple[int, ...]) -> np.ndarray:
    """The heuristic plan written as a feasible MIP solution (roots, PCNs and flows included)."""
    off_x, off_z, off_r, off_d, off_f = offsets
    n, p_count = problem.n, problem.n_pcn
    v = np.zeros(n_col)
    v[off_x + np.arange(n) * k + labels] = 1
    src = edge_sources(problem.indptr)
    n_arc = len(src)
    arc_of = {(int(s), int(t)): j for j, (s, t) in enumerate(zip(src, problem.indices, strict=True))}
    for a in range(k):
        members = np.flatnonzero(labels == a)
        pcn_pop = np.bincount(
            problem.pcn[members][problem.pcn[members] >= 0],
            weights=problem.pop[members][problem.pcn[members] >= 0],
            minlength=p_count,
        )
        dom = int(pcn_pop.argmax())
        v[off_d + a * p_count + dom] = 1
        z_members = members[problem.pcn[members] == dom]
        v[off_z + z_members * k + a] = 1
        root = int(members[0])
        v[off_r + root * k + a] = 1
        # Spanning tree by BFS inside the area; each arc carries the size of the subtree below it.
        member_set = set(members.tolist())
        parent = {root: -1}
        order = [root]
        for u in order:
            for w in problem.neighbours(u).tolist():
                if w in member_set and w not in parent:
                    parent[w] = u
                    order.append(w)
        below = {u: 1 for u in order}
        for u in reversed(order[1:]):
            below[parent[u]] += below[u]
            v[off_f + a * n_arc + arc_of[(parent[u], u)]] = below[u]
    return v


def _keeps_every_rule(problem: Problem, labels: np.ndarray, k: int) -> bool:
    """Whether a plan of the full model is a plan: the model knows the band and contiguity, not
    locks, units kept together or apart, so its better plan is offered only when it keeps them all."""
    return all(result.ok for result in check_rules(problem, labels, [f"area {a + 1}" for a in range(k)]))


def bound_plan(problem: Problem, labels: np.ndarray, cfg: ExactConfig) -> Bound:
    """Bound the plan's coterminosity and report the gap; solve exactly when small enough."""
    k = int(labels.max()) + 1
    achieved = _coterminous(problem, labels, k)
    total = problem.total_pop
    t0 = time.monotonic()
    # The clock is a guard: the bounds stop at BOUND_MAX_NODES, the same on a busy machine.
    limit = cfg.time_limit_s
    agg = aggregate_bound(problem, k, limit)
    candidates = [(agg, "aggregate (PCN sizes against the band, geography ignored)")]
    nested, n_comp = component_bound(problem, k, limit)
    if n_comp > 1:
        candidates.append((nested, f"per component ({n_comp} unlinked groups of units, e.g. districts when nesting)"))
    by_pieces = pieces_bound(problem, k, limit)
    if by_pieces is not None:
        method = (
            f"per PCN piece ({by_pieces.area_types} area types: where each PCN's residents are, the other "
            "residents an area needs to join a PCN's separate pieces, and those the PCNs around a "
            "small one must give up to fill its area)"
        )
        if by_pieces.stopped_by == "clock":
            method += (
                f"; HiGHS stopped at [exact] time_limit_s = {cfg.time_limit_s:g} s before closing its search, "
                "so the bound holds but is looser than the model can prove: on a busy machine, raise time_limit_s"
            )
        elif by_pieces.stopped_by is not None:
            method += (
                f"; HiGHS stopped at its limit of {BOUND_MAX_NODES:,} branch-and-bound nodes before closing "
                "its search, so the bound holds but is looser than the model can prove"
            )
        candidates.append((by_pieces.residents, method))
    full: HighsResult | str
    better: tuple[float, list[int]] | None = None
    known = achieved
    if problem.n <= cfg.max_units:
        result, exact_labels = full_model(problem, k, cfg.time_limit_s, labels)
        full = result
        proved = result["primal"] if result["status"] == "Optimal" else result["dual_bound"]
        candidates.append((proved, "full assignment model with flow contiguity (HiGHS)"))
        if (
            exact_labels is not None
            and (found := _coterminous(problem, exact_labels, k)) > achieved + 0.5
            and _keeps_every_rule(problem, exact_labels, k)
        ):
            better, known = (found / total, exact_labels.tolist()), found
    else:
        full = f"skipped: {problem.n} units is above [exact] max_units = {cfg.max_units}"
    # A bound below a plan in hand is HiGHS mistaken (its presolve has been seen to end "Optimal"
    # below the LP relaxation, sda.engine.pool.choose_areas): never reported.
    valid = [(b, m) for b, m in candidates if np.isfinite(b) and b >= known - 0.5]
    best_bound, method = min(valid, default=(_coterminous_at_most(problem), "every resident with a PCN"))
    out = Bound(
        measure="PCN coterminosity (share of residents in an area dominated by their own PCN)",
        plan=achieved / total,
        aggregate_bound=agg / total,
        full_model=full,
        component_bound=nested / total,
        pieces_bound=by_pieces.residents / total if by_pieces is not None else None,
        bound=best_bound / total,
        method=method,
        gap=(best_bound - achieved) / best_bound if best_bound > 0 else 0.0,
        seconds=round(time.monotonic() - t0, 2),
    )
    if better is not None:
        out["exact_plan_coterminosity"], out["exact_labels"] = better
    return out
