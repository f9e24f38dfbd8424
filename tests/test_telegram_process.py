"""End-to-end tests of the real `lensbot telegram` process against the fake Bot API.

The fake server runs in the test's event loop; the bot is a child process started with
asyncio's subprocess API, so the server keeps serving while the bot runs. The bot's stderr goes
to a file, both for diagnostics and to check what the logs hold. Every wait has a time-out and
every child is killed in a `finally`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from dialogs.service import IntakeService
from dialogs.texts import dialog_texts
from matrix.lens import Lens, Question
from storage.repo import Store
from tests.support.fake_bot_api import FakeBotAPI, FakeUser, FaultPlan, SentMessage
from tests.support.faults import BotLife, clean_env
from tests.support.lensbot_cli import EXEC, run_lensbot, zygote

pytestmark = pytest.mark.slow(seconds=25)   # about its wall time on one worker: handed out early (tests/conftest.py)

LENSBOT = Path(sys.executable).with_name("lensbot")
TOKEN = "123456789:TEST-lensbot-e2e-token-abcdefghij"
TOKEN_SECRET_PART = TOKEN.split(":", 1)[1]
ADMIN = 1001
WAIT = 15.0            # upper bound of any single wait, seconds
SHUTDOWN_WAIT = 8.0    # a SIGTERM must end the process within this many seconds

SAVED = "Opgeslagen"
VALUES = {"Ja": "yes", "Nee": "no", "Weet ik niet": "unknown"}
AGE = "12 tot 18 jaar"    # the age tapped first in these intakes


def age_band(lens: Lens, label: str = AGE) -> str:
    (band,) = [b for b, age in lens.age_bands.items() if age.label.get("nl") == label]
    return band


# -- helpers ------------------------------------------------------------------------------
def bot_env(**settings: str) -> dict[str, str]:
    """The test's environment without inherited lensbot/Telegram settings (but the lens under test), plus `settings`."""
    return clean_env(**settings)


def fake_api() -> FakeBotAPI:
    """The fake Bot API for a bot in another process: a wait for an update ends when the bot has answered
    a sentinel tap sent after it (one chat is handled in order), not after a quiet pause."""
    server = FakeBotAPI(token=TOKEN)
    server.settle_with_sentinels()
    return server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BotProcess:
    """One `lensbot telegram` process (tests/support/faults.py's BotLife) and what it did on the fake API.

    Forked from the worker's lensbot zygote (tests/support/lensbot_cli.py: the same code path as the
    console script, without a second of imports), or with `real=True` the installed executable itself
    (the Ctrl-C test, and the first life of the SIGKILL test). LENSBOT_TEST_EXEC=1 makes all of them real.
    """

    counter = 0

    def __init__(self, server: FakeBotAPI, db_url: str, workdir: Path, *args: str, real: bool = False,
                 **env: str) -> None:
        BotProcess.counter += 1
        self.server = server
        self.args = args
        self.kind = "exec" if real or EXEC else "fork"
        self.env = bot_env(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=server.base_url,
                           LENSBOT_DATABASE_URL=db_url, LENSBOT_ADMIN_IDS=str(ADMIN), **env)
        self.workdir = workdir
        self.life: BotLife | None = None
        self.calls_at_start = 0

    async def start(self) -> BotProcess:
        self.calls_at_start = len(self.server.calls)
        self.life = await BotLife.start(self.kind, BotProcess.counter, self.workdir, ["telegram", *self.args],
                                        self.env, zygote() if self.kind == "fork" else None)
        return self

    @property
    def pid(self) -> int | None:
        return self.life.pid if self.life else None

    @property
    def returncode(self) -> int | None:
        assert self.life is not None
        return self.life.returncode

    @property
    def stderr(self) -> str:
        return self.life.stderr if self.life else ""

    @property
    def stdout(self) -> str:
        return self.life.stdout if self.life else ""

    def alive(self) -> bool:
        """True while running; fails the test with the bot's stderr if it has exited."""
        assert self.life is not None
        return self.life.alive()

    def calls_since_start(self, method: str) -> list[dict[str, Any]]:
        return [p for m, p in self.server.calls[self.calls_at_start:] if m.lower() == method.lower()]

    async def wait_polling(self) -> None:
        """Until this process has asked for updates (start-up done)."""
        await self.server.wait_for(lambda: self.alive() and self.calls_since_start("getUpdates"),
                                   timeout=WAIT, message="the bot to start polling")

    def kill(self) -> None:
        """SIGKILL, synchronously: nothing else runs in the event loop before it lands."""
        assert self.life is not None and self.returncode is None
        self.life.kill()

    async def wait_exit(self) -> int:
        assert self.life is not None
        return await self.life.wait_exit(WAIT)

    async def terminate(self, signum: int = signal.SIGTERM) -> int:
        """Send `signum` and wait for the exit code (fails after SHUTDOWN_WAIT seconds)."""
        assert self.pid is not None
        os.kill(self.pid, signum)
        try:
            return await self.life.wait_exit(SHUTDOWN_WAIT)   # type: ignore[union-attr]
        except (AssertionError, TimeoutError):
            raise AssertionError(f"lensbot did not exit within {SHUTDOWN_WAIT}s of signal {signum}; stderr:\n"
                                 f"{self.stderr}") from None

    async def close(self) -> None:
        if self.life is not None:
            await self.life.close()


@contextlib.asynccontextmanager
async def running_bot(server: FakeBotAPI, db_url: str, workdir: Path, *args: str, real: bool = False,
                      **env: str) -> AsyncIterator[BotProcess]:
    bot = BotProcess(server, db_url, workdir, *args, real=real, **env)
    try:
        await bot.start()
        yield bot
    finally:
        await bot.close()


def assert_clean_log(text: str) -> None:
    assert "Traceback" not in text, text
    assert TOKEN not in text and TOKEN_SECRET_PART not in text, "the bot token leaked into the output"


def keyboard_message(ann: FakeUser) -> SentMessage:
    found = [m for m in ann.messages if not m.deleted and m.inline_keyboard]
    assert found, ann.transcript()
    return found[-1]


class Intake:
    """Drives one user's intake and checks each acknowledgement against the lens."""

    def __init__(self, server: FakeBotAPI, ann: FakeUser, lens: Lens, age: str = AGE) -> None:
        self.server, self.ann, self.lens, self.age = server, ann, lens, age
        band = age_band(lens, age)   # the questions as shown: worded for the age ("de jongere")
        self.by_text = {lens.say(q.text, "nl", band): q for q in lens.questions}
        self.acked: list[tuple[str, str]] = []      # (item id, value) the user saw acknowledged, the age first
        self.latencies: list[float] = []            # tap -> edit of the tapped message, seconds

    def shown(self, message: SentMessage | None = None) -> Question:
        """The question a message shows: 'phase · n/size', the question text, ..."""
        message = message or keyboard_message(self.ann)
        parts = message.text.split("\n\n")
        question = self.by_text.get(parts[1]) if len(parts) > 1 else None
        assert question is not None, f"not a question message: {message.text!r}\n{self.ann.transcript()}"
        assert parts[0].endswith(f"{question.number}/{question.phase_size}"), message.text
        return question

    def expect_next(self) -> Question:
        return self.lens.questions[len([item for item, _ in self.acked if item != self.lens.age_item])]

    async def answer_age(self, bot: BotProcess) -> None:
        """Tap the age on the age question; require the toast and the first red flag."""
        message = keyboard_message(self.ann)
        assert message.text.startswith("Leeftijd · 1/1\n\n") and not self.acked, self.ann.transcript()
        edits, toasts = message.edit_count, len(self.ann.toasts)
        update_id = self.ann.tap(self.age, message.message_id)
        await self.server.wait_for(lambda: bot.alive() and message.edit_count > edits, timeout=WAIT,
                                   message=f"the bot to edit #{message.message_id} after [{self.age}]")
        await self.ann.wait_handled(update_id, timeout=WAIT)
        assert self.ann.toasts[toasts:] == [SAVED], self.ann.transcript()
        assert self.lens.age_item is not None
        self.acked.append((self.lens.age_item, age_band(self.lens, self.age)))
        assert self.shown() == self.expect_next(), self.ann.transcript()

    async def answer(self, label: str, bot: BotProcess) -> None:
        """Tap `label` on the current question; require the toast and the next question."""
        message = keyboard_message(self.ann)
        question = self.shown(message)
        assert question == self.expect_next(), (question.item_id, self.expect_next().item_id)
        edits, toasts = message.edit_count, len(self.ann.toasts)
        started = time.perf_counter()
        update_id = self.ann.tap(label, message.message_id)
        await self.server.wait_for(lambda: bot.alive() and message.edit_count > edits, timeout=WAIT,
                                   message=f"the bot to edit #{message.message_id} after [{label}]")
        self.latencies.append(time.perf_counter() - started)
        await self.ann.wait_handled(update_id, timeout=WAIT)
        assert self.ann.toasts[toasts:] == [SAVED], self.ann.transcript()
        self.acked.append((question.item_id, VALUES[label]))
        assert self.shown() == self.expect_next(), self.ann.transcript()

    async def wait_until(self, predicate: Callable[[], Any], bot: BotProcess, what: str) -> None:
        await self.server.wait_for(lambda: bot.alive() and predicate(), timeout=WAIT, message=what)


def case_state(db_url: str, lens: Lens) -> tuple[Any, list[tuple[str, str]], list[str]]:
    """(case view, answer log, notes) of admin 1001's only case, read straight from storage."""
    store = Store(db_url)
    try:
        user = store.user("telegram", str(ADMIN))
        assert user is not None
        (summary,) = store.list_cases(user.id)
        view = IntakeService(store, lens).view(user, summary.code)
        assert view is not None
        return view, store.answer_log(view.case.id), store.notes(view.case.id)
    finally:
        store.dispose()


async def open_age_question(server: FakeBotAPI, ann: FakeUser, bot: BotProcess) -> None:
    """/nieuw and Begin, each followed by waiting for what it must show (not for a quiet chat:
    on a loaded machine the bot can pause longer than any quiet time between two calls)."""
    ann.send("/nieuw")
    await server.wait_for(lambda: bot.alive() and ann.buttons() == [["Begin"]], timeout=WAIT, message="the intro")
    ann.tap("Begin")
    await server.wait_for(lambda: bot.alive() and ann.last_message is not None
                          and ann.last_message.text.startswith("Leeftijd · 1/1\n\n"), timeout=WAIT,
                          message="the age question")


# -- 1. configuration errors ---------------------------------------------------------------
def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A guard against a hang, not a speed check: on a loaded machine the start-up alone took over 15 s.
    return run_lensbot("telegram", *args, timeout=4 * WAIT,
                       env=bot_env(LENSBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'lensbot.db'}", **env))


def test_missing_token_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path)
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0], result.stderr
    assert not (tmp_path / "lensbot.db").exists()   # refused before touching storage


def test_malformed_token_exits_2_without_echoing_it(tmp_path: Path) -> None:
    bad = "not-a-token-but-a-secret-value"
    result = run_cli(tmp_path, TELEGRAM_BOT_TOKEN=bad)
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0], result.stderr
    assert bad not in result.stderr + result.stdout


def test_webhook_without_secret_exits_2(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--webhook-url", "https://bot.example.org/telegram", TELEGRAM_BOT_TOKEN=TOKEN)
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "LENSBOT_WEBHOOK_SECRET" in lines[0], result.stderr
    assert TOKEN_SECRET_PART not in result.stderr + result.stdout


async def test_rejected_token_exits_2_without_leaking_it(sqlite_url: str, tmp_path: Path) -> None:
    """A revoked token: Telegram answers 401. PTB puts the token into its exception text."""
    async with FakeBotAPI(token="987654321:TEST-a-different-token-abcdefgh") as server, \
            running_bot(server, sqlite_url, tmp_path) as bot:
        rc = await bot.wait_exit()
        output = bot.stderr + bot.stdout
        assert rc == 2, output
        assert output.splitlines()[-1].startswith("lensbot: ") and "TELEGRAM_BOT_TOKEN" in output.splitlines()[-1]
        assert TOKEN not in output and TOKEN_SECRET_PART not in output, output


# -- 2. a crash in the middle of an intake ---------------------------------------------------
@pytest.mark.slow   # collected first (tests/conftest.py)
async def test_sigkill_mid_intake_keeps_each_acknowledged_answer_once(lens: Lens, sqlite_url: str,
                                                                      tmp_path: Path) -> None:
    """Four processes on one database, three of them killed with SIGKILL:

    A dies with a tap not yet fetched (B applies it; the user's second tap on the same question,
    made while the bot was down, is refused as stale); B dies right after an acknowledged answer
    (C accepts the keyboard B drew); C dies between the "saved" toast and the edit (D refuses the
    now stale keyboard, /hervat shows the right question).
    """
    red_flags = len(lens.red_flags)   # no red flag answered "ja": the question message stays the same
    pattern = [*(["Nee", "Weet ik niet", "Nee"] * red_flags)[:red_flags], "Ja", "Nee", "Weet ik niet", "Ja"]
    stale = dialog_texts()("refuse.stale", "nl")
    async with fake_api() as server:
        ann = server.user(ADMIN)
        intake = Intake(server, ann, lens)

        # Process A: start, answer the age and the red flags and a few questions, then one more tap and SIGKILL.
        async with running_bot(server, sqlite_url, tmp_path, real=True) as a:   # the installed executable
            await a.wait_polling()
            await open_age_question(server, ann, a)
            await intake.answer_age(a)
            for label in pattern:
                await intake.answer(label, a)
            assert len(intake.acked) == 1 + len(pattern)
            old = keyboard_message(ann)
            pending_question = intake.shown(old)
            pending = ann.tap("Nee", old.message_id)
            a.kill()                                   # before the event loop can hand the tap out
            assert await a.wait_exit() == -signal.SIGKILL
        assert old.edit_count == 1 + len(pattern) and intake.shown(old) == pending_question   # the age, the pattern
        # While the bot is down the user taps the same, still visible keyboard again.
        double = ann.tap("Weet ik niet", old.message_id)
        assert len(server.unanswered_callback_queries()) == 2

        # Process B: the tap from before the crash is applied once, the double tap refused.
        async with running_bot(server, sqlite_url, tmp_path) as b:
            await intake.wait_until(lambda: not server.unanswered_callback_queries(), b, "both taps answered")
            await ann.wait_handled(double, timeout=WAIT)
            assert ann.toasts[-2:] == [SAVED, stale], ann.transcript()
            intake.acked.append((pending_question.item_id, "no"))
            assert intake.shown(old) == intake.expect_next(), ann.transcript()
            assert pending in server.updates_delivered
            for label in ("Nee", "Weet ik niet", "Ja"):
                await intake.answer(label, b)
            b.kill()
            await b.wait_exit()
            assert_clean_log(b.stderr)

        # Process C: the keyboard shown before the crash still works and the intake goes on.
        visible = keyboard_message(ann)
        assert visible.inline_keyboard and intake.shown(visible) == intake.expect_next()
        async with running_bot(server, sqlite_url, tmp_path) as c:
            await c.wait_polling()
            await intake.answer("Nee", c)              # tapped on the keyboard process B drew
            await intake.answer("Weet ik niet", c)
            # Crash between the "saved" toast and the edit: the edit hangs in the fake, then SIGKILL.
            server.faults = FaultPlan(methods=["editMessageText"], delay=WAIT)
            frozen = keyboard_message(ann)
            toasted_question, toasts, edits = intake.shown(frozen), len(ann.toasts), frozen.edit_count
            ann.tap("Nee", frozen.message_id)
            await intake.wait_until(lambda: ann.toasts[toasts:] == [SAVED], c, "the saved toast")
            await intake.wait_until(lambda: server.calls_to("editMessageText")[-1:] and
                                    server.calls_to("editMessageText")[-1].get("message_id") == frozen.message_id,
                                    c, "the edit to start")
            c.kill()
            await c.wait_exit()
            server.faults = None
        intake.acked.append((toasted_question.item_id, "no"))   # acknowledged by its toast
        assert frozen.edit_count == edits and intake.shown(frozen) == toasted_question

        # Process D: the frozen keyboard is now stale and refused; /hervat shows the right question.
        stale_toasts = len(ann.toasts)
        async with running_bot(server, sqlite_url, tmp_path) as d:
            await d.wait_polling()
            await ann.tap_and_wait("Ja", frozen.message_id, timeout=WAIT)
            assert ann.toasts[stale_toasts:] == [stale], ann.transcript()
            await ann.send_and_wait("/hervat", timeout=WAIT)
            (choice,) = ann.buttons()
            await ann.tap_and_wait(choice[0], timeout=WAIT)
            assert intake.shown() == intake.expect_next(), ann.transcript()
            await intake.answer("Nee", d)
            assert await d.terminate() == 0
            assert_clean_log(d.stderr)

        assert server.violations == []
        assert server.unanswered_callback_queries() == []

    view, log, _ = case_state(sqlite_url, lens)
    acked_ids = [item for item, _ in intake.acked]
    total = 1 + len(pattern) + 8     # the age, process A's pattern, then 1 + 3 + 2 + 1 + 1 taps over B, C and D
    assert len(acked_ids) == total and len(set(acked_ids)) == total
    assert [item for item, _ in log] == acked_ids, "every acknowledged answer is stored exactly once, in order"
    assert view.answers == dict(intake.acked)
    assert view.case.step == 1 + len(intake.acked)            # Begin plus one per answer
    assert view.case.status == "open" and view.case.trail[-1] == intake.expect_next().index
    median = statistics.median(intake.latencies)
    print(f"\ntap -> edit over {len(intake.latencies)} taps: median {median * 1000:.0f} ms, "
          f"max {max(intake.latencies) * 1000:.0f} ms")
    assert median < 2.0, intake.latencies


# -- 3. SIGTERM (and Ctrl-C) -----------------------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_shuts_down_cleanly(signum: int, sqlite_url: str, tmp_path: Path) -> None:
    # Ctrl-C to the installed executable, SIGTERM to a forked one (tests/support/lensbot_cli.py)
    async with fake_api() as server, running_bot(server, sqlite_url, tmp_path, real=signum == signal.SIGINT) as bot:
        ann = server.user(ADMIN)
        await bot.wait_polling()
        update = ann.send("/start")
        await ann.wait_handled(update, timeout=WAIT)
        assert "Welkom" in ann.messages[-1].text, ann.transcript()
        started = time.perf_counter()
        assert await bot.terminate(signum) == 0, bot.stderr
        took = time.perf_counter() - started
        log = bot.stderr
        assert "starting long polling" in log, log     # the log was captured, so the checks below mean something
        assert_clean_log(log + bot.stdout)
        assert took < 5.0, took
        # The handled update was confirmed before exit: a restart does not see it again.
        assert update in server.updates_confirmed, (server.updates_confirmed, server.pending_updates)
        assert server.violations == []


# -- 4. webhook mode -------------------------------------------------------------------------
def command_update(user: FakeUser, update_id: int, text: str) -> dict[str, Any]:
    """A Telegram Update for a private text message that is a bot command."""
    command = text.split(maxsplit=1)[0]
    return {
        "update_id": update_id,
        "message": {
            "message_id": 10_000 + update_id,
            "from": dict(user.profile),
            "chat": user.chat,
            "date": int(time.time()),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


async def port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def test_webhook_checks_the_secret_and_handles_updates(sqlite_url: str, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    async with fake_api() as server, running_bot(
            server, sqlite_url, tmp_path, "--webhook-url", url, "--listen", "127.0.0.1", "--port", str(port),
            LENSBOT_WEBHOOK_SECRET="s3cret") as bot:
        ann = server.user(ADMIN)
        await server.wait_for(lambda: bot.alive() and server.webhook is not None, timeout=WAIT,
                              message="setWebhook")
        assert server.webhook is not None
        assert server.webhook["url"] == url and server.webhook["secret_token"] == "s3cret", server.webhook
        await server.wait_for(lambda: bot.alive() and port_open(port), timeout=WAIT, message="the webhook port")

        assert await server.post_webhook(url, command_update(ann, 901, "/start"), secret_token="wrong") == 403
        assert await server.post_webhook(url, command_update(ann, 902, "/start")) == 403
        assert await server.post_webhook(url, command_update(ann, 903, "/start"), secret_token="s3cret") == 200
        await server.wait_for(lambda: bot.alive() and ann.messages, timeout=WAIT, message="the welcome message")
        # No pause for replies to the refused posts: one chat is handled in order, so had the bot taken
        # them, their replies would have come before this welcome.
        assert [m.text for m in ann.messages] == [ann.messages[0].text] and "Welkom" in ann.messages[0].text, \
            ann.transcript()
        assert server.calls_to("getUpdates") == []

        assert await bot.terminate() == 0, bot.stderr
        output = bot.stderr + bot.stdout
        assert_clean_log(output)
        assert "s3cret" not in output
        assert server.violations == []


# -- 5. what the logs hold -------------------------------------------------------------------
async def test_logs_hold_no_answers_or_notes(lens: Lens, sqlite_url: str, tmp_path: Path) -> None:
    note = "Geheime notitie XYZ"
    async with fake_api() as server, running_bot(server, sqlite_url, tmp_path) as bot:
        ann = server.user(ADMIN)
        await bot.wait_polling()
        await open_age_question(server, ann, bot)
        await ann.tap_and_wait(AGE, timeout=WAIT)
        for label in ("Ja", "Nee", "Weet ik niet", *["Nee"] * (len(lens.red_flags) - 3)):    # the red flags
            await ann.tap_and_wait(label, timeout=WAIT)
        for _ in lens.leefgebieden:
            await ann.tap_and_wait("Sla leefgebied over", timeout=WAIT)
        # the summary comes in several messages, the note prompt after them
        await server.wait_for(lambda: bot.alive() and ann.buttons() == [["Geen notitie", "← Terug"]],
                              timeout=WAIT, message="the note prompt")
        await ann.send_and_wait(note, timeout=WAIT)
        assert "afgerond" in ann.messages[-1].text, ann.transcript()
        assert await bot.terminate() == 0
        output = bot.stderr + bot.stdout
        assert server.violations == []

    view, _, notes = case_state(sqlite_url, lens)
    assert notes == [note] and view.case.status == "completed"
    assert "starting long polling" in output
    assert_clean_log(output)
    assert "XYZ" not in output and "Geheime" not in output, output
    band = age_band(lens)
    assert band not in output and AGE not in output, "the log shows the age"
    for q in lens.all_questions:   # the age question, the red flags and the signals, as they were shown
        for lang in ("nl", "en"):
            assert q.text.get(lang) not in output and lens.say(q.text, lang, band) not in output, q.item_id
        assert q.item_id not in output, f"the log shows that {q.item_id} was answered"
    for phase in lens.phases:
        assert phase not in output, f"the log shows where the intake is, or what was skipped: {phase}"
