"""Shared pieces of the benchmarks: an in-process Bot API, simulated users, machine facts, statistics.

`InProcessBotAPI` is a `telegram.request.BaseRequest`: PTB encodes every call exactly as it would
for HTTP (`RequestData.json_parameters`, multipart for uploads) and parses the JSON bytes we hand
back, but no socket is opened. It answers getMe, sendMessage, editMessageText,
editMessageReplyMarkup, answerCallbackQuery, setMyCommands, deleteWebhook, sendPhoto and
sendDocument with Telegram-shaped JSON, and keeps, per chat, the last message that carries an inline
keyboard, so a `SimUser` can tap a button of the message it actually sees.

Updates are fed the way PTB's own update fetcher does it (`Application._update_processor`
.process_update(update, app.process_update(update))`), so lensbot's per-chat processor is part of
what is measured. Not a module for the test suite: timing lives here, assertions do not.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import os
import platform
import sqlite3
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from telegram import Update
from telegram.ext import AIORateLimiter, Application
from telegram.request import BaseRequest, RequestData

ROOT = Path(__file__).resolve().parent.parent
# `python bench/x.py` puts bench/ first on sys.path; the project's packages are then taken from this
# checkout (ahead of an editable install of another one). This module itself imports none of them at
# the top, so every script that imports it first measures the code next to it.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TOKEN = "123456789:AAbenchmarkbenchmarkbenchmarkbench01"
BOT_ID = 123456789
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "lensbot", "username": "lensbot_bench_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}
EPOCH = 1_760_000_000


class InProcessBotAPI(BaseRequest):
    """Answers Bot API methods in memory; counts them per method."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._next_id: dict[int, int] = {}
        self.keyboards: dict[int, dict[str, Any]] = {}   # chat id -> last message with inline buttons
        self.texts: dict[tuple[int, int], str] = {}      # only when remember_texts
        self.remember_texts = False

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None, connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        self.calls[name] += 1
        params: dict[str, Any] = {}
        if request_data is not None:
            # the encoding work an HTTP transport does (httpx gets json_parameters / multipart_data)
            _encoded = request_data.multipart_data if request_data.contains_files else request_data.json_parameters
            params = request_data.parameters
        result = self._answer(name, params)
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _message(self, chat_id: int, message_id: int, params: dict[str, Any], edit: bool = False) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": message_id, "from": BOT_USER, "date": EPOCH,
            "chat": {"id": chat_id, "type": "private", "first_name": "User"},
        }
        if edit:
            msg["edit_date"] = EPOCH + 1
        if "text" in params:
            msg["text"] = params["text"]
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if markup:
            msg["reply_markup"] = markup
            self.keyboards[chat_id] = msg
        elif self.keyboards.get(chat_id, {}).get("message_id") == message_id:
            del self.keyboards[chat_id]
        if self.remember_texts and "text" in params:
            self.texts[(chat_id, message_id)] = params["text"]
        return msg

    def _answer(self, name: str, p: dict[str, Any]) -> Any:
        if name == "getMe":
            return BOT_USER
        if name in ("answerCallbackQuery", "setMyCommands", "deleteWebhook", "deleteMyCommands"):
            return True
        if name == "getUpdates":
            return []
        chat_id = int(p.get("chat_id", 0))
        if name in ("sendMessage", "sendPhoto", "sendDocument"):
            mid = self._next_id.get(chat_id, 0) + 1
            self._next_id[chat_id] = mid
            msg = self._message(chat_id, mid, p)
            if name == "sendPhoto":
                msg["photo"] = [{"file_id": f"p{chat_id}_{mid}", "file_unique_id": f"u{mid}", "width": 1080,
                                 "height": 1080, "file_size": 50_000}]
            elif name == "sendDocument":
                msg["document"] = {"file_id": f"d{chat_id}_{mid}", "file_unique_id": f"u{mid}"}
            if "caption" in p:
                msg["caption"] = p["caption"]
            return msg
        if name in ("editMessageText", "editMessageReplyMarkup"):
            return self._message(chat_id, int(p["message_id"]), p, edit=True)
        raise RuntimeError(f"in-process Bot API: method {name} not implemented")

    def forget(self, chat_id: int) -> None:
        self._next_id.pop(chat_id, None)
        self.keyboards.pop(chat_id, None)


class SimUser:
    """One Telegram user in a private chat: sends commands, taps buttons of the message it sees."""

    # update ids never repeat, not even across processes on one database (a repeat is a redelivery)
    _update_ids = itertools.count(time.time_ns() // 1000)

    def __init__(self, api: InProcessBotAPI, user_id: int, language_code: str = "nl") -> None:
        self.api, self.id = api, user_id
        self.user = {"id": user_id, "is_bot": False, "first_name": f"U{user_id}", "language_code": language_code}
        self.chat = {"id": user_id, "type": "private", "first_name": f"U{user_id}"}

    def command(self, text: str) -> bytes:
        cmd = text.split()[0]
        data = {"update_id": next(self._update_ids), "message": {
            "message_id": 10_000_000 + next(self._update_ids), "from": self.user, "chat": self.chat, "date": EPOCH,
            "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": len(cmd)}]}}
        return json.dumps(data).encode()

    def buttons(self) -> list[str]:
        msg = self.api.keyboards.get(self.id)
        if msg is None:
            return []
        return [b["callback_data"] for row in msg["reply_markup"]["inline_keyboard"] for b in row]

    def tap(self, data: str) -> bytes:
        msg = self.api.keyboards[self.id]
        uid = next(self._update_ids)
        payload = {"update_id": uid, "callback_query": {
            "id": str(uid), "from": self.user, "chat_instance": str(self.id), "data": data, "message": msg}}
        return json.dumps(payload).encode()

    def choose(self, prefer: tuple[str, ...]) -> str | None:
        """The callback data of the first preferred option code present ('n' = Nee, 'g' = Begin, ...)."""
        options = self.buttons()
        by_code = {d.rsplit(":", 1)[-1]: d for d in options}
        for code in prefer:
            if code in by_code:
                return by_code[code]
        return None


async def feed(app: Application, raw: bytes) -> None:
    """Parse one update as getUpdates would and run it through the application's update processor."""
    update = Update.de_json(json.loads(raw), app.bot)
    await app.update_processor.process_update(update, app.process_update(update))


# -- reporting ----------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sqlalchemy
    import telegram

    facts = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "python-telegram-bot": telegram.__version__,
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    facts["postgresql"] = postgres_version(postgres_url())
    return facts


def postgres_url() -> str:
    """LENSBOT_BENCH_POSTGRES_URL, else LENSBOT_TEST_POSTGRES_URL, else the local server of the CI."""
    url = os.environ.get("LENSBOT_BENCH_POSTGRES_URL") or os.environ.get("LENSBOT_TEST_POSTGRES_URL")
    return url or "postgresql://postgres@127.0.0.1:5432/test"


class PgSchema:
    """A fresh PostgreSQL schema, dropped afterwards; the URL selects it with search_path."""

    def __init__(self, url: str) -> None:
        from storage.db import normalise_url

        self.base, self.schema = url, f"bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(normalise_url(url))

    def __enter__(self) -> str:
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        sep = "&" if "?" in self.base else "?"
        return f"{self.base}{sep}options=-csearch_path%3D{self.schema}"

    def __exit__(self, *exc: object) -> None:
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()


def pg_available() -> str | None:
    from storage.db import normalise_url

    url = postgres_url()
    try:
        engine = create_engine(normalise_url(url), connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return url
    except Exception:
        return None


def postgres_version(url: str) -> str:
    from storage.db import normalise_url

    try:
        engine = create_engine(normalise_url(url), connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        return str(version)
    except Exception as exc:   # no server: the PostgreSQL runs are skipped
        return f"unavailable ({type(exc).__name__})"


def print_machine(title: str) -> None:
    print(f"# {title}")
    for key, value in machine().items():
        print(f"  {key:20} {value}")
    print()


def unthrottled_limiter() -> AIORateLimiter:
    """lensbot's AIORateLimiter (3 retries on 429) without the 30 messages/s overall throttle.

    The throttle sleeps once a second's 30 messages are spent, which would make every benchmark
    measure PTB's bucket instead of lensbot; the limiter's code path (and its CPU cost) stays.
    """
    return AIORateLimiter(overall_max_rate=0, max_retries=3)


async def start_lensbot(store: Any, lens: Any, api: InProcessBotAPI, throttle: bool = False) -> Application:
    """lensbot's own Application (build_application, post_init, start) on the in-process transport."""
    from bot.telegram.app import Settings, build_application
    from dialogs.service import IntakeService

    app = build_application(Settings(token=TOKEN), IntakeService(store, lens), store, request=api,
                            rate_limiter=None if throttle else unthrottled_limiter())
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    await app.start()
    return app


async def stop_lensbot(app: Application) -> None:
    await app.stop()
    await app.shutdown()
    assert app.post_shutdown is not None
    await app.post_shutdown(app)


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def git_free_revision() -> str:
    """A fingerprint of the code measured, without calling git: hash of the hot-path sources."""
    import hashlib

    h = hashlib.sha256()
    for rel in ("storage/repo.py", "storage/db.py", "dialogs/service.py", "dialogs/access.py", "dialogs/render.py",
                "bot/telegram/handlers.py", "bot/telegram/guard.py", "bot/telegram/runtime.py"):
        p = ROOT / rel
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()[:12]


def clock() -> float:
    return time.perf_counter()

