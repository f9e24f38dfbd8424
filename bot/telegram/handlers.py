"""Telegram handlers: translate updates into service calls and replies into messages.

No business rules here: whether a tap counts, what comes next and who may see a case is
decided by dialogs/. Each handler only knows which service call an update means.
"""

from __future__ import annotations

import logging
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode

from bot.telegram.callback import Callback, decode
from bot.telegram.guard import Ctx, guarded
from bot.telegram.render import blocks_messages, keyboard, prompt_html
from dialogs.output import Reply
from dialogs.render import option_event
from dialogs.summary import progress_blocks, red_flag_block
from dialogs.texts import dialog_texts
from storage import accounts, records
from storage.repo import normalise_code

HTML = ParseMode.HTML
log = logging.getLogger("lensbot.telegram")


# -- showing a reply ---------------------------------------------------------------------
async def show(ctx: Ctx, reply: Reply, message: Message | None = None, chosen: str | None = None,
               label: str | None = None) -> None:
    """Edit the question in place when nothing else is said; otherwise close the old question
    (keeping what was chosen visible), send the new messages, and ask the next question below them."""
    bot = ctx.context.bot
    prompt = reply.prompt
    markup = keyboard(prompt, reply.case_code, reply.step) if prompt else None
    in_place = message is not None and not reply.blocks and prompt is not None and chosen != "begin"
    if in_place and prompt is not None and message is not None:
        await ctx.rt.call(lambda: bot.edit_message_text(
            prompt_html(prompt), ctx.chat_id, message.message_id, parse_mode=HTML, reply_markup=markup))
        return
    if message is not None:
        closed = (message.text_html or "") + (f"\n\n<i>✓ {escape(label, quote=False)}</i>" if label else "")
        await ctx.rt.call(lambda: bot.edit_message_text(closed, ctx.chat_id, message.message_id, parse_mode=HTML))
    await _retire_live_prompt(ctx, keep=message.message_id if message is not None else None)
    for html in blocks_messages(reply.blocks):
        await ctx.send(html, parse_mode=HTML)
    if "lens_picture" in reply.attachments:
        try:
            await send_report(ctx, reply.case_code, "png")
        except Exception as exc:  # a missing picture must never stop the conversation
            log.error("lens picture for a case failed: %s", type(exc).__name__)
    if prompt is not None:
        sent = await ctx.send(prompt_html(prompt), parse_mode=HTML, reply_markup=markup)
        if sent is not None and markup is not None:
            ctx.rt.live_prompts[ctx.chat_id] = sent.message_id


async def _retire_live_prompt(ctx: Ctx, keep: int | None) -> None:
    """Take the buttons off the previous question message (they would only be refused as stale)."""
    old = ctx.rt.live_prompts.pop(ctx.chat_id, None)
    if old is not None and old != keep:
        bot = ctx.context.bot
        try:
            await ctx.rt.call(lambda: bot.edit_message_reply_markup(ctx.chat_id, old, reply_markup=None))
        except Exception as exc:  # an old message that cannot be edited any more is fine
            log.info("could not remove an old keyboard: %s", type(exc).__name__)


# -- commands ----------------------------------------------------------------------------
@guarded(None)
async def start(ctx: Ctx) -> None:
    args = ctx.context.args or []
    if args:
        assert ctx.update.effective_user is not None
        user = await ctx.rt.db(ctx.rt.access.redeem, args[0], ctx.update.effective_user.id)
        if user is None:
            await ctx.send(ctx.t("invite_bad"))
            return
        await ctx.send(ctx.t("invite_ok", role=user.role))
        return
    await ctx.send(ctx.t("welcome") if ctx.user else ctx.t("no_access"))


@guarded(None)
async def help_(ctx: Ctx) -> None:
    await ctx.send(ctx.t("help"))


@guarded(None)
async def emergency(ctx: Ctx) -> None:
    """Works for anyone at any moment and changes nothing: it only tells what to do."""
    lens = ctx.rt.service.lens
    block = red_flag_block(lens, ctx.lang, tuple(lens.red_flags))
    for html in blocks_messages([block]):
        await ctx.send(html, parse_mode=HTML)


@guarded("intake")
async def new_case(ctx: Ctx) -> None:
    assert ctx.user is not None
    reply = await ctx.rt.db(ctx.rt.service.start, ctx.user, ctx.lang, update=ctx.update_key)
    if reply.duplicate:
        return
    await show(ctx, reply)


@guarded("intake")
async def quick_scan(ctx: Ctx) -> None:
    """The two-minute scan for school staff: straight to the first question, no intro tap."""
    assert ctx.user is not None
    reply = await ctx.rt.db(ctx.rt.service.start, ctx.user, ctx.lang, "quick", ctx.update_key)
    if not reply.duplicate:
        await show(ctx, reply)


@guarded("training")
async def training(ctx: Ctx) -> None:
    """Continue an open practice case, or start the next vignette."""
    assert ctx.user is not None
    code = await ctx.rt.db(ctx.rt.service.open_case, ctx.user, ("training",))
    if code is not None:
        reply = await ctx.rt.db(ctx.rt.service.resume, ctx.user, code, ctx.lang)
    else:
        reply = await ctx.rt.db(ctx.rt.service.start, ctx.user, ctx.lang, "training", ctx.update_key)
    if not reply.duplicate:
        await show(ctx, reply)


@guarded("training")
async def progress(ctx: Ctx) -> None:
    assert ctx.user is not None
    rows = await ctx.rt.db(ctx.rt.service.progress, ctx.user)
    for html in blocks_messages(progress_blocks(ctx.rt.service.lens, rows, ctx.lang)):
        await ctx.send(html, parse_mode=HTML)


@guarded("use")
async def resume(ctx: Ctx) -> None:
    assert ctx.user is not None
    modes = ("full", "quick") if ctx.rt.access.may(ctx.user, "cases") else ("training",)
    cases = await ctx.rt.db(ctx.rt.store.list_cases, ctx.user.id, "open", modes)
    if not cases:
        await ctx.send(ctx.t("no_open_case"))
        return
    buttons = [[InlineKeyboardButton(f"{c.code} · {c.answers}", callback_data=Callback("r", c.code).encode())]
               for c in cases[:10]]
    await ctx.send(ctx.t("choose_case"), reply_markup=InlineKeyboardMarkup(buttons))


@guarded("cases")
async def list_cases(ctx: Ctx) -> None:
    assert ctx.user is not None
    cases = await ctx.rt.db(ctx.rt.store.list_cases, ctx.user.id)
    if not cases:
        await ctx.send(ctx.t("cases_none"))
        return
    lines = [ctx.t("cases_title")] + [
        ctx.t("case_line", code=c.code, status=ctx.t(f"status.{c.status}"), answers=c.answers,
              updated=c.updated_at.strftime("%Y-%m-%d %H:%M"))
        for c in cases[:50]
    ]
    await ctx.send("\n".join(lines))


def _code_arg(ctx: Ctx, command: str) -> str | None:
    args = ctx.context.args or []
    return args[0] if len(args) == 1 and 6 <= len(args[0]) <= 8 else None


@guarded("cases")
async def summary(ctx: Ctx) -> None:
    assert ctx.user is not None
    code = _code_arg(ctx, "/samenvatting")
    if code is None:
        await ctx.send(ctx.t("code_usage", command="/samenvatting"))
        return
    blocks = await ctx.rt.db(ctx.rt.service.summary, ctx.user, code, ctx.lang)
    if blocks is None:
        await ctx.send(dialog_texts()("refuse.unknown_case", ctx.lang, code=normalise_code(code)))
        return
    for html in blocks_messages(blocks):
        await ctx.send(html, parse_mode=HTML)


@guarded("cases")
async def delete(ctx: Ctx) -> None:
    assert ctx.user is not None
    code = _code_arg(ctx, "/verwijder")
    if code is None:
        await ctx.send(ctx.t("code_usage", command="/verwijder"))
        return
    view = await ctx.rt.db(ctx.rt.service.view, ctx.user, code)
    if view is None:
        await ctx.send(dialog_texts()("refuse.unknown_case", ctx.lang, code=normalise_code(code)))
        return
    c = view.case.code
    buttons = InlineKeyboardMarkup([[
        InlineKeyboardButton(ctx.t("delete_yes"), callback_data=Callback("d", c, option="y").encode()),
        InlineKeyboardButton(ctx.t("delete_no"), callback_data=Callback("d", c, option="n").encode()),
    ]])
    await ctx.send(ctx.t("delete_confirm", code=c), reply_markup=buttons)


@guarded("use")   # only a known user has a language to set: the buttons refuse everyone else anyway
async def language(ctx: Ctx) -> None:
    buttons = InlineKeyboardMarkup([[
        InlineKeyboardButton("Nederlands", callback_data=Callback("l", option="nl").encode()),
        InlineKeyboardButton("English", callback_data=Callback("l", option="en").encode()),
    ]])
    await ctx.send(ctx.t("lang_choose"), reply_markup=buttons)


@guarded("use")   # trainees pause practice cases too (/hervat is theirs as well)
async def pause(ctx: Ctx) -> None:
    await ctx.send(ctx.t("paused"))


@guarded("invite")
async def invite(ctx: Ctx) -> None:
    assert ctx.user is not None
    args = ctx.context.args or []
    role = args[0].lower() if args else "professional"
    if len(args) > 1 or role not in accounts.ROLES:
        await ctx.send(ctx.t("invite_usage"))
        return
    inv = await ctx.rt.db(accounts.create_invite, ctx.rt.store, role, ctx.user.id,
                          actor=f"telegram:{ctx.user.external_id}")
    link = f"https://t.me/{ctx.context.bot.username}?start={inv.code}"
    await ctx.send(ctx.t("invite_created", role=role, code=inv.code, link=link,
                         expires=inv.expires_at.strftime("%Y-%m-%d %H:%M UTC")))


async def send_report(ctx: Ctx, code: str, fmt: str) -> bool:
    """A lens picture (photo) or PDF dossier (document) of one of the user's own cases."""
    assert ctx.user is not None
    data = await ctx.rt.render(ctx.rt.reports.case_report, ctx.user, code, fmt, ctx.lang)
    if data is None:
        return False
    code = normalise_code(code)   # as typed ("k7qx3m") -> as the case is named (K7-QX3M)
    bot, chat = ctx.context.bot, ctx.chat_id
    if fmt == "png":
        caption = ctx.t("picture_caption", code=code)
        await ctx.rt.call(lambda: bot.send_photo(chat, InputFile(data, filename=f"lens-{code}.png"), caption=caption))
    else:
        caption = ctx.t("report_caption", code=code)
        await ctx.rt.call(lambda: bot.send_document(chat, InputFile(data, filename=f"lensbot-{code}.pdf"),
                                                    caption=caption))
    return True


@guarded("cases")
async def report(ctx: Ctx) -> None:
    code = _code_arg(ctx, "/rapport")
    if code is None:
        await ctx.send(ctx.t("code_usage", command="/rapport"))
        return
    if not await send_report(ctx, code, "pdf"):
        await ctx.send(dialog_texts()("refuse.unknown_case", ctx.lang, code=normalise_code(code)))


@guarded("cases")
async def export(ctx: Ctx) -> None:
    assert ctx.user is not None
    if not await ctx.rt.db(ctx.rt.store.list_cases, ctx.user.id):
        await ctx.send(ctx.t("cases_none"))
        return
    data = await ctx.rt.render(ctx.rt.reports.export_all, ctx.user)
    bot, chat = ctx.context.bot, ctx.chat_id
    await ctx.rt.call(lambda: bot.send_document(chat, InputFile(data, filename="lensbot-cases.csv"),
                                                caption=ctx.t("export_caption")))


@guarded("invite")
async def stats(ctx: Ctx) -> None:
    """The local picture for admins: text with counts below 5 suppressed, and the chart."""
    assert ctx.user is not None
    who = f"telegram:{ctx.user.external_id}"
    blocks = await ctx.rt.render(ctx.rt.reports.stats, "text", ctx.lang, None, None, who)
    for html in blocks_messages(blocks):
        await ctx.send(html, parse_mode=HTML)
    chart = await ctx.rt.render(ctx.rt.reports.stats, "png", ctx.lang, None, None, who)
    bot, chat = ctx.context.bot, ctx.chat_id
    await ctx.rt.call(lambda: bot.send_photo(chat, InputFile(chart, filename="lokaal-beeld.png"),
                                             caption=ctx.t("stats_caption")))


@guarded("use")
async def reminders(ctx: Ctx) -> None:
    assert ctx.user is not None
    args = [a.lower() for a in ctx.context.args or []]
    if args not in (["aan"], ["on"], ["uit"], ["off"]):
        await ctx.send(ctx.t("reminders_usage"))
        return
    on = args[0] in ("aan", "on")
    await ctx.rt.db(records.set_reminders, ctx.rt.store, ctx.user.id, on)
    await ctx.send(ctx.t("reminders_on" if on else "reminders_off"))


def _button_label(message: Message | None, data: str | None) -> str | None:
    markup = message.reply_markup if message is not None else None
    if markup is None:
        return None
    return next((b.text for row in markup.inline_keyboard for b in row if b.callback_data == data), None)


# -- taps and text -----------------------------------------------------------------------
@guarded(None)
async def on_callback(ctx: Ctx) -> None:
    query = ctx.update.callback_query
    assert query is not None
    cb = decode(query.data)
    if cb is None or ctx.user is None or (cb.kind != "l" and not ctx.rt.access.may(ctx.user, "use")):
        await ctx.toast(ctx.t("toast.invalid_button") if ctx.user else ctx.t("no_access"))
        return
    # a message the bot can no longer see (date 0: deleted, or too old) cannot be edited: answer below instead
    message = query.message if isinstance(query.message, Message) and query.message.is_accessible else None
    if cb.kind == "q":
        assert cb.code is not None and cb.option is not None
        event, value = option_event(cb.option)
        reply = await ctx.rt.db(ctx.rt.service.handle, ctx.user, cb.code, event, value, cb.step, ctx.lang,
                                ctx.update_key)
        if reply.duplicate:
            await ctx.toast()
            return
        if reply.refused:
            await ctx.toast(reply.toast)
            return
        await ctx.toast(ctx.t("toast.saved") if reply.saved or event == "answer" else None)
        # "📄 Casus" is not an answer: the question is asked again below the text, without a tick.
        label = None if cb.option == "vignette" else _button_label(message, query.data)
        await show(ctx, reply, message, chosen=cb.option, label=label)
    elif cb.kind == "r":
        assert cb.code is not None
        reply = await ctx.rt.db(ctx.rt.service.resume, ctx.user, cb.code, ctx.lang)
        await ctx.toast(reply.toast if reply.refused else None)
        if not reply.refused:
            await show(ctx, reply)
    elif cb.kind == "d":
        assert cb.code is not None
        if cb.option == "y":
            done = await ctx.rt.db(ctx.rt.service.delete, ctx.user, cb.code)
            text = ctx.t("deleted", code=cb.code) if done else dialog_texts()("refuse.unknown_case", ctx.lang,
                                                                                 code=cb.code)
        else:
            text = ctx.t("delete_cancelled")
        await ctx.toast()
        if message is not None:
            bot = ctx.context.bot
            await ctx.rt.call(lambda: bot.edit_message_text(text, ctx.chat_id, message.message_id))
        else:
            await ctx.send(text)
    elif cb.kind == "l":
        assert cb.option is not None
        await ctx.rt.db(ctx.rt.store.set_user_lang, ctx.user.id, cb.option)
        ctx.lang = cb.option
        await ctx.toast()
        if message is not None:
            bot = ctx.context.bot
            await ctx.rt.call(lambda: bot.edit_message_text(ctx.t("lang_set"), ctx.chat_id, message.message_id))
        else:
            await ctx.send(ctx.t("lang_set"))


@guarded("use")
async def on_text(ctx: Ctx) -> None:
    """Typed text is the closing note when the case asks for one; otherwise a gentle reminder."""
    assert ctx.user is not None and ctx.update.effective_message is not None
    code = await ctx.rt.db(ctx.rt.service.open_case, ctx.user)
    if code is None:
        # a redelivered closing note finds its case completed: say nothing the second time
        if await ctx.rt.db(ctx.rt.store.claim_update, *ctx.update_key):
            await ctx.send(ctx.t("no_open_case"))
        return
    text = ctx.update.effective_message.text or ""
    reply = await ctx.rt.db(ctx.rt.service.handle, ctx.user, code, "note", text, None, ctx.lang, ctx.update_key)
    if reply.duplicate:
        return
    if not reply.refused:
        await show(ctx, reply)
        return
    current = await ctx.rt.db(ctx.rt.service.resume, ctx.user, code, ctx.lang)
    if reply.reason == "refuse.note_too_long" and reply.toast:
        await ctx.send(reply.toast)   # typing is right here, only shorter: no "use the buttons"
    else:
        await ctx.send(ctx.t("reminder"))
    await show(ctx, Reply(current.case_code, current.step, prompt=current.prompt))


@guarded(None)
async def on_other(ctx: Ctx) -> None:
    """Stickers, documents, photos: not stored, just a pointer to the buttons."""
    await ctx.send(ctx.t("reminder") if ctx.user else ctx.t("no_access"))
