"""A fake Telegram Bot API server for lensbot's end-to-end tests.

Why this exists
---------------
lensbot is a python-telegram-bot (PTB 22) application. Unit tests with mocked
``Bot`` objects cannot catch the bugs that matter most in a chatbot: a reply
that Telegram rejects (text too long, broken HTML, ``callback_data`` over 64
bytes), an edit that Telegram refuses as "message is not modified", a handler
that never answers a callback query, an update that is handled twice. This
module runs a small HTTP server on ``127.0.0.1`` that speaks enough of the Bot
API for the *real* PTB ``Application`` (polling) to talk to it, enforces
Telegram's limits, and lets a test script users and read what the bot showed.
It never contacts Telegram.

How to use it
-------------
::

    async with FakeBotAPI() as server:
        app = (
            ApplicationBuilder()
            .token(server.token)
            .base_url(server.base_url)            # "http://127.0.0.1:PORT/bot"
            .base_file_url(server.base_file_url)  # "http://127.0.0.1:PORT/file/bot"
            .build()
        )
        app.add_handler(...)
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0, timeout=1)

            ann = server.user(1001, first_name="Ann")
            await ann.send_and_wait("/start")
            assert ann.buttons() == [["Yes", "No"]], ann.transcript()
            await ann.tap_and_wait("Yes")
            assert ann.last_message.text == "You said yes"

            await app.updater.stop()
            await app.stop()
        assert server.violations == []

PTB appends the token to ``base_url``, so ``http://127.0.0.1:PORT/bot`` becomes
``http://127.0.0.1:PORT/bot<token>/<method>``. PTB sends parameters as
``application/x-www-form-urlencoded`` (``multipart/form-data`` for uploads) in
which plain strings are sent as-is and everything else (numbers, booleans,
``reply_markup``...) is JSON encoded; JSON bodies are accepted as well.

Everything is single-threaded: the server runs in the test's event loop, so the
test can inspect ``server.calls``, ``user.messages`` etc. at any time. The
``send``/``tap``/``tap_data``/``inject_update`` helpers only enqueue an update and
return its id as an :class:`UpdateId` (an ``int`` that may also be awaited, so
``await user.send(...)`` works too); use the ``*_and_wait`` helpers
(or ``server.wait_for``) to let the bot fetch and handle it. Those helpers wait
for events, not for fixed sleeps: the update must be fetched by ``getUpdates``,
the bot must make at least one API call for that chat afterwards, and then the
chat must be quiet for ``quiet`` seconds (50 ms by default). A call answered
with an injected fault does not count as that API call, and after a fault the
chat stays "busy" for ``retry_after`` (429 only) plus ``fault_grace`` seconds,
so a bot that retries is waited for. No pause is needed where the bot says when it is done: an
in-process harness calls ``mark_handled`` (``track_handling``), and for a bot in another process
``settle_with_sentinels`` makes the wait end when the bot has answered a sentinel tap sent after
the update (one chat is handled in order).

Differences from the real Telegram worth knowing:

* A bare ``&`` that does not start an entity is an error here (the Bot API
  docs demand ``&amp;``; Telegram itself silently keeps it). Pass
  ``strict_ampersand=False`` to mirror Telegram exactly.
* Sending to a chat the fake has never seen answers "chat not found", like
  Telegram; create the chat first with ``server.user()``/``server.group()``
  (or ``strict_chats=False``).
* MarkdownV2/Markdown texts are stored verbatim, not parsed.
* Methods the fake does not implement answer 404 "Not Found" (PTB raises
  ``InvalidToken`` for that) and are listed in ``server.unknown_methods``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Collection, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

__all__ = [
    "ApiError",
    "CallbackAnswer",
    "ChatEvent",
    "FakeBotAPI",
    "FakeUser",
    "FaultPlan",
    "HTMLParseError",
    "SentMessage",
    "UpdateId",
    "UploadedFile",
    "Violation",
    "parse_html",
    "utf16_len",
]

# --------------------------------------------------------------------------
# Telegram limits and error texts
# --------------------------------------------------------------------------

MAX_TEXT_LENGTH = 4096  # UTF-16 code units, after entity parsing
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
# The data of a sentinel tap (FakeBotAPI.settle_with_sentinels): decodes to no button of the bot's.
SENTINEL_DATA = "~sentinel~"

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
DELETE_NOT_FOUND = "Bad Request: message to delete not found"
CHAT_NOT_FOUND = "Bad Request: chat not found"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
BLOCKED = "Forbidden: bot was blocked by the user"

# Parameters that PTB always sends as plain strings. Everything else arrives
# JSON encoded in form bodies and is decoded with json.loads.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "language_code",
        "secret_token",
        "inline_message_id",
        "action",
        "ip_address",
        "photo",
        "document",
        "file_id",
        "emoji",
        "message_effect_id",
        "business_connection_id",
        "description",
        "short_description",
        "name",
        "title",
        "sticker",
        "query_id",
        "certificate",
        "thumbnail",
    }
)

# Update types Telegram leaves out unless they are requested explicitly.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

_FAULT_ANSWERS: dict[str, tuple[int, str]] = {
    "400": (400, "Bad Request: injected fault"),
    "403": (403, BLOCKED),
    "429": (429, "Too Many Requests: retry after {retry_after}"),
    "500": (500, "Internal Server Error"),
    "502": (502, "Bad Gateway"),
}


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram counts in."""
    return len(text.encode("utf-16-le")) // 2


_JSON_ATOMS = frozenset({str, int, float, bool, type(None)})


def _json_copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, strings, numbers), as copy.deepcopy makes it.

    Every update, stored message and keyboard passes through here several times per request;
    copy.deepcopy's memo and dispatch cost ~2 % of the CPU of the in-process Telegram tests. Anything
    that is not plain JSON (a tuple, an int subclass such as UpdateId) still goes to copy.deepcopy.
    """
    cls = type(value)
    if cls is dict:
        return {k: _json_copy(v) for k, v in value.items()}
    if cls is list:
        return [_json_copy(v) for v in value]
    if cls in _JSON_ATOMS:
        return value
    return copy.deepcopy(value)


def _json_number(value: float) -> float | int:
    """Render whole numbers as int (Telegram sends ``retry_after`` as an int)."""
    return int(value) if float(value).is_integer() else value


# --------------------------------------------------------------------------
# HTML parse mode: a port of tdlib's parse_html (td/telegram/MessageEntity.cpp)
# --------------------------------------------------------------------------

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_END = "\0"  # sentinel, like the NUL terminator tdlib relies on
_PLAIN_RUN = re.compile(r"[^<&]+")


class HTMLParseError(ValueError):
    """Raised by :func:`parse_html` with Telegram's wording of the problem."""


def _is_space(ch: str) -> bool:
    return ch in " \t\r\n\v\0"


def _decode_entity(src: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference at ``src[pos] == '&'``; None if there is none."""
    end = pos + 1
    if src[end] == "#":
        end += 1
        value = 0
        if src[end] == "x":
            end += 1
            while src[end] in "0123456789abcdefABCDEF" and src[end] != _END:
                value = value * 16 + int(src[end], 16)
                end += 1
        else:
            while src[end].isascii() and src[end].isdigit():
                value = value * 10 + int(src[end])
                end += 1
        if value == 0 or value >= 0x10FFFF or end - pos >= 10 or 0xD800 <= value <= 0xDFFF:
            return None
        char = chr(value)
    else:
        while src[end].isascii() and src[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(src[pos + 1 : end])
        if named is None:
            return None
        char = named
    if src[end] == ";":
        end += 1
    return char, end


def parse_html(text: str, *, strict_ampersand: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into (plain text, entities).

    Mirrors tdlib's parser, including its error messages (byte offsets are
    UTF-8 offsets into ``text``). With ``strict_ampersand`` a ``&`` that does
    not start ``&lt;``/``&gt;``/``&amp;``/``&quot;``/``&#N;`` is an error, as
    the Bot API documentation requires (Telegram itself keeps it literally).
    """
    src = text + _END
    n = len(text)
    out: list[str] = []
    utf16 = 0
    # (tag, argument, utf16 start, index into out where the entity's text starts)
    stack: list[tuple[str, str, int, int]] = []
    entities: list[dict[str, Any]] = []

    def byte_offset(index: int) -> int:
        return len(text[:index].encode("utf-8", "surrogatepass"))

    i = 0
    while i < n:
        ch = src[i]
        if ch == "&":
            decoded = _decode_entity(src, i)
            if decoded is not None:
                char, i = decoded
                out.append(char)
                utf16 += utf16_len(char)
                continue
            if strict_ampersand:
                raise HTMLParseError(
                    f'Unescaped "&" at byte offset {byte_offset(i)}; '
                    "write &amp; (Bot API: '&' must be escaped unless it starts an entity)"
                )
        if ch != "<":
            # plain text up to the next tag or entity in one piece (a character at a time cost ~1 % of
            # the CPU of the in-process Telegram tests); a literal "&" (not strict) stands alone
            end = i + 1 if ch == "&" else _PLAIN_RUN.match(src, i, n).end()   # type: ignore[union-attr]
            out.append(src[i:end])
            utf16 += utf16_len(out[-1])
            i = end
            continue

        begin = i
        i += 1
        if src[i] != "/":
            # A start tag.
            while not _is_space(src[i]) and src[i] != ">":
                i += 1
            if i >= n:
                raise HTMLParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
            tag = src[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise HTMLParseError(f'Unsupported start tag "{tag}" at byte offset {byte_offset(begin)}')
            argument = ""
            while src[i] != ">":
                while i < n and _is_space(src[i]):
                    i += 1
                if src[i] == ">":
                    break
                attr_begin = i
                while not _is_space(src[i]) and src[i] not in "=>":
                    i += 1
                attr_name = src[attr_begin:i]
                if not attr_name:
                    raise HTMLParseError(f'Empty attribute name in the tag "{tag}" at byte offset {byte_offset(begin)}')
                while i < n and _is_space(src[i]):
                    i += 1
                if src[i] != "=":
                    if tag == "blockquote" and attr_name == "expandable":
                        argument = "expandable"
                        continue
                    raise HTMLParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {byte_offset(begin)}'
                    )
                i += 1
                while i < n and _is_space(src[i]):
                    i += 1
                if i >= n:
                    raise HTMLParseError(f'Unclosed start tag "{tag}" at byte offset {byte_offset(begin)}')
                if src[i] not in "'\"":
                    token_begin = i
                    while src[i] != _END and ((src[i].isascii() and src[i].isalnum()) or src[i] in ".-"):
                        i += 1
                    value = src[token_begin:i].lower()
                    if not _is_space(src[i]) and src[i] != ">":
                        raise HTMLParseError(f"Unexpected end of name token at byte offset {byte_offset(token_begin)}")
                else:
                    quote = src[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and src[i] != quote:
                        if src[i] == "&":
                            decoded = _decode_entity(src, i)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(src[i])
                        i += 1
                    if src[i] == quote:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise HTMLParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
                if tag == "a" and attr_name == "href":
                    argument = value
                elif tag == "code" and attr_name == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr_name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr_name == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise HTMLParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}')
            stack.append((tag, argument, utf16, len(out)))
            i += 1  # skip '>'
            continue

        # An end tag.
        if not stack:
            raise HTMLParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
        while not _is_space(src[i]) and src[i] != ">":
            i += 1
        end_tag = src[begin + 2 : i].lower()
        while i < n and _is_space(src[i]):
            i += 1
        if src[i] != ">":
            raise HTMLParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
        tag, argument, start, out_index = stack[-1]
        if end_tag and end_tag != tag:
            raise HTMLParseError(
                f'Unmatched end tag at byte offset {byte_offset(begin)}, expected "</{tag}>", found "</{end_tag}>"'
            )
        stack.pop()
        i += 1  # skip '>'
        length = utf16 - start
        if length <= 0:
            continue
        entity: dict[str, Any] = {"offset": start, "length": length}
        if tag in _SIMPLE_TAG_TYPES:
            entity["type"] = _SIMPLE_TAG_TYPES[tag]
        elif tag == "tg-emoji":
            if not argument.isdigit() or int(argument) == 0:
                raise HTMLParseError("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=argument)
        elif tag == "a":
            url = argument or "".join(out[out_index:])
            if not url:
                continue
            entity.update(type="text_link", url=url)
        elif tag == "pre":
            if (
                entities
                and entities[-1]["type"] == "code"
                and entities[-1]["offset"] == start
                and entities[-1]["length"] == length
                and entities[-1].get("language")
            ):
                entities[-1]["type"] = "pre"
                continue
            entity["type"] = "pre"
        elif tag == "code":
            if (
                entities
                and entities[-1]["type"] == "pre"
                and entities[-1]["offset"] == start
                and entities[-1]["length"] == length
                and argument
            ):
                entities[-1]["language"] = argument
                continue
            entity["type"] = "code"
            if argument:
                entity["language"] = argument
        elif tag == "blockquote":
            entity["type"] = "expandable_blockquote" if argument else "blockquote"
        entities.append(entity)

    if stack:
        raise HTMLParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


# --------------------------------------------------------------------------
# Records a test can inspect
# --------------------------------------------------------------------------


class UpdateId(int):
    """The id of an enqueued update.

    It is a plain ``int`` that can also be awaited (yielding itself), so both
    ``user.send("hi")`` and ``await user.send("hi")`` work.
    """

    def __await__(self) -> Generator[Any, None, int]:
        return _resolved(int(self)).__await__()


async def _resolved(value: int) -> int:
    return value


@dataclass
class FaultPlan:
    """Deterministic random faults for API calls.

    Every call to a covered method rolls ``random.Random(seed)``; with
    probability ``rate`` it is answered with one of ``kinds`` ("429", "500",
    "502", "403", "400") instead of being executed. ``delay`` seconds are
    added before answering every covered call (slow API). ``getUpdates`` is
    only covered when ``include_get_updates`` is true. ``methods`` limits the
    plan to those method names (case-insensitive); ``max_faults`` caps the
    number of injected faults. ``retry_after`` may be fractional to keep tests
    fast, but must be > 0 (PTB ignores a zero ``retry_after``).
    """

    rate: float = 0.0
    kinds: Sequence[str] = ("429", "500")
    retry_after: float = 1
    seed: int = 0
    methods: Collection[str] | None = None
    delay: float = 0.0
    include_get_updates: bool = False
    max_faults: int | None = None
    injected: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.kinds if kind not in _FAULT_ANSWERS]
        if unknown or not self.kinds:
            raise ValueError(f"unknown fault kinds {unknown}; known: {sorted(_FAULT_ANSWERS)}")
        self._rng = random.Random(self.seed)
        self._methods = None if self.methods is None else {m.lower() for m in self.methods}

    def covers(self, method: str) -> bool:
        """Whether ``method`` is subject to this plan (faults and delay)."""
        lowered = method.lower()
        if lowered == "getupdates" and not self.include_get_updates:
            return False
        return self._methods is None or lowered in self._methods

    def pick(self, method: str) -> str | None:
        """Decide the fault for one call to ``method`` (None: answer normally)."""
        if not self.covers(method):
            return None
        if self.max_faults is not None and self.injected >= self.max_faults:
            return None
        if self._rng.random() >= self.rate:
            return None
        self.injected += 1
        return self._rng.choice(list(self.kinds))


@dataclass
class Violation:
    """A request that broke one of Telegram's limits (answered with 400)."""

    method: str
    rule: str
    description: str
    chat_id: int | None = None

    def __str__(self) -> str:
        where = f" (chat {self.chat_id})" if self.chat_id is not None else ""
        return f"{self.method}{where}: [{self.rule}] {self.description}"


@dataclass
class ApiError:
    """Any non-injected error answer the fake gave (violations included)."""

    method: str
    code: int
    description: str
    chat_id: int | None = None


@dataclass
class UploadedFile:
    """A file the bot uploaded (or a test registered for a user to send)."""

    field: str
    filename: str | None
    size: int
    content_type: str | None
    data: bytes
    file_id: str = ""
    file_unique_id: str = ""
    file_path: str = ""


@dataclass
class CallbackAnswer:
    """One answerCallbackQuery call."""

    query_id: str
    chat_id: int | None
    user_id: int | None
    text: str | None
    show_alert: bool
    url: str | None


@dataclass
class ChatEvent:
    """One line of a transcript."""

    seq: int
    chat_id: int | None
    actor: str  # "user", "bot" or "server"
    kind: str  # text, tap, send, edit, delete, toast, error, fault, ...
    text: str
    user_id: int | None = None


@dataclass
class SentMessage:
    """A message in a fake chat, as Telegram currently holds it.

    ``text`` is what the user sees (tags removed, entities decoded; the
    caption for photos and documents), ``raw_text`` what the bot sent.
    """

    chat: dict[str, Any]
    sender: dict[str, Any]
    message_id: int
    kind: str  # "text", "photo", "document" (bot); anything for user messages
    text: str
    raw_text: str
    parse_mode: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    date: int
    from_bot: bool = True
    edit_count: int = 0
    edit_date: int | None = None
    history: list[str] = field(default_factory=list)
    deleted: bool = False
    file: UploadedFile | None = None
    file_ref: str | None = None
    reply_to: int | None = None
    changed_seq: int = 0
    raw: dict[str, Any] | None = None  # the original update JSON of user messages

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    @property
    def caption(self) -> str | None:
        return None if self.kind == "text" else self.text

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        if not self.reply_markup:
            return []
        return list(self.reply_markup.get("inline_keyboard") or [])

    @property
    def buttons(self) -> list[list[str]]:
        """Rows of button texts (inline keyboard, else reply keyboard)."""
        if self.inline_keyboard:
            return [[str(b.get("text", "")) for b in row] for row in self.inline_keyboard]
        keyboard = (self.reply_markup or {}).get("keyboard") or []
        return [[b if isinstance(b, str) else str(b.get("text", "")) for b in row] for row in keyboard]

    @property
    def callback_data(self) -> list[list[str | None]]:
        """Rows of callback_data values of the inline keyboard."""
        return [[b.get("callback_data") for b in row] for row in self.inline_keyboard]

    def find_button(self, label: str) -> dict[str, Any] | None:
        """The inline button whose text (or else callback_data) equals ``label``."""
        buttons = [b for row in self.inline_keyboard for b in row]
        for button in buttons:
            if button.get("text") == label:
                return button
        for button in buttons:
            if button.get("callback_data") == label:
                return button
        return None

    def to_json(self) -> dict[str, Any]:
        """The Message object as Telegram would return it."""
        if self.raw is not None:
            return _json_copy(self.raw)
        result: dict[str, Any] = {
            "message_id": self.message_id,
            "from": dict(self.sender),
            "chat": dict(self.chat),
            "date": self.date,
        }
        if self.edit_date is not None:
            result["edit_date"] = self.edit_date
        if self.kind == "text":
            result["text"] = self.text
            if self.entities:
                result["entities"] = _json_copy(self.entities)
        else:
            if self.text:
                result["caption"] = self.text
                if self.entities:
                    result["caption_entities"] = _json_copy(self.entities)
            if self.kind == "photo":
                result["photo"] = self._photo_sizes()
            elif self.kind == "document":
                result["document"] = self._document_json()
        # Telegram only echoes inline keyboards in the returned Message.
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            result["reply_markup"] = _json_copy(self.reply_markup)
        return result

    def _file_ids(self) -> tuple[str, str]:
        if self.file is not None:
            return self.file.file_id, self.file.file_unique_id
        ref = self.file_ref or f"ref-{self.chat_id}-{self.message_id}"
        return ref, f"u-{abs(hash(ref)) % 10**10}"

    def _photo_sizes(self) -> list[dict[str, Any]]:
        file_id, unique = self._file_ids()
        size = self.file.size if self.file else 0
        return [
            {"file_id": f"{file_id}-s", "file_unique_id": f"{unique}s", "width": 90, "height": 90},
            {
                "file_id": file_id,
                "file_unique_id": unique,
                "width": 800,
                "height": 800,
                "file_size": size,
            },
        ]

    def _document_json(self) -> dict[str, Any]:
        file_id, unique = self._file_ids()
        doc: dict[str, Any] = {"file_id": file_id, "file_unique_id": unique}
        if self.file is not None:
            doc["file_size"] = self.file.size
            if self.file.filename:
                doc["file_name"] = self.file.filename
            if self.file.content_type:
                doc["mime_type"] = self.file.content_type
        return doc

    def describe(self) -> str:
        """One readable line (plus keyboard rows) for transcripts."""
        head = f"#{self.message_id}"
        if self.kind != "text":
            info = self.file.filename if self.file and self.file.filename else self.file_ref
            size = f", {self.file.size} B" if self.file else ""
            head += f" [{self.kind} {info}{size}]"
        body = _indent(self.text)
        lines = [f"{head}: {body}" if body else head]
        for row in self.buttons:
            lines.append("      " + " ".join(f"[{label}]" for label in row))
        return "\n".join(lines)


def _indent(text: str) -> str:
    return text.replace("\n", "\n      ")


class _ApiFailure(Exception):
    """Raised by method handlers to answer with an error."""

    def __init__(self, code: int, description: str, rule: str | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.rule = rule  # set: the answer is also recorded as a Violation


@dataclass
class _Chat:
    id: int
    type: str
    json: dict[str, Any]
    next_message_id: int = 1
    messages: dict[int, SentMessage] = field(default_factory=dict)
    bot_actions: int = 0  # sends and edits
    last_call_seq: int = 0  # last call received for this chat
    last_answered_seq: int = 0  # last call answered without an injected fault
    last_activity: float = 0.0  # time.monotonic() of the last request start/end
    busy_until: float = 0.0  # after a fault: time the bot may still be retrying
    inflight: int = 0
    reply_keyboard: list[list[str]] | None = None
    blocked: bool = False

    def new_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class _Queued:
    update: dict[str, Any]
    forced: bool = False  # redelivered: survive one offset confirmation


# --------------------------------------------------------------------------
# Test-side user helper
# --------------------------------------------------------------------------


class FakeUser:
    """A scripted user in one chat (private chat, or a group via ``server.group``)."""

    def __init__(self, server: FakeBotAPI, profile: dict[str, Any], chat: _Chat) -> None:
        self.server = server
        self.profile = profile
        self._chat = chat

    # -- identity ---------------------------------------------------------

    @property
    def user_id(self) -> int:
        return int(self.profile["id"])

    @property
    def first_name(self) -> str:
        return str(self.profile["first_name"])

    @property
    def chat_id(self) -> int:
        return self._chat.id

    @property
    def chat(self) -> dict[str, Any]:
        """The Chat JSON used in updates."""
        return dict(self._chat.json)

    def block(self) -> None:
        """Make the bot's sends to this chat fail with 403 "bot was blocked"."""
        self._chat.blocked = True

    def unblock(self) -> None:
        self._chat.blocked = False

    # -- producing updates -------------------------------------------------

    def send(self, text: str, *, reply_to: int | None = None) -> UpdateId:
        """Send a text message; ``/command`` texts get a bot_command entity."""
        message = self._new_message({"text": text})
        entities = _command_entities(text)
        if entities:
            message["entities"] = entities
        if reply_to is not None and reply_to in self._chat.messages:
            message["reply_to_message"] = self._chat.messages[reply_to].to_json()
        self.server._record_user_message(self._chat, message, "text")
        self.server._log(self._chat.id, "user", "text", f"{self._label}: {_indent(text)}", self.user_id)
        return self.server._enqueue({"message": message})

    def send_document(
        self,
        content: bytes,
        file_name: str = "file.bin",
        *,
        caption: str | None = None,
        mime_type: str = "application/octet-stream",
    ) -> UpdateId:
        """Send a document; the bot can download it through getFile."""
        stored = self.server.add_file(content, file_name, mime_type, field_name="document")
        message = self._new_message(
            {
                "document": {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_name": file_name,
                    "mime_type": mime_type,
                    "file_size": stored.size,
                }
            }
        )
        if caption is not None:
            message["caption"] = caption
        self.server._record_user_message(self._chat, message, "document")
        self.server._log(
            self._chat.id,
            "user",
            "document",
            f"{self._label} sends document {file_name} ({stored.size} B)" + (f": {caption}" if caption else ""),
            self.user_id,
        )
        return self.server._enqueue({"message": message})

    def send_photo(self, content: bytes = b"\xff\xd8fake-jpeg", *, caption: str | None = None) -> UpdateId:
        """Send a photo; the bot can download the largest size through getFile."""
        stored = self.server.add_file(content, "photo.jpg", "image/jpeg", field_name="photo")
        message = self._new_message(
            {
                "photo": [
                    {
                        "file_id": stored.file_id,
                        "file_unique_id": stored.file_unique_id,
                        "width": 800,
                        "height": 600,
                        "file_size": stored.size,
                    }
                ]
            }
        )
        if caption is not None:
            message["caption"] = caption
        self.server._record_user_message(self._chat, message, "photo")
        self.server._log(
            self._chat.id,
            "user",
            "photo",
            f"{self._label} sends photo ({stored.size} B)" + (f": {caption}" if caption else ""),
            self.user_id,
        )
        return self.server._enqueue({"message": message})

    def edit(self, message_id: int, new_text: str) -> UpdateId:
        """Edit one of this user's earlier messages (an ``edited_message`` update)."""
        stored = self._chat.messages.get(message_id)
        if stored is None or stored.from_bot or stored.raw is None:
            raise AssertionError(f"{self._label} has no message #{message_id} to edit")
        now = int(time.time())
        stored.raw["text"] = new_text
        stored.raw["edit_date"] = now
        stored.text = stored.raw_text = new_text
        self.server._log(self._chat.id, "user", "edit", f"{self._label} edits #{message_id}: {new_text}", self.user_id)
        return self.server._enqueue({"edited_message": _json_copy(stored.raw)})

    def tap(self, label: str, message_id: int | None = None) -> UpdateId:
        """Tap an inline button by its text (or callback_data).

        Looks at ``message_id`` or else at the latest bot message that has an
        inline keyboard. If no inline button matches but the current reply
        keyboard has a button with that text, the text is sent as a message,
        like a Telegram client does.
        """
        target = self._keyboard_message(message_id)
        button = target.find_button(label) if target is not None else None
        if button is None:
            keyboard = self._chat.reply_keyboard or []
            if message_id is None and any(label in row for row in keyboard):
                return self.send(label)
            available = target.buttons if target is not None else []
            raise AssertionError(
                f"{self._label}: no button {label!r} on "
                f"{'#' + str(target.message_id) if target else 'any bot message'}; "
                f"buttons: {available}\n{self.transcript()}"
            )
        if "callback_data" not in button:
            raise AssertionError(f"{self._label}: button {label!r} is not a callback button: {button}")
        assert target is not None
        return self._callback(str(button["callback_data"]), target, str(button.get("text")))

    def tap_data(self, data: str, message_id: int | None = None) -> UpdateId:
        """Send a callback query with arbitrary (possibly forged) ``data``.

        ``message_id`` defaults to the latest bot message with an inline
        keyboard (else the latest bot message). An unknown ``message_id``
        yields an inaccessible message (``date`` 0), as Telegram does.
        """
        if message_id is None:
            target = self._keyboard_message(None) or self.last_message
            if target is None:
                raise AssertionError(f"{self._label}: the bot has sent nothing to tap on")
        else:
            target = self._chat.messages.get(message_id)
        if target is None or target.deleted:
            inaccessible = {"message_id": message_id, "chat": dict(self._chat.json), "date": 0}
            return self._callback(data, None, None, message_json=inaccessible)
        return self._callback(data, target, None)

    # -- reading what the bot showed ------------------------------------------

    @property
    def messages(self) -> list[SentMessage]:
        """All bot messages in this chat in order (deleted ones flagged)."""
        return [m for _, m in sorted(self._chat.messages.items()) if m.from_bot]

    @property
    def last_message(self) -> SentMessage | None:
        """The latest bot message that was not deleted."""
        alive = [m for m in self.messages if not m.deleted]
        return alive[-1] if alive else None

    def message(self, message_id: int) -> SentMessage:
        try:
            return self._chat.messages[message_id]
        except KeyError:
            raise AssertionError(f"no message #{message_id} in chat {self.chat_id}") from None

    def buttons(self, message: SentMessage | int | None = None) -> list[list[str]]:
        """Rows of button texts of ``message`` (default: the last bot message)."""
        if isinstance(message, int):
            message = self.message(message)
        message = message or self.last_message
        return message.buttons if message else []

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """The reply keyboard currently shown to the user, if any."""
        return self._chat.reply_keyboard

    @property
    def toasts(self) -> list[str]:
        """Non-empty answerCallbackQuery texts for this user's queries, in order."""
        return [
            a.text
            for a in self.server.callback_answers
            if a.chat_id == self.chat_id and a.user_id == self.user_id and a.text
            and not self.server.is_sentinel(a.query_id)
        ]

    @property
    def action_count(self) -> int:
        """How many sends and edits the bot made in this chat so far."""
        return self._chat.bot_actions

    def transcript(self) -> str:
        """The whole conversation in this chat, readable."""
        return self.server.transcript(chat_id=self.chat_id)

    # -- waiting ---------------------------------------------------------------

    async def wait_reply(self, after: int | None = None, timeout: float = 5.0) -> SentMessage | None:
        """Wait until the chat has more than ``after`` bot sends/edits.

        ``after`` defaults to :attr:`action_count` at the time of the call.
        Returns the bot message that was sent or edited most recently.
        """
        threshold = self.action_count if after is None else after
        await self.server.wait_for(
            lambda: self._chat.bot_actions > threshold,
            timeout=timeout,
            message=f"{self._label}: no bot reply after {threshold} actions",
        )
        touched = sorted((m for m in self._chat.messages.values() if m.from_bot), key=lambda m: m.changed_seq)
        return touched[-1] if touched else None

    async def wait_handled(self, update_id: int, *, timeout: float = 5.0, quiet: float = 0.05) -> list[SentMessage]:
        """Wait until ``update_id`` was fetched, answered for this chat, and the chat is quiet.

        With :meth:`FakeBotAPI.track_handling` on, wait until the bot reports the update handled; with
        :meth:`FakeBotAPI.settle_with_sentinels`, until the bot answered a sentinel tap sent after it.

        Returns the bot messages sent or edited after the update was fetched.
        """
        server = self.server
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await server.wait_for(
            lambda: update_id in server._delivered_at_seq,
            timeout=timeout,
            message=f"update {update_id} was never fetched by getUpdates (is the bot polling?)",
        )
        fetched_at = server._delivered_at_seq[update_id]
        if server._handled is not None:
            handled = server._handled
            await server.wait_for(
                lambda: update_id in handled,
                timeout=max(deadline - loop.time(), 0.0),
                message=f"the bot did not finish update {update_id} for chat {self.chat_id}",
            )
            return sorted(
                (m for m in self._chat.messages.values() if m.from_bot and m.changed_seq > fetched_at),
                key=lambda m: m.message_id,
            )
        if server._settle_by_sentinel:
            await server.settle(self, timeout=max(deadline - loop.time(), 0.0))
            return sorted(
                (m for m in self._chat.messages.values() if m.from_bot and m.changed_seq > fetched_at),
                key=lambda m: m.message_id,
            )
        await server.wait_for(
            lambda: self._chat.last_answered_seq > fetched_at,
            timeout=max(deadline - loop.time(), 0.0),
            message=f"the bot made no API call for chat {self.chat_id} after update {update_id}",
        )
        await server._wait_quiet(self._chat, quiet, deadline)
        return sorted(
            (m for m in self._chat.messages.values() if m.from_bot and m.changed_seq > fetched_at),
            key=lambda m: m.message_id,
        )

    async def send_and_wait(self, text: str, *, timeout: float = 5.0, quiet: float = 0.05) -> list[SentMessage]:
        """:meth:`send` then :meth:`wait_handled`."""
        return await self.wait_handled(self.send(text), timeout=timeout, quiet=quiet)

    async def tap_and_wait(
        self,
        label: str,
        message_id: int | None = None,
        *,
        timeout: float = 5.0,
        quiet: float = 0.05,
    ) -> list[SentMessage]:
        """:meth:`tap` then :meth:`wait_handled` (answerCallbackQuery counts as a reply)."""
        return await self.wait_handled(self.tap(label, message_id), timeout=timeout, quiet=quiet)

    # -- internals ---------------------------------------------------------------

    @property
    def _label(self) -> str:
        if self._chat.type == "private":
            return self.first_name
        return f"{self.first_name}@{self._chat.json.get('title', self._chat.id)}"

    def _new_message(self, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "message_id": self._chat.new_message_id(),
            "from": dict(self.profile),
            "chat": dict(self._chat.json),
            "date": int(time.time()),
            **content,
        }

    def _keyboard_message(self, message_id: int | None) -> SentMessage | None:
        if message_id is not None:
            found = self._chat.messages.get(message_id)
            if found is None:
                raise AssertionError(f"{self._label}: no message #{message_id}\n{self.transcript()}")
            return found
        for message in reversed(self.messages):
            if not message.deleted and message.inline_keyboard:
                return message
        return None

    def _callback(
        self,
        data: str,
        target: SentMessage | None,
        label: str | None,
        message_json: dict[str, Any] | None = None,
    ) -> UpdateId:
        query_id = self.server._new_query_id(self._chat.id, self.user_id)
        query: dict[str, Any] = {
            "id": query_id,
            "from": dict(self.profile),
            "message": message_json if target is None else target.to_json(),
            "chat_instance": str(6_000_000_000_000 + abs(self._chat.id)),
            "data": data,
        }
        where = f"#{target.message_id}" if target is not None else "an inaccessible message"
        what = f"[{label}] (data={data!r})" if label else f"forged data={data!r}"
        self.server._log(self._chat.id, "user", "tap", f"{self._label} taps {what} on {where}", self.user_id)
        return self.server._enqueue({"callback_query": query})


def _command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/") or len(text) < 2 or _is_space(text[1]):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------

_Handler = Callable[[dict[str, Any], dict[str, UploadedFile]], Awaitable[Any]]


class FakeBotAPI:
    """Fake Bot API server; see the module docstring for a walkthrough.

    Attributes a test typically reads:

    * ``calls``: ``(method, params)`` for every authorised request, in order.
    * ``violations``: :class:`Violation` for every broken Telegram limit.
    * ``errors``: :class:`ApiError` for every error answered (not faults).
    * ``unknown_methods``: names of methods the fake does not implement.
    * ``updates_delivered`` / ``updates_confirmed``: update ids handed out by
      getUpdates (repeats included) / confirmed through ``offset``.
    * ``callback_answers``, ``uploads``, ``webhook``, ``commands``,
      ``faults_injected``.
    """

    def __init__(
        self,
        token: str = "123456:TEST-lensbot-fake-token",
        bot_username: str = "lensbot_test_bot",
        *,
        bot_first_name: str = "Lensbot Test",
        bot_id: int | None = None,
        strict_ampersand: bool = True,
        strict_chats: bool = True,
        fault_grace: float = 0.25,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_id = bot_id if bot_id is not None else (int(prefix) if prefix.isdigit() else 123456)
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.strict_ampersand = strict_ampersand
        self.strict_chats = strict_chats
        # After an injected fault for a chat, *_and_wait helpers treat the chat as busy for
        # retry_after (429) plus this many seconds, since the bot may retry.
        self.fault_grace = fault_grace
        self.host = host
        self.port: int | None = None

        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.violations: list[Violation] = []
        self.errors: list[ApiError] = []
        self.unknown_methods: list[str] = []
        self.unauthorized_calls: list[str] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.uploads: list[UploadedFile] = []
        self.files: dict[str, UploadedFile] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.webhook: dict[str, Any] | None = None
        self.webhook_posts: list[tuple[str, int, int]] = []  # (url, update_id, status)
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.allowed_updates: list[str] | None = None
        self.updates_delivered: list[int] = []
        self.updates_confirmed: list[int] = []
        self.updates_filtered: list[int] = []  # dropped because of allowed_updates
        self.faults: FaultPlan | None = None
        self.faults_injected: list[tuple[str, str]] = []
        self.closed_by_bot = False  # close/logOut was called

        self._queue: list[_Queued] = []
        self._all_updates: dict[int, dict[str, Any]] = {}
        self._delivered_at_seq: dict[int, int] = {}
        # Set by a harness that can tell when the bot finished an update (see mark_handled()).
        self._handled: set[int] | None = None
        # Ids of the sentinel callback queries sent so far (settle()); wait_handled() sends them after
        # settle_with_sentinels().
        self._sentinels: set[str] = set()
        self._settle_by_sentinel = False
        self._sentinel_ids = itertools.count(1)
        self._targeted: dict[str, list[tuple[str, float]]] = {}
        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, FakeUser] = {}
        self._members: dict[tuple[int, int], FakeUser] = {}
        self._queries: dict[str, tuple[int, int, bool]] = {}  # id -> (chat, user, answered)
        self._events: list[ChatEvent] = []
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(4_000_000_001)
        self._file_ids = itertools.count(1)
        self._seq = 0
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, _Handler] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "deleteWebhook": self._delete_webhook,
                "setWebhook": self._set_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "sendChatAction": self._send_chat_action,
                "deleteMessage": self._delete_message,
                "getFile": self._get_file,
                "close": self._close,
                "logOut": self._close,
            }.items()
        }

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> FakeBotAPI:
        """Listen on a free port of 127.0.0.1."""
        if self._runner is not None:
            return self
        self._closing = False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.*}", self._handle_file)
        # handler_cancellation: a long poll whose client went away (PTB stopping
        # its updater) is cancelled instead of later handing out updates to nobody.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Wake pending long polls and shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        self._bump()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url()``: ``http://127.0.0.1:PORT/bot``."""
        if self.port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url()``: ``http://127.0.0.1:PORT/file/bot``."""
        if self.port is None:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def ptb_application_builder(self) -> Any:
        """A PTB ``ApplicationBuilder`` with token and URLs pointing here."""
        from telegram.ext import ApplicationBuilder  # local: keep the fake PTB-agnostic

        return ApplicationBuilder().token(self.token).base_url(self.base_url).base_file_url(self.base_file_url)

    # -- users and chats ------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Ann",
        language_code: str | None = "nl",
        *,
        last_name: str | None = None,
        username: str | None = None,
    ) -> FakeUser:
        """The user ``user_id`` in their private chat (chat id = user id).

        Repeated calls return the same helper (later arguments are ignored).
        """
        if user_id in self._users:
            return self._users[user_id]
        profile: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            profile["last_name"] = last_name
        if username:
            profile["username"] = username
        if language_code:
            profile["language_code"] = language_code
        chat_json: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        if last_name:
            chat_json["last_name"] = last_name
        if username:
            chat_json["username"] = username
        chat = self._ensure_chat(chat_json)
        helper = FakeUser(self, profile, chat)
        self._users[user_id] = helper
        return helper

    def group(
        self,
        chat_id: int,
        user_id: int,
        *,
        title: str | None = None,
        chat_type: str = "group",
        first_name: str | None = None,
    ) -> FakeUser:
        """``user_id`` as a member of group ``chat_id`` (chat type "group" or "supergroup")."""
        key = (chat_id, user_id)
        if key in self._members:
            return self._members[key]
        if user_id in self._users:
            profile = dict(self._users[user_id].profile)
        else:
            profile = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"}
        if first_name:
            profile["first_name"] = first_name
        chat = self._ensure_chat({"id": chat_id, "type": chat_type, "title": title or f"Group {chat_id}"})
        helper = FakeUser(self, profile, chat)
        self._members[key] = helper
        return helper

    def messages(self, chat_id: int) -> list[SentMessage]:
        """All bot messages in chat ``chat_id``."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        return [m for _, m in sorted(chat.messages.items()) if m.from_bot]

    def add_file(
        self,
        content: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
        *,
        field_name: str = "document",
    ) -> UploadedFile:
        """Store a file so that getFile and the file URL can serve it."""
        number = next(self._file_ids)
        ext = file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else "bin"
        stored = UploadedFile(
            field=field_name,
            filename=file_name,
            size=len(content),
            content_type=mime_type,
            data=content,
            file_id=f"FAKEFILE{number:06d}",
            file_unique_id=f"FAKEUNIQ{number:06d}",
            file_path=f"{field_name}s/file_{number}.{ext}",
        )
        self.files[stored.file_id] = stored
        return stored

    # -- updates ------------------------------------------------------------------

    def inject_update(self, update: dict[str, Any]) -> UpdateId:
        """Enqueue any update dict (``update_id`` is assigned if missing)."""
        return self._enqueue(_json_copy(update))

    def redeliver(self, update_id: int) -> UpdateId:
        """Put an already delivered/confirmed update back, with the same id.

        It is handed out by the next getUpdates even though the bot's offset
        already confirmed it (as after a crash before the offset was stored).
        """
        if update_id not in self._all_updates:
            raise ValueError(f"unknown update {update_id}")
        self._queue = [q for q in self._queue if q.update["update_id"] != update_id]
        self._delivered_at_seq.pop(update_id, None)  # so wait_handled() waits for the new delivery
        if self._handled is not None:
            self._handled.discard(update_id)
        self._queue.append(_Queued(_json_copy(self._all_updates[update_id]), forced=True))
        self._queue.sort(key=lambda q: q.update["update_id"])
        self._log(None, "server", "redeliver", f"update {update_id} queued again")
        self._bump()
        return UpdateId(update_id)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot."""
        return [_json_copy(q.update) for q in self._queue]

    def is_delivered(self, update_id: int) -> bool:
        return update_id in self._delivered_at_seq

    def track_handling(self) -> None:
        """From now on, wait_handled() waits for mark_handled() instead of a quiet chat.

        A harness that runs the bot in this process knows exactly when an update was processed;
        waiting for that is both faster and sturdier than guessing from a pause in API calls
        (a loaded machine can pause longer than any fixed quiet time between two calls).
        """
        if self._handled is None:
            self._handled = set()

    def settle_with_sentinels(self) -> None:
        """From now on, wait_handled() waits for a sentinel instead of a quiet chat (unless track_handling is on).

        For a bot in another process, which cannot call mark_handled(): after the update was fetched,
        the user taps a button whose data decodes to nothing (SENTINEL_DATA) and the wait ends when the
        bot has answered that tap. lensbot handles the updates of one chat one after another
        (bot/telegram/processor.py), so by then the update before it was handled completely. The
        offset of the bot's next getUpdates is no such signal: PTB confirms an update as soon as it is
        queued, before it is processed. Sentinel answers are left out of FakeUser.toasts and of
        unanswered_callback_queries().
        """
        self._settle_by_sentinel = True

    def is_sentinel(self, query_id: str) -> bool:
        return query_id in self._sentinels

    async def settle(self, user: FakeUser, timeout: float = 5.0,
                     deliver: Callable[[dict[str, Any]], Awaitable[None]] | None = None) -> None:
        """Send `user`'s sentinel tap (see settle_with_sentinels) and wait until the bot has answered it.

        With `deliver` (a bot on webhooks, which never polls) the sentinel is handed to it rather than
        queued: post it to the instance that got the update to wait for."""
        qid = f"sentinel-{next(self._sentinel_ids)}"
        self._sentinels.add(qid)
        self.inject_update({"callback_query": {
            "id": qid, "from": dict(user.profile), "chat_instance": "1", "data": SENTINEL_DATA,
            "message": {"message_id": 0, "chat": user.chat, "date": 0}}})
        if deliver is not None:
            (update,) = self.pending_updates
            self._drop_pending()
            await deliver(update)
        await self.wait_for(lambda: self._queries.get(qid, (0, 0, False))[2], timeout=timeout,
                            message=f"the bot to answer the sentinel tap of {user.user_id} (updates before it handled)")

    def mark_handled(self, update_id: int) -> None:
        """The bot has finished processing ``update_id`` (every API call it made for it returned)."""
        if self._handled is not None:
            self._handled.add(update_id)
            self._bump()

    # -- faults ----------------------------------------------------------------------

    def fail_next(self, method: str, kind: str = "500", count: int = 1, *, retry_after: float = 1) -> None:
        """Answer the next ``count`` calls of ``method`` with fault ``kind``.

        Works for getUpdates too. Takes precedence over ``self.faults``.
        """
        if kind not in _FAULT_ANSWERS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(_FAULT_ANSWERS)}")
        self._targeted.setdefault(method.lower(), []).extend([(kind, retry_after)] * count)

    # -- waiting -------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,
        message: str | None = None,
        *,
        interval: float = 0.02,
    ) -> Any:
        """Wait until ``predicate()`` (sync or async) is truthy; return its value.

        Re-checks whenever the fake's state changes and every ``interval``
        seconds. On timeout raises AssertionError with the recent transcript.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for "
                    f"{message or getattr(predicate, '__name__', 'condition')}\n"
                    f"--- recent transcript ---\n{self.transcript(last=40)}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, interval))

    async def _wait_quiet(self, chat: _Chat, quiet: float, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            if chat.inflight == 0:
                mono = time.monotonic()
                idle = mono - chat.last_activity
                if idle >= quiet and mono >= chat.busy_until:
                    return
                pause = max(quiet - idle, chat.busy_until - mono, 0.001)
            else:
                pause = min(quiet, 0.01)
            if now + pause > deadline + quiet:
                raise AssertionError(
                    f"chat {chat.id} did not go quiet for {quiet}s before the timeout\n"
                    f"--- recent transcript ---\n{self.transcript(chat_id=chat.id, last=40)}"
                )
            await asyncio.sleep(pause)

    # -- webhook helper --------------------------------------------------------------

    async def post_webhook(self, url: str, update: dict[str, Any], secret_token: str | None = None) -> int:
        """POST ``update`` to ``url`` like Telegram does; return the HTTP status."""
        payload = _json_copy(update)
        if "update_id" not in payload:
            payload["update_id"] = self._next_update_id()
        self._all_updates[payload["update_id"]] = _json_copy(payload)
        self._register_chats(payload)
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        async with ClientSession() as session, session.post(url, data=json.dumps(payload), headers=headers) as response:
            await response.read()
            status = response.status
        self.webhook_posts.append((url, payload["update_id"], status))
        return status

    # -- inspection helpers -----------------------------------------------------------

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Params of every call to ``method`` (case-insensitive)."""
        return [params for name, params in self.calls if name.lower() == method.lower()]

    def unanswered_callback_queries(self) -> list[str]:
        """Ids of callback queries the bot has not answered (yet)."""
        return [qid for qid, (_, _, answered) in self._queries.items() if not answered and not self.is_sentinel(qid)]

    def commands_for(self, scope_type: str = "default", language_code: str = "") -> list[dict[str, Any]]:
        """Commands set for a simple scope (``{"type": scope_type}``) and language."""
        return self.commands.get((_scope_key({"type": scope_type}), language_code), [])

    def transcript(self, chat_id: int | None = None, last: int | None = None) -> str:
        """Readable log of user input and bot output (one chat, or all)."""
        events = [e for e in self._events if chat_id is None or e.chat_id == chat_id or e.chat_id is None]
        if last is not None:
            events = events[-last:]
        lines = []
        for event in events:
            prefix = "" if chat_id is not None or event.chat_id is None else f"[{event.chat_id}] "
            marker = {"user": ">", "bot": "<"}.get(event.actor, "!")
            lines.append(f"{marker} {prefix}{event.text}")
        return "\n".join(lines) if lines else "(nothing happened)"

    # -- internals: bookkeeping -------------------------------------------------------

    def _bump(self) -> None:
        """Wake everybody waiting for a state change."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _log(self, chat_id: int | None, actor: str, kind: str, text: str, user_id: int | None = None) -> None:
        self._events.append(ChatEvent(self._seq, chat_id, actor, kind, text, user_id))

    def _next_update_id(self) -> int:
        return next(self._update_ids)

    def _enqueue(self, update: dict[str, Any]) -> UpdateId:
        if "update_id" not in update:
            update = {"update_id": self._next_update_id(), **update}
        else:
            given = int(update["update_id"])
            # keep fresh ids above any explicit one
            current = next(self._update_ids)
            self._update_ids = itertools.count(max(current, given + 1))
        update_id = int(update["update_id"])
        self._all_updates[update_id] = _json_copy(update)
        self._register_chats(update)
        self._queue.append(_Queued(update))
        self._queue.sort(key=lambda q: q.update["update_id"])
        self._bump()
        return UpdateId(update_id)

    def _ensure_chat(self, chat_json: dict[str, Any]) -> _Chat:
        chat_id = int(chat_json["id"])
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = _Chat(id=chat_id, type=str(chat_json.get("type", "private")), json=dict(chat_json))
            self._chats[chat_id] = chat
        return chat

    def _register_chats(self, update: dict[str, Any]) -> None:
        """Learn chats (and user message ids) from injected updates."""
        for key, value in update.items():
            if not isinstance(value, dict):
                continue
            message = value.get("message") if key == "callback_query" else value
            if isinstance(message, dict) and isinstance(message.get("chat"), dict):
                chat = self._ensure_chat(message["chat"])
                message_id = message.get("message_id")
                if isinstance(message_id, int) and message_id >= chat.next_message_id:
                    chat.next_message_id = message_id + 1
            if key == "callback_query" and "id" in value:
                chat_id = message["chat"]["id"] if isinstance(message, dict) and "chat" in message else None
                user_id = value.get("from", {}).get("id")
                if str(value["id"]) not in self._queries:
                    self._queries[str(value["id"])] = (chat_id, user_id, False)

    def _record_user_message(self, chat: _Chat, message: dict[str, Any], kind: str) -> None:
        text = str(message.get("text") or message.get("caption") or "")
        chat.messages[message["message_id"]] = SentMessage(
            chat=dict(message["chat"]),
            sender=dict(message["from"]),
            message_id=message["message_id"],
            kind=kind,
            text=text,
            raw_text=text,
            parse_mode=None,
            entities=list(message.get("entities", [])),
            reply_markup=None,
            date=message["date"],
            from_bot=False,
            raw=message,
            changed_seq=self._seq,
        )

    def _new_query_id(self, chat_id: int, user_id: int) -> str:
        query_id = str(next(self._query_ids))
        self._queries[query_id] = (chat_id, user_id, False)
        return query_id

    def _chat_of_call(self, method: str, params: dict[str, Any]) -> _Chat | None:
        if method.lower() == "answercallbackquery":
            entry = self._queries.get(str(params.get("callback_query_id")))
            return self._chats.get(entry[0]) if entry and entry[0] is not None else None
        chat_id = _as_int(params.get("chat_id"))
        return self._chats.get(chat_id) if chat_id is not None else None

    def _chat_for_send(self, params: dict[str, Any], *, sending: bool = True) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _ApiFailure(400, "Bad Request: chat_id is empty")
        chat_id = _as_int(raw)
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            if self.strict_chats or chat_id is None:
                raise _ApiFailure(400, CHAT_NOT_FOUND)
            chat = self._ensure_chat({"id": chat_id, "type": "private", "first_name": f"User{chat_id}"})
        if sending and chat.blocked:
            raise _ApiFailure(403, BLOCKED)
        return chat

    # -- internals: HTTP ------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            self.unauthorized_calls.append(method)
            return _error_response(401, "Unauthorized")
        params, files = await _read_params(request)
        self._seq += 1
        seq = self._seq
        self.calls.append((method, params))
        chat = self._chat_of_call(method, params)
        if chat is not None:
            chat.inflight += 1
            chat.last_call_seq = seq
            chat.last_activity = time.monotonic()
        self._bump()
        fault: str | None = "cancelled"
        retry_after = 0.0
        try:
            response, fault, retry_after = await self._dispatch(method, params, files, chat)
            return response
        finally:
            if chat is not None:
                chat.inflight -= 1
                now = time.monotonic()
                chat.last_activity = now
                if fault is None:
                    chat.last_answered_seq = seq
                else:
                    # The bot may retry after a fault: the chat is not quiet before then.
                    wait = retry_after if fault == "429" else 0.0
                    chat.busy_until = max(chat.busy_until, now + wait + self.fault_grace)
            self._bump()

    async def _dispatch(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        chat: _Chat | None,
    ) -> tuple[web.Response, str | None, float]:
        """Answer one call; also returns the injected fault kind (or None) and retry_after."""
        chat_id = chat.id if chat is not None else None
        fault, retry_after = self._pick_fault(method)
        plan = self.faults
        if plan is not None and plan.delay > 0 and plan.covers(method):
            await asyncio.sleep(plan.delay)
        if fault is not None:
            self.faults_injected.append((method, fault))
            self._log(chat_id, "server", "fault", f"injected {fault} into {method}")
            code, description = _FAULT_ANSWERS[fault]
            extra = None
            if fault == "429":
                shown = _json_number(retry_after)
                description = description.format(retry_after=shown)
                extra = {"retry_after": shown}
            return _error_response(code, description, extra), fault, float(retry_after)

        handler = self._methods.get(method.lower())
        if handler is None:
            self.unknown_methods.append(method)
            self._log(chat_id, "server", "unknown", f"unknown method {method} -> 404")
            return _error_response(404, "Not Found"), None, 0.0
        try:
            result = await handler(params, files)
        except _ApiFailure as failure:
            self.errors.append(ApiError(method, failure.code, failure.description, chat_id))
            if failure.rule is not None:
                self.violations.append(Violation(method, failure.rule, failure.description, chat_id))
            self._log(chat_id, "server", "error", f"{method} -> {failure.code} {failure.description}")
            return _error_response(failure.code, failure.description), None, 0.0
        return web.json_response({"ok": True, "result": result}), None, 0.0

    def _pick_fault(self, method: str) -> tuple[str | None, float]:
        queue = self._targeted.get(method.lower())
        if queue:
            return queue.pop(0)
        if self.faults is not None:
            return self.faults.pick(method), self.faults.retry_after
        return None, 0

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error_response(401, "Unauthorized")
        path = request.match_info["path"]
        for stored in self.files.values():
            if stored.file_path == path:
                return web.Response(body=stored.data, content_type=stored.content_type or "application/octet-stream")
        return _error_response(404, "Not Found")

    # -- internals: validation ---------------------------------------------------------

    def _parse_text(
        self, text: str, parse_mode: str | None, *, caption: bool = False
    ) -> tuple[str, list[dict[str, Any]]]:
        """Apply parse_mode and Telegram's length limits; returns (plain, entities)."""
        if parse_mode is not None and str(parse_mode).lower() == "html":
            try:
                plain, entities = parse_html(text, strict_ampersand=self.strict_ampersand)
            except HTMLParseError as exc:
                raise _ApiFailure(400, f"Bad Request: can't parse entities: {exc}", "html_parse_error") from None
        else:
            plain, entities = text, []
        if caption:
            if utf16_len(plain) > MAX_CAPTION_LENGTH:
                raise _ApiFailure(400, "Bad Request: message caption is too long", "caption_too_long")
        else:
            if not plain.strip():
                raise _ApiFailure(400, "Bad Request: message text is empty", "text_empty")
            if utf16_len(plain) > MAX_TEXT_LENGTH:
                raise _ApiFailure(400, "Bad Request: message is too long", "text_too_long")
        return plain, entities

    def _check_markup(self, markup: Any) -> dict[str, Any] | None:
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _ApiFailure(400, "Bad Request: can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return markup
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _ApiFailure(400, 'Bad Request: field "inline_keyboard" must be an Array of Arrays')
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _ApiFailure(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard", "button_invalid"
                    )
                actions = [key for key in _INLINE_BUTTON_ACTIONS if key in button]
                if len(actions) != 1:
                    raise _ApiFailure(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard",
                        "button_invalid",
                    )
                data = button.get("callback_data")
                if data is not None:
                    size = len(str(data).encode("utf-8"))
                    if size == 0 or size > MAX_CALLBACK_DATA_BYTES:
                        raise _ApiFailure(400, "Bad Request: BUTTON_DATA_INVALID", "callback_data_too_long")
                url = button.get("url")
                if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
                    raise _ApiFailure(400, "Bad Request: BUTTON_URL_INVALID", "button_invalid")
        return markup

    def _apply_reply_keyboard(self, chat: _Chat, markup: dict[str, Any] | None) -> None:
        if not markup:
            return
        if "keyboard" in markup:
            chat.reply_keyboard = [
                [b if isinstance(b, str) else str(b.get("text", "")) for b in row] for row in markup["keyboard"]
            ]
        elif markup.get("remove_keyboard"):
            chat.reply_keyboard = None

    def _target_message(self, params: dict[str, Any]) -> SentMessage:
        if params.get("inline_message_id"):
            raise _ApiFailure(400, EDIT_NOT_FOUND)
        chat = self._chat_for_send(params, sending=False)
        message = chat.messages.get(_as_int(params.get("message_id")) or -1)
        if message is None or message.deleted:
            raise _ApiFailure(400, EDIT_NOT_FOUND)
        if not message.from_bot:
            raise _ApiFailure(400, "Bad Request: message can't be edited")
        return message

    # -- internals: Bot API methods -------------------------------------------------------

    async def _get_me(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise _ApiFailure(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _as_int(params.get("offset"))
        limit = min(max(_as_int(params.get("limit")) or 100, 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params and params["allowed_updates"] is not None:
            self.allowed_updates = list(params["allowed_updates"])
        self._confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            batch = self._take(limit)
            if batch or self._closing:
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        for queued in batch:
            update_id = queued.update["update_id"]
            queued.forced = False
            self.updates_delivered.append(update_id)
            self._delivered_at_seq[update_id] = self._seq
        return [_json_copy(q.update) for q in batch]

    def _confirm(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset < 0:
            keep = self._queue[offset:]
            dropped = self._queue[: len(self._queue) + offset]
        else:
            keep = [q for q in self._queue if q.update["update_id"] >= offset or q.forced]
            dropped = [q for q in self._queue if q.update["update_id"] < offset and not q.forced]
        self._queue = keep
        self.updates_confirmed.extend(q.update["update_id"] for q in dropped)

    def _take(self, limit: int) -> list[_Queued]:
        batch: list[_Queued] = []
        for queued in list(self._queue):
            kind = next((k for k in queued.update if k != "update_id"), "")
            allowed = self.allowed_updates
            ok = kind in allowed if allowed else kind not in _OPT_IN_UPDATE_TYPES
            if not ok:
                self._queue.remove(queued)
                self.updates_filtered.append(queued.update["update_id"])
                continue
            batch.append(queued)
            if len(batch) >= limit:
                break
        return batch

    async def _delete_webhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._drop_pending()
        return True

    async def _set_webhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        url = str(params.get("url") or "")
        if params.get("drop_pending_updates"):
            self._drop_pending()
        if not url:
            self.webhook = None
            return True
        self.webhook = {k: v for k, v in params.items() if k != "drop_pending_updates"}
        if params.get("allowed_updates") is not None:
            self.allowed_updates = list(params["allowed_updates"])
        return True

    def _drop_pending(self) -> None:
        self.updates_confirmed.extend(q.update["update_id"] for q in self._queue)
        self._queue.clear()

    async def _get_webhook_info(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook:
            info["max_connections"] = self.webhook.get("max_connections", 40)
            if self.webhook.get("ip_address"):
                info["ip_address"] = self.webhook["ip_address"]
            if self.allowed_updates:
                info["allowed_updates"] = list(self.allowed_updates)
        return info

    async def _set_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiFailure(400, "Bad Request: commands must be an array of at most 100 commands")
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            description = str(command.get("description", "")) if isinstance(command, dict) else ""
            valid_name = 1 <= len(name) <= 32 and all(c.islower() or c.isdigit() or c == "_" for c in name)
            if not valid_name or not name.isascii():
                raise _ApiFailure(400, "Bad Request: BOT_COMMAND_INVALID", "bot_command_invalid")
            if not 1 <= len(description) <= 256:
                raise _ApiFailure(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID", "bot_command_invalid")
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self.commands[key] = _json_copy(commands)
        return True

    async def _get_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> list[dict[str, Any]]:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return _json_copy(self.commands.get(key, []))

    async def _delete_my_commands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self.commands.pop(key, None)
        return True

    def _store_bot_message(
        self,
        chat: _Chat,
        kind: str,
        raw_text: str,
        plain: str,
        entities: list[dict[str, Any]],
        params: dict[str, Any],
        markup: dict[str, Any] | None,
        upload: UploadedFile | None = None,
        file_ref: str | None = None,
    ) -> SentMessage:
        reply_to = None
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_to = _as_int(reply_parameters.get("message_id"))
        elif params.get("reply_to_message_id") is not None:
            reply_to = _as_int(params.get("reply_to_message_id"))
        message = SentMessage(
            chat=dict(chat.json),
            sender=self.bot_user,
            message_id=chat.new_message_id(),
            kind=kind,
            text=plain,
            raw_text=raw_text,
            parse_mode=params.get("parse_mode"),
            entities=entities,
            reply_markup=markup,
            date=int(time.time()),
            file=upload,
            file_ref=file_ref,
            reply_to=reply_to,
            changed_seq=self._seq,
        )
        chat.messages[message.message_id] = message
        chat.bot_actions += 1
        self._apply_reply_keyboard(chat, markup)
        self._log(chat.id, "bot", "send", f"bot {message.describe()}")
        return message

    def _message_result(self, message: SentMessage) -> dict[str, Any]:
        result = message.to_json()
        if message.reply_to is not None:
            original = self._chats[message.chat_id].messages.get(message.reply_to)
            if original is not None:
                result["reply_to_message"] = original.to_json()
        return result

    async def _send_message(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        chat = self._chat_for_send(params)
        raw_text = params.get("text")
        raw_text = "" if raw_text is None else str(raw_text)
        plain, entities = self._parse_text(raw_text, params.get("parse_mode"))
        if isinstance(params.get("entities"), list) and params.get("parse_mode") is None:
            entities = _json_copy(params["entities"])
        markup = self._check_markup(params.get("reply_markup"))
        message = self._store_bot_message(chat, "text", raw_text, plain, entities, params, markup)
        return self._message_result(message)

    async def _send_media(self, kind: str, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        chat = self._chat_for_send(params)
        caption = params.get("caption")
        raw_caption = "" if caption is None else str(caption)
        plain, entities = self._parse_text(raw_caption, params.get("parse_mode"), caption=True)
        markup = self._check_markup(params.get("reply_markup"))
        upload = files.get(kind)
        file_ref = None
        if upload is not None:
            number = next(self._file_ids)
            upload.file_id = f"BOTFILE{number:06d}"
            upload.file_unique_id = f"BOTUNIQ{number:06d}"
            ext = upload.filename.rsplit(".", 1)[-1] if upload.filename and "." in upload.filename else "bin"
            upload.file_path = f"{kind}s/file_{number}.{ext}"
            self.uploads.append(upload)
            self.files[upload.file_id] = upload
        else:
            ref = params.get(kind)
            if not ref:
                raise _ApiFailure(400, f"Bad Request: there is no {kind} in the request")
            file_ref = str(ref)
            if file_ref.startswith("attach://"):
                raise _ApiFailure(400, f"Bad Request: {kind} attachment not found")
            if file_ref in self.files:
                upload = self.files[file_ref]
        message = self._store_bot_message(chat, kind, raw_caption, plain, entities, params, markup, upload, file_ref)
        return self._message_result(message)

    async def _send_photo(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        return await self._send_media("photo", params, files)

    async def _send_document(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        return await self._send_media("document", params, files)

    def _apply_edit(
        self,
        message: SentMessage,
        plain: str,
        raw_text: str,
        parse_mode: str | None,
        entities: list[dict[str, Any]],
        markup: dict[str, Any] | None,
        what: str,
    ) -> dict[str, Any]:
        if (
            plain == message.text
            and _entity_key(entities) == _entity_key(message.entities)
            and _markup_key(markup) == _markup_key(message.reply_markup)
        ):
            raise _ApiFailure(400, NOT_MODIFIED)
        if plain != message.text:
            message.history.append(message.text)
        message.text = plain
        message.raw_text = raw_text
        message.parse_mode = parse_mode
        message.entities = entities
        message.reply_markup = markup
        message.edit_count += 1
        message.edit_date = int(time.time())
        message.changed_seq = self._seq
        chat = self._chats[message.chat_id]
        chat.bot_actions += 1
        self._log(chat.id, "bot", "edit", f"bot edits {what} (edit {message.edit_count}) {message.describe()}")
        return self._message_result(message)

    async def _edit_message_text(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        raw_text = "" if params.get("text") is None else str(params["text"])
        plain, entities = self._parse_text(raw_text, params.get("parse_mode"))
        markup = self._check_markup(params.get("reply_markup"))
        message = self._target_message(params)
        if message.kind != "text":
            raise _ApiFailure(400, "Bad Request: there is no text in the message to edit")
        return self._apply_edit(message, plain, raw_text, params.get("parse_mode"), entities, markup, "text")

    async def _edit_message_caption(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        raw_text = "" if params.get("caption") is None else str(params["caption"])
        plain, entities = self._parse_text(raw_text, params.get("parse_mode"), caption=True)
        markup = self._check_markup(params.get("reply_markup"))
        message = self._target_message(params)
        if message.kind == "text":
            raise _ApiFailure(400, "Bad Request: there is no caption in the message to edit")
        return self._apply_edit(message, plain, raw_text, params.get("parse_mode"), entities, markup, "caption")

    async def _edit_message_reply_markup(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        markup = self._check_markup(params.get("reply_markup"))
        message = self._target_message(params)
        return self._apply_edit(
            message, message.text, message.raw_text, message.parse_mode, message.entities, markup, "buttons"
        )

    async def _answer_callback_query(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        text = params.get("text")
        text = None if text is None else str(text)
        entry = self._queries.get(query_id)
        if entry is None or entry[2]:
            raise _ApiFailure(400, QUERY_INVALID)
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _ApiFailure(400, "Bad Request: MESSAGE_TOO_LONG", "callback_answer_too_long")
        chat_id, user_id, _ = entry
        self._queries[query_id] = (chat_id, user_id, True)
        show_alert = bool(params.get("show_alert"))
        url = params.get("url")
        self.callback_answers.append(CallbackAnswer(query_id, chat_id, user_id, text, show_alert, url))
        label = "alert" if show_alert else "toast"
        shown = f"{text!r}" if text else "(no text)"
        self._log(chat_id, "bot", "toast", f"bot answers tap with {label} {shown}", user_id)
        return True

    async def _send_chat_action(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        chat = self._chat_for_send(params)
        self.chat_actions.append((chat.id, str(params.get("action"))))
        return True

    async def _delete_message(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        chat = self._chat_for_send(params, sending=False)
        message = chat.messages.get(_as_int(params.get("message_id")) or -1)
        if message is None or message.deleted:
            raise _ApiFailure(400, DELETE_NOT_FOUND)
        message.deleted = True
        message.changed_seq = self._seq
        self._log(chat.id, "bot", "delete", f"bot deletes #{message.message_id}")
        return True

    async def _get_file(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        stored = self.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _ApiFailure(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    async def _close(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self.closed_by_bot = True
        return True


# --------------------------------------------------------------------------
# Module helpers
# --------------------------------------------------------------------------


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


def _scope_key(scope: Any) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


def _entity_key(entities: Iterable[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(e, sort_keys=True) for e in entities)


def _markup_key(markup: dict[str, Any] | None) -> str:
    if not markup or not markup.get("inline_keyboard"):
        return ""
    return json.dumps(markup["inline_keyboard"], sort_keys=True)


def _error_response(code: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


def _decode_value(key: str, value: str) -> Any:
    """Undo PTB's form encoding: plain strings as-is, everything else JSON."""
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    params: dict[str, Any] = {k: _decode_value(k, v) for k, v in request.query.items()}
    files: dict[str, UploadedFile] = {}
    if request.method in ("POST", "PUT") and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files[key] = UploadedFile(
                        field=key,
                        filename=value.filename,
                        size=len(data),
                        content_type=value.content_type,
                        data=data,
                    )
                    # Keep uploads visible in server.calls without the bytes.
                    params[key] = {"upload": value.filename, "size": len(data)}
                else:
                    text = value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")
                    params[key] = _decode_value(key, text)
    return params, files
