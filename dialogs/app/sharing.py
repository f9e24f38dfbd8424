"""Use cases of a shared case (issue 13): ask a colleague, contribute, the combined picture,
aanvullen (adding to a completed case), control and the data-subject export.

The case stays its owner's. A share request names the questions asked (leefgebieden, or the open
questions; the red flags always come first), a purpose and a legal basis from dialogs/sharing.yaml,
whether the person or the parents know (and why not), a validity, and whether the contributor may see
the combined picture. Its single-use token travels in a link that says nothing about the person; only
its sha256 is stored. The first person to open it claims it; anyone else is refused; a revoked or
expired request or an erased case stops the contributor at their next action. Every share, join,
contribution, view, revocation and export writes its audit row in the transaction that does it.

Channels hold nothing of this: they pass option ids back as they got them (`Option.id`), and keep a
wizard's `ShareDraft` between taps (a web form sends all its fields at once to `create`).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from dialogs.access import Access, NotAllowed, actor, confirm, is_operator, live_user
from dialogs.app.errors import BadInput
from dialogs.combined import OWNER, Source, case_lines, combined_lines, domain_label, merge
from dialogs.domain import REAL_MODES, Action, Role
from dialogs.identifying import describe, find_identifying
from dialogs.intake import NOTE_MAX_CHARS
from dialogs.output import Block, Line, Option, Prompt, Reply
from dialogs.reports.service import File
from dialogs.service import CaseView, IntakeService
from dialogs.sharing import catalogue
from dialogs.summary import view_blocks
from dialogs.texts import dialog_texts
from matrix.lens import Lens
from matrix.scoring import assess
from matrix.view import AssessmentView
from storage import sharing as db
from storage.repo import CaseRow, Tx, UserRow, normalise_code, now

TOKEN = re.compile(r"s_[A-Za-z0-9_-]{40}")   # what a share token looks like (longer than any invitation)
OPEN = "open"                                 # the "areas" value for: the questions still open
ANSWERS = ("yes", "no", "unknown")
SCOPE = re.compile(r"[or]|[1-9]")            # aanvullen: open questions, red flags, a leefgebied by its order


def new_token() -> str:
    return "s_" + secrets.token_urlsafe(30)


def is_share_token(text: str) -> bool:
    return bool(TOKEN.fullmatch(text.strip()))


@dataclass(frozen=True)
class ShareDraft:
    """A share request being put together, one choice at a time (the channel keeps it between taps)."""

    code: str
    areas: tuple[str, ...] = ()
    areas_done: bool = False
    purpose: str | None = None
    legal_basis: str | None = None
    informed: bool | None = None
    reason: str | None = None
    days: int | None = None
    show_combined: bool | None = None


@dataclass(frozen=True)
class Created:
    request_id: int
    code: str
    token: str
    web_link: str
    expires_at: datetime


@dataclass(frozen=True)
class WizardStep:
    draft: ShareDraft | None          # None: the case is not the user's
    prompt: Prompt | None = None
    created: Created | None = None


@dataclass(frozen=True)
class ShareForm:
    """Everything a one-page form asks (the web): (id, label) choices for each field of `create`."""

    code: str
    areas: tuple[tuple[str, str], ...]
    purposes: tuple[tuple[str, str], ...]
    legal_bases: tuple[tuple[str, str], ...]
    reasons: tuple[tuple[str, str], ...]
    days: tuple[int, ...]


@dataclass(frozen=True)
class RequestInfo:
    id: int
    status: str
    status_label: str
    areas: str
    domain: str | None
    purpose: str
    legal_basis: str
    informed: str
    answered: int
    total: int
    expires_at: datetime
    show_combined: bool


@dataclass(frozen=True)
class Joined:
    """What opening a share link led to: ok (claimed now or before, by this person), taken (someone
    else claimed it), own (the owner's own link), role (a trainee), revoked, expired, closed, bad."""

    outcome: str
    user: UserRow | None = None
    reply: Reply | None = None
    message: str | None = None
    request_id: int | None = None


@dataclass(frozen=True)
class NoticeText:
    channel: str
    external_id: str
    text: str


class Sharing:
    def __init__(self, service: IntakeService, web_base_url: str, access: Callable[[str], Access]) -> None:
        self.service = service
        self.store = service.store
        self.web_base_url = web_base_url
        self._access = access

    # -- helpers -------------------------------------------------------------------------------
    def _lens(self, case: CaseRow) -> Lens:
        return self.service.dialog_for(case.lens_version).lens

    @staticmethod
    def _owned(tx: Tx, user: UserRow, code: str) -> CaseRow | None:
        case = IntakeService._owned(tx, user, code)
        if case is None or case.mode not in REAL_MODES:
            return None
        confirm(tx, user, Action.CASES)
        return case

    def web_link(self, token: str) -> str:
        return f"{self.web_base_url}/share/{token}"

    # -- asking a colleague: the wizard ------------------------------------------------------------
    def begin(self, user: UserRow, code: str, lang: str) -> WizardStep:
        """Start a share request for one of the user's real cases; WizardStep(None) when not theirs."""
        view = self.service.view(user, code)
        if view is None or view.case.mode not in REAL_MODES:
            return WizardStep(None)
        draft = ShareDraft(view.case.code)
        return WizardStep(draft, self._ask(draft, view.lens, lang))

    def form(self, user: UserRow, code: str, lang: str) -> ShareForm | None:
        """The choices of a share request on one page; None when the case is not the user's."""
        view = self.service.view(user, code)
        if view is None or view.case.mode not in REAL_MODES:
            return None
        t, cat = dialog_texts(), catalogue()

        def pairs(entries: dict[str, dict[str, str]]) -> tuple[tuple[str, str], ...]:
            return tuple((k, v[lang]) for k, v in entries.items())

        areas = ((OPEN, t("share.area_open", lang)),
                 *((str(lg.order), lg.name.get(lang)) for lg in view.lens.leefgebieden))
        return ShareForm(view.case.code, areas, pairs(cat.purposes), pairs(cat.legal_bases),
                         pairs(cat.not_informed_reasons), cat.validity_days)

    def choose(self, user: UserRow, draft: ShareDraft, option: str, lang: str) -> WizardStep:
        """Apply one choice to the draft; the next question, or the request made (then `created`)."""
        view = self.service.view(user, draft.code)
        if view is None:
            return WizardStep(None)
        lens, cat = view.lens, catalogue()
        kind, _, value = option.partition(":")
        if kind == "area" and not draft.areas_done:
            areas = self._area_ids(lens)
            if value not in areas:
                raise BadInput("unknown leefgebied")
            chosen = tuple(a for a in draft.areas if a != value) if value in draft.areas else (*draft.areas, value)
            draft = replace(draft, areas=chosen)
        elif kind == "areas_done" and draft.areas and not draft.areas_done:
            draft = replace(draft, areas_done=True)
        elif kind == "purpose" and draft.areas_done and draft.purpose is None and value in cat.purposes:
            draft = replace(draft, purpose=value)
        elif kind == "basis" and draft.purpose and draft.legal_basis is None and value in cat.legal_bases:
            draft = replace(draft, legal_basis=value)
        elif kind == "informed" and draft.legal_basis and draft.informed is None and value in ("yes", "no"):
            draft = replace(draft, informed=value == "yes")
        elif kind == "reason" and draft.informed is False and draft.reason is None \
                and value in cat.not_informed_reasons:
            draft = replace(draft, reason=value)
        elif kind == "days" and self._needs(draft) == "days" and value.isdigit() \
                and int(value) in cat.validity_days:
            draft = replace(draft, days=int(value))
        elif kind == "combined" and self._needs(draft) == "combined" and value in ("yes", "no"):
            draft = replace(draft, show_combined=value == "yes")
            assert draft.purpose and draft.legal_basis and draft.days and draft.informed is not None
            created = self.create(user, draft.code, list(draft.areas), draft.purpose, draft.legal_basis,
                                  draft.informed, draft.reason, draft.days, draft.show_combined or False)
            return WizardStep(draft, None, created)
        else:
            raise BadInput("that choice does not fit this step")
        return WizardStep(draft, self._ask(draft, lens, lang))

    @staticmethod
    def _needs(d: ShareDraft) -> str:
        if not d.areas_done:
            return "areas"
        if d.purpose is None:
            return "purpose"
        if d.legal_basis is None:
            return "basis"
        if d.informed is None:
            return "informed"
        if d.informed is False and d.reason is None:
            return "reason"
        if d.days is None:
            return "days"
        return "combined"

    @staticmethod
    def _area_ids(lens: Lens) -> list[str]:
        return [OPEN, *(str(lg.order) for lg in lens.leefgebieden)]

    def _ask(self, d: ShareDraft, lens: Lens, lang: str) -> Prompt:
        t, cat = dialog_texts(), catalogue()
        step = self._needs(d)
        if step == "areas":
            opts = [Option(f"area:{OPEN}", ("✓ " if OPEN in d.areas else "") + t("share.area_open", lang), 0)]
            opts += [Option(f"area:{lg.order}", ("✓ " if str(lg.order) in d.areas else "") + lg.name.get(lang),
                            1 + i // 2) for i, lg in enumerate(lens.leefgebieden)]
            if d.areas:
                opts.append(Option("areas_done", t("share.next", lang), 9))
            return Prompt(t("share.ask_areas", lang, code=d.code), tuple(opts))
        if step in ("purpose", "basis", "reason"):
            kind = {"purpose": "purposes", "basis": "legal_bases", "reason": "not_informed_reasons"}[step]
            entries = getattr(cat, kind)
            return Prompt(t(f"share.ask_{step}", lang),
                          tuple(Option(f"{step}:{k}", v[lang], i) for i, (k, v) in enumerate(entries.items())))
        if step == "informed":
            return Prompt(t("share.ask_informed", lang), (Option("informed:yes", t("option.yes", lang)),
                                                          Option("informed:no", t("option.no", lang))))
        if step == "days":
            return Prompt(t("share.ask_days", lang),
                          tuple(Option(f"days:{n}", t("share.days", lang, days=n)) for n in cat.validity_days))
        return Prompt(t("share.ask_combined", lang), (Option("combined:yes", t("share.combined_yes", lang), 0),
                                                      Option("combined:no", t("share.combined_no", lang), 1)))

    # -- asking a colleague: the request itself ----------------------------------------------------------
    def create(self, user: UserRow, code: str, areas: list[str], purpose: str, legal_basis: str, informed: bool,
               reason: str | None, days: int, show_combined: bool) -> Created | None:
        """Make the request and its single-use token; None when the case is not the user's.

        `areas`: "open" and/or leefgebieden by their order number (as the wizard offers them)."""
        cat = catalogue()
        if purpose not in cat.purposes or legal_basis not in cat.legal_bases or days not in cat.validity_days:
            raise BadInput("choose a purpose, a legal basis and a validity from the list")
        if not informed and reason not in cat.not_informed_reasons:
            raise BadInput("say why the person or the parents do not know")
        if not areas:
            raise BadInput("choose at least one leefgebied or the open questions")
        token = new_token()
        with self.store.transaction() as tx:
            case = self._owned(tx, user, code)
            if case is None:
                tx.audit(actor(user), "refused", None, "share: case not found")
                return None
            lens = self._lens(case)
            known = self._area_ids(lens)
            if any(a not in known for a in areas):
                raise BadInput("unknown leefgebied")
            items = self._items(lens, areas, tx.answers(case.id))
            expires = now() + timedelta(days=days)
            rid = db.create_request(tx, case_id=case.id, owner_id=user.id, token=token, areas=list(areas),
                                    items=items, purpose=purpose, legal_basis=legal_basis, informed=informed,
                                    not_informed_reason=None if informed else reason, show_combined=show_combined,
                                    expires_at=expires)
            tx.audit(actor(user), "share", case.code,
                     f"request {rid}: basis {legal_basis}, purpose {purpose}, {days} days, "
                     f"{'informed' if informed else 'not informed: ' + str(reason)}")
        return Created(rid, case.code, token, self.web_link(token), expires)

    @staticmethod
    def _items(lens: Lens, areas: list[str], answers: dict[str, str]) -> list[str]:
        """The red flags first, then the signals of the chosen leefgebieden and/or the open ones."""
        items = list(lens.red_flags)
        for lg in lens.leefgebieden:
            for ind in lg.indicators:
                for s in ind.signals:
                    if str(lg.order) in areas or (OPEN in areas and answers.get(s.id) in (None, "unknown")):
                        items.append(s.id)
        return list(dict.fromkeys(items))

    def requests(self, user: UserRow, code: str, lang: str) -> list[RequestInfo] | None:
        """The requests of one of the user's cases, newest last (audited); None when not theirs."""
        with self.store.transaction() as tx:
            case = self._owned(tx, user, code)
            if case is None:
                tx.audit(actor(user), "refused", None, "share list: case not found")
                return None
            found = db.case_contributions(tx, case.id)
            tx.audit(actor(user), "share-list", case.code, f"{len(found)} request(s)")
            lens = self._lens(case)
        return [self._info(req, answers, lens, lang) for req, answers in found]

    def _info(self, req: db.RequestRow, answers: dict[str, str], lens: Lens, lang: str) -> RequestInfo:
        t, cat = dialog_texts(), catalogue()
        names = [t("share.area_open", lang) if a == OPEN else
                 next((lg.name.get(lang) for lg in lens.leefgebieden if str(lg.order) == a), a) for a in req.areas]
        informed = t("answer.yes", lang) if req.informed else \
            f"{t('answer.no', lang)} ({cat.name('not_informed_reasons', req.not_informed_reason or '', lang)})"
        status = req.status(now())
        return RequestInfo(req.id, status, t(f"share.status.{status}", lang), ", ".join(names),
                           domain_label(req.domain, lang) if req.domain else None,
                           cat.name("purposes", req.purpose, lang), cat.name("legal_bases", req.legal_basis, lang),
                           informed, len(answers), len(req.items), req.expires_at, req.show_combined)

    def revoke(self, user: UserRow, code: str, request_id: int) -> bool:
        """Withdraw a request of one of the user's cases: the contributor's next action is refused."""
        with self.store.transaction() as tx:
            case = self._owned(tx, user, code)
            req = db.by_id(tx, request_id) if case is not None else None
            if case is None or req is None or req.case_id != case.id:
                tx.audit(actor(user), "refused", None, "share revoke: not found")
                return False
            if req.revoked_at is None:
                db.revoke(tx, request_id)
            tx.audit(actor(user), "share-revoke", case.code, f"request {request_id}")
        return True

    # -- contributing -------------------------------------------------------------------------------
    def join(self, channel: str, external_id: str, token: str, lang: str) -> Joined:
        """Open a share link: claim it (first person), come back to it (the same person), or be refused."""
        t = dialog_texts()
        ext = str(external_id)
        who = f"{channel}:{ext}"
        if not is_share_token(token):
            return Joined("bad", message=t("share.link_bad", lang))
        with self.store.transaction() as tx:
            req = db.by_token(tx, token.strip())
            if req is None:
                tx.audit(who, "refused", None, "share join: unknown link")
                return Joined("bad", message=t("share.link_bad", lang))
            status = req.status(now())
            if status in ("closed", "revoked", "expired"):
                tx.audit(who, "refused", req.case_code, f"share join: request {req.id} {status}")
                return Joined(status, message=t(f"share.link_{status}", lang))
            if req.claimed_by is not None and req.claimed_by != db.user_id(tx, channel, ext):
                tx.audit(who, "refused", req.case_code, f"share join: request {req.id} taken")
                return Joined("taken", message=t("share.link_taken", lang))   # nothing stored about them
            uid, created = db.ensure_user(tx, channel, ext, Role.CONTRIBUTOR)
            if uid == req.owner_id:
                return Joined("own", message=t("share.link_own", lang))
            if not Access.may(live_user(UserRow(uid, channel, ext, "", lang), tx.rights(uid)), Action.CONTRIBUTE):
                tx.audit(who, "refused", req.case_code, f"share join: request {req.id}: role may not contribute")
                return Joined("role", message=t("share.link_role", lang))   # a trainee: nothing claimed
            if req.claimed_by is None:
                if not db.claim(tx, req.id, uid):   # someone claimed it a moment earlier
                    tx.audit(who, "refused", req.case_code, f"share join: request {req.id} taken")
                    return Joined("taken", message=t("share.link_taken", lang))
                tx.audit(who, "share-join", req.case_code, f"request {req.id}{' (new contributor)' if created else ''}")
            else:
                tx.audit(who, "share-join", req.case_code, f"request {req.id} again")
        self.store.forget_user(channel, ext)
        user = self._access(channel).user(ext)
        if user is None:   # a row that holds a configuration role only: it gets the contributor role
            return Joined("bad", message=t("share.link_bad", lang))
        return Joined("ok", user, self.prompt(user, req.id, lang), request_id=req.id)

    def _claimed(self, tx: Tx, user: UserRow, request_id: int, lang: str) -> tuple[db.RequestRow | None, str | None]:
        """The request if this user claimed it and may act on it now; else the reason to refuse."""
        confirm(tx, user, Action.CONTRIBUTE)
        req = db.by_id(tx, request_id)
        if req is None or req.claimed_by != user.id:
            return None, "share.not_yours"
        status = req.status(now())
        if status in ("closed", "revoked", "expired"):
            return None, f"share.link_{status}"
        return req, None

    def prompt(self, user: UserRow, request_id: int, lang: str, blocks: tuple[Block, ...] = ()) -> Reply:
        """Where a contributor is: their domain first, then the next unanswered question, then done."""
        t = dialog_texts()
        with self.store.transaction() as tx:
            req, refusal = self._claimed(tx, user, request_id, lang)
            if req is None:
                return self._refused(refusal or "share.not_yours", lang)
            case = tx.load_case(req.case_code or "")
            given = db.contributions(tx, req.id)
        assert case is not None
        lens = self._lens(case)
        code = case.code
        if req.domain is None:
            opts = tuple(Option(f"domain:{k}", v[lang], i // 3) for i, (k, v) in enumerate(catalogue().domains.items()))
            intro = Block((Line(t("share.contributor_intro", lang, code=code), "title"),
                           Line(t("share.contributor_rules", lang)), Line(t("intro.privacy", lang), "muted")), "info")
            return Reply(code, len(given), blocks=(*blocks, intro),
                         prompt=Prompt(t("share.ask_domain", lang, code=code), opts))
        todo = [i for i in req.items if i not in given]
        if not todo or req.finished_at is not None:   # done: what they gave (and "more" while questions are left)
            return self._done(req, code, given, lens, lang, blocks)
        item = todo[0]
        index = lens.question_index[item]
        number = req.items.index(item) + 1
        head = t("share.question_head", lang, code=code, domain=domain_label(req.domain, lang), number=number,
                 total=len(req.items))
        text = f"{head}\n\n{lens.say(lens.question_text(item), lang)}"
        opts = (*(Option(f"{a}:{index}", t(f"option.{a}", lang), 0) for a in ANSWERS),
                Option("finish", t("share.finish", lang), 1))
        return Reply(code, len(given), blocks=blocks, prompt=Prompt(text, opts, question_id=item))

    def _done(self, req: db.RequestRow, code: str, given: dict[str, str], lens: Lens, lang: str,
              blocks: tuple[Block, ...]) -> Reply:
        t = dialog_texts()
        lines = [Line(t("share.thanks", lang, code=code, count=len(given), total=len(req.items)), "title")]
        lines += self._own_lines(given, lens, lang)
        opts = []
        if len(given) < len(req.items):
            opts.append(Option("more", t("share.more", lang), 0))
        if req.show_combined:
            opts.append(Option("combined", t("share.show_combined", lang), 1))
        prompt = None
        if opts:
            text = t("share.done_prompt" if req.show_combined else "share.done_more", lang)
            prompt = Prompt(text, tuple(opts))
        return Reply(code, len(given), blocks=(*blocks, Block(tuple(lines), "summary")), prompt=prompt,
                     finished=True)

    @staticmethod
    def _own_lines(given: dict[str, str], lens: Lens, lang: str) -> list[Line]:
        t = dialog_texts()
        return [Line(f"{lens.say(lens.question_text(i), lang)} — {t(f'answer.{v}', lang)}", "item")
                for i, v in given.items() if i in lens.question_index]

    def answer(self, user: UserRow, request_id: int, option: str, lang: str) -> Reply:
        """One tap of a contributor: their domain, an answer ("yes:12"), "finish", "more" or "combined"."""
        kind, _, value = option.partition(":")
        blocks: tuple[Block, ...] = ()
        with self.store.transaction() as tx:
            req, refusal = self._claimed(tx, user, request_id, lang)
            if req is None:
                return self._refused(refusal or "share.not_yours", lang)
            who = actor(user)
            if kind == "domain":
                if value not in catalogue().domains:
                    return self._refused("refuse.invalid", lang)
                db.set_domain(tx, req.id, value)
                tx.audit(who, "share-domain", req.case_code, f"request {req.id}: {value}")
            elif kind in ANSWERS and req.domain is not None:
                case = tx.load_case(req.case_code or "")
                assert case is not None
                questions = self._lens(case).all_questions
                item = questions[int(value)].item_id if value.isdigit() and int(value) < len(questions) else None
                if item not in req.items:
                    return self._refused("refuse.invalid", lang)
                if req.finished_at is not None:   # answering again after "Klaar": the owner is told again later
                    db.unfinish(tx, req.id)
                db.contribute(tx, req, item, kind, req.domain)
                tx.audit(who, "contribute", req.case_code, f"request {req.id}")
                if all(i in db.contributions(tx, req.id) for i in req.items):
                    db.finish(tx, req.id)
                    tx.audit(who, "contribute", req.case_code, f"request {req.id} finished")
            elif kind == "more" and req.domain is not None:
                db.unfinish(tx, req.id)
            elif kind == "finish" and req.domain is not None:
                db.finish(tx, req.id)
                tx.audit(who, "contribute", req.case_code, f"request {req.id} finished")
            elif kind == "combined" and req.show_combined:
                tx.audit(who, "share-view", req.case_code, f"request {req.id}: combined picture")
                case = tx.load_case(req.case_code or "")
                assert case is not None
                blocks = tuple(self._combined_blocks(case, tx.answers(case.id), db.case_contributions(tx, case.id),
                                                     lang))
            else:
                return self._refused("refuse.invalid", lang)
        if kind == "finish":
            return self._finished(user, req, lang)
        if kind == "combined":
            return Reply(req.case_code or "", 0, blocks=blocks, finished=True)
        return self.prompt(user, req.id, lang)

    def _finished(self, user: UserRow, req: db.RequestRow, lang: str) -> Reply:
        with self.store.transaction() as tx:
            case = tx.load_case(req.case_code or "")
            given = db.contributions(tx, req.id)
        assert case is not None
        return self._done(req, case.code, given, self._lens(case), lang, ())

    def _combined_blocks(self, case: CaseRow, owner: dict[str, str],
                         found: list[tuple[db.RequestRow, dict[str, str]]], lang: str) -> list[Block]:
        lens = self._lens(case)
        sources = [Source(req.domain or "", answers, req.status(now()), req.expires_at) for req, answers in found]
        merged = merge(owner, sources)
        view = AssessmentView.of(lens, assess(lens, merged), merged)
        blocks = view_blocks(view, lang, case.code)
        blocks.append(Block(tuple(combined_lines(view, owner, sources, lang)), "summary"))
        return blocks

    def mine(self, user: UserRow, lang: str) -> list[Block]:
        """What this person contributed, per request they claimed (audited)."""
        t = dialog_texts()
        with self.store.transaction() as tx:
            confirm(tx, user, Action.CONTRIBUTE)
            found = [(req, db.contributions(tx, req.id)) for req in db.claimed_by(tx, user.id)]
            cases = {req.case_code: tx.load_case(req.case_code) for req, _ in found if req.case_code}
            tx.audit(actor(user), "share-view", None, f"own contributions ({len(found)})")
        if not found:
            return [Block((Line(t("share.mine_none", lang)),), "info")]
        blocks = []
        for req, given in found:
            status = req.status(now())
            head = t("share.mine_head", lang, code=req.case_code or "–", domain=domain_label(req.domain, lang)
                     if req.domain else "–", status=t(f"share.status.{status}", lang), count=len(given),
                     total=len(req.items), id=req.id)
            lines = [Line(head, "heading")]
            case = cases.get(req.case_code)
            if case is not None:
                lines += self._own_lines(given, self._lens(case), lang)
            blocks.append(Block(tuple(lines), "summary"))
        return blocks

    def my_requests(self, user: UserRow) -> list[int]:
        """The ids of the requests this person claimed that they may still act on (to resume)."""
        with self.store.transaction() as tx:
            return [r.id for r in db.claimed_by(tx, user.id) if r.usable(now())]

    @staticmethod
    def _refused(key: str, lang: str) -> Reply:
        return Reply("", 0, refused=True, toast=dialog_texts()(key, lang, code="", max=NOTE_MAX_CHARS), reason=key)

    # -- the owner's combined picture -----------------------------------------------------------------------
    def combined(self, view: CaseView, lang: str) -> list[Line]:
        """The combined-picture lines of a case view that holds contributions (summary, PDF)."""
        if not view.shared:
            return []
        return case_lines(view.lens, view.answers, list(view.shared), lang)

    # -- aanvullen: adding to a completed case ------------------------------------------------------------
    def amend_start(self, user: UserRow, code: str, lang: str) -> Reply:
        """What can be added to a completed case: the open questions, the red flags, a leefgebied."""
        t = dialog_texts()
        view = self.service.view(user, code, audit=("view", "amend"))
        if view is None or view.case.mode not in REAL_MODES:
            return self._refused_case(code, lang)
        if view.case.status != "completed":
            return Reply(view.case.code, view.case.step, refused=True, reason="share.amend_open",
                         toast=t("share.amend_open", lang, code=view.case.code))
        opts = [Option("scope:o", t("share.area_open", lang), 0), Option("scope:r", t("phase.red_flags", lang), 0)]
        opts += [Option(f"scope:{lg.order}", lg.name.get(lang), 1 + i // 2)
                 for i, lg in enumerate(view.lens.leefgebieden)]
        opts.append(Option("finish", t("share.finish", lang), 9))
        return Reply(view.case.code, view.case.step,
                     prompt=Prompt(t("share.amend_what", lang, code=view.case.code), tuple(opts)))

    def amend(self, user: UserRow, code: str, option: str, lang: str, show_current: bool = True) -> Reply:
        """One tap while aanvullen: a scope, an answer ("yes:12:o"), "next:12:o" or "finish".

        `show_current=False` leaves the earlier answer out of the question (Telegram's minimal mode)."""
        parts = option.split(":")
        if parts[0] == "finish":
            blocks = self.service.summary(user, code, lang)
            if blocks is None:
                return self._refused_case(code, lang)
            return Reply(normalise_code(code), 0, blocks=tuple(blocks), finished=True)
        if parts[0] == "scope" and len(parts) == 2 and SCOPE.fullmatch(parts[1]):
            return self._amend_next(user, code, parts[1], -1, lang, show_current)
        if len(parts) != 3 or not parts[1].isdigit() or not SCOPE.fullmatch(parts[2]) \
                or parts[0] not in (*ANSWERS, "next"):
            return self._refused("refuse.invalid", lang)
        index, scope = int(parts[1]), parts[2]
        if parts[0] != "next":
            refused = self.set_answer(user, code, index, parts[0], lang)
            if refused is not None:
                return refused
        return self._amend_next(user, code, scope, index, lang, show_current)

    def set_answer(self, user: UserRow, code: str, item: int | str, value: str, lang: str) -> Reply | None:
        """Change one answer of a completed case (by question index or item id), keeping the earlier
        value in the history; None when done, else the refusal."""
        if value not in ANSWERS:
            return self._refused("refuse.invalid", lang)
        with self.store.transaction() as tx:
            case = self._owned(tx, user, code)
            if case is None:
                tx.audit(actor(user), "refused", None, "amend: case not found")
                return self._refused_case(code, lang)
            if case.status != "completed":
                return self._refused("share.amend_open", lang)
            lens = self._lens(case)
            if isinstance(item, int):
                item = lens.questions[item].item_id if 0 <= item < len(lens.questions) else ""
            if item not in lens.red_flags and item not in lens.signals:
                return self._refused("refuse.invalid", lang)
            old = tx.answers(case.id).get(item)
            if old != value:
                at = now()
                tx.set_answers(case.id, {item: value}, at)
                db.record_change(tx, case.id, item, old, value, OWNER, None, at)
                case.step += 1
                tx.save_case(case, at)
                tx.audit(actor(user), "amend", case.code, "answer")
        return None

    def _amend_next(self, user: UserRow, code: str, scope: str, after: int, lang: str,
                    show_current: bool = True) -> Reply:
        t = dialog_texts()
        view = self.service.view(user, code)
        if view is None:
            return self._refused_case(code, lang)
        lens = view.lens
        questions = [q for q in lens.questions if q.index > after and (
            (scope == "r" and q.phase == "red_flags")
            or (scope == "o" and q.phase != "red_flags" and view.answers.get(q.item_id) in (None, "unknown"))
            or (scope.isdigit() and q.phase == next((lg.id for lg in lens.leefgebieden if str(lg.order) == scope),
                                                    None)))]
        if not questions:
            notice = Block((Line(t("share.amend_scope_done", lang)),), "notice")
            again = self.amend_start(user, code, lang)
            return replace(again, blocks=(notice, *again.blocks))
        q = questions[0]
        current = view.answers.get(q.item_id)
        phase = t("phase.red_flags", lang) if q.phase == "red_flags" else (lens.phase_name(q.phase) or q.phase)
        if not isinstance(phase, str):
            phase = phase.get(lang)
        text = t("share.amend_head", lang, code=view.case.code, phase=phase) + "\n\n" + lens.say(q.text, lang)
        if show_current:
            text += "\n" + t("share.amend_now", lang, answer=t(f"answer.{current}", lang)
                              if current in ANSWERS else t("share.not_asked", lang))
        opts = (*(Option(f"{a}:{q.index}:{scope}", t(f"option.{a}", lang), 0) for a in ANSWERS),
                Option(f"next:{q.index}:{scope}", t("share.next", lang), 1),
                Option("finish", t("share.finish", lang), 1))
        return Reply(view.case.code, view.case.step, prompt=Prompt(text, opts, question_id=q.item_id))

    def add_note(self, user: UserRow, code: str, text: str, lang: str, confirmed: bool = False) -> Reply:
        """Add a note to a completed case (kept beside the earlier notes, with a history row).

        Likely identifying data holds it back, as for the closing note, unless `confirmed`."""
        t = dialog_texts()
        text = text.replace("\x00", "").strip()
        if not text:
            return self._refused("refuse.invalid", lang)
        if len(text) > NOTE_MAX_CHARS:
            return self._refused("refuse.note_too_long", lang)
        findings = [] if confirmed else find_identifying(text)
        if findings:
            return Reply(normalise_code(code), 0, refused=True, reason="identifying.found",
                         toast=t("identifying.found", lang, found=describe(findings, lang)))
        with self.store.transaction() as tx:
            case = self._owned(tx, user, code)
            if case is None:
                tx.audit(actor(user), "refused", None, "amend note: case not found")
                return self._refused_case(code, lang)
            if case.status != "completed":
                return self._refused("share.amend_open", lang)
            at = now()
            tx.add_note(case.id, text, at)
            db.record_change(tx, case.id, "note", None, None, OWNER, None, at)
            tx.audit(actor(user), "amend", case.code, "note")
        return Reply(case.code, case.step, blocks=(Block((Line(t("share.note_added", lang, code=case.code)),),
                                                         "notice"),), finished=True)

    def _refused_case(self, code: str, lang: str) -> Reply:
        key = "refuse.unknown_case"
        return Reply(normalise_code(code), 0, refused=True, reason=key,
                     toast=dialog_texts()(key, lang, code=normalise_code(code)))

    # -- notices ------------------------------------------------------------------------------------------
    def notices(self, channel: str) -> list[NoticeText]:
        """Owners to tell that a contribution arrived, contributors to tell that a case was closed."""
        t = dialog_texts()
        with self.store.transaction() as tx:
            found = db.take_notices(tx, channel)
            db.purge_stubs(tx)
        out = []
        for n in found:
            if n.kind == "contributed":
                text = t("share.notice_contributed", n.lang, code=n.case_code,
                         domain=domain_label(n.domain, n.lang) if n.domain else "–")
            else:
                text = t("share.notice_closed", n.lang, id=n.request_id)
            out.append(NoticeText(n.channel, n.external_id, text))
        return out

    def news(self, user: UserRow, code: str, lang: str) -> list[Block]:
        """Contributions to one of the user's cases they were not told of yet (the web shows them on the
        case's page); told once, on whichever channel shows them first."""
        with self.store.transaction() as tx:
            case = self._owned(tx, user, code)
            domains = db.take_case_news(tx, case.id) if case is not None else []
        if not domains or case is None:
            return []
        t = dialog_texts()
        lines = tuple(Line(t("share.news", lang, code=case.code,
                             domain=domain_label(d, lang) if d else "–"), "item") for d in domains)
        return [Block(lines, "notice")]

    # -- the data-subject export --------------------------------------------------------------------------
    def export_case(self, user: UserRow, code: str) -> File | None:
        """Everything stored about one case, as JSON: answers, history, notes, requests with their
        contributions, and the audit rows about it (this export's own row included).

        The operator at the server's console may export any case (a data-subject request reaches the
        organisation's one contact point); anyone else only their own real cases."""
        with self.store.transaction() as tx:
            if is_operator(user):
                case = tx.load_case(code)
            else:
                try:
                    case = self._owned(tx, user, code)
                except NotAllowed:
                    case = None
            if case is None:
                tx.audit(actor(user), "refused", None, "export case: not found")
                return None
            tx.audit(actor(user), "export-case", case.code, "data-subject export")
            answers = tx.answers(case.id)
            log = db.answer_log(tx, case.id)
            changes = db.history(tx, case.id)
            notes = db.notes_with_ids(tx, case.id)
            shared = db.case_contributions(tx, case.id)
            audit = db.audit_rows(tx, case.code)
        data = {
            "case": {"code": case.code, "mode": case.mode, "status": case.status, "lens_version": case.lens_version,
                     "created": _iso(case.created_at), "updated": _iso(case.updated_at),
                     "completed": _iso(case.completed_at)},
            "answers": answers,
            "answer_log": [{"item": i, "value": v, "at": _iso(at)} for i, v, at in log],
            "history": [{"item": c.item_id, "old": c.old, "new": c.new, "by": c.by_role, "at": _iso(c.at)}
                        for c in changes],
            "notes": notes,
            "share_requests": [{
                "id": r.id, "status": r.status(now()), "areas": list(r.areas), "questions": list(r.items),
                "purpose": r.purpose, "legal_basis": r.legal_basis, "informed": r.informed,
                "not_informed_reason": r.not_informed_reason, "show_combined": r.show_combined,
                "created": _iso(r.created_at), "expires": _iso(r.expires_at), "claimed": _iso(r.claimed_at),
                "domain": r.domain, "finished": _iso(r.finished_at), "revoked": _iso(r.revoked_at),
                "contributions": given} for r, given in shared],
            "audit": audit,
        }
        body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
        return File(f"lensbot-{case.code}-inzage.json", "application/json", body.encode(), False)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None
