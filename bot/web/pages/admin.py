"""Admin pages: invitations (create with a role, list, revoke), web users and their roles, and
the local picture. The door checks the role as stored now for every call (and the page guard
shows these pages only to a role that may invite)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from bot.web.guard import Ctx, page
from bot.web.render import blocks_parts
from dialogs.app import ROLES, Action, BadInput

CHANNEL = "web"
INVITES_SHOWN = 50


async def _invites_page(ctx: Ctx, created: object = None, notice: str | None = None, status: int = 200) -> Response:
    listed = await ctx.rt.db(ctx.rt.door.admin.invites, ctx.user)
    return ctx.page("admin_invites.html", status=status, invites=listed[:INVITES_SHOWN], roles=ROLES, created=created,
                    link=f"{ctx.rt.settings.web_base_url}/invite/{created.code}" if created else None,  # type: ignore[attr-defined]
                    notice=notice)


@page(action=Action.INVITE)
async def invites(ctx: Ctx) -> Response:
    return await _invites_page(ctx)


@page(action=Action.INVITE)
async def create_invite(ctx: Ctx) -> Response:
    role = ctx.field("role") or ""
    if role not in ROLES:
        return await _invites_page(ctx, status=400)
    created = await ctx.rt.db(ctx.rt.door.admin.invite, role, ctx.user)
    return await _invites_page(ctx, created=created)


@page(action=Action.INVITE)
async def revoke_invite(ctx: Ctx) -> Response:
    code = (ctx.field("code") or "")[:64]
    done = await ctx.rt.db(ctx.rt.door.admin.revoke_invite, code, ctx.user)
    notice = ctx.t("admin.invite_revoked" if done else "admin.invite_not_open", short=code[:6])
    return await _invites_page(ctx, notice=notice)


async def _users_page(ctx: Ctx, notice: str | None = None, status: int = 200) -> Response:
    users = await ctx.rt.db(ctx.rt.door.admin.list_users, CHANNEL)
    return ctx.page("admin_users.html", status=status, users=users, roles=ROLES, notice=notice)


@page(action=Action.INVITE)
async def users(ctx: Ctx) -> Response:
    return await _users_page(ctx)


@page(action=Action.INVITE)
async def set_role(ctx: Ctx) -> Response:
    login, role = (ctx.field("login") or "")[:64], ctx.field("role") or ""
    if login == ctx.user.external_id:
        return await _users_page(ctx, ctx.t("admin.user_self"), 400)
    known = {u.external_id for u in await ctx.rt.db(ctx.rt.door.admin.list_users, CHANNEL)}
    if login not in known or role not in ROLES:
        return await _users_page(ctx, status=400)
    await ctx.rt.db(ctx.rt.door.admin.add_user, CHANNEL, login, role, ctx.user)
    return await _users_page(ctx, ctx.t("admin.user_saved", login=login, role=ctx.t(f"role.{role}")))


@page(action=Action.INVITE)
async def picture(ctx: Ctx) -> Response:
    period = (ctx.request.query_params.get("period") or "").strip()[:10] or None
    try:
        blocks = await ctx.rt.render(ctx.rt.door.reports.local_picture, ctx.user, "text", ctx.lang, period)
    except BadInput:
        return ctx.page("admin_picture.html", status=400, blocks=[], period=period or "",
                        error=ctx.t("admin.period_bad"))
    assert isinstance(blocks, list)
    return ctx.page("admin_picture.html", blocks=blocks_parts(blocks), period=period or "", error=None)


@page(action=Action.INVITE)
async def picture_chart(ctx: Ctx) -> Response:
    period = (ctx.request.query_params.get("period") or "").strip()[:10] or None
    try:
        chart = await ctx.rt.render(ctx.rt.door.reports.local_picture, ctx.user, "png", ctx.lang, period)
    except BadInput:
        return ctx.message("error.title", ctx.t("admin.period_bad"), 400)
    return Response(chart.data, media_type=chart.mime)  # type: ignore[union-attr]


@page(action=Action.INVITE)
async def admin_home(ctx: Ctx) -> Response:
    return ctx.redirect("/admin/invites")


routes = [
    Route("/admin", admin_home),
    Route("/admin/invites", invites),
    Route("/admin/invites", create_invite, methods=["POST"]),
    Route("/admin/invites/revoke", revoke_invite, methods=["POST"]),
    Route("/admin/users", users),
    Route("/admin/users", set_role, methods=["POST"]),
    Route("/admin/picture", picture),
    Route("/admin/picture.png", picture_chart),
]
