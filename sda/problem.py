"""The engine's view of one instance: flat numpy arrays indexed by unit position.

GeoDataFrames and networkx graphs are right for loading and reporting, but the search touches
every unit millions of times, so it works on integer positions: populations, a CSR adjacency with
shared-border lengths, each unit's PCN and district as small integers, and the hard rules
(keep-together groups, locks, keep-apart pairs) as label arrays. ``build_problem`` is the only
bridge between the two worlds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import scipy.sparse as sp

from sda.config import ObjectiveConfig, RulesConfig
from sda.metrics import components, count_bounds
from sda.rules import Rule, group_labels, rules_in_force, translate


@dataclass
class Problem:
    """Arrays the engine reads; built once per run by ``build_problem``.

    Attributes
    ----------
    codes : unit codes, position -> code.
    pop : residents per unit (int64).
    indptr, indices, border_m : symmetric CSR adjacency; ``border_m[j]`` is the shared border of
        the pair ``(i, indices[j])``.
    pcn : PCN index of each unit, -1 where none; ``pcn_codes`` names them.
    district : district index of each unit; ``district_codes`` names them.
    together : keep-together group of each unit (locks included), -1 for none.
    lock : lock index of each unit, -1 for none; ``lock_names`` are the locked area names.
    apart_pairs : (m, 2) unit positions that must be in different areas.
    min_pop, max_pop : the band.
    weights : objective weights.
    cut_weight : what each link adds to the cut-border term when it separates two areas, aligned
        with ``indices``: its shared border in metres (``[graph] cut_measure = "length"``) or 1
        (``"links"``, the cut edges of redistricting tools).
    total_cut_weight : the sum over links of ``cut_weight`` (normalises the cut term).
    previous : area index of each unit in a previous plan, -1 where none (all -1 for a fresh
        run). Turns on the ``moved`` term; see ``with_previous``.
    max_moved_share : hard cap on the share of residents whose area differs from ``previous``
        (1.0: no cap).
    rules : the rules in force (``sda.rules``), for the checks before and after solving; the
        engine reads only the arrays above.
    frozen : units no move may take out of their current area (an officer's edits held in
        place); the search must then start from an assignment (``search(initial_labels=...)``).
    """

    codes: list[str]
    pop: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    border_m: np.ndarray
    pcn: np.ndarray
    pcn_codes: list[str]
    district: np.ndarray
    district_codes: list[str]
    together: np.ndarray
    lock: np.ndarray
    lock_names: list[str]
    apart_pairs: np.ndarray
    min_pop: int
    max_pop: int
    weights: ObjectiveConfig
    cut_weight: np.ndarray
    total_cut_weight: float
    previous: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    max_moved_share: float = 1.0
    frozen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    rules: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        if len(self.previous) != self.n:
            self.previous = np.full(self.n, -1, dtype=np.int64)
        if len(self.frozen) != self.n:
            self.frozen = np.zeros(self.n, dtype=bool)
        if not self.rules:
            self.rules = tuple(rules_in_force(None))  # band and contiguity always hold

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.codes)

    @property
    def total_pop(self) -> int:
        """Total residents."""
        return int(self.pop.sum())

    @property
    def n_pcn(self) -> int:
        """Number of PCNs (0 when PCN alignment is off)."""
        return len(self.pcn_codes)

    @property
    def has_previous(self) -> bool:
        """Does the problem carry a previous plan (and so the ``moved`` term)?"""
        return bool((self.previous >= 0).any())

    def with_previous(
        self, previous: np.ndarray, *, max_moved_share: float = 1.0, frozen: np.ndarray | None = None
    ) -> Problem:
        """A copy carrying a previous plan: ``previous[i]`` is unit ``i``'s area index in it (-1
        for a unit that had none, e.g. a new unit), in the same numbering as the labels the
        search returns. ``max_moved_share`` caps the share of residents whose area may change;
        ``frozen`` (bool per unit) holds units where the starting assignment puts them.

        Raises
        ------
        ValueError
            If an array does not have one entry per unit, or the cap is outside [0, 1].
        """
        prev = np.asarray(previous, dtype=np.int64)
        if prev.shape != (self.n,):
            msg = f"previous has {prev.shape} entries; expected one area index per unit ({self.n})."
            raise ValueError(msg)
        if not 0.0 <= max_moved_share <= 1.0:
            msg = f"max_moved_share = {max_moved_share}; expected a share between 0 and 1."
            raise ValueError(msg)
        held = np.zeros(self.n, dtype=bool) if frozen is None else np.asarray(frozen, dtype=bool)
        if held.shape != (self.n,):
            msg = f"frozen has {held.shape} entries; expected one per unit ({self.n})."
            raise ValueError(msg)
        return dataclasses.replace(self, previous=prev.copy(), max_moved_share=float(max_moved_share), frozen=held)

    @property
    def movable(self) -> np.ndarray:
        """Units a single move may take out of their area: not frozen, locked or grouped (groups
        and locks move whole, by recombination)."""
        return (self.together < 0) & (self.lock < 0) & ~self.frozen

    def neighbours(self, i: int) -> np.ndarray:
        """Positions of the units adjacent to unit ``i``."""
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def feasible_counts(self) -> tuple[int, int]:
        """Smallest and largest number of areas the band allows, part by part.

        Each connected part of the graph (with ``nest_in = "district"``, each district) must hold
        a whole number of areas, so the range is the sum of the parts' ranges: every count in it
        can be split among the parts, and no count outside it can.
        """
        parts = components(self.indptr, self.indices)
        people = np.array([int(self.pop[part].sum()) for part in parts])
        lo, hi = count_bounds(people, self.min_pop, self.max_pop)
        return int(lo.sum()), int(np.minimum(hi, [len(part) for part in parts]).sum())  # an area needs a unit


def build_problem(
    graph: nx.Graph,
    *,
    min_pop: int,
    max_pop: int,
    pcn_of: Mapping[str, str] | None = None,
    district_of: Mapping[str, str] | None = None,
    rules: RulesConfig | None = None,
    weights: ObjectiveConfig | None = None,
    cut_measure: str = "length",
) -> Problem:
    """Turn a unit graph (nodes carry ``population``, edges ``border_m``) into a ``Problem``.

    ``cut_measure`` says what the cut-border term counts: metres of shared border (``"length"``)
    or links between neighbouring units (``"links"``).

    The rules in force (``sda.rules``) are translated into the engine's building blocks: group
    labels, locks, forbidden pairs, frozen units, and links removed (with ``nest_in =
    "district"`` the links between districts, so that contiguity alone keeps every area inside
    one district).

    Raises
    ------
    ConfigError
        If a rule names a unit code that is not in the data.
    """
    rules = rules or RulesConfig()
    weights = weights or ObjectiveConfig()
    codes = sorted(str(c) for c in graph.nodes)
    pos = {c: i for i, c in enumerate(codes)}
    n = len(codes)
    pop = np.array([int(graph.nodes[c].get("population", 0)) for c in codes], dtype=np.int64)
    district_of = district_of or {}
    district_codes = sorted({str(district_of.get(c, "")) for c in codes})
    dpos = {d: i for i, d in enumerate(district_codes)}
    district = np.array([dpos[str(district_of.get(c, ""))] for c in codes], dtype=np.int64)
    pcn_codes = sorted({str(p) for p in (pcn_of or {}).values() if p})
    ppos = {p: i for i, p in enumerate(pcn_codes)}
    pcn = np.array([ppos.get(str((pcn_of or {}).get(c, "")), -1) for c in codes], dtype=np.int64)

    in_force = rules_in_force(rules)
    blocks = translate(in_force, codes, district)
    frozen = np.zeros(n, dtype=bool)
    frozen[blocks.frozen] = True
    rows, cols, border = [], [], []
    for u, v, data in graph.edges(data=True):
        i, j = pos[str(u)], pos[str(v)]
        if i == j or any(labels[i] != labels[j] for labels in blocks.separate):
            continue  # a rule removed this link
        b = float(data.get("border_m", 0.0) or 0.0)
        rows += [i, j]
        cols += [j, i]
        border += [b, b]
    mat = sp.csr_matrix((np.array(border) + 0.0, (rows, cols)), shape=(n, n))
    mat.sum_duplicates()
    mat.sort_indices()
    # Edges with zero border (point contact, extra links) must survive as explicit entries.
    structure = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    structure.sum_duplicates()
    structure.sort_indices()
    border_m = _aligned_border(structure, mat)
    cut_weight = border_m if cut_measure == "length" else np.ones_like(border_m)

    together, lock, lock_names = group_labels(blocks)
    return Problem(
        codes=codes,
        pop=pop,
        indptr=structure.indptr.astype(np.int64),
        indices=structure.indices.astype(np.int64),
        border_m=border_m,
        pcn=pcn,
        pcn_codes=pcn_codes,
        district=district,
        district_codes=district_codes,
        together=together,
        lock=lock,
        lock_names=lock_names,
        apart_pairs=np.array(blocks.apart, dtype=np.int64).reshape(-1, 2),
        min_pop=int(min_pop),
        max_pop=int(max_pop),
        weights=weights,
        cut_weight=cut_weight,
        total_cut_weight=float(cut_weight.sum() / 2) or 1.0,
        frozen=frozen,
        rules=tuple(in_force),
    )


def _aligned_border(structure: sp.csr_matrix, values: sp.csr_matrix) -> np.ndarray:
    """Border lengths in the order of ``structure``'s entries (zeros kept)."""
    out = np.zeros(structure.nnz)
    for i in range(structure.shape[0]):
        a, b = structure.indptr[i], structure.indptr[i + 1]
        cols = structure.indices[a:b]
        va, vb = values.indptr[i], values.indptr[i + 1]
        lookup = dict(zip(values.indices[va:vb], values.data[va:vb], strict=True))
        out[a:b] = [lookup.get(c, 0.0) for c in cols]
    return out
