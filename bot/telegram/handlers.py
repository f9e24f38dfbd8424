"""Telegram handlers: translate updates into use cases of the door and results into messages.

No business rules here: whether a tap counts, what comes next, who may see a case, which cases
are offered and when typed text is a note are decided by dialogs/ (dialogs.app). Each handler
knows which use case an update means and how its result looks in Telegram. Who may run a
command is declared in bot/telegram/commands.py, not here.
"""

from __future__ import annotations

import logging
import re
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.telegram import minimal, sharing
from bot.telegram.callback import Callback, decode
from bot.telegram.guard import Ctx, guarded
from bot.telegram.render import blocks_messages, keyboard, prompt_html
from dialogs.app import Action, BadInput, Block, File, Mode, Redeemed, Reply, User
from dialogs.app.cases import Erased
from dialogs.app.sharing import is_share_token
from dialogs.domain import CODE_ALPHABET

HTML = ParseMode.HTML
log = logging.getLogger("lensbot.telegram")
CAPTIONS = {"image/png": "picture_caption", "application/pdf": "report_caption"}   # a case's report, by type
ERASED_REMEMBERED = 1000   # (chat, code) of recent erasures: a double tap on "Ja, verwijder" is recognised
INVITES_SHOWN = 20   # open invitations listed by /uitnodigingen, each with its revoke button
PROMPT_CODE = re.compile(rf"\b([{CODE_ALPHABET}]{{2}}-[{CODE_ALPHABET}]{{4}})\b")   # "zaak K7-QX3M" in a note prompt


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
        _note_prompt_shown(ctx, reply, message.message_id)
        return
    if prompt is None:
        ctx.rt.last_note_prompt.pop(ctx.chat_id, None)
    if message is not None:
        closed = (message.text_html or "") + (f"\n\n<i>✓ {escape(label, quote=False)}</i>" if label else "")
        await ctx.rt.call(lambda: bot.edit_message_text(closed, ctx.chat_id, message.message_id, parse_mode=HTML))
    await _retire_live_prompt(ctx, keep=message.message_id if message is not None else None)
    blocks, withheld = minimal.shown_blocks(ctx, reply)   # minimal mode: the result only in the web app
    ids: list[int] = []
    if not withheld and "lens_picture" in reply.attachments and ctx.user is not None:
        # the summary's first screen with buttons for the rest (issue 15); the full one is a tap away
        short = await ctx.rt.db(ctx.rt.door.cases.summary, ctx.user, reply.case_code, ctx.lang, True)
        first = next((i for i, b in enumerate(blocks) if b.kind == "summary"), None)
        if short and first is not None:   # what came before it (acute danger, a skipped leefgebied) stays first
            ids += await send_blocks(ctx, blocks[:first])
            ids += await send_short(ctx, reply.case_code, short)
            blocks = tuple(b for b in blocks[first:] if b.kind != "summary")
    ids += await send_blocks(ctx, blocks)
    if withheld:
        try:
            _, link = await minimal.send_link(ctx, "minimal.summary", code=reply.case_code)
            ids += [link.message_id] if link is not None else []
        except Exception as exc:  # as with the picture: a missing link must never stop the conversation
            log.error("web link for a case failed: %s", type(exc).__name__)
    elif "lens_picture" in reply.attachments:
        try:
            await send_report(ctx, reply.case_code, "png")
        except Exception as exc:  # a missing picture must never stop the conversation
            log.error("lens picture for a case failed: %s", type(exc).__name__)
    if prompt is not None:
        sent = await ctx.send(prompt_html(prompt), parse_mode=HTML, reply_markup=markup)
        if sent is not None:
            if markup is not None:
                ctx.rt.live_prompts[ctx.chat_id] = sent.message_id
            _note_prompt_shown(ctx, reply, sent.message_id)
            ids.append(sent.message_id)
    await remember(ctx, [reply.case_code], ids)


async def remember(ctx: Ctx, codes: list[str], message_ids: list[int], kind: str = "chat") -> None:
    """Record the messages sent (or received) for these cases, so /verwijder can delete them too.

    A failure is logged and the chat goes on: the message is out already, and SECURITY.md says
    that a message the bot could not record is one the user removes themselves."""
    if not codes or not message_ids:
        return
    try:
        await ctx.rt.db(ctx.rt.door.cases.sent, codes, ctx.chat_id, message_ids, kind)
    except Exception as exc:
        log.warning("could not record %d message id(s) of a case: %s", len(message_ids), type(exc).__name__)


def _note_prompt_shown(ctx: Ctx, reply: Reply, message_id: int) -> None:
    """Remember which case a prompt that takes typed text belongs to (a reply to it goes there)."""
    if reply.prompt is not None and reply.prompt.accepts_text:
        ctx.rt.note_prompts.remember(ctx.chat_id, message_id, reply.case_code)
        ctx.rt.last_note_prompt[ctx.chat_id] = reply.case_code
    else:   # the latest question takes buttons: typed text is no longer aimed at an earlier note prompt
        ctx.rt.last_note_prompt.pop(ctx.chat_id, None)


async def _retire_live_prompt(ctx: Ctx, keep: int | None) -> None:
    """Take the buttons off the previous question message (they would only be refused as stale)."""
    old = ctx.rt.live_prompts.pop(ctx.chat_id, None)
    if old is not None and old != keep:
        bot = ctx.context.bot
        try:
            await ctx.rt.call(lambda: bot.edit_message_reply_markup(ctx.chat_id, old, reply_markup=None))
        except Exception as exc:  # an old message that cannot be edited any more is fine
            log.info("could not remove an old keyboard: %s", type(exc).__name__)


async def send_blocks(ctx: Ctx, blocks: tuple[Block, ...] | list[Block]) -> list[int]:
    """Send the blocks; the ids of the messages sent."""
    ids = []
    for html in blocks_messages(blocks):
        sent = await ctx.send(html, parse_mode=HTML)
        if sent is not None:
            ids.append(sent.message_id)
    return ids


def short_buttons(ctx: Ctx, code: str) -> InlineKeyboardMarkup:
    """Under a short summary: the full summary, the lens picture and the PDF dossier, one tap each."""
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(ctx.t(f"short_{key}"), callback_data=Callback("m", code, option=option).encode())
        for key, option in (("details", "d"), ("picture", "p"), ("pdf", "f"))]])


async def send_short(ctx: Ctx, code: str, blocks: list[Block]) -> list[int]:
    """A short summary as one message with its buttons; the ids of the messages sent."""
    ids = []
    for html in blocks_messages(blocks):
        sent = await ctx.send(html, parse_mode=HTML, reply_markup=short_buttons(ctx, code))
        if sent is not None:
            ids.append(sent.message_id)
    return ids


async def send_file(ctx: Ctx, file: File, caption: str) -> int | None:
    """A picture as a photo, anything else as a document; the id of the message sent."""
    bot, chat = ctx.context.bot, ctx.chat_id
    upload = InputFile(file.data, filename=file.name)
    if file.picture:
        sent = await ctx.rt.send(lambda: bot.send_photo(chat, upload, caption=caption))
    else:
        sent = await ctx.rt.send(lambda: bot.send_document(chat, upload, caption=caption))
    return sent.message_id if sent is not None else None


def _args(ctx: Ctx) -> list[str]:
    return list(ctx.context.args or [])


async def _code_or_usage(ctx: Ctx, command: str) -> str | None:
    code = ctx.rt.door.cases.code_argument(_args(ctx))
    if code is None:
        await ctx.send(ctx.t("code_usage", command=command))
    return code


async def _not_found(ctx: Ctx, code: str) -> None:
    await ctx.send(ctx.rt.door.cases.not_found(code, ctx.lang))


# -- commands ----------------------------------------------------------------------------
async def start(ctx: Ctx) -> None:
    """/start CODE redeems an invitation; a bare /start welcomes (or says how to get access)."""
    args = _args(ctx)
    if args and is_share_token(args[0]):   # a colleague's share link (bot/telegram/sharing.py)
        await sharing.join(ctx, args[0])
        return
    if args:
        assert ctx.update.effective_user is not None
        result = await ctx.rt.db(ctx.rt.door.access.redeem, args[0], ctx.update.effective_user.id)
        if result.outcome == "confirm":   # a lower role than one has: ask first
            assert result.role is not None
            text = ctx.t("invite_lower", current=role_name(ctx, result.current), role=role_name(ctx, result.role))
            if result.open_cases:
                text += "\n\n" + ctx.t("invite_lower_open", count=result.open_cases, role=role_name(ctx, result.role))
            buttons = InlineKeyboardMarkup([[
                InlineKeyboardButton(ctx.t("invite_continue"),
                                     callback_data=Callback("i", option="y", invite=args[0].strip()).encode()),
                InlineKeyboardButton(ctx.t("invite_keep"),
                                     callback_data=Callback("i", option="n", invite=args[0].strip()).encode()),
            ]])
            await ctx.send(text, reply_markup=buttons)
            return
        await ctx.send(_redeemed_text(ctx, result))
        return
    if ctx.user is None:
        await ctx.refuse_stranger()
        return
    await ctx.send(ctx.t(_for_role(ctx, "welcome", ctx.user)))


def _for_role(ctx: Ctx, key: str, user: User | None) -> str:
    """A text that points to a command: the practice variant for someone who may not start an intake."""
    return key if ctx.rt.door.access.may(user, Action.INTAKE) else f"{key}_training"


def role_name(ctx: Ctx, role: str | None) -> str:
    """A role in the reader's words: "beheerder", "cursist" in Dutch text, not "admin", "trainee"."""
    try:
        return ctx.t(f"role.{role}")
    except KeyError:   # a role added later: its id is better than nothing
        return role or ""


def _redeemed_text(ctx: Ctx, result: Redeemed) -> str:
    if result.outcome == "ok" and result.user is not None:
        return ctx.t(_for_role(ctx, "invite_ok", result.user), role=role_name(ctx, result.user.role))
    if result.outcome == "same":
        return ctx.t("invite_same", role=role_name(ctx, result.current))
    if result.outcome == "already":   # one's own used link, opened again: one has access
        return ctx.t("invite_already", role=role_name(ctx, result.current))
    if result.outcome == "open_cases":
        return ctx.t("invite_open_cases", count=result.open_cases)
    return ctx.t("invite_bad")


async def help_(ctx: Ctx) -> None:
    """The commands this user's role may use, from the command table (imported here: it imports us)."""
    from bot.telegram.commands import role_help
    await ctx.send(role_help(ctx.rt.texts, ctx.lang, ctx.user, ctx.rt.door.access.may))


async def emergency(ctx: Ctx) -> None:
    """Works for anyone at any moment, in a group too, and changes nothing: it only tells what to do.
    In the middle of an intake the current question is asked again below the advice, so the
    buttons are where the eye is (issue 15)."""
    await send_blocks(ctx, ctx.rt.door.cases.emergency(ctx.lang))
    if ctx.user is None or ctx.chat_id not in ctx.rt.live_prompts:
        return
    code = await ctx.rt.db(ctx.rt.door.cases.current, ctx.user)
    if code is not None:
        reply = await ctx.rt.db(ctx.rt.door.cases.resume, ctx.user, code, ctx.lang)
        if reply.prompt is not None and reply.prompt.question_id is not None and not reply.refused:
            await show(ctx, reply)


async def _start(ctx: Ctx, mode: Mode) -> None:
    assert ctx.user is not None
    reply = await ctx.rt.db(ctx.rt.door.cases.start, ctx.user, ctx.lang, mode, ctx.update_key)
    if not reply.duplicate:
        await show(ctx, reply)


async def new_case(ctx: Ctx) -> None:
    await _start(ctx, Mode.FULL)


async def quick_scan(ctx: Ctx) -> None:
    """The two-minute scan for school staff: straight to the first question, no intro tap."""
    await _start(ctx, Mode.QUICK)


async def resume(ctx: Ctx) -> None:
    assert ctx.user is not None
    cases = await ctx.rt.db(ctx.rt.door.cases.resume_choices, ctx.user)
    if not cases:
        await ctx.send(ctx.t(_for_role(ctx, "no_open_case", ctx.user)))
        return
    buttons = [[InlineKeyboardButton(ctx.t("resume_button", code=c.code, count=c.answers),
                                     callback_data=Callback("r", c.code).encode())] for c in cases]
    await ctx.send(ctx.t("choose_case"), reply_markup=InlineKeyboardMarkup(buttons))


async def list_cases(ctx: Ctx) -> None:
    assert ctx.user is not None
    cases = await ctx.rt.db(ctx.rt.door.cases.list, ctx.user)
    if not cases:
        await ctx.send(ctx.t("cases_none"))
        return
    lines = [ctx.t("cases_title")] + [
        ctx.t("case_line", code=c.code, status=ctx.t(f"status.{c.status}"), answers=c.answers,
              updated=c.updated_at.strftime("%Y-%m-%d %H:%M"))
        for c in cases
    ]
    await ctx.send("\n".join(lines))


async def summary(ctx: Ctx) -> None:
    assert ctx.user is not None
    code = await _code_or_usage(ctx, "/samenvatting")
    if code is None:
        return
    if minimal.on(ctx):
        await _link_or_not_found(ctx, "minimal.summary", code)
        return
    blocks = await ctx.rt.db(ctx.rt.door.cases.summary, ctx.user, code, ctx.lang)
    if blocks is None:
        await _not_found(ctx, code)
        return
    await remember(ctx, [code], await send_blocks(ctx, blocks))


async def delete(ctx: Ctx) -> None:
    assert ctx.user is not None
    code = await _code_or_usage(ctx, "/verwijder")
    if code is None:
        return
    c = await ctx.rt.db(ctx.rt.door.cases.deletable, ctx.user, code)
    if c is None:
        await _not_found(ctx, code)
        return
    buttons = InlineKeyboardMarkup([[
        InlineKeyboardButton(ctx.t("delete_yes"), callback_data=Callback("d", c, option="y").encode()),
        InlineKeyboardButton(ctx.t("delete_no"), callback_data=Callback("d", c, option="n").encode()),
    ]])
    await ctx.send(ctx.t("delete_confirm", code=c), reply_markup=buttons)


async def language(ctx: Ctx) -> None:
    buttons = InlineKeyboardMarkup([[
        InlineKeyboardButton("Nederlands", callback_data=Callback("l", option="nl").encode()),
        InlineKeyboardButton("English", callback_data=Callback("l", option="en").encode()),
    ]])
    await ctx.send(ctx.t("lang_choose"), reply_markup=buttons)


async def pause(ctx: Ctx) -> None:
    await ctx.send(ctx.t("paused"))


async def invite(ctx: Ctx) -> None:
    assert ctx.user is not None
    inv = await ctx.rt.db(ctx.rt.door.admin.invite_words, _args(ctx), ctx.user)
    if inv is None:
        await ctx.send(ctx.t("invite_usage"))
        return
    link = f"https://t.me/{ctx.context.bot.username}?start={inv.code}"
    await ctx.send(ctx.t("invite_created", role=role_name(ctx, inv.role), code=inv.code, link=link,
                         expires=inv.expires_at.strftime("%Y-%m-%d %H:%M UTC")))


async def invites(ctx: Ctx) -> None:
    """/uitnodigingen: the open invitations, each with a button that revokes it (admins)."""
    assert ctx.user is not None
    listed = await ctx.rt.db(ctx.rt.door.admin.invites, ctx.user)
    if not listed:
        await ctx.send(ctx.t("invites_none"))
        return
    shown = listed[:INVITES_SHOWN]
    lines = [ctx.t("invites_title")] + [
        ctx.t("invite_line", short=i.code[:6], role=role_name(ctx, i.role), issuer=i.issuer,
              expires=i.expires_at.strftime("%Y-%m-%d %H:%M UTC")) for i in shown]
    buttons = [[InlineKeyboardButton(ctx.t("invite_revoke_button", short=i.code[:6]),
                                     callback_data=Callback("v", invite=i.code).encode())] for i in shown]
    await ctx.send("\n".join(lines), reply_markup=InlineKeyboardMarkup(buttons))


async def send_report(ctx: Ctx, code: str, fmt: str) -> bool:
    """A report of one of the user's own cases: the lens picture (a photo) or the PDF dossier."""
    assert ctx.user is not None
    file = await ctx.rt.render(ctx.rt.door.reports.case, ctx.user, code, fmt, ctx.lang)
    if file is None:
        return False
    code = ctx.rt.door.cases.normalise_code(code)   # as typed ("k7qx3m") -> as the case is named (K7-QX3M)
    sent = await send_file(ctx, file, ctx.t(CAPTIONS[file.mime], code=code))
    await remember(ctx, [code], [sent] if sent is not None else [])
    return True


async def report(ctx: Ctx) -> None:
    code = await _code_or_usage(ctx, "/rapport")
    if code is not None and minimal.on(ctx):
        await _link_or_not_found(ctx, "minimal.report", code)
    elif code is not None and not await send_report(ctx, code, "pdf"):
        await _not_found(ctx, code)


async def _link_or_not_found(ctx: Ctx, key: str, code: str) -> None:
    """Minimal mode: a link to the case in the web app (recorded with the case), or "not found"."""
    found, sent = await minimal.send_link(ctx, key, code=code)
    if not found:
        await _not_found(ctx, code)
    elif sent is not None:
        await remember(ctx, [ctx.rt.door.cases.normalise_code(code)], [sent.message_id])


async def export(ctx: Ctx) -> None:
    assert ctx.user is not None
    if minimal.on(ctx):
        await minimal.send_link(ctx, "minimal.export", "cases")
        return
    file = await ctx.rt.render(ctx.rt.door.reports.export, ctx.user)
    if file is None:
        await ctx.send(ctx.t("cases_none"))
        return
    sent = await send_file(ctx, file, ctx.t("export_caption"))
    if sent is not None:   # a copy of every case in it: erasing any one of them deletes it too
        await remember(ctx, await ctx.rt.db(ctx.rt.door.cases.codes, ctx.user), [sent], "export")


async def stats(ctx: Ctx) -> None:
    """The local picture for admins of a closed month or quarter (`/overzicht 2026-Q1`; default the
    last quarter that ended): text with small counts suppressed, and the chart."""
    assert ctx.user is not None
    period = (_args(ctx) or [None])[0]
    try:
        blocks = await ctx.rt.render(ctx.rt.door.reports.local_picture, ctx.user, "text", ctx.lang, period)
    except BadInput:
        await ctx.send(ctx.t("stats_usage"))
        return
    assert isinstance(blocks, list)
    await send_blocks(ctx, blocks)
    if minimal.on(ctx):   # the counts above are suppressed below 5; the chart is a picture: the web app
        await minimal.send_link(ctx, "minimal.picture", "picture")
        return
    chart = await ctx.rt.render(ctx.rt.door.reports.local_picture, ctx.user, "png", ctx.lang, period)
    assert isinstance(chart, File)
    await send_file(ctx, chart, ctx.t("stats_caption"))


async def reminders(ctx: Ctx) -> None:
    assert ctx.user is not None
    on = await ctx.rt.db(ctx.rt.door.cases.set_reminders, ctx.user, _args(ctx))
    if on is None:
        await ctx.send(ctx.t("reminders_usage"))
        return
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
    if sharing.handles(query.data):   # share wizard, contributor, aanvullen, withdraw a request
        await sharing.on_callback(ctx)
        return
    cb = decode(query.data)
    if cb is None or ctx.user is None or (cb.kind != "l" and not ctx.rt.door.access.may(ctx.user, Action.USE)):
        if ctx.user is None and ctx.update.effective_user is not None:   # a stranger: audited, no content
            await ctx.rt.db(ctx.rt.door.access.refused, ctx.update.effective_user.id, "button")
        await ctx.toast(ctx.t("toast.invalid_button") if ctx.user else ctx.t("no_access"))
        return
    # a message the bot can no longer see (date 0: deleted, or too old) cannot be edited: answer below instead
    message = query.message if isinstance(query.message, Message) and query.message.is_accessible else None
    cases = ctx.rt.door.cases
    if cb.kind == "q":
        assert cb.code is not None and cb.option is not None
        reply = await ctx.rt.db(cases.choose, ctx.user, cb.code, cb.option, cb.step, ctx.lang, ctx.update_key)
        if reply.duplicate:
            await ctx.toast()
            return
        if reply.refused:
            await ctx.toast(reply.toast)
            return
        # "📄 Casus" is not an answer: the question is asked again below the text, without a tick.
        label = None if cb.option == "vignette" else _button_label(message, query.data)
        # the toast runs beside the reply: a slow or failing answerCallbackQuery never holds back the next question
        async with ctx.toasting(ctx.t("toast.saved") if reply.saved or cases.is_answer(cb.option) else None):
            await show(ctx, reply, message, chosen=cb.option, label=label)
    elif cb.kind == "r":
        assert cb.code is not None
        reply = await ctx.rt.db(cases.resume, ctx.user, cb.code, ctx.lang)
        if reply.refused:
            await ctx.toast(reply.toast)
            return
        async with ctx.toasting():
            await show(ctx, reply)
    elif cb.kind == "d":
        assert cb.code is not None
        if cb.option == "y":
            erased = await ctx.rt.db(cases.delete, ctx.user, cb.code)
            if erased is None and (ctx.chat_id, cb.code) in ctx.rt.erased_here:
                await ctx.toast()   # a second tap on "Ja, verwijder": the message keeps saying "verwijderd"
                return
            if erased is None:
                await _answer_in_place(ctx, message, cases.not_found(cb.code, ctx.lang))
                return
            ctx.rt.erased_here[(ctx.chat_id, cb.code)] = None
            while len(ctx.rt.erased_here) > ERASED_REMEMBERED:
                ctx.rt.erased_here.pop(next(iter(ctx.rt.erased_here)))
            text = await _erase_messages(ctx, erased, keep=message.message_id if message is not None else None)
            await sharing.deliver_notices(ctx.rt, ctx.context)   # colleagues who contributed: case closed
        else:
            text = ctx.t("delete_cancelled")
        await _answer_in_place(ctx, message, text)
    elif cb.kind == "l":
        assert cb.option is not None
        await ctx.rt.db(cases.set_language, ctx.user, cb.option)
        ctx.lang = cb.option
        await _answer_in_place(ctx, message, ctx.t("lang_set"))
    elif cb.kind == "i":   # the answer to "this invitation gives you a lower role: continue?"
        assert cb.invite is not None
        if cb.option == "y":
            result = await ctx.rt.db(ctx.rt.door.access.redeem, cb.invite, ctx.user.external_id, confirmed=True)
            text = _redeemed_text(ctx, result)
        else:
            text = ctx.t("invite_kept", role=role_name(ctx, ctx.user.role))
        await _answer_in_place(ctx, message, text)
    elif cb.kind == "m":   # a short summary's buttons: the details, the picture, the PDF
        assert cb.code is not None
        async with ctx.toasting():
            await _short_button(ctx, cb.code, cb.option or "")
    elif cb.kind == "v":   # revoke an invitation from /uitnodigingen (admins, as stored now)
        assert cb.invite is not None
        done = await ctx.rt.db(ctx.rt.door.admin.revoke_invite, cb.invite, ctx.user)
        await _answer_in_place(ctx, None, ctx.t("invite_revoked" if done else "invite_not_open",
                                                short=cb.invite[:6]))


async def _short_button(ctx: Ctx, code: str, option: str) -> None:
    assert ctx.user is not None
    if minimal.on(ctx):   # minimal mode: content only in the web app
        await _link_or_not_found(ctx, "minimal.summary" if option == "d" else "minimal.report", code)
        return
    if option == "d":
        blocks = await ctx.rt.db(ctx.rt.door.cases.details, ctx.user, code, ctx.lang)
        if blocks is None:
            await _not_found(ctx, code)
            return
        await remember(ctx, [code], await send_blocks(ctx, blocks))
    elif not await send_report(ctx, code, "png" if option == "p" else "pdf"):
        await _not_found(ctx, code)


async def _erase_messages(ctx: Ctx, erased: Erased, keep: int | None) -> str:
    """Delete the messages that held an erased case; what to tell the user about them.

    Telegram lets a bot delete a message for 48 hours: older ones are not attempted, and the user
    is asked to clear them. `keep` is the confirmation message, which becomes the answer."""
    bot = ctx.context.bot
    deleted, failed = 0, 0
    for ref in erased.deletable():
        if ref.message_id == keep and str(ref.chat_id) == str(ctx.chat_id):
            continue
        try:
            await ctx.rt.call(lambda ref=ref: bot.delete_message(int(ref.chat_id), ref.message_id))
            deleted += 1
        except BadRequest as exc:
            if "not found" in exc.message.lower():   # gone already (the user deleted it, or another case's erasure)
                continue
            failed += 1
        except TelegramError as exc:
            log.warning("could not delete a message of an erased case: %s", type(exc).__name__)
            failed += 1
    live = ctx.rt.live_prompts.get(ctx.chat_id)
    if live is not None and any(ref.message_id == live and str(ref.chat_id) == str(ctx.chat_id)
                                for ref in erased.messages):
        ctx.rt.live_prompts.pop(ctx.chat_id, None)   # its question is gone: no live buttons for a deleted case
        try:
            await ctx.rt.call(lambda: bot.edit_message_reply_markup(ctx.chat_id, live, reply_markup=None))
        except TelegramError as exc:   # deleted above already: nothing left to edit
            log.info("no keyboard left to remove: %s", type(exc).__name__)
    old = erased.too_old()
    lines = [ctx.t("deleted", code=erased.code)]
    if deleted:
        lines.append(ctx.t("deleted_messages", count=deleted))
    if old or failed:
        lines.append(ctx.t("deleted_messages_left", count=len(old) + failed))
    if any(m.kind == "export" for m in old):
        lines.append(ctx.t("deleted_export_left"))
    return "\n\n".join(lines)


async def _answer_in_place(ctx: Ctx, message: Message | None, text: str) -> None:
    """Acknowledge the tap and replace the message that held the buttons (or answer below it)."""
    async with ctx.toasting():
        if message is not None:
            bot = ctx.context.bot
            await ctx.rt.call(lambda: bot.edit_message_text(text, ctx.chat_id, message.message_id))
        else:
            await ctx.send(text)


@guarded(Action.USE)
async def on_text(ctx: Ctx) -> None:
    """Typed text: the closing note when the case asks for one; otherwise a gentle reminder.

    A reply to a note prompt goes to that prompt's case (or nowhere); other text to the case whose
    note prompt was sent last, else the most recently touched open case (dialogs decides)."""
    message = ctx.update.effective_message
    assert ctx.user is not None and message is not None
    text = message.text or ""
    code, replied = _replied_case(ctx, message)
    if code is None:
        code = ctx.rt.last_note_prompt.get(ctx.chat_id)
    result = await ctx.rt.db(ctx.rt.door.cases.text, ctx.user, text, ctx.lang, ctx.update_key, code, replied)
    if result.kind == "no_case":
        await ctx.send(ctx.t(_for_role(ctx, "no_open_case", ctx.user)))
    elif result.kind == "notice" and result.notice:
        await ctx.send(result.notice)
    elif result.kind == "reply" and result.reply is not None:
        ctx.rt.note_messages.remember(ctx.chat_id, message.message_id, result.reply.case_code)
        # the user's own message holds the note: in a private chat the bot may delete it with the case
        await remember(ctx, [result.reply.case_code], [message.message_id], "note")
        await show(ctx, result.reply)
    elif result.kind == "answer" and result.reply is not None:   # "ja" typed at a question
        ctx.rt.hinted.pop(ctx.chat_id, None)
        await show(ctx, result.reply)
    elif result.kind == "refused" and result.reply is not None:
        live = ctx.rt.live_prompts.get(ctx.chat_id)
        if result.notice is None and live is not None and result.reply.prompt is not None \
                and not result.reply.prompt.accepts_text:
            # the question with its buttons is on screen: one short hint per question, no repeats
            if ctx.rt.hinted.get(ctx.chat_id) != live:
                ctx.rt.hinted[ctx.chat_id] = live
                words = any(o.id == "yes" for o in result.reply.prompt.options)   # typing ja/nee works here
                await ctx.send(ctx.t("typed_hint" if words else "typed_hint_buttons"))
            return
        await ctx.send(result.notice or ctx.t("reminder"))
        await show(ctx, result.reply)


def _replied_case(ctx: Ctx, message: Message) -> tuple[str | None, bool]:
    """The case of the bot's note prompt this message replies to: (code, True); (None, False) if none."""
    prompt = message.reply_to_message
    if prompt is None or prompt.from_user is None or prompt.from_user.id != ctx.context.bot.id:
        return None, False
    code = ctx.rt.note_prompts.get((ctx.chat_id, prompt.message_id))
    if code is None:   # after a restart: the prompt names its case
        match = PROMPT_CODE.search(prompt.text or "")
        code = match.group(1) if match else None
    return code, code is not None


@guarded(Action.USE)
async def on_edited(ctx: Ctx) -> None:
    """An edited message: when it was a note, the new text becomes the note (checked again);
    otherwise the user is told plainly that nothing changed."""
    message = ctx.update.edited_message
    assert ctx.user is not None and message is not None
    code = ctx.rt.note_messages.get((ctx.chat_id, message.message_id))
    if code is None:
        await ctx.send(ctx.t("edit_not_note"))
        return
    reply = await ctx.rt.db(ctx.rt.door.cases.edit_note, ctx.user, code, message.text or "", ctx.lang,
                            ctx.update_key)
    if reply.duplicate:
        return
    if reply.refused:
        await ctx.send(reply.toast or ctx.t("edit_not_note"))
        return
    await show(ctx, reply)


@guarded(None)
async def on_other(ctx: Ctx) -> None:
    """Stickers, documents, photos: not stored, just a pointer to the buttons (an edit that is not a
    note's text: said plainly that nothing changed)."""
    if ctx.user is None:
        await ctx.refuse_stranger()
        return
    await ctx.send(ctx.t("edit_not_note" if ctx.update.edited_message is not None else "reminder"))
