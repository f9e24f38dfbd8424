"""A small async throttle for messages the bot starts itself (reminders, notifications).

Replies to a user's own tap or message are never held back by a throttle of ours: PTB's
AIORateLimiter runs with its overall limit off and only honours Telegram's 429 retry_after (see
bot/telegram/app.py). Messages nobody is waiting for go through this throttle instead, at most
OUTBOUND_RATE a second, evenly spaced, so a batch of reminders never fills Telegram's overall
budget (about 30 a second) and never crowds out the replies to people who are typing.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

OUTBOUND_RATE = 25.0   # messages a second the bot may start on its own


class Throttle:
    """`async with throttle:` starts at most `rate` times a second, spaced 1/rate apart."""

    def __init__(self, rate: float = OUTBOUND_RATE) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            wait = self._next - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next = max(loop.time(), self._next) + self.interval

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None
