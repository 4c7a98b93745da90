"""Tasks on several cores: the same results, in task order, with one worker or two; workers that
leave nothing behind when the caller fails or is killed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sda.engine.parallel import child_seeds, resolve_jobs, run_tasks, started_tasks, usable_cores

ROOT = Path(__file__).resolve().parents[1]


def square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_come_back_in_task_order(jobs: int) -> None:
    assert list(run_tasks(square, [(i,) for i in range(5)], jobs)) == [0, 1, 4, 9, 16]


@pytest.mark.parametrize("jobs", [1, 2])
def test_started_tasks_give_results_in_task_order(jobs: int) -> None:
    with started_tasks(square, [(i,) for i in range(5)], jobs) as results:
        assert list(results) == [0, 1, 4, 9, 16]


def pid_after_a_pause(_: int) -> int:
    time.sleep(0.3)  # long enough that every worker the pool has takes a task
    return os.getpid()


def test_no_more_workers_than_cores() -> None:
    # --jobs 1024 started 1024 worker processes (about 0.25 GB each) on a 2-core machine, for no
    # gain: the work is all computation. The workers are capped at the cores, silently here
    # (the command line says so).
    cores = usable_cores()
    assert resolve_jobs(cores + 2) == cores == resolve_jobs(0)
    pids = set(run_tasks(pid_after_a_pause, [(i,) for i in range(3 * (cores + 2))], cores + 2))
    assert len(pids) <= cores, pids


def test_the_command_says_when_it_uses_fewer_workers_than_asked() -> None:
    from sda.cli import _say_jobs_capped

    said: list[str] = []
    _say_jobs_capped(usable_cores(), "--jobs", said.append)
    assert said == []
    _say_jobs_capped(1024, "--jobs", said.append)
    cores = usable_cores()
    assert said == [f"--jobs = 1,024 is more than the {cores} cores sda may use here: using {cores} (same plan)"]


def fail_on_three(x: int) -> int:
    if x == 3:
        msg = "task 3 failed"
        raise ValueError(msg)
    return x


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failed_task_fails_the_caller_where_it_reads(jobs: int) -> None:
    # With workers too, in task order: the results of the tasks before it are read first.
    with (
        pytest.raises(ValueError, match="task 3 failed"),
        started_tasks(fail_on_three, [(i,) for i in range(5)], jobs) as results,
    ):
        list(results)


def slow_square(x: int) -> int:
    time.sleep(1.0)
    return x * x


def test_a_task_that_fails_leaves_other_calls_in_flight_running() -> None:
    # The bound runs on one worker while trade-offs run on the other. A trade-off that failed
    # shut down the executor both share, and the bound's reader got joblib's "The executor
    # underlying Parallel has been shutdown" instead of a result, the real error lost.
    with started_tasks(slow_square, [(7,)], 2) as bound:
        with (
            pytest.raises(ValueError, match="task 3 failed") as failed,
            started_tasks(fail_on_three, [(3,)], 2) as others,
        ):
            list(others)
        assert list(bound) == [49]
    notes = "".join(getattr(failed.value, "__notes__", []))
    assert "Raised on a worker process" in notes and "fail_on_three" in notes  # where it failed


def record_square(x: int, folder: str) -> int:
    time.sleep(0.05)
    Path(folder, str(x)).touch()
    return x * x


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failure_in_the_block_leaves_no_task_running(jobs: int, tmp_path: Path) -> None:
    tasks = [(i, str(tmp_path)) for i in range(40)]
    with pytest.raises(RuntimeError, match="writer failed"), started_tasks(record_square, tasks, jobs) as results:
        msg = "writer failed"
        raise RuntimeError(msg)
    assert list(results) == []  # closed on the way out
    ran = len(list(tmp_path.iterdir()))
    time.sleep(0.5)
    assert len(list(tmp_path.iterdir())) == ran  # nothing still running after the block
    assert ran < len(tasks)  # the tasks not yet handed out were dropped, not run
    assert list(run_tasks(square, [(4,), (5,)], jobs)) == [16, 25]  # the workers serve the next call


def warn_and_log(x: int) -> int:
    import logging
    import warnings

    warnings.warn(f"task {x} warned", RuntimeWarning, stacklevel=1)
    logging.getLogger("somelibrary.module").warning("task %d logged", x)
    return x


@pytest.mark.parametrize("jobs", [1, 2])
def test_what_a_task_warns_or_logs_reaches_the_caller_with_any_number_of_jobs(
    jobs: int, caplog: pytest.LogCaptureFixture
) -> None:
    # A worker's standard error goes to the null device: a map's warning (a glyph missing from
    # the font, say) was lost at 2 jobs, while 1 job showed it. Now it is raised in the caller.
    with pytest.warns(RuntimeWarning) as warned, caplog.at_level("WARNING"):
        assert list(run_tasks(warn_and_log, [(1,), (2,)], jobs)) == [1, 2]
        with started_tasks(warn_and_log, [(3,)], jobs) as results:
            assert list(results) == [3]
    assert sorted(str(w.message) for w in warned) == ["task 1 warned", "task 2 warned", "task 3 warned"]
    logged = [(r.name, r.getMessage()) for r in caplog.records]
    assert logged == [("somelibrary.module", f"task {x} logged") for x in (1, 2, 3)]


def test_child_seeds_depend_on_the_seed_and_stream_only() -> None:
    first = [s.generate_state(1)[0] for s in child_seeds(7, 3, stream=1)]
    assert first == [s.generate_state(1)[0] for s in child_seeds(7, 3, stream=1)]
    assert first != [s.generate_state(1)[0] for s in child_seeds(7, 3, stream=2)]
    assert len(set(first)) == 3


def test_warmed_workers_serve_the_next_tasks() -> None:
    from sda.engine import parallel

    parallel.warm_workers(2)
    assert parallel._warming is not None  # started in the background, not waited for
    assert list(run_tasks(square, [(i,) for i in range(4)], 2)) == [0, 1, 4, 9]
    assert parallel._warming is None  # the tasks waited for the warm-up first
    parallel.warm_workers(1)
    assert parallel._warming is None  # one job: no worker to start


def sigint_handler(_: int) -> str:
    return "ignored" if signal.getsignal(signal.SIGINT) == signal.SIG_IGN else "raised"


def test_workers_leave_ctrl_c_to_the_caller() -> None:
    # Ctrl-C reaches the whole process group; a worker interrupted mid-task would make joblib
    # kill the pool under the other calls using it. The caller stops them in order instead.
    # The caller hears Ctrl-C here whatever started the tests (a shell's background job starts
    # with it ignored).
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert set(run_tasks(sigint_handler, [(i,) for i in range(4)], 2)) == {"ignored"}
        assert sigint_handler(0) == "raised"  # the caller still hears it
    finally:
        signal.signal(signal.SIGINT, before)


def frozen_objects(_: int) -> int:
    import gc

    return gc.get_freeze_count()


def test_workers_freeze_the_engine_out_of_the_garbage_collectors_sight() -> None:
    # Without psutil loky collects garbage after a task at most once a second; over the
    # engine's imported objects that took 0.13-0.19 s a time. Frozen, they are skipped.
    frozen = list(run_tasks(frozen_objects, [(i,) for i in range(4)], 2))
    assert min(frozen) > 10_000  # numpy, numba and the engine's modules, functions and classes


def where_started(caller: int) -> tuple[bool, bool]:
    return os.getppid() != caller, "sda.engine.worker_start" in sys.modules


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is used on Linux only")
def test_workers_are_forked_from_a_server_that_loaded_the_engine() -> None:
    # Each worker starts with the engine and its kernels in memory, loaded once by the server,
    # instead of importing and loading them again (about 1.1 s of CPU a worker).
    assert set(run_tasks(where_started, [(os.getpid(),) for _ in range(4)], 2)) == {(True, True)}
    assert "sda.engine.worker_start" not in sys.modules  # never loaded by the caller itself


def run_program(script: Path, folder: Path) -> str:
    """Run ``script`` with this repository's ``sda`` on its path, in ``folder``; its output."""
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# A program of a library user: a script that calls the engine at its top level, with no
# ``if __name__ == "__main__":`` guard.
_UNGUARDED_SCRIPT = """
import os
from sda.engine.parallel import run_tasks
print("top level ran", flush=True)
print("workers", len(set(run_tasks(os.getpid, [()] * 4, 2))) >= 1, flush=True)
"""


def test_a_script_without_a_main_guard_can_use_the_workers(tmp_path: Path) -> None:
    # Workers forked from the fork server import the caller's main module again, which re-ran
    # such a script in every worker: each started workers of its own and died (exit 1), and
    # the script ended in joblib's TerminatedWorkerError. Its workers now start as loky starts
    # them; the sda command, whose entry point is guarded, keeps the fork server.
    script = tmp_path / "plan_areas.py"
    script.write_text(_UNGUARDED_SCRIPT)
    assert run_program(script, tmp_path).splitlines() == ["top level ran", "workers True"]


# A program of an officer's: the sda command itself, called at the top level of a script with no
# ``if __name__ == "__main__":`` guard, with workers.
_UNGUARDED_COMMAND = """
import sys
from sda.cli import main
sys.argv = ["sda", "propose", "--config", {config!r}, "--out", "out", "--count", "22",
            "--steps", "20000", "--starts", "2", "--jobs", "2", "--no-tradeoffs", "--no-exact", "--quiet"]
main()
"""


@pytest.mark.slow
def test_a_script_calling_the_command_without_a_main_guard_gets_its_plan(tmp_path: Path) -> None:
    # ``main`` used to say that its caller was guarded, as ``sda`` and ``python -m sda`` are, so
    # the workers were forked from the fork server, imported this script again, ran the command
    # again, and died: "Internal error: TerminatedWorkerError ... (a bug in sda ...)".
    script = tmp_path / "plan_areas.py"
    script.write_text(_UNGUARDED_COMMAND.format(config=str(ROOT / "configs" / "cambridgeshire-peterborough.toml")))
    run_program(script, tmp_path)
    assert (tmp_path / "out" / "assignment.csv").read_text().count("\n") == 488  # a header and 487 units


def test_what_counts_as_a_guarded_caller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from sda.engine import parallel

    monkeypatch.setattr(parallel, "_main_guarded", False)  # whatever the program said before

    def caller(source: str | None, file: Path | None = None) -> bool:
        module = types.ModuleType("__main__")
        if source is not None:
            file = tmp_path / "caller.py"
            file.write_text(source)
        if file is not None:
            module.__file__ = str(file)
        monkeypatch.setitem(sys.modules, "__main__", module)
        return parallel._may_fork_from_a_server()

    assert caller(None, ROOT / "sda" / "__main__.py")  # python -m sda
    # the console script pip writes
    assert caller("import sys\nfrom sda.cli import main\nif __name__ == '__main__':\n    sys.exit(main())\n")
    assert caller('def go():\n    main()\n\nif __name__ == "__main__":\n    go()\n')
    assert not caller("from sda.cli import main\nmain()\n")
    assert not caller("# if __name__ == '__main__': not yet\nmain()\n")
    assert not caller(None, tmp_path / "gone.py")  # a main file that cannot be read
    assert caller(None)  # no main file (interactive, a notebook, python -c): nothing to import again


def test_a_worker_that_died_is_not_called_a_bug(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from joblib.externals.loky.process_executor import TerminatedWorkerError

    from sda.cli import EXIT_INTERNAL, guarded

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the crash log goes

    @guarded
    def command() -> None:
        raise TerminatedWorkerError("A worker process managed by the executor was unexpectedly terminated.")

    with pytest.raises(SystemExit) as stopped:
        command()
    assert stopped.value.code == EXIT_INTERNAL
    said = capsys.readouterr().err
    assert "a bug in sda" not in said and "Traceback" not in said
    assert "--jobs 1" in said and "memory" in said
    logs = list(tmp_path.glob("sda-crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in said
    assert "TerminatedWorkerError" in logs[0].read_text()


# A program started in a folder that holds another package named ``sda`` (a checkout, a folder
# of outputs). It imports the real one from its path; what do its workers have?
_PROGRAM_BESIDE_A_DECOY = """
import sys
from sda.engine.parallel import main_module_is_guarded, run_tasks

def where_from():
    return "sda.engine.worker_start" in sys.modules, sys.modules["sda"].__file__

if __name__ == "__main__":
    main_module_is_guarded()
    print(sorted(set(run_tasks(where_from, [()] * 4, 2))), sys.modules["sda"].__file__)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is used on Linux only")
def test_the_fork_server_imports_what_its_caller_imports(tmp_path: Path) -> None:
    # The fork server is started with ``python -c``, which put the working folder first on its
    # path (Python 3.11's fork server ignores the path it is given): it imported the folder's
    # ``sda``, which here refuses to load, so its workers had no engine loaded. In a source
    # checkout it loaded the checkout while the caller ran the installed package.
    (tmp_path / "work" / "sda").mkdir(parents=True)
    (tmp_path / "work" / "sda" / "__init__.py").write_text('raise ImportError("not the sda package")\n')
    (tmp_path / "program").mkdir()
    (tmp_path / "program" / "plan_areas.py").write_text(_PROGRAM_BESIDE_A_DECOY)
    said = run_program(tmp_path / "program" / "plan_areas.py", tmp_path / "work")  # its own folder on its path
    real = str(ROOT / "sda" / "__init__.py")
    assert said.split() == ["[(True,", f"'{real}')]", real]


def test_finishing_the_warm_up_waits_for_the_workers_to_start() -> None:
    from sda.engine import parallel

    parallel.warm_workers(2)
    assert parallel._warming is not None
    parallel.finish_warm_up()  # what the sda command does when it stops early
    assert parallel._warming is None
    parallel.finish_warm_up()  # nothing under way: returns at once


# A caller that gives two workers tasks, says the process ids of its children (the workers and
# loky's resource tracker) once they are idle, or at once while they are still starting up, then
# waits to be killed.
_CALLER = """
import os, sys, time
from pathlib import Path
from sda.engine.parallel import run_tasks, started_tasks

def task(i):
    os.write(1, b"worker output\\n")  # to the null device, not to the caller's pipe
    time.sleep(0.3)
    return i

def children():
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == me:
                found.append(stat.parent.name)
        except (OSError, IndexError):
            pass
    return found

if sys.argv[1] == "idle":
    list(run_tasks(task, [(i,) for i in range(4)], 2))
    print(" ".join(children()), flush=True)
else:
    with started_tasks(task, [(i,) for i in range(4)], 2):
        print(" ".join(children()), flush=True)  # the workers are still booting
        time.sleep(600)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
@pytest.mark.parametrize("when", ["idle", "starting"])
def test_killed_caller_leaves_no_worker_holding_its_pipes(when: str) -> None:
    """``kill -9`` of a run: whoever reads its output sees the end at once (no worker holds the
    pipes), and the workers exit on their own instead of idling for loky's 300 s, also when the
    run was killed before they had started up."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CALLER, when],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = []  # up to the caller's line of process ids (and what workers wrote before it)
    while not seen or not (seen[-1] == "" or seen[-1].strip().replace(" ", "").isdigit()):
        seen.append(proc.stdout.readline())
    workers = [int(p) for p in seen[-1].split()]
    try:
        assert len(workers) >= 2, seen
        proc.kill()
        out, _ = proc.communicate(timeout=30)  # hung until the idle workers timed out, before
        assert "worker output" not in "".join(seen) + out, "a worker wrote to the caller's stdout"
        deadline = time.monotonic() + 15
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers), "a worker outlived the process that started it"
    finally:
        for w in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(w, signal.SIGKILL)
        proc.kill()
        proc.wait()
