"""Improvement: simulated annealing over small and large moves, then a greedy polish.

The small moves (a unit, or a connected run of one PCN's units, joins a neighbouring area) run
in the compiled kernel of ``sda.engine.anneal``, in chunks. Between chunks a few pairs of
neighbouring areas are recombined (``sda.engine.recombine``): merged and re-split along the best
admissible cut of random spanning trees. Small moves do the fine work at millions of steps a
second; recombinations let the search escape shapes no chain of small moves can leave.

The temperature falls geometrically and the price of residents outside the band rises over the
budget, so the search may cross the band early and ends inside it; only states in band count as
the best. The polish then takes improving small moves (band hard) and recombination sweeps until
neither helps.

The budget is either a number of kernel steps (``steps``: clock-free, so one seed gives one plan
on any machine) or a deadline.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sda.engine.anneal import AnnealState
from sda.engine.pairs import run_pairs
from sda.engine.pool import Snapshots
from sda.engine.recombine import EPS, Partition
from sda.objective import weight_scale
from sda.problem import Problem


@dataclass(frozen=True)
class Schedule:
    """How the annealing is run (defaults tuned on the shipped data).

    Attributes
    ----------
    start_temperature, end_temperature : in objective units (0.002 = 0.2% of residents'
        coterminosity); the temperature falls geometrically between them.
    band_price, band_price_end : price of each resident outside the band, as a share of all
        residents, at the start and at the end (it rises linearly).
    piece_share : share of small moves that move a PCN piece rather than one unit.
    chunk : kernel steps between rounds of recombination.
    recombinations : recombination attempts per round.
    trees : random spanning trees drawn per recombination.
    polish_steps_per_link : greedy kernel steps per adjacency entry in each polish round.
    polish_rounds : at most this many polish rounds (each: greedy moves, then a recombination sweep).
    pair_share : share of each chunk's steps spent on paired moves (``sda.engine.pairs``: a unit
        move and the move that keeps its areas in band), the rest on single moves; 0 = none.
        The search turns them on at tight counts; each paired proposal counts as one step.
    """

    start_temperature: float = 0.002
    end_temperature: float = 0.00002
    band_price: float = 1.0
    band_price_end: float = 51.0
    piece_share: float = 0.2
    chunk: int = 50_000
    recombinations: int = 2
    trees: int = 8
    polish_steps_per_link: int = 20
    polish_rounds: int = 10
    pair_share: float = 0.0

    def scaled(self, factor: float) -> Schedule:
        """The same schedule for an objective ``factor`` times the default's size (see
        ``sda.objective.weight_scale``): temperatures and band prices scale with it."""
        return dataclasses.replace(
            self,
            start_temperature=self.start_temperature * factor,
            end_temperature=self.end_temperature * factor,
            band_price=self.band_price * factor,
            band_price_end=self.band_price_end * factor,
        )

    def temperature(self, progress: float) -> float:
        """Temperature at ``progress`` in [0, 1] of the annealing budget."""
        return self.start_temperature * (self.end_temperature / self.start_temperature) ** progress

    def band(self, progress: float) -> float:
        """Band price at ``progress`` in [0, 1]."""
        return self.band_price + (self.band_price_end - self.band_price) * progress


def improve(
    problem: Problem,
    labels: np.ndarray,
    target: float,
    rng: np.random.Generator,
    *,
    deadline: float,
    steps: int = 0,
    schedule: Schedule | None = None,
    on_progress: Callable[[float], None] | None = None,
    snapshots: Snapshots | None = None,
) -> tuple[np.ndarray, float]:
    """Improve a valid assignment; return the best valid assignment seen and its objective.

    ``deadline`` is a ``time.monotonic()`` value; with ``steps > 0`` the run takes exactly that
    many annealing steps instead and ignores the clock. ``on_progress`` gets the best objective
    so far, now and then. ``snapshots``, when given, is offered the assignment after every round
    (for ``sda.engine.pool``).
    """
    plan = (schedule or Schedule()).scaled(weight_scale(problem))
    state = AnnealState(problem, labels, target)
    start = time.monotonic()
    polish_at = start + 0.9 * max(deadline - start, 0.0)
    done = 0
    last_report = start
    while True:
        if steps > 0:
            if done >= steps:
                break
            n = min(plan.chunk, steps - done)
            f0, f1 = done / steps, (done + n) / steps
        else:
            now = time.monotonic()
            if now >= polish_at:
                break
            n = plan.chunk
            f0 = f1 = (now - start) / max(polish_at - start, 1e-9)
        temperatures, bands = (plan.temperature(f0), plan.temperature(f1)), (plan.band(f0), plan.band(f1))
        paired = int(n * plan.pair_share)
        state.run(rng, n - paired, temperatures, bands, plan.piece_share)
        if paired:
            run_pairs(state, rng, paired, temperatures, bands)
        done += n
        if plan.recombinations:
            _recombine_round(problem, state, rng, plan, plan.temperature(f1))
        if snapshots is not None:
            snapshots.offer(state.labels)
        if on_progress and time.monotonic() - last_report > 2.0:
            on_progress(float(state.best[0]))
            last_report = time.monotonic()
    best, _ = state.best_assignment()
    labels, cost = polish(problem, best, target, rng, plan, deadline=None if steps > 0 else deadline)
    if on_progress:
        on_progress(cost)
    return labels, cost


def _recombine_round(
    problem: Problem, state: AnnealState, rng: np.random.Generator, plan: Schedule, temperature: float
) -> None:
    """A few recombinations of random touching pairs, at the current temperature."""
    part = Partition(problem, state.labels, state.target, state.stats())
    pairs = part.neighbour_pairs()
    changed = False
    for _ in range(plan.recombinations):
        if not len(pairs):
            break
        a, b = (int(x) for x in pairs[rng.integers(len(pairs))])
        if part.recombine(a, b, rng, plan.trees, temperature=temperature):
            changed = True
            pairs = part.neighbour_pairs()
            if part.in_band:
                state.offer(part.labels, part.total_cost)
    if changed:
        state.load(part.labels, part.stats())


def polish(
    problem: Problem,
    labels: np.ndarray,
    target: float,
    rng: np.random.Generator,
    plan: Schedule | None = None,
    deadline: float | None = None,
) -> tuple[np.ndarray, float]:
    """Greedy descent from a valid assignment: improving small moves (band hard), then a
    recombination sweep over every touching pair, until a round gains nothing (or ``deadline``)."""
    plan = plan or Schedule()
    state = AnnealState(problem, labels, target)
    steps = max(plan.polish_steps_per_link * len(problem.indices), 1)
    for _ in range(plan.polish_rounds):
        if deadline is not None and time.monotonic() >= deadline:
            break
        before = state.total_cost
        state.run(rng, steps, (0.0, 0.0), (0.0, 0.0), plan.piece_share)
        if plan.pair_share:
            run_pairs(state, rng, steps, (0.0, 0.0), (0.0, 0.0))
        part = Partition(problem, state.labels, target, state.stats())
        part.recombine_sweep(rng, plan.trees, deadline)
        state.load(part.labels, part.stats())
        if state.total_cost >= before - EPS:
            break
    return state.labels.copy(), state.total_cost
