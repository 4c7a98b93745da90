"""Named rules checked on a finished assignment, each able to say who breaks it.

The engine is built never to break these, so here they are a second, independent look: the
report lists each rule with its result, and a broken hard rule stops the run (``verify``) rather
than let a wrong plan reach an officer.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from sda.config import RulesConfig
from sda.errors import InvariantError
from sda.plan import RuleResult
from sda.problem import Problem


def _codes(problem: Problem, positions: np.ndarray, limit: int = 6) -> str:
    shown = ", ".join(problem.codes[i] for i in positions[:limit])
    return shown + (f" (+{len(positions) - limit} more)" if len(positions) > limit else "")


def check_band(problem: Problem, labels: np.ndarray, names: list[str]) -> RuleResult:
    """Every area's population within [min, max]."""
    pop = np.bincount(labels, weights=problem.pop, minlength=len(names)).astype(np.int64)
    bad = [f"{names[a]} has {pop[a]:,}" for a in np.flatnonzero((pop < problem.min_pop) | (pop > problem.max_pop))]
    band = f"[{problem.min_pop:,}, {problem.max_pop:,}]"
    return RuleResult("band", not bad, f"all {len(names)} areas within {band}" if not bad else "; ".join(bad))


def check_contiguity(problem: Problem, labels: np.ndarray, names: list[str]) -> RuleResult:
    """Every area connected on the adjacency graph (including its edits)."""
    src = np.repeat(np.arange(problem.n), np.diff(problem.indptr))
    same = labels[src] == labels[problem.indices]
    inner = sp.csr_matrix((np.ones(same.sum()), (src[same], problem.indices[same])), shape=(problem.n, problem.n))
    _, comp = connected_components(inner, directed=False)
    pieces = np.zeros(len(names), dtype=np.int64)
    for a in range(len(names)):
        pieces[a] = len(np.unique(comp[labels == a]))
    bad = [f"{names[a]} is in {pieces[a]} pieces" for a in np.flatnonzero(pieces != 1)]
    return RuleResult("contiguity", not bad, "every area is one connected piece" if not bad else "; ".join(bad))


def check_rules(problem: Problem, labels: np.ndarray, names: list[str], rules: RulesConfig) -> list[RuleResult]:
    """Results of every rule in force: band, contiguity, and those configured."""
    results = [check_band(problem, labels, names), check_contiguity(problem, labels, names)]
    if rules.nest_in == "district":
        crossing = [names[a] for a in range(len(names)) if len(np.unique(problem.district[labels == a])) > 1]
        results.append(
            RuleResult(
                "nest_in_district",
                not crossing,
                "no area crosses a district boundary" if not crossing else "crossing: " + ", ".join(crossing),
            )
        )
    for li, area in enumerate(problem.lock_names):
        members = np.flatnonzero(problem.lock == li)
        held = np.unique(labels[members])
        ok = len(held) == 1 and names[held[0]] == area
        results.append(
            RuleResult(f"lock {area!r}", ok, f"{_codes(problem, members)} in {', '.join(names[h] for h in held)}")
        )
    for gi, group in enumerate(rules.keep_together, start=1):
        positions = np.array([problem.codes.index(c) for c in group])
        held = np.unique(labels[positions])
        results.append(
            RuleResult(
                f"keep_together #{gi}",
                len(held) == 1,
                f"{_codes(problem, positions)} in {', '.join(names[h] for h in held)}",
            )
        )
    for x, y in problem.apart_pairs.tolist():
        ok = labels[x] != labels[y]
        results.append(
            RuleResult(
                f"keep_apart {problem.codes[x]}/{problem.codes[y]}",
                bool(ok),
                f"in {names[labels[x]]} and {names[labels[y]]}",
            )
        )
    return results


def verify(problem: Problem, labels: np.ndarray, names: list[str], results: list[RuleResult]) -> None:
    """Stop the run if the plan loses a unit or a resident, or breaks a hard rule (a bug in sda)."""
    verify_totals(problem, labels, names)
    broken = [r for r in results if not r.ok]
    if broken:
        detail = "; ".join(f"{r.name}: {r.detail}" for r in broken)
        msg = f"internal error: the plan breaks a hard rule ({detail}); no output was written. Please report this."
        raise InvariantError(msg)


def verify_totals(problem: Problem, labels: np.ndarray, names: list[str]) -> None:
    """Stop if a unit has no area or residents went missing (a bug in sda). Also checked for
    plans made outside sda (``sda evaluate``), where broken rules are findings, not bugs."""
    if len(labels) != problem.n or (labels < 0).any() or (labels >= len(names)).any():
        msg = "internal error: some units have no area; no output was written. Please report this."
        raise InvariantError(msg)
    pops = np.bincount(labels, weights=problem.pop, minlength=len(names))
    if round(pops.sum()) != problem.total_pop:
        msg = f"internal error: areas hold {int(pops.sum()):,} residents, units {problem.total_pop:,}; nothing written."
        raise InvariantError(msg)
