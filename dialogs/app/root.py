"""The composition root: everything a channel needs, built from one Settings object.

`Door(settings, channel)` is what a channel holds: `door.cases`, `door.reports`, `door.admin`,
`door.tools`, `door.access`, `door.accounts` and `door.links` are the use cases, each built on first
use, so `lensbot cases` never loads the lens and `lensbot matrix check` never opens the database. The lens is loaded
before the database is touched (a broken lens stops the bot before it opens anything).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cached_property

from dialogs.access import Access
from dialogs.app.accounts import Accounts
from dialogs.app.admin import Admin
from dialogs.app.cases import Cases
from dialogs.app.links import Links
from dialogs.app.reports import CaseReports
from dialogs.app.settings import Settings
from dialogs.app.sharing import Sharing
from dialogs.app.tools import Tools
from dialogs.app.training import Trainers
from dialogs.reports.service import Reports
from dialogs.service import IntakeService
from matrix.lens import Lens
from matrix.loader import load_lens
from storage.db import is_sqlite, make_engine
from storage.repo import Store, UserRow, now

log = logging.getLogger(__name__)


def open_store(settings: Settings, migrate: bool = False) -> Store:
    """The database the settings name; SQLite is migrated on the spot, PostgreSQL only on purpose."""
    store = Store(engine=make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms),
                  audit_key=settings.audit_key)
    if not migrate:
        store.ensure_schema(auto_upgrade=False)
    return store


def configured_lens(settings: Settings) -> Lens:
    """The lens the settings name (LENSBOT_LENS, LENSBOT_CONTACTS), or the bundled one."""
    return load_lens(settings.lens, settings.contacts)


class Door:
    """The one door of lensbot for one channel (console, telegram, web, ...)."""

    def __init__(self, settings: Settings | None = None, channel: str = "console", *,
                 lens: Lens | None = None, store: Store | None = None, service: IntakeService | None = None) -> None:
        self.settings = settings if settings is not None else Settings.load()
        self.channel = channel
        if service is not None:
            self.__dict__["service"] = service
            lens, store = service.lens, service.store
        if lens is not None:
            self.__dict__["lens"] = lens
        if store is not None:
            self.__dict__["store"] = store

    @classmethod
    def around(cls, service: IntakeService, settings: Settings, channel: str) -> Door:
        """A door on an existing service (tests and benchmarks build their own store and lens)."""
        return cls(settings, channel, service=service)

    # -- what it is built from -------------------------------------------------------------
    @cached_property
    def lens(self) -> Lens:
        return configured_lens(self.settings)

    @cached_property
    def store(self) -> Store:
        return open_store(self.settings)

    @cached_property
    def service(self) -> IntakeService:
        lens = self.lens   # first: a broken lens must stop us before the database is opened
        return IntakeService(self.store, lens)

    # -- the use cases -----------------------------------------------------------------------
    @cached_property
    def access(self) -> Access:
        return Access(self.store, self.channel, self.settings.admin_ids)

    @cached_property
    def accounts(self) -> Accounts:
        """Web accounts and sessions (the web channel's sign-in); its clock is this door's."""
        return Accounts(self.store, self.settings, self.clock)

    @cached_property
    def links(self) -> Links:
        """Links from Telegram into the web app (LENSBOT_TELEGRAM_CONTENT=minimal)."""
        return Links(self.store, self.settings, self.accounts, self.clock)

    @cached_property
    def cases(self) -> Cases:
        if "service" in self.__dict__:
            return Cases(self.service)
        return Cases(lambda: self.service, self.store)   # the lens is loaded when a case needs it

    @cached_property
    def training(self) -> Trainers:
        """A trainer's view of the trainees they invited (issue 14)."""
        return Trainers(lambda: self.service)

    @cached_property
    def reports(self) -> CaseReports:
        return CaseReports(Reports(self.service, self.settings.organisation))

    @cached_property
    def admin(self) -> Admin:
        return Admin(self.store, self.settings.admin_ids, self.settings.retention_days,
                     self.settings.purge_max_share, self.clock, forget_sessions=lambda: self.accounts.forget_stale())

    @cached_property
    def sharing(self) -> Sharing:
        """Sharing a case with colleagues (issue 13): requests, contributions, aanvullen, the export."""
        return Sharing(self.service, self.settings.web_base_url,
                       lambda channel: self.access if channel == self.channel else
                       Access(self.store, channel, self.settings.admin_ids))

    def clock(self) -> datetime:
        """Now, as the housekeeping jobs read it (LENSBOT_CLOCK_OFFSET_DAYS shifts it in drills)."""
        return now() + timedelta(days=self.settings.clock_offset_days)

    @cached_property
    def tools(self) -> Tools:
        return Tools(self.lens)

    # -- small things every channel needs ------------------------------------------------------
    def operator(self, name: str, role: str = "professional") -> UserRow:
        """The user behind a terminal (console channel): created on first use."""
        user = self.store.user(self.channel, name, create_role=role)
        assert user is not None
        return user

    def one_writer(self) -> bool:
        """True on SQLite: one database thread is enough (it has one writer anyway)."""
        return is_sqlite(self.store.engine)

    def upgrade_database(self) -> None:
        """Run the migrations up to the newest schema (`lensbot db upgrade`)."""
        open_store(self.settings, migrate=True).upgrade()

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.dispose()
