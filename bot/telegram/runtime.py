"""What every Telegram handler needs, built once: the door (dialogs.app), the database executor,
texts, and a Telegram call wrapper that retries network errors and ignores "message is not modified".

Retrying is only safe when a repeat changes nothing. Edits and toasts are idempotent and retried
on any network error. A send (sendMessage, sendPhoto, sendDocument) is retried only when the
request certainly did not reach Telegram (no connection was made, the pool was full) or Telegram
answered with an error (5xx, 429): a read time-out after the request went out is ambiguous (PTB's
TimedOut), Telegram may well have delivered it, and a blind retry would show the message twice. We
choose "at most once" there: the send is given up and logged; the user's answer is stored anyway,
and /hervat shows the question again. Toasts (answerCallbackQuery) run beside the reply, never
before it, and are waited for only briefly (TOAST_WAIT) before they finish in the background: a
slow or failing toast holds back neither the next question nor the user's next tap for long.

Database work is synchronous (one short transaction per update, see storage/db.py) and runs in
a small thread pool, one hop per transaction, so a database that waits on a lock never blocks
the event loop that serves other chats.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.telegram.strangers import Strangers
from bot.telegram.throttle import Throttle
from dialogs.app import Door
from dialogs.texts import Catalog

log = logging.getLogger("lensbot.telegram")
T = TypeVar("T")
BACKOFF = (0.2, 0.5, 1.0, 2.0)
TOAST_BACKOFF = BACKOFF     # a toast is retried as often as any call, but beside the reply, never in its way
TOAST_TIMEOUT = 4.0          # seconds per toast attempt (PTB's read time-out otherwise: 5 s)
TOAST_WAIT = 0.5             # seconds a handler waits for its toast once the reply is out
TOAST_BUDGET = 8.0           # seconds a toast may take in all (a shutdown waits for it at most this long)
# httpx errors raised before any byte of the request left: a send may be repeated after these
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@cache
def telegram_texts() -> Catalog:
    return Catalog.load(Path(__file__).with_name("texts.yaml"))


class Recent(OrderedDict[tuple[int, int], str]):
    """(chat, message id) -> case code for the most recent messages only (oldest forgotten first)."""

    def __init__(self, size: int = 20_000) -> None:
        super().__init__()
        self.size = size

    def remember(self, chat: int, message_id: int, code: str) -> None:
        key = (chat, message_id)
        self.pop(key, None)
        self[key] = code
        while len(self) > self.size:
            self.popitem(last=False)


@dataclass
class Runtime:
    door: Door
    executor: ThreadPoolExecutor
    # Reports (the lens picture after every summary, PDFs, charts) are rendered here, not on the
    # database thread: the picture takes ~100 ms of CPU, and on SQLite's single database thread
    # every other chat's answer waited behind it. bench/load.py, 10 conversations tapping without
    # pause, SQLite, median of 4 alternating runs: p99 per update 382 ms with the picture on the
    # database thread, 152 ms here; 304 -> 365 answers/s. None: use `executor`.
    renderer: ThreadPoolExecutor | None = None
    # The message per chat that holds the live question keyboard; when a new question is sent as
    # a new message, the old keyboard is removed so only one set of buttons is ever live.
    live_prompts: dict[int, int] = field(default_factory=dict)
    # The live question a "tap a button" hint was given for: one hint per question, not one per word typed.
    hinted: dict[int, int] = field(default_factory=dict)
    # Cases erased from this chat lately, (chat, code): a second "Ja, verwijder" is no "niet gevonden".
    erased_here: dict[tuple[int, str], None] = field(default_factory=dict)
    # Which case a note prompt belongs to, and which case a typed note went to, so that a reply to
    # a prompt and an edited note reach their own case. In memory: after a restart a reply is
    # matched by the case code in the prompt's text, and an edit is refused with a clear message.
    note_prompts: Recent = field(default_factory=Recent)     # (chat, bot message) -> code
    last_note_prompt: dict[int, str] = field(default_factory=dict)   # chat -> code of the latest
    note_messages: Recent = field(default_factory=Recent)    # (chat, user's message) -> code
    texts: Catalog = field(default_factory=telegram_texts)
    strangers: Strangers = field(default_factory=Strangers)
    # Messages the bot starts itself (reminders) pass here: at most 25 a second.
    outbound: Throttle = field(default_factory=Throttle)

    @property
    def retention_days(self) -> int:
        return self.door.settings.retention_days

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(fn, *args, **kwargs))

    async def render(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Like db(), on the rendering thread: CPU-heavy work with a few short reads and writes."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.renderer or self.executor, partial(fn, *args, **kwargs))

    async def call(self, make: Callable[[], Awaitable[T]], *, resend: bool = True) -> T | None:
        """One Bot API call, retried on network errors with backoff.

        `resend=False` for calls that are not idempotent (sends): then an ambiguous failure (a
        time-out or a broken connection after the request went out) is not retried; see the
        module docstring. RetryAfter (429) is already handled by PTB's AIORateLimiter; if it still
        surfaces here we wait as told. "Message is not modified" means the screen already shows
        what we want; a callback query that is too old (or answered before, as after a
        redelivery) can no longer show a toast, which must not stop the reply that follows it.
        """
        for attempt, delay in enumerate((*BACKOFF, None)):
            try:
                return await make()
            except RetryAfter as exc:
                if delay is None:
                    raise
                wait = exc.retry_after
                await asyncio.sleep(wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait))
            except BadRequest as exc:
                if "not modified" in exc.message.lower():
                    return None
                if "query is too old" in exc.message.lower() or "query id is invalid" in exc.message.lower():
                    log.info("callback query expired; toast dropped")
                    return None
                raise
            except Forbidden:
                log.info("user blocked the bot; message dropped")
                return None
            except (TimedOut, NetworkError) as exc:
                if not resend and _maybe_delivered(exc):
                    log.warning("telegram send failed ambiguously (%s); not repeated, it may have arrived",
                                type(exc).__name__)
                    return None
                if delay is None:
                    raise
                log.warning("telegram call failed (%s), retry %d", type(exc).__name__, attempt + 1)
                await asyncio.sleep(delay)
        return None

    async def send(self, make: Callable[[], Awaitable[T]]) -> T | None:
        """A call that shows something new (sendMessage, sendPhoto, ...): never repeated blindly."""
        return await self.call(make, resend=False)

    async def toast(self, answer: Callable[[float], Awaitable[object]]) -> None:
        """Answer a callback query, a little persistently, within TOAST_BUDGET; never raises.
        Ctx.toast awaits it when the toast is the whole answer; Ctx.toasting runs it beside the reply
        and waits for it only briefly. `answer(timeout)` makes the call with that read time-out."""
        try:
            async with asyncio.timeout(TOAST_BUDGET):
                await self._answer(answer)
        except TimeoutError:
            log.info("toast not answered within %.0f s; dropped", TOAST_BUDGET)

    async def _answer(self, answer: Callable[[float], Awaitable[object]]) -> None:
        for delay in (*TOAST_BACKOFF, None):
            try:
                await answer(TOAST_TIMEOUT)
                return
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
                if delay is None or seconds > 5:
                    log.info("toast dropped after 429")
                    return
                await asyncio.sleep(seconds)
            except BadRequest:   # too old, or answered before (a redelivery): nothing left to show
                log.info("callback query could not be answered; toast dropped")
                return
            except Exception as exc:   # a toast is a courtesy; the reply is what counts
                if delay is None:
                    log.info("toast failed (%s); dropped", type(exc).__name__)
                    return
                await asyncio.sleep(delay)


def _maybe_delivered(exc: NetworkError) -> bool:
    """Whether a failed request may still have been carried out by Telegram.

    PTB raises NetworkError without a cause when Telegram answered with an error status (the
    request was refused: not carried out) and with the httpx error as cause otherwise."""
    cause = exc.__cause__
    if cause is None:
        return False
    return not isinstance(cause, NOT_SENT)
