"""Telegram handlers for training (issue 14): /oefenen [kort|volledig], /voortgang with its chart,
and /groep for a trainer (their group, its CSV, `/groep uitnodigen` for a trainee invitation).
Adapters only: every rule lives in dialogs.app (cases.practise, cases.progress, training.*)."""

from __future__ import annotations

from bot.telegram.guard import Ctx
from bot.telegram.handlers import _args, send_blocks, send_file, show
from dialogs.app import File

CHART = "voortgang.png"
INVITE_WORDS = {"uitnodigen", "invite"}


async def training(ctx: Ctx) -> None:
    """Continue an open practice case, or start the next vignette: a short round unless asked."""
    assert ctx.user is not None
    args = _args(ctx)
    length = ctx.rt.door.cases.round_length(args[0]) if args else None
    if len(args) > 1 or (args and length is None):
        await ctx.send(ctx.t("training_usage"))
        return
    reply = await ctx.rt.db(ctx.rt.door.cases.practise, ctx.user, ctx.lang, ctx.update_key, length)
    if not reply.duplicate:
        await show(ctx, reply)


async def progress(ctx: Ctx) -> None:
    """The record as text, then the chart of the scores per round (when there is a round)."""
    assert ctx.user is not None
    cases = ctx.rt.door.cases
    blocks = await ctx.rt.db(cases.progress, ctx.user, ctx.lang)
    await send_blocks(ctx, blocks)
    if await ctx.rt.db(cases.has_progress, ctx.user):
        chart = await ctx.rt.db(cases.progress_chart, ctx.user, ctx.lang)
        await send_file(ctx, File(CHART, "image/png", chart, True), ctx.t("progress_chart"))


async def group(ctx: Ctx) -> None:
    """/groep: the practice of the trainees one invited, and its CSV; /groep uitnodigen: a trainee invitation."""
    assert ctx.user is not None
    args = [a.lower() for a in _args(ctx)]
    trainers = ctx.rt.door.training
    if args and args[0] in INVITE_WORDS:
        inv = await ctx.rt.db(trainers.invite, ctx.user)
        link = f"https://t.me/{ctx.context.bot.username}?start={inv.code}"
        await ctx.send(ctx.t("invite_created", role=inv.role, code=inv.code, link=link,
                             expires=inv.expires_at.strftime("%Y-%m-%d %H:%M UTC")))
        return
    if args:
        await ctx.send(ctx.t("group_usage"))
        return
    await send_blocks(ctx, await ctx.rt.db(trainers.group, ctx.user, ctx.lang))
    await send_file(ctx, await ctx.rt.db(trainers.group_csv, ctx.user), ctx.t("group_csv"))
