"""The report's content as simple blocks (headings, paragraphs, lists, tables, figures, cards).

Sections build lists of these; the Markdown and HTML renderers write them out, so both versions
always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Titles of the figures a report can embed, by key.
FIGURE_TITLES = {
    "map": "Map of the proposed areas",
    "frontier": "Trade-offs between alternative runs",
    "ensemble": "Where this plan sits among alternative valid plans",
    "changes": "Units moved since the previous plan",
}


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    text: str
    label: str = ""  # shown in bold before the text


@dataclass
class List:
    items: list[tuple[str, str]]  # (bold label, text); an empty label gives a plain item


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    right: set[int] = field(default_factory=set)  # numeric columns, right-aligned


@dataclass
class Figure:
    key: str
    caption: str


@dataclass
class Pre:
    text: str


@dataclass
class Card:
    title: str
    blocks: list[Any]
