"""Markdown rendering of the report blocks."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sda.maps import drawable_figures
from sda.plan import Plan
from sda.report.blocks import FIGURE_TITLES, Card, Figure, Heading, List, Para, Pre, Table
from sda.report.sections import build_blocks


def render_report_md(
    plan: Plan, *, images: Mapping[str, str] | None = None, blocks: Sequence[Any] | None = None
) -> str:
    """Render the report as Markdown.

    Parameters
    ----------
    plan
        The plan to explain.
    images
        Figure key (``"map"``, ``"frontier"``, ``"ensemble"``) -> relative path of a PNG already
        written next to the report (``sda.outputs.write_report`` does this). Figures without a
        path are referred to ``report.html``, which embeds them.
    blocks
        The report's blocks (``sda.report.sections.build_blocks``) when already built for the
        figures this plan can draw (``write_outputs`` builds them once for both renderings).

    Returns
    -------
    str
        The Markdown text.
    """
    if blocks is None:
        blocks = build_blocks(plan, available=drawable_figures(plan))
    return _to_markdown(blocks, images or {})


def _to_markdown(blocks: Sequence[Any], images: Mapping[str, str]) -> str:
    out: list[str] = []
    for block in blocks:
        out.extend(_md_block(block, images))
    return "\n\n".join(part for part in out if part) + "\n"


#: Characters that could make data into a link, image, code span or table cell edge.
_MD_SPECIAL = re.compile(r"([\\`\[\]|])")


#: An ``&`` that Markdown would read as the start of a character reference (``&amp;``, ``&#38;``).
_ENTITY_START = re.compile(r"&(?=#?[0-9A-Za-z]+;)")


def md_text(text: Any, *, cell: bool = False) -> str:
    """Text from data or config as inert Markdown: no links, images, emphasis, code or raw HTML.

    ``<`` and ``>`` become entities (so ``<script>`` and ``<javascript:...>`` autolinks are
    shown, not run), and so does ``&`` where it would start an entity (``&copy;``); a plain
    ``&``, as in "Littleport & Coveney", stays readable in the text file. Brackets, backticks,
    backslashes and pipes are backslash-escaped, line breaks become spaces, and (outside table
    cells) a leading ``-``, ``+``, ``*``, ``#`` or ``1.`` cannot start a list or heading.
    """
    out = _ENTITY_START.sub("&amp;", str(text)).replace("<", "&lt;").replace(">", "&gt;")
    out = _MD_SPECIAL.sub(r"\\\1", out).replace("\r", " ").replace("\n", " ")
    if cell:
        return out
    out = re.sub(r"^(\s*)([-+*#])(?=\s|$)", r"\1\\\2", out)
    return re.sub(r"^(\s*\d+)([.)])(?=\s|$)", r"\1\\\2", out)


def _md_block(block: Any, images: Mapping[str, str]) -> list[str]:
    if isinstance(block, Heading):
        return ["#" * block.level + " " + md_text(block.text)]
    if isinstance(block, Para):
        return [(f"**{md_text(block.label)}:** " if block.label else "") + md_text(block.text)]
    if isinstance(block, List):
        return [
            "\n".join(
                f"- **{md_text(label)}:** {md_text(text)}" if label else f"- {md_text(text)}"
                for label, text in block.items
            )
        ]
    if isinstance(block, Table):
        return [_md_table(block)]
    if isinstance(block, Figure):
        if block.key.startswith("locator-") and block.key not in images:
            return []  # the area cards' small maps are drawn in report.html only
        title = md_text(FIGURE_TITLES.get(block.key, block.key))
        if block.key in images:
            return [f"![{title}]({images[block.key]})\n\n*{md_text(block.caption)}*"]
        return [f"*{title}: see report.html.*"]
    if isinstance(block, Pre):
        # A fence longer than any run of backticks in the text, so nothing in it can close it.
        longest = max((len(run) for run in re.findall(r"`+", block.text)), default=0)
        fence = "`" * max(3, longest + 1)
        return [f"{fence}json\n" + block.text + f"\n{fence}"]
    if isinstance(block, Card):
        return ["### " + md_text(block.title), *(part for b in block.blocks for part in _md_block(b, images))]
    msg = f"unknown report block {block!r}"
    raise TypeError(msg)


def _md_table(table: Table) -> str:
    def cell(text: str) -> str:
        return md_text(text, cell=True)

    align = ["---:" if i in table.right else "---" for i in range(len(table.headers))]
    lines = ["| " + " | ".join(cell(h) for h in table.headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)
