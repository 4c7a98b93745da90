"""sda: propose service delivery areas by clustering parishes (or small areas).

Contiguous areas inside a population band, aligned to NHS Primary Care Networks, compact,
optionally nested in districts and honouring officers' locks. ``sda.api.run`` is the whole job;
``sda.cli`` is its command line.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

#: The one place the version is written: pyproject.toml reads it (``dynamic``), and ``sda --version``,
#: provenance and the output files report it. Bump it with a CHANGELOG.md entry.
__version__ = "0.1.0"

__all__ = ["NUMBA_CACHE_NOTE", "__version__"]


def _can_write(folder: Path) -> bool:
    """Can a file be made in ``folder`` (created if missing)? The test numba itself makes."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _choose_numba_cache() -> str | None:
    """Point numba's on-disk cache at a temporary folder when it could not write one elsewhere.

    The compiled kernels are cached (``cache=True``) beside the package or in the user's cache
    folder; a system-wide install on a locked-down PC has neither writable, and numba would then
    fail at import. Returns a note for the user when the fallback is used, else None.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    candidates = [Path(__file__).resolve().parent / "engine" / "__pycache__"]
    with contextlib.suppress(RuntimeError):  # RuntimeError: no home folder at all
        candidates.append(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba")
    if any(_can_write(c) for c in candidates):
        return None
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    fallback = Path(tempfile.gettempdir()) / f"sda-numba-cache-{user}"
    os.environ["NUMBA_CACHE_DIR"] = str(fallback)
    return (
        "numba cannot write its cache beside sda or in your home folder; compiled kernels are "
        f"cached in {fallback} instead (a new session may compile them again, about 10 s)."
    )


#: Set when numba's cache was moved to a temporary folder; the CLI shows it once.
NUMBA_CACHE_NOTE = _choose_numba_cache()
