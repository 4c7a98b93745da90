"""Peer methods: spopt and GerryChain run on a benchmark ``Instance``, one function each.

Every function takes the same ``Instance`` (units in EPSG:27700 with ``code`` and
``population``, the shared queen graph, the number of areas and the band), a seed and a
``Stopwatch``, and returns ``(assignment, notes)``: a dict unit code -> area label and a dict
of facts worth recording (parameters used, chain statistics). A peer that cannot produce a
plan raises its own exception, which the runner records verbatim.

Each function runs only its library's algorithm inside ``with clock:``; turning the instance
into the library's own structures (a libpysal ``W``, a GerryChain ``Graph``) comes before. So
``solve_s`` is the time of the algorithm on prepared inputs, the same thing sda reports as
``seconds_search`` (its search on the prepared problem), and the two can be compared directly.

Choices that make the comparison fair, and their limits:

* spopt's methods cluster on attributes; they get the unit centroid coordinates in km, so
  they aim at compact areas. Only max-p can use population (as its threshold, the band's
  floor); AZP, SKATER and region k-means only get the number of areas, because they have no
  population constraint (SKATER's ``floor`` counts units, not residents).
* GerryChain aims every part at ``total / n_areas`` within a symmetric ``epsilon``; it gets
  the largest ``epsilon`` whose band fits inside ``[min, max]``. When ``total / n_areas`` is
  outside the band, no ``epsilon`` exists and the function raises.

Run as a script, this module is the worker the runner starts in a subprocess::

    python bench/peers.py METHOD INSTANCE_DIR OUT_DIR [--seed 1] [--recom-steps 1000]

It writes ``assignment.csv`` (``unit_code,area_id``) and ``result.json`` (solve time, notes
or the error) to ``OUT_DIR``, and ``solve_started.json`` when the algorithm starts, so that a run
killed at its time limit still tells how long the algorithm itself had been running.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
from instances import Instance, load_instance

Assignment = dict[str, object]
Result = tuple[Assignment, dict[str, object]]
SOLVE_MARKER = "solve_started.json"


class Stopwatch:
    """Times the part of a peer that counts as solving (see the module docstring).

    On entry it writes the wall-clock start to ``marker``: the runner reads it when it has to
    kill the run, to give a lower bound on the solve time of a peer that did not finish.
    """

    def __init__(self, marker: Path | None = None) -> None:
        self.marker = marker
        self.seconds = 0.0
        self._started = 0.0

    def __enter__(self) -> Self:
        if self.marker is not None:
            self.marker.write_text(json.dumps({"solve_started_unix": time.time()}))
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.perf_counter() - self._started


def spopt_inputs(inst: Instance) -> tuple[object, object, list[str]]:
    """Return the GeoDataFrame, libpysal ``W`` and attribute names spopt methods get.

    The ``W`` is built from the instance graph (not recomputed by libpysal), with ids equal to
    row positions so that it lines up with the frame.
    """
    from libpysal.weights import W

    gdf = inst.units.reset_index(drop=True).copy()
    centroids = gdf.geometry.centroid
    gdf["x_km"] = centroids.x / 1000.0
    gdf["y_km"] = centroids.y / 1000.0
    position = {code: i for i, code in enumerate(gdf["code"])}
    neighbors = {i: [] for i in range(len(gdf))}
    for a, b in inst.graph.edges():
        neighbors[position[a]].append(position[b])
        neighbors[position[b]].append(position[a])
    w = W(neighbors, ids=list(range(len(gdf))), silence_warnings=True)
    return gdf, w, ["x_km", "y_km"]


def _labels_to_assignment(inst: Instance, labels: np.ndarray) -> Assignment:
    return {code: int(label) for code, label in zip(inst.units["code"], np.asarray(labels), strict=True)}


def run_maxp(inst: Instance, seed: int, clock: Stopwatch) -> Result:
    """spopt ``MaxPHeuristic``: as many areas as possible, each at least the band's floor."""
    from spopt.region import MaxPHeuristic

    np.random.seed(seed)  # max-p draws from numpy's global RNG
    gdf, w, attrs = spopt_inputs(inst)
    model = MaxPHeuristic(gdf, w, attrs, "population", inst.min_population, top_n=2)
    with clock:
        model.solve()
    return _labels_to_assignment(inst, model.labels_), {"threshold": inst.min_population, "p": int(model.p)}


def run_azp(inst: Instance, seed: int, clock: Stopwatch) -> Result:
    """spopt ``AZP`` with ``n_clusters`` = the instance's number of areas."""
    from spopt.region import AZP

    gdf, w, attrs = spopt_inputs(inst)
    model = AZP(gdf, w, attrs, n_clusters=inst.n_areas, random_state=seed)
    with clock:
        model.solve()
    return _labels_to_assignment(inst, model.labels_), {"n_clusters": inst.n_areas}


def run_skater(inst: Instance, seed: int, clock: Stopwatch) -> Result:
    """spopt ``Skater`` with ``n_clusters`` = the instance's number of areas (deterministic)."""
    from spopt.region import Skater

    gdf, w, attrs = spopt_inputs(inst)
    model = Skater(gdf, w, attrs, n_clusters=inst.n_areas)
    with clock:
        model.solve()
    return _labels_to_assignment(inst, model.labels_), {"n_clusters": inst.n_areas}


def run_region_kmeans(inst: Instance, seed: int, clock: Stopwatch) -> Result:
    """spopt ``RegionKMeansHeuristic`` with ``n_clusters`` = the instance's number of areas."""
    from spopt.region import RegionKMeansHeuristic

    gdf, w, attrs = spopt_inputs(inst)
    model = RegionKMeansHeuristic(gdf[attrs].to_numpy(), inst.n_areas, w, seed=seed)
    with clock:
        model.solve()
    return _labels_to_assignment(inst, model.labels_), {"n_clusters": inst.n_areas}


def symmetric_epsilon(total: int, n_areas: int, band: tuple[int, int]) -> tuple[float, float]:
    """Return ``(target, epsilon)``: the largest ``target * (1 +/- epsilon)`` inside ``band``.

    Raises
    ------
    ValueError
        If ``total / n_areas`` lies outside the band, so no symmetric band fits.
    """
    target = total / n_areas
    epsilon = min(1.0 - band[0] / target, band[1] / target - 1.0)
    if epsilon <= 0:
        msg = f"mean area population {target:,.0f} is outside [{band[0]:,}, {band[1]:,}]; no epsilon fits"
        raise ValueError(msg)
    return target, epsilon


def _gerrychain_graph(inst: Instance) -> object:
    from gerrychain import Graph

    graph = inst.graph.copy()
    for code, pop in zip(inst.units["code"], inst.units["population"], strict=True):
        graph.nodes[code]["population"] = int(pop)
    return Graph.from_networkx(graph)


def run_gerrychain_tree(inst: Instance, seed: int, clock: Stopwatch) -> Result:
    """GerryChain ``recursive_tree_part`` into ``n_areas`` parts of ``total / n_areas +/- eps``."""
    from gerrychain.partition import recursive_tree_part

    total = int(inst.units["population"].sum())
    target, epsilon = symmetric_epsilon(total, inst.n_areas, (inst.min_population, inst.max_population))
    graph = _gerrychain_graph(inst)
    parts = list(range(inst.n_areas))
    with clock:
        assignment = recursive_tree_part(graph, parts, target, "population", epsilon, rng=random.Random(seed))
    return dict(assignment), {"pop_target": round(target), "epsilon": round(epsilon, 5)}


def run_gerrychain_recom(inst: Instance, seed: int, clock: Stopwatch, steps: int = 1000) -> Result:
    """``recursive_tree_part`` then a ReCom chain of ``steps`` steps; keep the fewest cut edges.

    Every state of the chain satisfies the population and contiguity constraints, so the best
    state by cut edges is a valid plan (within the symmetric band). The clock covers both,
    the time the issue's "recursive_tree_part plus 1,000 ReCom steps" goal refers to.
    """
    from gerrychain import MarkovChain, Partition
    from gerrychain.accept import always_accept
    from gerrychain.constraints import contiguous, within_percent_of_ideal_population
    from gerrychain.partition import recursive_tree_part
    from gerrychain.proposals import recom
    from gerrychain.updaters import Tally, cut_edges

    total = int(inst.units["population"].sum())
    target, epsilon = symmetric_epsilon(total, inst.n_areas, (inst.min_population, inst.max_population))
    graph = _gerrychain_graph(inst)
    rng = random.Random(seed)
    with clock:
        start = recursive_tree_part(graph, list(range(inst.n_areas)), target, "population", epsilon, rng=rng)
        updaters = {"population": Tally("population", alias="population"), "cut_edges": cut_edges}
        initial = Partition(graph, start, updaters)
        chain = MarkovChain(
            proposal_fn=partial(recom, pop_col="population", pop_target=target, epsilon=epsilon),
            constraints=[within_percent_of_ideal_population(initial, epsilon), contiguous],
            acceptance_fn=always_accept,
            initial_partition=initial,
            total_steps=steps,
            rng=rng,
        )
        best, best_cut, n_states = initial, len(initial["cut_edges"]), 0
        for state in chain:
            n_states += 1
            if len(state["cut_edges"]) < best_cut:
                best, best_cut = state, len(state["cut_edges"])
    notes = {
        "pop_target": round(target),
        "epsilon": round(epsilon, 5),
        "steps": n_states,
        "start_cut_edges": len(initial["cut_edges"]),
        "best_cut_edges": best_cut,
    }
    return _original_ids(best), notes


def _original_ids(partition: object) -> Assignment:
    """Map a partition's assignment back to unit codes (GerryChain 1.0 renumbers nodes)."""
    graph = partition.graph
    return {
        graph.original_nx_node_id_for_internal_node_id(n): part for n, part in partition.assignment.to_dict().items()
    }


PEERS: dict[str, Callable[..., Result]] = {
    "spopt-maxp": run_maxp,
    "spopt-azp": run_azp,
    "spopt-skater": run_skater,
    "spopt-region-kmeans": run_region_kmeans,
    "gerrychain-tree": run_gerrychain_tree,
    "gerrychain-recom": run_gerrychain_recom,
}


def write_assignment(path: Path, assignment: Assignment) -> None:
    """Write ``unit_code,area_id`` rows, the same format sda writes."""
    frame = pd.DataFrame({"unit_code": list(assignment), "area_id": [str(v) for v in assignment.values()]})
    frame.to_csv(path, index=False)


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:500]


def main(argv: list[str] | None = None) -> int:
    """Worker entry point: run one peer on one instance and write its outputs."""
    parser = argparse.ArgumentParser(description="Run one peer method on one benchmark instance.")
    parser.add_argument("method", choices=sorted(PEERS))
    parser.add_argument("instance", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--recom-steps", type=int, default=1000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    inst = load_instance(args.instance)
    fn = PEERS[args.method]
    kwargs = {"steps": args.recom_steps} if args.method == "gerrychain-recom" else {}
    clock = Stopwatch(args.out / SOLVE_MARKER)
    started = time.perf_counter()
    try:
        assignment, notes = fn(inst, args.seed, clock, **kwargs)
    except Exception as exc:  # the peer's own error is the result we record
        traceback.print_exc()
        result = {"error": _error_text(exc), "solve_s": round(clock.seconds, 4)}
        (args.out / "result.json").write_text(json.dumps(result, indent=2))
        return 1
    prepare_s = time.perf_counter() - started - clock.seconds  # the peer's own conversions
    write_assignment(args.out / "assignment.csv", assignment)
    result = {"solve_s": round(clock.seconds, 4), "prepare_s": round(prepare_s, 4), "notes": notes}
    (args.out / "result.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
