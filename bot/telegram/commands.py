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

from bot.telegram import handlers
from bot.telegram.guard import Ctx, guarded


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]                  # names[0] is the Dutch name shown in the menu
    permission: str | None                  # what dialogs.access must allow; None: anyone
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
    Command(("nieuw", "new"), "intake", handlers.new_case),
    Command(("snel", "quick"), "intake", handlers.quick_scan),
    Command(("oefenen", "practice", "train"), "training", handlers.training),
    Command(("voortgang", "progress"), "training", handlers.progress),
    Command(("hervat", "resume"), "use", handlers.resume),
    Command(("zaken", "cases"), "cases", handlers.list_cases),
    Command(("samenvatting", "summary"), "cases", handlers.summary),
    Command(("rapport", "report"), "cases", handlers.report),
    Command(("export",), "cases", handlers.export),
    Command(("verwijder", "delete"), "cases", handlers.delete),
    Command(("nood", "emergency"), None, handlers.emergency),      # acute danger: for anyone, any time
    Command(("taal", "language"), "use", handlers.language),        # only a known user has a language to set
    Command(("herinneringen", "reminders"), "use", handlers.reminders),
    Command(("overzicht", "stats"), "invite", handlers.stats),      # the local picture: admins
    Command(("help",), None, handlers.help_),
    Command(("stop",), "use", handlers.pause),                      # trainees pause practice cases too
    Command(("uitnodigen", "invite"), "invite", handlers.invite, menu=False),
)

BY_NAME: dict[str, Command] = {name: c for c in COMMANDS for name in c.names}


def menu() -> list[Command]:
    return [c for c in COMMANDS if c.menu]
