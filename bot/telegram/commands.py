"""The Telegram command table: one declaration per command.

Each row names the command (Dutch first, as the menu shows it, then English and other aliases),
who may use it (an action of dialogs/access.py; None: anyone, even someone without access), and
the handler that runs its use case. Registration (app.register), the menu (set_my_commands, with
the description `cmd.<name>` from texts.yaml in each language) and the tests of access and of
the help text are all read from this table. Adding a command: a row here, its handler in
handlers.py calling a use case of dialogs.app, and its `cmd.<name>` text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram import handlers, sharing
from bot.telegram.guard import Ctx, guarded
from dialogs.app import Action


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]                  # names[0] is the Dutch name shown in the menu
    permission: Action | None               # what dialogs.access must allow; None: anyone
    handler: Callable[[Ctx], Awaitable[None]]
    menu: bool = True                       # listed in Telegram's command menu

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def description(self) -> str:
        """The text key of the menu description."""
        return f"cmd.{self.name}"

    def callback(self) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
        """The handler inside the one guard: private chats only, the user looked up, the permission checked."""
        return guarded(self.permission)(self.handler)


# In menu order.
COMMANDS: tuple[Command, ...] = (
    Command(("start",), None, handlers.start),
    Command(("nieuw", "new"), Action.INTAKE, handlers.new_case),
    Command(("snel", "quick"), Action.INTAKE, handlers.quick_scan),
    Command(("oefenen", "practice", "train"), Action.TRAINING, handlers.training),
    Command(("voortgang", "progress"), Action.TRAINING, handlers.progress),
    Command(("hervat", "resume"), Action.USE, handlers.resume),
    Command(("zaken", "cases"), Action.CASES, handlers.list_cases),
    Command(("samenvatting", "summary"), Action.CASES, handlers.summary),
    Command(("rapport", "report"), Action.CASES, handlers.report),
    Command(("export",), Action.CASES, handlers.export),
    Command(("verwijder", "delete"), Action.CASES, handlers.delete),
    Command(("nood", "emergency"), None, handlers.emergency),         # acute danger: for anyone, any time
    Command(("taal", "language"), Action.USE, handlers.language),     # only a known user has a language to set
    Command(("herinneringen", "reminders"), Action.USE, handlers.reminders),
    Command(("overzicht", "stats"), Action.INVITE, handlers.stats),   # the local picture: admins
    Command(("help",), None, handlers.help_),
    Command(("stop",), Action.USE, handlers.pause),                   # trainees pause practice cases too
    Command(("delen", "share"), Action.CASES, sharing.share),                  # ask a colleague (issue 13)
    Command(("verzoeken", "requests"), Action.CASES, sharing.requests),        # list and withdraw them
    Command(("aanvullen", "amend"), Action.CASES, sharing.amend),              # add to a completed case
    Command(("notitie", "note"), Action.CASES, sharing.note),
    Command(("bijdragen", "contributions"), Action.CONTRIBUTE, sharing.contributions),
    Command(("uitnodigen", "invite"), Action.INVITE, handlers.invite, menu=False),
    Command(("uitnodigingen", "invites"), Action.INVITE, handlers.invites, menu=False),   # list and revoke
)

BY_NAME: dict[str, Command] = {name: c for c in COMMANDS for name in c.names}


def menu() -> list[Command]:
    return [c for c in COMMANDS if c.menu]
