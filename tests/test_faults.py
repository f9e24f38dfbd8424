"""Fault tests: lensbot under crashes, duplicate deliveries, a misbehaving Bot API, an unavailable
database and broken lens files. Everything runs on 127.0.0.1 and every wait is bounded.

    LENSBOT_LONG_FAULTS=1 pytest -s tests/test_faults.py

runs the long version of the crash test: 200 SIGKILLs instead of 50 (about four times as long).
`-s` shows the figures each test prints (kills survived, duplicates refused, faults injected).

1. Crash safety. Two users (three in the long run) run short intakes (the age, red flags, ten
   questions of the first leefgebied, the other leefgebieden skipped, no note) against `lensbot telegram`
   processes that are SIGKILLed 0-300 ms after a round of taps, often while a tap is being handled.
   The users behave like people: they answer what the screen shows, tap again when nothing
   happened, and use /hervat after a "stale button" notice. Restarts are fast: standby processes
   start while the previous one runs and wait at a gate in front of the fake Bot API
   (tests/support/faults.py). Most are forked from a pre-imported copy of lensbot that runs the same
   `bot.cli.main(["telegram"])`; one in twenty is the real `lensbot` executable. Afterwards every
   acknowledged answer is stored exactly once, and every case, also one whose first reply was lost,
   can be completed.
2. Duplicate delivery: redelivered updates after a restart, old callbacks under fresh update ids,
   double taps. Nothing is applied twice.
3. Telegram faults: 20 % of the bot's calls answered 429 or 500, every answer 0.2 s late.
4. Database faults: SQLite locked by another process; PostgreSQL stopped and started mid-intake.
5. Broken lens files (tests/faults/): reported with file and line; `lensbot telegram` refuses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import bot.cli as bot_cli
from bot.telegram.runtime import telegram_texts
from dialogs.app import Settings
from dialogs.app.root import open_store
from dialogs.texts import dialog_texts
from matrix.checks import MAX_QUICK
from matrix.lens import AGE_PHASE, RED_FLAGS_PHASE, Lens, Question
from matrix.loader import DEFAULT_LENS, load_lens
from storage import accounts
from storage.db import normalise_url
from storage.repo import CaseRow, Store
from tests.support.fake_bot_api import FakeBotAPI, FakeUser, FaultPlan, SentMessage
from tests.support.faults import ApiGate, BotLife, SqliteLock, Zygote
from tests.support.harness import TelegramHarness

pytestmark = pytest.mark.slow(seconds=45)   # about its wall time on one worker: handed out early (tests/conftest.py)

LONG = os.environ.get("LENSBOT_LONG_FAULTS") == "1"
KILLS = 200 if LONG else 50
SEED = 20240611
TOKEN = "123456789:TEST-lensbot-faults-token-abcdefghij"
WAIT = 15.0

SAVED = "Opgeslagen"
STALE = dialog_texts()("refuse.stale", "nl")
BUSY = "De opslag is even niet bereikbaar; er is niets opgeslagen. Probeer het zo opnieuw."
ERROR_TEXT = "Er ging iets mis"
NO_OPEN = "Er staat geen zaak open. Start een intake met /nieuw."
DONE_TEXTS = ("De intake is afgerond", "Deze zaak is afgerond")   # finished now / resumed when finished
VALUES = {"Ja": "yes", "Nee": "no", "Weet ik niet": "unknown"}
SKIP, BEGIN, NO_NOTE = "Sla leefgebied over", "Begin", "Geen notitie"
SHORT_SUMMARY_KEYS = [["Details", "Plaatje", "PDF-dossier"]]   # under the short summary (issue 15)
CHOOSER = re.compile(r"^[A-Z2-9]{2}-[A-Z2-9]{4} — \d+ antwoorden$")   # /hervat's buttons
CODE_RE = re.compile(r"Zaakcode: ([A-Z2-9]{2}-[A-Z2-9]{4})")


# -- shared helpers ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    z = Zygote()
    try:
        yield z
    finally:
        z.close()


@functools.cache
def questions_by_text(lens: Lens) -> dict[str, Question]:
    """Every question of the intake, the age question first, by its text as shown for any age band."""
    found: dict[str, Question] = {}
    for q in (*lens.age_questions, *lens.questions):
        for band in (None, *lens.age_bands):
            found.setdefault(lens.say(q.text, "nl", band, lens.age_of(band)[0]), q)
    return found


def answer_value(lens: Lens, question: Question, label: str) -> str | None:
    """What tapping `label` stores for `question`: an age band at the age question, else yes/no/unknown."""
    if question.phase == AGE_PHASE:
        assert lens.doc.age is not None
        return next((b.id for b in lens.doc.age.bands if b.label.get("nl") == label), None)
    return VALUES.get(label)


def shown_question(lens: Lens, message: SentMessage) -> Question | None:
    """The question a message shows ('phase · n/size', blank line, the question), if any."""
    parts = message.text.split("\n\n")
    question = questions_by_text(lens).get(parts[1]) if len(parts) > 1 else None
    if question is not None:
        assert parts[0].endswith(f"{question.number}/{question.phase_size}"), message.text
    return question


def load_case(store: Store, code: str) -> CaseRow:
    with store.transaction() as tx:
        case = tx.load_case(code)
    assert case is not None, code
    return case


def is_subsequence(part: list[Any], whole: list[Any]) -> bool:
    it = iter(whole)
    return all(any(x == y for y in it) for x in part)


def is_done(message: SentMessage) -> bool:
    """The closing message (after a note it follows "Notitie opgeslagen."), or "this case is done"."""
    return any(t in message.text for t in DONE_TEXTS)


def keyboard(user: FakeUser) -> SentMessage:
    """The latest question keyboard (a short summary's Details/Plaatje/PDF buttons stay above it)."""
    found = [m for m in user.messages if not m.deleted and m.inline_keyboard and m.buttons != SHORT_SUMMARY_KEYS]
    assert found, user.transcript()
    return found[-1]


@dataclass
class Action:
    """One thing a user did; evaluated when it has settled or can no longer change."""

    kind: str                               # "tap" or "cmd"
    update: int
    label: str
    max_id: int                             # highest message id in the chat when it was done
    message: SentMessage | None = None      # the tapped message ...
    text_at: str = ""                       # ... and its text at that moment
    query: str | None = None
    code: str | None = None
    question: Question | None = None


def max_message_id(user: FakeUser) -> int:
    return max((m.message_id for m in user.messages), default=0)


def tap(server: FakeBotAPI, user: FakeUser, label: str, message: SentMessage | None = None,
        question: Question | None = None) -> Action:
    message = message or keyboard(user)
    max_id = max_message_id(user)
    button = message.find_button(label)
    assert button is not None, (label, message.buttons)
    data = str(button["callback_data"])
    update = user.tap(label, message.message_id)
    query = str(server._all_updates[update]["callback_query"]["id"])
    code = f"{data.split(':')[1][:2]}-{data.split(':')[1][2:]}" if data.startswith("q:") else None
    return Action("tap", update, label, max_id, message, message.text, query, code, question)


def toasts_of(server: FakeBotAPI, a: Action) -> list[str | None]:
    return [x.text for x in server.callback_answers if x.query_id == a.query]


def settled(server: FakeBotAPI, user: FakeUser, a: Action) -> bool:
    """The bot has done all it will do for `a`: its last API call for it has been answered.

    A tap ends with its toast (a refusal), an edit in place that keeps a keyboard, or a new message
    with a keyboard (or the closing message); a command with its reply.
    """
    later = [m for m in user.messages if m.message_id > a.max_id]
    if a.kind == "cmd":
        return bool(later)
    toasts = toasts_of(server, a)
    if not toasts:
        return False
    if any(t not in (None, SAVED) for t in toasts):
        return True
    assert a.message is not None
    if a.message.text != a.text_at and a.message.inline_keyboard:
        return True
    return any((m.inline_keyboard and m.buttons != SHORT_SUMMARY_KEYS) or is_done(m) for m in later)


async def tap_settled(server: FakeBotAPI, user: FakeUser, label: str, message: SentMessage | None = None) -> Action:
    a = tap(server, user, label, message)
    await server.wait_for(lambda: settled(server, user, a), timeout=WAIT, message=f"[{label}] to be handled")
    return a


async def send_settled(server: FakeBotAPI, user: FakeUser, text: str) -> tuple[int, list[SentMessage]]:
    """Send `text`; (its update id, the bot's new messages) once the reply is there and the chat is quiet."""
    max_id = max_message_id(user)
    a = Action("cmd", user.send(text), text, max_id)
    await server.wait_for(lambda: settled(server, user, a), timeout=WAIT, message=f"the reply to {text!r}")
    await user.wait_handled(a.update, timeout=WAIT)
    return a.update, [m for m in user.messages if m.message_id > max_id]


def assert_no_tracebacks(lives: list[BotLife]) -> None:
    for life in lives:
        assert "Traceback" not in life.stderr, f"lensbot #{life.number} ({life.kind}):\n{life.stderr}"


# ==============================================================================================
# 1. crash safety
# ==============================================================================================
@dataclass
class Script:
    """What one user answers: the age, the red flags, then the first questions of the first leefgebied."""

    age: str            # the label of the age band tapped
    red: list[str]      # the first red flags; any further red flag of the lens is answered "Nee"
    first: list[str]

    def red_labels(self, lens: Lens) -> list[str]:
        return [self.red[i] if i < len(self.red) else "Nee" for i in range(len(lens.red_flags))]

    def expected(self, lens: Lens) -> list[tuple[str, str]]:
        (age,) = lens.age_questions
        reds = [q for q in lens.questions if q.phase == RED_FLAGS_PHASE]
        first = [q for q in lens.questions if q.phase == lens.leefgebieden[0].id][:len(self.first)]
        band = answer_value(lens, age, self.age)
        assert band is not None, self.age
        return [(age.item_id, band), *((q.item_id, VALUES[label]) for q, label in
                                       zip([*reds, *first], [*self.red_labels(lens), *self.first], strict=True))]


SCRIPTS = {
    1001: Script("12 tot 18 jaar", ["Nee", "Weet ik niet", "Nee", "Nee", "Nee", "Weet ik niet"],
                 ["Ja", "Nee", "Weet ik niet", "Nee", "Nee", "Ja", "Nee", "Nee", "Weet ik niet", "Nee"]),
    1002: Script("Weet ik niet", ["Weet ik niet", "Nee", "Nee", "Weet ik niet", "Nee", "Nee"],
                 ["Nee", "Nee", "Ja", "Weet ik niet", "Nee", "Nee", "Ja", "Nee", "Nee", "Nee"]),
    1003: Script("18 tot 23 jaar", ["Nee", "Nee", "Ja", "Nee", "Weet ik niet", "Nee"],   # a red flag: the 112 advice
                 ["Weet ik niet", "Ja", "Nee", "Nee", "Ja", "Weet ik niet", "Nee", "Nee", "Ja", "Nee"]),
}


def short(script: Script, first: int = 3) -> Script:
    return Script(script.age, script.red, script.first[:first])


class Player:
    """A user who reads the screen and taps like a person would (see the module docstring)."""

    def __init__(self, server: FakeBotAPI, user: FakeUser, lens: Lens, script: Script) -> None:
        self.server, self.user, self.lens, self.script = server, user, lens, script
        self.floor = 0                      # keyboards on messages up to this id belong to the past
        self.pending: Action | None = None
        self.next_cmd: str | None = None
        self.no_progress = 0
        self.acked: dict[str, list[tuple[str, str]]] = {}
        self.stats: Counter[str] = Counter()
        self.final = False                  # finishing up: "nothing open" means done, not /nieuw
        self.finished = False

    def screen(self) -> SentMessage | None:
        live = [m for m in self.user.messages if not m.deleted and m.inline_keyboard and m.message_id > self.floor
                and m.buttons != SHORT_SUMMARY_KEYS]   # a result's buttons stay; the intake goes on below them
        return live[-1] if live else None

    def label_for(self, q: Question) -> str:
        if q.phase == AGE_PHASE:
            return self.script.age
        if q.phase == RED_FLAGS_PHASE:
            return self.script.red_labels(self.lens)[q.number - 1]
        if q.phase == self.lens.leefgebieden[0].id and q.number <= len(self.script.first):
            return self.script.first[q.number - 1]
        return SKIP

    def act(self) -> Action:
        """Do the next thing: a command when one is due, else tap what the screen asks for."""
        assert self.pending is None
        command, self.next_cmd = self.next_cmd, None
        m = self.screen()
        if command is None and m is None:
            command = "/hervat"
        if command is not None:
            max_id = max_message_id(self.user)
            self.stats[command] += 1
            self.pending = Action("cmd", self.user.send(command), command, max_id)
            return self.pending
        assert m is not None
        buttons, question = m.buttons, None
        if buttons in ([[BEGIN]], [[NO_NOTE, "← Terug"]]) or CHOOSER.match(buttons[0][0]):
            label = buttons[0][0]
        else:
            question = shown_question(self.lens, m)
            assert question is not None, f"unexpected keyboard #{m.message_id}\n{self.user.transcript()}"
            label = self.label_for(question)
        self.stats["taps"] += 1
        answers = question is not None and answer_value(self.lens, question, label) is not None
        self.pending = tap(self.server, self.user, label, m, question if answers else None)
        return self.pending

    def settled(self) -> bool:
        return self.pending is not None and settled(self.server, self.user, self.pending)

    def evaluate(self) -> None:
        """Take in what came of the last action (it has settled, or can no longer change)."""
        a, self.pending = self.pending, None
        if a is None:
            return
        later = [m for m in self.user.messages if m.message_id > a.max_id]
        if a.kind == "cmd":
            progress = bool(later)
            if a.label == "/hervat" and any(m.text == NO_OPEN for m in later):
                self.floor = max(m.message_id for m in later)
                self.stats["nothing open"] += 1
                if self.final:
                    self.finished = True
                else:
                    self.next_cmd = "/nieuw"
        else:
            toasts = toasts_of(self.server, a)
            assert a.message is not None
            changed = a.message.text != a.text_at
            progress = bool(toasts) or changed
            # Acknowledged: the "saved" toast, or (the toast lost in a crash) the question moved on. A
            # refused stale tap whose message an earlier tap's edit changed meanwhile is not an answer.
            refused = any(t not in (None, SAVED) for t in toasts)
            if a.question is not None and (SAVED in toasts or (changed and not refused)):
                assert a.code is not None
                value = answer_value(self.lens, a.question, a.label)
                assert value is not None
                self.acked.setdefault(a.code, []).append((a.question.item_id, value))
            if refused:      # a stale button: find the case again
                self.stats["refused"] += 1
                self.next_cmd = "/hervat"
        done = [m for m in self.user.messages if is_done(m)]
        if done:
            self.floor = max(self.floor, done[-1].message_id)
        self.no_progress = 0 if progress else self.no_progress + 1
        if self.no_progress >= 3:           # nothing happens however often I tap: start over
            self.next_cmd, self.no_progress = "/hervat", 0


@dataclass
class CrashRun:
    """The bot processes of the crash test: the active one, the standbys, and what became of them."""

    server: FakeBotAPI
    gate: ApiGate
    zygote: Zygote
    workdir: Path
    db_url: str
    players: list[Player]
    standbys: dict[int, BotLife] = field(default_factory=dict)
    lives: list[BotLife] = field(default_factory=list)
    killed: list[BotLife] = field(default_factory=list)
    active: BotLife | None = None
    depth: int = 4                          # forked standbys kept ready
    exec_every: int = 20                    # one process in twenty is the real executable ...
    exec_ahead: int = 10                    # ... started this many processes ahead (it takes ~1 s)
    activated_at: int = 0                   # len(server.updates_delivered) when the active life took over
    times: Counter[str] = field(default_factory=Counter)

    def env(self, number: int) -> dict[str, str]:
        return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": self.gate.url(number),
                "LENSBOT_DATABASE_URL": self.db_url,
                "LENSBOT_ADMIN_IDS": ",".join(str(p.user.user_id) for p in self.players)}

    def kind(self, number: int) -> str:
        return "exec" if number % self.exec_every == self.exec_every // 2 else "fork"

    async def fill_standbys(self, current: int) -> None:
        wanted = [n for n in range(current + 1, current + 1 + self.exec_ahead)
                  if n <= current + self.depth or self.kind(n) == "exec"]
        for number in wanted:
            if number not in self.standbys:
                life = await BotLife.start(self.kind(number), number, self.workdir, ["telegram"], self.env(number),
                                           self.zygote)
                self.standbys[number] = life
                self.lives.append(life)

    async def activate(self, number: int) -> None:
        """Open the gate of standby `number` (waiting until it is ready), then top the standbys up."""
        started = time.perf_counter()
        if number not in self.standbys:     # the first process: it creates the database alone
            life = await BotLife.start(self.kind(number), number, self.workdir, ["telegram"], self.env(number),
                                       self.zygote)
            self.standbys[number] = life
            self.lives.append(life)
        life = self.standbys.pop(number)
        await self.server.wait_for(lambda: life.alive() and self.gate.ready(number), timeout=40,
                                   message=f"standby #{number} to be ready")
        self.times[f"waiting for a standby ({life.kind})"] += time.perf_counter() - started
        self.activated_at = len(self.server.updates_delivered)
        self.gate.open(number)
        self.active = life
        await self.fill_standbys(number)

    async def kill(self) -> None:
        """SIGKILL the active process; its exit status is checked at the end."""
        life = self.active
        assert life is not None
        life.kill()
        self.killed.append(life)
        await self.gate.close(life.number)
        self.active = None

    async def resync(self) -> None:
        """After a restart: let the new process take what is pending, then evaluate every user."""
        started = time.perf_counter()
        life = self.active
        assert life is not None
        server = self.server
        await server.wait_for(lambda: life.alive() and not server.pending_updates, timeout=WAIT,
                              message="the new process to take the pending updates")
        refetched = set(server.updates_delivered[self.activated_at:])
        for p in self.players:
            a = p.pending
            if a is not None and a.update in refetched:
                try:
                    await server.wait_for(lambda p=p: life.alive() and p.settled(), timeout=2)
                except AssertionError:   # a redelivered duplicate may stay silent
                    self.times["silent redeliveries"] += 1
        # every update of each chat handled: a sentinel tap per user, answered after them (one chat in order)
        await asyncio.gather(*(server.settle(p.user, timeout=WAIT) for p in self.players))
        for p in self.players:
            p.evaluate()
        self.times["resync"] += time.perf_counter() - started

    async def round(self, players: list[Player]) -> None:
        """Every player acts once and waits until the bot has answered it."""
        started = time.perf_counter()
        life = self.active
        assert life is not None
        for p in players:
            p.act()
        for p in players:
            a = p.pending
            assert a is not None
            await self.server.wait_for(lambda p=p: life.alive() and p.settled(), timeout=WAIT,
                                       message=f"{p.user.first_name}'s {a.label} to be handled")
        for p in players:
            p.evaluate()
        self.times["rounds"] += time.perf_counter() - started

    async def close(self) -> None:
        for life in [*self.standbys.values(), *([self.active] if self.active else [])]:
            await life.close()
        for life in self.killed:
            assert await life.wait_exit() == -9, f"#{life.number}: {life.stderr}"


@pytest.mark.slow   # collected first (tests/conftest.py)
async def test_sigkill_at_random_moments_loses_no_acknowledged_answer(
        lens: Lens, zygote: Zygote, tmp_path: Path) -> None:
    """KILLS SIGKILLs, each 0-300 ms after a round of taps; then every case is finished and checked:
    each case's answer log holds every scripted answer exactly once, in order, and every answer the
    user saw acknowledged ("Opgeslagen", or the next question shown) is among them."""
    rng = random.Random(SEED)
    db_url = f"sqlite:///{tmp_path / 'crash.db'}"
    started = time.perf_counter()
    kill_moments: Counter[str] = Counter()
    async with FakeBotAPI(token=TOKEN) as server, ApiGate(server.base_url) as gate:
        players = [Player(server, server.user(uid, first_name=f"User{uid}"), lens, SCRIPTS[uid])
                   for uid in ((1001, 1002, 1003) if LONG else (1001, 1003))]
        run = CrashRun(server, gate, zygote, tmp_path, db_url, players)
        try:
            number = 0
            await run.activate(number)
            kills = 0
            while kills < KILLS:
                for _ in range(rng.randint(0, 2)):   # one to three taps per user and life
                    await run.round(players)
                for p in players:
                    p.act()
                # Half the kills land within the first 30 ms (while the taps are being handled),
                # the others anywhere in 0-300 ms.
                delay = rng.uniform(0, 0.03) if rng.random() < 0.5 else rng.uniform(0, 0.3)
                await asyncio.sleep(delay)
                for p in players:                # where each tap is at the moment of the kill
                    a = p.pending
                    assert a is not None
                    kill_moments["queued" if not server.is_delivered(a.update) else
                                 "after handling" if p.settled() else "mid-handling"] += 1
                await run.kill()
                kills += 1
                number += 1
                await run.activate(number)
                await run.resync()
            looped = time.perf_counter() - started

            # Finish every case: no kills any more; /hervat until nothing is open.
            for p in players:
                p.final = True
            for _ in range(300):
                busy = [p for p in players if not p.finished]
                if not busy:
                    break
                await run.round(busy)
            assert all(p.finished for p in players), [p.user.transcript()[-2000:] for p in players]
        finally:
            await run.close()

        assert server.violations == [], [str(v) for v in server.violations]
        for p in players:
            assert ERROR_TEXT not in p.user.transcript(), p.user.transcript()
        # Taps whose update PTB had already confirmed (its next getUpdates) when the process died:
        # never answered, nothing stored; the user tapped again.
        lost = len(server.unanswered_callback_queries())
    assert_no_tracebacks(run.lives)

    store = Store(db_url)
    try:
        acked_total = stored_total = cases_total = 0
        for p in players:
            row = store.user("telegram", str(p.user.user_id))
            assert row is not None
            cases = store.list_cases(row.id)
            expected = p.script.expected(lens)
            assert set(p.acked) <= {c.code for c in cases}
            for c in cases:
                assert c.status == "completed", (c.code, c.state)
                log = store.answer_log(load_case(store, c.code).id)
                items = [item for item, _ in log]
                assert len(items) == len(set(items)), f"{c.code}: an answer stored twice: {log}"
                assert log == expected, f"{c.code}: {log} != {expected}"
                acked = p.acked.get(c.code, [])
                assert is_subsequence(acked, log), f"{c.code}: acknowledged {acked}, stored {log}"
                acked_total += len(acked)
                stored_total += len(log)
            cases_total += len(cases)
    finally:
        store.dispose()

    kinds = Counter(life.kind for life in run.killed)
    did = sum((p.stats for p in players), Counter())
    summary = (f"kills survived: {kills} ({kinds['exec']} real `lensbot` processes, {kinds['fork']} forked); "
               f"actions at the kills: {dict(kill_moments)}; {did['taps']} taps ({lost} lost unanswered with a "
               f"process, {did['refused']} refused as stale after a crash), {did['/hervat']} /hervat, "
               f"{did['/nieuw']} /nieuw; {cases_total} cases completed; "
               f"{acked_total} acknowledged answers of {stored_total} stored, none twice; "
               f"{time.perf_counter() - started:.1f} s (loop {looped:.1f} s)")
    print("\n" + summary + "\ntime spent: " + ", ".join(f"{k} {v:.1f} s" if isinstance(v, float) else f"{k} {v}"
                                                 for k, v in run.times.items()))
    assert kills == KILLS and kinds["exec"] >= KILLS // 20, summary
    assert kill_moments["mid-handling"] >= 1, f"no kill landed while an update was being handled: {summary}"
    assert acked_total > 0 and cases_total >= len(players), summary


# ==============================================================================================
# in-process harness for tests 2-4
# ==============================================================================================
@dataclass(repr=False)   # a cheap repr, as TelegramEnv's (tests/support/telegram_env.py)
class Env:
    server: FakeBotAPI
    harness: TelegramHarness
    store: Store
    lens: Lens
    db_url: str

    def member(self, user_id: int) -> FakeUser:
        accounts.set_role(self.store, "telegram", str(user_id), "professional")
        return self.server.user(user_id, first_name=f"User{user_id}")

    def case(self, code: str) -> CaseRow:
        return load_case(self.store, code)

    def log(self, code: str) -> list[tuple[str, str]]:
        return self.store.answer_log(self.case(code).id)

    async def restart(self) -> None:
        await self.harness.stop()
        self.harness = TelegramHarness(self.server, self.db_url, self.lens)
        await self.harness.start()


@contextlib.asynccontextmanager
async def harness_env(lens: Lens, db_url: str) -> AsyncIterator[Env]:
    async with FakeBotAPI(token=TOKEN) as server:
        harness = TelegramHarness(server, db_url, lens)
        await harness.start()
        store = Store(db_url)
        env = Env(server, harness, store, lens, db_url)
        try:
            yield env
        finally:
            store.dispose()
            await env.harness.stop()
        assert server.violations == [], [str(v) for v in server.violations]
        assert server.unknown_methods == []
        assert ERROR_TEXT not in server.transcript(), server.transcript()


def intake_labels(lens: Lens, script: Script) -> list[str]:
    """Every tap of a short intake after /nieuw: Begin, the age, red flags, the first questions, skips."""
    return [BEGIN, script.age, *script.red_labels(lens), *script.first, *[SKIP] * len(lens.leefgebieden)]


def expected_after(lens: Lens, script: Script, taps: int) -> list[tuple[str, str]]:
    """The answers stored after the first `taps` taps of intake_labels()."""
    return script.expected(lens)[:max(0, taps - 1)]


# ==============================================================================================
# 2. duplicate delivery
# ==============================================================================================
@dataclass
class Snapshot:
    """What a user can see and what is stored for their case; a duplicate must change none of it."""

    messages: list[tuple[int, str, int, str]]
    log: list[tuple[str, str]]
    step: int
    status: str
    notes: list[str]
    cases: int


def snapshot(env: Env, user: FakeUser, code: str, ignore: set[int]) -> Snapshot:
    case = env.case(code)
    row = env.store.user("telegram", str(user.user_id))
    assert row is not None
    return Snapshot([(m.message_id, m.text, m.edit_count, json.dumps(m.buttons)) for m in user.messages
                     if m.message_id not in ignore],
                    env.store.answer_log(case.id), case.step, case.status, env.store.notes(case.id),
                    len(env.store.list_cases(row.id)))


async def probe(server: FakeBotAPI, user: FakeUser) -> int:
    """/help: its answer means every earlier update of this chat was handled (one chat, in order)."""
    before, intro = max_message_id(user), telegram_texts()("help.intro", "nl")
    user.send("/help")
    await server.wait_for(lambda: any(m.message_id > before and m.text.startswith(intro) for m in user.messages),
                          timeout=WAIT, message="the /help probe")
    return max(m.message_id for m in user.messages if m.text.startswith(intro))


async def test_duplicates_are_refused_and_nothing_applies_twice(lens: Lens, sqlite_url: str) -> None:
    counts: Counter[str] = Counter()
    async with harness_env(lens, sqlite_url) as env:
        scripts = {2002: short(SCRIPTS[1001]), 2003: short(SCRIPTS[1003])}
        users = {uid: env.member(uid) for uid in scripts}
        updates: dict[int, list[int]] = {uid: [] for uid in scripts}
        probes: dict[int, set[int]] = {uid: set() for uid in scripts}
        codes: dict[int, str] = {}

        async def refused(uid: int, what: str, *dups: int) -> None:
            """Wait for `dups` to be handled (a probe behind them) and check nothing changed."""
            user = users[uid]
            await env.server.wait_for(lambda: all(env.server.is_delivered(d) for d in dups), timeout=WAIT)
            probes[uid].add(await probe(env.server, user))
            after = snapshot(env, user, codes[uid], probes[uid])
            assert after == before[uid], f"{what} changed something:\n{user.transcript()}"
            counts[what] += len(dups)

        before: dict[int, Snapshot] = {}

        async def intake(uid: int, labels: list[str], done: int) -> None:
            """Tap `labels` (the taps number `done`, `done + 1`, ... of the intake) with duplicates."""
            user, rng = users[uid], random.Random(uid)
            for i, label in enumerate(labels, start=done):
                message = keyboard(user)
                if i % 3 == 1:                     # a double tap: the same or another button, at once
                    others = [v for v in VALUES if v != label and message.find_button(v) is not None]
                    other = label if i % 2 or label not in VALUES or not others else others[0]
                    first, second = tap(env.server, user, label, message), tap(env.server, user, other, message)
                    # one chat's updates are handled in order: the second is answered after the first is done
                    await env.server.wait_for(lambda second=second: toasts_of(env.server, second), timeout=WAIT)
                    await user.wait_handled(second.update, timeout=WAIT)
                    assert settled(env.server, user, first), user.transcript()
                    assert toasts_of(env.server, second) == [STALE], user.transcript()
                    counts["double tap"] += 1
                    updates[uid] += [first.update, second.update]
                else:
                    updates[uid].append((await tap_settled(env.server, user, label, message)).update)
                assert env.log(codes[uid]) == expected_after(lens, scripts[uid], i + 1), user.transcript()
                if i % 2 == 0 and i > 0:             # an old callback under a fresh update id
                    taps = [u for u in updates[uid] if "callback_query" in env.server._all_updates[u]]
                    old = dict(env.server._all_updates[rng.choice(taps)])
                    old.pop("update_id")
                    query = dict(old["callback_query"])
                    if i % 4 == 0:                   # as a new tap of Telegram's: a fresh query id too
                        query["id"] = f"dup-{uuid.uuid4().hex[:12]}"
                    old["callback_query"] = query
                    before[uid] = snapshot(env, user, codes[uid], probes[uid])
                    await refused(uid, "old callback, new update id", env.server.inject_update(old))

        async def begin(uid: int) -> None:
            user = users[uid]
            updates[uid].append((await send_settled(env.server, user, "/nieuw"))[0])
            match = CODE_RE.search(keyboard(user).text)
            assert match, user.transcript()
            codes[uid] = match.group(1)

        await asyncio.gather(*(begin(uid) for uid in scripts))
        half = 2 + len(lens.red_flags)             # Begin, the age and the red flags
        await asyncio.gather(*(intake(uid, intake_labels(lens, scripts[uid])[:half], 0) for uid in scripts))

        # A restart, then every update of both users delivered again with its own id.
        await env.restart()
        for uid in scripts:
            before[uid] = snapshot(env, users[uid], codes[uid], probes[uid])
        for uid in scripts:
            await refused(uid, "redelivered after a restart", *[env.server.redeliver(u) for u in updates[uid]])

        await asyncio.gather(*(intake(uid, intake_labels(lens, scripts[uid])[half:], half) for uid in scripts))
        ann, bob = (users[uid] for uid in scripts)
        assert keyboard(ann).buttons == keyboard(bob).buttons == [[NO_NOTE, "← Terug"]]
        updates[2002].append((await send_settled(env.server, ann, "Notitie, één keer opgeslagen"))[0])
        updates[2003].append((await tap_settled(env.server, bob, NO_NOTE)).update)
        await env.server.wait_for(lambda: all(any(is_done(m) for m in u.messages)
                                              for u in users.values()), timeout=WAIT, message="both intakes done")

        # Everything once more, while running, and once more after another restart.
        for restart in (False, True):
            if restart:
                await env.restart()
            for uid in scripts:
                before[uid] = snapshot(env, users[uid], codes[uid], probes[uid])
            for uid in scripts:
                what = "redelivered after a restart" if restart else "redelivered while running"
                await refused(uid, what, *[env.server.redeliver(u) for u in updates[uid]])

        for uid, script in scripts.items():
            case = env.case(codes[uid])
            assert case.status == "completed"
            assert env.log(codes[uid]) == script.expected(lens), "every answer stored exactly once"
        assert env.store.notes(env.case(codes[2002]).id) == ["Notitie, één keer opgeslagen"]
        for uid in scripts:
            row = env.store.user("telegram", str(uid))
            assert row is not None and len(env.store.list_cases(row.id)) == 1
        assert env.server.unanswered_callback_queries() == []

    total = sum(counts.values())
    print(f"\nduplicates refused: {total} ({dict(counts)})")
    assert counts["double tap"] >= 4 and counts["old callback, new update id"] >= 4, counts
    assert total >= 100, counts


# ==============================================================================================
# 3. Telegram faults
# ==============================================================================================
@pytest.mark.slow   # collected first (tests/conftest.py)
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")   # raised inside PTB's RetryAfter
async def test_intakes_complete_through_429_500_and_slow_answers(lens: Lens, sqlite_url: str) -> None:
    started = time.perf_counter()
    async with harness_env(lens, sqlite_url) as env:
        # Red flags, then every leefgebied skipped: the whole intake, summary and picture included,
        # in about 40 calls per user, each 0.2 s late.
        scripts = {2002: short(SCRIPTS[1001], 0), 2003: short(SCRIPTS[1002], 0)}
        users = {uid: env.member(uid) for uid in scripts}
        env.server.faults = FaultPlan(rate=0.2, kinds=("429", "500"), retry_after=1, seed=SEED, delay=0.2)
        codes: dict[int, str] = {}

        async def intake(uid: int) -> None:
            user = users[uid]
            await send_settled(env.server, user, "/nieuw")
            match = CODE_RE.search(keyboard(user).text)
            assert match, user.transcript()
            codes[uid] = match.group(1)
            for label in [*intake_labels(lens, scripts[uid]), NO_NOTE]:
                await tap_settled(env.server, user, label)
            assert any(is_done(m) for m in user.messages), user.transcript()

        await asyncio.gather(*(intake(uid) for uid in scripts))
        env.server.faults = None
        injected = Counter(kind for _, kind in env.server.faults_injected)
        for uid, script in scripts.items():
            user = users[uid]
            case = env.case(codes[uid])
            assert case.status == "completed"
            assert env.log(codes[uid]) == script.expected(lens), "every answer stored exactly once"
            assert user.toasts == [SAVED] * len(script.expected(lens)), user.transcript()
            shown = [m.text for m in user.messages]
            for once in (f"Overzicht zaak {codes[uid]}", DONE_TEXTS[0], "Wil je nog een notitie toevoegen"):
                assert sum(once in t for t in shown) == 1, f"{once!r} not shown exactly once:\n{user.transcript()}"
            assert sum(m.kind == "photo" for m in user.messages) == 1
        assert env.server.unanswered_callback_queries() == []
    took = time.perf_counter() - started
    print(f"\nfaults injected: {sum(injected.values())} ({dict(injected)}), every call 0.2 s late; "
          f"two intakes completed in {took:.1f} s")
    assert injected["429"] >= 2 and injected["500"] >= 2, injected


# ==============================================================================================
# 4a. SQLite locked by another process
# ==============================================================================================
def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def read_state(path: Path, code: str) -> tuple[int, str, list[tuple[str, str]], list[tuple[str, str]]]:
    """(step, state, answers, answer log) read with plain sqlite3; works while another process writes."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        case_id, step, state = conn.execute("SELECT id, step, state FROM cases WHERE code = ?", (code,)).fetchone()
        answers = conn.execute("SELECT item_id, value FROM answers WHERE case_id = ? ORDER BY item_id",
                               (case_id,)).fetchall()
        log = conn.execute("SELECT item_id, value FROM answer_log WHERE case_id = ? ORDER BY id",
                           (case_id,)).fetchall()
        return step, state, answers, log
    finally:
        conn.close()


def test_busy_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    for value, expected in ((None, 5000), ("250", 250)):
        if value is None:
            monkeypatch.delenv("LENSBOT_SQLITE_BUSY_TIMEOUT_MS", raising=False)
        else:
            monkeypatch.setenv("LENSBOT_SQLITE_BUSY_TIMEOUT_MS", value)
        engine = open_store(Settings.load(database_url=sqlite_url), migrate=True).engine   # as lensbot opens it
        try:
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == expected
        finally:
            engine.dispose()
    monkeypatch.setenv("LENSBOT_SQLITE_BUSY_TIMEOUT_MS", "soon")
    with pytest.raises(ValueError, match="LENSBOT_SQLITE_BUSY_TIMEOUT_MS"):
        Settings.load(database_url=sqlite_url)


async def test_sqlite_locked_by_another_process(lens: Lens, sqlite_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENSBOT_SQLITE_BUSY_TIMEOUT_MS", "300")
    path = sqlite_path(sqlite_url)
    async with harness_env(lens, sqlite_url) as env:
        ann, server = env.member(2002), env.server
        await send_settled(server, ann, "/nieuw")
        code = CODE_RE.search(keyboard(ann).text).group(1)  # type: ignore[union-attr]
        await tap_settled(server, ann, BEGIN)
        await tap_settled(server, ann, SCRIPTS[1001].age)
        await tap_settled(server, ann, "Nee")
        question = keyboard(ann)

        # A lock shorter than the busy timeout is simply waited for.
        with SqliteLock(path) as lock:
            a = tap(server, ann, "Weet ik niet", question)
            await asyncio.sleep(0.1)
            lock.release()
            await server.wait_for(lambda: settled(server, ann, a), timeout=WAIT)
        assert toasts_of(server, a) == [SAVED] and env.log(code)[-1][1] == "unknown"
        before, shown_before = read_state(path, code), question.text

        # A lock held longer than the busy timeout: "try again", nothing written.
        with SqliteLock(path) as lock:
            started = time.perf_counter()
            a = tap(server, ann, "Ja", question)
            await server.wait_for(lambda: settled(server, ann, a), timeout=WAIT)
            waited = time.perf_counter() - started
            assert toasts_of(server, a) == [BUSY], ann.transcript()
            await server.wait_for(lambda: ann.messages[-1].text == BUSY, timeout=WAIT, message="the notice")
            assert question.text == shown_before
            assert read_state(path, code) == before, "nothing may be half-written"
            second = tap(server, ann, "Nee", question)         # the user tries again too soon
            await server.wait_for(lambda: settled(server, ann, second), timeout=WAIT)
            assert toasts_of(server, second) == [BUSY] and read_state(path, code) == before
            lock.release()
        assert 0.3 <= waited < 3.0, waited

        # Released: the very same update (it claimed nothing) is applied, and a new tap works, no restart.
        # (Its callback query was answered with the notice, so it cannot show "Opgeslagen" again.)
        server.redeliver(a.update)
        await server.wait_for(lambda: question.text.endswith("✓ Ja") and any(    # closed; the 112 advice, ...
            m.inline_keyboard and m.message_id > question.message_id for m in ann.messages),  # ... a new question
            timeout=WAIT, message="the redelivered tap to be applied")
        step, _, _, log = read_state(path, code)
        assert step == before[0] + 1 and log == [*before[3], (log[-1][0], "yes")], ann.transcript()
        a = await tap_settled(server, ann, "Nee")
        assert toasts_of(env.server, a) == [SAVED]
        assert env.log(code)[-1][1] == "no" and len(env.log(code)) == len(before[3]) + 2
        assert ann.toasts.count(BUSY) == 2 and ERROR_TEXT not in ann.transcript()


# ==============================================================================================
# 4b. PostgreSQL stopped and started mid-intake
# ==============================================================================================
POSTGRES_URL = os.environ.get("LENSBOT_TEST_POSTGRES_URL")


def pg_cluster() -> tuple[str, str] | None:
    """(version, name) of the local cluster LENSBOT_TEST_POSTGRES_URL points at, if it is local."""
    if not POSTGRES_URL or shutil.which("pg_lsclusters") is None:
        return None
    url = make_url(POSTGRES_URL)
    if (url.host or "localhost") not in ("127.0.0.1", "localhost", "::1"):
        return None
    listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, timeout=30).stdout
    for line in listing.splitlines():
        version, name, port, *_ = line.split()
        if int(port) == (url.port or 5432):
            return version, name
    return None


def pg_ctl(action: str) -> None:
    found = pg_cluster()
    assert found is not None
    version, cluster = found
    args = ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, action]
    if action == "stop":
        args += ["-m", "fast"]
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def pg_running() -> bool:
    found = pg_cluster()
    assert found is not None
    version, cluster = found
    return subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "status"],
                          capture_output=True, timeout=30).returncode == 0


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    assert POSTGRES_URL
    schema = f"lb_faults_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalise_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        admin.dispose()
        admin = create_engine(normalise_url(POSTGRES_URL))
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.restarts_postgres   # runs alone: see tests/conftest.py
@pytest.mark.skipif(not POSTGRES_URL, reason="LENSBOT_TEST_POSTGRES_URL is not set (PostgreSQL restart test)")
@pytest.mark.skipif(shutil.which("pg_ctlcluster") is None or pg_cluster() is None,
                    reason="LENSBOT_TEST_POSTGRES_URL is not a local cluster this test can stop and start "
                           "with pg_ctlcluster")
async def test_postgresql_restart_mid_intake(lens: Lens) -> None:
    script = short(SCRIPTS[1001])
    labels = intake_labels(lens, script)
    try:
        with postgres_schema() as url:
            async with harness_env(lens, url) as env:
                ann, server = env.member(2002), env.server
                await send_settled(server, ann, "/nieuw")
                code = CODE_RE.search(keyboard(ann).text).group(1)  # type: ignore[union-attr]
                for label in labels[:4]:
                    await tap_settled(server, ann, label)
                before = (env.case(code).step, env.log(code))
                question = keyboard(ann)
                shown = question.text

                started = time.perf_counter()
                pg_ctl("stop")
                try:
                    a = await tap_settled(server, ann, labels[4], question)
                    assert toasts_of(server, a) == [BUSY], ann.transcript()
                    await server.wait_for(lambda: ann.messages[-1].text == BUSY, timeout=WAIT, message="the notice")
                    _, replies = await send_settled(server, ann, "/hervat")     # reads fail the same way
                    assert [m.text for m in replies] == [BUSY], ann.transcript()
                    _, replies = await send_settled(server, ann, "Een notitie terwijl de database weg is")
                    assert [m.text for m in replies] == [BUSY], ann.transcript()
                    assert question.text == shown
                finally:
                    pg_ctl("start")
                down = time.perf_counter() - started

                # Back: nothing was written while it was down; the same tap now works, no restart.
                assert (env.case(code).step, env.log(code)) == before, "nothing may be half-written"
                server.redeliver(a.update)
                await server.wait_for(lambda: question.text != shown, timeout=WAIT,
                                      message="the redelivered tap to be applied")
                assert env.log(code) == script.expected(lens)[:4], ann.transcript()
                assert shown_question(lens, question) == lens.questions[3]   # the age and 3 red flags answered
                for label in [*labels[5:], NO_NOTE]:
                    await tap_settled(server, ann, label)
                assert env.case(code).status == "completed"
                assert env.log(code) == script.expected(lens)
                assert env.store.notes(env.case(code).id) == []
                print(f"\nPostgreSQL down for {down:.1f} s: a tap, /hervat and a typed note got the try-again "
                      "notice; after the restart the same tap and the rest of the intake worked")
    finally:
        if not pg_running():
            pg_ctl("start")
        assert pg_running(), "PostgreSQL must be running after this test"


# ==============================================================================================
# 5. broken lens files
# ==============================================================================================
CORPUS = Path(__file__).with_name("faults")
DEFAULT_QUICK = load_lens(DEFAULT_LENS).counts()["quick_signals"]   # too_many_quick.yaml adds one more
# file -> (used "alone" as the whole lens, or "add"ed to a copy of the default lens; message fragment)
BROKEN = {
    "syntax_error.yaml": ("add", "YAML syntax error: mapping values are not allowed"),
    "tab_indentation.yaml": ("add", "YAML syntax error: while scanning a plain scalar found a tab character"),
    "unknown_key.yaml": ("add", "unknown key 'colour'"),
    "missing_translation.yaml": ("add", "missing translation 'en'"),
    "duplicate_id.yaml": ("add", "duplicate id 'wijkagent' (first defined at"),
    "unknown_reference.yaml": ("add", "unknown advice rule 'no_such_rule'"),
    "weight_out_of_range.yaml": ("add", "weight must be 1, 2 or 3 (got 7)"),
    "empty.yaml": ("alone", "no 'lens' section"),
    "top_level_list.yaml": ("add", "the file must be a mapping of sections"),
    "vignette_too_short.yaml": ("add", "the nl text has 11 words; write 80–200"),
    "too_many_quick.yaml": ("add", f"{DEFAULT_QUICK + 1} signals are 'quick: true'; at most {MAX_QUICK}"),
}


@dataclass(frozen=True)
class Broken:
    name: str
    lens: Path          # what LENSBOT_LENS points at (relative to the working directory)
    file: str           # the file the problem must name, as lensbot shows it
    line: int
    message: str


def marked_line(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next((i + 1 for i, line in enumerate(lines) if line.rstrip().endswith("# <- fault")), 1)


def broken_lenses(workdir: Path) -> list[Broken]:
    result = []
    for name, (mode, message) in BROKEN.items():
        source = CORPUS / name
        stem = name.removesuffix(".yaml")
        if mode == "alone":
            shutil.copy(source, workdir / name)
            result.append(Broken(name, Path(name), name, 1, message))
        else:
            shutil.copytree(DEFAULT_LENS, workdir / stem)
            shutil.copy(source, workdir / stem / "zz_fault.yaml")
            result.append(Broken(name, Path(stem), f"{stem}/zz_fault.yaml", marked_line(source), message))
    return result


def problem_lines(output: str) -> list[tuple[str, int, str]]:
    found = []
    for line in output.splitlines():
        m = re.match(r"^\s*(?P<file>[^:\s]+):(?P<line>\d+): (?P<rest>.+)$", line)
        if m:
            found.append((m["file"], int(m["line"]), m["rest"]))
    return found


def assert_names(output: str, b: Broken, exactly_one: bool) -> None:
    problems = problem_lines(output)
    hits = [p for p in problems if p[0] == b.file and p[1] == b.line and b.message in p[2]]
    assert hits, f"{b.name}: expected {b.file}:{b.line}: ...{b.message}... in:\n{output}"
    if exactly_one and b.name != "empty.yaml":
        assert len(problems) == 1, f"{b.name}: one mistake, one problem:\n{output}"


def test_corpus_covers_every_kind() -> None:
    on_disk = {p.name for p in CORPUS.glob("*.yaml")}
    assert on_disk == set(BROKEN), on_disk ^ set(BROKEN)
    assert len(BROKEN) >= 8
    assert (CORPUS / "empty.yaml").stat().st_size == 0
    assert "\t" in (CORPUS / "tab_indentation.yaml").read_text(encoding="utf-8")
    # too_many_quick.yaml adds one quick signal: one over the limit only while the default lens fills the scan
    assert DEFAULT_QUICK == MAX_QUICK, "the default quick scan is not full: give too_many_quick.yaml more"


def cli(*args: str) -> tuple[int, str, str]:
    """`lensbot ARGS` in this process: the same `bot.cli.main` as the console script, output captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = bot_cli.main(list(args))
    return rc, out.getvalue(), err.getvalue()


def check_output(b: Broken, rc: int, stdout: str, stderr: str, what: str, how: str = "in-process") -> None:
    output = stdout + stderr
    assert rc == 1, f"{b.name} ({what}, {how}): exit {rc}\n{output}"
    assert "Traceback" not in output, output
    if what == "json":
        data = json.loads(stdout)
        assert data["ok"] is False
        assert_names("\n".join(f"{p['file']}:{p['line']}: {p['path']}: {p['message']}" for p in data["problems"]),
                     b, exactly_one=True)
    elif what == "check":
        one = b.name != "empty.yaml"   # an empty lens lacks three things at once
        assert stdout.splitlines()[0] == "1 probleem gevonden:" if one else re.fullmatch(
            r"\d+ problemen gevonden:", stdout.splitlines()[0]), stdout   # one mistake, one problem
        assert_names(stdout, b, exactly_one=True)
    else:
        counted = re.match(r"lensbot: de lens .*? is niet geldig \((1 probleem|\d+ problemen)\): (.*)$", stderr)
        assert counted and stderr.count("\n") == 1, stderr   # one line: the first problem, with its file and line
        if counted.group(1) == "1 probleem":
            assert_names(counted.group(2), b, exactly_one=True)
        else:   # the empty lens: the first of its problems, and where to see them all
            assert b.name == "empty.yaml" and "alles zien: lensbot matrix check" in stderr, stderr


async def test_broken_lenses_are_reported_and_refused(zygote: Zygote, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`lensbot matrix check` names file and line; `lensbot telegram` exits 1 before any Bot API call.

    Both run for every kind as processes forked from the pre-imported lensbot, `lensbot telegram` for
    one kind also as the real executable; `matrix check --json` runs for three kinds in this process.
    """
    broken = broken_lenses(tmp_path)
    monkeypatch.chdir(tmp_path)
    for key in ("LENSBOT_LENS", "LENSBOT_CONTACTS"):
        monkeypatch.delenv(key, raising=False)
    async with FakeBotAPI(token=TOKEN) as server:
        env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": server.base_url}
        jobs: list[tuple[Broken, str, BotLife]] = []
        try:
            for i, b in enumerate(broken):
                tg_env = {**env, "LENSBOT_LENS": str(b.lens), "LENSBOT_DATABASE_URL": f"sqlite:///never-{i}.db"}
                runs = [("check", "fork", ["matrix", "check", str(b.lens)], {}),
                        ("telegram", "fork", ["telegram"], tg_env)]
                if b.name == "syntax_error.yaml":
                    runs.append(("telegram", "exec", ["telegram"], tg_env))
                for what, kind, args, run_env in runs:
                    life = await BotLife.start(kind, 100 + len(jobs), tmp_path, args, run_env, zygote, cwd=tmp_path)
                    jobs.append((b, what, life))
            for b in broken:                     # meanwhile, in this process
                if b.name in ("syntax_error.yaml", "duplicate_id.yaml", "empty.yaml"):
                    check_output(b, *cli("matrix", "check", str(b.lens), "--json"), "json")
            for b, what, life in jobs:
                check_output(b, await life.wait_exit(WAIT * 2), life.stdout, life.stderr, what, life.kind)
        finally:
            for _, _, life in jobs:
                await life.close()
        assert server.calls == [], f"the bot contacted the Bot API on a broken lens: {server.calls[:3]}"
        assert not list(tmp_path.glob("never-*.db")), "the bot opened its database on a broken lens"
    print(f"\nbroken lenses: {len(broken)} kinds, each reported with file and line by `lensbot matrix check` "
          f"and refused by `lensbot telegram` ({len(jobs)} processes)")
