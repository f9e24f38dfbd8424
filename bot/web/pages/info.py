"""Pages for anyone, signed in or not: what to do in acute danger, the language switch, and the
accessibility statement (toegankelijkheidsverklaring)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from bot.web.guard import Ctx, page
from bot.web.render import blocks_parts
from bot.web.security import local_path
from bot.web.texts import LANGUAGES


@page("public")
async def emergency(ctx: Ctx) -> Response:
    """Works at any moment and changes nothing: it only says what to do."""
    blocks = await ctx.rt.db(ctx.rt.door.cases.emergency, ctx.lang)
    back = local_path(ctx.request.query_params.get("back"), "/")
    return ctx.page("emergency.html", blocks=blocks_parts(blocks), back=back)


@page("public")
async def language(ctx: Ctx) -> Response:
    """The session's language (and the signed-in user's: Telegram and reports follow it)."""
    lang = ctx.field("lang")
    if lang in LANGUAGES and ctx.visit.token:
        await ctx.rt.db(ctx.rt.door.accounts.set_lang, ctx.visit.token, lang)
    return ctx.redirect(local_path(ctx.field("back"), "/"))


@page("public")
async def accessibility(ctx: Ctx) -> Response:
    paragraphs = [p for p in ctx.t("a11y.body").split("\n") if p.strip()]
    return ctx.page("accessibility.html", paragraphs=paragraphs)


routes = [
    Route("/emergency", emergency),
    Route("/language", language, methods=["POST"]),
    Route("/toegankelijkheid", accessibility),
    Route("/accessibility", accessibility),
]
