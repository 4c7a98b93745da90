"""The report: a Plan explained for officers and committee, as Markdown and self-contained HTML.

The package reads only the Plan (never re-running anything), so ``sda report DIR`` can re-render
it from a saved output folder. ``analysis`` computes the facts, ``sections`` turns them into
blocks (``blocks``), and ``markdown`` and ``html`` render the same blocks, so both versions always
say the same thing; ``css`` holds the stylesheet.
"""

from sda.report.analysis import movable_units
from sda.report.html import render_report_html
from sda.report.markdown import render_report_md
from sda.report.sections import ENSEMBLE_RANKED

__all__ = ["ENSEMBLE_RANKED", "movable_units", "render_report_html", "render_report_md"]
