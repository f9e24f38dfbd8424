"""The web application: routes, middleware and templates, built around one door.

Middleware, outermost first: security headers on every response (bot/web/security.py), then the
session behind the cookie (bot/web/session.py). Every page runs in bot/web/guard.py's `@page`.
Static files (the stylesheet, htmx, one small script) are sent gzipped: 62 KB of page becomes
about 25 KB on the wire. Pages are not compressed: they carry the CSRF token (BREACH).
"""

from __future__ import annotations

import importlib
import importlib.util
from http import HTTPStatus
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from bot.web.guard import Ctx, page
from bot.web.pages import account, admin, cases, info, link, sharing, training
from bot.web.runtime import Runtime
from bot.web.security import SecurityHeaders
from bot.web.session import SessionMiddleware
from dialogs.app import Door

HERE = Path(__file__).parent


@page("public")
async def _missing(ctx: Ctx) -> Response:
    return ctx.message("error.title", ctx.t("error.not_found"), 404)


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    if status != 404 or request.url.path.startswith("/static/") or "visit" not in request.scope.get("state", {}):
        return Response(HTTPStatus(status).phrase, status_code=status, media_type="text/plain")
    return await _missing(request)


def extension_routes() -> list[BaseRoute]:
    """Routes of optional modules that come first: single sign-on (bot/web/oidc.py, `routes`,
    with /login/sso and its callback) replaces the placeholder in pages/account.py when it exists."""
    if importlib.util.find_spec("bot.web.oidc") is None:
        return []
    return list(importlib.import_module("bot.web.oidc").routes)


def create_app(door: Door) -> Starlette:
    rt = Runtime(door)
    rt.templates = Jinja2Templates(directory=HERE / "templates")
    routes = [*extension_routes(), *account.routes, *cases.routes, *admin.routes, *info.routes, *link.routes,
              *sharing.routes, *training.routes,
              Mount("/static", GZipMiddleware(StaticFiles(directory=HERE / "static")), name="static")]
    app = Starlette(routes=routes,
                    middleware=[Middleware(SecurityHeaders), Middleware(SessionMiddleware, rt=rt)],
                    exception_handlers={HTTPException: _not_found})
    app.state.rt = rt
    return app
