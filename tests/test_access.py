"""The access matrix of the Telegram channel: who may run which command and tap which button.

Every registered command (read from the running Application, aliases included, so a new command is
covered without touching this file) and every callback kind (q, r, d, l) is tried by
- a stranger without a role: refused with the polite no-access text, nothing stored;
- users holding ANOTHER user's case code — a trainee, a professional and an admin: each has a twin
  with the same role and history who does exactly the same with a made-up code. Whatever the holder
  does, they see exactly what their twin sees (the code aside): "not found", never the case's
  question, summary or answers; the victim's cases do not change and the victim's chat stays empty;
- and the roles: a trainee cannot use real-case commands, a professional cannot use admin commands.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from telegram.ext import AIORateLimiter, CallbackQueryHandler, CommandHandler

from bot.telegram import app as telegram_app
from bot.telegram.callback import OPTION_IDS
from bot.telegram.commands import help_text
from bot.telegram.runtime import telegram_texts
from dialogs.access import ACTIONS_BY_ROLE
from dialogs.service import IntakeService
from dialogs.texts import dialog_texts
from matrix.lens import Lens
from storage import accounts
from storage.repo import normalise_code
from tests.support.fake_bot_api import FakeUser
from tests.support.telegram_env import TelegramEnv, running_bot

pytestmark = pytest.mark.slow(seconds=18)   # about its wall time on one worker: handed out early (tests/conftest.py)

TOKEN = "123456789:TEST-lensbot-access-token-abcdefgh"
tg, dt = telegram_texts(), dialog_texts()
VICTIM, STRANGER = 9001, 3001
HOLDERS = {"trainee": (4001, 4101), "professional": (4002, 4102), "admin": (1001, 1002)}   # holder, twin
ADMINS = frozenset(str(uid) for uid in HOLDERS["admin"])   # admins by configuration (LENSBOT_ADMIN_IDS)
NOT_FOUND = re.compile(r"Zaak \S+ is niet gevonden\.|Case \S+ was not found\.")
VICTIM_AGE = "12 tot 18 jaar"   # the age the victim answered: their questions say "de jongere"

# -- the matrix ---------------------------------------------------------------------------------
# What each role gets from a command that names someone else's case code as its argument:
NO_ACCESS = "no access"        # the polite refusal for people without a role
ROLE = "not for your role"     # "Dit is niet beschikbaar voor jouw rol."
NOT_FOUND_ = "not found"       # "Zaak <the code typed> is niet gevonden." — as for any made-up code
INVITE_BAD = "bad invite"      # /start CODE: a case code is no invitation
PUBLIC = "public"              # the same text for everyone; it holds nothing of any case
HELP = "help"                  # the commands the reader's role may use, from the command table; nothing of a case
ALLOWED = "allowed"            # the command works, about the user's own things only
COLUMNS = ("stranger", "trainee", "professional", "admin")
MATRIX: dict[str, tuple[str, str, str, str]] = {
    # command          stranger    trainee     professional  admin
    "start":         (INVITE_BAD, INVITE_BAD, INVITE_BAD,   INVITE_BAD),
    "nieuw":         (NO_ACCESS,  ROLE,       ALLOWED,      ALLOWED),
    "snel":          (NO_ACCESS,  ROLE,       ALLOWED,      ALLOWED),
    "oefenen":       (NO_ACCESS,  ALLOWED,    ALLOWED,      ALLOWED),
    "voortgang":     (NO_ACCESS,  ALLOWED,    ALLOWED,      ALLOWED),
    "hervat":        (NO_ACCESS,  ALLOWED,    ALLOWED,      ALLOWED),
    "zaken":         (NO_ACCESS,  ROLE,       ALLOWED,      ALLOWED),
    "samenvatting":  (NO_ACCESS,  ROLE,       NOT_FOUND_,   NOT_FOUND_),
    "rapport":       (NO_ACCESS,  ROLE,       NOT_FOUND_,   NOT_FOUND_),
    "export":        (NO_ACCESS,  ROLE,       ALLOWED,      ALLOWED),
    "verwijder":     (NO_ACCESS,  ROLE,       NOT_FOUND_,   NOT_FOUND_),
    "overzicht":     (NO_ACCESS,  ROLE,       ROLE,         ALLOWED),
    "uitnodigen":    (NO_ACCESS,  ROLE,       ROLE,         ALLOWED),   # "koning"-like role: usage
    "herinneringen": (NO_ACCESS,  ALLOWED,    ALLOWED,      ALLOWED),
    "stop":          (NO_ACCESS,  ALLOWED,    ALLOWED,      ALLOWED),   # trainees pause practice cases
    "taal":          (NO_ACCESS,  ALLOWED,    ALLOWED,      ALLOWED),
    "nood":          (PUBLIC,     PUBLIC,     PUBLIC,       PUBLIC),    # acute danger: for anyone, any time
    "help":          (HELP,       HELP,       HELP,         HELP),
}
# A command added later and not yet in the table: refused for strangers; for code holders the
# general properties (same as the twin, nothing of the case) apply whatever it does.
UNLISTED = (NO_ACCESS, "any", "any", "any")
REAL_CASE_COMMANDS = {"nieuw", "snel", "zaken", "samenvatting", "rapport", "export", "verwijder", "overzicht",
                      "uitnodigen"}
ADMIN_COMMANDS = {"overzicht", "uitnodigen"}

# What each role gets from a tap whose callback data names someone else's case:
TOAST_NO_ACCESS, TOAST_NOT_FOUND, EDIT_NOT_FOUND, EDIT_CANCELLED, EDIT_LANGUAGE = (
    "toast: no access", "toast: not found", "message: not found", "message: nothing deleted", "message: language")
TAPS: dict[str, tuple[str, str]] = {
    # data                    stranger          any code holder
    "q:{code}:{step}:{opt}": (TOAST_NO_ACCESS, TOAST_NOT_FOUND),   # every option, right and wrong step
    "r:{code}":              (TOAST_NO_ACCESS, TOAST_NOT_FOUND),
    "d:{code}:y":            (TOAST_NO_ACCESS, EDIT_NOT_FOUND),
    "d:{code}:n":            (TOAST_NO_ACCESS, EDIT_CANCELLED),
    "l:en":                  (TOAST_NO_ACCESS, EDIT_LANGUAGE),     # no case in it: works for holders
}


# -- environment --------------------------------------------------------------------------------
@dataclass
class Seen:
    """What one user saw after one action: new messages, edited messages, toasts, uploaded files."""

    texts: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    toasts: list[str] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)
    files: list[bytes] = field(default_factory=list)

    def all(self) -> list[str]:
        return self.texts + self.edited + self.toasts + self.buttons


@dataclass(repr=False)   # a cheap repr, as TelegramEnv's (tests/support/telegram_env.py)
class Env(TelegramEnv):
    """The shared session (tests/support/telegram_env.py) with every user of the matrix at hand."""

    users: dict[int, FakeUser] = field(default_factory=dict)

    def user(self, user_id: int, role: str | None) -> FakeUser:
        if role is not None and str(user_id) not in ADMINS:
            accounts.set_role(self.store, "telegram", str(user_id), role)
        self.users[user_id] = self.server.user(user_id, first_name=f"U{user_id}")
        return self.users[user_id]

    def snapshot(self, code: str) -> tuple[object, ...]:
        with self.store.transaction() as tx:
            case = tx.load_case(code)
        assert case is not None, code
        return (case.step, case.state, case.status, case.mode, tuple(case.trail), tuple(case.skipped),
                tuple(self.store.answer_log(case.id)), tuple(self.store.notes(case.id)))

    def own_codes(self, user_id: int) -> list[str]:
        row = self.row(user_id)
        return [] if row is None else [c.code for c in self.store.list_cases(row.id, modes=("full", "quick",
                                                                                             "training"))]

    async def act(self, actions: dict[int, Callable[[FakeUser], int]]) -> dict[int, Seen]:
        """Each user does one thing (an update; its id returned), all at once; wait until every one of
        them is handled; what each saw."""
        marks = {uid: ({m.message_id: m.edit_count for m in self.users[uid].messages},
                       len(self.server.callback_answers)) for uid in actions}
        sent = {uid: action(self.users[uid]) for uid, action in actions.items()}
        await asyncio.gather(*(self._settle(self.users[uid], update_id) for uid, update_id in sent.items()))
        seen = {}
        for uid, (before, answers) in marks.items():
            s = seen[uid] = Seen()
            for m in self.users[uid].messages:
                if m.message_id not in before or before[m.message_id] != m.edit_count:
                    (s.texts if m.message_id not in before else s.edited).append(m.text)
                    s.buttons += [b for row in m.buttons for b in row]
                    if m.file is not None:
                        s.files.append(m.file.data)
            s.toasts = [a.text or "" for a in self.server.callback_answers[answers:]
                        if a.chat_id == self.users[uid].chat_id]
        return seen

    @staticmethod
    async def _settle(user: FakeUser, update_id: int) -> None:
        """Wait until the bot has handled the update completely (replies or not): the harness reports
        the end of every update's processing (TelegramHarness._report_handled), so no sentinel tap is
        needed after it, and none waits in the chat behind the update while it is handled."""
        await user.wait_handled(update_id, timeout=20)


@pytest.fixture
async def env(lens: Lens, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    # The fake Bot API has no flood limit; PTB's overall 30 messages/s would only make the test wait.
    monkeypatch.setattr(telegram_app, "AIORateLimiter", functools.partial(AIORateLimiter, overall_max_rate=0))
    async with running_bot(lens, sqlite_url, admins=ADMINS, token=TOKEN, env_class=Env) as e:
        yield e


def registered_commands(env: Env) -> dict[str, str]:
    """Every command name the Application answers to -> its row in MATRIX (or "" when unlisted)."""
    app = env.harness.app
    assert app is not None
    handlers = [h for group in app.handlers.values() for h in group]
    assert any(isinstance(h, CallbackQueryHandler) for h in handlers)
    names = {}
    for h in handlers:
        if isinstance(h, CommandHandler):
            rows = [n for n in h.commands if n in MATRIX]
            assert len(rows) <= 1, f"aliases {sorted(h.commands)} have more than one row in MATRIX"
            names |= {n: rows[0] if rows else "" for n in h.commands}
    stale = set(MATRIX) - set(names)
    assert not stale, f"MATRIX names commands that are not registered: {stale}"
    return names


def victim_cases(env: Env, modes: tuple[str, ...] = ("full", "training")) -> dict[str, int]:
    """The victim's cases: an open intake deep in a leefgebied and a practice case; code -> step."""
    service = IntakeService(env.store, env.lens)
    row = env.row(VICTIM)
    assert row is not None
    codes = {}
    for mode, answers in (("full", len(env.lens.red_flags) + 3), ("training", 2)):
        if mode not in modes:
            continue
        reply = service.start(row, "nl", mode)
        reply = service.handle(row, reply.case_code, "begin", step=reply.step)
        assert reply.prompt is not None and reply.prompt.question_id == env.lens.age_item   # the age first
        (age,) = [o.id for o in reply.prompt.options if o.label == VICTIM_AGE]
        for value in (age, *["yes"] * answers):
            reply = service.handle(row, reply.case_code, "answer", value, step=reply.step)
            assert not reply.refused, reply.toast
        codes[reply.case_code] = reply.step
    return codes


def ghost_code(env: Env, used: list[str]) -> str:
    """A well-formed case code that belongs to nobody."""
    for code in ("ZZ-ZZZZ", "YY-YYYY", "XX-XXXX"):
        with env.store.transaction() as tx:
            if tx.load_case(code) is None and code not in used:
                return code
    raise AssertionError("no free made-up code")


def current_question(env: Env, code: str) -> str:
    """The text of the question the case waits for, as its owner sees it (worded for the age they gave):
    only its owner may ever see it shown for this case."""
    trail = env.snapshot(code)[4]
    assert isinstance(trail, tuple) and trail
    question = env.lens.all_questions[trail[-1]]
    assert question.item_id != env.lens.age_item, "every intake starts with the age: ask past it"
    (band,) = [b for b, age in env.lens.age_bands.items() if age.label.get("nl") == VICTIM_AGE]
    text = env.lens.say(question.text, "nl", band)
    assert "{" not in text
    return text


def normalised(seen: Seen, codes: dict[str, str]) -> tuple[tuple[str, ...], ...]:
    """Seen with case codes, invitation codes and times replaced by placeholders."""
    def one(text: str) -> str:
        for code, token in codes.items():
            text = text.replace(code, token).replace(code.replace("-", ""), token)
        text = re.sub(r"(code: |start=)\S+", r"\1<INVITE>", text)
        return re.sub(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}( UTC)?)?", "<TIME>", text)
    return tuple(tuple(one(t) for t in part) for part in (seen.texts, seen.edited, seen.toasts, seen.buttons))


def assert_nothing_of_the_case(env: Env, seen: Seen, victim: dict[str, int], question: str, what: str) -> None:
    for text in seen.all():
        rest = NOT_FOUND.sub("", text)   # "not found" repeats what the user typed, exactly as for any code
        for code in victim:
            assert code not in rest and code.replace("-", "") not in rest.upper(), (what, text)
        assert question not in text and "Overzicht zaak" not in text and "Summary of case" not in text, (what, text)
    for data in seen.files:
        assert not any(c.encode() in data or c.replace("-", "").encode() in data for c in victim), what


# -- commands -------------------------------------------------------------------------------------
@pytest.mark.slow   # collected first (tests/conftest.py)
async def test_every_command_for_strangers_code_holders_and_each_role(env: Env) -> None:
    names = registered_commands(env)
    assert set(names) >= set(MATRIX) and len(names) >= 30, sorted(names)
    for column, role in ((1, "trainee"), (2, "professional")):   # the two rules the matrix must express
        refused = {c for c, row in MATRIX.items() if row[column] == ROLE}
        assert refused == (REAL_CASE_COMMANDS if role == "trainee" else ADMIN_COMMANDS), (role, refused)

    env.user(VICTIM, "professional")
    victim = victim_cases(env)
    before = {code: env.snapshot(code) for code in victim}
    real = next(iter(victim))
    ghost = ghost_code(env, list(victim))
    question = current_question(env, real)
    env.user(STRANGER, None)
    for role, pair in HOLDERS.items():
        for uid in pair:
            env.user(uid, role)

    # every command, bare and with the other user's code (as shown, and typed lower case without dash)
    steps: list[tuple[str, str, Callable[[str], str]]] = []
    for name in sorted(names):
        steps.append((name, "bare", lambda code, name=name: f"/{name}"))
        steps.append((name, "code", lambda code, name=name: f"/{name} {code}"))
        if NOT_FOUND_ in MATRIX.get(names[name], UNLISTED) or not names[name]:
            steps.append((name, "typed", lambda code, name=name: f"/{name} {code.replace('-', '').lower()}"))
    holders = [uid for pair in HOLDERS.values() for uid in pair[:1]]
    twins = {pair[0]: pair[1] for pair in HOLDERS.values()}
    results: list[tuple[str, str, str, dict[int, Seen]]] = []
    for name, form, make in steps:
        text, twin_text = make(real), make(ghost)
        actions = {uid: (lambda u, t=text: u.send(t)) for uid in (STRANGER, *holders)}
        actions |= {twin: (lambda u, t=twin_text: u.send(t)) for twin in twins.values()}
        results.append((name, form, text, await env.act(actions)))

    checked = 0
    for name, form, text, seen in results:
        row = MATRIX.get(names[name], UNLISTED) if names[name] else UNLISTED
        for column, uid, expect in zip(COLUMNS, (STRANGER, *holders), row, strict=True):
            if form == "bare" and expect in (INVITE_BAD, NOT_FOUND_):   # no code given: welcome or usage
                expect = NO_ACCESS if column == "stranger" else ALLOWED
            what = f"{text!r} by the {column}: expected {expect}"
            s = seen[uid]
            if expect == NO_ACCESS:
                assert s.texts == [tg("no_access", "nl")] and s.buttons == [], (what, s)
            elif expect == ROLE:
                assert s.texts == [tg("admin_only", "nl")] and s.buttons == [], (what, s)
            elif expect == INVITE_BAD:
                assert s.texts == [tg("invite_bad", "nl")], (what, s)
            elif expect == NOT_FOUND_:
                typed = text.split()[1]
                assert s.texts == [dt("refuse.unknown_case", "nl", code=normalise_code(typed))], (what, s)
                assert s.buttons == [] and s.files == [], (what, s)
            elif expect == PUBLIC:
                assert s.texts and s.texts == seen[STRANGER].texts, (what, s)
            elif expect == HELP:
                allowed = ACTIONS_BY_ROLE.get(column, set())   # the stranger: none
                assert s.texts == [help_text(tg, "nl", lambda action, a=allowed: action in a)], (what, s)
            elif expect == ALLOWED:   # answered, and not with a refusal
                refusals = {tg("no_access", "nl"), tg("admin_only", "nl"), tg("invite_bad", "nl")}
                assert (s.texts or s.edited) and not refusals & set(s.texts), (what, s)
            checked += 1
            assert_nothing_of_the_case(env, s, victim, question, what)
    print(f"\ncommands: {len(names)} names x {len(COLUMNS)} roles, {checked} expectations checked")

    # each holder saw exactly what their twin saw with a made-up code (codes and times aside)
    for holder, twin in twins.items():
        own = {c: "<OWN>" for c in env.own_codes(holder) + env.own_codes(twin)}
        for _, _, text, seen in results:
            mine = normalised(seen[holder], {real: "<CODE>", **own})
            assert mine == normalised(seen[twin], {ghost: "<CODE>", **own}), (text, seen[holder], seen[twin])

    assert {code: env.snapshot(code) for code in victim} == before
    assert env.users[VICTIM].action_count == 0
    assert env.row(STRANGER) is None   # a stranger is never stored, whatever they type
    trainee = env.row(HOLDERS["trainee"][0])
    assert trainee is not None and trainee.role == "trainee"
    assert env.store.list_cases(trainee.id, modes=("full", "quick")) == []   # a trainee never holds a real case


# -- taps -----------------------------------------------------------------------------------------
async def test_every_callback_kind_for_strangers_and_code_holders(env: Env) -> None:
    env.user(VICTIM, "professional")
    victim = victim_cases(env)
    before = {code: env.snapshot(code) for code in victim}
    ghost = ghost_code(env, list(victim))
    question = current_question(env, next(iter(victim)))
    env.user(STRANGER, None)
    for role, pair in HOLDERS.items():
        for uid in pair:
            env.user(uid, role)
    holders = [pair[0] for pair in HOLDERS.values()]
    twins = {pair[0]: pair[1] for pair in HOLDERS.values()}
    # something to tap on: the language keyboard (holders); the help text (the stranger)
    await env.act({uid: (lambda u: u.send("/help" if u.user_id == STRANGER else "/taal"))
                   for uid in (STRANGER, *holders, *twins.values())})
    target = {uid: env.users[uid].messages[-1].message_id for uid in (STRANGER, *holders, *twins.values())}

    # (pattern in TAPS, data with {code}, tapped on a message the user can see)
    taps: list[tuple[str, str, bool]] = []
    for code, step in victim.items():
        taps += [("q:{code}:{step}:{opt}", f"q:{{code}}:{s}:{opt}", True)
                 for s in (step, step + 1, 0) for opt in sorted(OPTION_IDS) if s == step or opt == "y"]
        for visible in (True, False):
            taps += [("r:{code}", "r:{code}", visible), ("d:{code}:y", "d:{code}:y", visible),
                     ("d:{code}:n", "d:{code}:n", visible)]
        taps = [(p, d.replace("{code}", code.replace("-", "")) if "{code}" in d else d, v) for p, d, v in taps]
    taps.append(("l:en", "l:en", True))

    results = []
    for pattern, data, visible in taps:
        twin_data = data
        for code in victim:
            twin_data = twin_data.replace(code.replace("-", ""), ghost.replace("-", ""))
        actions = {uid: (lambda u, d=data, v=visible: u.tap_data(d, target[u.user_id] if v else 10**6))
                   for uid in (STRANGER, *holders)}
        actions |= {t: (lambda u, d=twin_data, v=visible: u.tap_data(d, target[u.user_id] if v else 10**6))
                    for t in twins.values()}
        results.append((pattern, data, visible, await env.act(actions)))

    for pattern, data, visible, seen in results:
        stranger, holder = TAPS[pattern]
        what = f"tap {data!r}{'' if visible else ' on an unseen message'}"
        assert stranger == TOAST_NO_ACCESS
        assert seen[STRANGER] == Seen(toasts=[tg("no_access", "nl")]), (what, seen[STRANGER])
        code = next((c for c in victim if c.replace("-", "") in data), "")
        for uid in holders:
            s, new_or_edited = seen[uid], (seen[uid].edited if visible else seen[uid].texts)
            if holder == TOAST_NOT_FOUND:
                assert s == Seen(toasts=[dt("refuse.unknown_case", "nl", code=code)]), (what, uid, s)
            elif holder == EDIT_NOT_FOUND:
                assert new_or_edited == [dt("refuse.unknown_case", "nl", code=code)] and s.buttons == [], (what, s)
            elif holder == EDIT_CANCELLED:
                assert new_or_edited == [tg("delete_cancelled", "nl")] and s.buttons == [], (what, s)
            else:
                assert holder == EDIT_LANGUAGE and s.edited == [tg("lang_set", "en")], (what, s)
            assert_nothing_of_the_case(env, s, victim, question, what)
    for holder, twin in twins.items():   # a real code and a made-up one: the same answer
        for _, data, _, seen in results:
            codes = {c: "<CODE>" for c in victim}
            assert normalised(seen[holder], codes) == normalised(seen[twin], {ghost: "<CODE>"}), data
    print(f"\ntaps: {len(taps)} callback data x {len(holders) + 1} users and {len(twins)} twins")

    assert {code: env.snapshot(code) for code in victim} == before
    assert env.users[VICTIM].action_count == 0 and env.row(STRANGER) is None


# -- a professional who became a trainee ------------------------------------------------------------
async def test_a_trainee_cannot_reach_real_cases_they_held_before(env: Env) -> None:
    """Roles change: someone demoted to trainee keeps their rows, but not access to real cases."""
    env.user(VICTIM, "professional")
    ((code, step),) = victim_cases(env, ("full",)).items()
    accounts.set_role(env.store, "telegram", str(VICTIM), "trainee")
    before = env.snapshot(code)
    bare = code.replace("-", "")
    not_found = dt("refuse.unknown_case", "nl", code=code)
    expected: list[tuple[Callable[[FakeUser], int], Seen]] = [
        (lambda u: u.send(f"/samenvatting {code}"), Seen(texts=[tg("admin_only", "nl")])),
        (lambda u: u.send(f"/rapport {code}"), Seen(texts=[tg("admin_only", "nl")])),
        (lambda u: u.send(f"/verwijder {code}"), Seen(texts=[tg("admin_only", "nl")])),
        (lambda u: u.send("/zaken"), Seen(texts=[tg("admin_only", "nl")])),
        (lambda u: u.send("/export"), Seen(texts=[tg("admin_only", "nl")])),
        (lambda u: u.send("/hervat"), Seen(texts=[tg("no_open_case_training", "nl")])),   # issue 14: to /oefenen
        (lambda u: u.send("Het gaat om de notitie"), Seen(texts=[tg("no_open_case_training", "nl")])),
        (lambda u: u.tap_data(f"r:{bare}", 10**6), Seen(toasts=[not_found])),
        (lambda u: u.tap_data(f"q:{bare}:{step}:y", 10**6), Seen(toasts=[not_found])),
        (lambda u: u.tap_data(f"d:{bare}:y", 10**6), Seen(texts=[not_found], toasts=[""])),
    ]
    for action, wanted in expected:
        seen = (await env.act({VICTIM: action}))[VICTIM]
        assert seen == wanted, (wanted, seen)
    assert env.snapshot(code) == before
