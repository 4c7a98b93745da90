"""The run configuration: one TOML file, read into frozen dataclasses.

Paths in a config file are relative to the file itself, so a config works from any working
directory. Unknown keys are refused (a typo must not silently fall back to a default), and every
value is range-checked here, before any data is read.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sda.errors import ConfigError, InputError


@dataclass(frozen=True)
class UnitsConfig:
    """Where the building blocks (parishes or small areas) come from and which fields mean what.

    Attributes
    ----------
    path : polygon file any OGR driver reads (GeoJSON, GeoPackage, Shapefile...). Required.
    layer : layer name for multi-layer files such as GeoPackage; default the first layer.
    code_field : unique unit code, e.g. ``PARNCP21CD`` for the ONS parish file. Required.
    name_field : human-readable name; default: the code.
    population_field : resident population in the polygon file; leave empty when it comes
        from ``population_csv``.
    district_field : district (LAD) code, used for ``nest_in = "district"`` and reports.
    district_name_field : district name, for reports.
    place_field : names of places in the unit (";"-separated, e.g. parishes or towns), used to
        name the areas; default none (areas are then named from the unit names).
    population_csv : optional CSV joined on the code, for parish files without population.
    population_csv_code_field, population_csv_population_field : its columns.
    population_points : optional point layer or CSV of populations (e.g. Census output-area
        population-weighted centroids), best-fitted into the units by point-in-polygon; the third
        way to give units a population (see ``sda.population``).
    population_points_field : the points' population column. Default ``population``.
    population_points_code_field : the points' code column, used only to name points in messages.
    population_points_x_field, population_points_y_field : coordinate columns of a CSV. Default
        ``easting``/``northing``; ignored for a point layer.
    population_points_crs : CRS of those CSV columns, e.g. ``EPSG:4326`` for ``lon``/``lat``.
        Default ``EPSG:27700``.
    max_unplaced_share : refuse the run when more than this share of the points' residents falls
        in no unit. Default 0.01.
    population_source : how the report describes the population (source and vintage), e.g.
        ``"ONS Census 2021 usual residents"``. Default: not stated.
    split : optional ``[units.split]`` finer layer used inside units that are too big or
        unparished (see ``SplitConfig`` and ``sda.mixed``).
    """

    path: Path
    code_field: str
    layer: str | None = None
    name_field: str | None = None
    population_field: str | None = None
    district_field: str | None = None
    district_name_field: str | None = None
    place_field: str | None = None
    population_csv: Path | None = None
    population_csv_code_field: str = "code"
    population_csv_population_field: str = "population"
    population_points: Path | None = None
    population_points_field: str = "population"
    population_points_code_field: str | None = None
    population_points_x_field: str = "easting"
    population_points_y_field: str = "northing"
    population_points_crs: str = "EPSG:27700"
    max_unplaced_share: float = 0.01
    population_source: str | None = None
    split: SplitConfig | None = None


@dataclass(frozen=True)
class SplitConfig:
    """``[units.split]``: a finer layer (LSOAs, wards, output areas) used inside some units.

    A unit is split when it has more residents than ``[areas] max_population`` (``over_max``),
    or its code starts with one of ``code_prefixes`` (``"E43"``: ONS unparished areas), or
    ``field`` holds one of ``values``, or its code is in ``codes``. It is replaced by the finer
    units lying inside it (each finer unit goes to the unit it overlaps most), clipped to it.

    Attributes
    ----------
    path : the finer polygon layer. Required.
    layer : its layer name, for multi-layer files.
    code_field : its unique code. Required.
    name_field : its name; default the code. A piece is named ``"<unit>: <finer unit>"``.
    population_field, population_csv, population_csv_code_field, population_csv_population_field :
        its populations, as for ``[units]``. When none is set the pieces take their population
        from ``[units] population_points``.
    over_max : split units over ``max_population``. Default true.
    code_prefixes : split units whose code starts with one of these. Default ``["E43"]``.
    field, values : split units whose ``field`` (in the units file) holds one of ``values``.
    codes : split these unit codes.
    tolerance_m2 : gaps and overlaps between the two layers smaller than this are merged
        without a line in the report (they are still counted). Default 10,000 m2 (1 ha).
    """

    path: Path
    code_field: str
    layer: str | None = None
    name_field: str | None = None
    population_field: str | None = None
    population_csv: Path | None = None
    population_csv_code_field: str = "code"
    population_csv_population_field: str = "population"
    over_max: bool = True
    code_prefixes: tuple[str, ...] = ("E43",)
    field: str | None = None
    values: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    tolerance_m2: float = 10_000.0


@dataclass(frozen=True)
class GraphConfig:
    """How adjacency is decided.

    Attributes
    ----------
    contiguity : ``"rook"`` (default): two units are neighbours when they share a border of at
        least ``min_border_m``, so units meeting only at a corner are not; ``"queen"``: touching
        at a single point is enough as well.
    snap_m : polygons closer than this many metres count as touching (closes slivers between
        generalised boundaries); also the widest gap closed when areas are dissolved. Default 1.0.
    min_border_m : rook: the shortest shared border (metres) that makes two units neighbours.
        Default 1.0.
    islands : ``"join"`` links a unit that touches nothing to its nearest unit, with a warning;
        ``"refuse"`` stops with an error. Default join.
    extra_links : pairs of unit codes to link although they do not touch (bridges, ferries).
    remove_links : pairs of unit codes to unlink although they touch (a river with no crossing).
    cut_measure : what the objective's ``cut_border`` term counts for a link between two areas:
        ``"length"`` (default), its shared border in metres, so long cut borders cost most;
        ``"links"``, one per link, the "cut edges" of redistricting tools such as GerryChain
        (every neighbour relation counts the same, whatever the length of generalised borders).
    """

    contiguity: str = "rook"
    snap_m: float = 1.0
    min_border_m: float = 1.0
    islands: str = "join"
    extra_links: tuple[tuple[str, str], ...] = ()
    remove_links: tuple[tuple[str, str], ...] = ()
    cut_measure: str = "length"


@dataclass(frozen=True)
class AreasConfig:
    """The areas wanted.

    Attributes
    ----------
    min_population, max_population : the band every area must fall in (inclusive). Default
        30,000-50,000, the Think Communities / Primary Care Network size.
    count : a fixed number of areas, or ``"auto"`` to let the engine choose among the feasible
        counts the one with the best score. Default auto.
    target_population : the size the balance objective aims at; ``"auto"`` means the middle of the
        band when the count is auto, and total/count when it is fixed.
    """

    min_population: int = 30_000
    max_population: int = 50_000
    count: int | str = "auto"
    target_population: int | str = "auto"


@dataclass(frozen=True)
class PcnConfig:
    """Primary Care Network data.

    Attributes
    ----------
    practices : CSV of GP practices with ``practice_code``, ``pcn_code``, ``pcn_name``,
        ``easting``, ``northing`` (EPSG:27700). Empty disables PCN alignment.
    method : ``"nearest"`` gives each unit the PCN of the practice nearest its centroid;
        ``"shares"`` reads ``shares`` (unit code, PCN code, share of registered patients) and
        gives each unit its largest PCN.
    shares : CSV for ``method = "shares"``, columns ``unit_code``, ``pcn_code``, ``share``.
    """

    practices: Path | None = None
    method: str = "nearest"
    shares: Path | None = None


@dataclass(frozen=True)
class LockConfig:
    """Units that must end up in the named area (the area takes the name as its id)."""

    area: str
    units: tuple[str, ...]


@dataclass(frozen=True)
class RulesConfig:
    """Hard rules beyond the band and contiguity, which always hold.

    Attributes
    ----------
    nest_in : ``"district"`` keeps every area inside one district; empty allows crossing.
    locks : units locked to a named area.
    keep_together : groups of unit codes that must share an area (a town and its hinterland).
    keep_apart : pairs of unit codes that must be in different areas.
    """

    nest_in: str | None = None
    locks: tuple[LockConfig, ...] = ()
    keep_together: tuple[tuple[str, ...], ...] = ()
    keep_apart: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ObjectiveConfig:
    """Weights of the objective terms (all minimised; see ``sda.objective``).

    Attributes
    ----------
    pcn : weight on the share of residents not in their own PCN's area. Default 1.0.
    cut_border : weight on the share of all shared border that separates two areas. Default 0.1.
    balance : weight on the mean relative deviation from the target size. Default 0.02.
    district_splits : weight on the share of areas that cross a district boundary. Default 0.01.
    moved : weight on the share of residents whose area differs from the previous plan; on only
        when a previous plan is given. Default 1.0.
    """

    pcn: float = 1.0
    cut_border: float = 0.1
    balance: float = 0.02
    district_splits: float = 0.01
    moved: float = 1.0


@dataclass(frozen=True)
class PreviousConfig:
    """A re-run from a previous plan.

    Attributes
    ----------
    max_moved_share : hard cap on the share of residents whose area may differ from the previous
        plan (0-1). Default 1.0 (no cap).
    """

    max_moved_share: float = 1.0


@dataclass(frozen=True)
class SearchConfig:
    """How hard the engine searches.

    Attributes
    ----------
    seed : the only source of randomness; same data, config and seed give the same plan.
    time_limit_s : wall-clock budget in seconds for the whole search (choosing the count,
        constructing, improving), shared among the starts. Default 60.
    starts : independent constructions tried (multi-start). Default 4.
    steps : annealing steps per start; when > 0 it replaces ``time_limit_s`` and makes the run
        independent of the machine's speed (same seed, same plan). Default 0 (use the time).
    jobs : worker processes for the starts and the count screening; 0 uses every core. The plan
        does not depend on it (each start has its own child seed). Default 0.
    """

    seed: int = 1
    time_limit_s: float = 60.0
    starts: int = 4
    steps: int = 0
    jobs: int = 0


@dataclass(frozen=True)
class ExactConfig:
    """The HiGHS model that bounds (and on small instances solves) the problem exactly.

    Attributes
    ----------
    enabled : run it after the heuristic to report the gap. Default true.
    time_limit_s : HiGHS clock limit in seconds for the full model, and a guard for the other
        bounds, which stop at ``exact.BOUND_MAX_NODES`` nodes (the same bound on a busy
        machine as on a quiet one). Default 20.
    max_units : above this many units the full model is skipped and only the aggregate,
        per-component and per-PCN-piece bounds are computed. Default 150, as in the shipped
        configs: above it the flow model's relaxation proves nothing in a run (487 units, 20 s: a
        dual bound above the whole population), so it only cost time.
    """

    enabled: bool = True
    time_limit_s: float = 20.0
    max_units: int = 150


@dataclass(frozen=True)
class TradeoffsConfig:
    """Alternatives run for the report's trade-off section.

    Attributes
    ----------
    enabled : run them (each is a short search). Default true.
    time_limit_s : total budget shared by all alternatives. Default 20.
    ensemble : number of alternative valid plans (random spanning-tree constructions, no
        search) that the chosen plan is ranked against. Default 200.
    steps : annealing steps per alternative; 0 (default) means a tenth of ``[search] steps``
        when the search runs on steps (then neither alternatives nor ensemble read the clock,
        so the report repeats), else the time budget.
    """

    enabled: bool = True
    time_limit_s: float = 20.0
    ensemble: int = 200
    steps: int = 0


@dataclass(frozen=True)
class OutputConfig:
    """Where results go. ``dir`` is created if missing; files are replaced atomically.

    Attributes
    ----------
    dir : output folder. Default ``out``.
    names : optional CSV ``area_id,name`` giving areas their names (overrides the names made
        from places, and lock names).
    """

    dir: Path = Path("out")
    names: Path | None = None


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs. Built by ``load_config``; CLI flags replace fields with ``dataclasses.replace``."""

    units: UnitsConfig
    graph: GraphConfig = field(default_factory=GraphConfig)
    areas: AreasConfig = field(default_factory=AreasConfig)
    pcn: PcnConfig = field(default_factory=PcnConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    previous: PreviousConfig = field(default_factory=PreviousConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    exact: ExactConfig = field(default_factory=ExactConfig)
    tradeoffs: TradeoffsConfig = field(default_factory=TradeoffsConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    source: Path | None = None
    sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict of the settings actually used (for the report and provenance)."""
        return _plain(dataclasses.asdict(self))

    @property
    def hands_work_to_workers(self) -> bool:
        """Whether ``sda propose`` has independent pieces for the ``[search] jobs`` workers
        (several starts, counts to screen, trade-offs), so it is worth starting them early."""
        return self.search.starts > 1 or self.areas.count == "auto" or self.tradeoffs.enabled


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    return value


_SECTIONS: dict[str, type] = {
    "units": UnitsConfig,
    "graph": GraphConfig,
    "areas": AreasConfig,
    "pcn": PcnConfig,
    "rules": RulesConfig,
    "objective": ObjectiveConfig,
    "previous": PreviousConfig,
    "search": SearchConfig,
    "exact": ExactConfig,
    "tradeoffs": TradeoffsConfig,
    "output": OutputConfig,
}
_PATH_KEYS = {"path", "population_csv", "population_points", "practices", "shares", "dir", "names"}


def load_config(path: Path | str) -> RunConfig:
    """Read and check a TOML run configuration.

    Parameters
    ----------
    path
        The ``.toml`` file. Relative paths inside it are resolved against its folder.

    Raises
    ------
    ConfigError
        If the file is missing or not TOML, has an unknown section or key, or a value out of range.
    """
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        msg = f"{path}: cannot read the config file ({exc.strerror}); check the --config path."
        raise ConfigError(msg) from exc
    try:
        text = raw_bytes.decode("utf-8-sig")  # Notepad's "UTF-8 with BOM" is UTF-8 too
    except UnicodeDecodeError as exc:
        utf16 = raw_bytes[:2] in (b"\xff\xfe", b"\xfe\xff")
        found = "UTF-16 text (what Notepad calls 'Unicode')" if utf16 else "not UTF-8 text"
        msg = (
            f"{path}: the config file is {found}; expected UTF-8 text. Fix: open it in a text "
            "editor and save it with the encoding 'UTF-8'."
        )
        raise ConfigError(msg) from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML: {exc}{_toml_hint(text, str(exc))}"
        raise ConfigError(msg) from exc
    return config_from_dict(raw, source=path, sha256=hashlib.sha256(raw_bytes).hexdigest())


def _toml_hint(text: str, error: str) -> str:
    """Quote the line a TOML error points at, with the fix for the usual slip on it."""
    where = re.search(r"line (\d+)", error)
    lines = text.splitlines()
    if not where or not 0 < int(where.group(1)) <= len(lines):
        return ""
    line = lines[int(where.group(1)) - 1].strip()
    if "Cannot overwrite a value" in error or "Cannot declare" in error:
        key = line.split("=", 1)[0].strip()
        fix = f"{key} is set twice in its section (this line is the second); keep one of them."
    elif re.search(r'"[^"]*\\[^"]*"', line):  # a Windows path: TOML reads \U, \d ... as escapes
        fix = (
            'in "double quotes" a backslash starts an escape; write the path with forward slashes '
            "(path = \"C:/data/units.gpkg\") or in 'single quotes' (path = 'C:\\data\\units.gpkg')."
        )
    elif re.search(r"=\s*-?\d{1,3}(,\d{3})+\s*(#.*)?$", line):
        fix = "write numbers without commas, e.g. 30000 or 30_000."
    elif re.search(r"=\s*[A-Za-z]", line) and not re.search(r"=\s*(true|false|inf|nan)\b", line):
        fix = 'put text in double quotes, e.g. count = "auto" or path = "data/units.gpkg".'
    else:
        fix = 'check that line: text in "double quotes", lists in [brackets], numbers without commas.'
    return f". The line is: {line}  Fix: {fix}"


def _did_you_mean(name: str, choices: list[str]) -> str:
    near = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


def config_from_dict(raw: dict[str, Any], *, source: Path | None = None, sha256: str = "") -> RunConfig:
    """Build a checked ``RunConfig`` from a parsed TOML mapping (see ``load_config``)."""
    where = str(source) if source else "config"
    base = source.parent if source else Path.cwd()
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        near = difflib.get_close_matches(unknown[0], list(_SECTIONS), n=1, cutoff=0.6)
        hint = f" (did you mean [{near[0]}]?)" if near else ""
        msg = f"{where}: unknown section [{unknown[0]}]{hint}; expected one of {', '.join(sorted(_SECTIONS))}."
        raise ConfigError(msg)
    _refuse_unknown_keys(raw, where)
    if "units" not in raw:
        msg = f"{where}: missing section [units] (needs at least 'path' and 'code_field')."
        raise ConfigError(msg)
    built: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        section = raw.get(name, {})
        if not isinstance(section, dict):
            msg = f"{where}: [{name}] must be a table of keys."
            raise ConfigError(msg)
        built[name] = _build_section(name, cls, section, base, where)
    cfg = RunConfig(**built, source=source, sha256=sha256)
    _check_values(cfg, where)
    return cfg


_RULES_KEYS = ("nest_in", "lock", "keep_together", "keep_apart")


def _refuse_unknown_keys(raw: dict[str, Any], where: str) -> None:
    """Every unknown key of every section at once, when there are several: a config with two
    typos (``min_pop`` and ``max_pop``) was refused one typo a run. A single one is left to the
    section's own check, whose message also lists the keys expected."""
    unknown = []
    for name, section in raw.items():
        cls = _SECTIONS.get(name)
        if cls is None or not isinstance(section, dict):
            continue
        tables = [(name, cls, section)]
        if name == "units" and isinstance(section.get("split"), dict):
            tables.append(("units.split", SplitConfig, section["split"]))
        for table, kind, keys in tables:
            fields = list(_RULES_KEYS) if table == "rules" else [f.name for f in dataclasses.fields(kind)]
            unknown += [
                f"{key!r} in [{table}]{_did_you_mean(key, fields)}"
                for key in keys
                if key not in fields and not (table == "units" and key == "split")
            ]
    if len(unknown) > 1:
        msg = (
            f"{where}: {len(unknown)} unknown keys: {'; '.join(unknown)}. Fix: correct or delete each; "
            "the README's configuration table lists every key."
        )
        raise ConfigError(msg)


def _build_section(name: str, cls: type, section: dict[str, Any], base: Path, where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name == "rules":
        return _build_rules(section, where)
    if name == "units" and isinstance(section.get("split"), dict):
        split = _build_section("units.split", SplitConfig, section["split"], base, where)
        return dataclasses.replace(
            _build_section(name, cls, {k: v for k, v in section.items() if k != "split"}, base, where), split=split
        )
    if name == "units.split":
        section = {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
    kwargs: dict[str, Any] = {}
    for key, value in section.items():
        if key not in fields:
            msg = (
                f"{where}: unknown key {key!r} in [{name}]{_did_you_mean(key, list(fields))}; "
                f"expected one of {', '.join(sorted(fields))}."
            )
            raise ConfigError(msg)
        if key in _PATH_KEYS:
            if not isinstance(value, str):
                msg = f'{where}: [{name}] {key} = {value!r}; expected a path in quotes, e.g. "data/file.csv".'
                raise ConfigError(msg)
            value = Path(os.path.normpath(base / _home_expanded(value, f"[{name}] {key}", where))) if value else None
            if key == "dir" and value is None:
                value = Path("out")
        elif key in {"extra_links", "remove_links"}:
            value = _pairs(value, f"[{name}] {key}", where)
        elif key.endswith("_field") and not isinstance(value, str):
            msg = f'{where}: [{name}] {key} = {value!r}; expected a field name in quotes, e.g. "CODE".'
            raise ConfigError(msg)
        elif isinstance(value, str) and value == "" and fields[key].default is None:
            value = None
        kwargs[key] = value
    required = [f.name for f in fields.values() if f.default is f.default_factory is dataclasses.MISSING]
    absent = [key for key in required if key not in kwargs or kwargs[key] is None]
    if absent:
        example = {"path": 'path = "boundaries/parishes.gpkg"', "code_field": 'code_field = "PARNCP21CD"'}
        shown = ", ".join(example.get(key, key) for key in absent)
        msg = f"{where}: [{name}] is incomplete: it needs {', '.join(absent)}; add e.g. {shown}."
        raise ConfigError(msg)
    return cls(**kwargs)


def _pairs(value: Any, what: str, where: str) -> tuple[tuple[str, str], ...]:
    ok = isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(c, str) for c in p) for p in value
    )
    if not ok:
        msg = f'{where}: {what} must be a list of [code, code] pairs, e.g. [["E01000001", "E01000002"]].'
        raise ConfigError(msg)
    return tuple((p[0], p[1]) for p in value)


def _build_rules(section: dict[str, Any], where: str) -> RulesConfig:
    allowed = set(_RULES_KEYS)
    for key in section:
        if key not in allowed:
            msg = f"{where}: unknown key {key!r} in [rules]; expected one of {', '.join(sorted(allowed))}."
            raise ConfigError(msg)
    nest_in = section.get("nest_in") or None
    if nest_in not in (None, "district"):
        msg = f'{where}: [rules] nest_in = {nest_in!r}; expected "district" or "".'
        raise ConfigError(msg)
    locks = []
    for i, lock in enumerate(section.get("lock", []), start=1):
        if not (isinstance(lock, dict) and isinstance(lock.get("area"), str) and lock.get("area")):
            msg = f'{where}: [[rules.lock]] number {i} needs area = "name" and units = ["code", ...].'
            raise ConfigError(msg)
        units = lock.get("units")
        if not (isinstance(units, list) and units and all(isinstance(u, str) for u in units)):
            msg = f'{where}: [[rules.lock]] {lock["area"]!r} needs a non-empty list units = ["code", ...].'
            raise ConfigError(msg)
        extra = set(lock) - {"area", "units"}
        if extra:
            msg = f"{where}: unknown key {sorted(extra)[0]!r} in [[rules.lock]] {lock['area']!r}."
            raise ConfigError(msg)
        locks.append(LockConfig(area=lock["area"], units=tuple(units)))
    _check_lock_names([lock.area for lock in locks], where)
    groups = section.get("keep_together", [])
    if not (
        isinstance(groups, list) and all(isinstance(g, list) and all(isinstance(c, str) for c in g) for g in groups)
    ):
        msg = f'{where}: [rules] keep_together must be a list of lists of codes, e.g. [["A", "B", "C"]].'
        raise ConfigError(msg)
    return RulesConfig(
        nest_in=nest_in,
        locks=tuple(locks),
        keep_together=tuple(tuple(g) for g in groups if g),
        keep_apart=_pairs(section.get("keep_apart", []), "[rules] keep_apart", where),
    )


def _check_lock_names(names: list[str], where: str) -> None:
    """A lock's area name is the area's id in every output, so it must be text an officer can
    see and tell apart: "Ely" and "Ely " made two areas both shown as "Ely", which sda's own
    evaluate and diff then took for one, and a blank name made an area no plan reader accepts."""
    seen: dict[str, str] = {}
    for name in names:
        if not name.strip():
            msg = f'{where}: [[rules.lock]] area = {name!r} is blank; expected a name for the area, e.g. area = "Ely".'
            raise ConfigError(msg)
        if name != name.strip():
            msg = (
                f"{where}: [[rules.lock]] area = {name!r} has spaces before or after it; expected the name "
                f"alone. Fix: area = {name.strip()!r}."
            )
            raise ConfigError(msg)
        key = name.casefold()
        if key in seen:
            msg = (
                f"{where}: [[rules.lock]] area {name!r} is given twice"
                + (f" (as {seen[key]!r} too)" if seen[key] != name else "")
                + "; expected one [[rules.lock]] per area. Fix: list all its units in one lock."
            )
            raise ConfigError(msg)
        seen[key] = name


def check_config(cfg: RunConfig, where: str = "config") -> None:
    """Check every value of a built config (after CLI flags, or one built in code); raises
    ``ConfigError`` listing the problems."""
    _check_values(cfg, where)


def _check_values(cfg: RunConfig, where: str) -> None:
    a = cfg.areas
    problems: list[str] = []
    if not isinstance(a.min_population, int) or a.min_population < 0:
        problems.append(f"[areas] min_population = {a.min_population!r}; expected a whole number >= 0")
    if not isinstance(a.max_population, int) or a.max_population <= 0:
        problems.append(f"[areas] max_population = {a.max_population!r}; expected a whole number > 0")
    elif isinstance(a.min_population, int) and a.min_population >= a.max_population:
        problems.append(
            f"[areas] min_population ({a.min_population}) must be below max_population ({a.max_population})"
        )
    if not (a.count == "auto" or (isinstance(a.count, int) and not isinstance(a.count, bool) and a.count >= 1)):
        problems.append(f'[areas] count = {a.count!r}; expected "auto" or a whole number >= 1')
    if not (a.target_population == "auto" or (isinstance(a.target_population, int) and a.target_population > 0)):
        problems.append(f'[areas] target_population = {a.target_population!r}; expected "auto" or a whole number > 0')
    g = cfg.graph
    if g.contiguity not in ("queen", "rook"):
        problems.append(f'[graph] contiguity = {g.contiguity!r}; expected "queen" or "rook"')
    if g.islands not in ("join", "refuse"):
        problems.append(f'[graph] islands = {g.islands!r}; expected "join" or "refuse"')
    if g.cut_measure not in ("length", "links"):
        problems.append(f'[graph] cut_measure = {g.cut_measure!r}; expected "length" or "links"')
    if not isinstance(g.snap_m, int | float) or g.snap_m < 0:
        problems.append(f"[graph] snap_m = {g.snap_m!r}; expected a number of metres >= 0")
    if cfg.pcn.method not in ("nearest", "shares"):
        problems.append(f'[pcn] method = {cfg.pcn.method!r}; expected "nearest" or "shares"')
    if cfg.pcn.method == "shares" and cfg.pcn.shares is None:
        problems.append('[pcn] method = "shares" needs shares = "path/to/shares.csv"')
    for key, value in dataclasses.asdict(cfg.objective).items():
        if not isinstance(value, int | float) or value < 0:
            problems.append(f"[objective] {key} = {value!r}; expected a number >= 0")
    share = cfg.previous.max_moved_share
    if not isinstance(share, int | float) or not 0 <= share <= 1:
        problems.append(f"[previous] max_moved_share = {share!r}; expected a share from 0 to 1 (e.g. 0.05)")
    s = cfg.search
    if not isinstance(s.seed, int):
        problems.append(f"[search] seed = {s.seed!r}; expected a whole number")
    if not isinstance(s.time_limit_s, int | float) or s.time_limit_s < 0:
        problems.append(f"[search] time_limit_s = {s.time_limit_s!r}; expected seconds >= 0")
    if not isinstance(s.starts, int) or s.starts < 1:
        problems.append(f"[search] starts = {s.starts!r}; expected a whole number >= 1")
    if not isinstance(s.jobs, int) or isinstance(s.jobs, bool) or s.jobs < 0:
        problems.append(f"[search] jobs = {s.jobs!r}; expected a whole number >= 0 (0: every core)")
    problems = [_quoted_number_hint(p) for p in problems]
    problems += _more_problems(cfg)
    problems += _range_problems(cfg)
    if problems:
        msg = f"{where}: " + "; ".join(problems) + "."
        raise ConfigError(msg)


def _more_problems(cfg: RunConfig) -> list[str]:
    """Types the checks above let through, and settings that contradict one another."""
    problems: list[str] = []
    # Values come from TOML, so their types are only what the file says: check each by kind.
    checks: list[tuple[str, Any, str]] = [
        ("[areas] min_population", cfg.areas.min_population, "not bool"),
        ("[areas] max_population", cfg.areas.max_population, "not bool"),
        ("[search] seed", cfg.search.seed, "not bool"),
        ("[search] starts", cfg.search.starts, "not bool"),
        ("[search] steps", cfg.search.steps, "whole"),
        ("[exact] max_units", cfg.exact.max_units, "whole"),
        ("[tradeoffs] ensemble", cfg.tradeoffs.ensemble, "whole"),
        ("[tradeoffs] steps", cfg.tradeoffs.steps, "whole"),
        ("[graph] min_border_m", cfg.graph.min_border_m, "number"),
        ("[exact] time_limit_s", cfg.exact.time_limit_s, "number"),
        ("[tradeoffs] time_limit_s", cfg.tradeoffs.time_limit_s, "number"),
        ("[exact] enabled", cfg.exact.enabled, "bool"),
        ("[tradeoffs] enabled", cfg.tradeoffs.enabled, "bool"),
    ]
    for key, value, kind in checks:
        is_bool = isinstance(value, bool)
        if kind == "not bool" and is_bool:  # TOML true/false would pass as the numbers 1/0
            problems.append(f"{key} = {_toml(value)}; expected a whole number, not true or false")
        elif kind == "whole" and (is_bool or not isinstance(value, int) or value < 0):
            problems.append(f"{key} = {_toml(value)}; expected a whole number >= 0 (without quotes)")
        elif kind == "number" and (is_bool or not isinstance(value, int | float) or value < 0):
            problems.append(f"{key} = {_toml(value)}; expected a number >= 0 (without quotes)")
        elif kind == "bool" and not is_bool:
            problems.append(f"{key} = {_toml(value)}; expected true or false (without quotes)")
    low: Any = cfg.areas.min_population
    high: Any = cfg.areas.max_population
    target: Any = cfg.areas.target_population
    numbers = [v for v in (low, high, target) if isinstance(v, int) and not isinstance(v, bool)]
    if len(numbers) == 3 and target > 0 and not low <= target <= high:
        problems.append(
            f"[areas] target_population = {target} is outside the band {low}-{high}; "
            'expected a size inside it, or "auto"'
        )
    if cfg.rules.nest_in == "district" and not cfg.units.district_field:
        problems.append(
            '[rules] nest_in = "district" needs [units] district_field (the field holding each '
            'unit\'s district code, e.g. "LAD21CD")'
        )
    if cfg.pcn.method == "shares" and cfg.pcn.shares is not None and cfg.pcn.practices is None:
        problems.append(
            '[pcn] method = "shares" also needs practices = "path/to/practices.csv" (without it '
            "PCN alignment is off and the shares would be ignored)"
        )
    problems += _output_dir_problems(cfg.output.dir)
    problems += _population_source_problems(cfg.units)
    return problems


def _population_source_problems(units: UnitsConfig) -> list[str]:
    """``[units]`` population points and ``[units.split]``: types TOML lets through."""
    problems: list[str] = []
    share: Any = units.max_unplaced_share
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        problems.append(f"[units] max_unplaced_share = {_toml(share)}; expected a share from 0 to 1, e.g. 0.01")
    split: Any = units.split
    if split is None:
        return problems
    if not isinstance(split, SplitConfig):
        return [*problems, f"[units] split = {_toml(split)}; expected a table [units.split] with path and code_field"]
    for key in ("code_prefixes", "values", "codes"):
        value = getattr(split, key)
        if not (isinstance(value, tuple) and all(isinstance(v, str) for v in value)):
            problems.append(f'[units.split] {key} = {_toml(value)}; expected a list of text, e.g. ["E43"]')
    if not isinstance(split.over_max, bool):
        problems.append(f"[units.split] over_max = {_toml(split.over_max)}; expected true or false (without quotes)")
    tolerance: Any = split.tolerance_m2
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0:
        problems.append(f"[units.split] tolerance_m2 = {_toml(tolerance)}; expected square metres >= 0")
    if bool(split.field) != bool(split.values):
        problems.append('[units.split] field and values go together, e.g. field = "TYPE", values = ["unparished"]')
    return problems


#: Upper ends of the ranges below: far beyond any real use, and inside what the engine's 64-bit
#: arrays, numpy's seeding and a run that ends in reasonable time can take.
MAX_POPULATION = 10**12
MAX_COUNT = 100_000
MAX_SEED = 2**63 - 1
MAX_STEPS = 10**13
MAX_SECONDS = 7 * 24 * 3600.0
MAX_METRES = 100_000.0
MAX_WEIGHT = 1e6
MAX_ENSEMBLE = 100_000
MAX_STARTS = 10_000


def _range_problems(cfg: RunConfig) -> list[str]:
    """Every number finite and inside its range; names that cannot work together.

    The type checks above let ``nan``, ``inf`` (TOML has both) and numbers beyond what the
    engine can hold through; each would hang a solver, end in a misleading message, or crash.
    """
    problems: list[str] = []
    numbers: list[tuple[str, Any, float, str]] = [
        ("[graph] snap_m", cfg.graph.snap_m, MAX_METRES, "metres"),
        ("[graph] min_border_m", cfg.graph.min_border_m, MAX_METRES, "metres"),
        ("[search] time_limit_s", cfg.search.time_limit_s, MAX_SECONDS, "seconds"),
        ("[exact] time_limit_s", cfg.exact.time_limit_s, MAX_SECONDS, "seconds"),
        ("[tradeoffs] time_limit_s", cfg.tradeoffs.time_limit_s, MAX_SECONDS, "seconds"),
        *((f"[objective] {k}", v, MAX_WEIGHT, "a weight") for k, v in dataclasses.asdict(cfg.objective).items()),
    ]
    for key, value, top, unit in numbers:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                problems.append(f"{key} = {value!r}; expected a finite number (not nan or inf), 0 to {top:g} {unit}")
            elif value > top:
                problems.append(f"{key} = {value!r} is too large; expected at most {top:g} {unit}")
    wholes: list[tuple[str, Any, int]] = [
        ("[areas] min_population", cfg.areas.min_population, MAX_POPULATION),
        ("[areas] max_population", cfg.areas.max_population, MAX_POPULATION),
        ("[areas] count", cfg.areas.count, MAX_COUNT),
        ("[areas] target_population", cfg.areas.target_population, MAX_POPULATION),
        ("[search] seed", cfg.search.seed, MAX_SEED),
        ("[search] starts", cfg.search.starts, MAX_STARTS),
        ("[search] steps", cfg.search.steps, MAX_STEPS),
        ("[exact] max_units", cfg.exact.max_units, MAX_COUNT * 100),
        ("[tradeoffs] ensemble", cfg.tradeoffs.ensemble, MAX_ENSEMBLE),
        ("[tradeoffs] steps", cfg.tradeoffs.steps, MAX_STEPS),
    ]
    for key, value, top in wholes:
        if isinstance(value, int) and not isinstance(value, bool) and value > top:
            problems.append(f"{key} = {value} is too large; expected at most {top:,}")
    if isinstance(cfg.search.seed, int) and not isinstance(cfg.search.seed, bool) and cfg.search.seed < 0:
        problems.append(f"[search] seed = {cfg.search.seed}; expected a whole number >= 0")
    for key, pairs in (
        ("[rules] keep_apart", cfg.rules.keep_apart),
        ("[graph] extra_links", cfg.graph.extra_links),
        ("[graph] remove_links", cfg.graph.remove_links),
    ):
        for a, b in pairs:
            if a == b:
                what = (
                    "a contradiction: a unit cannot be in a different area from itself"
                    if key.endswith("keep_apart")
                    else "a unit is not its own neighbour"
                )
                problems.append(f"{key} pairs {a!r} with itself ({what}); remove the pair or correct the code")
    return problems


def _quoted_number_hint(problem: str) -> str:
    """Point out a number written in quotes (``min_population = "30000"``), which TOML reads as text;
    with commas (``"30,000"``), removing the quotes alone would leave TOML a syntax error."""

    def hint(match: re.Match[str]) -> str:
        text = match.group(2)
        if "," not in text:
            return f"{match.group(1)} (a number in quotes is text: remove the quotes);"
        plain, grouped = text.replace(",", ""), text.replace(",", "_")
        return f"{match.group(1)} (a number in quotes is text: write {plain} or {grouped}, without quotes or commas);"

    return re.sub(r"(= '(-?\d[\d,._]*)');", hint, problem)


def _toml(value: Any) -> str:
    """Show a value as the other messages do, but booleans as TOML writes them (true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _output_dir_problems(folder: Path) -> list[str]:
    """The output folder, or a folder it would be made in, must not be an existing file."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            if candidate.is_dir():
                return []
            what = "is a file" if candidate == folder else f"would be made inside {candidate}, which is a file"
            return [
                f'[output] dir = "{folder}" {what}; expected a folder (it is created if missing). '
                "Fix: choose another dir, or move the file"
            ]
    return []


# --------------------------------------------------------------------------- saved configs


def restore_config(raw: Mapping[str, Any], where: Path) -> RunConfig:
    """Invert ``RunConfig.to_dict`` (the config saved in ``plan.json``); keys a later sda no longer
    knows are dropped, not refused.

    Raises
    ------
    InputError
        The saved configuration is incomplete (naming ``where``).
    """
    sections: dict[str, Any] = {}
    try:
        for name, cls in _config_sections().items():
            values = dict(raw.get(name) or {})
            known = {f.name for f in dataclasses.fields(cls)}
            kwargs = {k: _restore(k, v) for k, v in values.items() if k in known}
            if name == "rules":
                kwargs["locks"] = tuple(
                    LockConfig(area=str(lock["area"]), units=tuple(lock["units"])) for lock in values.get("locks", [])
                )
            if name == "units" and isinstance(values.get("split"), Mapping):  # the nested [units.split]
                split_known = {f.name for f in dataclasses.fields(SplitConfig)}
                kwargs["split"] = SplitConfig(
                    **{k: _restore(k, v) for k, v in values["split"].items() if k in split_known}
                )
            sections[name] = cls(**kwargs)
    except (TypeError, KeyError, AttributeError) as exc:
        msg = f"the saved configuration is incomplete ({exc}); re-run `sda propose`."
        raise InputError(where, msg, field="config") from exc
    source = raw.get("source")
    return RunConfig(**sections, source=Path(source) if source else None, sha256=str(raw.get("sha256") or ""))


def _home_expanded(value: str, key: str, where: object) -> Path:
    """A config path with a leading ``~`` put as the home folder, as a shell would: TOML does not,
    and ``dir = "~/sda-out"`` wrote the run into a folder named ``~`` beside the config."""
    path = Path(value)
    if not value.startswith("~"):
        return path
    try:
        return path.expanduser()
    except RuntimeError as exc:  # no home folder known for it (HOME unset, or no user '~name')
        msg = (
            f"{where}: {key} = {value!r} starts with '~', a home folder that cannot be found here ({exc}); "
            "expected a path relative to the config file, or a full path. Fix: write the folder out in full."
        )
        raise ConfigError(msg) from exc


def _config_sections() -> dict[str, type]:
    """``RunConfig`` field -> its section dataclass, read from the class so new sections round-trip."""
    hints = typing.get_type_hints(RunConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(RunConfig) if dataclasses.is_dataclass(hints[f.name])}


def _restore(key: str, value: Any) -> Any:
    if key in _PATH_KEYS:
        return Path(value) if value else (Path("out") if key == "dir" else None)
    if isinstance(value, list):
        return tuple(_restore("", v) for v in value)
    return value
