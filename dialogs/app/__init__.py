"""The application layer: the one door every channel goes through.

A channel (bot/telegram, bot/console, the CLI, a web channel later) imports from here and
nothing of storage/ or matrix/: it builds a `Door` from `Settings`, calls its use cases with the
acting user and plain arguments, and renders the typed results (blocks, replies with prompts,
files). Storage trouble arrives as `Unavailable`, bad arguments as `BadInput`, bad settings as
`ConfigError`, a broken lens as `LensError`.

    cases.py    start, answer, typed text, resume, list, summary, delete, practice, progress
    training.py a trainer's view: the practice of the trainees they invited, its CSV, invitations
    reports.py  a case's report, the export of all cases, the local picture (files)
    accounts.py web accounts: invitations, passwords, TOTP, throttling, sessions (the web channel)
    links.py    links from Telegram into the web app (Telegram's minimal mode)
    admin.py    users of any channel, invitations, purge, audit, reminders, housekeeping
    tools.py    assess answers, check a lens, the dialog graph (no user, no database)
    settings.py every LENSBOT_* / TELEGRAM_* variable (pydantic-settings)
    root.py     the composition root: `Door(settings, channel)`
"""

from __future__ import annotations

from dialogs.access import NotAllowed, Redeemed
from dialogs.app.accounts import (
    AccountInfo,
    Accounts,
    Flashed,
    InvitationInfo,
    LoginResult,
    TotpSetup,
    WebSession,
    account_texts,
)
from dialogs.app.admin import UPDATE_MEMORY, InviteListing, Purged, UserListing
from dialogs.app.cases import TextResult
from dialogs.app.errors import BadInput, ConfigError, LensError, SchemaOutdated, Unavailable
from dialogs.app.reports import CASE_FORMAT_NAMES, STATS_FORMAT_NAMES
from dialogs.app.root import Door
from dialogs.app.settings import Settings
from dialogs.domain import REAL_MODES, ROLES, Action, Mode, Role
from dialogs.output import Block, Line, Option, Prompt, Reply
from dialogs.reports.service import File
from storage.repo import CaseSummary as CaseListing
from storage.repo import UserRow as User

__all__ = [
           "CASE_FORMAT_NAMES",
           "REAL_MODES",
           "ROLES",
           "STATS_FORMAT_NAMES",
           "UPDATE_MEMORY",
           "AccountInfo",
           "Accounts",
           "Action",
           "BadInput",
           "Block",
           "CaseListing",
           "ConfigError",
           "Door",
           "File",
           "Flashed",
           "InvitationInfo",
           "InviteListing",
           "LensError",
           "Line",
           "LoginResult",
           "Mode",
           "NotAllowed",
           "Option",
           "Prompt",
           "Purged",
           "Redeemed",
           "Reply",
           "Role",
           "SchemaOutdated",
           "Settings",
           "TextResult",
           "TotpSetup",
           "Unavailable",
           "User",
           "UserListing",
           "WebSession",
           "account_texts",
]
