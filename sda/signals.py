"""Ctrl-C and SIGTERM held back while a library cannot take an exception.

Python runs a signal's handler in whatever Python code runs next, and ``sda``'s handlers raise
(``KeyboardInterrupt``, the CLI's ``Terminated``). While numba loads or compiles a kernel,
llvmlite calls back into Python through ctypes, which only prints an exception raised there
("Exception ignored on calling ctypes callback function"): the signal was lost, the run went
on, and LLVM then read a buffer the callback never made (a segfault). ``held_signals`` lets
such a block finish and handles the signal right after it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["held_signals"]

#: The signals whose handlers raise in the command line (``sda.cli.guarded``).
HELD = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Run the block with Ctrl-C and SIGTERM noted instead of handled; those that arrived are
    raised again once it ends, to the handlers in force before it. Outside the main thread
    (where no handler can be set, and none runs) the block runs as it is."""
    if threading.current_thread() is not threading.main_thread() or None in map(signal.getsignal, HELD):
        yield  # None: a handler set outside Python, which could not be put back
        return
    arrived: list[int] = []

    def note(signum: int, frame: Any) -> None:
        arrived.append(signum)

    previous = {signum: signal.signal(signum, note) for signum in HELD}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for held in dict.fromkeys(arrived):
            signal.raise_signal(held)
