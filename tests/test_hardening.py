"""Hardening (issue 11, item 8), each through the process where the audit found it.

- The PDF dropped Arabic and Cyrillic notes and turned `Łukasz` into `ukasz` (Helvetica, cp1252):
  a note in four scripts now comes back out of the PDF that `/rapport` sends.
- The database and `--out` files were created 0644 and `--out` followed symlinks.
- At DEBUG the log held note text, answers and question texts, and SQL parameters (a live invite
  code) on a database error: a whole intake at DEBUG, with every library logger, logs none of it.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import subprocess
import sys
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from matrix.lens import Lens
from storage.repo import StorageUnavailable, Store
from tests.support.lensbot_cli import run_lensbot
from tests.support.telegram_env import NOTE_KEYS, TelegramEnv, after, running_bot, start_intake, taps

LENSBOT = Path(sys.executable).with_name("lensbot")
NAME, CYRILLIC, GREEK, ARABIC = "Łukasz", "Привет из Москвы", "Καλημέρα Ελλάδα", "مرحبا بكم"
NOTE = f"Gesprek met {NAME} gepland. {CYRILLIC}. {GREEK}. {ARABIC}."


def lensbot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_lensbot(*args, env=env)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the PDF renders every script of a note -------------------------------------------------------
@pytest.fixture
async def env(lens: Lens, sqlite_url: str) -> AsyncIterator[TelegramEnv]:
    async with running_bot(lens, sqlite_url) as e:
        yield e


async def test_a_note_in_four_scripts_comes_back_out_of_the_pdf(env: TelegramEnv) -> None:
    ann = env.member(2002)
    code = env.complete(ann, note=NOTE)
    before = ann.last_message.message_id if ann.last_message else 0
    await ann.send_and_wait(f"/rapport {code}")
    await env.server.wait_for(lambda: any(m.file for m in after(ann, before)), timeout=10, message="the PDF")
    (pdf,) = [m.file for m in after(ann, before) if m.file]
    extracted = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    for words in (NAME, CYRILLIC, GREEK):
        assert words in extracted, extracted
    # Arabic is drawn shaped (joined presentation forms) and right to left; read back, the forms
    # fold to the letters typed.
    assert any("\ufe70" <= ch <= "\ufeff" for ch in extracted)
    folded = unicodedata.normalize("NFKC", extracted)
    assert ARABIC in folded or ARABIC[::-1] in folded, folded


# -- files lensbot writes --------------------------------------------------------------------------
def test_database_and_out_files_are_private_and_out_refuses_a_symlink(tmp_path: Path) -> None:
    db = tmp_path / "lensbot.db"
    env = dict(os.environ, LENSBOT_DATABASE_URL=f"sqlite:///{db}")
    old = os.umask(0o022)   # an ordinary login: files would be 0644
    try:
        out = tmp_path / "picture.json"
        done = lensbot(env, "stats", "--format", "json", "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert mode(db) == 0o600 and mode(out) == 0o600
        for extra in (Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert not extra.exists() or mode(extra) == 0o600

        target = tmp_path / "elsewhere.txt"
        target.write_text("not lensbot's")
        link = tmp_path / "link.json"
        link.symlink_to(target)
        refused = lensbot(env, "stats", "--format", "json", "--out", str(link))
        assert refused.returncode == 2 and "symbolische link" in refused.stderr
        assert target.read_text() == "not lensbot's"
    finally:
        os.umask(old)


# -- logs ------------------------------------------------------------------------------------------
LIBRARIES = ("", "telegram", "telegram.ext", "httpx", "httpcore", "sqlalchemy", "sqlalchemy.engine",
             "sqlalchemy.pool", "aiohttp", "apscheduler", "transitions", "lensbot", "dialogs", "storage", "bot")


async def test_a_whole_intake_at_debug_logs_no_note_answer_or_question(lens: Lens, sqlite_url: str,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    for name in LIBRARIES:
        caplog.set_level(logging.DEBUG, logger=name)
    async with running_bot(lens, sqlite_url) as env:
        ann = env.member(2002)
        code, question = await start_intake(ann)
        asked = {question.text.split("\n\n", 1)[1]}
        data: set[str] = set()
        for label in ["Nee", "Ja"] * (len(lens.red_flags) // 2) + ["Nee"] * (len(lens.red_flags) % 2):
            current = ann.last_message
            assert current is not None
            asked.add(current.text.split("\n\n", 1)[-1].split("\n")[0])
            button = current.find_button(label)
            assert button is not None
            data.add(button["callback_data"])   # the answer, as the tap carries it
            await taps(ann, label)
        await taps(ann, *["Sla leefgebied over"] * len(lens.leefgebieden))
        await env.server.wait_for(lambda: ann.buttons() == NOTE_KEYS, timeout=10, message="the note prompt")
        await ann.send_and_wait(NOTE)
        await ann.send_and_wait(f"/samenvatting {code}")

        # A database error with a secret in its parameters: the engine hides them.
        with pytest.raises(StorageUnavailable), env.store.transaction() as tx:
            tx.conn.execute(text("INSERT INTO no_such_table VALUES (:secret)"), {"secret": "INVITE-SECRET-9f3a"})

    names = {r.name.split(".")[0] for r in caplog.records if r.levelno == logging.DEBUG}
    assert {"telegram", "sqlalchemy", "httpcore"} <= names, names   # the loggers really were at DEBUG
    secrets = {NOTE, NAME, CYRILLIC, GREEK, ARABIC, "INVITE-SECRET-9f3a", *asked, *data}
    leaks = [(r.name, r.levelname, r.getMessage()[:200]) for r in caplog.records
             if any(s and s in r.getMessage() + (r.exc_text or "") for s in secrets)]
    assert leaks == []


def test_the_engine_hides_sql_parameters(store: Store) -> None:
    with pytest.raises(StorageUnavailable) as error, store.transaction() as tx:
        tx.conn.execute(text("INSERT INTO no_such_table VALUES (:secret)"), {"secret": "INVITE-SECRET-1c2d"})
    cause = error.value.__cause__
    assert isinstance(cause, SQLAlchemyError) and "no_such_table" in str(cause)
    assert "INVITE-SECRET-1c2d" not in str(error.value) + str(cause)
