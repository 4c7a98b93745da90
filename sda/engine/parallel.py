"""Running independent pieces of the search on every core, deterministically.

Each piece (a screening search of one count, one start, one trade-off alternative) gets its own
child seed from ``numpy.random.SeedSequence(seed).spawn``, so what it does depends on its seed and
its inputs only, never on which worker runs it or when. Results come back in task order, and the
caller picks the best with ties broken by task index: the same seed and step budget give the same
plan with one worker or many.

Workers are joblib's loky processes (kept alive between calls, so each pays the numba kernels'
load from the on-disk cache once). ``jobs = 1`` runs everything in this process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["child_seeds", "resolve_jobs", "run_tasks", "warm_workers"]

#: Worker start-up begun by ``warm_workers`` and not yet waited for.
_warming: Iterator[Any] | None = None


def resolve_jobs(jobs: int) -> int:
    """Workers to use: ``jobs`` when >= 1, else every core this process may run on."""
    if jobs >= 1:
        return int(jobs)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def child_seeds(seed: int | np.random.SeedSequence, n: int, *, stream: int = 0) -> list[np.random.SeedSequence]:
    """``n`` independent child seeds of ``seed``'s stream ``stream`` (0 screening, 1 starts, ...)."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, stream)).spawn(n)


def run_tasks(fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], jobs: int) -> Iterator[Any]:
    """``fn(*task)`` for every task, yielded in task order as they finish; in worker processes
    when ``jobs`` > 1 and there is more than one task."""
    workers = min(resolve_jobs(jobs), len(tasks))
    if workers <= 1:
        for task in tasks:
            yield fn(*task)
        return
    _finish_warming()
    from joblib import Parallel, delayed  # only needed with more than one worker

    runner = Parallel(n_jobs=workers, backend="loky", return_as="generator")
    yield from runner(delayed(fn)(*task) for task in tasks)


def _import_engine() -> int:
    """Warm-up task: import the engine (numpy, numba, the compiled kernels' dispatchers)."""
    import sda.engine.search  # noqa: F401

    return os.getpid()


def warm_workers(jobs: int) -> None:
    """Start the ``jobs`` worker processes now, in the background, so that their start-up (about
    a second: a new interpreter importing numpy, numba and the engine) overlaps reading the
    inputs instead of delaying the first parallel search. The next ``run_tasks`` waits for it."""
    global _warming
    workers = resolve_jobs(jobs)
    if workers <= 1 or _warming is not None:
        return
    from joblib import Parallel, delayed

    # joblib's generator dispatches as soon as it is made; the same loky executor serves the
    # later calls with as many workers.
    _warming = iter(
        Parallel(n_jobs=workers, backend="loky", return_as="generator")(
            delayed(_import_engine)() for _ in range(workers)
        )
    )


def _finish_warming() -> None:
    global _warming
    if _warming is not None:
        warming, _warming = _warming, None
        for _ in warming:
            pass
