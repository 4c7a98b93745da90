"""Facts about a plan that the report states: band, names of districts and PCNs, residents by
area, and the boundary units that could move. Pure functions of the Plan; no text layout here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx
import pandas as pd

from sda.formatting import show_text, show_whole
from sda.plan import Plan


def movable_units(plan: Plan) -> pd.DataFrame:
    """Boundary units that could move to a neighbouring area without breaking the band.

    A unit on an area's edge can move to a touching area when the area it leaves stays at or
    above ``min_population`` and keeps at least one unit, the receiving area stays at or below
    ``max_population``, and the area it leaves stays connected (the unit is not a cut vertex of
    its area's subgraph).

    Returns
    -------
    pandas.DataFrame
        One row per (unit, receiving area): ``area_id``, ``unit_code``, ``unit_name``,
        ``population``, ``to_area``, ``shared_border_m``, ``area_pop_after``,
        ``to_pop_after`` and ``helps_pcn`` (the unit's PCN is the receiving area's dominant PCN
        and not its own area's). Sorted by area, then PCN-helping moves and longest shared
        border first.
    """
    band_min, band_max = population_band(plan)
    assignment = {str(k): v for k, v in plan.assignment.items()}
    pops = {str(k): int(v) for k, v in plan.units["population"].items()}
    area_pop = plan.units.groupby("area_id")["population"].sum()
    area_size = plan.units.groupby("area_id").size()
    border: dict[tuple[str, Any], float] = {}
    for u, v, data in plan.graph.edges(data=True):
        a, b = assignment.get(str(u)), assignment.get(str(v))
        if a is None or b is None or a == b:
            continue
        length = float(data.get("border_m", 0.0) or 0.0)
        border[(str(u), b)] = border.get((str(u), b), 0.0) + length
        border[(str(v), a)] = border.get((str(v), a), 0.0) + length
    rows = []
    for (unit, to_area), length in border.items():
        area = assignment[unit]
        after, to_after = int(area_pop[area]) - pops[unit], int(area_pop[to_area]) + pops[unit]
        if area_size[area] > 1 and after >= band_min and to_after <= band_max:
            rows.append((area, unit, to_area, length, after, to_after))
    frame = pd.DataFrame(
        rows, columns=["area_id", "unit_code", "to_area", "shared_border_m", "area_pop_after", "to_pop_after"]
    )
    frame = frame[~frame["unit_code"].isin(_cut_vertices(plan, set(frame["area_id"])))]
    return _describe_moves(plan, frame)


def edge_populations(plan: Plan) -> dict[Any, tuple[list[int], list[int]]]:
    """Per area, the populations of its boundary units and of the neighbouring units outside it
    (one pass over the links for all areas)."""
    assignment = {str(k): v for k, v in plan.assignment.items()}
    pops = {str(k): int(v) for k, v in plan.units["population"].items()}
    inside: dict[Any, set[str]] = {}
    outside: dict[Any, set[str]] = {}
    for u, v in plan.graph.edges():
        a, b = assignment.get(str(u)), assignment.get(str(v))
        if a == b or a is None or b is None:
            continue
        inside.setdefault(a, set()).add(str(u))
        outside.setdefault(a, set()).add(str(v))
        inside.setdefault(b, set()).add(str(v))
        outside.setdefault(b, set()).add(str(u))
    return {area: ([pops[c] for c in inside[area]], [pops[c] for c in outside.get(area, set())]) for area in inside}


def population_band(plan: Plan) -> tuple[int, int]:
    return int(plan.config.areas.min_population), int(plan.config.areas.max_population)


def has_practices(plan: Plan) -> bool:
    return plan.practices is not None and len(plan.practices) > 0


def pcn_codes(plan: Plan) -> pd.Series:
    if "pcn_code" not in plan.units.columns:
        return pd.Series([], dtype=object)
    codes = plan.units["pcn_code"].dropna().astype(str)
    return codes[codes != ""]


def district_labels(plan: Plan) -> dict[str, str]:
    if "district_name" not in plan.units.columns:
        return {}
    pairs = plan.units[["district", "district_name"]].dropna().drop_duplicates("district")
    return {str(d): f"{n} ({d})" if str(n) and str(n) != str(d) else str(d) for d, n in pairs.itertuples(index=False)}


def pcn_labels(plan: Plan) -> dict[str, str]:
    practices = plan.practices
    if practices is None or "pcn_name" not in practices.columns:
        return {}
    pairs = practices[["pcn_code", "pcn_name"]].dropna().drop_duplicates("pcn_code")
    return {str(c): f"{n} ({c})" for c, n in pairs.itertuples(index=False)}


def residents_by_area(units: pd.DataFrame, column: str, names: Mapping[str, str]) -> dict[Any, str]:
    """Per area, "name: residents; ..." for each value of ``column``, largest first."""
    if column not in units.columns:
        return {}
    keys = units[column].fillna("").astype(str)
    totals = units.groupby([units["area_id"], keys])["population"].sum()
    texts: dict[Any, str] = {}
    for area, part in totals.groupby(level=0):
        ordered = part.droplevel(0).sort_values(ascending=False)
        texts[area] = "; ".join(f"{names.get(k, k) if k else 'none'}: {show_whole(v)}" for k, v in ordered.items())
    return texts


def _cut_vertices(plan: Plan, areas: set[Any]) -> set[str]:
    """Units whose removal would split their own area (only for areas with candidate moves)."""
    found: set[str] = set()
    codes_by_area = plan.units.groupby("area_id").groups
    for area in areas:
        members = [str(c) for c in codes_by_area[area]]
        found.update(str(c) for c in nx.articulation_points(plan.graph.subgraph(members)))
    return found


def _describe_moves(plan: Plan, frame: pd.DataFrame) -> pd.DataFrame:
    units = plan.units
    names = units["unit_name"] if "unit_name" in units.columns else pd.Series(units.index, index=units.index)
    frame = frame.assign(
        unit_name=frame["unit_code"].map(lambda c: str(names.get(c, c))),
        population=frame["unit_code"].map(lambda c: int(units.at[c, "population"])),
    )
    dominant = plan.areas["dominant_pcn"] if "dominant_pcn" in plan.areas.columns else pd.Series(dtype=object)
    pcn = units["pcn_code"] if "pcn_code" in units.columns else pd.Series(dtype=object)

    def helps(row: Any) -> bool:
        own = show_text(pcn.get(row.unit_code))
        return bool(own) and own == show_text(dominant.get(row.to_area)) and own != show_text(dominant.get(row.area_id))

    frame["helps_pcn"] = [helps(r) for r in frame.itertuples()] if len(frame) else pd.Series([], dtype=bool)
    columns = [
        "area_id",
        "unit_code",
        "unit_name",
        "population",
        "to_area",
        "shared_border_m",
        "area_pop_after",
        "to_pop_after",
        "helps_pcn",
    ]
    ordered = frame.sort_values(
        ["helps_pcn", "shared_border_m", "unit_code"], ascending=[False, False, True], kind="stable"
    )
    return ordered[columns].reset_index(drop=True)


def flatten(value: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping):
            rows.extend(flatten(item, f"{name}."))
        elif isinstance(item, list | tuple):
            rows.append((name, ", ".join(str(x) for x in item)))
        elif isinstance(item, float):
            rows.append((name, f"{item:g}"))
        else:
            rows.append((name, str(item)))
    return rows
