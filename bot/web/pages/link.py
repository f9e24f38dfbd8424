"""A link from Telegram (minimal mode): `/t/{token}` leads to the case in the web app.

The door decides what a link may do (`door.links`, dialogs/app/links.py); this page only follows
its answer. Signed in as the link's user: straight to the case. That user has a web login: sign in,
and the login leads on to the case. No web login yet: the page lets them make one for that same
user (login name and password; then the second factor, as their role asks), and after that they
see the case. A bad, used or expired link, or one opened while someone else is signed in, gets
one and the same "does not work" page.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from bot.web.guard import LOGIN_STEP, Ctx, page
from bot.web.pages.account import signed_in
from dialogs.app import BadInput
from dialogs.app.links import Opened, link_texts

TOKEN_MAX = 100


def target_path(opened: Opened) -> str:
    """Where the link leads on this site (a case code is fine in a path; nothing else is in it)."""
    if opened.target == "case" and opened.case_code:
        return f"/case/{opened.case_code}/summary"
    return {"picture": "/admin/picture"}.get(opened.target, "/")


def _text(ctx: Ctx, key: str, **params: object) -> str:
    if key.startswith("accounts."):
        return ctx.rt.door.accounts.text(key, ctx.lang, **params)
    return link_texts()(key, ctx.lang, **params)


def _bad(ctx: Ctx) -> Response:
    """One answer for every link that leads nowhere (bad, used, expired, someone else's)."""
    return ctx.page("message.html", status=404, title=_text(ctx, "link.title"),
                    text=_text(ctx, "links.bad", minutes=ctx.rt.door.links.minutes))


def _form(ctx: Ctx, opened: Opened, error: str | None = None, login: str = "", status: int = 200) -> Response:
    return ctx.page("link.html", status=status, lt=lambda key, **p: _text(ctx, key, **p), code=opened.case_code,
                    error=error, login=login)


@page("public")
async def link_page(ctx: Ctx) -> Response:
    token = ctx.path_param("token")[:TOKEN_MAX]
    signed_in = ctx.session.user if ctx.session.stage != "anonymous" else None
    opened = await ctx.rt.db(ctx.rt.door.links.open, token, signed_in)
    if opened is None:
        return _bad(ctx)
    if opened.action == "register":
        return _form(ctx, opened)
    target = target_path(opened)
    if ctx.session.stage == "active":
        return ctx.redirect(target)
    await ctx.rt.db(ctx.rt.door.accounts.remember, ctx.visit.token, target, None)   # the login leads on there
    step = LOGIN_STEP.get(ctx.session.stage, "/login")
    return ctx.redirect("/login?m=needed" if step in ("/", "/login") else step)


@page("public")
async def link_register(ctx: Ctx) -> Response:
    token = ctx.path_param("token")[:TOKEN_MAX]
    if ctx.session.user is not None:   # someone is signed in: this link cannot be theirs (they have a login)
        return _bad(ctx)
    name, password = (ctx.field("login") or "")[:64], ctx.field("password") or ""
    try:
        if password != (ctx.field("password2") or ""):
            raise BadInput("link.mismatch")
        user, opened = await ctx.rt.db(ctx.rt.door.links.register, token, name, password, ctx.lang)
    except BadInput as exc:
        key = str(exc)
        if key == "links.bad":
            return _bad(ctx)
        still = await ctx.rt.db(ctx.rt.door.links.peek, token)
        if still is None:
            return _bad(ctx)
        return _form(ctx, still, error=_text(ctx, key), login=name, status=400)
    await ctx.rt.db(ctx.rt.door.accounts.remember, ctx.visit.token, target_path(opened), None)
    return await signed_in(ctx, user)


routes = [
    Route("/t/{token}", link_page),
    Route("/t/{token}", link_register, methods=["POST"]),
]
