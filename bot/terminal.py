"""Render channel-neutral dialog output as plain terminal text."""

from __future__ import annotations

import shutil
import textwrap

from dialogs.output import Block, Line, Option, Prompt

MAX_WIDTH = 100   # wider lines read badly, even on a wide terminal
MIN_WIDTH = 40


def width() -> int:
    """The terminal's width (COLUMNS first, as shutil does), kept between 40 and 100 columns; read on
    every call, so a resized window is followed."""
    return max(MIN_WIDTH, min(MAX_WIDTH, shutil.get_terminal_size((MAX_WIDTH, 24)).columns))


def fit(text: str) -> str:
    """A message of the console's own, each line longer than the terminal wrapped to it (commands and
    case codes are not broken)."""
    w = width()
    return "\n".join(textwrap.fill(line, w, break_long_words=False, break_on_hyphens=False)
                     if len(line) > w else line for line in text.split("\n"))


def render_line(line: Line) -> str:
    w = width()
    if line.style == "title":
        return f"\n{line.text}\n{'=' * min(len(line.text), w)}"
    if line.style == "heading":
        return f"\n{line.text}"
    if line.style == "item":
        return textwrap.fill(line.text, w, initial_indent="  • ", subsequent_indent="    ")
    if line.style == "subitem":
        return textwrap.fill(line.text, w, initial_indent="      - ", subsequent_indent="        ")
    if line.style == "alert":
        return textwrap.fill(line.text, w, initial_indent="!! ", subsequent_indent="   ")
    if line.style == "muted":
        return textwrap.fill(line.text, w, initial_indent="  ", subsequent_indent="  ")
    return textwrap.fill(line.text, w)


def render_block(block: Block) -> str:
    text = "\n".join(render_line(line) for line in block.lines)
    if block.kind == "alert":
        bar = "!" * min(60, width())
        return f"\n{bar}\n{text.strip()}\n{bar}"
    return text


FIRST = "finish"   # "Klaar" is always 1 in the console, however many other choices the prompt offers


def numbered(prompt: Prompt) -> list[Option]:
    """The prompt's options in the order the console numbers them: the door's order, except that
    "Klaar" comes first on a line of its own, so a person who typed 1 last time types 1 again."""
    first = [o for o in prompt.options if o.id == FIRST]
    if not first:
        return list(prompt.options)
    rows = sorted({o.row for o in prompt.options})
    top = rows[0] - 1
    return [Option(o.id, o.label, top) for o in first] + [o for o in prompt.options if o.id != FIRST]


def render_prompt(prompt: Prompt) -> str:
    parts: list[str] = [""]
    if prompt.progress:
        parts.append(f"[{prompt.progress}]")
    parts += [textwrap.fill(p, width()) if p.strip() else p for p in prompt.text.split("\n")]
    if prompt.current:
        parts.append(f"({prompt.current})")
    rows: dict[int, list[str]] = {}
    for i, opt in enumerate(numbered(prompt), 1):
        rows.setdefault(opt.row, []).append(f"{i}) {opt.label}")
    parts += ["   ".join(labels) for _, labels in sorted(rows.items())]
    return "\n".join(parts)
