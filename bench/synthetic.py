"""SYNTHETIC benchmark instances: made-up units, populations, districts and GP practices.

Nothing here describes a real place. The generator draws random points in a 60 km x 60 km
square of British National Grid (EPSG:27700) coordinates, turns them into Voronoi polygons
clipped to the square, and gives them a heavy-tailed rural / town / city population mix:

* a few **cities**: dense Gaussian clusters of points with high, lognormal populations;
* more **towns**: smaller, tighter clusters with middling populations;
* **rural** points spread uniformly, with small populations but a wide spread.

Populations are rescaled so that the total is about ``1,750 x n_units`` (a typical LSOA size,
so the number of 30k-50k areas grows with ``n_units``), and no unit exceeds ``MAX_UNIT_POP``.
Districts (nesting tests) come from k-means of the points. Synthetic GP practices are placed
population-weighted and grouped into PCNs of about 40,000 residents each by weighted k-means.

The same ``seed`` and ``n_units`` always give the same files (one ``numpy.random.Generator``,
deterministic k-means). Run ``python bench/synthetic.py 1000 out/syn1k`` to write one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from instances import sda_config_text
from scipy.spatial import cKDTree
from sklearn.cluster import KMeans

CRS = "EPSG:27700"
ORIGIN_M = (500_000.0, 240_000.0)  # south-west corner of the square
SIDE_M = 60_000.0
MEAN_UNIT_POP = 1_750
MAX_UNIT_POP = 20_000
RESIDENTS_PER_PCN = 40_000
PRACTICES_PER_PCN = 4
N_DISTRICTS = 5
#: The tight-count instance's mean area: this share above the band's floor (about 300 residents
#: of slack per area at a 30,000 floor, the kind of count where every area sits near the floor).
TIGHT_SLACK = 0.01
FIELDS = {"code": "code", "name": "name", "population": "population", "district": "district"}
LABEL = "SYNTHETIC benchmark instance - not real data"

# (share of points, number of clusters, cluster sd in m, lognormal median pop, lognormal sigma)
_CITY = (0.30, 3, 3_000.0, 2_600.0, 0.6)
_TOWN = (0.25, 12, 900.0, 1_700.0, 0.7)
_RURAL_SIGMA = 0.9
_RURAL_MEDIAN = 700.0


def _in_square(xy: np.ndarray) -> np.ndarray:
    x0, y0 = ORIGIN_M
    return (xy[:, 0] > x0) & (xy[:, 0] < x0 + SIDE_M) & (xy[:, 1] > y0) & (xy[:, 1] < y0 + SIDE_M)


def _uniform_points(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0, SIDE_M, size=(n, 2)) + np.array(ORIGIN_M)


def _cluster_points(rng: np.random.Generator, n: int, n_clusters: int, sd_m: float) -> np.ndarray:
    """Draw ``n`` points around ``n_clusters`` random centres, redrawing any outside the square."""
    centres = rng.uniform(0.15 * SIDE_M, 0.85 * SIDE_M, size=(n_clusters, 2)) + np.array(ORIGIN_M)
    which = rng.integers(0, n_clusters, size=n)
    xy = centres[which] + rng.normal(0, sd_m, size=(n, 2))
    outside = ~_in_square(xy)
    while outside.any():
        xy[outside] = centres[which[outside]] + rng.normal(0, sd_m, size=(int(outside.sum()), 2))
        outside = ~_in_square(xy)
    return xy


def generate_points(rng: np.random.Generator, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """Return unit points ``(n, 2)`` and their settlement class (0 city, 1 town, 2 rural)."""
    n_city = round(_CITY[0] * n_units)
    n_town = round(_TOWN[0] * n_units)
    n_rural = n_units - n_city - n_town
    xy = np.vstack(
        [
            _cluster_points(rng, n_city, _CITY[1], _CITY[2]),
            _cluster_points(rng, n_town, _TOWN[1], _TOWN[2]),
            _uniform_points(rng, n_rural),
        ]
    )
    kind = np.repeat([0, 1, 2], [n_city, n_town, n_rural])
    return xy, kind


def generate_populations(rng: np.random.Generator, kind: np.ndarray, mean_pop: float = MEAN_UNIT_POP) -> np.ndarray:
    """Draw lognormal populations by settlement class, scaled to ``mean_pop`` on average."""
    median = np.array([_CITY[3], _TOWN[3], _RURAL_MEDIAN])[kind]
    sigma = np.array([_CITY[4], _TOWN[4], _RURAL_SIGMA])[kind]
    raw = median * np.exp(rng.normal(0.0, 1.0, size=kind.size) * sigma)
    scaled = raw * (mean_pop * kind.size / raw.sum())
    return np.clip(np.rint(scaled), 10, MAX_UNIT_POP).astype(np.int64)


def voronoi_cells(xy: np.ndarray) -> np.ndarray:
    """Return the Voronoi polygon of each point (same order), clipped to the square."""
    x0, y0 = ORIGIN_M
    square = shapely.box(x0, y0, x0 + SIDE_M, y0 + SIDE_M)
    cells = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=square, ordered=True)
    polys = shapely.intersection(np.asarray(shapely.get_parts(cells)), square)
    return shapely.make_valid(polys)


def generate_units(n_units: int, seed: int = 0, mean_pop: float = MEAN_UNIT_POP) -> gpd.GeoDataFrame:
    """Generate ``n_units`` synthetic units.

    Parameters
    ----------
    n_units
        Number of polygons, e.g. 1,000, 3,000 or 10,000.
    seed
        Seed of the ``numpy.random.Generator``.
    mean_pop
        Mean residents per unit (1,750 by default; about 4,750 gives a national-sized instance of
        57 million residents on 12,000 units).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code`` (``S000001``...), ``name``, ``population``, ``district`` (``D1``...),
        ``kind`` (city/town/rural) and ``geometry``, CRS EPSG:27700.
    """
    rng = np.random.default_rng(seed)
    xy, kind = generate_points(rng, n_units)
    population = generate_populations(rng, kind, mean_pop)
    district = KMeans(n_clusters=N_DISTRICTS, n_init=4, random_state=seed).fit_predict(xy)
    codes = [f"S{i + 1:06d}" for i in range(n_units)]
    return gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [f"Synthetic unit {c}" for c in codes],
            "population": population,
            "district": [f"D{d + 1}" for d in district],
            "kind": np.array(["city", "town", "rural"])[kind],
        },
        geometry=voronoi_cells(xy),
        crs=CRS,
    )


def generate_practices(units: gpd.GeoDataFrame, seed: int = 0) -> pd.DataFrame:
    """Place synthetic GP practices population-weighted and group them into PCNs.

    About one PCN per ``RESIDENTS_PER_PCN`` residents and ``PRACTICES_PER_PCN`` practices per
    PCN. Each practice sits near a unit drawn with probability proportional to population;
    practices are grouped into PCNs by k-means on their position weighted by the residents
    nearest to them, so PCNs are compact but unequal in size, as real ones are.

    Returns
    -------
    pandas.DataFrame
        Columns as in the real practices file: ``practice_code``, ``practice_name``,
        ``pcn_code``, ``pcn_name``, ``easting``, ``northing``.
    """
    rng = np.random.default_rng(seed + 1)
    total = int(units["population"].sum())
    n_pcn = max(1, round(total / RESIDENTS_PER_PCN))
    n_practices = n_pcn * PRACTICES_PER_PCN
    centroids = units.geometry.centroid
    uxy = np.column_stack([centroids.x, centroids.y])
    weights = units["population"].to_numpy(float)
    picks = rng.choice(len(units), size=n_practices, replace=False, p=weights / weights.sum())
    pxy = uxy[picks] + rng.normal(0, 150.0, size=(n_practices, 2))
    list_size = _nearest_counts(uxy, pxy, weights)
    km = KMeans(n_clusters=n_pcn, n_init=4, random_state=seed)
    pcn = km.fit_predict(pxy, sample_weight=list_size + 1.0)
    return pd.DataFrame(
        {
            "practice_code": [f"SP{i + 1:05d}" for i in range(n_practices)],
            "practice_name": [f"SYNTHETIC PRACTICE {i + 1}" for i in range(n_practices)],
            "pcn_code": [f"SPCN{p + 1:04d}" for p in pcn],
            "pcn_name": [f"SYNTHETIC PCN {p + 1}" for p in pcn],
            "easting": np.rint(pxy[:, 0]).astype(int),
            "northing": np.rint(pxy[:, 1]).astype(int),
        }
    )


def _nearest_counts(uxy: np.ndarray, pxy: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return, per practice, the population of the units whose nearest practice it is."""
    _, idx = cKDTree(pxy).query(uxy)
    return np.bincount(idx, weights=weights, minlength=len(pxy))


def tight_mean_pop(
    n_units: int, count: int, band: tuple[int, int] = (30_000, 50_000), slack: float = TIGHT_SLACK
) -> float:
    """Mean residents per unit that puts the mean of ``count`` areas ``slack`` above the floor."""
    return count * band[0] * (1 + slack) / n_units


def n_areas_for(total_population: int, band: tuple[int, int] = (30_000, 50_000)) -> int:
    """Return the number of areas peers are asked for: total / middle of the band, rounded."""
    return max(1, round(total_population / ((band[0] + band[1]) / 2)))


def write_synthetic(
    folder: Path,
    n_units: int,
    seed: int = 0,
    band: tuple[int, int] = (30_000, 50_000),
    time_limit_s: float = 20.0,
    mean_pop: float = MEAN_UNIT_POP,
    count: int | str | None = None,
) -> dict[str, object]:
    """Write ``units.geojson``, ``practices.csv``, ``sda.toml`` and ``README.txt`` to ``folder``.

    Returns
    -------
    dict
        ``n_units``, ``total_population``, ``n_areas`` (peers' target count), ``n_pcns``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    units = generate_units(n_units, seed, mean_pop)
    practices = generate_practices(units, seed)
    units.to_file(folder / "units.geojson", driver="GeoJSON")
    practices.to_csv(folder / "practices.csv", index=False)
    total = int(units["population"].sum())
    n_areas = n_areas_for(total, band)
    asked = n_areas if count is None else (count if count == "auto" else int(count))
    config = sda_config_text("units.geojson", FIELDS, "practices.csv", asked, band, time_limit_s)
    (folder / "sda.toml").write_text(f"# {LABEL}\n{config}")
    (folder / "README.txt").write_text(
        f"{LABEL}.\nGenerated by bench/synthetic.py: n_units={n_units}, seed={seed}, mean_pop={mean_pop:g}, "
        f"total population {total:,}, {practices['pcn_code'].nunique()} synthetic PCNs.\n"
    )
    return {
        "n_units": n_units,
        "total_population": total,
        "n_areas": n_areas,
        "n_pcns": int(practices["pcn_code"].nunique()),
    }


def main() -> None:
    """Command line: ``python bench/synthetic.py N FOLDER [--seed S]``."""
    parser = argparse.ArgumentParser(description=f"Write a {LABEL}.")
    parser.add_argument("n_units", type=int)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mean-pop", type=float, default=MEAN_UNIT_POP, help="mean residents per unit")
    parser.add_argument("--count", default=None, help="count written to sda.toml (default: total / band middle)")
    args = parser.parse_args()
    print(write_synthetic(args.folder, args.n_units, args.seed, mean_pop=args.mean_pop, count=args.count))


if __name__ == "__main__":
    main()
