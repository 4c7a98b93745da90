"""HTML rendering of the report blocks: one self-contained page (inline CSS, figures as data
URIs) that opens offline and can be emailed. Every string from data or config is escaped."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sda.maps import render_figures
from sda.plan import Plan
from sda.report.blocks import FIGURE_TITLES, Card, Figure, Heading, List, Para, Pre, Table
from sda.report.css import CSS
from sda.report.sections import build_blocks


def render_report_html(
    plan: Plan, *, figures: Mapping[str, bytes | None] | None = None, blocks: Sequence[Any] | None = None
) -> str:
    """Render the report as one self-contained HTML page (inline CSS, figures as data URIs).

    Parameters
    ----------
    plan
        The plan to explain.
    figures
        Pre-drawn figures from ``sda.maps.render_figures`` (to avoid drawing twice); drawn here
        when omitted.
    blocks
        The report's blocks (``sda.report.sections.build_blocks``) when already built for
        exactly the figures drawn (``write_outputs`` builds them once for both renderings).

    Returns
    -------
    str
        The HTML document.
    """
    if figures is None:
        figures = render_figures(plan)
    if blocks is None:
        blocks = build_blocks(plan, available={k for k, v in figures.items() if v})
    body = _to_html(blocks, figures)
    title = html.escape(f"Service delivery areas: {len(plan.areas)} areas")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


def _to_html(blocks: Sequence[Any], figures: Mapping[str, bytes | None]) -> str:
    return "\n".join(_html_block(block, figures) for block in blocks)


def _html_block(block: Any, figures: Mapping[str, bytes | None]) -> str:
    esc = html.escape
    if isinstance(block, Heading):
        return f'<h{block.level} id="{_slug(block.text)}">{esc(block.text)}</h{block.level}>'
    if isinstance(block, Para):
        if not block.text:
            return ""
        label = f"<strong>{esc(block.label)}:</strong> " if block.label else ""
        return f"<p>{label}{esc(block.text)}</p>"
    if isinstance(block, List):
        items = "".join(
            f"<li><strong>{esc(label)}:</strong> {esc(text)}</li>" if label else f"<li>{esc(text)}</li>"
            for label, text in block.items
        )
        return f"<ul>{items}</ul>"
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Figure):
        data = figures.get(block.key)
        if not data:
            return f"<p><em>{esc(FIGURE_TITLES.get(block.key, block.key))}: not drawn.</em></p>"
        encoded = base64.b64encode(data).decode("ascii")
        alt = esc(FIGURE_TITLES.get(block.key, block.key))
        return (
            f'<figure><img src="data:image/png;base64,{encoded}" alt="{alt}">'
            f"<figcaption>{esc(block.caption)}</figcaption></figure>"
        )
    if isinstance(block, Pre):
        return f"<details><summary>Configuration</summary><pre>{esc(block.text)}</pre></details>"
    if isinstance(block, Card):
        inner = "\n".join(_html_block(b, figures) for b in block.blocks)
        return f'<section class="card"><h3 id="{_slug(block.title)}">{esc(block.title)}</h3>{inner}</section>'
    msg = f"unknown report block {block!r}"
    raise TypeError(msg)


def _html_table(table: Table) -> str:
    esc = html.escape

    def cls(i: int) -> str:
        return ' class="num"' if i in table.right else ""

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(table.headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{esc(c)}</td>" for i, c in enumerate(row)) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
