"""Worker: time ``sda.api.sample_plans(cfg, n)``, sda's generator of alternative valid plans.

Run in a subprocess by ``run.py``::

    python bench/sample_plans.py CONFIG N OUT_JSON

Writes ``{"seconds": ..., "n_requested": N, "n_returned": ...}``, or ``{"error": ...}`` when
sda does not provide ``sample_plans`` yet ("not available") or the call fails.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    """Time one call and write the result; exit 3 when the function is not available."""
    config, n, out = Path(argv[0]), int(argv[1]), Path(argv[2])
    try:
        from sda.api import sample_plans
        from sda.config import load_config
    except ImportError as exc:
        out.write_text(json.dumps({"error": f"not available: {exc}"}))
        return 3
    cfg = load_config(config)
    started = time.perf_counter()
    try:
        plans = sample_plans(cfg, n)
    except Exception as exc:  # record sda's own error
        out.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:500]}))
        return 1
    seconds = time.perf_counter() - started
    out.write_text(json.dumps({"seconds": seconds, "n_requested": n, "n_returned": len(plans)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
