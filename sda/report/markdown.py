"""Markdown rendering of the report blocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sda.maps import drawable_figures
from sda.plan import Plan
from sda.report.blocks import FIGURE_TITLES, Card, Figure, Heading, List, Para, Pre, Table
from sda.report.sections import build_blocks


def render_report_md(plan: Plan, *, images: Mapping[str, str] | None = None) -> str:
    """Render the report as Markdown.

    Parameters
    ----------
    plan
        The plan to explain.
    images
        Figure key (``"map"``, ``"frontier"``, ``"ensemble"``) -> relative path of a PNG already
        written next to the report (``sda.outputs.write_report`` does this). Figures without a
        path are referred to ``report.html``, which embeds them.

    Returns
    -------
    str
        The Markdown text.
    """
    return _to_markdown(build_blocks(plan, available=drawable_figures(plan)), images or {})


def _to_markdown(blocks: Sequence[Any], images: Mapping[str, str]) -> str:
    out: list[str] = []
    for block in blocks:
        out.extend(_md_block(block, images))
    return "\n\n".join(part for part in out if part) + "\n"


def _md_block(block: Any, images: Mapping[str, str]) -> list[str]:
    if isinstance(block, Heading):
        return ["#" * block.level + " " + block.text]
    if isinstance(block, Para):
        return [(f"**{block.label}:** " if block.label else "") + block.text]
    if isinstance(block, List):
        return ["\n".join(f"- **{label}:** {text}" if label else f"- {text}" for label, text in block.items)]
    if isinstance(block, Table):
        return [_md_table(block)]
    if isinstance(block, Figure):
        if block.key in images:
            return [f"![{FIGURE_TITLES.get(block.key, block.key)}]({images[block.key]})\n\n*{block.caption}*"]
        return [f"*{FIGURE_TITLES.get(block.key, block.key)}: see report.html.*"]
    if isinstance(block, Pre):
        return ["```json\n" + block.text + "\n```"]
    if isinstance(block, Card):
        return ["### " + block.title, *(part for b in block.blocks for part in _md_block(b, images))]
    msg = f"unknown report block {block!r}"
    raise TypeError(msg)


def _md_table(table: Table) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    align = ["---:" if i in table.right else "---" for i in range(len(table.headers))]
    lines = ["| " + " | ".join(cell(h) for h in table.headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)
