"""Telegram for a shared case (issue 13): asking a colleague, contributing, aanvullen, notices.

An adapter only: every rule is in dialogs/app/sharing.py. This module turns commands and taps into
those use cases and their replies into messages and keyboards. Its taps have callback kinds of
their own, parsed here exactly (anything else is refused as forged):

    s:<draft>:<choice>     a step of the share wizard (the draft is kept in memory, per chat)
    c:<request>:<option>   a contributor's tap (domain, answer "yes:12", finish, combined)
    a:<code>:<option>      aanvullen (scope, answer "yes:12:o", next, finish)
    x:<code>:<request>     withdraw a request (from /verzoeken)

A share link arrives as `/start s_…` (a Telegram deep link); the colleague who opens it first claims it.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections import OrderedDict
from dataclasses import replace
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.telegram import minimal
from bot.telegram.guard import Ctx
from bot.telegram.render import blocks_messages
from bot.telegram.runtime import Runtime
from dialogs.app import Action, BadInput, Block, Line, Prompt, Reply
from dialogs.app.links import content_free
from dialogs.app.sharing import ShareDraft
from dialogs.domain import CODE_ALPHABET

HTML = ParseMode.HTML
log = logging.getLogger("lensbot.telegram")
MAX_BYTES = 64
DRAFTS_KEPT = 1000
_CODE = f"[{CODE_ALPHABET}]{{6}}"
_OPTION = r"[a-z_]{1,12}(?::[A-Za-z0-9_]{1,40}){0,2}"
PATTERNS = {
    "s": re.compile(rf"s:([A-Za-z0-9]{{6}}):({_OPTION})"),
    "c": re.compile(rf"c:([1-9][0-9]{{0,9}}):({_OPTION})"),
    "a": re.compile(rf"a:({_CODE}):({_OPTION})"),
    "x": re.compile(rf"x:({_CODE}):([1-9][0-9]{{0,9}})"),
}
# (chat id, draft key) -> the share request being put together; in memory, like a held note
_drafts: OrderedDict[tuple[int, str], ShareDraft] = OrderedDict()


def handles(data: str | None) -> bool:
    """Whether a tap is one of this module's (its kind letter and an exact match)."""
    if not isinstance(data, str) or len(data) > MAX_BYTES or data[:2] not in ("s:", "c:", "a:", "x:"):
        return False
    try:
        data.encode()
    except UnicodeEncodeError:
        return False
    return bool(PATTERNS[data[0]].fullmatch(data))


def _data(kind: str, key: str, option: str) -> str:
    data = f"{kind}:{key.replace('-', '')}:{option}"
    if len(data.encode()) > MAX_BYTES or not PATTERNS[kind].fullmatch(data):
        raise ValueError(f"callback data does not fit: {data!r}")
    return data


def _keyboard(prompt: Prompt | None, kind: str, key: str) -> InlineKeyboardMarkup | None:
    if prompt is None or not prompt.options:
        return None
    rows: dict[int, list[InlineKeyboardButton]] = {}
    for opt in prompt.options:
        rows.setdefault(opt.row, []).append(InlineKeyboardButton(opt.label, callback_data=_data(kind, key, opt.id)))
    return InlineKeyboardMarkup([rows[r] for r in sorted(rows)])


async def _send_blocks(ctx: Ctx, blocks: tuple[Block, ...] | list[Block], code: str | None = None) -> list[int]:
    ids = []
    for html in blocks_messages(blocks):
        sent = await ctx.send(html, parse_mode=HTML)
        if sent is not None:
            ids.append(sent.message_id)
    if code and ids:   # erasing the case reaches these messages too
        await _remember(ctx, code, ids)
    return ids


async def _remember(ctx: Ctx, code: str, ids: list[int]) -> None:
    try:
        await ctx.rt.db(ctx.rt.door.cases.sent, [code], ctx.chat_id, ids)
    except Exception as exc:   # the message is out; the user removes it themselves (SECURITY.md)
        log.warning("could not record %d message id(s) of a shared case: %s", len(ids), type(exc).__name__)


async def _show(ctx: Ctx, reply: Reply, kind: str, key: str, message: Message | None = None) -> None:
    """New blocks below; the prompt edited in place when the tap came from it and nothing else is said.
    In minimal mode answers and pictures stay out of the chat (the door's content_free decides)."""
    if minimal.on(ctx):
        blocks, withheld = content_free(reply.blocks)
        if withheld:
            blocks = (*blocks, Block((Line(ctx.t("share_minimal_withheld")),), "notice"))
        reply = replace(reply, blocks=blocks)
    markup = _keyboard(reply.prompt, kind, key)
    text = escape(reply.prompt.text, quote=False) if reply.prompt else None
    if message is not None and not reply.blocks and text is not None:
        await ctx.rt.call(lambda: ctx.context.bot.edit_message_text(text, ctx.chat_id, message.message_id,
                                                                    parse_mode=HTML, reply_markup=markup))
        return
    if message is not None:   # take the buttons off the question that was answered
        try:
            await ctx.rt.call(lambda: ctx.context.bot.edit_message_reply_markup(ctx.chat_id, message.message_id,
                                                                                reply_markup=None))
        except Exception as exc:
            log.info("could not remove an old keyboard: %s", type(exc).__name__)
    await _send_blocks(ctx, reply.blocks, reply.case_code or None)
    if text is not None:
        sent = await ctx.send(text, parse_mode=HTML, reply_markup=markup)
        if sent is not None and reply.case_code:
            await _remember(ctx, reply.case_code, [sent.message_id])


def _code(ctx: Ctx) -> str | None:
    return ctx.rt.door.cases.code_argument(list(ctx.context.args or []))


# -- the owner ---------------------------------------------------------------------------------
async def share(ctx: Ctx) -> None:
    """/delen CODE: ask a colleague to add to one of your cases (the wizard, one tap a step)."""
    assert ctx.user is not None
    code = _code(ctx)
    if code is None:
        await ctx.send(ctx.t("code_usage", command="/delen"))
        return
    step = await ctx.rt.db(ctx.rt.door.sharing.begin, ctx.user, code, ctx.lang)
    if step.draft is None or step.prompt is None:
        await ctx.send(ctx.rt.door.cases.not_found(code, ctx.lang))
        return
    key = secrets.token_hex(3)
    _drafts[(ctx.chat_id, key)] = step.draft
    while len(_drafts) > DRAFTS_KEPT:
        _drafts.popitem(last=False)
    await ctx.send(escape(step.prompt.text, quote=False), parse_mode=HTML,
                   reply_markup=_keyboard(step.prompt, "s", key))


async def _wizard(ctx: Ctx, key: str, option: str, message: Message | None) -> None:
    assert ctx.user is not None
    draft = _drafts.get((ctx.chat_id, key))
    if draft is None:
        await ctx.toast(ctx.t("share_draft_gone"))
        return
    try:
        step = await ctx.rt.db(ctx.rt.door.sharing.choose, ctx.user, draft, option, ctx.lang)
    except BadInput:
        await ctx.toast(ctx.t("toast.invalid_button"))
        return
    if step.draft is None:
        _drafts.pop((ctx.chat_id, key), None)
        await ctx.toast(ctx.t("toast.invalid_button"))
        return
    if step.created is not None:
        _drafts.pop((ctx.chat_id, key), None)
        c = step.created
        link = f"https://t.me/{ctx.context.bot.username}?start={c.token}"
        text = ctx.t("share_created", code=c.code, telegram=link, web=c.web_link,
                     expires=c.expires_at.strftime("%Y-%m-%d %H:%M UTC"))
        async with ctx.toasting():
            if message is not None:
                await ctx.rt.call(lambda: ctx.context.bot.edit_message_text(text, ctx.chat_id, message.message_id))
            else:
                await ctx.send(text)
        return
    _drafts[(ctx.chat_id, key)] = step.draft
    async with ctx.toasting():
        await _show(ctx, Reply("", 0, prompt=step.prompt), "s", key, message)


async def requests(ctx: Ctx) -> None:
    """/verzoeken CODE: the requests of one of your cases, each open one with a button to withdraw it."""
    assert ctx.user is not None
    code = _code(ctx)
    if code is None:
        await ctx.send(ctx.t("code_usage", command="/verzoeken"))
        return
    found = await ctx.rt.db(ctx.rt.door.sharing.requests, ctx.user, code, ctx.lang)
    if found is None:
        await ctx.send(ctx.rt.door.cases.not_found(code, ctx.lang))
        return
    if not found:
        await ctx.send(ctx.t("requests_none", code=ctx.rt.door.cases.normalise_code(code)))
        return
    lines = [ctx.t("requests_title", code=ctx.rt.door.cases.normalise_code(code))]
    buttons = []
    for r in found:
        lines.append(ctx.t("request_line", id=r.id, areas=r.areas, domain=r.domain or "–",
                           status=r.status_label, answered=r.answered,
                           total=r.total, basis=r.legal_basis, expires=r.expires_at.strftime("%Y-%m-%d")))
        if r.status in ("open", "claimed", "finished"):
            buttons.append([InlineKeyboardButton(ctx.t("request_revoke_button", id=r.id),
                                                 callback_data=_data("x", ctx.rt.door.cases.normalise_code(code),
                                                                     str(r.id)))])
    await ctx.send("\n".join(lines), reply_markup=InlineKeyboardMarkup(buttons) if buttons else None)


async def amend(ctx: Ctx) -> None:
    """/aanvullen CODE: add to or change the answers of a completed case (kept with their history)."""
    assert ctx.user is not None
    code = _code(ctx)
    if code is None:
        await ctx.send(ctx.t("code_usage", command="/aanvullen"))
        return
    reply = await ctx.rt.db(ctx.rt.door.sharing.amend_start, ctx.user, code, ctx.lang)
    if reply.refused:
        await ctx.send(reply.toast or ctx.t("toast.invalid_button"))
        return
    await _show(ctx, reply, "a", reply.case_code)


async def note(ctx: Ctx) -> None:
    """/notitie CODE text: add a note to a completed case."""
    assert ctx.user is not None
    args = list(ctx.context.args or [])
    if len(args) < 2 or ctx.rt.door.cases.code_argument(args[:1]) is None:
        await ctx.send(ctx.t("note_usage"))
        return
    reply = await ctx.rt.db(ctx.rt.door.sharing.add_note, ctx.user, args[0], " ".join(args[1:]), ctx.lang)
    if reply.refused:
        await ctx.send(reply.toast or ctx.t("note_usage"))
        return
    await _send_blocks(ctx, reply.blocks)
    message = ctx.update.effective_message
    if message is not None:   # the user's own message holds the note: deleting the case reaches it
        await _remember(ctx, reply.case_code, [message.message_id])


# -- the contributor -----------------------------------------------------------------------------
async def join(ctx: Ctx, token: str) -> None:
    """/start s_…: open a share link (claim it, or come back to it)."""
    sender = ctx.update.effective_user
    assert sender is not None
    joined = await ctx.rt.db(ctx.rt.door.sharing.join, "telegram", str(sender.id), token, ctx.lang)
    if joined.outcome != "ok" or joined.reply is None or joined.user is None:
        await ctx.send(joined.message or ctx.t("no_access"))
        return
    ctx.user = joined.user
    ctx.rt.strangers.forget(sender.id)
    await _show(ctx, joined.reply, "c", str(joined.request_id))


async def contributions(ctx: Ctx) -> None:
    """/bijdragen: what you contributed, and a button to go on with each request still open."""
    assert ctx.user is not None
    blocks = await ctx.rt.db(ctx.rt.door.sharing.mine, ctx.user, ctx.lang)
    if minimal.on(ctx):   # what they answered stays out of the chat
        blocks = [*content_free(blocks)[0], Block((Line(ctx.t("share_minimal_withheld")),), "notice")]
    await _send_blocks(ctx, blocks)
    open_ids = await ctx.rt.db(ctx.rt.door.sharing.my_requests, ctx.user)
    if open_ids:
        buttons = [[InlineKeyboardButton(ctx.t("contribution_continue", id=rid), callback_data=_data("c", str(rid),
                                                                                                   "resume"))]
                   for rid in open_ids[:10]]
        await ctx.send(ctx.t("contributions_open"), reply_markup=InlineKeyboardMarkup(buttons))


# -- taps ---------------------------------------------------------------------------------------------
async def on_callback(ctx: Ctx) -> None:
    """A tap of one of this module's keyboards (handlers.on_callback hands it over)."""
    query = ctx.update.callback_query
    assert query is not None and isinstance(query.data, str)
    message = query.message if isinstance(query.message, Message) and query.message.is_accessible else None
    kind = query.data[0]
    match = PATTERNS[kind].fullmatch(query.data)
    assert match is not None
    key, option = match.group(1), match.group(2)
    access = ctx.rt.door.access
    needs = Action.CONTRIBUTE if kind == "c" else Action.CASES
    if ctx.user is None or not access.may(ctx.user, needs):
        if ctx.update.effective_user is not None:   # audited, without content
            await ctx.rt.db(access.refused, ctx.update.effective_user.id, "button")
        await ctx.toast(ctx.t("no_access") if ctx.user is None else ctx.t("toast.invalid_button"))
        return
    sharing = ctx.rt.door.sharing
    if kind == "s":
        await _wizard(ctx, key, option, message)
    elif kind == "c":
        rid = int(key)
        if option == "resume":
            reply = await ctx.rt.db(sharing.prompt, ctx.user, rid, ctx.lang)
            message = None
        else:
            reply = await ctx.rt.db(sharing.answer, ctx.user, rid, option, ctx.lang)
        if reply.refused:
            await ctx.toast(reply.toast)
            if message is not None and reply.reason and reply.reason.startswith("share.link_"):
                await ctx.send(reply.toast or "")   # revoked, expired, closed: said plainly, not only in a toast
            return
        async with ctx.toasting(ctx.t("toast.saved") if option.split(":")[0] in ("yes", "no", "unknown") else None):
            await _show(ctx, reply, "c", key, message)
        if reply.finished and option != "combined":   # the owner hears of it now, not at the next job run
            await deliver_notices(ctx.rt, ctx.context)
    elif kind == "a":
        code = f"{key[:2]}-{key[2:]}"
        reply = await ctx.rt.db(sharing.amend, ctx.user, code, option, ctx.lang, not minimal.on(ctx))
        if reply.refused:
            await ctx.toast(reply.toast)
            return
        async with ctx.toasting():
            await _show(ctx, reply, "a", key, message)
    elif kind == "x":
        code = f"{key[:2]}-{key[2:]}"
        done = await ctx.rt.db(sharing.revoke, ctx.user, code, int(option))
        async with ctx.toasting():
            await ctx.send(ctx.t("request_revoked" if done else "request_not_found", id=option))


# -- notices --------------------------------------------------------------------------------------------
async def deliver_notices(rt: Runtime, context: ContextTypes.DEFAULT_TYPE) -> int:
    """Tell owners that a contribution arrived and contributors that a case was closed (Telegram users)."""
    notices = await rt.db(rt.door.sharing.notices, "telegram")
    for n in notices:
        chat = int(n.external_id)
        await rt.send(lambda chat=chat, text=n.text: context.bot.send_message(chat, text))
    return len(notices)


async def notices_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """The repeating job: notices caused elsewhere (the web, the command line, the retention purge)."""
    rt: Runtime = context.bot_data["rt"]
    await deliver_notices(rt, context)
