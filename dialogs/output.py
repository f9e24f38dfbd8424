"""Channel-neutral output of a dialog turn.

Dialogs say *what* to show (a block of lines with a style, a prompt with options); each
channel decides *how* (Telegram HTML and inline keyboards, numbered lines in a terminal).
Texts here are plain: channels escape them for their own markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dialogs.domain import Mode

LineStyle = Literal["title", "heading", "text", "item", "subitem", "alert", "muted"]
BlockKind = Literal["info", "alert", "interim", "summary", "notice", "short"]   # short: a summary's first screen


@dataclass(frozen=True)
class Line:
    text: str
    style: LineStyle = "text"


@dataclass(frozen=True)
class Block:
    """One message's worth of lines (a channel may still split it to fit size limits)."""

    lines: tuple[Line, ...]
    kind: BlockKind = "info"


@dataclass(frozen=True)
class Option:
    """A choice: `id` is the event token sent back (yes, no, unknown, back, skip, begin, no_note)."""

    id: str
    label: str
    row: int = 0


@dataclass(frozen=True)
class Prompt:
    """What the user is asked now; edited in place by channels that can."""

    text: str
    options: tuple[Option, ...] = ()
    progress: str | None = None
    current: str | None = None       # the earlier answer, when going back to a question
    accepts_text: bool = False       # free text is an answer here (the closing note)
    question_id: str | None = None   # signal or red flag id, for channels that want it


@dataclass(frozen=True)
class Reply:
    """The result of one event: new messages first, then the prompt (if the case goes on)."""

    case_code: str
    step: int
    blocks: tuple[Block, ...] = ()
    prompt: Prompt | None = None
    finished: bool = False
    toast: str | None = None          # a short acknowledgement (Telegram's callback answer)
    refused: bool = False             # nothing was changed
    duplicate: bool = False           # the same update was handled before: say nothing
    reason: str | None = None         # why it was refused (a text key such as refuse.stale)
    mode: str = Mode.FULL             # a Mode: full | quick | training
    attachments: tuple[str, ...] = ()  # reports the channel may add now, e.g. "lens_picture"
    saved: tuple[str, ...] = field(default=())   # item ids whose answers this turn stored
