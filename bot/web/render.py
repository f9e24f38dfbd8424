"""Dialog output (blocks of styled lines, prompts with options) as parts a template renders.

Plain data only: templates escape every text (Jinja2 autoescape). Consecutive items become one
list, a title a heading, an alert a strong warning; a prompt's first paragraph is the question
heading that receives the focus, its option rows become rows of buttons.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dialogs.app import Block, Line, Option, Prompt


@dataclass
class Item:
    text: str
    sub: list[str] = field(default_factory=list)


@dataclass
class Part:
    """kind: "h" (heading; `level`), "p" (paragraph; `style` text/muted/alert) or "ul" (`items`)."""

    kind: str
    text: str = ""
    style: str = "text"
    level: int = 2
    items: list[Item] = field(default_factory=list)


@dataclass
class ShownBlock:
    kind: str
    parts: list[Part]


def block_parts(block: Block, level: int = 2) -> ShownBlock:
    """One block as headings, paragraphs and lists; `level` is the heading level of a title."""
    parts: list[Part] = []
    for line in block.lines:
        text = line.text.strip("\n")
        if not text.strip():
            continue
        if line.style in ("item", "subitem"):
            _add_item(parts, line)
        elif line.style == "title":
            parts.append(Part("h", text, level=level))
        elif line.style == "heading":
            parts.append(Part("h", text, level=min(level + 1, 6)))
        else:
            parts.append(Part("p", text, style=line.style))
    return ShownBlock(block.kind, parts)


def _add_item(parts: list[Part], line: Line) -> None:
    if not parts or parts[-1].kind != "ul":
        parts.append(Part("ul"))
    items = parts[-1].items
    if line.style == "subitem" and items:
        items[-1].sub.append(line.text)
    else:
        items.append(Item(line.text))


def blocks_parts(blocks: tuple[Block, ...] | list[Block], level: int = 2) -> list[ShownBlock]:
    return [block_parts(b, level) for b in blocks]


@dataclass
class ShownPrompt:
    heading: str
    paragraphs: list[str]
    rows: list[list[Option]]
    progress: str | None
    current: str | None
    accepts_text: bool


def prompt_parts(prompt: Prompt) -> ShownPrompt:
    """The question (first paragraph) as the heading, the rest as paragraphs, options by row."""
    paragraphs = [p.strip() for p in prompt.text.split("\n\n") if p.strip()]
    heading = paragraphs[0] if paragraphs else ""
    rows: dict[int, list[Option]] = {}
    for option in prompt.options:
        rows.setdefault(option.row, []).append(option)
    return ShownPrompt(heading, paragraphs[1:], [rows[r] for r in sorted(rows)], prompt.progress,
                       prompt.current, prompt.accepts_text)
