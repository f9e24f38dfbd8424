"""Who may do what: roles, admins from configuration, invitations.

A channel asks this module and never decides access itself. Admins are named by the operator
(`LENSBOT_ADMIN_IDS`) rather than stored, so access can always be recovered from configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from storage import accounts
from storage.repo import Store, UserRow

ACTIONS_BY_ROLE: dict[str, set[str]] = {
    "admin": {"use", "intake", "cases", "invite", "training"},
    "professional": {"use", "intake", "cases", "training"},
    "trainee": {"use", "training"},   # trainees practise on vignettes and never hold real cases
}


def admin_ids_from_env(value: str | None = None) -> frozenset[str]:
    raw = value if value is not None else os.environ.get("LENSBOT_ADMIN_IDS", "")
    return frozenset(part.strip() for part in raw.replace(";", ",").split(",") if part.strip().isdigit())


@dataclass
class Access:
    store: Store
    channel: str
    admin_ids: frozenset[str] = frozenset()

    def user(self, external_id: int | str) -> UserRow | None:
        """The known user, or None: unknown people get nothing, not even a case."""
        ext = str(external_id)
        cached = self.cached(ext)
        if cached is not None:
            return cached
        if ext in self.admin_ids:
            user = self.store.user(self.channel, ext, create_role="admin")
            if user is not None and user.role != "admin":
                user = accounts.set_role(self.store, self.channel, ext, "admin")
            return user
        return self.store.user(self.channel, ext)

    def cached(self, external_id: int | str) -> UserRow | None:
        """The user from the in-memory cache (see storage.repo.USER_CACHE_TTL), or None when a
        database read is needed: not cached, expired, or a configured admin not yet made admin."""
        ext = str(external_id)
        user = self.store.cached_user(self.channel, ext)
        if user is not None and ext in self.admin_ids and user.role != "admin":
            return None
        return user

    def redeem(self, code: str, external_id: int | str) -> UserRow | None:
        if "\x00" in code:   # no invitation code has one, and PostgreSQL cannot even compare it
            return None
        return accounts.redeem_invite(self.store, code.strip(), self.channel, str(external_id))

    @staticmethod
    def may(user: UserRow | None, action: str) -> bool:
        return user is not None and action in ACTIONS_BY_ROLE.get(user.role, set())

    @staticmethod
    def case_modes(user: UserRow | None) -> tuple[str, ...]:
        """The kinds of case this user may see and act on."""
        if user is None:
            return ()
        real = ("full", "quick") if Access.may(user, "cases") else ()
        return (*real, "training") if Access.may(user, "training") else real
