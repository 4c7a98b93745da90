"""The engine's view of one instance: flat numpy arrays indexed by unit position.

GeoDataFrames and networkx graphs are right for loading and reporting, but the search touches
every unit millions of times, so it works on integer positions: populations, a CSR adjacency with
shared-border lengths, each unit's PCN and district as small integers, and the hard rules
(keep-together groups, locks, keep-apart pairs) as label arrays. ``build_problem`` is the only
bridge between the two worlds.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import scipy.sparse as sp

from sda.config import ObjectiveConfig, RulesConfig
from sda.errors import ConfigError
from sda.metrics import components, count_bounds


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
    total_border_m : sum of all shared borders (normalises the cut term).
    previous : area index of each unit in a previous plan, -1 where none (all -1 for a fresh
        run). Turns on the ``moved`` term; see ``with_previous``.
    max_moved_share : hard cap on the share of residents whose area differs from ``previous``
        (1.0: no cap).
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
    total_border_m: float
    previous: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    max_moved_share: float = 1.0
    frozen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if len(self.previous) != self.n:
            self.previous = np.full(self.n, -1, dtype=np.int64)
        if len(self.frozen) != self.n:
            self.frozen = np.zeros(self.n, dtype=bool)

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
        people = np.array([int(self.pop[part].sum()) for part in components(self.indptr, self.indices)])
        lo, hi = count_bounds(people, self.min_pop, self.max_pop)
        return int(lo.sum()), min(int(hi.sum()), self.n)


def build_problem(
    graph: nx.Graph,
    *,
    min_pop: int,
    max_pop: int,
    pcn_of: Mapping[str, str] | None = None,
    district_of: Mapping[str, str] | None = None,
    rules: RulesConfig | None = None,
    weights: ObjectiveConfig | None = None,
) -> Problem:
    """Turn a unit graph (nodes carry ``population``, edges ``border_m``) into a ``Problem``.

    With ``rules.nest_in == "district"`` the edges between districts are dropped, so that
    contiguity alone keeps every area inside one district.

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

    rows, cols, border = [], [], []
    for u, v, data in graph.edges(data=True):
        i, j = pos[str(u)], pos[str(v)]
        if i == j:
            continue
        if rules.nest_in == "district" and district[i] != district[j]:
            continue
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

    together, lock, lock_names = _rule_labels(codes, pos, rules)
    apart = [(_pos(pos, a, "keep_apart"), _pos(pos, b, "keep_apart")) for a, b in rules.keep_apart]
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
        apart_pairs=np.array(apart, dtype=np.int64).reshape(-1, 2),
        min_pop=int(min_pop),
        max_pop=int(max_pop),
        weights=weights,
        total_border_m=float(border_m.sum() / 2) or 1.0,
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


def _pos(pos: Mapping[str, int], code: str, rule: str) -> int:
    if code not in pos:
        msg = f"[rules] {rule} names unit {code!r}, which is not in the units file; check the code."
        raise ConfigError(msg)
    return pos[code]


def _rule_labels(
    codes: Sequence[str], pos: Mapping[str, int], rules: RulesConfig
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Union keep-together groups and same-name locks into group labels; number the locks."""
    n = len(codes)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    grouped = np.zeros(n, dtype=bool)
    groups: list[list[int]] = [[_pos(pos, c, "keep_together") for c in g] for g in rules.keep_together]
    lock = np.full(n, -1, dtype=np.int64)
    lock_names: list[str] = []
    for spec in rules.locks:
        if spec.area not in lock_names:
            lock_names.append(spec.area)
        li = lock_names.index(spec.area)
        members = [_pos(pos, c, f"lock {spec.area!r}") for c in spec.units]
        for m in members:
            if lock[m] not in (-1, li):
                msg = (
                    f"[rules] unit {codes[m]!r} is locked to two areas, {lock_names[lock[m]]!r} "
                    f"and {spec.area!r}; lock it to one."
                )
                raise ConfigError(msg)
            lock[m] = li
        groups.append(members)
    for li in range(len(lock_names)):
        groups.append([int(i) for i in np.flatnonzero(lock == li)])
    for g in groups:
        for m in g:
            grouped[m] = True
        for a, b in itertools.pairwise(g):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[ra] = rb
    roots: dict[int, int] = {}
    together = np.full(n, -1, dtype=np.int64)
    for i in np.flatnonzero(grouped):
        r = find(int(i))
        together[i] = roots.setdefault(r, len(roots))
    # A group of one unit constrains nothing.
    counts = np.bincount(together[together >= 0], minlength=len(roots)) if len(roots) else np.zeros(0)
    for gi, cnt in enumerate(counts):
        if cnt < 2:
            together[together == gi] = -1
    _, together_compact = np.unique(together, return_inverse=True)
    if (together >= 0).any():
        labels = np.where(together >= 0, together_compact - (1 if (together < 0).any() else 0), -1)
        together = labels.astype(np.int64)
    return together, lock, lock_names
