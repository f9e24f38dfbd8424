"""The Telegram command table: one declaration per command.

Each row names the command (Dutch first, as the menu shows it, then English and other aliases),
who may use it (an action of dialogs/access.py; None: anyone, even someone without access), and
the handler that runs its use case. Registration (app.register), the menu (set_my_commands, with
the description `cmd.<name>` from texts.yaml in each language), the /help text (`help_text`: one
line `help.<name>` per command the reader's role may use) and the tests of access are all read
from this table. Adding a command: a row here, its handler in handlers.py calling a use case of
dialogs.app, and its `cmd.<name>` (menu) and `help.<name>` (help line) texts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram import handlers, sharing, training
from bot.telegram.guard import Ctx, guarded
from dialogs.app import Action, User
from dialogs.texts import Catalog


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]                  # names[0] is the Dutch name shown in the menu
    permission: Action | None               # what dialogs.access must allow; None: anyone
    handler: Callable[[Ctx], Awaitable[None]]
    menu: bool = True                       # listed in Telegram's command menu
    help: bool = True                       # a line in /help for whoever may use it
    groups: bool = False                    # answers in group chats too (without a user; stores nothing)

    @property
    def name(self) -> str:
        return self.names[0]

    def name_in(self, lang: str) -> str:
        """The name a reader of `lang` is shown: Dutch first; in English the English alias, if any."""
        return self.names[1] if lang == "en" and len(self.names) > 1 else self.names[0]

    @property
    def description(self) -> str:
        """The text key of the menu description."""
        return f"cmd.{self.name}"

    def callback(self) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
        """The handler inside the one guard: private chats only (unless `groups`), the user looked up,
        the permission checked."""
        return guarded(self.permission, self.groups)(self.handler)


# In menu order.
COMMANDS: tuple[Command, ...] = (
    Command(("start",), None, handlers.start, help=False),   # the welcome and no_access texts explain it
    Command(("nieuw", "new"), Action.INTAKE, handlers.new_case),
    Command(("snel", "quick"), Action.INTAKE, handlers.quick_scan),
    Command(("oefenen", "practice", "train"), Action.TRAINING, training.training),   # issue 14: [kort|volledig]
    Command(("voortgang", "progress"), Action.TRAINING, training.progress),
    Command(("groep", "group"), Action.TRAINEES, training.group),   # a trainer's view of their trainees
    Command(("hervat", "resume"), Action.USE, handlers.resume),
    Command(("zaken", "cases"), Action.CASES, handlers.list_cases),
    Command(("samenvatting", "summary"), Action.CASES, handlers.summary),
    Command(("rapport", "report"), Action.CASES, handlers.report),
    Command(("export",), Action.CASES, handlers.export),
    Command(("verwijder", "delete"), Action.CASES, handlers.delete),
    Command(("nood", "emergency"), None, handlers.emergency, groups=True),   # acute danger: anyone, anywhere
    Command(("taal", "language"), Action.USE, handlers.language),     # only a known user has a language to set
    Command(("herinneringen", "reminders"), Action.USE, handlers.reminders),
    Command(("overzicht", "stats"), Action.INVITE, handlers.stats),   # the local picture: admins
    Command(("help",), None, handlers.help_, help=False),
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


def help_text(texts: Catalog, lang: str, may: Callable[[Action], bool]) -> str:
    """/help for one reader: the intro, a line for each command `may` allows them (in table order,
    commands for anyone included), and the closing advice. `may(action)`: the reader's role allows it."""
    lines = [texts(f"help.{c.name}", lang, cmd=f"/{c.name_in(lang)}")
             for c in COMMANDS if c.help and (c.permission is None or may(c.permission))]
    return "\n".join([texts("help.intro", lang), "", *lines, "", texts("help.outro", lang)])


def role_help(texts: Catalog, lang: str, user: User | None, may: Callable[[User | None, Action], bool]) -> str:
    """help_text for `user` (None: someone without access), with `may` the door's access check."""
    return help_text(texts, lang, lambda action: may(user, action))
