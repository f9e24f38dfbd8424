"""The intake service: one event for one case, applied in one transaction.

Every channel goes through here, so the order "check owner and step, fire the machine, store,
commit, then reply" is written once. The reply is composed only after the commit: what a user
sees acknowledged is stored. A case whose lens version is not the current one is driven by
a machine built from the lens content stored with that version.

Notes are checked for likely identifying data (dialogs/identifying.py) before they are stored:
when something is found, nothing is stored and the reply shows what was found, with the same
step, so the user can send a note without it or confirm ("save anyway", `confirmed=True`). The
note of a completed case can be replaced (a channel's "edited message"), with the same check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from dialogs.access import Access, NotAllowed, actor, confirm, live_user
from dialogs.combined import Source, case_lines, merge
from dialogs.domain import REAL_MODES, TRAINING_MODES, Action, Mode
from dialogs.identifying import Finding, describe, find_identifying
from dialogs.intake import DONE, INTRO, MODES, NOTE, NOTE_MAX_CHARS, IntakeCase, IntakeDialog
from dialogs.output import Block, Line, Prompt, Reply
from dialogs.render import AGE_OPTION, age_band_at, effect_blocks, options, prompt, vignette_lines
from dialogs.stats import completion_keys
from dialogs.summary import short_blocks, summary_blocks
from dialogs.texts import dialog_texts
from matrix.lens import AGE_PHASE, Lens
from matrix.loader import lens_from_content
from matrix.scoring import Assessment, assess
from matrix.training import ROUNDS, Round, TrainingResult, choose_vignette, current_id, score_training, training_script
from matrix.view import AssessmentView
from storage import sharing as shared_store
from storage.repo import CaseRow, StorageUnavailable, Store, Tx, UserRow, normalise_code, now
from storage.sharing import Change

log = logging.getLogger(__name__)
EVENTS = ("begin", "answer", "back", "skip", "note", "no_note", "continue", "deepen", "finish", "vignette")
IDENTIFYING = "identifying.found"   # Reply.reason when a note was held back for identifying data
SAVE_NOTE = "save_note"             # the option that confirms such a note


@dataclass(frozen=True)
class CaseView:
    """A case with its lens, for read-only uses (summary, reports)."""

    case: CaseRow
    lens: Lens
    answers: dict[str, str]
    shared: tuple[Source, ...] = ()     # the case's share requests with their contributions (issue 13)
    history: tuple[Change, ...] = ()    # changes after completion and by contributors

    def assessment(self) -> Assessment:
        """The owner's answers, with every contributor's "ja" counted as an observation (dialogs/combined.py)."""
        return assess(self.lens, merge(self.answers, list(self.shared)) if self.shared else self.answers)


class IntakeService:
    def __init__(self, store: Store, lens: Lens) -> None:
        self.store = store
        self.lens = lens
        self._dialogs: dict[str, IntakeDialog] = {lens.version: IntakeDialog(lens)}
        meta = lens.meta
        store.ensure_lens_version(lens.version, meta.version, lens.content_hash, lens.content)

    def dialog_for(self, version: str) -> IntakeDialog:
        dialog = self._dialogs.get(version)
        if dialog is None:
            content = self.store.lens_content(version)
            if content is None:
                raise LookupError(f"lens version {version} is not stored")
            dialog = self._dialogs[version] = IntakeDialog(lens_from_content(content))
        return dialog

    # -- starting and resuming -------------------------------------------------------------
    def start(self, user: UserRow, lang: str, mode: str = Mode.FULL, update: tuple[str, int] | None = None,
              vignette: str | None = None, length: str | None = None) -> Reply:
        """Create a case and show how it begins; `update` (channel, id) makes a redelivery a no-op.

        full: the intro with a Begin button. quick: straight to the acute-danger gate (a teacher has
        two minutes). training: the vignette (the next one for this trainee), then Begin; `length`
        "kort" (default) or "volledig" says how much of the lens the round asks (matrix/training.py).
        A vignette outside training is refused (ValueError): it must never start a real intake.
        """
        lens = self.lens
        if vignette is not None and mode != Mode.TRAINING:
            raise ValueError("a vignette is for practice only (mode training)")
        state, script, trail, blocks = INTRO, None, None, []
        if mode == Mode.QUICK:
            if lens.doc.quick_scan is None:
                raise ValueError("this lens has no quick scan")
            script, trail = list(lens.quick_script), [lens.quick_script[0]]
            state = lens.all_questions[script[0]].phase   # the age question, or the gate of a lens without one
            t = dialog_texts()
            blocks.append(Block((Line(t("quick.title", lang), "title"), Line(lens.doc.quick_scan.intro.get(lang)),
                                 Line(t("intro.privacy", lang), "muted")), "info"))
        elif mode == Mode.TRAINING:
            if vignette is None:
                vignette = self.next_vignette(user)
                done = {c.vignette for c in self.store.list_cases(user.id, status="completed", modes=TRAINING_MODES)}
                if vignette in done:   # every vignette done: say that this one comes again
                    blocks.append(Block((Line(dialog_texts()("training.none_left", lang), "muted"),), "notice"))
            vignette = current_id(vignette)
            if vignette not in lens.vignettes:
                raise ValueError(f"unknown vignette {vignette!r}")
            if (length or ROUNDS[0]) not in ROUNDS:
                raise ValueError(f"unknown round {length!r}")
            round_: Round = "volledig" if length == "volledig" else "kort"
            script = list(training_script(lens, lens.vignettes[vignette], round_))
        needs = Action.TRAINING if mode == Mode.TRAINING else Action.INTAKE   # as stored now, in the same transaction
        case = self.store.create_case(user.id, lens.version, state, lang, mode, claim=update, script=script,
                                      trail=trail, vignette=vignette, check=lambda tx: confirm(tx, user, needs))
        if case is None:
            return Reply(case_code="", step=0, refused=True, duplicate=True)
        log.info("case started", extra={"case": case.code, "user_id": user.id, "mode": mode})
        return self._reply(self.dialog_for(case.lens_version), _model(case, {}), case, lang, blocks)

    def next_vignette(self, user: UserRow, rows: list[tuple[datetime, str, TrainingResult]] | None = None) -> str:
        """The vignette that exercises what this trainee missed most, among those not done yet
        (`rows`: their progress, when the caller has it already)."""
        rows = self.progress(user) if rows is None else rows
        done = [current_id(c.vignette) or "" for c in
                reversed(self.store.list_cases(user.id, status="completed", modes=TRAINING_MODES))]
        return choose_vignette(self.lens, done, [r for _, _, r in rows])

    def progress(self, user: UserRow) -> list[tuple[datetime, str, TrainingResult]]:
        """Completed training cases, oldest first, each scored against its vignette (today's id)."""
        return self.progress_of(user.id, user)

    def progress_of(self, user_id: int, reader: UserRow | None = None) -> list[tuple[datetime, str, TrainingResult]]:
        """A trainee's practice record: only training cases are read, never a real one. Scored with
        the lens version each case was answered with; `reader` the owner (their role checked) or
        None for a trainer's view (dialogs/app/training.py checks who may see it)."""
        rows = []
        for c in reversed(self.store.list_cases(user_id, status="completed", modes=TRAINING_MODES)):
            if reader is not None:
                view = self.view(reader, c.code)
                if view is None:
                    continue
                lens, answers = view.lens, view.answers
            else:
                with self.store.transaction() as tx:
                    case = tx.load_case(c.code)
                    if case is None or case.mode not in TRAINING_MODES or case.user_id != user_id:
                        continue
                    answers = tx.answers(case.id)
                lens = self.dialog_for(c.lens_version).lens
            v = lens.vignettes.get(c.vignette or "") or lens.vignettes.get(current_id(c.vignette) or "")
            if v is not None:
                rows.append((c.updated_at, current_id(v.id) or v.id, score_training(lens, v, answers)))
        return rows

    def resume(self, user: UserRow, code: str, lang: str) -> Reply:
        """The current prompt of a case again, exactly where it stopped."""
        view = self.view(user, code, audit=("view", "resume"))   # audited in the reading transaction
        if view is None:
            return self._refusal(code, 0, "refuse.unknown_case", lang)
        dialog = self.dialog_for(view.case.lens_version)
        model = _model(view.case, view.answers)
        blocks = []
        if view.case.state == DONE:
            blocks.append(Block((Line(dialog_texts()("done.already", lang)),), "notice"))
        return self._reply(dialog, model, view.case, lang, blocks)

    def show_vignette(self, user: UserRow, code: str, lang: str) -> Reply:
        """The training text again, with the same question below it; nothing changes."""
        view = self.view(user, code)
        if view is None or view.case.mode != Mode.TRAINING:
            return self._refusal(code, 0, "refuse.invalid" if view else "refuse.unknown_case", lang)
        dialog = self.dialog_for(view.case.lens_version)
        block = Block(tuple(vignette_lines(dialog, view.case.vignette, lang)), "info")
        return self._reply(dialog, _model(view.case, view.answers), view.case, lang, [block])

    def view(self, user: UserRow, code: str, audit: tuple[str, str] | None = None,
             refusal: str | None = None) -> CaseView | None:
        """The case if it exists and belongs to this user; None otherwise (no difference shown).

        With `audit` (action, detail) the read and its audit row are one transaction: no audit
        row, nothing read. A code that is not theirs is audited as refused (`refusal`, or the
        audit detail), without the code. NotAllowed: the case is theirs, but their role, as
        stored now, no longer lets them open it."""
        with self.store.transaction() as tx:
            found = self.load_in(tx, user, code)
            what = refusal or (f"{audit[0]} {audit[1]}" if audit else None)
            if found is None:
                if what:
                    tx.audit(actor(user), "refused", None, f"{what}: case not found")
                return None
            case, answers = found
            if audit:
                tx.audit(actor(user), audit[0], case.code, audit[1])
            at = now()
            shared = tuple(Source(r.domain or "", given, r.status(at), r.expires_at)
                           for r, given in shared_store.case_contributions(tx, case.id))
            history = tuple(shared_store.history(tx, case.id)) if case.status == "completed" or shared else ()
        return CaseView(case, self.dialog_for(case.lens_version).lens, answers, shared, history)

    def load_in(self, tx: Tx, user: UserRow, code: str) -> tuple[CaseRow, dict[str, str]] | None:
        """view() inside a transaction: the case and its answers, or None."""
        case = self._owned(tx, user, code)
        return None if case is None else (case, tx.answers(case.id))

    @staticmethod
    def _owned(tx: Tx, user: UserRow, code: str) -> CaseRow | None:
        """The case if it is this user's and their role, as stored now, lets them touch it."""
        found = tx.load_owned_case(code)
        if found is None:
            return None
        case, role, source = found
        if not _may_touch(user, case):   # not theirs, or never for the role they came with
            return None
        if not _may_touch(live_user(user, (role, source)), case):
            raise NotAllowed(Action.CASES if case.mode in REAL_MODES else Action.TRAINING, user)
        return case

    def summary(self, user: UserRow, code: str, lang: str, short: bool = False,
                more: str = "short.more") -> list[Block] | None:
        """The full summary, or with `short` its first screen (`dialogs.summary.short_blocks`, whose
        last line is the text `more`)."""
        view = self.view(user, code, audit=("view", "summary"))
        if view is None:
            return None
        if short:
            return short_blocks(AssessmentView.of(view.lens, view.assessment()), lang, view.case.code, more)
        blocks = summary_blocks(view.lens, view.assessment(), lang, view.case.code)
        if view.case.mode in TRAINING_MODES:   # fiction stays fiction: never mistaken for a real case
            blocks.insert(0, practice_block(lang))
        if view.shared:   # per signal what each domain answered, conflicts, blind spots
            blocks.append(Block(tuple(case_lines(view.lens, view.answers, list(view.shared), lang)), "summary"))
        return blocks

    def open_case(self, user: UserRow, modes: tuple[str, ...] = MODES) -> str | None:
        """The user's most recently touched open case: where typed text belongs.

        Only kinds of case the role allows: a professional who became a trainee keeps their real
        cases in storage, but typed text must not be aimed at a case they can no longer touch."""
        allowed = Access.case_modes(user)
        cases = self.store.list_cases(user.id, status="open", modes=tuple(m for m in modes if m in allowed))
        return cases[0].code if cases else None

    def delete(self, user: UserRow, code: str) -> bool:
        """Delete one of the user's cases: the check, the delete and its audit row are one transaction."""
        with self.store.transaction() as tx:
            case = self._owned(tx, user, code)
            if case is None:
                tx.audit(actor(user), "refused", None, "delete: case not found")
                return False
            tx.erase(case.id, case.code, actor(user), self.store.audit_key(tx))
        self.store.checkpoint()   # SQLite: the erased note leaves the -wal file too
        log.info("case erased")   # never the code
        return True

    # -- one event -------------------------------------------------------------------------
    def handle(self, user: UserRow, code: str, event: str, value: str | None = None,
               step: int | None = None, lang: str | None = None, update: tuple[str, int] | None = None,
               confirmed: bool = False) -> Reply:
        """Apply `event` to the case if `step` still matches; refuse without change otherwise.

        `update` is the channel's (name, update id): claimed in the same transaction, so a
        redelivered update is recognised even when its step would still match. A note with likely
        identifying data is held back (reason IDENTIFYING, nothing stored) unless `confirmed`.
        """
        if event not in EVENTS:
            return self._refusal(code, step or 0, "refuse.invalid", lang or user.lang)
        if event == "vignette":
            return self.show_vignette(user, code, lang or user.lang)
        if event == "note" and value:   # NUL carries nothing a note needs, and PostgreSQL text cannot hold it
            value = value.replace("\x00", "")
        at = now()
        with self.store.transaction() as tx:
            case = self._owned(tx, user, code)   # the owner's role as stored now: NotAllowed once taken away
            if case is None:
                return self._refusal(code, step or 0, "refuse.unknown_case", lang or user.lang)
            lang = lang or case.lang
            if step is not None and step != case.step:
                return self._refusal(case.code, case.step, "refuse.stale", lang)
            dialog = self.dialog_for(case.lens_version)
            model = _model(case, tx.answers(case.id))
            if update is not None and not tx.claim_update(*update):
                return Reply(case_code=case.code, step=case.step, refused=True, duplicate=True)
            if event == "deepen":   # options name a leefgebied by its order, the machine by its id
                value = next((lg.id for lg in dialog.lens.leefgebieden if str(lg.order) == value), None)
            elif event == "answer" and value and value.startswith(AGE_OPTION):   # age bands by their position
                value = age_band_at(dialog.lens, value.removeprefix(AGE_OPTION))
            elif event == "note" and value and not confirmed and dialog.accepts(model.state, "note") \
                    and len(value.strip()) <= NOTE_MAX_CHARS:
                findings = find_identifying(value)
                if findings:   # nothing is stored: the user removes it or confirms
                    log.info("note held back for identifying data",
                             extra={"case": case.code, "kinds": _kinds(findings)})
                    return self._identifying(case, findings, lang, edit=False)
            if not dialog.fire(model, event, value):
                return self._refusal(case.code, case.step, _refusal_reason(dialog, model, event, value), lang)
            case.state, case.trail, case.skipped = model.state, model.trail, model.skipped
            case.mode, case.script = model.mode, model.script
            case.step += 1
            completed = model.state == DONE and case.status != "completed"
            if completed:
                case.status = "completed"
            tx.set_answers(case.id, model.changes, at)
            if model.note:
                tx.add_note(case.id, model.note, at)
            tx.save_case(case, at, completed=completed)
            if completed and case.mode in REAL_MODES:   # the local picture; training never counts
                result = assess(dialog.lens, model.answers)
                tx.add_counts(at.strftime("%Y-%m"), completion_keys(result, model.answers), contributor=case.user_id)
        return self._reply(dialog, model, case, lang, [], saved=tuple(model.changes))

    def replace_note(self, user: UserRow, code: str, text: str, lang: str | None = None,
                     update: tuple[str, int] | None = None, confirmed: bool = False) -> Reply:
        """A new text for a case's note: the user edited the message that was (or was meant as) the note.

        While the case still asks for its note, the text simply is the note (handle "note"); once
        the case is completed, it replaces the stored note. A case in any other state refuses.
        """
        text = text.replace("\x00", "").strip()
        view = self.view(user, code)
        if view is None:
            return self._refusal(code, 0, "refuse.unknown_case", lang or user.lang)
        if view.case.state == NOTE:
            return self.handle(user, code, "note", text, None, lang, update, confirmed)
        with self.store.transaction() as tx:
            case = tx.load_case(code)
            if case is None or not _may_touch(user, case):
                return self._refusal(code, 0, "refuse.unknown_case", lang or user.lang)
            lang = lang or case.lang
            if case.state != DONE:
                return self._refusal(case.code, case.step, "refuse.note_closed", lang)
            if not text:
                return self._refusal(case.code, case.step, "refuse.invalid", lang)
            if len(text) > NOTE_MAX_CHARS:
                return self._refusal(case.code, case.step, "refuse.note_too_long", lang)
            if update is not None and not tx.claim_update(*update):
                return Reply(case_code=case.code, step=case.step, refused=True, duplicate=True)
            findings = [] if confirmed else find_identifying(text)
            if findings:
                log.info("edited note held back for identifying data", extra={"case": case.code,
                                                                               "kinds": _kinds(findings)})
                return self._identifying(case, findings, lang, edit=True)
            tx.replace_note(case.id, text, now())
        log.info("note replaced", extra={"case": case.code, "user_id": user.id})
        notice = Block((Line(dialog_texts()("note.updated", lang, code=case.code)),), "notice")
        return Reply(case_code=case.code, step=case.step, blocks=(notice,), finished=True, mode=case.mode)

    # -- helpers ---------------------------------------------------------------------------
    def _identifying(self, case: CaseRow, findings: list[Finding], lang: str, edit: bool) -> Reply:
        """What was found, and the choice: remove it (send or edit again) or save anyway."""
        t = dialog_texts()
        found = Block((Line(t("identifying.found", lang, found=describe(findings, lang))),), "notice")
        ask = Prompt(t("identifying.edit" if edit else "identifying.ask", lang, code=case.code),
                     options(lang, SAVE_NOTE) if edit else options(lang, SAVE_NOTE, "no_note"), accepts_text=True)
        return Reply(case_code=case.code, step=case.step, blocks=(found,), prompt=ask, reason=IDENTIFYING,
                     mode=case.mode)

    def _reply(self, dialog: IntakeDialog, model: IntakeCase, case: CaseRow, lang: str,
               blocks: list[Block], saved: tuple[str, ...] = ()) -> Reply:
        blocks = blocks + effect_blocks(dialog, model, lang, case.code, case.vignette)
        attachments = ("lens_picture",) if any(kind == "summary" for kind, _ in model.effects) else ()
        return Reply(case_code=case.code, step=case.step, blocks=tuple(blocks),
                     prompt=prompt(dialog, model, lang, case.code, case.vignette), finished=model.state == DONE,
                     saved=saved, mode=model.mode, attachments=attachments)

    def _refusal(self, code: str, step: int, key: str, lang: str) -> Reply:
        text = dialog_texts()(key, lang, code=normalise_code(code), max=NOTE_MAX_CHARS)
        return Reply(case_code=normalise_code(code), step=step, refused=True, toast=text, reason=key)


def practice_block(lang: str) -> Block:
    """The mark every summary or report of a practice case carries."""
    return Block((Line(dialog_texts()("training.practice_mark", lang), "title"),), "notice")


def _may_touch(user: UserRow | None, case: CaseRow) -> bool:
    """Only the owner, and only kinds of case their role allows (a trainee: training cases)."""
    return user is not None and case.user_id == user.id and case.mode in Access.case_modes(user)


def _model(case: CaseRow, answers: dict[str, str]) -> IntakeCase:
    return IntakeCase(state=case.state, mode=case.mode, script=None if case.script is None else list(case.script),
                      trail=list(case.trail), skipped=list(case.skipped), answers=dict(answers))


def _kinds(findings: list[Finding]) -> str:
    """The kinds found, for the log (never the text itself)."""
    return ",".join(sorted({f.kind for f in findings}))


def _refusal_reason(dialog: IntakeDialog, model: IntakeCase, event: str, value: str | None) -> str:
    if event == "back":
        return "refuse.no_back"
    if event == "skip" and dialog.accepts(model.state, "answer") and model.state != AGE_PHASE:
        return "refuse.no_skip"
    # "too long" only where a note is asked for: mid-question, typed text gets the pointer to the buttons
    if event == "note" and dialog.accepts(model.state, "note") and value and len(value.strip()) > NOTE_MAX_CHARS:
        return "refuse.note_too_long"
    return "refuse.invalid"


__all__ = [
    "IDENTIFYING",
    "SAVE_NOTE",
    "CaseView",
    "IntakeService",
    "NotAllowed",
    "StorageUnavailable",
    "actor",
    "practice_block",
]
