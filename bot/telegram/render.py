"""Dialog output as Telegram HTML messages and inline keyboards.

Everything that comes from users or data is escaped; formatting comes only from line styles.
Long output is split below Telegram's 4096-character limit at line boundaries, so a summary
never arrives cut in the middle of a sentence (a single over-long line is split at spaces).
"""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram.callback import Callback
from dialogs.output import Block, Line, Prompt

LIMIT = 4096
SAFE_LIMIT = 4000   # headroom: Telegram counts UTF-16 code units after entity parsing


def line_html(line: Line) -> str:
    text = escape(line.text, quote=False)
    if line.style == "title":
        return f"<b>{text}</b>"
    if line.style == "heading":
        return f"\n<b>{text}</b>"
    if line.style == "item":
        return f"• {text}"
    if line.style == "subitem":
        return f"    ◦ {text}"
    if line.style == "alert":
        return f"⚠️ <b>{text}</b>"
    if line.style == "muted":
        return f"<i>{text}</i>"
    return text


def block_html(block: Block) -> str:
    return "\n".join(line_html(line) for line in block.lines).strip()


def blocks_messages(blocks: tuple[Block, ...] | list[Block]) -> list[str]:
    """Consecutive summary blocks share messages; other blocks start their own."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        html = block_html(block)
        if block.kind == "summary" and current and utf16_len(current) + utf16_len(html) + 2 <= SAFE_LIMIT:
            current += "\n\n" + html
            continue
        if current:
            messages += split_message(current)
        current = html
    if current:
        messages += split_message(current)
    return messages


def prompt_html(prompt: Prompt, note: str | None = None) -> str:
    parts = []
    if prompt.progress:
        parts.append(f"<b>{escape(prompt.progress, quote=False)}</b>")
    parts.append(escape(prompt.text, quote=False))
    if prompt.current:
        parts.append(f"<i>{escape(prompt.current, quote=False)}</i>")
    if note:
        parts.append(f"<i>{escape(note, quote=False)}</i>")
    return "\n\n".join(parts)


def keyboard(prompt: Prompt, code: str, step: int) -> InlineKeyboardMarkup | None:
    if not prompt.options:
        return None
    rows: dict[int, list[InlineKeyboardButton]] = {}
    for opt in prompt.options:
        data = Callback("q", code, step, opt.id).encode()
        rows.setdefault(opt.row, []).append(InlineKeyboardButton(opt.label, callback_data=data))
    return InlineKeyboardMarkup([rows[r] for r in sorted(rows)])


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_message(html: str, limit: int = SAFE_LIMIT) -> list[str]:
    """Split at line boundaries below `limit`; tags never span lines in our output."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in html.split("\n"):
        pieces = _split_long_line(line, limit) if utf16_len(line) > limit else [line]
        for n, piece in enumerate(pieces):
            extra = utf16_len(piece) + (1 if current else 0)
            # pieces of one over-long line never share a message: joining them would add a line break
            if current and (n > 0 or size + extra > limit):
                chunks.append("\n".join(current).strip("\n"))
                current, size = [], 0
                extra = utf16_len(piece)
            current.append(piece)
            size += extra
    if current:
        chunks.append("\n".join(current).strip("\n"))
    return [c for c in chunks if c.strip()]


def _split_long_line(line: str, limit: int) -> list[str]:
    """A line longer than a message: split at spaces outside tags (plain text only in practice)."""
    words = line.split(" ")
    out: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if utf16_len(candidate) > limit and current:
            out.append(current)
            current = word
        else:
            current = candidate
        while utf16_len(current) > limit:   # one enormous word: hard cut, never inside an entity
            cut = limit // 2
            amp = current.rfind("&", max(0, cut - 8), cut)
            if amp > 0 and ";" not in current[amp:cut]:
                cut = amp
            out.append(current[:cut])
            current = current[cut:]
    if current:
        out.append(current)
    return out
