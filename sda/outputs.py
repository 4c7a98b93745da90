"""Writers: everything a Plan turns into on disk, and reading a saved plan back.

This module owns the output folder. ``write_outputs`` writes the layers officers open in QGIS
and the tables (``sda.layers``: GeoJSON in WGS84 per RFC 7946, one GeoPackage in British
National Grid with default styles embedded, the assignment and area CSVs), a JSON dump of
everything in the plan that is not geometry, the report, the print maps and a machine-readable
summary. ``read_plan`` rebuilds the Plan from ``plan.gpkg`` and
``plan.json``, so ``sda report DIR`` can re-render a report without re-running the engine.

The folder is replaced as a whole (``sda.folder``): the complete set is written into a hidden
sibling folder and swapped in, so a crash leaves exactly the previous run or exactly the new one.
Every file that can hold it records the run id (``plan.json``/``summary.json`` provenance, the
GeoJSON and GeoPackage layer descriptions and the ``areas`` layer's ``run_id`` field, a comment
in the QML and Markdown, a ``<meta>`` in the HTML, a text chunk in the PNGs), and ``plan.json``
records a fingerprint of the assignment, so ``read_plan`` refuses a folder that mixes runs or
whose assignment was edited after the run. Cells of the CSV that a spreadsheet would run as a
formula are neutralised (``neutral_cell``). Timings appear only in ``plan.json`` and
``summary.json``; with ``SOURCE_DATE_EPOCH`` set, the same run gives the same bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import pandas as pd
import pyogrio
import pyogrio.errors

from sda import __version__
from sda.area_table import district_outlines
from sda.config import restore_config
from sda.engine.parallel import started_tasks
from sda.errors import MAX_LISTED, InputError, OutputError
from sda.folder import (
    OUTPUT_NAMES,
    input_paths,
    is_reproducible,
    new_run_id,
    refuse_overwriting_inputs,
    replace_folder,
    run_timestamp,
    write_bytes,
    write_text,
)
from sda.layers import PROVENANCE_FIELDS, run_label, write_layers
from sda.maps import (
    PRINT_PAPERS,
    drawable_figures,
    render_figures,
    render_plan_figures,
    render_print_maps,
    render_sheet,
)
from sda.plan import Plan, Provenance, RuleResult
from sda.planfile import areas_layer_changes, plan_text, quick_pairs, run_folder
from sda.report import render_report_html, render_report_md
from sda.report.sections import build_blocks
from sda.summary import jsonable, summary_dict

__all__ = [
    "PLAN_FORMAT",
    "DrawnMaps",
    "draw_maps",
    "read_plan",
    "refuse_another_runs_files",
    "write_outputs",
    "write_report",
]

#: Version of the ``plan.json`` layout; ``read_plan`` refuses newer ones.
PLAN_FORMAT = 1


#: Files the report writes (``sda report DIR`` replaces only these).
REPORT_NAMES = frozenset({"report.md", "report.html", "map.png", "frontier.png", "ensemble.png"})

_FIGURE_FILES = {"map": "map.png", "frontier": "frontier.png", "ensemble": "ensemble.png", "changes": "changes.png"}


# --------------------------------------------------------------------------- public writers


def write_outputs(
    plan: Plan,
    out_dir: Path,
    *,
    drawn: DrawnMaps | None = None,
    also: tuple[str, Callable[[Path], list[Path]]] | None = None,
) -> list[Path]:
    """Write every output file of a plan, swapping the complete set in as a whole.

    Parameters
    ----------
    plan
        The plan to write.
    out_dir
        Output folder; created if missing. The files sda writes are replaced together; other
        files in it are kept. An output folder that is, or holds, an input is refused.
    drawn
        The plan's maps drawn ahead (``draw_maps``, e.g. while the trade-offs ran); used only if
        drawn from this plan, else the maps are drawn here.
    also
        A subfolder's name and what writes it (given the subfolder), swapped in with the rest,
        e.g. ``sda repair``'s ``changes``; an older copy of it is replaced, not carried over.

    Returns
    -------
    list of Path
        The files written, in order: ``units.geojson``, ``units.qml``, ``areas.geojson``,
        ``areas.qml``, ``assignment.csv``, ``plan.gpkg`` (layers ``units``, ``areas``,
        ``adjacency``, ``practices`` when there are practices, and ``layer_styles``),
        ``plan.json``, the figures (``map.png``, plus ``frontier.png`` and ``ensemble.png`` when
        there is something to draw), ``report.md``, ``report.html``, the print maps
        (``map_a4.png``, ``map_a4.pdf``, ``map_a3.png``, ``map_a3.pdf``) and ``summary.json``.

    Raises
    ------
    OutputError
        The folder would replace an input, another run is writing to it, or it is not writable.
    """
    out_dir = Path(out_dir)
    refuse_overwriting_inputs([out_dir], input_paths(plan.config))
    # A copy with complete provenance, so every file carries the same version, hash, time and run id.
    plan = dataclasses.replace(plan, provenance=_complete_provenance(plan))
    if is_reproducible():  # SOURCE_DATE_EPOCH: identical runs must give identical bytes
        plan = _without_timings(plan)
    ahead = drawn if drawn is not None and drawn.drawn_from.matches(plan) else None
    if also is None:
        return replace_folder(out_dir, lambda folder: _write_set(plan, folder, ahead))
    name, write_also = also

    def write(folder: Path) -> list[Path]:
        return [*_write_set(plan, folder, ahead), *write_also(folder / name)]

    return replace_folder(out_dir, write, replaces=OUTPUT_NAMES | {name})


def refuse_another_runs_files(out_dir: Path, command: str, *, example: str) -> None:
    """Refuse, before the run, an output folder that holds another run's files.

    A command may replace its own earlier output, as ``sda propose`` replaces its own, but not
    a plan another command wrote (the proposed plan an officer edits, a repair), a change log
    of ``sda diff``, or sda's files with no ``plan.json`` to say which run wrote them: the swap
    would drop that run, or leave its files beside a plan they do not describe.

    Parameters
    ----------
    out_dir
        The output folder asked for (missing, or holding none of sda's files: nothing to refuse).
    command
        The command about to write, as ``plan.json`` records it: ``sda evaluate``, ``sda repair``.
    example
        A folder to suggest in the fix.

    Raises
    ------
    OutputError
        Naming the folder, what it holds and the fix (exit 1).
    """
    from sda.diff import DIFF_NAMES  # only here: the change log's names

    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return
    found = sorted(p.name for p in out_dir.iterdir() if p.name in OUTPUT_NAMES | DIFF_NAMES)
    made_by = _made_by(out_dir)
    if not found or made_by == command:
        return
    if made_by is not None:
        what = f"a plan written by {made_by}"
    elif set(found) <= DIFF_NAMES and "changes.txt" in found:  # a log has its changes.txt
        what = "a change log written by sda diff"
    else:  # e.g. an officer's own areas.csv: named as sda names its files, but maybe not sda's
        what = "files with the names sda writes, and no plan.json that says which run wrote them"
    shown = ", ".join(found[:6]) + (", ..." if len(found) > 6 else "")
    msg = (
        f"--out {os.path.normpath(out_dir)} holds {what} ({shown}); {command} would replace it. "
        f"Fix: write to a folder of its own, e.g. --out {example} (or move that folder away first)."
    )
    raise OutputError(msg)


def _made_by(folder: Path) -> str | None:
    """The command that wrote the plan in an output folder (``plan.json``'s ``made_by`` starts
    with it; a proposed plan records none), or None when the folder holds no plan sda can read."""
    if run_folder(folder) is None:
        return None
    try:
        record = _read_record(folder / "plan.json")
    except InputError:
        return None
    made_by = str((record.get("provenance") or {}).get("made_by") or "")
    return " ".join(made_by.split()[:2]) if made_by.startswith("sda ") else "sda propose"


@dataclasses.dataclass(frozen=True)
class _DrawnFrom:
    """What the maps show of a plan: its units, areas, graph and config (the objects, which
    nothing changes once the plan is built), its coterminosity, and the run's config file, seed,
    date, version and data files."""

    objects: tuple[Any, ...]
    values: tuple[Any, ...]

    @classmethod
    def of(cls, plan: Plan) -> _DrawnFrom:
        p = plan.provenance
        shown = tuple(str(p.get(key)) for key in ("config_file", "seed", "run_at", "sda_version", "data_files"))
        return cls((plan.units, plan.areas, plan.graph, plan.config), (plan.scores.get("coterminosity"), *shown))

    def matches(self, plan: Plan) -> bool:
        other = _DrawnFrom.of(plan)
        return all(a is b for a, b in zip(self.objects, other.objects, strict=True)) and self.values == other.values


@dataclasses.dataclass(frozen=True)
class DrawnMaps:
    """A plan's pictures drawn ahead of ``write_outputs`` by ``draw_maps``, with what they were
    drawn from: the print sheets' files (``map_a4.png`` ...) and the report's figures of the plan
    itself (``sda.maps.render_plan_figures``: the map, the locators, a re-run's changes)."""

    drawn_from: _DrawnFrom
    files: Mapping[str, bytes]
    figures: Mapping[str, bytes | None]


def draw_maps(plan: Plan) -> DrawnMaps:
    """Draw the plan's maps now (about 4 s on the shipped data: the better part of writing), so
    that ``write_outputs`` need not. They need the plan's areas, not its alternatives, ensemble
    or bound: ``sda propose`` draws them while the trade-offs run on the workers."""
    return DrawnMaps(_DrawnFrom.of(plan), render_print_maps(plan), render_plan_figures(_without_timings(plan)))


def _write_set(plan: Plan, out_dir: Path, ahead: DrawnMaps | None) -> list[Path]:
    run = run_label(plan)
    jobs = plan.config.search.jobs
    # The print sheets take the longest: drawn ahead (``draw_maps``), else on the workers
    # ([search] jobs; A3, the slower, first) while this process writes the rest; with one job,
    # here, once the rest is written. The layers are written on a worker too (``sda.layers``
    # imports no plotting library, so it starts at once) while this process writes the report.
    # The district outlines are dissolved once, here or for the maps drawn ahead, and handed over.
    districts = district_outlines(plan.units)
    papers = [(plan, paper, districts) for paper in reversed(PRINT_PAPERS)] if ahead is None else []
    with (
        started_tasks(render_sheet, papers, jobs) as sheets,
        started_tasks(write_layers, [(plan, out_dir, run, districts)], jobs) as layers,
    ):
        record = write_text(out_dir / "plan.json", _dumps(_plan_record(plan)))
        report = _write_report_files(plan, out_dir, None if ahead is None else ahead.figures)
        written = [*next(layers), record, *report]
        drawn = ahead.files if ahead is not None else {name: data for files in sheets for name, data in files.items()}
    for paper in PRINT_PAPERS:  # map_a4/a3 .png/.pdf
        for name in (f"map_{paper}.png", f"map_{paper}.pdf"):
            data = drawn[name]
            written.append(write_bytes(out_dir / name, _stamp_png(data, run) if name.endswith(".png") else data))
    written.append(write_text(out_dir / "summary.json", _dumps(summary_dict(plan))))
    return written


def write_report(plan: Plan, out_dir: Path) -> list[Path]:
    """Draw the figures and write ``report.md`` and ``report.html`` (used by ``sda report DIR``).

    The report files of the folder are replaced together (the rest is kept as it is). The PNGs
    are saved next to ``report.md``, which links them; ``report.html`` embeds them and stands
    alone. A figure with nothing to draw (no alternatives, no ensemble) is not written, and a
    stale copy from an earlier run is dropped.

    Returns
    -------
    list of Path
        The PNGs written, then ``report.md`` and ``report.html``.
    """
    out_dir = Path(out_dir)
    refuse_overwriting_inputs([out_dir], input_paths(plan.config))
    return replace_folder(out_dir, lambda folder: _write_report_files(plan, folder), replaces=REPORT_NAMES)


def _write_report_files(plan: Plan, out_dir: Path, ahead: Mapping[str, bytes | None] | None = None) -> list[Path]:
    shown = _without_timings(plan)
    run = run_label(plan)
    figures = render_figures(shown, ahead=ahead)
    written: list[Path] = []
    for key, name in _FIGURE_FILES.items():
        data = figures.get(key)
        if data:
            written.append(write_bytes(out_dir / name, _stamp_png(data, run)))
    images = {key: name for key, name in _FIGURE_FILES.items() if figures.get(key)}
    drawn = {key for key, data in figures.items() if data}
    # Both renderings read the same blocks when every figure the plan can draw was drawn.
    blocks = build_blocks(shown, available=drawn) if drawn == drawable_figures(shown) else None
    markdown = render_report_md(shown, images=images, blocks=blocks) + f"\n<!-- {run} -->\n"
    page = render_report_html(shown, figures=figures, blocks=blocks)
    page = page.replace('<meta charset="utf-8">', f'<meta charset="utf-8"><meta name="sda-run" content="{run}">', 1)
    written.append(write_text(out_dir / "report.md", markdown))
    written.append(write_text(out_dir / "report.html", page))
    return written


def _without_timings(plan: Plan) -> Plan:
    """The plan as the report shows it: no seconds (they differ between identical runs; they are
    kept in ``plan.json`` and ``summary.json``)."""

    def drop(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: drop(v) for k, v in value.items() if not str(k).startswith("seconds")}
        return value

    return dataclasses.replace(
        plan, provenance=drop(plan.provenance), bound=drop(plan.bound) if plan.bound is not None else None
    )


def _stamp_png(data: bytes, run: str) -> bytes:
    """Add a PNG ``tEXt`` chunk ``sda-run`` right after the header chunk (other bytes unchanged)."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) < 33:
        return data
    signature, header_len = data[:8], struct.unpack(">I", data[8:12])[0]
    end_of_header = 8 + 12 + header_len
    body = b"sda-run\x00" + run.encode("latin-1", "replace")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    return signature + data[8:end_of_header] + chunk + data[end_of_header:]


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
        A file is missing, unreadable, or not a plan this version of ``sda`` understands, the
        folder mixes files of different runs, or the assignment was edited after the run
        (``check_same_run``).
    """
    out_dir = Path(out_dir)
    gpkg, record_path = out_dir / "plan.gpkg", out_dir / "plan.json"
    record = _read_record(record_path)
    layers = _read_layers(gpkg)
    check_same_run(out_dir, record, layers)
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
        config=restore_config(record["config"], record_path),
        practices=layers.get("practices"),
        target_population=float(record.get("target_population") or 0.0),
        bound=record.get("bound"),
        alternatives=list(record.get("alternatives") or []),
        ensemble=None if ensemble is None else pd.DataFrame(ensemble["records"], columns=ensemble["columns"]),
        warnings=[str(w) for w in record.get("warnings", [])],
        provenance=record.get("provenance") or Provenance(),
    )


def check_same_run(out_dir: Path, record: Mapping[str, Any], layers: Mapping[str, Any]) -> None:
    """Refuse a folder whose files come from different runs, or whose assignment was edited.

    ``plan.json`` names the run (``provenance.run_id``) and fingerprints its assignment
    (``provenance.assignment_sha256``, with the assignment itself). Every other data file that
    records a run id must record the same one, and the assignment in the GeoPackage ``units``
    layer, ``units.geojson`` and ``assignment.csv`` must be the one of the run. Report files
    are not checked: ``sda report`` writes them anew. Folders written before run ids existed
    are not checked.

    Raises
    ------
    InputError
        Naming the files from another run, or the units whose area changed (code, from, to),
        with the fix: re-run ``sda propose``, or ``sda evaluate`` for an edited plan.
    """
    provenance = record.get("provenance") or {}
    run_id, fingerprint = provenance.get("run_id"), provenance.get("assignment_sha256")
    if not run_id:
        return
    others: list[str] = []
    for name, layer in (("plan.gpkg", "units"), ("plan.gpkg", "areas")):
        found = _layer_run(out_dir / name, layer)
        if found is not None and found != run_id:
            others.append(f"{name} (layer {layer!r}: run {found})")
    for name in ("units.geojson", "areas.geojson"):
        found = _layer_run(out_dir / name, None)
        if found is not None and found != run_id:
            others.append(f"{name} (run {found})")
    summary = _json_run(out_dir / "summary.json")
    if summary is not None and summary != run_id:
        others.append(f"summary.json (run {summary})")
    if others:
        msg = (
            f"this folder mixes files of different runs: plan.json is run {run_id}, but "
            + ", ".join(others)
            + " come from another run. Fix: re-run `sda propose` into this folder (or a new one)."
        )
        raise InputError(out_dir, msg)
    saved = {str(k): str(v) for k, v in (record.get("assignment") or {}).items()}
    _check_areas_layer(out_dir / "plan.gpkg", layers["areas"], set(saved.values()))
    _check_populations(out_dir / "plan.gpkg", layers["units"], record)
    copies = {"plan.gpkg, layer 'units'": _pairs_of(layers["units"])}
    for name in ("units.geojson", "assignment.csv"):
        if (out_dir / name).is_file():
            read = quick_pairs(out_dir / name)
            copies[name] = None if read is None else {code: area for code, (area, _) in read.items()}
    for name, pairs in copies.items():
        if pairs is None or assignment_fingerprint(pairs.items()) == fingerprint:
            continue
        changed = [
            f"{code}: {saved.get(code, '(none)')} -> {pairs.get(code, '(none)')}"
            for code in sorted(set(saved) | set(pairs))
            if saved.get(code) != pairs.get(code)
        ]
        shown = "; ".join(changed[:MAX_LISTED]) + (
            f"; ... and {len(changed) - MAX_LISTED} more" if len(changed) > MAX_LISTED else ""
        )
        what = f"{len(changed)} unit(s) changed area (code: from -> to): {shown}" if changed else "its contents changed"
        msg = (
            f"edited after the run: {what}; a report from plan.json would contradict it. "
            "Fix: to report on the edited plan, run `sda evaluate --config CONFIG PLAN --out DIR` "
            "(CONFIG: the run's config; PLAN: the edited file; DIR: a new folder); to go back to the "
            "run's plan, re-run `sda propose`."
        )
        raise InputError(out_dir / name, msg)


def _check_populations(gpkg: Path, units: pd.DataFrame, record: Mapping[str, Any]) -> None:
    """Refuse a ``units`` layer whose residents were edited after the run: the report would add
    up the edited figures beside the run's own."""
    areas = record.get("areas")
    if not isinstance(areas, list) or not {"area_id", "population"} <= set(units.columns):
        return
    recorded = {str(a["area_id"]): int(a["population"]) for a in areas if isinstance(a, Mapping) and "population" in a}
    held = pd.to_numeric(units["population"], errors="coerce").groupby(units["area_id"].astype(str)).sum()
    differ = [f"{a}: {n:,} -> {held.get(a, 0):,.0f}" for a, n in sorted(recorded.items()) if held.get(a, 0) != n]
    if differ:
        msg = (
            "edited after the run: residents of the units changed "
            f"(area: run -> now: {'; '.join(differ[:MAX_LISTED])}); "
            "a report from plan.json would contradict it. Populations come from the config's data: change them "
            "there and re-run `sda propose`."
        )
        raise InputError(gpkg, msg, field="population")


def _check_areas_layer(gpkg: Path, areas: pd.DataFrame, run_ids: set[str]) -> None:
    """Refuse an ``areas`` layer edited after the run (areas merged, split or deleted in QGIS):
    the report would draw it, while every figure comes from the units."""
    if not run_ids or "area_id" not in areas.columns:
        return
    if found := areas_layer_changes(areas["area_id"], run_ids):
        msg = (
            f"layer 'areas' was edited after the run ({found}). sda takes a plan from the units layer: to merge or "
            "move areas, change area_id of their units in layer 'units', then run `sda evaluate --config CONFIG "
            "PLAN --out DIR` to check and report the edited plan."
        )
        raise InputError(gpkg, msg)


def _layer_run(path: Path, layer: str | None) -> str | None:
    """The run id in a layer's description (``sda run <id>``), or None when it records none."""
    if not path.is_file():
        return None
    try:
        meta = pyogrio.read_info(path, layer=layer).get("layer_metadata") or {}
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError):
        return None
    text = str(meta.get("DESCRIPTION") or "")
    return text.removeprefix("sda run ").strip() if text.startswith("sda run ") else None


def _json_run(path: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    found = (data.get("provenance") or {}).get("run_id") if isinstance(data, dict) else None
    return str(found) if found else None


def _pairs_of(units: pd.DataFrame) -> dict[str, str] | None:
    """``unit_code -> area_id`` of the ``units`` layer as ``_read_layers`` gives it (the text
    ``quick_pairs`` reads the other copies as)."""
    if not {"unit_code", "area_id"} <= set(units.columns):
        return None
    return dict(zip(units["unit_code"], units["area_id"], strict=True))


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
    # Codes and areas as every reader of a plan takes them (``plan_text``): an id typed again in
    # QGIS with a space is the same area to `sda evaluate`, to the checks and to the report.
    units = layers["units"]
    layers["units"] = units.assign(**{c: units[c].map(plan_text) for c in ("unit_code", "area_id") if c in units})
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


# --------------------------------------------------------------------------- frames and styles


# --------------------------------------------------------------------------- plan.json


def _plan_record(plan: Plan) -> dict[str, Any]:
    """Everything in the plan that is not geometry, JSON-ready."""
    areas = pd.DataFrame(plan.areas.drop(columns=["geometry"], errors="ignore")).rename_axis("area_id").reset_index()
    graph_attributes = dict(plan.graph.graph)
    record: dict[str, Any] = jsonable(
        {
            "sda_plan_format": PLAN_FORMAT,
            "target_population": plan.target_population,
            "assignment": {
                str(code): str(area) for code, area in sorted(plan.assignment.items(), key=lambda pair: str(pair[0]))
            },
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


def _complete_provenance(plan: Plan) -> Provenance:
    """``plan.provenance`` with ``sda_version``, ``config_sha256`` and ``run_at`` always present.

    A config built in code has no file to hash, so its settings (``to_dict``) are hashed instead.
    """
    provenance = plan.provenance.copy()
    provenance.setdefault("sda_version", _sda_version())
    settings_hash = hashlib.sha256(json.dumps(plan.config.to_dict(), sort_keys=True, default=str).encode()).hexdigest()
    provenance.setdefault("config_sha256", plan.config.sha256 or settings_hash)
    provenance.setdefault("run_at", run_timestamp().isoformat(timespec="seconds"))
    provenance["assignment_sha256"] = assignment_fingerprint(plan.assignment.items())
    provenance.setdefault(
        "run_id",
        new_run_id(
            provenance["config_sha256"],
            provenance.get("data_files"),
            provenance["assignment_sha256"],
            clock_free=plan.config.search.steps > 0,
        ),
    )
    return provenance


def assignment_fingerprint(pairs: Iterable[tuple[object, object]]) -> str:
    """SHA-256 of the sorted ``unit_code,area_id`` lines: the same for the same assignment,
    whichever file (GeoPackage, GeoJSON, CSV) it is read from."""
    lines = sorted(f"{code}\t{area}" for code, area in pairs)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def _sda_version() -> str:
    """The running code's version (``sda.__version__``, the single source; installed metadata can be stale)."""
    return __version__


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- atomic files
