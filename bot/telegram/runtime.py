"""What every Telegram handler needs, built once: the door (dialogs.app), the database executor,
texts, and a Telegram call wrapper that retries network errors and ignores "message is not modified".

Database work is synchronous (one short transaction per update, see storage/db.py) and runs in
a small thread pool, one hop per transaction, so a database that waits on a lock never blocks
the event loop that serves other chats.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from dialogs.app import Door
from dialogs.texts import Catalog

log = logging.getLogger("lensbot.telegram")
T = TypeVar("T")
BACKOFF = (0.2, 0.5, 1.0, 2.0)


@cache
def telegram_texts() -> Catalog:
    return Catalog.load(Path(__file__).with_name("texts.yaml"))


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
    texts: Catalog = field(default_factory=telegram_texts)

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

    async def call(self, make: Callable[[], Awaitable[T]]) -> T | None:
        """One Bot API call, retried on network errors with backoff.

        RetryAfter (429) is already handled by PTB's AIORateLimiter; if it still surfaces here we
        wait as told. "Message is not modified" means the screen already shows what we want; a
        callback query that is too old (or answered before, as after a redelivery) can no longer
        show a toast, which must not stop the reply that follows it.
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
                if delay is None:
                    raise
                log.warning("telegram call failed (%s), retry %d", type(exc).__name__, attempt + 1)
                await asyncio.sleep(delay)
        return None
