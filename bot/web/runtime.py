"""What every page of the web channel shares: the door and the threads that call it.

The door is synchronous (one database transaction per use case); pages are async, so every call
goes through `db()` (a worker thread; one at a time on SQLite, which has one writer anyway) or
`render()` (PDFs and pictures: a few CPU-heavy threads of their own, so a report never holds up
an answer). What an answer showed, kept for the page after a POST/redirect/GET, lives in the
session in the database (`door.accounts.flash`), not here: the GET may reach another instance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from anyio import to_thread

from dialogs.app import Door

T = TypeVar("T")
DB_THREADS_SQL = 8       # PostgreSQL: connections in flight from this process
RENDER_THREADS = 2


class Runtime:
    def __init__(self, door: Door) -> None:
        self.door = door
        self.settings = door.settings
        self.templates: Any = None                            # set by bot/web/app.py
        self._db = anyio.CapacityLimiter(1 if door.one_writer() else DB_THREADS_SQL)
        self._render = anyio.CapacityLimiter(RENDER_THREADS)

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """A use case of the door in a worker thread."""
        return await to_thread.run_sync(lambda: fn(*args), limiter=self._db)

    async def render(self, fn: Callable[..., T], *args: Any) -> T:
        """A report or picture (CPU-heavy) in a thread of its own."""
        return await to_thread.run_sync(lambda: fn(*args), limiter=self._render)
