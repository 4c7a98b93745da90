"""Editing a plan.gpkg as QGIS does: an UPDATE of ``area_id`` in the ``units`` table, by fid.

A GeoPackage is an SQLite file. GDAL's spatial-index triggers name the ``ST_*`` functions that
QGIS (through GDAL) registers on its connection; plain ``sqlite3`` lacks them, so stand-ins are
registered that fail if called. An attribute edit never calls them: the triggers that use them
fire only when the geometry or the fid changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path


def _never(*_args: object) -> None:
    msg = "a spatial-index trigger ran: the edit touched the geometry or the fid"
    raise AssertionError(msg)


def edit_units_in_place(gpkg: Path, area_by_fid: Mapping[int, str | None]) -> None:
    """Set ``area_id`` of the ``units`` features with these fids, in place, as QGIS saves an edit."""
    with sqlite3.connect(gpkg) as db:
        for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            db.create_function(name, 1, _never)
        for fid, area in area_by_fid.items():
            changed = db.execute("UPDATE units SET area_id = ? WHERE fid = ?", (area, int(fid))).rowcount
            assert changed == 1, f"no feature with fid {fid} in {gpkg}"
    db.close()


def fids_of(gpkg: Path) -> dict[str, int]:
    """``unit_code -> fid`` of the ``units`` layer."""
    with sqlite3.connect(gpkg) as db:
        rows = db.execute("SELECT unit_code, fid FROM units").fetchall()
    db.close()
    return {str(code): int(fid) for code, fid in rows}
