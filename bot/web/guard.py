"""The one wrapper every page of the web channel runs in (like bot/telegram/guard.py).

`@page(stage, action)` does what every page would otherwise repeat: make sure there is a
session (an anonymous one carries the CSRF token and the language), check the CSRF token of
every POST, send someone who is not (fully) signed in to the right step of the login, check the
role for the page (the door decides: `door.access.may`, with the role as stored now), and turn
storage trouble or a refused right into a short page. A POST of an answer whose session has
expired is parked (`accounts.remember`) and the user is sent to log in; after the login it is
applied if its step still matches (pages/account.py).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.web.runtime import Runtime
from bot.web.security import CSRF_FIELD, csrf_ok, same_origin
from bot.web.session import Visit
from bot.web.texts import LANGUAGES, web_texts
from dialogs.app import Action, NotAllowed, Unavailable, User, WebSession

log = logging.getLogger("lensbot.web")
STAGES = ("public", "password", "enrol", "active")
LOGIN_STEP = {"anonymous": "/login", "password": "/login/code", "enrol": "/enrol", "active": "/"}
MAX_FORM_FIELDS = 20
MAX_FIELD = 20_000   # characters: a note is far shorter; anything longer is refused by the dialog anyway


@dataclass
class Ctx:
    """A page's view of one request."""

    request: Request
    rt: Runtime
    visit: Visit
    session: WebSession
    form: FormData | None

    @property
    def user(self) -> User:
        assert self.session.user is not None
        return self.session.user

    @property
    def lang(self) -> str:
        lang = self.session.lang if self.session is not None else "nl"
        return lang if lang in LANGUAGES else "nl"

    @property
    def htmx(self) -> bool:
        """An htmx request (not a history restore): answer with the part of the page that changed."""
        h = self.request.headers
        return h.get("hx-request") == "true" and h.get("hx-history-restore-request") != "true"

    def t(self, key: str, **params: object) -> str:
        return web_texts()(key, self.lang, **params)

    def field(self, name: str) -> str | None:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else None

    def path_param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def page(self, template: str, status: int = 200, headers: dict[str, str] | None = None,
             **context: Any) -> Response:
        return self.rt.templates.TemplateResponse(self.request, template, {**self.common(), **context},
                                                  status_code=status, headers=headers)

    def common(self) -> dict[str, Any]:
        session = self.session
        user = session.user if session is not None and session.stage == "active" else None
        return {
            "t": self.t, "lang": self.lang, "csrf": session.csrf if session is not None else "",
            "user": user, "is_admin": user is not None and self.rt.door.access.may(user, Action.INVITE),
            "here": self.request.url.path, "oidc": self.rt.settings.oidc_enabled,
            "oidc_name": self.rt.settings.oidc_name,
        }

    def message(self, title_key: str, text: str, status: int) -> Response:
        return self.page("message.html", status=status, title=self.t(title_key), text=text)

    def redirect(self, url: str) -> Response:
        """See other (POST/redirect/GET); for htmx a full page load of `url` (HX-Redirect), since a
        followed redirect would put another page's content under this page's address."""
        if self.request.headers.get("hx-request") == "true":   # no fragment: it could be a same-page jump
            return Response(status_code=204, headers={"HX-Redirect": url.split("#", 1)[0]})
        return RedirectResponse(url, status_code=303)


Handler = Callable[[Ctx], Awaitable[Response]]


def page(stage: str = "active", action: Action | None = None, parkable: bool = False) -> Callable[[Handler], Any]:
    """`stage`: the login stage the page is for ("public": anyone); `action`: what the role must
    allow; `parkable`: a POST that arrives with an expired session is kept for after the login."""
    assert stage in STAGES

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            rt: Runtime = request.app.state.rt
            visit: Visit = request.state.visit
            ctx = Ctx(request, rt, visit, visit.session, None)   # type: ignore[arg-type]
            try:
                if request.method == "POST":
                    ctx.form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
                    if any(isinstance(v, str) and len(v) > MAX_FIELD for v in ctx.form.values()):
                        return await _refused(ctx)
                    if visit.session is None:
                        if parkable and visit.old_token is not None and same_origin(request):
                            return await _park(ctx)
                        return await _refused(ctx)
                    if not csrf_ok(visit.session.csrf, request, ctx.form.get(CSRF_FIELD)):
                        return await _refused(ctx)
                ctx.session = await visit.ensure(rt)
                if stage != "public" and ctx.session.stage != stage:
                    return await _elsewhere(ctx)
                if action is not None and not rt.door.access.may(ctx.user, action):
                    return ctx.message("error.title", ctx.t("error.forbidden"), 403)
                return await handler(ctx)
            except NotAllowed:
                return ctx.message("error.title", ctx.t("error.forbidden"), 403)
            except Unavailable as exc:
                log.warning("database unavailable: %s", type(exc).__name__)
                return ctx.message("error.title", ctx.t("error.unavailable"), 503)

        return endpoint

    return wrap


async def _refused(ctx: Ctx) -> Response:
    """A POST without a valid CSRF token (or with a forged, oversized form): nothing happens."""
    log.info("form refused: no valid CSRF token")
    ctx.session = await ctx.visit.ensure(ctx.rt)
    return ctx.message("error.title", ctx.t("error.csrf"), 403)


async def _elsewhere(ctx: Ctx) -> Response:
    """Not at this page's login stage: to the step the session is at; a page asked for without
    being signed in is where the login leads back to."""
    stage = ctx.session.stage
    if stage == "anonymous" and ctx.request.method == "GET":
        await ctx.rt.db(ctx.rt.door.accounts.remember, ctx.visit.token, ctx.request.url.path, None)
        return ctx.redirect("/login?m=needed")
    return ctx.redirect(LOGIN_STEP.get(stage, "/login"))


async def _park(ctx: Ctx) -> Response:
    """An answer posted after the session expired: kept (with its step) in a new anonymous
    session; the login applies it if the case is still at that step."""
    assert ctx.form is not None
    fields = {k: v for k, v in ctx.form.items() if k != CSRF_FIELD and isinstance(v, str)}
    pending = json.dumps({"path": ctx.request.url.path, "form": fields})
    return_to = ctx.request.url.path.rsplit("/", 1)[0] if ctx.request.url.path.count("/") > 2 else "/"
    ctx.session = await ctx.visit.ensure(ctx.rt)
    await ctx.rt.db(ctx.rt.door.accounts.remember, ctx.visit.token, return_to, pending)
    log.info("an answer posted after the session expired is kept for after the login")
    return ctx.redirect("/login?m=expired")
