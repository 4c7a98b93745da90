"""The processes a measured run is made of, read from ``/proc`` (Linux).

A method's own ``os.wait4`` counts only the processes it waits for. sda's workers are forked by
a fork server that the run does not wait for (it exits when the run does), so their CPU time
and memory reach the benchmark only by looking at the processes themselves while they run.
"""

from __future__ import annotations

import os
from pathlib import Path

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def _stat_fields(pid: str) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name (which may hold spaces): state first."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_ns(pid: int) -> int | None:
    """CPU time the process has used so far, in nanoseconds, or None once it is gone."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def rss_mb(pid: int) -> float:
    """The process's resident memory now (0 once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        return 0.0


def descendants(pid: int) -> list[int]:
    """Every process under ``pid``: the workers may be its grandchildren (forked by a fork server)."""
    children: dict[str, list[str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat.parent.name)
        if fields is not None and len(fields) > 1:
            children.setdefault(fields[1], []).append(stat.parent.name)
    found, stack = [], [str(pid)]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(int(child))
            stack.append(child)
    return found


def in_session(sid: int) -> list[int]:
    """Every process of session ``sid`` (a run started with ``start_new_session`` is the leader of
    its own, and the processes it starts stay in it, orphaned or not)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat.parent.name)
        if fields is not None and len(fields) > 3 and fields[3] == str(sid):
            found.append(int(stat.parent.name))
    return found


class SessionWatch:
    """Samples a session's processes: the CPU each of the others (not the leader) last showed,
    and the largest sum of resident memory over all of them at one moment (shared pages are
    counted once per process, so this overstates what forked workers really add)."""

    def __init__(self, sid: int) -> None:
        self.sid = sid
        self.others_cpu_ns: dict[int, int] = {}
        self.peak_sum_mb = 0.0

    def sample(self) -> None:
        total = 0.0
        for pid in in_session(self.sid):
            total += rss_mb(pid)
            if pid != self.sid and (used := cpu_ns(pid)) is not None:
                self.others_cpu_ns[pid] = used
        self.peak_sum_mb = max(self.peak_sum_mb, total)

    @property
    def others_cpu_s(self) -> float:
        return sum(self.others_cpu_ns.values()) / 1e9
