"""Build and run the Telegram bot: the PTB Application on the door (dialogs.app), polling or a
webhook server. Settings come from dialogs.app.Settings (re-exported here as before).

Run: `TELEGRAM_BOT_TOKEN=... lensbot telegram` (polling) or
`lensbot telegram --webhook-url https://bot.example.org/telegram` (webhook, needs LENSBOT_WEBHOOK_SECRET;
served by bot/telegram/webhook.py, which caps bodies and checks the secret in constant time).

Rate limits: replies to a user's own tap or message are never held back by a throttle of ours
(AIORateLimiter with the overall limit off still honours Telegram's 429 retry_after); messages the
bot starts itself (reminders) go through bot/telegram/throttle.py, at most 25 a second.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
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

from bot.telegram import handlers, logs, sharing, webhook
from bot.telegram.commands import COMMANDS, menu
from bot.telegram.processor import PerChatUpdateProcessor
from bot.telegram.runtime import Runtime, telegram_texts
from bot.telegram.throttle import Throttle
from dialogs.app import ConfigError, Door, Settings
from dialogs.app.admin import JOB_BATCH, JOB_PAUSE, REMIND_AFTER, UPDATE_MEMORY
from dialogs.service import IntakeService

log = logging.getLogger("lensbot.telegram")
CHANNEL = "telegram"
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.EDITED_MESSAGE]
__all__ = ["ALLOWED_UPDATES", "REMIND_AFTER", "UPDATE_MEMORY", "ConfigError", "Settings", "build_application",
           "register", "run"]


def build_application(settings: Settings, door: Door | IntakeService, store: object = None,
                      request: BaseRequest | None = None, rate_limiter: BaseRateLimiter | None = None) -> Application:
    """The lensbot Application on `door` (or on a ready IntakeService, as tests and bench/ build one;
    `store` is then the service's own and not needed).

    `request` replaces PTB's HTTP transport and `rate_limiter` the default AIORateLimiter (no overall
    limit of our own, 3 retries on 429); bench/ uses both to measure lensbot's own cost in memory.
    """
    logs.install()   # no note, answer or question text in any log, at any level (bot/telegram/logs.py)
    if isinstance(door, IntakeService):
        door = Door.around(door, settings, CHANNEL)
    builder = (
        ApplicationBuilder()
        .token(settings.token or settings.telegram_token())
        .rate_limiter(rate_limiter or AIORateLimiter(overall_max_rate=0, max_retries=3))
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
    workers = 1 if door.one_writer() else 4   # SQLite has one writer anyway
    app.bot_data["rt"] = Runtime(
        door=door,
        executor=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lensbot-db"),
        renderer=ThreadPoolExecutor(max_workers=1, thread_name_prefix="lensbot-render"),
        outbound=Throttle(),
    )
    register(app)
    return app


def register(app: Application) -> None:
    """Every command of the table, the taps, typed text and everything else; all in the one guard."""
    private = filters.ChatType.PRIVATE
    for command in COMMANDS:
        app.add_handler(CommandHandler(list(command.names), command.callback()))
    app.add_handler(CallbackQueryHandler(handlers.on_callback))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & private & filters.UpdateType.MESSAGE,
                                   handlers.on_text))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & private & filters.UpdateType.EDITED_MESSAGE,
                                   handlers.on_edited))
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
        await rt.send(lambda: context.bot.send_message(chat_id, rt.texts("error", lang)))


async def _post_init(app: Application) -> None:
    texts = telegram_texts()
    for lang in ("nl", "en"):
        commands = [BotCommand(c.name, texts(c.description, lang)) for c in menu()]
        await app.bot.set_my_commands(commands, language_code=lang)
    await app.bot.set_my_commands([BotCommand(c.name, texts(c.description, "nl")) for c in menu()])
    rt: Runtime = app.bot_data["rt"]
    await rt.db(rt.door.admin.forget_updates)
    if app.job_queue is not None:   # PTB's job queue: housekeeping that must not wait for a user
        app.job_queue.run_repeating(_forget_updates, interval=timedelta(hours=6), first=timedelta(hours=6))
        app.job_queue.run_repeating(_purge, interval=timedelta(days=1), first=timedelta(minutes=1))
        app.job_queue.run_repeating(_remind, interval=timedelta(hours=1), first=timedelta(minutes=5))
        app.job_queue.run_repeating(sharing.notices_job, interval=timedelta(minutes=1), first=timedelta(seconds=30),
                                    name="share_notices")   # contributions and closed cases (issue 13)


async def _forget_updates(context: ContextTypes.DEFAULT_TYPE) -> None:
    rt: Runtime = context.bot_data["rt"]
    await rt.db(rt.door.admin.forget_updates)


async def _purge(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The daily retention purge (LENSBOT_RETENTION_DAYS); the local picture's counts stay.

    It waits for an admin (`lensbot purge --confirm`) after a clock jump or when it would delete
    too large a share of all cases; dialogs.app.admin.Admin.purge_check decides and logs."""
    rt: Runtime = context.bot_data["rt"]
    check = await rt.db(rt.door.admin.purge_check)
    if not check.allowed:
        return
    codes: list[str] = []
    while True:   # batch by batch through the database thread, so the chats' own work runs in between
        done = await rt.db(rt.door.admin.purge_batch, check.plan.at)
        codes += done
        if len(done) < JOB_BATCH:
            break
        await asyncio.sleep(JOB_PAUSE)
    await rt.db(rt.door.admin.purge_finished, check)
    if codes:
        log.info("retention purge removed %d case(s)", len(codes))


async def _remind(context: ContextTypes.DEFAULT_TYPE) -> None:
    """One message per case left unfinished for 3 days, unless the user switched reminders off."""
    rt: Runtime = context.bot_data["rt"]
    while True:   # batch by batch, as _purge
        batch = await rt.db(rt.door.admin.remind_batch, CHANNEL, REMIND_AFTER)
        for due in batch:
            text = rt.texts("reminder_case", due.lang, code=due.code)
            async with rt.outbound:   # the bot starts these itself: at most 25 a second
                await rt.send(lambda due=due, text=text: context.bot.send_message(int(due.external_id), text))
        if len(batch) < JOB_BATCH:
            break


async def _post_shutdown(app: Application) -> None:
    rt: Runtime = app.bot_data["rt"]
    rt.executor.shutdown(wait=True)
    if rt.renderer is not None:
        rt.renderer.shutdown(wait=True)
    rt.door.close()


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


def run(settings: Settings, door: Door, webhook_url: str | None = None, listen: str = "127.0.0.1",
        port: int = 8443) -> None:
    configure_logging(settings.telegram_token())
    app = build_application(settings, door)
    allowed = ALLOWED_UPDATES
    if webhook_url:
        if not settings.webhook_secret:
            raise ConfigError("LENSBOT_WEBHOOK_SECRET must be set for webhook mode")
        path = urlparse(webhook_url).path.lstrip("/")
        log.info("starting webhook server on %s:%d", listen, port)
        asyncio.run(webhook.serve(app, listen=listen, port=port, path=path, webhook_url=webhook_url,
                                  secret=settings.webhook_secret, allowed_updates=allowed))
    else:
        log.info("starting long polling")
        app.run_polling(allowed_updates=allowed, poll_interval=0.0, timeout=30)
