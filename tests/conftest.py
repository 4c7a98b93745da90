"""Shared fixtures: where the repository is, and tiny grids of square units whose answers are obvious."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

#: Lower-left corner of test grids: a real British National Grid spot (Cambridge), so that
#: checks on the GB extent pass.
GRID_ORIGIN = (545_000.0, 258_000.0)

GridFactory = Callable[..., gpd.GeoDataFrame]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the folder holding ``pyproject.toml``)."""
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``tests/data``: one small broken (or fixture) file per failure mode."""
    return Path(__file__).resolve().parent / "data"


def grid_units(
    rows: int,
    cols: int,
    *,
    side_m: float = 1000.0,
    population: int | Sequence[int] = 1000,
    skip: Sequence[tuple[int, int]] = (),
) -> gpd.GeoDataFrame:
    """A standard units frame of ``rows`` x ``cols`` square cells in EPSG:27700.

    Cells are coded ``R{row}C{col}`` (row 0 at the bottom), in row-major order, with
    ``population`` per cell (one number, or one per cell), district ``D1``. Cells in ``skip``
    are left out (to make holes).
    """
    x0, y0 = GRID_ORIGIN
    cells = [(r, c) for r in range(rows) for c in range(cols) if (r, c) not in set(skip)]
    pops = [population] * len(cells) if isinstance(population, int) else list(population)
    geoms = [
        shapely.box(x0 + c * side_m, y0 + r * side_m, x0 + (c + 1) * side_m, y0 + (r + 1) * side_m) for r, c in cells
    ]
    codes = [f"R{r}C{c}" for r, c in cells]
    frame = gpd.GeoDataFrame(
        {
            "unit_name": codes,
            "population": pops,
            "district": "D1",
            "district_name": "District One",
        },
        geometry=geoms,
        crs="EPSG:27700",
        index=codes,
    )
    frame.index.name = "unit_code"
    frame["population"] = frame["population"].astype("int64")
    return frame


@pytest.fixture
def make_grid() -> GridFactory:
    """The ``grid_units`` builder, as a fixture: ``make_grid(3, 3, side_m=100)``."""
    return grid_units


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> tuple[Any, Path]:
    """One quick real run on the shipped data, shared by the evaluate and repair tests (read only:
    tests that edit it work on a copy)."""
    from editing import quick_config, write_real_run

    out = tmp_path_factory.mktemp("real") / "run"
    cfg = quick_config(repo_root, out)
    return cfg, write_real_run(cfg)
