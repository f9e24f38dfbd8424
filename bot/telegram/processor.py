"""Per-chat ordering with concurrency across chats.

PTB's default processor runs updates concurrently without regard to the chat. Two taps of one
user must be applied in the order they arrived (the step check would refuse the second one
otherwise), while different users must not wait for each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        key = chat.id
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:   # forget idle chats so memory does not grow with users
                del self._users[key], self._locks[key]

    def waiting(self, chat_id: int) -> int:
        """How many more updates of this chat wait behind the one being handled now."""
        return max(self._users.get(chat_id, 0) - 1, 0)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
