"""The one wrapper around every Telegram handler.

It does what every handler would otherwise repeat: refuse group chats (storing nothing), look
up the user and their language, check the role, and turn storage trouble or an unexpected error
into a short message to the user and a log line without any answer content.

Strangers (users without access) cost almost nothing: their "no" is remembered for a few seconds
(a negative cache can only refuse, so it is safe; an invitation code, /start CODE, is always
looked up), and a flood of their messages gets a handful of replies (bot/telegram/strangers.py):
400 messages from one stranger then cost no database hop and a few replies instead of 400 of
each, and a real user's taps are not held up behind them (tests/test_replies.py measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.telegram.processor import PerChatUpdateProcessor
from bot.telegram.runtime import TOAST_WAIT, Runtime
from dialogs.app import NotAllowed, Unavailable, User
from dialogs.texts import normalise_lang

log = logging.getLogger("lensbot.telegram")
@dataclass
class Ctx:
    """A handler's view of one update."""

    rt: Runtime
    update: Update
    context: ContextTypes.DEFAULT_TYPE
    user: User | None
    lang: str

    def t(self, key: str, **params: object) -> str:
        return self.rt.texts(key, self.lang, **params)

    @property
    def chat_id(self) -> int:
        assert self.update.effective_chat is not None
        return self.update.effective_chat.id

    @property
    def update_key(self) -> tuple[str, int]:
        return ("telegram", self.update.update_id)

    async def send(self, text: str, **kwargs: object) -> Message | None:
        bot = self.context.bot
        return await self.rt.send(lambda: bot.send_message(self.chat_id, text, **kwargs))  # type: ignore[arg-type]

    async def toast(self, text: str | None = None) -> None:
        """Answer the tap (a toast) when that is all there is to say: bounded, never raises."""
        query = self.update.callback_query
        if query is not None:
            await self.rt.toast(lambda timeout: query.answer(text[:200] if text else None, read_timeout=timeout))

    @contextlib.asynccontextmanager
    async def toasting(self, text: str | None = None) -> AsyncIterator[None]:
        """Answer the tap beside the reply made in the block: the toast starts first and runs in the
        background, so a slow or failing toast never holds back the reply; after the block it is
        waited for TOAST_WAIT seconds at most (then it finishes on its own), so it does not hold up
        the user's next tap for long either."""
        query = self.update.callback_query
        if query is None:
            yield
            return
        # PTB tracks tasks made by create_task and awaits them when the application stops
        task = self.context.application.create_task(
            self.rt.toast(lambda timeout: query.answer(text[:200] if text else None, read_timeout=timeout)),
            name="lensbot-toast")
        try:
            yield
        finally:
            await asyncio.wait({task}, timeout=TOAST_WAIT)

    async def refuse_stranger(self) -> None:
        """"No access" to a stranger (a tap is always answered). A stranger who sends one message at
        a time is told every time; from a flood (more of their messages already waiting) only the
        first few and the last are answered."""
        assert self.update.effective_user is not None
        if self.update.callback_query is not None:
            await self.toast(self.t("no_access"))
            return
        processor = self.context.application.update_processor
        behind = processor.waiting(self.chat_id) if isinstance(processor, PerChatUpdateProcessor) else 0
        if behind == 0 or self.rt.strangers.may_tell(self.update.effective_user.id):
            await self.send(self.t("no_access"))


Handler = Callable[[Ctx], Awaitable[None]]


def what_was_asked(update: Update) -> str:
    """What a refused update asked for, for the audit log: the command's name or the kind of update."""
    if update.callback_query is not None:
        return "button"
    text = update.effective_message.text if update.effective_message else None
    if text and text.startswith("/"):
        name = text.split()[0][1:].split("@")[0][:32]
        return "/" + name if name.isascii() and name.replace("_", "").isalnum() else "/?"
    return "message"


async def refuse(ctx: Ctx, sender_id: int, stranger: bool) -> None:
    """The polite refusal (no access at all, or not for this role), audited without content."""
    key = "no_access" if stranger else "admin_only"
    await ctx.rt.db(ctx.rt.door.access.refused, sender_id, what_was_asked(ctx.update))
    await ctx.toast(ctx.t(key))
    await ctx.send(ctx.t(key))


def guarded(action: str | None, groups: bool = False
            ) -> Callable[[Handler], Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]]:
    """Wrap a handler; `action` is the permission it needs (None: anyone, e.g. /start, /help).
    `groups`: it also answers in a group chat, without a user and storing nothing (/nood: 112)."""

    def decorate(handler: Handler) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
        @functools.wraps(handler)
        async def wrapper(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            rt: Runtime = context.bot_data["rt"]
            chat, sender = update.effective_chat, update.effective_user
            if chat is None or sender is None:
                return
            lang = normalise_lang(sender.language_code)
            if chat.type != ChatType.PRIVATE:
                # Say it once per command or tap, never to ordinary group chatter; store nothing.
                ctx = Ctx(rt, update, context, None, lang)
                if groups:   # acute danger advice is for anyone, wherever they ask
                    await handler(ctx)
                    return
                await ctx.toast(ctx.t("private_only"))
                text = update.effective_message.text if update.effective_message else None
                if update.callback_query is None and text and text.startswith("/"):
                    await ctx.send(ctx.t("private_only"))
                return
            try:
                # A cached user costs neither a read (~500-630 µs on SQLite, bench/hot_path.py) nor a
                # hop to the database thread (150-370 µs, bench/update_cost.py); only a miss does.
                # The cache only lets a request through: every privileged use case confirms the role
                # as stored now in its own transaction (NotAllowed below), and a refusal by a cached
                # row is read again, so a role just given counts at once.
                access = rt.door.access
                user = access.cached(sender.id)
                # a stranger refused moments ago is not looked up again (they can only be refused),
                # unless they bring an invitation
                recent_stranger = user is None and rt.strangers.known_stranger(sender.id) and not _redeems(update)
                looked_up = not recent_stranger and (user is None or (action is not None
                                                                       and not access.may(user, action)))
                if looked_up:
                    user = await rt.db(access.user, sender.id)
                    if user is None:
                        rt.strangers.remember(sender.id)
                    else:
                        rt.strangers.forget(sender.id)
                ctx = Ctx(rt, update, context, user, user.lang if user else lang)
                if action is not None and not access.may(user, action):
                    if user is None:
                        if looked_up:   # audited (at most once a minute per person and command, dialogs/access.py)
                            await rt.db(access.refused, sender.id, what_was_asked(update))
                        await ctx.refuse_stranger()
                        return
                    await refuse(ctx, sender.id, False)
                    return
                try:
                    await handler(ctx)
                except NotAllowed:   # taken away since the lookup: on another instance, the command line
                    ctx.user = await rt.db(access.user, sender.id)
                    await refuse(ctx, sender.id, ctx.user is None)
            except Unavailable:
                log.warning("storage unavailable while handling update %s", update.update_id)
                ctx = Ctx(rt, update, context, None, lang)
                await ctx.toast(ctx.t("storage_busy"))
                await ctx.send(ctx.t("storage_busy"))

        return wrapper

    return decorate


def _redeems(update: Update) -> bool:
    """/start with an argument: an invitation code, which must reach the database every time."""
    text = update.message.text if update.message is not None else None
    return bool(text and text.startswith("/start ") and len(text.split()) > 1)
