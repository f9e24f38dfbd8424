"""Use cases about a user's own cases: start, answer, typed text, resume, list, summary, delete,
training, progress, and the settings a user changes for themselves (language, reminders).

A channel maps its input to one of these calls and renders what comes back; every rule that
is not about how a channel looks (which cases a role may resume, how many are listed, when
typed text is the closing note, open-or-start for practice) lives here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from dialogs.access import Access, actor, confirm
from dialogs.domain import REAL_MODES, TRAINING_MODES, Action, Mode
from dialogs.output import Block, Reply
from dialogs.render import option_event
from dialogs.service import IntakeService
from dialogs.summary import progress_blocks, red_flag_block
from dialogs.texts import dialog_texts
from storage import records
from storage.repo import CaseSummary, MessageRef, Store, UserRow, normalise_code, now

RESUME_LIMIT = 10   # open cases offered to resume
LIST_LIMIT = 50     # cases in a chat's case list
REMINDER_WORDS = {"aan": True, "on": True, "uit": False, "off": False}
CODE_LENGTHS = range(6, 9)   # K7QX3M, K7-QX3M, with a stray space: what a typed code may look like

Update = tuple[str, int] | None   # (channel, update id): a redelivered update changes nothing
# Telegram lets a bot delete a message for 48 hours after it was sent; a little margin for the
# time the deletion itself takes. Older messages are not attempted: the user is asked to.
DELETE_WINDOW = timedelta(hours=48) - timedelta(minutes=10)

log = logging.getLogger("lensbot.cases")


@dataclass(frozen=True)
class Erased:
    """A case that is gone from the database; `messages` are the channel's messages that held it."""

    code: str
    messages: list[MessageRef]

    def deletable(self, at: datetime | None = None) -> list[MessageRef]:
        """The messages the channel may still delete (sent within DELETE_WINDOW)."""
        at = at or now()
        return [m for m in self.messages if at - m.sent_at < DELETE_WINDOW]

    def too_old(self, at: datetime | None = None) -> list[MessageRef]:
        """The messages only the user can remove now: they were sent too long ago."""
        at = at or now()
        return [m for m in self.messages if at - m.sent_at >= DELETE_WINDOW]


@dataclass(frozen=True)
class TextResult:
    """What typed text led to.

    kind: "reply" (it was the closing note: show `reply`), "no_case" (nothing open to type into),
    "duplicate" (handled before: say nothing), "refused" (not a note here: show `notice` if any,
    else the channel's pointer to the buttons, then the question again, `reply`).
    """

    kind: Literal["reply", "no_case", "duplicate", "refused"]
    reply: Reply | None = None
    notice: str | None = None


class Cases:
    """`service` may be given as a function that builds it: listing cases needs no lens."""

    def __init__(self, service: IntakeService | Callable[[], IntakeService], store: Store | None = None) -> None:
        if isinstance(service, IntakeService):
            self._service: IntakeService | None = service
            self._make = None
            self.store = service.store
        else:
            assert store is not None, "a store is needed when the service is built later"
            self._service, self._make, self.store = None, service, store

    @property
    def service(self) -> IntakeService:
        if self._service is None:
            assert self._make is not None
            self._service = self._make()
        return self._service

    # -- starting ---------------------------------------------------------------------------
    def start(self, user: UserRow, lang: str, mode: Mode | str = Mode.FULL, update: Update = None,
              vignette: str | None = None) -> Reply:
        return self.service.start(user, lang, Mode(mode), update, vignette)

    def practise(self, user: UserRow, lang: str, update: Update = None) -> Reply:
        """Continue the open practice case, or start the next vignette."""
        code = self.service.open_case(user, TRAINING_MODES)
        if code is not None:
            return self.service.resume(user, code, lang)
        return self.service.start(user, lang, Mode.TRAINING, update)

    def has_vignette(self, vignette: str) -> bool:
        return vignette in self.service.lens.vignettes

    def vignettes(self) -> list[str]:
        return list(self.service.lens.vignettes)

    # -- answering --------------------------------------------------------------------------
    def handle(self, user: UserRow, code: str, event: str, value: str | None = None, step: int | None = None,
               lang: str | None = None, update: Update = None) -> Reply:
        """One dialog event (begin, answer, back, skip, note, ...) for one case."""
        return self.service.handle(user, code, event, value, step, lang, update)

    def choose(self, user: UserRow, code: str, option: str, step: int | None, lang: str | None = None,
               update: Update = None, text: str | None = None) -> Reply:
        """The user chose an option of the prompt (a button, a number, a word)."""
        event, value = option_event(option)
        return self.service.handle(user, code, event, value if value is not None else text, step, lang, update)

    def text(self, user: UserRow, text: str, lang: str, update: Update = None) -> TextResult:
        """Typed text is the closing note when the case asks for one; otherwise a gentle reminder."""
        code = self.service.open_case(user)
        if code is None:
            # a redelivered closing note finds its case completed: say nothing the second time
            if update is None or self.store.claim_update(*update):
                return TextResult("no_case")
            return TextResult("duplicate")
        reply = self.service.handle(user, code, "note", text, None, lang, update)
        if reply.duplicate:
            return TextResult("duplicate")
        if not reply.refused:
            return TextResult("reply", reply)
        current = self.service.resume(user, code, lang)
        # too long: typing is right here, only shorter; anything else gets the pointer to the buttons
        notice = reply.toast if reply.reason == "refuse.note_too_long" and reply.toast else None
        return TextResult("refused", Reply(current.case_code, current.step, prompt=current.prompt), notice)

    @staticmethod
    def is_answer(option: str) -> bool:
        """Whether choosing `option` answers the question (and is acknowledged as saved)."""
        return option_event(option)[0] == "answer"

    # -- looking back -----------------------------------------------------------------------
    def resume(self, user: UserRow, code: str, lang: str) -> Reply:
        return self.service.resume(user, code, lang)

    def resume_choices(self, user: UserRow) -> list[CaseSummary]:
        """The open cases a user may continue: real ones, or practice ones for a trainee.

        The role as stored now decides, and the listing is audited in the same transaction."""
        with self.store.transaction() as tx:
            live = confirm(tx, user, Action.USE)
            modes = REAL_MODES if Access.may(live, Action.CASES) else TRAINING_MODES
            cases = tx.list_cases(user.id, "open", modes)[:RESUME_LIMIT]
            tx.audit(actor(user), "list", None, f"open {'real' if modes == REAL_MODES else 'practice'} ({len(cases)})")
        return cases

    def list(self, user: UserRow, limit: int | None = LIST_LIMIT) -> list[CaseSummary]:
        """The user's real cases, newest first (all of them with limit=None); audited with the read."""
        with self.store.transaction() as tx:
            confirm(tx, user, Action.CASES)
            cases = tx.list_cases(user.id)
            cases = cases if limit is None else cases[:limit]
            tx.audit(actor(user), "list", None, f"cases ({len(cases)})")
        return cases

    def summary(self, user: UserRow, code: str, lang: str) -> list[Block] | None:
        return self.service.summary(user, code, lang)

    def progress(self, user: UserRow, lang: str) -> list[Block]:
        return progress_blocks(self.service.lens, self.service.progress(user), lang)

    def emergency(self, lang: str) -> list[Block]:
        """What to do in acute danger: for anyone, at any moment; changes nothing."""
        lens = self.service.lens
        return [red_flag_block(lens, lang, tuple(lens.red_flags))]

    # -- deleting ---------------------------------------------------------------------------
    def deletable(self, user: UserRow, code: str) -> str | None:
        """The case's code as it is named, when the user may delete it (ask to confirm); else None."""
        view = self.service.view(user, code, refusal="delete")
        return None if view is None else view.case.code

    def delete(self, user: UserRow, code: str) -> Erased | None:
        """Erase one of the user's cases and every copy lensbot kept (storage: Store.erase_case);
        None when it is not theirs (or already gone). The channel then deletes `messages`."""
        view = self.service.view(user, code, refusal="delete")   # rights as stored now; a foreign code audited
        if view is None:
            return None
        messages = self.store.erase_case(view.case.id, actor=actor(user), code=view.case.code)
        if messages is None:
            return None
        log.info("case erased with %d recorded message(s)", len(messages))   # never the code
        return Erased(view.case.code, messages)

    def sent(self, codes: list[str], chat_id: int | str, message_ids: list[int], kind: str = "chat") -> None:
        """A channel sent (or received) these messages about these cases: remember them for erasure."""
        self.store.record_messages(codes, str(chat_id), message_ids, now(), kind)

    def codes(self, user: UserRow) -> list[str]:
        """The codes of all of the user's real cases (what an export holds)."""
        return [c.code for c in self.store.list_cases(user.id)]

    # -- the user's own settings ------------------------------------------------------------
    def set_language(self, user: UserRow, lang: str) -> None:
        self.store.set_user_lang(user.id, lang)

    def set_reminders(self, user: UserRow, words: list[str]) -> bool | None:
        """"aan"/"on" or "uit"/"off": switch reminders and say which; None for anything else."""
        if len(words) != 1 or words[0].lower() not in REMINDER_WORDS:
            return None
        on = REMINDER_WORDS[words[0].lower()]
        records.set_reminders(self.store, user.id, on)
        return on

    # -- small helpers channels share ---------------------------------------------------------
    @staticmethod
    def code_argument(args: list[str]) -> str | None:
        """The one case code a command was given, or None when it was not given exactly once."""
        return args[0] if len(args) == 1 and len(args[0]) in CODE_LENGTHS else None

    @staticmethod
    def not_found(code: str, lang: str) -> str:
        """The one answer for a code that is not the user's: the same whether it exists or not."""
        return dialog_texts()("refuse.unknown_case", lang, code=normalise_code(code))

    @staticmethod
    def normalise_code(code: str) -> str:
        return normalise_code(code)
