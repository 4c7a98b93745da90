"""Writers: everything a Plan turns into on disk, and reading a saved plan back.

This module owns the output folder. ``write_outputs`` writes the layers officers open in QGIS
(GeoJSON in WGS84 per RFC 7946, one GeoPackage in British National Grid with default styles
embedded), the assignment CSV, a JSON dump of everything in the plan that is not geometry, the
report and a machine-readable summary. ``read_plan`` rebuilds the Plan from ``plan.gpkg`` and
``plan.json``, so ``sda report DIR`` can re-render a report without re-running the engine.

Every file is written to a hidden temporary file in the same folder and then moved over the
target with ``os.replace``, which is atomic on one file system: a crash or error part-way leaves
the previous file untouched and never a half-written one. (Files are replaced one by one; the
folder as a whole is not a transaction.)
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import secrets
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors

from sda.config import LockConfig, RunConfig
from sda.errors import InputError
from sda.formatting import (
    show_number,
    show_percent,
    show_signed_number,
    show_text,
    show_whole,
)
from sda.graph import graph_edges_frame
from sda.maps import area_neighbours, render_figures
from sda.metrics import outside_band
from sda.plan import Plan, RuleResult
from sda.qgis import adjacency_qml, area_colours, areas_qml, practices_qml, units_qml
from sda.report import render_report_html, render_report_md

__all__ = [
    "AREA_FIELDS",
    "PLAN_FORMAT",
    "UNIT_FIELDS",
    "read_plan",
    "summary_dict",
    "summary_table",
    "write_geojson",
    "write_outputs",
    "write_report",
]

#: Version of the ``plan.json`` layout; ``read_plan`` refuses newer ones.
PLAN_FORMAT = 1

#: Unit attributes written to ``units.geojson`` and the GeoPackage ``units`` layer, in order.
UNIT_FIELDS = ("unit_code", "unit_name", "population", "district", "district_name", "pcn_code", "area_id")

#: Area attributes written to ``areas.geojson`` (when the plan has them), in order.
AREA_FIELDS = (
    "area_id",
    "population",
    "n_units",
    "deviation",
    "deviation_pct",
    "dominant_pcn",
    "pcn_coterminosity",
    "polsby_popper",
    "n_districts",
    "districts",
    "n_pcns",
    "cut_border_m",
)

#: Provenance stamped on every feature of the GeoPackage ``areas`` layer.
PROVENANCE_FIELDS = ("sda_version", "config_sha256", "run_at")

_BNG = "EPSG:27700"
_WGS84 = "EPSG:4326"
_FIGURE_FILES = {"map": "map.png", "frontier": "frontier.png", "ensemble": "ensemble.png"}


# --------------------------------------------------------------------------- public writers


def write_outputs(plan: Plan, out_dir: Path) -> list[Path]:
    """Write every output file of a plan, each one atomically.

    Parameters
    ----------
    plan
        The plan to write.
    out_dir
        Output folder; created if missing. Existing files of the same names are replaced.

    Returns
    -------
    list of Path
        The files written, in order: ``units.geojson``, ``units.qml``, ``areas.geojson``,
        ``areas.qml``, ``assignment.csv``, ``plan.gpkg`` (layers ``units``, ``areas``,
        ``adjacency``, ``practices`` when there are practices, and ``layer_styles``),
        ``plan.json``, the figures (``map.png``, plus ``frontier.png`` and ``ensemble.png`` when
        there is something to draw), ``report.md``, ``report.html`` and ``summary.json``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A copy with complete provenance, so every file carries the same version, hash and time.
    plan = dataclasses.replace(plan, provenance=_complete_provenance(plan))
    units = _units_frame(plan)
    areas = _areas_frame(plan)
    qml = _styles(plan, areas)
    written = [
        write_geojson(units, out_dir / "units.geojson"),
        _write_text(out_dir / "units.qml", qml["units"]),
        write_geojson(areas[[c for c in AREA_FIELDS if c in areas.columns] + ["geometry"]], out_dir / "areas.geojson"),
        _write_text(out_dir / "areas.qml", qml["areas"]),
        _write_assignment(plan, out_dir / "assignment.csv"),
        _write_geopackage(plan, units, areas, qml, out_dir / "plan.gpkg"),
        _write_text(out_dir / "plan.json", _dumps(_plan_record(plan))),
    ]
    written += write_report(plan, out_dir)
    written.append(_write_text(out_dir / "summary.json", _dumps(summary_dict(plan))))
    return written


def write_geojson(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """Write a GeoDataFrame as RFC 7946 GeoJSON (WGS84 lon/lat, 6 decimals), atomically.

    Parameters
    ----------
    frame
        Features with a CRS (reprojected to EPSG:4326 here). A named index (such as
        ``unit_code``) is written as a property; an unnamed one is dropped.
    path
        Target file; replaced only once the new file is complete.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        The frame has no CRS, so it cannot be placed on the globe.
    """
    path = Path(path)
    if frame.crs is None:
        msg = f"cannot write {path.name}: the frame has no CRS to reproject to EPSG:4326 from"
        raise ValueError(msg)
    frame = frame if frame.crs == _WGS84 else frame.to_crs(_WGS84)
    if frame.index.name is not None and frame.index.name not in frame.columns:
        frame = frame.reset_index()  # a named index (unit_code) is data; GDAL would drop it
    with _replacing(path) as tmp:
        pyogrio.write_dataframe(
            frame,
            tmp,
            layer=path.stem,
            driver="GeoJSON",
            layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": "6"},
        )
    return path


def write_report(plan: Plan, out_dir: Path) -> list[Path]:
    """Draw the figures and write ``report.md`` and ``report.html`` (used by ``sda report DIR``).

    The PNGs are saved next to ``report.md``, which links them; ``report.html`` embeds them and
    stands alone. A figure with nothing to draw (no alternatives, no ensemble) is not written,
    and a stale copy from an earlier run is removed so the folder never mixes two runs.

    Returns
    -------
    list of Path
        The PNGs written, then ``report.md`` and ``report.html``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = render_figures(plan)
    written: list[Path] = []
    for key, name in _FIGURE_FILES.items():
        data = figures.get(key)
        if data:
            written.append(_write_bytes(out_dir / name, data))
        else:
            (out_dir / name).unlink(missing_ok=True)
    images = {key: name for key, name in _FIGURE_FILES.items() if figures.get(key)}
    written.append(_write_text(out_dir / "report.md", render_report_md(plan, images=images)))
    written.append(_write_text(out_dir / "report.html", render_report_html(plan, figures=figures)))
    return written


# --------------------------------------------------------------------------- summaries


def summary_dict(plan: Plan) -> dict[str, Any]:
    """Build the machine-readable summary (``summary.json``, and what ``--json`` prints).

    Returns
    -------
    dict
        JSON-ready (NaN becomes ``None``): ``n_areas``, ``n_units``, ``total_population``,
        ``band`` ``[min, max]``, ``all_in_band``, ``areas_outside_band``, ``scores``, ``rules``,
        ``bound``, ``warnings``, ``areas`` (id, population, deviation_pct, n_units,
        dominant_pcn, pcn_coterminosity) and ``provenance``.
    """
    band_min, band_max = _band(plan)
    pops = plan.areas["population"]
    outside = outside_band(pops, band_min, band_max)
    columns = ["population", "deviation_pct", "n_units", "dominant_pcn", "pcn_coterminosity"]
    areas = plan.areas[[c for c in columns if c in plan.areas.columns]]
    summary = {
        "n_areas": len(plan.areas),
        "n_units": len(plan.units),
        "total_population": int(plan.units["population"].sum()),
        "band": [band_min, band_max],
        "all_in_band": not outside,
        "areas_outside_band": outside,
        "scores": plan.scores,
        "rules": [dataclasses.asdict(r) for r in plan.rules],
        "bound": plan.bound,
        "warnings": plan.warnings,
        "areas": [{"area_id": a, **row} for a, row in zip(areas.index, areas.to_dict("records"), strict=True)],
        "provenance": plan.provenance,
    }
    plain: dict[str, Any] = _jsonable(summary)
    return plain


def summary_table(plan: Plan) -> str:
    """Fixed-width text table of the areas and the headline scores, for the terminal.

    Returns
    -------
    str
        One line per area (id, population, deviation %, units, dominant PCN, coterminosity), a
        total line, then the scores and the rule results; ends with a newline.
    """
    headers = ["Area", "Population", "Dev %", "Units", "Dominant PCN", "Cotermin."]
    rows = []
    for area, row in plan.areas.iterrows():
        rows.append(
            [
                str(area),
                show_whole(row.get("population")),
                show_signed_number(row.get("deviation_pct"), 1),
                show_whole(row.get("n_units")),
                show_text(row.get("dominant_pcn")) or "-",
                show_percent(row.get("pcn_coterminosity")),
            ]
        )
    total = [
        "Total",
        show_whole(plan.units["population"].sum()),
        "",
        show_whole(len(plan.units)),
        "",
        show_percent(plan.scores.get("coterminosity")),
    ]
    widths = [max(len(r[i]) for r in [headers, *rows, total]) for i in range(len(headers))]
    left = {0, 4}  # text columns; numbers are right-aligned so digits line up

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [line(headers), rule, *(line(r) for r in rows), rule, line(total), "", *_headline_lines(plan)]
    return "\n".join(lines) + "\n"


def _headline_lines(plan: Plan) -> list[str]:
    band_min, band_max = _band(plan)
    pops = plan.areas["population"]
    outside = [str(a) for a in outside_band(pops, band_min, band_max)]
    band = f"{band_min:,}-{band_max:,}"
    status = f"all within {band}" if not outside else f"{len(outside)} OUTSIDE {band}: {', '.join(outside)}"
    s = plan.scores
    lines = [
        f"{len(plan.areas)} area{'' if len(plan.areas) == 1 else 's'}, {status}.",
        f"Coterminosity {show_percent(s.get('coterminosity'))}, PCNs split {show_number(s.get('pcns_split'), 0)}, "
        f"cut border {show_number(s.get('cut_border_km'), 1)} km, mean Polsby-Popper "
        f"{show_number(s.get('mean_polsby_popper'), 3)}, objective {show_number(s.get('objective'), 4)}.",
    ]
    failed = [r.name for r in plan.rules if not r.ok]
    if plan.rules:
        lines.append(f"Rules: all {len(plan.rules)} hold." if not failed else f"Rules FAILED: {', '.join(failed)}.")
    if plan.bound and "gap" in plan.bound:
        lines.append(f"Gap to the exact bound: {show_percent(plan.bound['gap'], 2)}.")
    return lines


# --------------------------------------------------------------------------- reading back


def read_plan(out_dir: Path) -> Plan:
    """Rebuild a Plan from an output folder (``plan.gpkg`` and ``plan.json``).

    Parameters
    ----------
    out_dir
        A folder written by ``write_outputs``.

    Returns
    -------
    Plan
        Units, areas, graph and practices come from the GeoPackage (EPSG:27700); scores, rules,
        config, bound, alternatives, ensemble, warnings and provenance from the JSON.

    Raises
    ------
    InputError
        A file is missing, unreadable, or not a plan this version of ``sda`` understands.
    """
    out_dir = Path(out_dir)
    gpkg, record_path = out_dir / "plan.gpkg", out_dir / "plan.json"
    record = _read_record(record_path)
    layers = _read_layers(gpkg)
    units = layers["units"].set_index("unit_code")
    areas = layers["areas"].drop(columns=[c for c in PROVENANCE_FIELDS if c in layers["areas"].columns])
    areas = areas.set_index("area_id")
    ensemble = record.get("ensemble")
    return Plan(
        units=units,
        areas=areas,
        scores={k: math.nan if v is None else float(v) for k, v in record.get("scores", {}).items()},
        rules=[RuleResult(**r) for r in record.get("rules", [])],
        graph=_graph_from(units, layers["adjacency"], record.get("graph", {})),
        config=_config_from_dict(record["config"], record_path),
        practices=layers.get("practices"),
        target_population=float(record.get("target_population") or 0.0),
        bound=record.get("bound"),
        alternatives=list(record.get("alternatives") or []),
        ensemble=None if ensemble is None else pd.DataFrame(ensemble["records"], columns=ensemble["columns"]),
        warnings=[str(w) for w in record.get("warnings", [])],
        provenance=dict(record.get("provenance") or {}),
    )


def _read_record(path: Path) -> dict[str, Any]:
    if not path.is_file():
        msg = "not found; expected an output folder written by `sda propose` (plan.gpkg and plan.json)."
        raise InputError(path, msg)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"cannot read the saved plan ({exc}); re-run `sda propose` to write it again."
        raise InputError(path, msg) from exc
    fmt = record.get("sda_plan_format") if isinstance(record, dict) else None
    if not isinstance(fmt, int) or fmt > PLAN_FORMAT or "config" not in record:
        msg = f"not a saved sda plan of format <= {PLAN_FORMAT} (found {fmt!r}); re-run `sda propose`."
        raise InputError(path, msg)
    checked: dict[str, Any] = record
    return checked


def _read_layers(path: Path) -> dict[str, Any]:
    if not path.is_file():
        msg = "not found; expected an output folder written by `sda propose` (plan.gpkg and plan.json)."
        raise InputError(path, msg)
    try:
        present = {str(name) for name, _ in pyogrio.list_layers(path)}
        missing = sorted({"units", "areas", "adjacency"} - present)
        if missing:
            msg = f"layer {missing[0]!r} is missing; re-run `sda propose` to write the GeoPackage again."
            raise InputError(path, msg)
        layers: dict[str, Any] = {
            name: pyogrio.read_dataframe(path, layer=name)
            for name in ("units", "areas") + (("practices",) if "practices" in present else ())
        }
        layers["adjacency"] = pyogrio.read_dataframe(path, layer="adjacency", read_geometry=False)
    except pyogrio.errors.DataSourceError as exc:
        msg = f"cannot open the GeoPackage ({exc})."
        raise InputError(path, msg) from exc
    return layers


def _graph_from(units: gpd.GeoDataFrame, edges: pd.DataFrame, saved: Mapping[str, Any]) -> nx.Graph:
    graph = nx.Graph(**dict(saved.get("attributes") or {}))
    graph.add_nodes_from((str(c), {"population": int(p)}) for c, p in units["population"].items())
    kinds = edges["kind"] if "kind" in edges.columns else pd.Series("touch", index=edges.index)
    graph.add_edges_from(
        (str(u), str(v), {"border_m": float(b), "kind": str(k)})
        for u, v, b, k in zip(edges["u"], edges["v"], edges["border_m"], kinds, strict=True)
    )
    return graph


_PATH_KEYS = {"path", "population_csv", "practices", "shares", "dir"}


def _config_from_dict(raw: Mapping[str, Any], where: Path) -> RunConfig:
    """Invert ``RunConfig.to_dict``; keys a later sda no longer knows are dropped, not refused."""
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
            sections[name] = cls(**kwargs)
    except (TypeError, KeyError, AttributeError) as exc:
        msg = f"the saved configuration is incomplete ({exc}); re-run `sda propose`."
        raise InputError(where, msg, field="config") from exc
    source = raw.get("source")
    return RunConfig(**sections, source=Path(source) if source else None, sha256=str(raw.get("sha256") or ""))


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


# --------------------------------------------------------------------------- frames and styles


def _units_frame(plan: Plan) -> gpd.GeoDataFrame:
    """Build the unit layer: ``UNIT_FIELDS`` (missing text fields blank) in EPSG:27700."""
    frame = _in_bng(plan.units).rename_axis("unit_code").reset_index()
    frame["unit_code"] = frame["unit_code"].astype(str)
    for name in UNIT_FIELDS:
        if name not in frame.columns:
            frame[name] = ""
        elif name in {"unit_name", "district", "district_name", "pcn_code"}:
            frame[name] = frame[name].map(show_text).astype(str)
    return gpd.GeoDataFrame(frame[[*UNIT_FIELDS, "geometry"]], geometry="geometry", crs=_BNG)


def _areas_frame(plan: Plan) -> gpd.GeoDataFrame:
    """Build the area layer: every column of ``plan.areas`` (blank text for missing), in EPSG:27700."""
    areas = plan.areas
    if "geometry" not in areas.columns or areas.geometry.isna().any():
        shapes = plan.units[["area_id", "geometry"]].dissolve(by="area_id")
        areas = gpd.GeoDataFrame(areas.drop(columns=["geometry"], errors="ignore").join(shapes), crs=plan.units.crs)
    frame = _in_bng(areas).rename_axis("area_id").reset_index()
    for name in frame.columns:
        if name != "geometry" and frame[name].dtype == object:
            frame[name] = frame[name].map(show_text).astype(str)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=_BNG)


def _in_bng(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to EPSG:27700; a frame without a CRS is taken to be in it, as ``Plan`` promises."""
    if frame.crs is None:
        return frame.set_crs(_BNG)
    return frame if frame.crs == _BNG else frame.to_crs(_BNG)


def _adjacency_frame(plan: Plan, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Graph edges as lines between representative points, with ``cut`` = 1 across areas."""
    edges = graph_edges_frame(units.set_index("unit_code"), plan.graph)
    area = dict(zip(units["unit_code"], units["area_id"], strict=True))
    edges["cut"] = [int(area.get(u) != area.get(v)) for u, v in zip(edges["u"], edges["v"], strict=True)]
    return edges[["u", "v", "border_m", "cut", "kind", "geometry"]]


def _styles(plan: Plan, areas: gpd.GeoDataFrame) -> dict[str, str]:
    ids = list(areas["area_id"])
    return {
        "units": units_qml(),
        "areas": areas_qml(ids, area_colours(ids, area_neighbours(plan))),
        "adjacency": adjacency_qml(),
        "practices": practices_qml(),
    }


def _write_geopackage(
    plan: Plan, units: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, qml: Mapping[str, str], path: Path
) -> Path:
    """One GeoPackage in EPSG:27700 with the plan's layers and their default QGIS styles."""
    stamped = areas.assign(**{k: show_text(plan.provenance.get(k)) for k in PROVENANCE_FIELDS})
    layers: dict[str, tuple[gpd.GeoDataFrame, str]] = {
        "units": (units, "MultiPolygon"),
        "areas": (stamped, "MultiPolygon"),
        "adjacency": (_adjacency_frame(plan, units), "LineString"),
    }
    if plan.practices is not None and len(plan.practices):
        layers["practices"] = (_in_bng(plan.practices), "Point")
    with _replacing(path) as tmp:
        for name, (frame, geometry_type) in layers.items():
            pyogrio.write_dataframe(
                frame,
                tmp,
                layer=name,
                driver="GPKG",
                geometry_type=geometry_type,
                promote_to_multi=geometry_type == "MultiPolygon",
            )
        styles = _layer_styles(tmp, {name: qml[name] for name in layers}, plan.provenance)
        # QGIS creates this table with its primary key named "id"; match it exactly.
        pyogrio.write_dataframe(styles, tmp, layer="layer_styles", driver="GPKG", layer_options={"FID": "id"})
    return path


def _layer_styles(path: Path, qml: Mapping[str, str], provenance: Mapping[str, Any]) -> pd.DataFrame:
    """Rows of the ``layer_styles`` table QGIS reads a GeoPackage layer's default style from.

    QGIS matches a row to a layer on ``f_table_schema = ''``, ``f_table_name`` and
    ``f_geometry_column`` and prefers rows with ``useAsDefault`` (see ``QgsOgrProviderMetadata``
    ``loadStyle``/``saveStyle``), so the geometry column is read back from the file rather than
    assumed.
    """
    stamp = pd.Timestamp(datetime.now(UTC))
    rows = []
    for name, text in qml.items():
        rows.append(
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": name,
                "f_geometry_column": pyogrio.read_info(path, layer=name)["geometry_name"],
                "styleName": name,
                "styleQML": text,
                "styleSLD": "",
                "useAsDefault": True,
                "description": f"sda {provenance.get('sda_version', '')} default style",
                "owner": "",
                "ui": "",
                "update_time": stamp,
            }
        )
    return pd.DataFrame(rows)


def _write_assignment(plan: Plan, path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["unit_code", "area_id"])
    pairs = sorted((str(code), area) for code, area in plan.assignment.items())
    writer.writerows(pairs)
    return _write_text(path, buffer.getvalue())


# --------------------------------------------------------------------------- plan.json


def _plan_record(plan: Plan) -> dict[str, Any]:
    """Everything in the plan that is not geometry, JSON-ready."""
    areas = pd.DataFrame(plan.areas.drop(columns=["geometry"], errors="ignore")).rename_axis("area_id").reset_index()
    graph_attributes = dict(plan.graph.graph)
    record: dict[str, Any] = _jsonable(
        {
            "sda_plan_format": PLAN_FORMAT,
            "target_population": plan.target_population,
            "scores": plan.scores,
            "rules": [dataclasses.asdict(r) for r in plan.rules],
            "areas": areas.to_dict("records"),
            "config": plan.config.to_dict(),
            "bound": plan.bound,
            "alternatives": plan.alternatives,
            "ensemble": plan.ensemble,
            "warnings": plan.warnings,
            "provenance": plan.provenance,
            "graph": {
                "attributes": graph_attributes,
                "n_nodes": plan.graph.number_of_nodes(),
                "n_edges": plan.graph.number_of_edges(),
            },
        }
    )
    return record


def _complete_provenance(plan: Plan) -> dict[str, Any]:
    """``plan.provenance`` with ``sda_version``, ``config_sha256`` and ``run_at`` always present.

    A config built in code has no file to hash, so its settings (``to_dict``) are hashed instead.
    """
    provenance = dict(plan.provenance)
    provenance.setdefault("sda_version", _sda_version())
    settings_hash = hashlib.sha256(json.dumps(plan.config.to_dict(), sort_keys=True, default=str).encode()).hexdigest()
    provenance.setdefault("config_sha256", plan.config.sha256 or settings_hash)
    provenance.setdefault("run_at", datetime.now(UTC).isoformat(timespec="seconds"))
    return provenance


def _sda_version() -> str:
    try:
        return metadata.version("sda")
    except metadata.PackageNotFoundError:  # running from a source checkout
        import sda

        return str(getattr(sda, "__version__", "unknown"))


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars unwrapped, NaN/inf -> None, frames as columns + records."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return {"columns": [str(c) for c in value.columns], "records": _jsonable(value.to_dict("records"))}
    if isinstance(value, set | frozenset):
        return [_jsonable(v) for v in sorted(value, key=str)]
    if isinstance(value, list | tuple | np.ndarray | pd.Series | pd.Index):
        return [_jsonable(v) for v in list(value)]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return value.as_posix()
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if value is None or isinstance(value, str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- atomic files


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; move it over ``path`` only on success.

    The temporary file keeps the target's suffix (GDAL picks drivers and options by it) and sits
    in the same folder, because ``os.replace`` is only atomic within one file system. Whatever
    happens, the temporary file and any SQLite journals next to it are removed.
    """
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}")
    try:
        yield tmp
        with tmp.open("rb+") as handle:  # flush to disk before the rename makes it visible
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-journal", "-wal", "-shm"))):
            leftover.unlink(missing_ok=True)


def _write_bytes(path: Path, data: bytes) -> Path:
    with _replacing(path) as tmp:
        tmp.write_bytes(data)
    return path


def _write_text(path: Path, text: str) -> Path:
    return _write_bytes(path, text.encode("utf-8"))


# --------------------------------------------------------------------------- small helpers


def _band(plan: Plan) -> tuple[int, int]:
    return int(plan.config.areas.min_population), int(plan.config.areas.max_population)
