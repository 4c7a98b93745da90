"""sda.signals: Ctrl-C and SIGTERM held back while numba loads the kernels, then handled."""

from __future__ import annotations

import ctypes
import signal
import threading
from collections.abc import Iterator

import pytest
from helpers import grid_graph, problem_of

from sda.cli import Terminated, _raise_terminated
from sda.engine.search import compile_kernels
from sda.signals import held_signals

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_kill"),
    reason="signal handlers are set in the main thread only; pthread_kill is POSIX",
)


@pytest.fixture
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raises ``Terminated``, as under ``sda.cli.guarded``."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _sigterm_inside_a_ctypes_callback() -> None:
    """A SIGTERM handled in Python code that a C library calls back through ctypes, as llvmlite
    does while numba loads a kernel: held back until then, it is handled inside the callback."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    @ctypes.CFUNCTYPE(None)
    def callback() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # the handler runs here

    callback()


def test_a_sigterm_while_the_kernels_load_is_handled_once_they_are_loaded(
    sigterm_raises: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handler's Terminated, raised in llvmlite's ctypes callback while numba loaded the kernels,
    # was printed as "Exception ignored on calling ctypes callback function" and lost: sda repair
    # went on and wrote its plan (1 SIGTERM in 14 sent during the load, on the shipped data).
    loaded = []

    def warm_up(problem: object) -> None:
        _sigterm_inside_a_ctypes_callback()
        loaded.append(True)

    monkeypatch.setattr("sda.engine.search.warm_up", warm_up)
    with pytest.raises(Terminated):
        compile_kernels(problem_of(grid_graph(2, 2), 10, 30))
    assert loaded == [True]  # the load ran to its end first


def test_held_signals_hand_each_signal_to_the_handler_in_force_before(sigterm_raises: None) -> None:
    with pytest.raises(Terminated), held_signals():
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)  # one handling for the signal, as the system gives
        assert signal.getsignal(signal.SIGTERM) is not _raise_terminated
    assert signal.getsignal(signal.SIGTERM) is _raise_terminated
    with held_signals():  # none arrived: nothing raised
        pass
