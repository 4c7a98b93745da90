"""Ring cuts: rows that tighten the bound per PCN piece by what a ring of pieces can give.

The pieces model (``exact.pieces_bound``) counts each piece's coterminous residents, but lets an
area take its other residents from anywhere. Yet the residents of a set ``Q`` of pieces (a
*ring*: one piece, or the pieces it touches) are each in one area: those coterminous in areas of
their own PCN, plus those that other areas must take from ``Q``, are at most ``Q``'s residents.
An area of type ``t`` (dominant PCN ``p``, touching ``p``'s pieces ``S`` and no other of
``p``'s) holds at least ``m(t, Q)`` residents of ``Q`` from other PCNs, the larger of:

- **join**: the fewest of them on any connected set touching every piece of ``S``
  (``joins.joining_costs`` with only those units priced);
- **fill**: when the residents the area can reach from ``S`` without entering ``Q`` (``R``: ``S``
  and the units linked to it around ``Q``) are fewer than the band's floor, the area either stays
  there and takes ``floor - R`` from ``Q``, or holds a unit beyond, and so a path out through
  ``Q``: the smaller of ``floor - R`` and that path's cheapest residents.

So ``Q's coterminous residents + sum over types of m(t, Q) * n_t <= Q's residents`` holds for
every valid plan and every set of pieces ``Q``, and the pieces model with these rows is still a
bound. Where it binds: the small PCNs of a city centre must join their pieces through, and fill
their areas from, the pieces of the PCNs around them, which the model alone counts as
coterminous too. Rings reach out a few steps (``RING_STEPS``): a wider ring catches the PCNs
that fill from one another two or three pieces apart, where a narrow one lets each area leave
it through its neighbours' pieces.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from sda.joins import joining_costs, spread
from sda.metrics import edge_sources, link_components
from sda.problem import Problem

#: Above this many pieces (a national instance) no ring cuts are made: each ring costs a
#: component search per PCN, and the bound stands without them.
MAX_RING_PIECES = 300

#: A ring is a piece, or the pieces within 1, 2, ... up to this many steps of one (the piece
#: itself left out). On the default config at 24 areas the bound is 0.9458 with one step, 0.9443
#: with two, 0.9410 with three (2 s more to price and solve) and 0.9397 with four (5 s more).
RING_STEPS = 3

#: Wider rings are added a step at a time while there are at most this many rings: pricing
#: one takes tens of milliseconds, so an instance with hundreds of pieces keeps the narrow ones.
MAX_RINGS = 200


class RingCut(NamedTuple):
    """One row: ``sum of c[t, f] for f in ring + sum of least[t] * n[t] <= residents``."""

    ring: np.ndarray  # per piece id of the model (lumps whole): in Q
    least: np.ndarray  # per area type: m(t, Q)
    residents: float  # Q's residents


class AreaTypes(NamedTuple):
    """The pieces model's area types (``exact._area_types``) and the pieces they refer to."""

    piece: np.ndarray  # each unit's piece id in the model (a lumped piece's is its lump's id)
    original: np.ndarray  # each unit's own piece (``exact.pcn_pieces``)
    lumped: dict[int, list[int]]  # lump id -> its original pieces
    types: list[tuple[int, tuple[int, ...], float]]  # (component, pieces touched, joining residents)


def ring_cuts(problem: Problem, model: AreaTypes) -> list[RingCut]:
    """A cut for every ring (``ring_sets``) that some type must take residents from."""
    piece = model.piece
    n_pieces = int(piece.max()) + 1 if len(piece) else 0
    if n_pieces > MAX_RING_PIECES:
        return []
    src = edge_sources(problem.indptr)
    a, b = piece[src], piece[problem.indices]
    apart = a != b
    touching = sp.csr_matrix((np.ones(int(apart.sum())), (a[apart], b[apart])), shape=(n_pieces, n_pieces))
    rings = ring_sets(touching, np.unique(piece))
    layout = _Layout(src, _types_by_pcn(problem, model), [np.isin(piece, members) for _, members, _ in model.types])
    cuts = []
    for ring in sorted(r for r in rings if r):
        in_ring = np.zeros(n_pieces, dtype=bool)
        in_ring[list(ring)] = True
        least = _least_taken(problem, model, layout, in_ring[piece])
        if least.any():
            cuts.append(RingCut(in_ring, least, float(problem.pop[in_ring[piece]].sum())))
    return cuts


def ring_sets(touching: sp.csr_matrix, present: np.ndarray) -> set[tuple[int, ...]]:
    """Every piece alone, and the pieces within ``s`` steps of each piece (itself left out) for
    ``s`` = 1, 2, ... up to ``RING_STEPS``; a step is added only while the rings number at most
    ``MAX_RINGS`` (one step always)."""
    rings: set[tuple[int, ...]] = {(int(f),) for f in present}
    reached = {int(f): {int(f)} for f in present}
    for steps in range(1, RING_STEPS + 1):
        wider = set()
        for f, near in reached.items():
            near |= {int(g) for h in list(near) for g in touching.indices[touching.indptr[h] : touching.indptr[h + 1]]}
            if len(near) > 1:
                wider.add(tuple(sorted(near - {f})))
        if steps > 1 and len(rings | wider) > MAX_RINGS:
            break
        rings |= wider
    return rings


class _Layout(NamedTuple):
    """What pricing every ring reads, worked out once: each link's source unit, the area types of
    each (component, PCN), and the units of each type's pieces."""

    src: np.ndarray
    by_cell: dict[tuple[int, int], list[int]]
    inside: list[np.ndarray]


def _types_by_pcn(problem: Problem, model: AreaTypes) -> dict[tuple[int, int], list[int]]:
    """The area types of each (component, PCN); types of units without a PCN are left out: their
    areas take nothing in particular."""
    pcn_of_piece = np.full(int(model.piece.max()) + 1, -1)
    pcn_of_piece[model.piece] = problem.pcn
    by_cell: dict[tuple[int, int], list[int]] = {}
    for t, (c, members, _) in enumerate(model.types):
        if members:
            by_cell.setdefault((c, int(pcn_of_piece[members[0]])), []).append(t)
    return by_cell


def _least_taken(problem: Problem, model: AreaTypes, layout: _Layout, in_ring: np.ndarray) -> np.ndarray:
    """``m(t, Q)`` for every area type (the module docstring): the larger of join and fill."""
    least = np.zeros(len(model.types))
    without_ring: np.ndarray | None = None  # components once the ring is gone (PCNs not in it)
    # Only PCNs with units in the ring or beside it are priced: a PCN further off could still be
    # cut off by it, but rarely, and leaving a type at 0 only loosens the cut.
    near = set(problem.pcn[in_ring].tolist()) | set(problem.pcn[layout.src[in_ring[problem.indices]]].tolist())
    for (_, pcn), kinds in layout.by_cell.items():
        own = problem.pcn == pcn
        others_in_ring = in_ring & ~own
        if pcn not in near or not others_in_ring.any():
            continue
        price = np.where(others_in_ring, problem.pop.astype(float), 0.0)
        joins: dict[tuple[int, ...], float] = {}
        kept = sorted({f for t in kinds for f in model.types[t][1]})
        if len(kept) > 1:
            # Pieces still linked once the ring's other units are gone join at no cost to it.
            if in_ring[own].any():
                linked = _components(problem, layout.src, ~others_in_ring)
            else:
                if without_ring is None:
                    without_ring = _components(problem, layout.src, ~in_ring)
                linked = without_ring
            if len(np.unique(linked[np.isin(model.piece, kept)])) > 1:
                joins = joining_costs(problem, model.original, pcn, kept, model.lumped, price)
        around = _components(problem, layout.src, ~others_in_ring & ~own)
        for t in kinds:
            fill = _fill(problem, layout, layout.inside[t], own, others_in_ring, around, price)
            least[t] = max(joins.get(tuple(sorted(model.types[t][1])), 0.0), fill)
    return least


def _components(problem: Problem, src: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Each unit's connected component when only ``allowed`` units count (-1 for the others);
    ``src`` is each link's source unit."""
    keep = allowed[src] & allowed[problem.indices]
    return np.where(allowed, link_components(problem.indptr, problem.indices, keep), -1)


def _fill(
    problem: Problem,
    layout: _Layout,
    inside: np.ndarray,
    own: np.ndarray,
    others_in_ring: np.ndarray,
    around: np.ndarray,
    price: np.ndarray,
) -> float:
    """The fill bound of a type whose pieces hold the units ``inside``: ``floor - R`` of the
    ring's residents, or the cheapest path out past it, whichever is smaller (0 when ``R``
    reaches the floor)."""
    beside = np.zeros(problem.n + 1, dtype=bool)  # per component of ``around``; the last: none (-1)
    beside[around[problem.indices[inside[layout.src]]]] = True
    beside[-1] = False
    reached = inside | beside[around]
    need = problem.min_pop - float(problem.pop[reached].sum())
    if need <= 0:
        return 0.0
    banned = own & ~inside  # the PCN's other pieces: no area of this type holds them
    cost = spread(problem, np.where(banned, np.inf, price), np.where(inside, 0.0, np.inf))
    beyond = ~reached & ~others_in_ring & ~banned
    way_out = float(cost[beyond].min()) if beyond.any() else np.inf
    return min(need, way_out)
