"""Why units moved between a previous plan and the current one: the sentence a re-run and
``sda diff`` give beside each move.

Teams are set up around each area, so an officer reading a re-run needs the cause of every move,
not only the list. The causes a re-run can have, in the order they are told:

- the previous area, carried onto the current units and populations, is **above the band's
  maximum** (it had to give residents away) or the receiving area is **below its minimum**;
- the unit's **PCN changed** (a practice moved network, or the practices' locations changed);
- the **count changed**: the unit makes a new area, or its previous area was retired;
- the move **undoes an edit** made to the previous plan after its run: the unit goes back to the
  area its run gave it (an officer's edit a re-run did not keep must be told, not passed off as
  a routine move);
- otherwise **the search chose it**: the plan scores better with the move than without, by more
  than the price the re-run puts on moving residents (``[previous]``).

The first two are read off the data, so they are facts; the last is the search's judgement, and
says so. ``carried_populations`` is the previous plan on the current data, before any move: the
middle figure of "before -> on the current data -> after" that makes an area's change add up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["NO_DATA_REASON", "NO_POPULATION_REASON", "SEARCH_CHOICE", "Band", "carried_populations", "move_reasons"]

#: The reason given when no fact of the data explains a move made by a re-run's search.
SEARCH_CHOICE = "the search's choice: the plan scores better (PCN alignment, borders) by more than the price of moving"
#: The same when the new plan may have been edited or made afresh (``sda diff`` of any two plans).
NO_DATA_REASON = "no change in the data explains it: a choice made in the new plan (by its run, or an edit)"
#: The same when the new plan's residents are not known (a CSV of a run on other data).
NO_POPULATION_REASON = (
    "cause unknown: the new plan file has no populations, so whether the data forced the move cannot be told"
)


@dataclass(frozen=True)
class Band:
    """The population band the current plan was made for."""

    min_pop: int
    max_pop: int

    def holds(self, residents: int) -> bool:
        return self.min_pop <= residents <= self.max_pop


def carried_populations(before: Sequence[str], population: Sequence[int]) -> pd.Series:
    """Residents of each previous area on the current units and populations (previous area id ->
    residents), before any move; units with no previous area ("") are left out."""
    frame = pd.DataFrame({"area": list(before), "population": np.asarray(population, dtype=np.int64)})
    frame = frame[frame["area"] != ""]
    return frame.groupby("area")["population"].sum().astype("int64")


def move_reasons(
    before: Sequence[str],
    after: Sequence[str],
    moved: Sequence[bool],
    population: Sequence[int],
    *,
    previous_of: Mapping[str, str],
    band: Band | None = None,
    created: Sequence[str] = (),
    retired: Sequence[str] = (),
    pcn_before: Sequence[str] | None = None,
    pcn_after: Sequence[str] | None = None,
    pcn_names: Mapping[str, str] | None = None,
    run_areas: Sequence[str] | None = None,
    otherwise: str = SEARCH_CHOICE,
) -> list[str]:
    """One reason per unit (positions as ``before``/``after``; "" where the unit did not move).

    Parameters
    ----------
    before, after, moved
        Each current unit's previous area ("" where it had none), its area now, and whether it
        moved (its area now is not the one its previous area became).
    population
        Each current unit's residents now.
    previous_of
        Current area id -> the previous area it continues (none for a new area).
    band
        The current band; without it the band causes are not told.
    created, retired
        Ids of the areas the current plan made new and the previous areas it dropped.
    pcn_before, pcn_after, pcn_names
        Each unit's PCN code in the previous and the current plan ("" unknown), and names to
        show them by; without both codes the PCN cause is not told.
    run_areas
        Each unit's area in the previous plan as its run made it ("" unknown), when the previous
        plan was edited after its run; without it an undone edit is not told.
    otherwise
        The reason when none of the above holds.
    """
    carried = carried_populations(before, population)
    made, dropped = set(created), set(retired)
    names = pcn_names or {}
    reasons = []
    for i, (old, new, is_moved) in enumerate(zip(before, after, moved, strict=True)):
        if not is_moved:
            reasons.append("")
            continue
        said = []
        held_old, held_new = carried.get(old), carried.get(previous_of.get(new, ""))
        if band is not None and held_old is not None and held_old > band.max_pop:
            said.append(f"{old} held {held_old:,} residents on the current data, above the {band.max_pop:,} maximum")
        if band is not None and held_new is not None and held_new < band.min_pop:
            said.append(f"{new} held {held_new:,} residents on the current data, below the {band.min_pop:,} minimum")
        if pcn_before is not None and pcn_after is not None:
            was, now = str(pcn_before[i] or ""), str(pcn_after[i] or "")
            if was and now and was != now:
                said.append(f"its PCN changed from {names.get(was, was)} to {names.get(now, now)}")
        if new in made:
            said.append(f"it is part of {new}, a new area (the count changed)")
        if old in dropped:
            said.append(f"{old} was retired (the count changed)")
        told = "; ".join(said) or otherwise
        made_by_run = str(run_areas[i] or "") if run_areas is not None else ""
        if made_by_run and made_by_run != old and previous_of.get(new) == made_by_run:
            told = f"undoes an edit to the previous plan, which had moved it from {made_by_run} to {old}; {told}"
        reasons.append(told)
    return reasons
