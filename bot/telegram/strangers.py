"""Strangers: users known not to have access, remembered for a few seconds.

A stranger who floods the bot must not slow real users down. Their negative lookup is cached
briefly (safe: a negative cache can only refuse; an invitation code is always looked up, see
bot/telegram/guard.py), and they are told "no access" at most once per STRANGER_QUIET seconds.
Memory is bounded: the oldest entries are forgotten first.
"""

from __future__ import annotations

import time
from collections.abc import Callable

STRANGER_TTL = 5.0      # seconds a "not a user" lookup is remembered
STRANGER_QUIET = 10.0   # seconds between two refusals to the same stranger
STRANGER_MEMORY = 10_000   # strangers remembered at most (oldest forgotten first)


class Strangers:
    """Users known not to have access, for a few seconds, and when each was last told so."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._until: dict[int, float] = {}   # user id -> end of the negative cache
        self._told: dict[int, float] = {}    # user id -> when we last refused them

    def known_stranger(self, user_id: int) -> bool:
        until = self._until.get(user_id)
        if until is None:
            return False
        if until < self.clock():
            del self._until[user_id]
            return False
        return True

    def remember(self, user_id: int) -> None:
        _bounded(self._until, user_id, self.clock() + STRANGER_TTL)

    def forget(self, user_id: int) -> None:
        self._until.pop(user_id, None)

    def may_tell(self, user_id: int) -> bool:
        """True at most once per STRANGER_QUIET seconds per user (and then counts as told)."""
        now = self.clock()
        last = self._told.get(user_id)
        if last is not None and now - last < STRANGER_QUIET:
            return False
        _bounded(self._told, user_id, now)
        return True


def _bounded(memory: dict[int, float], key: int, value: float) -> None:
    memory.pop(key, None)
    memory[key] = value
    while len(memory) > STRANGER_MEMORY:
        del memory[next(iter(memory))]
