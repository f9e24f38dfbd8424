"""Hypothesis against the real Telegram Application (in-process, against the fake Bot API).

One bot per test, not per example: the harness starts once and Hypothesis feeds it many examples
(`derandomize=True`: the same examples on every run). Every example is sent by several users at
once — an admin, professionals, a trainee and a stranger without a role — and is waited for
exactly: the harness reports when the bot has finished each update (TelegramHarness._report_handled),
so each user's fuzzed update is waited for itself, with nothing queued behind it in the chat.

After every example:
- nothing crashed: no "Er ging iets mis" in any chat and no ERROR log record;
- everything the bot sent was valid for Telegram (`server.violations == []`: text length, HTML,
  callback_data ≤ 64 bytes, toasts ≤ 200 characters);
- the victim's cases did not change and the victim's chat saw nothing;
- the victim's case code shows in another chat only inside the "not found" answer to what that
  user typed or tapped themselves (the same answer a made-up code gets).
Each property also has its own oracle (the reminder, the stored note, the exact refusal, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from telegram.ext import AIORateLimiter, ApplicationBuilder, CommandHandler

from bot.telegram import app as telegram_app
from bot.telegram.callback import OPTION_IDS
from bot.telegram.commands import help_text
from bot.telegram.runtime import telegram_texts
from dialogs.access import ACTIONS_BY_ROLE
from dialogs.app.cases import typed_answer
from dialogs.domain import ROLES
from dialogs.service import IntakeService
from dialogs.texts import dialog_texts
from matrix.lens import Lens
from storage import accounts
from storage.repo import CODE_ALPHABET, Store, UserRow, normalise_code
from tests.support.fake_bot_api import FakeBotAPI, FakeUser
from tests.support.harness import TelegramHarness

pytestmark = pytest.mark.slow(seconds=30)   # about its wall time on one worker: handed out early (tests/conftest.py)

TOKEN = "123456789:TEST-lensbot-fuzz-token-abcdefghijk"
ADMIN, PRO, WRITER, TRAINEE, STRANGER, VICTIM = 1001, 2001, 2002, 3001, 4001, 9001
NOT_FOUND = re.compile(r"(?:Zaak (\S+) is niet gevonden|Case (\S+) was not found)\.")
EXAMPLES = {"free_text": 80, "closing_note": 50, "callback_data": 100, "commands": 100, "other_updates": 40}
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])
tg, dt = telegram_texts(), dialog_texts()
ERROR_TEXTS = (tg("error", "nl"), tg("error", "en"))   # "Er ging iets mis. ...": an unhandled exception


# -- what users type ----------------------------------------------------------------------
FRAGMENTS = [
    "", " ", "\n", "\t", "\r\n", "ja", "Nee", "weet niet", "?", "terug", "stop", "1", "0", "-1", "99999999999",
    "😀", "👩‍👩‍👧‍👦", "🏳️‍🌈", "\u200d", "\u200b", "\u200c", "\ufeff", "\u2060",   # emoji, zero-width joiners
    "مرحبا بالعالم", "שלום עולם", "\u202e", "\u202d", "\u061c", "\u200f",   # Arabic, Hebrew, bidi marks
    "\x00", "\x01", "\x07", "\x08", "\x1b[31m", "\x7f", "\x85", "\u2028", "\u2029",   # control characters
    "<b>", "</b>", "</i>", "<i>", "&amp", "&amp;", "&", "&lt;", "&#0;", "<", ">", "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>', "<tg-spoiler>", "<pre><code>", "]]>", "{code}", "%s", "%(code)s",
    "'; DROP TABLE cases; --", "\" OR 1=1 --", "'); DELETE FROM answers; --", "Robert'); --",
    "K7-QX3M", "k7qx3m", "/samenvatting", "@lensbot_test_bot", "q:AAAAAA:1:y",
]
LONG_TEXTS = ["x" * 10_000, "😀" * 5_000, ("<b>&amp; " * 1_300)[:10_000], "ا" * 10_000, "a " * 5_000,
              "\u200d" * 10_000, "x" * 2_000, "y" * 2_001, " " * 3 + "z" * 2_000 + " " * 3]
PRINTABLE = st.characters(exclude_categories=("Cs",))   # anything Telegram can carry (no lone surrogates)
TEXT = st.one_of(
    st.text(PRINTABLE, max_size=80),
    st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(PRINTABLE, max_size=6)), max_size=6).map(" ".join),
    st.sampled_from(LONG_TEXTS),
)
FREE_TEXT = TEXT.filter(lambda t: not t.startswith("/"))   # "/..." is a command: fuzzed separately


# -- environment ---------------------------------------------------------------------------
@dataclass
class Seen:
    """What one user saw after one example: new messages, edited messages, toasts, uploaded files."""

    texts: list[str] = field(default_factory=list)    # new messages (text or caption), in order
    edited: list[str] = field(default_factory=list)   # earlier messages edited (text, buttons), as they are now
    toasts: list[str] = field(default_factory=list)
    files: list[bytes] = field(default_factory=list)
    callback_data: list[str] = field(default_factory=list)   # of every button on those messages

    def all(self) -> list[str]:
        return self.texts + self.edited + self.toasts


@dataclass(repr=False)
class Env:
    server: FakeBotAPI
    harness: TelegramHarness
    store: Store
    lens: Lens
    service: IntakeService
    caplog: pytest.LogCaptureFixture
    users: dict[int, FakeUser] = field(default_factory=dict)
    victim_codes: list[str] = field(default_factory=list)
    victim_before: dict[str, tuple[object, ...]] = field(default_factory=dict)
    examples: int = 0
    memo: dict[str, object] = field(default_factory=dict)   # set-up of the test, not of one example

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:   # keep Hypothesis' reports short
        printer.text("env")   # type: ignore[attr-defined]

    def member(self, user_id: int, role: str | None) -> FakeUser:
        if role is not None:
            accounts.set_role(self.store, "telegram", str(user_id), role)
        self.users[user_id] = self.server.user(user_id, first_name=f"U{user_id}")
        return self.users[user_id]

    def row(self, user_id: int) -> UserRow:
        row = self.store.user("telegram", str(user_id))
        assert row is not None
        return row

    def snapshot(self, code: str) -> tuple[object, ...]:
        with self.store.transaction() as tx:
            case = tx.load_case(code)
        assert case is not None, code
        return (case.step, case.state, case.status, case.mode, tuple(case.trail), tuple(case.skipped),
                tuple(self.store.answer_log(case.id)), tuple(self.store.notes(case.id)))

    def new_case(self, user_id: int, mode: str = "full", answers: int = 0, to_note: bool = False,
                 age: str = "a12_17") -> str:
        """A case made through the service (fast): begun, the age given, then `answers` questions answered
        "nee", or at the note."""
        row = self.row(user_id)
        reply = self.service.start(row, "nl", mode)
        code = reply.case_code
        if mode != "quick":
            reply = self.service.handle(row, code, "begin", step=reply.step)
        reply = self.service.handle(row, code, "answer", age, step=reply.step)   # the age comes first in every mode
        assert not reply.refused, reply.toast
        if to_note:
            answers = len(self.lens.red_flags)
        for _ in range(answers):
            reply = self.service.handle(row, code, "answer", "no", step=reply.step)
            assert not reply.refused, reply.toast
        if to_note:
            for _ in self.lens.leefgebieden:
                reply = self.service.handle(row, code, "skip", step=reply.step)
            assert self.snapshot(code)[1] == "note"
        return code

    # -- sending and waiting exactly --------------------------------------------------------
    async def exchange(self, actions: dict[int, Callable[[FakeUser], int]]) -> dict[int, Seen]:
        """Let each user do one thing (an update; its id returned) at the same time; wait until every one
        of them is handled; return what each of them saw afterwards."""
        marks = {uid: self._mark(self.users[uid]) for uid in actions}
        sent = {uid: act(self.users[uid]) for uid, act in actions.items()}
        await asyncio.gather(*(self.users[uid].wait_handled(update_id, timeout=20) for uid, update_id in sent.items()))
        return {uid: self._seen(self.users[uid], *marks[uid]) for uid in actions}

    def _mark(self, user: FakeUser) -> tuple[dict[int, int], int]:
        return {m.message_id: m.edit_count for m in user.messages}, len(self.server.callback_answers)

    def _seen(self, user: FakeUser, before: dict[int, int], answers: int) -> Seen:
        seen = Seen()
        for m in user.messages:
            if m.message_id in before and before[m.message_id] == m.edit_count:
                continue
            (seen.texts if m.message_id not in before else seen.edited).append(m.text)
            seen.callback_data += [str(d) for row in m.callback_data for d in row if d is not None]
            if m.file is not None and m.message_id not in before:
                seen.files.append(m.file.data)
        seen.toasts = [a.text for a in self.server.callback_answers[answers:] if a.chat_id == user.chat_id and a.text]
        return seen

    # -- what must hold after every example -------------------------------------------------
    def check(self, seen: dict[int, Seen], what: object) -> None:
        self.examples += 1
        where = f"example {self.examples}: {what!r:.300}"
        assert self.server.violations == [], (where, [str(v) for v in self.server.violations])
        errors = [f"{r.name}: {r.getMessage()}\n{logging.Formatter().formatException(r.exc_info) if r.exc_info else ''}"
                  for r in self.caplog.records if r.levelno >= logging.ERROR]
        self.caplog.clear()   # each example answers for its own log lines
        assert errors == [], (where, errors)
        for uid, s in seen.items():
            assert not any(e in t for t in s.all() for e in ERROR_TEXTS), (where, uid, s)
            assert all(0 < len(d.encode()) <= 64 for d in s.callback_data), (where, uid, s.callback_data)
        for code, before in self.victim_before.items():
            assert self.snapshot(code) == before, (where, code)
        assert self.users[VICTIM].action_count == 0, where
        for uid, s in seen.items():
            for text in s.all():
                rest = NOT_FOUND.sub("", text)
                for code in self.victim_codes:
                    assert code not in rest and code.replace("-", "") not in rest.upper(), (where, uid, text)
            for data in s.files:
                assert not any(c.encode() in data or c.replace("-", "").encode() in data
                               for c in self.victim_codes), (where, uid)


@contextlib.asynccontextmanager
async def running(lens: Lens, db_url: str, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Env]:
    """The real Application on `db_url`, its users, and the victim's cases; Telegram's rules checked at the end."""
    async with FakeBotAPI(token=TOKEN) as server:
        async with TelegramHarness(server, db_url, lens, frozenset({str(ADMIN)})) as harness:
            store = Store(db_url)
            e = Env(server, harness, store, lens, IntakeService(store, lens), caplog)
            try:
                e.member(ADMIN, None)   # an admin by configuration (LENSBOT_ADMIN_IDS)
                for uid, role in ((PRO, "professional"), (WRITER, "professional"), (TRAINEE, "trainee"),
                                  (STRANGER, None), (VICTIM, "professional")):
                    e.member(uid, role)
                # the victim: an open case deep in a leefgebied, a completed case and a practice case
                real = e.new_case(VICTIM, answers=len(lens.red_flags) + 2)
                done = e.new_case(VICTIM, to_note=True)
                assert not e.service.handle(e.row(VICTIM), done, "no_note", step=e.snapshot(done)[0]).refused
                training = e.new_case(VICTIM, "training", answers=2)
                e.victim_codes = [real, done, training]
                e.victim_before = {c: e.snapshot(c) for c in e.victim_codes}
                yield e
            finally:
                store.dispose()
        assert server.violations == [], [str(v) for v in server.violations]
        assert server.unanswered_callback_queries() == []
        assert server.unknown_methods == []
        assert not any(t in server.transcript() for t in ERROR_TEXTS)


@pytest.fixture
async def env(lens: Lens, sqlite_url: str, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    # The fake Bot API has no flood limit: lift PTB's overall 30 messages/s, which would otherwise make every
    # example wait for a limit that does not exist here. The rate limiter itself (429 retries) stays.
    monkeypatch.setattr(telegram_app, "AIORateLimiter", functools.partial(AIORateLimiter, overall_max_rate=0))
    async with running(lens, sqlite_url, caplog) as e:
        yield e
    wanted = request.node.callspec.params["n"]
    print(f"\n{request.node.name}: {e.examples} fuzz examples")   # shown with -s or -rP
    assert e.examples >= wanted * 0.9, f"{request.node.name}: only {e.examples} of {wanted} examples ran"


def examples(name: str) -> pytest.MarkDecorator:
    """Test id and Hypothesis budget in one: `test_x[70_examples]` runs 70 examples."""
    return pytest.mark.parametrize("n", [EXAMPLES[name]], ids=lambda n: f"{n}_examples")


def registered_commands(env: Env) -> set[str]:
    """Every command name the Application answers to, aliases included."""
    app = env.harness.app
    assert app is not None
    return {n for group in app.handlers.values() for h in group if isinstance(h, CommandHandler)
            for n in h.commands}


# -- 1. free text mid-question ------------------------------------------------------------
@examples("free_text")
@settings(FUZZ, max_examples=EXAMPLES["free_text"])
@given(text=FREE_TEXT)
async def test_free_text_mid_question_is_never_stored(env: Env, n: int, text: str) -> None:
    if "mine" not in env.memo:   # a question waiting for the professional and for the trainee (practice)
        env.memo["mine"] = {PRO: env.new_case(PRO, answers=2), TRAINEE: env.new_case(TRAINEE, "training", answers=1)}
    mine: dict[int, str] = env.memo["mine"]   # type: ignore[assignment]
    assume(typed_answer(text) is None)   # "ja", "nee", "weet ik niet" typed at a question answer it (issue 15)
    before = {uid: env.snapshot(code) for uid, code in mine.items()}
    seen = await env.exchange({uid: (lambda u: u.send(text)) for uid in (PRO, TRAINEE, STRANGER, ADMIN)})
    env.check(seen, text)
    for uid, code in mine.items():   # nothing typed mid-question is stored: no answer, no note, same step
        assert env.snapshot(code) == before[uid], text
        # issue 15: with the question on screen, one short hint per question and nothing for later words;
        # without it (an empty message, or no question sent in this chat yet) the pointer and the question again
        hints = ([], [tg("typed_hint", "nl")], [tg("typed_hint_buttons", "nl")])
        assert seen[uid].texts in hints or (seen[uid].texts[:1] == [tg("reminder", "nl")]
                                            and len(seen[uid].texts) == (2 if text else 1)), (text, seen[uid])
    assert seen[STRANGER].texts == [tg("no_access", "nl")]
    assert seen[ADMIN].texts == [tg("no_open_case", "nl") if text else tg("reminder", "nl")]


# -- 2. the closing note -------------------------------------------------------------------
@examples("closing_note")
@settings(FUZZ, max_examples=EXAMPLES["closing_note"])
@given(text=FREE_TEXT)
async def test_closing_note_is_stored_exactly_or_refused(env: Env, n: int, text: str) -> None:
    code = env.new_case(WRITER, to_note=True)
    seen = await env.exchange({WRITER: lambda u: u.send(text), STRANGER: lambda u: u.send(text)})
    env.check(seen, text)
    _, state, status, *_, notes = env.snapshot(code)
    note, shown = text.replace("\x00", "").strip(), seen[WRITER].texts   # stored trimmed, without NUL
    if note and len(note) <= 2000:   # stored, the case is complete
        assert (state, status, notes) == ("done", "completed", (note,)), text
        assert dt("note.saved", "nl") in "\n".join(shown) and dt("done.body", "nl", code=code) in "\n".join(shown)
    else:
        assert (state, status, notes) == ("note", "open", ()), text
        if not text:              # no text at all (an empty message): only the pointer
            assert shown == [tg("reminder", "nl")]
        elif note:                # too long: said so, and the note prompt again, without "use the buttons"
            assert shown[0] == dt("refuse.note_too_long", "nl", max=2000) and len(shown) == 2, shown
        else:                     # only white space (or NUL): no note; the prompt again
            assert shown[0] == tg("reminder", "nl") and len(shown) == 2, shown
        with env.store.transaction() as tx:   # out of the way: the next example's case is the open one
            case = tx.load_case(code)
        assert case is not None
        env.store.delete_case(case.id)
    assert seen[STRANGER].texts == [tg("no_access", "nl")]


# -- 3. forged callback data ---------------------------------------------------------------
def forged_data(codes: list[str]) -> st.SearchStrategy[str]:
    bare = st.sampled_from([c.replace("-", "") for c in codes] + ["ZZZZZZ", "AAAAAA"])
    mangled = st.one_of(bare, bare.map(str.lower), st.sampled_from(codes), bare.map(lambda c: c[:5]),
                        bare.map(lambda c: c + "A"), st.text(st.sampled_from(CODE_ALPHABET + "01IO-"), max_size=8))
    step = st.one_of(st.integers(-3, 60).map(str), st.sampled_from(["", "00", "01", "+1", "1e3", "١٢", " 1", "1 ",
                                                                    "9" * 12, "0x10", "NaN"]))
    option = st.one_of(st.sampled_from(sorted(OPTION_IDS)), st.text(max_size=3))
    kind = st.sampled_from(["q", "r", "d", "l", "x", "Q", "", "qq", "r ", "\u0071"])
    sep = st.sampled_from([":", ":", ":", "::", ";", " : ", "\x00"])
    return st.one_of(
        st.builds(lambda c, s, o: f"q:{c}:{s}:{o}", mangled, step, option),           # valid-looking taps
        st.builds(lambda c: f"r:{c}", mangled),
        st.builds(lambda c, o: f"d:{c}:{o}", mangled, st.sampled_from(["y", "n", "Y", "yes", "", "y:y"])),
        st.builds(lambda o: f"l:{o}", st.one_of(st.sampled_from(["nl", "en", "de", "EN", "", "nl:en"]),
                                                 st.text(max_size=4))),
        st.builds(lambda k, a, b, c: f"{k}{a}{b}{a}{c}", kind, sep, mangled, step),    # unknown kinds, odd layout
        st.builds(lambda d, tail: d + tail, st.builds(lambda c, s: f"q:{c}:{s}:y", bare, step),
                  st.sampled_from(["\n", " ", "x" * 60, "\u200d", ":y", "😀" * 16])),  # trailing bytes, > 64 bytes
        st.text(max_size=64),                                                            # random strings ≤ 64 ...
        st.text(min_size=65, max_size=300),                                              # ... and longer
        st.binary(max_size=120).map(lambda b: b.decode("utf-8", "replace")),             # random bytes
    )


@examples("callback_data")
@settings(FUZZ, max_examples=EXAMPLES["callback_data"])
@given(data=st.data())
async def test_forged_callback_data_changes_nothing(env: Env, n: int, data: st.DataObject) -> None:
    forgers = (PRO, TRAINEE, STRANGER, ADMIN)
    if "own" not in env.memo:   # the professional has an open case of their own; everyone has a message
        env.memo["own"] = env.new_case(PRO, answers=1)
        await env.exchange({PRO: lambda u: u.send("/hervat"), TRAINEE: lambda u: u.send("/hervat"),
                            STRANGER: lambda u: u.send("/start"), ADMIN: lambda u: u.send("/taal")})
    own = str(env.memo["own"])
    bare, step = own.replace("-", ""), env.snapshot(own)[0]
    forged = data.draw(st.one_of(forged_data(env.victim_codes),
                                 st.builds(lambda s, o: f"q:{bare}:{s}:{o}", st.integers(0, 40),
                                           st.sampled_from(sorted(OPTION_IDS))),
                                 st.just(f"r:{bare}")), label="data")
    assume(not forged.startswith(f"q:{bare}:{step}:"))   # one's own case at its current step: a real answer
    on_message = data.draw(st.booleans(), label="tapped on a message the user can see")
    before = env.snapshot(own)
    seen = await env.exchange({uid: (lambda u: u.tap_data(forged, None if on_message else 10**6))
                               for uid in forgers})
    env.check(seen, forged)
    assert env.snapshot(own) == before, forged
    assert env.server.unanswered_callback_queries() == []
    assert seen[STRANGER].toasts == [tg("no_access", "nl")] and seen[STRANGER].texts == [], forged
    for uid in (PRO, TRAINEE, ADMIN):
        for text in seen[uid].all():   # "not found" only names a code the user sent themselves
            for nl, en in NOT_FOUND.findall(text):
                assert (nl or en).replace("-", "") in forged, (forged, uid, text)


# -- 4. commands with odd arguments ----------------------------------------------------------
ODD_ARGS = st.one_of(
    st.just(""),
    st.lists(st.text(st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=10),
             min_size=1, max_size=3).map(" ".join),
    st.sampled_from([
        "K7-QX3M", "k7qx3m", "a<b>&cd", "<b>x</b>", "&amp;&", "AB-CD", "ABCDEFGHI", "ABC DEF",
        "'; DROP TABLE cases; --", "' OR '1'='1", "1; DELETE FROM users", "x" * 5_000, "😀😀😀", "مرحبا", "שלום",
        "\u200d" * 6,
        "professional", "trainee", "admin", "ADMIN", "koning", "admin trainee", "aan", "UIT", "on", "off", "aan uit",
        "nl", "en", "de", "%s%s", "{code}", "\x00\x00\x00\x00\x00\x00", "../../etc", "AAAAAA BBBBBB",
    ]),
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=5).map(" ".join),
)
CODE_COMMANDS = {"samenvatting": "/samenvatting", "summary": "/samenvatting", "verwijder": "/verwijder",
                 "delete": "/verwijder", "rapport": "/rapport", "report": "/rapport"}
REAL_CASE = {"nieuw", "new", "snel", "quick", "zaken", "cases", "export", *CODE_COMMANDS}
ADMIN_ONLY = {"overzicht", "stats", "uitnodigen", "invite"}
PUBLIC = {"nood", "emergency"}
ROLE_OF = {ADMIN: "admin", PRO: "professional", WRITER: "professional", TRAINEE: "trainee"}   # STRANGER: none


def expected_reply(uid: int, command: str, args: list[str]) -> list[str] | None:
    """The exact reply where it is known from the command alone (None: checked by the general properties)."""
    if command == "help":   # built from the command table: the commands the sender's role may use
        allowed = ACTIONS_BY_ROLE.get(ROLE_OF.get(uid, ""), set())
        return [help_text(tg, "nl", lambda action: action in allowed)]
    if uid == STRANGER:
        if command in PUBLIC:
            return None
        return [tg("invite_bad" if command == "start" and args else "no_access", "nl")]
    if (uid == TRAINEE and command in REAL_CASE | ADMIN_ONLY) or (uid == PRO and command in ADMIN_ONLY):
        return [tg("admin_only", "nl")]
    if command in CODE_COMMANDS:
        if len(args) == 1 and 6 <= len(args[0]) <= 8:
            return [dt("refuse.unknown_case", "nl", code=normalise_code(args[0]))]
        return [tg("code_usage", "nl", command=CODE_COMMANDS[command])]
    if command in ("herinneringen", "reminders"):
        on = [a.lower() for a in args]
        return [tg({"aan": "reminders_on", "on": "reminders_on", "uit": "reminders_off", "off": "reminders_off"}
                   .get(on[0], "reminders_usage") if len(on) == 1 else "reminders_usage", "nl")]
    if command in ("uitnodigen", "invite") and (len(args) > 1 or (args and args[0].lower() not in ROLES)):
        return [tg("invite_usage", "nl")]
    if command == "start" and args:
        return [tg("invite_bad", "nl")]
    return None


def command_names() -> list[str]:
    """Every command name register() sets up (aliases included), read from a bare Application."""
    app = ApplicationBuilder().token(TOKEN).build()   # offline: nothing is started
    telegram_app.register(app)
    return sorted(n for group in app.handlers.values() for h in group if isinstance(h, CommandHandler)
                  for n in h.commands)


NAMES = command_names()


@examples("commands")
@settings(FUZZ, max_examples=EXAMPLES["commands"])
@given(name=st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES).map(str.upper),
                      st.sampled_from(["foo", "start2", "samenvattingen", "nieuw_", "ü"])),
       suffix=st.sampled_from(["", "", "", "@lensbot_test_bot", "@LensBot_Test_Bot", "@other_bot"]),
       args=ODD_ARGS)
@example(name="samenvatting", suffix="", args="")                         # no code
@example(name="samenvatting", suffix="", args="AB-CDEF GH-JKLM")          # two
@example(name="samenvatting", suffix="", args="K" * 10_000)               # very long
@example(name="summary", suffix="", args="ÄÖ-ÜẞÇ")                        # unicode, code-sized
@example(name="samenvatting", suffix="", args="😀😀😀😀")                    # unicode, 8 UTF-16 units
@example(name="rapport", suffix="", args="a<b>&cd")
@example(name="start", suffix="", args="bogus-invite-code")
@example(name="start", suffix="", args="' OR '1'='1")
@example(name="verwijder", suffix="", args="'; DROP TABLE cases; --")
@example(name="verwijder", suffix="", args="x');DELETE")
@example(name="taal", suffix="", args="klingon")
@example(name="herinneringen", suffix="", args="misschien")
@example(name="herinneringen", suffix="", args="AAN")
@example(name="uitnodigen", suffix="", args="koning")
@example(name="uitnodigen", suffix="", args="trainee admin")
async def test_commands_with_odd_arguments(env: Env, n: int, name: str, suffix: str, args: str) -> None:
    names = sorted(registered_commands(env))
    assert names == NAMES
    text = f"/{name}{suffix}" + (f" {args}" if args else "")
    senders = (ADMIN, PRO, TRAINEE, STRANGER)
    seen = await env.exchange({uid: (lambda u: u.send(text)) for uid in senders})
    env.check(seen, text)
    command = name.lower()
    handled = command in names and suffix.lower() in ("", "@lensbot_test_bot")
    for uid in senders:
        if not handled:   # another bot's command, or none of ours: silence
            assert seen[uid].texts == [] and seen[uid].toasts == [], (text, uid, seen[uid])
            continue
        assert seen[uid].texts, (text, uid)   # every command of ours gets an answer
        expected = expected_reply(uid, command, text.split()[1:])
        if expected is not None:
            assert seen[uid].texts == expected, (text, uid)
    if handled and command in PUBLIC:   # the same for everyone, role or not
        assert len({tuple(s.texts) for s in seen.values()}) == 1, text
    assert env.store.user("telegram", str(STRANGER)) is None, text        # nobody gains a role by typing
    trainee = env.row(TRAINEE)
    assert trainee.role == "trainee" and env.store.list_cases(trainee.id) == [], text   # no real case, ever


# -- 5. documents, photos, stickers and edits where text is expected ----------------------------
def send_remembered(user: FakeUser, text: str, seeds: dict[int, int]) -> int:
    """Send `text` and remember the id of the user's message in `seeds` (to edit it later); the update's id."""
    update_id = user.send(text)
    seeds[user.user_id] = next(int(u["message"]["message_id"]) for u in user.server.pending_updates
                               if u["update_id"] == update_id)
    return update_id


def other_update(user: FakeUser, kind: str, text: str, counter: itertools.count, seed: int) -> int:
    if kind == "document":
        return user.send_document(text.encode()[:2000] or b"\x00", "x" + text[:40].replace("/", "_") + ".pdf",
                                  caption=text[:1000] or None)
    if kind == "photo":
        return user.send_photo(caption=text[:1000] or None)
    if kind == "edit":
        return user.edit(seed, text)
    content: dict[str, object] = {
        "sticker": {"sticker": {"file_id": "CAACAgIAAxk", "file_unique_id": "AgADsticker", "type": "regular",
                                "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "😀"}},
        "location": {"location": {"latitude": 52.09, "longitude": 5.12}},
        "contact": {"contact": {"phone_number": "+31600000000", "first_name": text[:60] or "x"}},
        "voice": {"voice": {"file_id": "AwACAgIAAxk", "file_unique_id": "AgADvoice", "duration": 3}},
    }[kind]
    message = {"message_id": next(counter), "from": dict(user.profile), "chat": user.chat, "date": 1_700_000_000,
               **content}
    return user.server.inject_update({"message": message})


@examples("other_updates")
@settings(FUZZ, max_examples=EXAMPLES["other_updates"])
@given(kind=st.sampled_from(["document", "photo", "sticker", "edit", "location", "contact", "voice"]), text=TEXT)
async def test_documents_photos_stickers_and_edits_where_text_is_expected(env: Env, n: int, kind: str,
                                                                        text: str) -> None:
    users = (PRO, WRITER, TRAINEE, STRANGER)
    if "cases" not in env.memo:   # a question and a closing note waiting; a message of each user to edit
        env.memo["cases"] = {PRO: env.new_case(PRO, answers=3), WRITER: env.new_case(WRITER, to_note=True)}
        env.memo["seeds"], env.memo["ids"] = {}, itertools.count(700_000)
        seeds_of: dict[int, int] = env.memo["seeds"]   # type: ignore[assignment]
        await env.exchange({uid: (lambda u: send_remembered(u, "eerst", seeds_of)) for uid in users})
    cases: dict[int, str] = env.memo["cases"]   # type: ignore[assignment]
    seeds: dict[int, int] = env.memo["seeds"]   # type: ignore[assignment]
    before = {uid: env.snapshot(code) for uid, code in cases.items()}
    ids: itertools.count = env.memo["ids"]   # type: ignore[assignment]
    seen = await env.exchange({uid: (lambda u: other_update(u, kind, text, ids, seeds[u.user_id])) for uid in users})
    env.check(seen, (kind, text))
    for uid, code in cases.items():   # mid-question and at the closing note: nothing stored
        if kind == "edit" and uid == WRITER:
            continue   # WRITER's first message became the note: editing it changes the note (tests/test_notes.py)
        assert env.snapshot(code) == before[uid], (kind, text)
    for uid in (PRO, WRITER, TRAINEE):
        if kind == "edit":   # an edit is never answered with the pointer to the buttons
            assert tg("reminder", "nl") not in seen[uid].texts, (kind, text, uid, seen[uid])
            if uid != WRITER:
                assert seen[uid].texts == [tg("edit_not_note", "nl")], (kind, text, uid, seen[uid])
            continue
        assert seen[uid].texts == [tg("reminder", "nl")], (kind, text, uid, seen[uid])
    assert seen[STRANGER].texts == [tg("no_access", "nl")], (kind, text)


# -- 6. the NUL character, on every database -------------------------------------------------------
async def test_nul_characters_on_every_database(lens: Lens, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL text cannot hold NUL (0x00): typed into a note, a case code or an invitation code it
    must never reach a query. Found by the fuzzing above when it runs on PostgreSQL."""
    async with running(lens, db_url, caplog) as env:
        question, note = env.new_case(PRO, answers=1), env.new_case(WRITER, to_note=True)
        before = env.snapshot(question)
        cases = [
            (PRO, "\x00", None),                          # mid-question: the reminder and the question again
            (PRO, "/samenvatting AB\x00CDE", [dt("refuse.unknown_case", "nl", code="ABCDE")]),
            (PRO, "/rapport AB\x00CDEF", [dt("refuse.unknown_case", "nl", code="AB-CDEF")]),
            (PRO, f"/verwijder {env.victim_codes[0]}\x00", [dt("refuse.unknown_case", "nl", code=env.victim_codes[0])]),
            (STRANGER, "/start abc\x00def", [tg("invite_bad", "nl")]),
            (WRITER, "\x00 \x00", None),                 # no note in it: the reminder and the prompt again
            (WRITER, "Zag\x00 het zelf", None),           # stored without the NUL
        ]
        for uid, text, expected in cases:
            seen = await env.exchange({uid: lambda u, t=text: u.send(t)})
            env.check(seen, text)
            if expected is not None:
                assert seen[uid].texts == expected, (text, seen[uid])
        assert env.snapshot(question) == before
        assert env.snapshot(note)[1:3] == ("done", "completed") and env.snapshot(note)[7] == ("Zag het zelf",)
        assert env.store.user("telegram", str(STRANGER)) is None
