"""Repair: bring a contiguous assignment whose areas break the band back inside it.

Why: when the band is tight (28 areas here leave 447 residents of slack per area), building a
plan that lands every area inside the band directly takes long backtracking. Building with a
looser band is quick, and the annealing kernel (``sda.engine.anneal``), with residents outside
the band priced high, then moves boundary units until every area is inside; contiguity holds at
every step. The search uses it to build first plans (``loose_then_repair``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sda.engine.anneal import AnnealState
from sda.engine.construct import construct
from sda.objective import weight_scale
from sda.problem import Problem

#: Price of each resident outside the band (as a share of all residents) while repairing: far
#: above any objective term, so the search heads for the band, yet finite, so it can pass
#: through states that are further out on the way.
REPAIR_BAND_PRICE = 20.0
#: Temperature while repairing (objective units): warm enough to leave dead ends.
REPAIR_TEMPERATURE = 0.002
#: Kernel steps between checks for a state in band.
REPAIR_CHUNK = 50_000


def repair_band(
    problem: Problem, labels: np.ndarray, target: float, rng: np.random.Generator, max_steps: int = 5_000_000
) -> np.ndarray | None:
    """The first in-band assignment reached from ``labels`` (contiguous, any populations), or
    None within ``max_steps`` kernel steps. A count of steps, not seconds: clock-free."""
    state = AnnealState(problem, labels, target)
    if state.in_band:
        return state.labels.copy()
    scale = weight_scale(problem)  # the same balance of band and objective under any weights
    temperature, price = REPAIR_TEMPERATURE * scale, REPAIR_BAND_PRICE * scale
    done = 0
    while done < max_steps:
        state.run(rng, REPAIR_CHUNK, (temperature, temperature), (price, price), 0.2)
        done += REPAIR_CHUNK
        if np.isfinite(state.best[0]):
            return state.best_assignment()[0]
    return None


def loose_then_repair(
    problem: Problem,
    k: int,
    rng: np.random.Generator,
    *,
    slack: float = 0.05,
    attempts: int = 3,
    max_trees: int = 1_500,
    max_steps: int = 5_000_000,
) -> np.ndarray | None:
    """A valid ``k``-area plan built with the band widened by ``slack`` on each side (PCN-guided
    spanning-tree construction) and then repaired into the real band; None if ``attempts`` fail."""
    loose = dataclasses.replace(
        problem, min_pop=int(problem.min_pop * (1 - slack)), max_pop=int(np.ceil(problem.max_pop * (1 + slack)))
    )
    target = problem.total_pop / k
    for _ in range(attempts):
        labels = construct(loose, k, rng, pcn_surcharge=1.0, greed=1.0, attempts=1, max_trees=max_trees)
        if labels is None:
            continue
        repaired = repair_band(problem, labels, target, rng, max_steps)
        if repaired is not None:
            return repaired
    return None
