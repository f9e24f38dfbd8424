"""Signing in and out, accounts from invitation links, setting up the second factor, and the
account page (the login name, the optional second factor for trainees, sign out).

The rules (passwords, TOTP, throttling, sessions) are the door's (`door.accounts`, see
dialogs/app/accounts.py); these pages ask for what it needs and show what it says. Every step up
(password, second factor, new account) replaces the session (`promote`: a new cookie). After the
login the user goes back to where they were (`return_to`), and an answer posted after the
session expired (`pending`, parked by bot/web/guard.py) is applied if its step still matches.
"""

from __future__ import annotations

import json
import logging

from starlette.responses import Response
from starlette.routing import Route

from bot.web.guard import Ctx, page
from bot.web.pages.cases import apply_answer, keep
from bot.web.security import local_path
from dialogs.app import BadInput, TotpSetup, User

log = logging.getLogger("lensbot.web")
LOGIN_NOTICES = {"expired": "login.expired", "needed": "login.needed", "logout": "logout.done"}


def _address(ctx: Ctx) -> str:
    """The client's address (uvicorn takes it from X-Forwarded-For only from a trusted proxy)."""
    return ctx.request.client.host if ctx.request.client else "?"


def _error(ctx: Ctx, key: str, **params: object) -> str:
    return ctx.rt.door.accounts.text(key, ctx.lang, **params)


# -- login ------------------------------------------------------------------------------------
@page("public")
async def login_page(ctx: Ctx) -> Response:
    if ctx.session.stage == "active":
        return ctx.redirect("/")
    notice = LOGIN_NOTICES.get(ctx.request.query_params.get("m", ""))
    return ctx.page("login.html", notice=ctx.t(notice) if notice else None, error=None, login="")


@page("public")
async def login(ctx: Ctx) -> Response:
    accounts = ctx.rt.door.accounts
    name = (ctx.field("login") or "")[:64]
    result = await ctx.rt.db(accounts.login, name, ctx.field("password") or "", _address(ctx))
    if result.wait_seconds:
        return ctx.page("login.html", status=429, error=_error(ctx, "accounts.throttled", seconds=result.wait_seconds),
                        notice=None, login=name)
    if result.user is None:
        return ctx.page("login.html", status=401, error=_error(ctx, "accounts.login_failed"), notice=None, login=name)
    if result.second_factor:
        return await _promote(ctx, result.user, "password")
    return await signed_in(ctx, result.user)


@page("password")
async def code_page(ctx: Ctx) -> Response:
    return ctx.page("login_code.html", error=None)


@page("password")
async def code(ctx: Ctx) -> Response:
    result = await ctx.rt.db(ctx.rt.door.accounts.second_factor, ctx.user, ctx.field("code") or "", _address(ctx))
    if result.wait_seconds:
        return ctx.page("login_code.html", status=429,
                        error=_error(ctx, "accounts.throttled", seconds=result.wait_seconds))
    if result.user is None:
        return ctx.page("login_code.html", status=401, error=_error(ctx, "accounts.second_factor_failed"))
    return await _promote(ctx, result.user, "active")


async def signed_in(ctx: Ctx, user: User) -> Response:
    """Password (and no second factor yet): set it up first when the role asks for it."""
    needs = await ctx.rt.db(ctx.rt.door.accounts.needs_totp, user)
    return await _promote(ctx, user, "enrol" if needs else "active")


async def _promote(ctx: Ctx, user: User, stage: str) -> Response:
    session = await ctx.rt.db(ctx.rt.door.accounts.promote, ctx.visit.token or "", user, stage)
    ctx.visit.replace(session)
    return ctx.redirect({"password": "/login/code", "enrol": "/enrol"}.get(stage, "/continue"))


@page()
async def after_login(ctx: Ctx) -> Response:
    """Back where the user was; an answer parked when the session expired is applied now (the
    door refuses it if the case moved on meanwhile, and the page then says so)."""
    session = ctx.session
    target = local_path(session.return_to, "/")
    if session.return_to or session.pending:
        await ctx.rt.db(ctx.rt.door.accounts.remember, ctx.visit.token, None, None)
    parked = _parked_answer(session.pending)
    if parked is not None:
        code, form = parked
        reply = await apply_answer(ctx, code, form.get("option"), form.get("step"), form.get("text"))
        if not reply.refused:
            await keep(ctx, reply.case_code, reply.step, reply.blocks, None)
            target = f"/case/{reply.case_code}/summary" if reply.finished and reply.mode != "training" \
                else f"/case/{reply.case_code}"
        elif reply.reason == "refuse.unknown_case":   # not this user's case (someone else signed in here)
            target = "/"
        else:
            current = await ctx.rt.db(ctx.rt.door.cases.resume, ctx.user, code, ctx.lang)
            await keep(ctx, current.case_code, current.step, (), reply.toast)
            target = f"/case/{current.case_code}"
    return ctx.redirect(target)


def _parked_answer(pending: str | None) -> tuple[str, dict[str, str]] | None:
    """(case code, form fields) of a parked answer, or None."""
    try:
        data = json.loads(pending) if pending else None
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("form"), dict):
        return None
    parts = str(data.get("path", "")).split("/")
    if len(parts) != 4 or parts[1] != "case" or parts[3] != "answer":
        return None
    form = {k: v for k, v in data["form"].items() if isinstance(k, str) and isinstance(v, str)}
    return parts[2], form


@page("public")
async def logout(ctx: Ctx) -> Response:
    if ctx.visit.token:
        await ctx.rt.db(ctx.rt.door.accounts.end, ctx.visit.token)
    ctx.visit.end()
    return ctx.redirect("/login?m=logout")


# -- invitation links -----------------------------------------------------------------------------
@page("public")
async def invite_page(ctx: Ctx) -> Response:
    info = await ctx.rt.db(ctx.rt.door.accounts.invitation, ctx.path_param("code")[:64])
    if info is None:
        return ctx.message("invite.title", _error(ctx, "accounts.invite_bad"), 404)
    return ctx.page("invite.html", role=ctx.t(f"role.{info.role}"), error=None, login=info.login or "",
                    fixed_login=info.login is not None)


@page("public")
async def register(ctx: Ctx) -> Response:
    accounts = ctx.rt.door.accounts
    invite = ctx.path_param("code")[:64]
    info = await ctx.rt.db(accounts.invitation, invite)
    if info is None:
        return ctx.message("invite.title", _error(ctx, "accounts.invite_bad"), 404)
    name, password = (ctx.field("login") or "")[:64], ctx.field("password") or ""
    error = None
    if password != (ctx.field("password2") or ""):
        error = ctx.t("invite.mismatch")
    else:
        try:
            user = await ctx.rt.db(accounts.register, invite, name, password, ctx.lang)
        except BadInput as exc:
            error = _error(ctx, str(exc))
        else:
            return await signed_in(ctx, user)
    return ctx.page("invite.html", status=400, role=ctx.t(f"role.{info.role}"), error=error, login=name,
                    fixed_login=info.login is not None)


# -- second factor set-up --------------------------------------------------------------------------
async def _setup(ctx: Ctx) -> TotpSetup:
    """The secret being set up: the door keeps a pending one, so a reload or a mistyped code shows
    the same QR code the user just scanned."""
    return await ctx.rt.db(ctx.rt.door.accounts.totp_start, ctx.user)


@page("enrol")
async def enrol_page(ctx: Ctx) -> Response:
    return ctx.page("enrol.html", setup=await _setup(ctx), error=None)


@page("enrol")
async def enrol(ctx: Ctx) -> Response:
    try:
        codes = await ctx.rt.db(ctx.rt.door.accounts.totp_confirm, ctx.user, ctx.field("code") or "")
    except BadInput as exc:
        return ctx.page("enrol.html", status=400, setup=await _setup(ctx), error=_error(ctx, str(exc)))
    session = await ctx.rt.db(ctx.rt.door.accounts.promote, ctx.visit.token or "", ctx.user, "active")
    ctx.visit.replace(session)
    ctx.session = session
    return ctx.page("recovery.html", codes=codes)


# -- the account page: who am I, the second factor (optional for trainees), sign out -----------
@page()
async def account_page(ctx: Ctx) -> Response:
    info = await ctx.rt.db(ctx.rt.door.accounts.account_info, ctx.user)
    if info is None:
        return ctx.message("error.title", ctx.t("error.not_found"), 404)
    return ctx.page("account.html", info=info, role=ctx.t(f"role.{ctx.user.role}"))


@page()
async def account_totp_page(ctx: Ctx) -> Response:
    """Set up the authenticator app by choice (trainees; the roles that must have one did it at
    their first login): the same QR code page and door calls as the required set-up."""
    try:
        setup = await _setup(ctx)
    except BadInput:   # set up already (or signs in through the provider)
        return ctx.redirect("/account")
    return ctx.page("enrol.html", setup=setup, error=None, action="/account/totp")


@page()
async def account_totp(ctx: Ctx) -> Response:
    try:
        codes = await ctx.rt.db(ctx.rt.door.accounts.totp_confirm, ctx.user, ctx.field("code") or "")
    except BadInput as exc:
        try:
            setup = await _setup(ctx)
        except BadInput:   # set up already (another tab), or signs in through the provider
            return ctx.redirect("/account")
        return ctx.page("enrol.html", status=400, setup=setup, error=_error(ctx, str(exc)), action="/account/totp")
    session = await ctx.rt.db(ctx.rt.door.accounts.promote, ctx.visit.token or "", ctx.user, "active")
    ctx.visit.replace(session)   # a stronger login from now on: a new cookie
    ctx.session = session
    return ctx.page("recovery.html", codes=codes)


routes = [
    Route("/account", account_page),
    Route("/account/totp", account_totp_page),
    Route("/account/totp", account_totp, methods=["POST"]),
    Route("/login", login_page),
    Route("/login", login, methods=["POST"]),
    Route("/login/code", code_page),
    Route("/login/code", code, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/continue", after_login),
    Route("/invite/{code}", invite_page),
    Route("/invite/{code}", register, methods=["POST"]),
    Route("/enrol", enrol_page),
    Route("/enrol", enrol, methods=["POST"]),
]
