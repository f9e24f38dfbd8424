"""Who may do what: roles, admins from configuration, invitations.

A channel asks this module and never decides access itself. Admins are named by the operator
(`LENSBOT_ADMIN_IDS`, read by dialogs/app/settings.py) rather than stored, so access can always
be recovered from configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.domain import REAL_MODES, TRAINING_MODES, Action, Role
from storage import accounts
from storage.repo import Store, UserRow

ACTIONS_BY_ROLE: dict[str, set[str]] = {
    Role.ADMIN: {Action.USE, Action.INTAKE, Action.CASES, Action.INVITE, Action.TRAINING},
    Role.PROFESSIONAL: {Action.USE, Action.INTAKE, Action.CASES, Action.TRAINING},
    Role.TRAINEE: {Action.USE, Action.TRAINING},   # trainees practise on vignettes and never hold real cases
}
ACTIONS = frozenset(Action)


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
            user = self.store.user(self.channel, ext, create_role=Role.ADMIN)
            if user is not None and user.role != Role.ADMIN:
                user = accounts.set_role(self.store, self.channel, ext, Role.ADMIN)
            return user
        return self.store.user(self.channel, ext)

    def cached(self, external_id: int | str) -> UserRow | None:
        """The user from the in-memory cache (see storage.repo.USER_CACHE_TTL), or None when a
        database read is needed: not cached, expired, or a configured admin not yet made admin."""
        ext = str(external_id)
        user = self.store.cached_user(self.channel, ext)
        if user is not None and ext in self.admin_ids and user.role != Role.ADMIN:
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
        real = REAL_MODES if Access.may(user, Action.CASES) else ()
        return (*real, *TRAINING_MODES) if Access.may(user, Action.TRAINING) else real
