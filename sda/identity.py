"""Area identity across a line of plans: which new area *is* which previous one.

Areas are matched by residents in common with an optimal assignment
(``scipy.optimize.linear_sum_assignment``), so the matching is the one that keeps the most
residents in an area of the same id. A matched area keeps its previous id and name; an unmatched
new area gets the next id never used in this line of plans; an unmatched previous id is retired
and recorded, so that no later re-run gives it to another area. A locked area keeps its lock name
as its id, as in a fresh run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["Identity", "match_areas", "next_ids", "residents_in_common"]

_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)$")


@dataclass
class Identity:
    """Ids for the areas of a re-run, and what happened to the previous ones.

    Attributes
    ----------
    ids : id of each new area (``ids[label]``).
    names : id -> name carried from the previous plan (matched areas with a name only).
    matched : new id -> previous id it continues (equal unless a lock renamed it).
    created : ids given to areas with no previous counterpart.
    retired : previous ids with no new counterpart in this run.
    retired_line : every id retired in this line of plans so far, this run's included.
    """

    ids: list[str]
    names: dict[str, str] = field(default_factory=dict)
    matched: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    retired_line: list[str] = field(default_factory=list)


def residents_in_common(
    labels: np.ndarray, previous: Sequence[str], pop: np.ndarray, previous_ids: Sequence[str]
) -> np.ndarray:
    """Matrix ``[new area, previous area]`` of residents in common (``previous[i]`` is unit i's
    previous area id, "" for none; columns follow ``previous_ids``)."""
    k = int(labels.max()) + 1 if len(labels) else 0
    col = {a: j for j, a in enumerate(previous_ids)}
    common = np.zeros((k, len(previous_ids)), dtype=np.int64)
    for lab, prev, p in zip(labels.tolist(), previous, pop.tolist(), strict=True):
        if prev in col:
            common[lab, col[prev]] += int(p)
    return common


def match_areas(
    labels: np.ndarray,
    previous: Sequence[str],
    pop: np.ndarray,
    *,
    previous_ids: Sequence[str],
    previous_names: dict[str, str] | None = None,
    retired_before: Iterable[str] = (),
    locked: dict[int, str] | None = None,
) -> Identity:
    """Give the areas of ``labels`` ids that continue the previous plan's.

    Parameters
    ----------
    labels
        New area of each unit, ``0..k-1``.
    previous
        Previous area id of each unit (carried onto the current units), "" for none.
    pop
        Residents of each unit.
    previous_ids
        Every area id of the previous plan (those holding no current unit are retired).
    previous_names
        Previous id -> name, carried with the id.
    retired_before
        Ids retired earlier in the line; never given out again.
    locked
        New label -> lock name: such an area takes the lock name as its id, as in a fresh run.
    """
    previous_ids = sorted(set(previous_ids))
    locked = locked or {}
    common = residents_in_common(labels, previous, pop, previous_ids)
    k = common.shape[0]
    rows, cols = linear_sum_assignment(common, maximize=True) if common.size else ([], [])
    ids: list[str | None] = [None] * k
    matched: dict[str, str] = {}
    for r, c in zip(list(rows), list(cols), strict=True):
        if common[r, c] > 0:
            ids[r] = previous_ids[c]
    for label, name in locked.items():
        ids[label] = name
    taken = {i for i in ids if i is not None}
    for r, c in zip(list(rows), list(cols), strict=True):
        if common[r, c] > 0:
            matched[str(ids[r])] = previous_ids[c]
    retired_before = [str(a) for a in retired_before]
    fresh = next_ids([*previous_ids, *retired_before, *taken], sum(i is None for i in ids))
    created = []
    for label in range(k):
        if ids[label] is None:
            ids[label] = fresh.pop(0)
            created.append(str(ids[label]))
    continued = set(matched.values())
    retired = [a for a in previous_ids if a not in continued]
    names = {new: previous_names[old] for new, old in matched.items() if previous_names and old in previous_names}
    line = sorted(set(retired_before) | set(retired))
    return Identity(
        ids=[str(i) for i in ids],
        names=names,
        matched=matched,
        created=created,
        retired=retired,
        retired_line=line,
    )


def next_ids(used: Iterable[str], n: int, prefix: str = "SDA-") -> list[str]:
    """``n`` ids after the highest number used with ``prefix`` (e.g. ``SDA-23``, ``SDA-24``),
    padded like the ids already used (at least two digits)."""
    numbers, width = [0], 2
    for a in used:
        m = _NUMBERED.match(str(a))
        if m and m.group("prefix") == prefix:
            numbers.append(int(m.group("number")))
            width = max(width, len(m.group("number")))
    start = max(numbers) + 1
    return [f"{prefix}{number:0{width}d}" for number in range(start, start + n)]
