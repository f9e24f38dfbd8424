"""The Telegram test session shared by tests/test_telegram*.py and tests/test_access.py.

`running_bot` starts the real Application in-process against the fake Bot API (tests/support/harness.py)
on a fresh database and hands out a `TelegramEnv`: scripted users, the store, the lens under test and
helpers that read what was stored. When the session ends it checks what every test of the channel must
hold: Telegram's limits kept, every tap answered, no unknown API method, nobody shown the generic error.
The helpers below it drive the common paths (start an intake, tap a series of buttons) and take every
count from the lens, so they hold for any lens.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import pytest

from tests.support.app import (
    RED_FLAGS_PHASE,
    Case,
    CaseRow,
    IntakeService,
    Lens,
    Store,
    UserRow,
    accounts,
    now,
    option_event,
    sql_update,
)
from tests.support.fake_bot_api import FakeBotAPI, FakeUser, SentMessage
from tests.support.generate import run_case
from tests.support.harness import TelegramHarness

TOKEN = "123456789:TEST-lensbot-e2e-token-abcdefghij"
ADMIN = 1001            # the admin named in the configuration (LENSBOT_ADMIN_IDS) unless a test names others

ANSWER_ROW = ["Ja", "Nee", "Weet ik niet"]
ANSWERS = dict(zip(("yes", "no", "unknown"), ANSWER_ROW, strict=True))
AGE_ROWS = [["Jonger dan 12", "12 tot 18 jaar", "18 tot 23 jaar"], ["23 jaar of ouder", "Weet ik niet"]]
AGE_KEYS = [*AGE_ROWS, ["← Terug"]]
AGE = "12 tot 18 jaar"  # the age tapped in these sessions: a pupil; questions then say "de jongere"
RED_FLAG_KEYS = [ANSWER_ROW, ["← Terug"]]
DOMAIN_KEYS = [ANSWER_ROW, ["← Terug", "Sla leefgebied over"]]
NOTE_KEYS = [["Geen notitie", "← Terug"]]
SAVED = "Opgeslagen"
ERROR_TEXT = "Er ging iets mis"
CODE_RE = re.compile(r"Zaakcode: ([A-Z2-9]{2}-[A-Z2-9]{4})")


# repr=False: pytest-asyncio's runner makes Python 3.11's signal.getsignal() format a ValueError holding
# the fixture task's repr, so a dataclass repr of the whole lens (pydantic) cost ~10 ms twice per test.
@dataclass(repr=False)
class TelegramEnv:
    server: FakeBotAPI
    harness: TelegramHarness
    store: Store
    lens: Lens

    # -- people --------------------------------------------------------------------------------
    def member(self, user_id: int, role: str = "professional", **profile: object) -> FakeUser:
        """A user who already has access with `role`."""
        accounts.set_role(self.store, "telegram", str(user_id), role)
        return self.server.user(user_id, **profile)  # type: ignore[arg-type]

    def admin(self, user_id: int = ADMIN) -> FakeUser:
        """An admin named in the configuration (LENSBOT_ADMIN_IDS): known from their first message."""
        return self.server.user(user_id, first_name="Admin")

    def row(self, user: FakeUser | int) -> UserRow | None:
        uid = user if isinstance(user, int) else user.user_id
        return self.store.user("telegram", str(uid))

    def known(self, user: FakeUser | int) -> UserRow:
        """The stored user, who must exist."""
        row = self.row(user)
        assert row is not None, user
        return row

    # -- what was stored ---------------------------------------------------------------------------
    @property
    def service(self) -> IntakeService:
        return IntakeService(self.store, self.lens)

    def case(self, code: str) -> CaseRow | None:
        with self.store.transaction() as tx:
            return tx.load_case(code)

    def answers(self, user: FakeUser, code: str) -> dict[str, str]:
        view = self.service.view(self.known(user), code)
        assert view is not None
        return view.answers

    def log(self, code: str) -> list[tuple[str, str]]:
        case = self.case(code)
        assert case is not None
        return self.store.answer_log(case.id)

    # -- the lens, as these sessions meet it ----------------------------------------------------------
    def item(self, index: int) -> str:
        """The item id of the full intake's question `index` (red flags first, then leefgebieden)."""
        return full_intake(self.lens)[index]

    def band(self, label: str = AGE) -> str:
        """The age band behind the age button `label`."""
        (band,) = [b for b, age in self.lens.age_bands.items() if age.label.nl == label]
        return band

    def age_answer(self, label: str = AGE) -> tuple[str, str]:
        """The stored answer to the age question after tapping `label`: (item id, age band)."""
        assert self.lens.age_item is not None
        return self.lens.age_item, self.band(label)

    def domain_name(self, order: int = 0) -> str:
        """The Dutch name of the leefgebied at `order` (0: the first), as progress lines show it."""
        return self.lens.leefgebieden[order].name.nl

    def domain_size(self, order: int = 0) -> int:
        """How many questions the leefgebied at `order` (0: the first) asks."""
        phase = self.lens.leefgebieden[order].id
        return sum(q.phase == phase for q in self.lens.questions)

    def question_ids(self, age: str = AGE) -> dict[str, str]:
        """Question text (Dutch, worded for the age tapped) -> item id, for every question of every mode."""
        band = self.band(age)
        return {self.lens.say(q.text, "nl", band): q.item_id for q in self.lens.all_questions}

    # -- cases made through the real service (no taps) ---------------------------------------------
    def run_case(self, user: FakeUser, seed: int, mode: str = "full", p_yes: float = 0.3) -> str:
        """A completed case with random answers."""
        return run_case(self.service, self.known(user), random.Random(seed), mode=mode, p_yes=p_yes)

    def complete(self, user: FakeUser, yes: tuple[str, ...] = (), unknown: tuple[str, ...] = (),
                 note: str | None = None, mode: str = "full", age: str = AGE) -> str:
        """A completed case with these answers (the age button `age`, every other question "no")."""
        row, service = self.known(user), self.service
        reply = service.start(row, "nl", mode=mode)
        code = reply.case_code
        while reply.prompt is not None:
            ids = [o.id for o in reply.prompt.options]
            item = reply.prompt.question_id
            if item == self.lens.age_item:
                (option,) = [o.id for o in reply.prompt.options if o.label == age]
            elif "yes" in ids:
                option = "yes" if item in yes else "unknown" if item in unknown else "no"
            elif "no_note" in ids and note is not None:
                reply = service.handle(row, code, "note", note, step=reply.step)
                continue
            else:
                option = next((o for o in ("finish", "no_note") if o in ids), ids[0])
            event, value = option_event(option)
            reply = service.handle(row, code, event, value, step=reply.step)
            assert not reply.refused, reply.toast
        return code

    def open_case(self, user: FakeUser, mode: str = "full") -> str:
        """An open case with a few answers (the age, then "no" and "yes")."""
        row = self.known(user)
        reply = self.service.start(row, "nl", mode=mode)
        if mode != "quick":
            reply = self.service.handle(row, reply.case_code, "begin", step=reply.step)
        assert reply.prompt is not None and reply.prompt.question_id == self.lens.age_item
        (age,) = [o.id for o in reply.prompt.options if o.label == AGE]
        for value in (age, "no", "yes"):
            reply = self.service.handle(row, reply.case_code, "answer", value, step=reply.step)
            assert not reply.refused, reply.toast
        return reply.case_code

    def backdate(self, code: str, days: float) -> None:
        """Pretend the case was last touched `days` ago."""
        with self.store.engine.begin() as conn:
            conn.execute(sql_update(Case).where(Case.code == code).values(updated_at=now() - timedelta(days=days)))

    async def run_job(self, name: str) -> None:
        """Run one of the application's scheduled jobs now, exactly as the job queue would."""
        app = self.harness.app
        assert app is not None and app.job_queue is not None
        (job,) = app.job_queue.get_jobs_by_name(name)
        await job.run(app)


E = TypeVar("E", bound=TelegramEnv)


@asynccontextmanager
async def running_bot(lens: Lens, db_url: str, *, admins: frozenset[str] = frozenset({str(ADMIN)}),
                      token: str = TOKEN, env_class: type[E] = TelegramEnv,  # type: ignore[assignment]
                      caplog: pytest.LogCaptureFixture | None = None) -> AsyncIterator[E]:
    """The bot on `db_url` against a fresh fake Bot API; on the way out, the checks every session must pass.

    With `caplog`, no record at ERROR or above may have been logged (e.g. a failed lens picture, a job that raised).
    """
    async with FakeBotAPI(token=token) as server:
        async with TelegramHarness(server, db_url, lens, admins) as harness:
            store = Store(db_url)
            try:
                yield env_class(server, harness, store, lens)
            finally:
                store.dispose()
        assert server.violations == [], [str(v) for v in server.violations]
        assert server.unanswered_callback_queries() == []
        assert server.unknown_methods == []
        assert ERROR_TEXT not in server.transcript(), server.transcript()
    if caplog is not None:
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], errors


# -- what a user does, and what they saw ------------------------------------------------------------
async def taps(user: FakeUser, *labels: str, message_id: int | None = None) -> None:
    for label in labels:
        await user.tap_and_wait(label, message_id)


async def start_intake(user: FakeUser, age: str = AGE) -> tuple[str, SentMessage]:
    """/nieuw, Begin and the age: the case code and the question message (now at the first red flag)."""
    await user.send_and_wait("/nieuw")
    intro = user.last_message
    assert intro is not None and intro.buttons == [["Begin"]], user.transcript()
    match = CODE_RE.search(intro.text)
    assert match, intro.text
    await user.tap_and_wait("Begin")
    question = user.last_message
    assert question is not None and question.buttons == AGE_KEYS, user.transcript()
    assert question.text.startswith("Leeftijd · 1/1\n\n"), question.text
    await user.tap_and_wait(age)
    assert user.last_message is question and question.buttons == RED_FLAG_KEYS, user.transcript()
    return match.group(1), question


async def to_note(user: FakeUser, lens: Lens) -> None:
    """No red flag, every leefgebied skipped: the shortest way to the closing note."""
    await taps(user, *["Nee"] * len(lens.red_flags))
    await taps(user, *["Sla leefgebied over"] * len(lens.leefgebieden))
    # the summary may take a moment (attachments): wait for the note prompt itself
    await user.server.wait_for(lambda: user.buttons() == NOTE_KEYS, timeout=10, message="the closing-note prompt")


def full_intake(lens: Lens) -> list[str]:
    """The item ids of the full intake after the age: the red flags, then every leefgebied in order."""
    return [q.item_id for q in lens.questions if q.phase == RED_FLAGS_PHASE or q.phase in lens.leefgebied_by_id]


def progress(lens: Lens, index: int) -> str:
    """The progress line above question `index` of the full intake, e.g. "Wonen & Financiën · 3/18"."""
    q = next(q for q in lens.questions if q.item_id == full_intake(lens)[index])
    name = lens.leefgebied_by_id[q.phase].name.nl if q.phase in lens.leefgebied_by_id else "Acuut gevaar"
    return f"{name} · {q.number}/{q.phase_size}"


def texts(messages: list[SentMessage]) -> str:
    return "\n".join(m.text for m in messages)


def after(user: FakeUser, message_id: int) -> list[SentMessage]:
    """The messages `user` received after message `message_id`."""
    return [m for m in user.messages if m.message_id > message_id]
