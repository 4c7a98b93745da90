"""Running independent pieces of the search on every core, deterministically.

Each piece (a screening search of one count, one start, one trade-off alternative) gets its own
child seed from ``numpy.random.SeedSequence(seed).spawn``, so what it does depends on its seed and
its inputs only, never on which worker runs it or when. Results come back in task order, and the
caller picks the best with ties broken by task index: the same seed and step budget give the same
plan with one worker or many.

Workers are joblib's loky processes, kept alive between calls, forked from a fork server that
has loaded the engine once (``_fork_workers_from_a_server``). ``jobs = 1`` runs everything in
this process. Every worker starts by letting go of the caller's standard output and error
(pointed at the null device: a task returns what it has to say, and the warnings and library log
records it raised are handed back with its result and raised again here, ``_Said``) and then
exits as soon as the
process that started it is gone, so a run killed with ``kill -9`` leaves no worker behind
holding its pipes open. It has the engine loaded, compiled kernels included, with what that
made frozen out of the garbage collector's sight (``load_engine``), so its tasks start at once.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import logging
import multiprocessing
import os
import queue
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "child_seeds",
    "finish_warm_up",
    "let_go_of_standard_streams",
    "load_engine",
    "main_module_is_guarded",
    "resolve_jobs",
    "run_tasks",
    "started_tasks",
    "usable_cores",
    "warm_workers",
]

#: Whether loky was told to fork its workers from a server (``_fork_workers_from_a_server``).
_fork_server_set = False

#: Whether this process's entry point said that its main module starts nothing when imported
#: again (``main_module_is_guarded``).
_main_guarded = False

#: Worker start-up begun by ``warm_workers`` and not yet waited for.
_warming: threading.Thread | None = None

#: How often a worker checks that the process that started it is still there (seconds).
PARENT_CHECK_S = 0.25


def resolve_jobs(jobs: int) -> int:
    """Workers to use: ``jobs`` when >= 1, else every core this process may run on; never more
    than those cores. The work is all computation, so a worker beyond them adds only its memory
    (about 0.25 GB), and ``--jobs 1024`` started 1024 processes; the plan is the same either way."""
    cores = usable_cores()
    return min(int(jobs), cores) if jobs >= 1 else cores


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def child_seeds(seed: int | np.random.SeedSequence, n: int, *, stream: int = 0) -> list[np.random.SeedSequence]:
    """``n`` independent child seeds of ``seed``'s stream ``stream`` (0 screening, 1 starts, ...)."""
    import numpy as np  # here, so that the sda command can load this module before numpy

    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, stream)).spawn(n)


def run_tasks(fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], jobs: int) -> Iterator[Any]:
    """``fn(*task)`` for every task, yielded in task order as they finish; in worker processes
    when ``jobs`` > 1 and there is more than one task."""
    if min(resolve_jobs(jobs), len(tasks)) <= 1:
        for task in tasks:
            yield fn(*task)
        return
    for said in _dispatch(fn, tasks, resolve_jobs(jobs)):
        yield said.delivered()


@contextlib.contextmanager
def started_tasks(fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], jobs: int) -> Iterator[Iterator[Any]]:
    """Like ``run_tasks``, but with more than one job the tasks start now on the workers (even a
    single task: the caller does other work meanwhile) and the results are read in task order.
    With one job they run in this process, one by one as the results are read.

    Leaving the block before every result was read (the caller failed, or was interrupted)
    hands out no further task and waits for those already handed to a worker, so none is left
    running. The results are collected by a thread of this process, so that Ctrl-C or SIGTERM
    is raised where the caller waits, never inside joblib (whose way out kills the workers,
    and loky's manager thread can then fail with a traceback on stderr).
    """
    if resolve_jobs(jobs) <= 1 or not tasks:
        in_process = (fn(*task) for task in tasks)
        try:
            yield in_process
        finally:
            in_process.close()  # the tasks not read are not run
        return
    stop = threading.Event()
    arrived: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
    collector = threading.Thread(
        target=_collect, args=(_dispatch(fn, tasks, resolve_jobs(jobs), stop), arrived), name="sda-results", daemon=True
    )
    collector.start()
    results = _arrivals(arrived, len(tasks))
    try:
        yield results
    finally:
        stop.set()
        collector.join()
        results.close()


def _collect(results: Iterator[Any], arrived: queue.SimpleQueue[tuple[bool, Any]]) -> None:
    """Read ``results`` (in a thread of its own) into ``arrived``: ``(True, result)`` for each,
    then ``(False, exception)`` if one failed or ``(False, None)`` at the end."""
    try:
        for result in results:
            arrived.put((True, result))
    except BaseException as exc:  # handed to the caller, which raises it
        arrived.put((False, exc))
    else:
        arrived.put((False, None))


def _arrivals(arrived: queue.SimpleQueue[tuple[bool, Any]], n: int) -> Generator[Any, None, None]:
    for _ in range(n):
        ok, value = arrived.get()
        if not ok:
            if value is not None:
                raise value
            return
        yield value.delivered()


class _Said(NamedTuple):
    """A task's result, with the warnings and library log records it raised on its worker, whose
    standard error goes nowhere: raised again in the caller (``delivered``), they reach the
    terminal, or ``--quiet``, as they would have with one job."""

    result: Any
    warned: list[tuple[type[Warning], str]]
    logged: list[tuple[str, int, str]]
    failed: Exception | None = None

    def delivered(self) -> Any:
        for category, message in self.warned:
            warnings.warn(message, category, stacklevel=2)
        for name, level, message in self.logged:
            logging.getLogger(name).log(level, "%s", message)
        if self.failed is not None:
            raise self.failed
        return self.result


class _Keep(logging.Handler):
    """Collects a worker task's log records of WARNING and above, for ``_Said``."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.kept: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.kept.append((record.name, record.levelno, record.getMessage()))


def _saying(fn: Callable[..., Any], *task: Any) -> _Said:
    """``fn(*task)`` on a worker, with what it warned or logged (``_Said``).

    A task that fails returns its exception rather than raising it, to be raised where the caller
    reads its result. Raised through joblib, it would shut down the executor that every call in
    flight shares: a trade-off that failed while the bound ran on the other worker surfaced as
    "The executor underlying Parallel has been shutdown" where the bound was read, its own
    error lost."""
    keep = _Keep()
    root = logging.getLogger()
    root.addHandler(keep)
    result, failed = None, None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # the caller's filters decide, as each is raised there
            try:
                result = fn(*task)
            except Exception as exc:  # raised again in the caller, by ``_Said.delivered``
                failed = _portable(exc)
    finally:
        root.removeHandler(keep)
    warned = [(w.category if _picklable(w.category) else UserWarning, str(w.message)) for w in caught]
    return _Said(result, warned, keep.kept, failed)


def _portable(exc: Exception) -> Exception:
    """``exc`` with the worker's traceback as a note, ready to travel back to the caller; an
    exception that cannot be pickled travels as a RuntimeError naming it."""
    import pickle
    import traceback

    where = "".join(traceback.format_exception(exc))
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    exc.add_note(f"Raised on a worker process:\n{where}")
    return exc


def _picklable(category: type[Warning]) -> bool:
    """Whether a warning's category can travel back by name (a class defined in a function cannot)."""
    module = sys.modules.get(category.__module__)
    return getattr(module, category.__qualname__, None) is category


def _dispatch(
    fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], workers: int, stop: threading.Event | None = None
) -> Iterator[Any]:
    """Hand the tasks to the pool of ``workers`` loky workers now; their results, in task order.
    Once ``stop`` is set, no further task is handed out (joblib takes them from the iterator as
    workers free up). ``workers`` is the pool's size, never the number of tasks: joblib resizes
    its executor to each call's ``n_jobs``, so a call with fewer tasks would stop workers that
    the next call must start again (about a second each)."""
    finish_warm_up()
    return _dispatch_now(fn, tasks, workers, stop)


def _dispatch_now(
    fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], workers: int, stop: threading.Event | None = None
) -> Iterator[Any]:
    """``_dispatch`` without waiting for a warm-up under way (the warm-up's own call)."""
    from joblib import Parallel, delayed, parallel_config  # only needed with more than one worker

    _fork_workers_from_a_server()

    def calls() -> Iterator[Any]:
        for task in tasks:
            if stop is not None and stop.is_set():
                return
            yield delayed(_saying)(fn, *task)

    # The same initializer every time, so that joblib reuses the running workers.
    with parallel_config(backend="loky", initializer=_start_worker, initargs=(os.getpid(),)):
        # One task handed out per worker, the next when one ends (not joblib's default of two
        # each): leaving early (Ctrl-C) then waits only for the tasks running, not a queue.
        runner = Parallel(n_jobs=workers, return_as="generator", pre_dispatch="n_jobs")
        # joblib's generator dispatches as soon as it is made, not when it is first read.
        return iter(runner(calls()))


def main_module_is_guarded() -> None:
    """Say that this process's main module does nothing but define things when it is imported
    again (its work is under ``if __name__ == "__main__":``), so that workers may be forked
    from a server (``_fork_workers_from_a_server``), for a program whose main file cannot be
    read to see (``_may_fork_from_a_server`` reads it)."""
    global _main_guarded
    _main_guarded = True


def _may_fork_from_a_server() -> bool:
    """Whether workers may be forked from a server. A worker forked from it imports the
    caller's main module again, as the standard library starts a process, and so runs again a
    script that does not guard its top level: the script then starts workers of its own and
    every worker fails (a script calling ``sda.cli.main()`` at its top level did). loky's own
    start does not import it, so a script of any kind works; the server is used only where that
    import is harmless: the main file keeps its work under ``if __name__ == "__main__":`` (the
    ``sda`` console script, ``python -m sda``, pytest, a user's script that does; the file is
    read to see), there is no main file (an interactive session, a notebook, ``python -c``),
    or the program said so (``main_module_is_guarded``)."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return _main_guarded or path is None or _guards_its_top_level(path)


def _guards_its_top_level(path: str) -> bool:
    """Whether the Python file at ``path`` has an ``if __name__ == "__main__":`` block; False
    when it cannot be read."""
    try:
        source = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"""^\s*if\s+__name__\s*==\s*["']__main__["']\s*:""", source, re.MULTILINE) is not None


def _fork_workers_from_a_server() -> None:
    """Have loky start the workers by forking them from a fork server (the standard library's
    ``forkserver`` start method) that has loaded the engine once (``sda.engine.worker_start``),
    instead of starting each as a new interpreter that imports and loads it again (loky's
    default). Each worker then starts in milliseconds with the engine and its kernels in memory;
    the server itself takes about a second, once, in the background. The server is a fresh
    single-threaded process, so forking it is safe where forking this one is not; it exits
    when this process does. On Linux only: Windows has no fork, and on macOS a fork after the
    system's maths libraries have started is not safe; there loky's default stays. Set once,
    before loky makes its executor, and only when the caller's main module can be imported
    again (``_may_fork_from_a_server``) and this is the main thread, where the server is started
    at once, as ``_server_start`` says; the first choice stands for the process."""
    global _fork_server_set
    if _fork_server_set:
        return
    _fork_server_set = True  # decided, either way
    if not sys.platform.startswith("linux") or not _may_fork_from_a_server():
        return
    if threading.current_thread() is not threading.main_thread():
        return
    from multiprocessing import forkserver

    from joblib.externals.loky.backend.context import set_start_method

    multiprocessing.set_forkserver_preload(["sda.engine.worker_start"])
    set_start_method("forkserver", force=True)
    with _server_start():
        forkserver.ensure_running()


@contextlib.contextmanager
def _server_start() -> Iterator[None]:
    """How the fork server is started, restored afterwards in this process:

    - with Ctrl-C ignored, which it keeps across its start (it ignores it itself only once it
      has loaded the engine): Ctrl-C in a terminal reaches the whole process group, and a server
      interrupted while loading left a traceback and no pool;
    - importing from this process's module path and not from the working folder. The server is
      started with ``python -c``, which puts the working folder first on its path, and Python
      3.11's fork server ignores the path it is given: started in a source checkout it loaded
      the checkout's ``sda`` while this process ran the installed one (numba's cache then
      missed, and a first run compiled the kernels again, 7-8 s), and in a folder holding
      anything else named ``sda`` it loaded that. ``PYTHONSAFEPATH`` leaves the working folder
      out, and ``PYTHONPATH`` gives it this process's path.
    """
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    saved = {name: os.environ.get(name) for name in ("PYTHONSAFEPATH", "PYTHONPATH")}
    os.environ["PYTHONSAFEPATH"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(entry or os.getcwd() for entry in sys.path)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        signal.signal(signal.SIGINT, previous)


def _start_worker(caller: int) -> None:
    """Run first in every worker (loky's initializer): detach it from the caller (process
    ``caller``), then load the engine."""
    _detach_from_caller(caller)
    load_engine()


def load_engine() -> None:
    """Import the engine (numpy, numba) and load its compiled kernels (``preload_kernels``),
    then move every object that made out of the garbage collector's sight (``gc.freeze``). A
    worker forked from the fork server finds all this done (``sda.engine.worker_start``).

    Without ``psutil``, loky runs a full ``gc.collect()`` after a task whenever a second has
    passed since the last one. Over the engine's imported objects each took 0.13-0.19 s, so
    the 19 trade-offs of the default run (about half a second each) spent 1.4 s of their two
    workers' time between tasks. Frozen, those objects are skipped by every collection,
    loky's and the interpreter's own; what the tasks make is still collected."""
    from sda.engine.search import preload_kernels

    preload_kernels()
    gc.freeze()


def _detach_from_caller(caller: int) -> None:
    """Leave Ctrl-C to the caller, stop holding the caller's standard streams (a run killed
    with ``kill -9`` would otherwise stay "open" to whoever reads its output for as long as the
    idle worker lives), and exit when the caller (process ``caller``, which started this
    worker) is gone, even if it went before this worker got here."""
    # Ctrl-C in a terminal reaches the whole process group: the caller stops the workers in
    # order (no further task; the running ones end), whereas a worker interrupted mid-task
    # makes joblib kill the pool while another call may be using it (loky's manager thread then
    # fails with a traceback on stderr).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    let_go_of_standard_streams()
    # Registered first, so run last: once loky's own exit handlers are done, skip tearing down
    # the modules (about a second with numba, geopandas and matplotlib loaded), which the
    # caller would otherwise wait for when it exits.
    atexit.register(os._exit, 0)
    watch = threading.Thread(target=_exit_with, args=(caller,), name="sda-parent-watch", daemon=True)
    watch.start()


def let_go_of_standard_streams() -> None:
    """Point this process's standard input, output and error at the null device: a worker (or
    the fork server) inherits the caller's, and would otherwise hold a killed run's pipes open
    and print on its terminal."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


def _exit_with(caller: int) -> None:
    """Exit this worker once the process that started it has gone (it is then re-parented):
    the caller, or the fork server the caller started (which exits with the caller). A worker
    whose parent is neither (the caller went before this worker got here) exits once the caller
    is gone for good."""
    parent = os.getppid()
    while os.getppid() == parent and (parent == caller or _running(caller)):
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs: it exists and, where ``/proc`` tells, has not exited
    (a killed caller stays a zombie until its own parent collects it)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or the number is another user's now
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc here: existing is all that can be told


def _started() -> int:
    """Warm-up task: nothing beyond the worker's start (``_start_worker`` loads the engine)."""
    return os.getpid()


def warm_workers(jobs: int) -> None:
    """Start the ``jobs`` worker processes now, in the background, so that their start-up (about
    a second: the fork server importing numpy, numba and the engine and loading the kernels)
    overlaps reading the inputs instead of delaying the first parallel search. The next
    ``run_tasks`` waits for it."""
    global _warming
    workers = resolve_jobs(jobs)
    if workers <= 1 or _warming is not None:
        return
    _fork_workers_from_a_server()  # here, in the main thread (see there)
    # In a thread of its own: handing the first tasks out waits for the fork server to load the
    # engine, and this process reads the inputs meanwhile. The same loky executor then serves
    # the later calls with as many workers.
    _warming = threading.Thread(target=_start_pool, args=(workers,), name="sda-warm-up", daemon=True)
    _warming.start()


def _start_pool(workers: int) -> None:
    """The warm-up thread: hand each worker a task that does nothing. A failure here (the run
    stopped while the workers started) is not reported: the next call starts them again and
    reports what stops it."""
    with contextlib.suppress(BaseException):
        for _ in _dispatch_now(_started, [()] * workers, workers):
            pass


def finish_warm_up() -> None:
    """Wait for the worker start-up ``warm_workers`` began, if it is still under way: the next
    tasks wait for it, and a command that stops early (an error, Ctrl-C while the inputs are
    read) then leaves joblib no half-read call to abort while the interpreter shuts down."""
    global _warming
    if _warming is not None:
        warming, _warming = _warming, None
        warming.join()
