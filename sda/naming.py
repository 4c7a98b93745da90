"""Area ids and names: ``SDA-01``-style ids that never change for a plan, and readable names.

This module owns what an area is called. Ids are numbered north to south (then west to east), a
locked area taking its lock name as id. Names come from the places in an area: each unit's
``places`` (parishes or towns it contains, ``;``-separated, from ``[units] place_field``) are
credited with the unit's residents (shared equally when a unit lists several). A unit that lists
no place borrows those of the nearest unit of its area and district that does, within
``BORROW_M``, unless fewer than ``BORROW_SHARE`` of its district's units list places (an
unparished city such as Cambridge); then it takes its own name without a trailing statistical
code (``"Cambridge 006A"`` -> ``"Cambridge"``), which elsewhere (``"Fenland"``, a district) names
an area only when no place does. An area is named after its place with most residents,
or ``"A & B"`` when the second (not listed only by the same units) has at least ``PAIR_SHARE`` of
the first's; a place split between areas names only the area with most of it, when the others
have big enough places of their own (``OWN_SHARE``). Areas that would share a name get a compass
suffix from where they lie among themselves (``"Peterborough North"``), then a number. Lock names
and a names CSV (``[output] names``) override the made names. The same plan always gets the same
names.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sda.errors import InputError, ProblemsError, SdaWarning
from sda.io import columns_hint, read_text_csv
from sda.problem import Problem
from sda.validate import row_number

__all__ = [
    "BORROW_M",
    "BORROW_SHARE",
    "OWN_SHARE",
    "PAIR_SHARE",
    "area_ids",
    "name_areas",
    "place_populations",
    "read_names_csv",
    "warn_unknown_names",
]

#: How far (metres) a unit without places looks for a unit with places in its district.
BORROW_M = 2_000.0

#: Units borrow places only in districts where at least this share of units list places.
BORROW_SHARE = 0.1

#: A second place joins the name ("Ely & Soham") when it has at least this share of the first's residents.
PAIR_SHARE = 0.5

#: An area is named from the places it holds most of when the largest has at least this share
#: of the residents of its largest place overall (see ``_own_places_first``).
OWN_SHARE = 0.5

_COMPASS = ("East", "North-East", "North", "North-West", "West", "South-West", "South", "South-East")
_TRAILING_CODE = re.compile(r"\s+[A-Z]?\d+[A-Z]?$")


def area_ids(problem: Problem, labels: np.ndarray, units: gpd.GeoDataFrame) -> list[str]:
    """Ids for areas ``0..k-1``: a locked area takes its lock name; the rest are ``SDA-01``...
    numbered north to south (then west to east), so the same plan always gets the same ids;
    numbers whose id a lock already uses are skipped, so no two areas share an id."""
    k = int(labels.max()) + 1
    cent = units.geometry.centroid
    x = np.bincount(labels, weights=cent.x.to_numpy(), minlength=k) / np.bincount(labels, minlength=k)
    y = np.bincount(labels, weights=cent.y.to_numpy(), minlength=k) / np.bincount(labels, minlength=k)
    ids: list[str | None] = [None] * k
    for li, name in enumerate(problem.lock_names):
        held = np.unique(labels[problem.lock == li])
        if len(held) == 1:
            ids[int(held[0])] = name
    free = [a for a in np.lexsort((x, -y)).tolist() if ids[a] is None]
    width = max(2, len(str(len(free))))
    # Automatic ids skip names that locks use (a lock called "SDA-03" after an earlier plan).
    taken = {n.casefold() for n in problem.lock_names}
    numbers = (f"SDA-{i:0{width}d}" for i in range(1, len(free) + len(taken) + 1))
    automatic = [n for n in numbers if n.casefold() not in taken]
    for a, name in zip(free, automatic, strict=False):
        ids[a] = name
    return [str(n) for n in ids]


def place_populations(units: pd.DataFrame) -> dict[str, list[tuple[str, int]]]:
    """Per area, its places with the residents credited to each, largest first: the figures the
    name is chosen from, so that a report listing them agrees with the name.

    A unit listing several places shares its residents equally among them (rounded). With
    geometry, a unit listing none counts under the places it borrows for the name (the nearest
    unit's of its area, ``_borrowed_places``); listed without them, "Hampton Hargate and Vale
    (1,523)" named an area beside "Marholm (1,711)", its 12,492 from the estate's unparished
    units left out.
    """
    borrow = _borrowed_places(units)[0] if isinstance(units, gpd.GeoDataFrame) else None
    credit = _place_credit(units, borrow=borrow)
    return {area: [(p, round(w)) for p, w, _ in ranked] for area, ranked in credit.items()}


def name_areas(
    units: gpd.GeoDataFrame,
    *,
    given: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A readable, unique name for each area.

    Parameters
    ----------
    units
        Indexed by unit code, with ``area_id``, ``population``, ``unit_name``, ``district``,
        ``places`` (may be blank) and ``geometry`` in EPSG:27700.
    given
        ``area_id -> name`` that wins over the made name (lock names, a names CSV). Ids not in
        the plan are ignored.

    Returns
    -------
    dict
        ``area_id -> name`` for every area, in id order.
    """
    given = {str(k): str(v) for k, v in (given or {}).items()}
    borrowed, last_resort = _borrowed_places(units)
    credit = _place_credit(units, borrow=borrowed)
    ids = sorted({str(a) for a in units["area_id"]})
    for area, ranked in _place_credit(units, borrow=last_resort).items():
        credit.setdefault(area, ranked)  # an area no place names: its units' names
    owner = _place_owners(credit)
    made = {a: _name_from(_own_places_first(credit.get(a, []), a, owner), a) for a in ids if a not in given}
    centroids = units.dissolve(by="area_id").geometry.centroid if len(units) else gpd.GeoSeries()
    names = _unique(made, {str(k): v for k, v in centroids.items()}, taken={v for k, v in given.items() if k in ids})
    names.update({a: given[a] for a in ids if a in given})
    return {a: names[a] for a in ids}


def read_names_csv(path: Path, lock_areas: Sequence[str] = ()) -> dict[str, str]:
    """Read a names CSV: columns ``area_id`` and ``name``, one row per area to rename.

    ``lock_areas`` are the ``[[rules.lock]]`` areas, each named after itself unless the CSV
    renames it: a row giving another area a lock's name would make two areas of that name.

    Raises
    ------
    InputError
        The file is missing or unreadable, or lacks a column.
    ProblemsError
        Blank ids or names, ids named twice, names given to two areas (or to an area and a
        lock's area): every one listed.
    """
    path = Path(path)
    try:
        table = read_text_csv(path, ("area_id", "name"))
    except OSError as exc:
        msg = f"cannot read the names CSV ({exc}); expected a CSV file with columns area_id,name."
        raise InputError(path, msg) from exc
    header = list(table.columns)
    missing = [c for c in ("area_id", "name") if c not in header]
    if missing:
        msg = f"column {missing[0]!r} is missing (found {', '.join(header) or 'no columns'}); expected area_id,name."
        why, fix = columns_hint(header, missing) or ("", "name the columns area_id and name in the first row.")
        raise InputError(path, f"{msg}{why} Fix: {fix}")
    names: dict[str, str] = {}
    rows: dict[str, str] = {}
    problems = []
    for position, area, name in zip(table.index, table["area_id"].str.strip(), table["name"].str.strip(), strict=True):
        where = f"{path}, row {row_number(path, position)}"
        if not area or not name:
            blank = "area_id" if not area else "name"
            problems.append(f"{where}, field {blank!r}: blank; expected an area id such as SDA-01 and its name")
        elif area in names:
            problems.append(f"{where}, field 'area_id': area {area!r} is named twice; keep one row per area")
        elif name in names.values():
            problems.append(f"{where}, field 'name': the name {name!r} is given to two areas; names must be unique")
        else:
            names[area] = name
            rows[area] = where
    for area, name in names.items():
        if name in lock_areas and name != area and name not in names:
            problems.append(
                f"{rows[area]}, field 'name': the name {name!r} is the area of [[rules.lock]] {name!r}, "
                f"so two areas would be called {name!r}; names must be unique. Fix: give {area} another "
                f"name, or rename the lock's area too (a row {name},<new name>)."
            )
    if problems:
        raise ProblemsError(f"{path}: {len(problems)} problem(s) in the names CSV (fix, then run again):", problems)
    return names


def warn_unknown_names(names: Mapping[str, str], ids: list[str], path: Path) -> None:
    """Warn about names CSV rows for areas this plan does not have (e.g. after a re-run)."""
    unknown = sorted(set(names) - set(ids))
    if unknown:
        warnings.warn(
            f"{path}: names for areas not in this plan were not used: {', '.join(unknown[:10])}"
            + (" ..." if len(unknown) > 10 else ""),
            SdaWarning,
            stacklevel=2,
        )


# --------------------------------------------------------------------------- helpers


def _places_of(text: object) -> list[str]:
    return [p.strip() for p in str(text or "").split(";") if p.strip()]


def _borrowed_places(units: gpd.GeoDataFrame) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """For units listing no place: the places of the nearest unit of the same area and district
    that lists some, within ``BORROW_M`` (an area is never named after a place in another area);
    in a district where few units list places (an unparished city), the unit's name without a
    trailing code. Second, for the other units that list none, that name as a last resort: it is
    the district's name in a rural district ("Fenland 006A"), so it names an area only when
    nothing else does."""
    places = units["places"] if "places" in units.columns else pd.Series("", index=units.index)
    own = places.map(_places_of)
    has = own.map(bool).to_numpy()
    borrowed: dict[str, list[str]] = {}
    last_resort: dict[str, list[str]] = {}
    districts = units["district"].astype(str) if "district" in units.columns else pd.Series("", index=units.index)
    areas = units["area_id"].astype(str).to_numpy()
    geoms = np.asarray(units.geometry.array, dtype=object)
    for district in sorted(set(districts)):
        in_district = (districts == district).to_numpy()
        lists_places = has[in_district].sum() >= BORROW_SHARE * in_district.sum()
        for area in sorted(set(areas[in_district])) if lists_places else []:
            donors = np.flatnonzero(in_district & (areas == area) & has)
            takers = np.flatnonzero(in_district & (areas == area) & ~has)
            if len(takers) and len(donors):
                tree = shapely.STRtree(geoms[donors])
                taker_i, donor_i = tree.query_nearest(geoms[takers], max_distance=BORROW_M)
                seen: set[int] = set()
                for t, d in zip(taker_i.tolist(), donor_i.tolist(), strict=True):
                    if t not in seen:  # ties: the first (lowest position) donor wins, so it is stable
                        seen.add(t)
                        borrowed[str(units.index[takers[t]])] = own.iloc[donors[d]]
        for t in np.flatnonzero(in_district & ~has).tolist():
            code = str(units.index[t])
            if code not in borrowed:
                stem = _TRAILING_CODE.sub("", str(units["unit_name"].iloc[t])).strip() if "unit_name" in units else ""
                (last_resort if lists_places else borrowed)[code] = [stem] if stem and stem != code else []
    return borrowed, last_resort


def _place_credit(
    units: pd.DataFrame, borrow: Mapping[str, list[str]] | None
) -> dict[str, list[tuple[str, float, frozenset[str]]]]:
    """Per area, (place, residents credited, units crediting it), largest first (ties by name)."""
    totals: dict[str, dict[str, float]] = {}
    sources: dict[tuple[str, str], set[str]] = {}
    places = units["places"] if "places" in units.columns else pd.Series("", index=units.index)
    for code, area, pop, text in zip(units.index, units["area_id"], units["population"], places, strict=True):
        names = _places_of(text) or list((borrow or {}).get(str(code), []))
        for name in names:
            bucket = totals.setdefault(str(area), {})
            bucket[name] = bucket.get(name, 0.0) + float(pop) / len(names)
            sources.setdefault((str(area), name), set()).add(str(code))
    return {
        a: [(p, w, frozenset(sources[(a, p)])) for p, w in sorted(t.items(), key=lambda kv: (-kv[1], kv[0]))]
        for a, t in totals.items()
    }


def _place_owners(credit: Mapping[str, list[tuple[str, float, frozenset[str]]]]) -> dict[str, str]:
    """Each place's owner: the area credited with most of its residents (ties to the lower id)."""
    best: dict[str, tuple[float, str]] = {}
    for area in sorted(credit):
        for place, weight, _ in credit[area]:
            if place not in best or weight > best[place][0]:
                best[place] = (weight, area)
    return {place: area for place, (_, area) in best.items()}


def _own_places_first(
    ranked: list[tuple[str, float, frozenset[str]]], area: str, owner: Mapping[str, str]
) -> list[tuple[str, float, frozenset[str]]]:
    """The places an area is named from: those it holds most of, when the largest of them has at
    least ``OWN_SHARE`` of its top place's residents; otherwise all its places.

    A place split between areas then names the area with most of it, and its neighbours are named
    after their own places ("Bretton" names one area, not three); an area whose own places are
    only small villages keeps the big place and takes a compass point.
    """
    owned = [r for r in ranked if owner.get(r[0]) == area]
    if ranked and owned and owned[0][1] >= OWN_SHARE * ranked[0][1]:
        return owned
    return ranked


def _name_from(ranked: list[tuple[str, float, frozenset[str]]], fallback: str) -> str:
    if not ranked:
        return fallback
    first, weight, source = ranked[0]
    for other, other_weight, other_source in ranked[1:]:
        if other_weight < PAIR_SHARE * weight:
            break
        if other_source != source:  # two parishes listed by the same units say nothing more
            return f"{first} & {other}"
    return first


def _unique(made: dict[str, str], centroids: Mapping[str, shapely.Point], taken: set[str]) -> dict[str, str]:
    """Make names unique: a compass point among areas sharing a name, then a number.

    Within a group, areas furthest from the group's centre choose first, each taking the free
    compass point nearest its bearing; the area nearest the centre may take "Central".
    """
    groups: dict[str, list[str]] = {}
    for area, name in made.items():
        groups.setdefault(name, []).append(area)
    named: dict[str, str] = {}
    for name, areas in groups.items():
        if len(areas) == 1 and name not in taken:
            named[areas[0]] = name
            continue
        xs = np.array([centroids[a].x for a in areas])
        ys = np.array([centroids[a].y for a in areas])
        cx, cy = xs.mean(), ys.mean()
        dist = np.hypot(xs - cx, ys - cy)
        free = set(range(len(_COMPASS)))
        central_free = len(areas) > 2
        for j in sorted(range(len(areas)), key=lambda j: (-dist[j], areas[j])):
            if central_free and j == int(np.argmin(dist)) and dist[j] < 0.5 * dist.mean():
                named[areas[j]] = f"{name} Central"
                central_free = False
                continue
            bearing = math.atan2(ys[j] - cy, xs[j] - cx) / (math.pi / 4)
            if free:
                sector = min(free, key=lambda s: (min(abs(bearing - s) % 8, 8 - abs(bearing - s) % 8), s))
                free.discard(sector)
                named[areas[j]] = f"{name} {_COMPASS[sector]}"
            else:
                named[areas[j]] = name
    seen: dict[str, int] = {}
    used = set(taken)
    for area in sorted(named):
        name = named[area]
        if name in used:
            seen[name] = seen.get(name, 1) + 1
            while f"{name} {seen[name]}" in used:
                seen[name] += 1
            name = f"{name} {seen[name]}"
        used.add(name)
        named[area] = name
    return named
