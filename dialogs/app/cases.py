"""Use cases about a user's own cases: start, answer, typed text, resume, list, summary, delete,
training, progress, and the settings a user changes for themselves (language, reminders).

A channel maps its input to one of these calls and renders what comes back; every rule that
is not about how a channel looks (which cases a role may resume, how many are listed, when
typed text is the closing note, open-or-start for practice) lives here.

Notes: typed text goes to the case the channel says it answers (a reply to that case's note
prompt), else to the most recently touched open case. A note with likely identifying data is
held back (dialogs/service.py); its text waits here, in memory only, until the user confirms it
with the "save anyway" option (or sends a new note): nothing reaches the database before that.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from dialogs.access import Access, actor, confirm
from dialogs.domain import REAL_MODES, TRAINING_MODES, Action, Mode
from dialogs.intake import NOTE
from dialogs.output import Block, Line, Option, Prompt, Reply
from dialogs.render import AGE_OPTION, intro_before_case, option_event
from dialogs.service import IDENTIFYING, SAVE_NOTE, IntakeService
from dialogs.summary import progress_blocks, red_flag_block
from dialogs.texts import dialog_texts
from storage import records
from storage import training as training_store
from storage.repo import CaseSummary, MessageRef, Store, UserRow, normalise_code, now

RESUME_LIMIT = 10   # open cases offered to resume
LIST_LIMIT = 50     # cases in a chat's case list
ROUND_WORDS = {"kort": "kort", "short": "kort", "volledig": "volledig", "full": "volledig", "lang": "volledig"}
REMINDER_WORDS = {"aan": True, "on": True, "uit": False, "off": False}
CODE_LENGTHS = range(6, 9)   # K7QX3M, K7-QX3M, with a stray space: what a typed code may look like
HELD_NOTES = 1000            # notes waiting for "save anyway", at most (oldest forgotten first)
HELD_FOR = 3600.0            # seconds a held note waits

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

    kind: "reply" (it was the closing note, or it was held back for identifying data: show
    `reply`), "no_case" (nothing open to type into), "duplicate" (handled before: say nothing),
    "refused" (not a note here: show `notice` if any, else the channel's pointer to the buttons,
    then the question again, `reply`), "notice" (say `notice` and nothing else, e.g. the case
    replied to no longer takes a note), "answer" (the text was "ja", "nee" or "weet ik niet" at a
    question and answered it: show `reply`).
    """

    kind: Literal["reply", "no_case", "duplicate", "refused", "notice", "answer"]
    reply: Reply | None = None
    notice: str | None = None


def typed_answer(text: str) -> str | None:
    """The answer option typed words stand for ("ja", "Nee.", "weet ik niet", "don't know"), in either
    language; None for anything else. The words are data: dialogs/texts.yaml, typed.*."""
    t = dialog_texts()
    said = " ".join(text.lower().replace("’", "'").strip(" .!?").split())
    for option in ("yes", "no", "unknown"):
        words = {w.strip() for lang in ("nl", "en") for w in t(f"typed.{option}", lang).split(",")}
        if said in words:
            return option
    return None


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
        # (user id, case code) -> (step, text, since): notes held back until "save anyway"
        self._held: OrderedDict[tuple[int, str], tuple[int, str, float]] = OrderedDict()

    @property
    def service(self) -> IntakeService:
        if self._service is None:
            assert self._make is not None
            self._service = self._make()
        return self._service

    # -- starting ---------------------------------------------------------------------------
    def start(self, user: UserRow, lang: str, mode: Mode | str = Mode.FULL, update: Update = None,
              vignette: str | None = None, length: str | None = None) -> Reply:
        return self.service.start(user, lang, Mode(mode), update, vignette, length)

    def intro(self, lang: str) -> Prompt:
        """The full intake's opening with its Begin option, before a case exists: a channel that can
        wait (the console) creates the case only when Begin is chosen, so looking stores nothing."""
        return intro_before_case(lang)

    def begin(self, user: UserRow, lang: str) -> Reply:
        """Create a full intake and begin it at once: the first question (after `intro`)."""
        started = self.service.start(user, lang, Mode.FULL)
        if started.refused:
            return started
        return self.service.handle(user, started.case_code, "begin", None, started.step, lang)

    def practise(self, user: UserRow, lang: str, update: Update = None, length: str | None = None) -> Reply:
        """Continue the open practice case, or start the next vignette: a "kort" (default) or
        "volledig" round (matrix/training.py)."""
        code = self.service.open_case(user, TRAINING_MODES)
        if code is not None:
            return self.service.resume(user, code, lang)
        return self.service.start(user, lang, Mode.TRAINING, update, length=length)

    @staticmethod
    def round_length(word: str | None) -> str | None:
        """A channel's word for the length of a round ("kort"/"short", "volledig"/"full"), or None."""
        return ROUND_WORDS.get((word or "").strip().lower())

    def age_options(self, lang: str) -> tuple[Option, ...]:
        """The age question's options (as the first question of a case offers them), before any case
        exists: the web start page lets the quick scan start with the age already chosen, so the
        result is at most 12 activations away. () for a lens without an age question."""
        age = self.service.lens.doc.age
        if age is None:
            return ()
        return tuple(Option(f"{AGE_OPTION}{i + 1}", band.label.get(lang)) for i, band in enumerate(age.bands))

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
        if option == SAVE_NOTE:
            return self.save_held_note(user, code, step, lang, update)
        event, value = option_event(option)
        if event == "note" and value is None and text is not None:
            return self.note(user, code, text, step, lang, update)
        reply = self.service.handle(user, code, event, value if value is not None else text, step, lang, update)
        if not reply.refused:
            self._held.pop((user.id, reply.case_code), None)
        return reply

    def note(self, user: UserRow, code: str, text: str, step: int | None = None, lang: str | None = None,
             update: Update = None) -> Reply:
        """Typed text as the note of this case; held back (see save_held_note) when it looks identifying."""
        reply = self.service.handle(user, code, "note", text, step, lang, update)
        self._remember(user, reply, text)
        return reply

    def edit_note(self, user: UserRow, code: str, text: str, lang: str | None = None,
                  update: Update = None) -> Reply:
        """The user changed the text they sent as this case's note: it becomes the note (or is refused)."""
        reply = self.service.replace_note(user, code, text, lang, update)
        self._remember(user, reply, text)
        return reply

    def save_held_note(self, user: UserRow, code: str, step: int | None, lang: str | None = None,
                       update: Update = None) -> Reply:
        """"Save anyway": store the note held back for identifying data, as the user confirmed."""
        key = (user.id, normalise_code(code))
        held = self._held.pop(key, None)
        if held is None or time.monotonic() - held[2] > HELD_FOR or (step is not None and step != held[0]):
            view = self.service.view(user, code)
            if view is None:
                return self.service.resume(user, code, lang or user.lang)   # the usual "not found"
            t = dialog_texts()
            return Reply(view.case.code, view.case.step, refused=True, toast=t("note.lost", lang or user.lang),
                         reason="note.lost")
        return self.service.replace_note(user, code, held[1], lang, update, confirmed=True)

    def _remember(self, user: UserRow, reply: Reply, text: str) -> None:
        key = (user.id, reply.case_code)
        self._held.pop(key, None)
        if reply.reason == IDENTIFYING:
            self._held[key] = (reply.step, text, time.monotonic())
            while len(self._held) > HELD_NOTES:
                self._held.popitem(last=False)

    def text(self, user: UserRow, text: str, lang: str, update: Update = None, code: str | None = None,
             replied: bool = False) -> TextResult:
        """Typed text is the closing note when the case asks for one; otherwise a gentle reminder.

        `code`: the case the channel says the text answers; `replied`: the user replied to that
        case's note prompt (then the text goes there or nowhere), else it is a hint (the case whose
        note prompt was sent last) that falls back to the most recently touched open case."""
        option = typed_answer(text)
        if option is not None and not replied:   # "ja" typed at a question answers it (issue 15)
            target = self.service.open_case(user)
            current = self.service.resume(user, target, lang) if target is not None else None
            if current is not None and current.prompt is not None and \
                    any(o.id == option for o in current.prompt.options):
                reply = self.choose(user, current.case_code, option, current.step, lang, update)
                return TextResult("duplicate") if reply.duplicate else TextResult("answer", reply)
        if code is not None:
            view = self.service.view(user, code)
            at_note = view is not None and view.case.state == NOTE and view.case.status == "open"
            if at_note:
                return self._note_result(user, code, text, lang, update)
            if replied:
                if update is not None and not self.store.claim_update(*update):
                    return TextResult("duplicate")
                shown = view.case.code if view is not None else normalise_code(code)
                return TextResult("notice", notice=dialog_texts()("refuse.note_closed", lang, code=shown))
        code = self.service.open_case(user)
        if code is None:
            # a redelivered closing note finds its case completed: say nothing the second time
            if update is None or self.store.claim_update(*update):
                return TextResult("no_case")
            return TextResult("duplicate")
        return self._note_result(user, code, text, lang, update)

    def _note_result(self, user: UserRow, code: str, text: str, lang: str, update: Update) -> TextResult:
        reply = self.note(user, code, text, None, lang, update)
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

    def current(self, user: UserRow) -> str | None:
        """The code of the user's most recently touched open case (the one on screen), or None."""
        return self.service.open_case(user)

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

    def concern(self, user: UserRow, code: str, lang: str) -> str | None:
        """The concern level of one of the user's cases as a label ("aandacht", ...), for a case list;
        None when the case is not theirs. Read without an audit row: the list read was audited."""
        view = self.service.view(user, code)
        if view is None:
            return None
        return dialog_texts()(f"concern.{view.assessment().concern}", lang)

    def summary(self, user: UserRow, code: str, lang: str, short: bool = False,
                more: str = "short.more") -> list[Block] | None:
        """A case's summary: in full, or with `short` the first screen (reading, why, what to do now,
        whom to call, at most three open topics, then the line `more`: where the details are — the
        chat's buttons by default, "short.more_console" for a terminal)."""
        return self.service.summary(user, code, lang, short, more)

    def details(self, user: UserRow, code: str, lang: str) -> list[Block] | None:
        """The full summary behind a short one (the "Details" button, the console's `details`)."""
        return self.service.summary(user, code, lang)

    def progress(self, user: UserRow, lang: str) -> list[Block]:
        """The trainee's record with the next case chosen for them, and who else sees it (a trainer)."""
        rows = self.service.progress(user)
        nxt = self.service.next_vignette(user, rows) if rows else None
        blocks = progress_blocks(self.service.lens, rows, lang, nxt)
        trainer = training_store.trainer_of(self.service.store, user.id)
        if trainer is not None:
            blocks.append(Block((Line(dialog_texts()("training.trainer_sees", lang, trainer=trainer), "muted"),),
                                "notice"))
        return blocks

    def has_progress(self, user: UserRow) -> bool:
        """Whether the user completed a practice round (a chart has something to show)."""
        return bool(self.service.store.list_cases(user.id, status="completed", modes=TRAINING_MODES))

    def progress_chart(self, user: UserRow, lang: str) -> bytes:
        """The trainee's scores and found-per-kind over their rounds as a small PNG."""
        from dialogs.training_chart import progress_png  # Pillow: imported on first use

        return progress_png([r for _, _, r in self.service.progress(user)], lang)

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
