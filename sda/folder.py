"""The output folder as one unit: built whole beside the old one, then swapped in.

A run writes its complete set of files into a fresh hidden sibling folder
(``.<name>.sda-new-<token>``); only when every file is written is it swapped with the target
folder (an atomic exchange where the system offers one, else two renames), and the old set is
removed. A crash, Ctrl-C, SIGTERM, SIGKILL or a full disk at any point leaves the folder holding
exactly the previous run, or exactly the new one; never a mixture.

- A lock file beside the folder (``.<name>.sda-lock``, held with an OS file lock, so a killed
  run releases it) refuses a second run into the same folder while one is writing.
- Hidden leftovers of crashed runs (staging and old folders beside it, ``.*.tmp*`` files inside
  it) are removed by the next run that takes the lock; a folder caught mid-swap is restored.
- Files in the folder that ``sda`` does not write (a QGIS project saved there, notes) are carried
  into the new folder (hard links, else copies), so they are never lost.
- ``refuse_overwriting_inputs`` stops any command from writing an output over one of its inputs;
  ``claim_output_folder`` adds the lock and another run's files: the one folder policy of
  ``sda propose``, ``evaluate`` and ``repair``.

Nothing here knows what the files contain; ``sda.outputs`` writes them, and says which run wrote
a folder's (for ``claim_output_folder``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime
import hashlib
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from sda.errors import OutputError

__all__ = [
    "OUTPUT_NAMES",
    "claim_output_folder",
    "input_paths",
    "is_reproducible",
    "locked",
    "new_run_id",
    "refuse_overwriting_inputs",
    "refuse_replacing_another_file",
    "replace_folder",
    "replacing",
    "run_timestamp",
    "write_bytes",
    "write_file_atomically",
    "write_text",
]

#: Every name in a plan's folder that belongs to its plan: the files ``sda propose`` may write (and
#: GeoPackage side files), and the change log that describes the plan. A new plan replaces them all.
OUTPUT_NAMES = frozenset(
    {
        "units.geojson",
        "units.qml",
        "areas.geojson",
        "areas.qml",
        "assignment.csv",
        "plan.gpkg",
        "plan.gpkg-wal",
        "plan.gpkg-shm",
        "plan.gpkg-journal",
        "plan.json",
        "map.png",
        "map_a4.png",
        "map_a4.pdf",
        "map_a3.png",
        "map_a3.pdf",
        "frontier.png",
        "ensemble.png",
        "report.md",
        "report.html",
        "summary.json",
        # The change log of the folder's plan against another (``sda repair``'s, or ``sda diff``
        # written into the folder, as the README shows): it describes the plan it came with.
        "changes",
    }
)

_NEW, _OLD, _LOCK = ".sda-new-", ".sda-old-", ".sda-lock"
#: Targets whose lock this process holds (``locked`` is re-entrant).
_HELD: set[Path] = set()


# --------------------------------------------------------------------------- run id and time


def is_reproducible() -> bool:
    """Is ``SOURCE_DATE_EPOCH`` set? Then runs leave out timings and derive ids and dates from
    their inputs, so that identical runs write identical bytes."""
    return bool(os.environ.get("SOURCE_DATE_EPOCH", "").strip())


def run_timestamp() -> datetime.datetime:
    """The run's date: now (UTC), or ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC)
        except (ValueError, OverflowError, OSError) as exc:
            msg = f"SOURCE_DATE_EPOCH = {epoch!r}: expected whole seconds since 1970-01-01 (e.g. 1700000000)"
            raise OutputError(msg) from exc
    return datetime.datetime.now(datetime.UTC)


def new_run_id(*parts: object, clock_free: bool = False) -> str:
    """A short id that tells one run's files from another's.

    Derived from ``parts`` (what makes the run: settings, data, the assignment) when the run is
    clock-free (a step budget) or ``SOURCE_DATE_EPOCH`` is set, so that identical runs give
    byte-identical files; random otherwise, since a run on a time budget may differ in every file.
    """
    if clock_free or is_reproducible():
        salt = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
        return hashlib.sha256(repr((salt, *parts)).encode()).hexdigest()[:16]
    return secrets.token_hex(8)


# --------------------------------------------------------------------------- inputs


def input_paths(cfg: Any) -> list[Path]:
    """The files a run reads: the config, the units (with a shapefile's side files), CSVs."""
    paths: list[Path] = []
    if getattr(cfg, "source", None):
        paths.append(Path(cfg.source))
    units = Path(cfg.units.path)
    paths.append(units)
    if units.suffix.lower() == ".shp":
        paths += [units.with_suffix(s) for s in (".shx", ".dbf", ".prj", ".cpg")]
    for extra in (cfg.units.population_csv, cfg.pcn.practices, cfg.pcn.shares):
        if extra:
            paths.append(Path(extra))
    return paths


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def refuse_overwriting_inputs(
    out_paths: Iterable[Path],
    inputs: Any,
    *,
    also: Iterable[Path] = (),
    flag: str = "--out",
    example: str = "out/plan",
) -> None:
    """Refuse outputs that are, or would replace, an input file (for every command that writes).

    Parameters
    ----------
    out_paths
        Output files, and output folders (a folder is replaced as a whole, so no input may lie
        inside it).
    inputs
        A ``RunConfig`` (its config file and data files are the inputs, see ``input_paths``) or
        the input paths themselves.
    also
        Further inputs, e.g. the plan file ``sda evaluate`` reads.
    flag
        How the user named the output, for the message (``--out``, ``[output] dir``).
    example
        A folder to suggest in the fix (a re-run's is a sibling of its previous plan).

    Example: ``refuse_overwriting_inputs([out_dir], cfg, also=[plan_path])``.

    Raises
    ------
    OutputError
        Naming the output, the input and the fix (exit 1).
    """
    paths = input_paths(inputs) if hasattr(inputs, "units") else [Path(p) for p in inputs]
    real_inputs = [(p, _real(p)) for p in [*paths, *(Path(p) for p in also)]]
    for out in out_paths:
        target = _real(Path(out))
        for shown, source in real_inputs:
            inside = target == source or target in source.parents
            if inside:
                what = "is" if target == source else "holds"
                msg = (
                    f"{flag} {os.path.normpath(out)} {what} the input {os.path.normpath(shown)}; "
                    "writing there would replace it. "
                    f"Fix: write outputs to a folder of their own, e.g. --out {example}."
                )
                raise OutputError(msg)


def refuse_replacing_another_file(
    path: Path, is_own: Callable[[Path], bool], *, command: str, suffixes: tuple[str, ...], example: str
) -> None:
    """Refuse, before the work, an output file (``sda graph --out``) named for another format, or
    one that exists and is not ``command``'s own earlier output (``is_own``): the swap replaced any
    file at all, another run's plan.gpkg or units.geojson as readily as an old graph.

    Raises
    ------
    OutputError
        Naming the file, what it is and the fix (exit 1).
    """
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        msg = (
            f"--out {path}: {command} writes GeoJSON; expected a file name ending in {' or '.join(suffixes)}. "
            f"Fix: e.g. --out {example}."
        )
        raise OutputError(msg)
    if path.is_file() and not is_own(path):
        msg = (
            f"--out {path} is a file that {command} did not write; writing there would replace it. Fix: choose "
            f"a new file name, e.g. --out {example}, or delete the file first if it is no longer needed."
        )
        raise OutputError(msg)


#: Suffixes of the files sda reads and writes, and of documents: an output folder named with one
#: (``--out changes.txt``) is a file name given where a folder goes, and became a folder of that name.
FILE_SUFFIXES = frozenset(
    (".txt", ".csv", ".tsv", ".md", ".json", ".geojson", ".gpkg", ".shp", ".html", ".pdf", ".png", ".xlsx", ".zip")
)


def refuse_file_name_for_folder(out: Path, command: str, writes: str, flag: str = "--out") -> None:
    """Refuse an output folder named like a file, before the work: the officer expected a file
    and would have found a folder of that name, holding ``writes``.

    Raises
    ------
    OutputError
        Naming the folder, what goes in it and the folder to give instead (exit 1).
    """
    out = Path(out)
    if out.suffix.lower() not in FILE_SUFFIXES:
        return
    folder = out.with_suffix("")
    then = f" ({folder / out.name} is then written)" if out.name in writes else ""
    msg = (
        f"{flag} {out}: {flag} is a folder, and {out.name!r} is named like a file; {command} writes {writes} into "
        f"the folder. Fix: give a folder, e.g. {flag} {folder}{then}."
    )
    raise OutputError(msg)


@contextlib.contextmanager
def claim_output_folder(
    out: Path | None, cfg: Any, command: str, plans: Iterable[Path | None], example: str, flag: str = "--out"
) -> Iterator[None]:
    """Hold ``command``'s output folder for the body (none when ``out`` is None), refused before the
    work if it is, or holds, an input (the data, ``plans``) or another run's files: the one policy of
    propose, evaluate and repair, checked first so that a long run never ends by replacing an input
    or another run's plan. The command's own earlier output is replaced."""
    if out is None:
        yield
        return
    from sda.outputs import refuse_another_runs_files  # here: sda.outputs imports this module

    refuse_file_name_for_folder(out, command, "the plan's files (plan.gpkg, report.html and more)", flag)
    refuse_overwriting_inputs(
        [out], input_paths(cfg), also=[p for p in plans if p is not None], flag=flag, example=example
    )
    with locked(out):
        refuse_another_runs_files(out, command, example=example)
        yield


# --------------------------------------------------------------------------- the lock


@contextlib.contextmanager
def locked(target: Path) -> Iterator[None]:
    """Hold the lock of output ``target`` (a folder or file) for the body, or refuse at once.

    The lock is an OS lock on ``.<name>.sda-lock`` beside the target, so it is released when the
    process dies however it dies; the file is removed on release.
    """
    target = _real(target)
    if target in _HELD:  # this process holds it already (propose locks before the search)
        yield
        return
    parent = _made_parent(target)
    path = parent / f".{target.name}{_LOCK}"
    while True:
        try:
            handle = open(path, "a+")  # noqa: SIM115 - held for the whole body
        except OSError as exc:
            raise _unwritable(parent, exc) from exc
        if not _try_lock(handle):
            handle.close()
            msg = (
                f"another sda run is writing to {target} (lock {path}); wait for it to finish, or choose another --out."
            )
            raise OutputError(msg)
        # The holder before us may have removed the file after we opened it: lock the live one.
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        _HELD.add(target)
        yield
    finally:
        _HELD.discard(target)
        with contextlib.suppress(OSError):
            path.unlink()
        handle.close()


def _try_lock(handle: IO[str]) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _made_parent(target: Path) -> Path:
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        msg = f"cannot create the output folder {parent}: a file of that name is in the way; choose another --out."
        raise OutputError(msg) from exc
    except OSError as exc:
        raise _unwritable(parent, exc) from exc
    return parent


def _unwritable(where: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    msg = f"cannot write to {where} ({reason}); choose a folder you can write to with --out."
    if exc.errno is not None and exc.errno == 28:  # ENOSPC
        msg = f"cannot write to {where}: the disk is full; free some space or choose another --out."
    return OutputError(msg)


# --------------------------------------------------------------------------- cleaning up


def clean_leftovers(target: Path) -> list[Path]:
    """Remove what crashed runs left beside and inside ``target`` (call with the lock held).

    A target missing with an old copy beside it was caught between the two renames of a swap:
    the old copy is put back. Returns the paths removed or restored.
    """
    target = _real(target)
    parent = target.parent
    done: list[Path] = []
    if not parent.is_dir():
        return done
    olds = sorted(parent.glob(f".{target.name}{_OLD}*"))
    if olds and not target.exists():
        os.replace(olds[-1], target)
        done.append(target)
        olds = olds[:-1]
    for leftover in [*olds, *parent.glob(f".{target.name}{_NEW}*")]:
        _remove(leftover)
        done.append(leftover)
    if target.is_dir():
        stale = list(target.glob(".*.tmp*"))
    else:  # a single output file: its temporary siblings
        stale = list(parent.glob(f".{target.stem}.*.tmp{target.suffix}*"))
    for path in stale:
        _remove(path)
        done.append(path)
    return done


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


# --------------------------------------------------------------------------- the swap


def replace_folder(
    target: Path, write: Callable[[Path], list[Path]], *, replaces: frozenset[str] = OUTPUT_NAMES
) -> list[Path]:
    """Build a folder with ``write(staging)`` and swap it in for ``target`` as a whole.

    Parameters
    ----------
    target
        The output folder; created if missing. Files in it that sda does not write are kept.
    write
        Writes the complete set into the (empty) folder it is given, returning the files written.
    replaces
        Names in ``target`` the new set replaces (dropped when ``write`` does not write them);
        everything else in ``target`` is carried over.

    Returns
    -------
    list of Path
        The files written, as paths inside ``target``.

    Raises
    ------
    OutputError
        Another run holds the folder, or it cannot be written (permissions, full disk, a file in
        the way); the folder is then left as it was.
    """
    target = Path(os.path.abspath(target))
    if target.is_symlink():
        target = _real(target)
    if target.exists() and not target.is_dir():
        msg = f"--out {target} is a file; expected a folder (it is created if missing). Fix: choose another --out."
        raise OutputError(msg)
    with locked(target):
        clean_leftovers(target)
        staging = target.parent / f".{target.name}{_NEW}{secrets.token_hex(4)}"
        try:
            try:
                staging.mkdir()
                _match_mode(staging, target)
                written = write(staging)
                _carry_over(target, staging, replaces)
                _sync_folder(staging)
            except OSError as exc:
                raise _unwritable(target, exc) from exc
            _swap(staging, target)
        finally:
            _remove(staging)  # after a swap this holds the previous set
    return [target / p.relative_to(staging) for p in written]


def _match_mode(staging: Path, target: Path) -> None:
    """A new folder gets the permissions the user's umask gives, or those of the folder it replaces."""
    if target.is_dir():
        mode = target.stat().st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o777 & ~umask
    os.chmod(staging, mode)


def _carry_over(target: Path, staging: Path, replaces: frozenset[str]) -> None:
    """Keep files in ``target`` that the new set does not replace (hard links, else copies)."""
    if not target.is_dir():
        return
    for entry in target.iterdir():
        if entry.name in replaces or (entry.name.startswith(".") and ".tmp" in entry.name):
            continue
        dest = staging / entry.name
        if dest.exists():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, dest, symlinks=True, copy_function=_link_or_copy)
        elif entry.is_symlink():
            os.symlink(os.readlink(entry), dest)
        else:
            _link_or_copy(str(entry), str(dest))


def _link_or_copy(source: str, dest: str) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def _sync_folder(folder: Path) -> None:
    """Flush the new files to disk before the swap makes them visible (no-op where unsupported)."""
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def _swap(staging: Path, target: Path) -> None:
    """Put ``staging`` in place of ``target``; afterwards ``staging`` holds the old set (if any)."""
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        return
    old = target.parent / f".{target.name}{_OLD}{secrets.token_hex(4)}"
    try:
        os.rename(target, old)
    except OSError as exc:
        msg = (
            f"cannot replace {target} ({exc.strerror}); a file in it may be open in another program "
            "(QGIS, Excel): close it and run again. The folder is unchanged."
        )
        raise OutputError(msg) from exc
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(old, target)
        raise
    os.rename(old, staging)  # so that the caller removes the old set


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(result == 0)


# --------------------------------------------------------------------------- single files


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
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


def write_bytes(path: Path, data: bytes) -> Path:
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return path


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_file_atomically(path: Path, write: Callable[[Path], object], inputs: Iterable[Path] = ()) -> Path:
    """Write one output file (``sda graph --out``): refuse inputs, lock, temp file, rename.

    ``write`` is given a hidden temporary path in the same folder, with the target's suffix.
    """
    path = Path(os.path.abspath(path))
    refuse_overwriting_inputs([path], inputs)
    if path.is_dir():
        msg = f"--out {path} is a folder; expected a file name, e.g. --out graph.geojson."
        raise OutputError(msg)
    with locked(path):
        clean_leftovers(path)
        try:
            with replacing(path) as tmp:
                write(tmp)
        except OSError as exc:
            raise _unwritable(path.parent, exc) from exc
    return path
