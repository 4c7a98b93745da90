"""Progress messages: the callback type that long steps take, so nothing below the CLI prints.

``sda.api``, the search and the trade-offs report what they are doing by calling a
``Progress`` with one line of text; ``sda.cli`` decides where (stderr) and whether (``--quiet``)
it is shown, and a notebook can pass ``print`` or nothing.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress"]

#: Called with one human-readable line, e.g. ``"read 487 units, 859,830 residents from ..."``.
Progress = Callable[[str], None]
