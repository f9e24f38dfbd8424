"""Strangers: users known not to have access, remembered for a few seconds.

A stranger who floods the bot must not slow real users down. Their negative lookup is cached
briefly (safe: a negative cache can only refuse; an invitation code is always looked up, see
bot/telegram/guard.py). Someone trying one command after another is answered every time; in a
flood (more of their messages already waiting) the first STRANGER_BURST are answered, then at most
one per STRANGER_QUIET seconds, and the last one.
Memory is bounded: the oldest entries are forgotten first.
"""

from __future__ import annotations

import time
from collections.abc import Callable

STRANGER_TTL = 5.0      # seconds a "not a user" lookup is remembered
STRANGER_QUIET = 10.0   # seconds per refusal to the same stranger, once their burst is spent
STRANGER_BURST = 5      # refusals a stranger gets in a row before the pace above applies
STRANGER_MEMORY = 10_000   # strangers remembered at most (oldest forgotten first)


class Strangers:
    """Users known not to have access, for a few seconds, and when each was last told so."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._until: dict[int, float] = {}   # user id -> end of the negative cache
        self._told: dict[int, float] = {}    # user id -> when their refusal budget is empty again

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
        """True for the first STRANGER_BURST messages, then once per STRANGER_QUIET seconds (a
        token bucket kept as the time it is full again: no timer, one float per stranger)."""
        now = self.clock()
        full_again = max(self._told.get(user_id, now), now)
        if full_again - now > (STRANGER_BURST - 1) * STRANGER_QUIET:
            return False
        _bounded(self._told, user_id, full_again + STRANGER_QUIET)
        return True


def _bounded(memory: dict[int, float], key: int, value: float) -> None:
    memory.pop(key, None)
    memory[key] = value
    while len(memory) > STRANGER_MEMORY:
        del memory[next(iter(memory))]
