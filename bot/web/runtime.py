"""What every page of the web channel shares: the door and the threads that call it.

The door is synchronous (one database transaction per use case); pages are async, so every call
goes through `db()` (a worker thread; one at a time on SQLite, which has one writer anyway) or
`render()` (PDFs and pictures: a few CPU-heavy threads of their own, so a report never holds up
an answer). `Flash` keeps what an answer showed (interim results, red-flag advice) for the page
after a POST/redirect/GET, in this process's memory only, for a few minutes.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from anyio import to_thread

from dialogs.app import Block, Door

T = TypeVar("T")
FLASH_SECONDS = 300.0
FLASH_MAX = 2000
DB_THREADS_SQL = 8       # PostgreSQL: connections in flight from this process
RENDER_THREADS = 2


@dataclass(frozen=True)
class Flashed:
    """What a POST left for the next GET of a case page: shown once, only at this step."""

    step: int
    blocks: tuple[Block, ...]
    notice: str | None
    at: float = field(default_factory=time.monotonic)


class Flash:
    """Messages between a POST and the page it redirects to, keyed by session and case.

    Only for browsers without JavaScript (htmx gets the answer's page in the POST's response);
    lost on a restart or on another instance, which costs the user an informational block,
    never an answer (the question shown always comes from the database)."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, str], Flashed] = OrderedDict()

    @staticmethod
    def _key(token: str, code: str) -> tuple[str, str]:
        return hashlib.sha256(token.encode()).hexdigest()[:32], code

    def put(self, token: str, code: str, item: Flashed) -> None:
        key = self._key(token, code)
        self._items.pop(key, None)
        self._items[key] = item
        while len(self._items) > FLASH_MAX:
            self._items.popitem(last=False)

    def take(self, token: str, code: str, step: int | None = None) -> Flashed | None:
        item = self._items.pop(self._key(token, code), None)
        if item is None or time.monotonic() - item.at > FLASH_SECONDS:
            return None
        if step is not None and item.step != step:
            return None
        return item


class Runtime:
    def __init__(self, door: Door) -> None:
        self.door = door
        self.settings = door.settings
        self.flash = Flash()
        self.templates: Any = None                            # set by bot/web/app.py
        self._db = anyio.CapacityLimiter(1 if door.one_writer() else DB_THREADS_SQL)
        self._render = anyio.CapacityLimiter(RENDER_THREADS)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """A use case of the door in a worker thread."""
        return await to_thread.run_sync(lambda: fn(*args), limiter=self._db)

    async def render(self, fn: Callable[..., T], *args: Any) -> T:
        """A report or picture (CPU-heavy) in a thread of its own."""
        return await to_thread.run_sync(lambda: fn(*args), limiter=self._render)
