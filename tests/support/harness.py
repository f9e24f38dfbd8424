"""Run the real lensbot Telegram Application in-process against the fake Bot API.

The same `build_application` as `lensbot telegram`, the same start-up hooks, long polling over
HTTP on 127.0.0.1. Use `TelegramHarness` as an async context manager.
"""

from __future__ import annotations

from collections.abc import Awaitable
from types import TracebackType
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.telegram.app import ALLOWED_UPDATES, Settings, build_application
from dialogs.app.root import open_store
from dialogs.service import IntakeService
from matrix.lens import Lens
from storage.repo import Store
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.migrated import start_migrated


class TelegramHarness:
    def __init__(self, server: FakeBotAPI, db_url: str, lens: Lens, admin_ids: frozenset[str] = frozenset()) -> None:
        self.server, self.db_url, self.lens, self.admin_ids = server, db_url, lens, admin_ids
        self.app: Application | None = None
        self.store: Store | None = None

    async def start(self) -> TelegramHarness:
        start_migrated(self.db_url)   # a new SQLite file starts as a copy of a migrated one (tests/support/migrated.py)
        self.store = open_store(Settings.load(database_url=self.db_url), migrate=True)   # LENSBOT_SQLITE_BUSY_...
        self.store.ensure_schema(auto_upgrade=True)
        settings = Settings(token=self.server.token, base_url=self.server.base_url,
                            base_file_url=self.server.base_file_url, admin_ids=self.admin_ids)
        self.app = build_application(settings, IntakeService(self.store, self.lens), self.store)
        self._report_handled()
        await self.app.initialize()
        if self.app.post_init:
            await self.app.post_init(self.app)
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=ALLOWED_UPDATES)
        return self

    def _report_handled(self) -> None:
        """Tell the fake server when an update is finished, so tests wait for that, not for a pause."""
        assert self.app is not None
        processor, server = self.app.update_processor, self.server
        inner = processor.do_process_update

        async def observed(update: object, coroutine: Awaitable[Any]) -> None:
            try:
                await inner(update, coroutine)
            finally:
                if isinstance(update, Update):
                    server.mark_handled(update.update_id)

        processor.do_process_update = observed  # type: ignore[method-assign]
        server.track_handling()

    async def stop(self) -> None:
        app = self.app
        if app is None:
            return
        self.app = None
        if app.updater and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        if app.post_shutdown:
            await app.post_shutdown(app)

    async def __aenter__(self) -> TelegramHarness:
        return await self.start()

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
