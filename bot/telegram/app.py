"""Build and run the Telegram bot: settings from the environment, the PTB Application, polling
or a webhook server.

Run: `TELEGRAM_BOT_TOKEN=... lensbot telegram` (polling) or
`lensbot telegram --webhook-url https://bot.example.org/telegram` (webhook, needs LENSBOT_WEBHOOK_SECRET).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlparse

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.telegram import handlers
from bot.telegram.processor import PerChatUpdateProcessor
from bot.telegram.runtime import Runtime, telegram_texts
from dialogs.access import Access, admin_ids_from_env
from dialogs.reports.service import Reports
from dialogs.service import IntakeService
from storage import records
from storage.db import is_sqlite
from storage.repo import Store, now

log = logging.getLogger("lensbot.telegram")
TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
COMMANDS = ("start", "nieuw", "snel", "oefenen", "voortgang", "hervat", "zaken", "samenvatting", "rapport", "export",
            "verwijder", "nood", "taal", "herinneringen", "overzicht", "help", "stop")
UPDATE_MEMORY = timedelta(days=7)
REMIND_AFTER = timedelta(days=3)
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.EDITED_MESSAGE]


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


@dataclass(frozen=True)
class Settings:
    token: str
    base_url: str | None = None
    base_file_url: str | None = None
    admin_ids: frozenset[str] = frozenset()
    webhook_secret: str | None = None
    retention_days: int = records.DEFAULT_RETENTION_DAYS

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set (get a token from @BotFather)")
        if not TOKEN_RE.match(token):
            raise ConfigError("TELEGRAM_BOT_TOKEN does not look like a bot token (expected 123456789:ABC...)")
        base = env.get("TELEGRAM_API_BASE_URL") or None
        file_base = env.get("TELEGRAM_API_BASE_FILE_URL") or None
        if base and not file_base:
            # http://host:8081/bot -> http://host:8081/file/bot, as the Bot API server lays it out
            parsed = urlparse(base)
            path = parsed.path.rstrip("/")
            head, _, tail = path.rpartition("/")
            file_base = parsed._replace(path=f"{head}/file/{tail or 'bot'}").geturl()
        try:
            days = records.retention_days(env.get("LENSBOT_RETENTION_DAYS"))
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        return cls(token=token, base_url=base, base_file_url=file_base,
                   admin_ids=admin_ids_from_env(env.get("LENSBOT_ADMIN_IDS", "")),
                   webhook_secret=env.get("LENSBOT_WEBHOOK_SECRET") or None, retention_days=days)


def build_application(settings: Settings, service: IntakeService, store: Store,
                      request: BaseRequest | None = None, rate_limiter: BaseRateLimiter | None = None) -> Application:
    """The lensbot Application.

    `request` replaces PTB's HTTP transport and `rate_limiter` the default AIORateLimiter (30 messages
    a second overall, 3 retries on 429); bench/ uses both to measure lensbot's own cost in memory.
    """
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .rate_limiter(rate_limiter or AIORateLimiter(max_retries=3))
        .concurrent_updates(PerChatUpdateProcessor(256))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if settings.base_url:
        builder = builder.base_url(settings.base_url)
    if settings.base_file_url:
        builder = builder.base_file_url(settings.base_file_url)
    app = builder.build()
    workers = 1 if is_sqlite(store.engine) else 4   # SQLite has one writer anyway
    app.bot_data["rt"] = Runtime(
        service=service,
        access=Access(store, "telegram", settings.admin_ids),
        store=store,
        executor=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lensbot-db"),
        renderer=ThreadPoolExecutor(max_workers=1, thread_name_prefix="lensbot-render"),
        reports=Reports(service),
        retention_days=settings.retention_days,
    )
    register(app)
    return app


def register(app: Application) -> None:
    private = filters.ChatType.PRIVATE
    commands = {
        ("start",): handlers.start,
        ("nieuw", "new"): handlers.new_case,
        ("snel", "quick"): handlers.quick_scan,
        ("oefenen", "practice", "train"): handlers.training,
        ("voortgang", "progress"): handlers.progress,
        ("hervat", "resume"): handlers.resume,
        ("zaken", "cases"): handlers.list_cases,
        ("samenvatting", "summary"): handlers.summary,
        ("verwijder", "delete"): handlers.delete,
        ("nood", "emergency"): handlers.emergency,
        ("taal", "language"): handlers.language,
        ("help",): handlers.help_,
        ("stop",): handlers.pause,
        ("uitnodigen", "invite"): handlers.invite,
        ("rapport", "report"): handlers.report,
        ("export",): handlers.export,
        ("overzicht", "stats"): handlers.stats,
        ("herinneringen", "reminders"): handlers.reminders,
    }
    for names, callback in commands.items():
        app.add_handler(CommandHandler(list(names), callback))
    app.add_handler(CallbackQueryHandler(handlers.on_callback))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & private & filters.UpdateType.MESSAGE,
                                   handlers.on_text))
    app.add_handler(MessageHandler(~filters.COMMAND & filters.UpdateType.MESSAGES, handlers.on_other))
    app.add_error_handler(on_error)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the kind of error, never the update's content; point the user to /hervat."""
    err = context.error
    log.error("error while handling update %s: %s", getattr(update, "update_id", "?"), type(err).__name__,
              exc_info=(type(err), err, err.__traceback__) if err else None)
    if isinstance(update, Update) and update.effective_chat and update.effective_chat.type == "private":
        rt: Runtime = context.bot_data["rt"]
        lang = "en" if update.effective_user and update.effective_user.language_code == "en" else "nl"
        chat_id = update.effective_chat.id
        await rt.call(lambda: context.bot.send_message(chat_id, rt.texts("error", lang)))


async def _post_init(app: Application) -> None:
    texts = telegram_texts()
    for lang in ("nl", "en"):
        commands = [BotCommand(name, texts(f"cmd.{name}", lang)) for name in COMMANDS]
        await app.bot.set_my_commands(commands, language_code=lang)
    await app.bot.set_my_commands([BotCommand(n, texts(f"cmd.{n}", "nl")) for n in COMMANDS])
    rt: Runtime = app.bot_data["rt"]
    await rt.db(rt.store.forget_updates, now() - UPDATE_MEMORY)
    if app.job_queue is not None:   # PTB's job queue: housekeeping that must not wait for a user
        app.job_queue.run_repeating(_forget_updates, interval=timedelta(hours=6), first=timedelta(hours=6))
        app.job_queue.run_repeating(_purge, interval=timedelta(days=1), first=timedelta(minutes=1))
        app.job_queue.run_repeating(_remind, interval=timedelta(hours=1), first=timedelta(minutes=5))


async def _forget_updates(context: ContextTypes.DEFAULT_TYPE) -> None:
    rt: Runtime = context.bot_data["rt"]
    await rt.db(rt.store.forget_updates, now() - UPDATE_MEMORY)


async def _purge(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The daily retention purge (LENSBOT_RETENTION_DAYS); the local picture's counts stay."""
    rt: Runtime = context.bot_data["rt"]
    codes: list[str] = []
    while True:   # batch by batch through the database thread, so the chats' own work runs in between
        done = await rt.db(records.purge_batch, rt.store, rt.retention_days)
        codes += done
        if len(done) < records.JOB_BATCH:
            break
        await asyncio.sleep(records.JOB_PAUSE)
    if codes:
        log.info("retention purge removed %d case(s)", len(codes))


async def _remind(context: ContextTypes.DEFAULT_TYPE) -> None:
    """One message per case left unfinished for 3 days, unless the user switched reminders off."""
    rt: Runtime = context.bot_data["rt"]
    while True:   # batch by batch, as _purge
        batch = await rt.db(records.remind_batch, rt.store, "telegram", REMIND_AFTER)
        for due in batch:
            text = rt.texts("reminder_case", due.lang, code=due.code)
            await rt.call(lambda due=due, text=text: context.bot.send_message(int(due.external_id), text))
        if len(batch) < records.JOB_BATCH:
            break


async def _post_shutdown(app: Application) -> None:
    rt: Runtime = app.bot_data["rt"]
    rt.executor.shutdown(wait=True)
    if rt.renderer is not None:
        rt.renderer.shutdown(wait=True)
    rt.store.dispose()


class TokenFilter(logging.Filter):
    """Last line of defence: no log line ever carries the bot token."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token and self.token in record.getMessage():
            record.msg = record.getMessage().replace(self.token, "<token>")
            record.args = ()
        if self.token and record.exc_info and not record.exc_text:
            # PTB puts the token into some exception texts (InvalidToken on a revoked token)
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if self.token and record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        return True


def configure_logging(token: str) -> None:
    logging.getLogger().setLevel(logging.INFO)
    for noisy in ("httpx", "httpcore", "telegram.ext.ExtBot", "apscheduler", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    token_filter = TokenFilter(token)
    for handler in logging.getLogger().handlers:
        handler.addFilter(token_filter)


def run(settings: Settings, service: IntakeService, store: Store, webhook_url: str | None = None,
        listen: str = "127.0.0.1", port: int = 8443) -> None:
    configure_logging(settings.token)
    app = build_application(settings, service, store)
    allowed = ALLOWED_UPDATES
    if webhook_url:
        if not settings.webhook_secret:
            raise ConfigError("LENSBOT_WEBHOOK_SECRET must be set for webhook mode")
        path = urlparse(webhook_url).path.lstrip("/")
        log.info("starting webhook server on %s:%d", listen, port)
        app.run_webhook(listen=listen, port=port, url_path=path, webhook_url=webhook_url,
                        secret_token=settings.webhook_secret, allowed_updates=allowed)
    else:
        log.info("starting long polling")
        app.run_polling(allowed_updates=allowed, poll_interval=0.0, timeout=30)
