"""The one place where a request meets its session: the cookie in, the cookie out.

`SessionMiddleware` reads the session cookie, asks the door for the live session behind it
(`door.accounts.session`: server-side, in the database, valid on every instance) and leaves a
`Visit` in `request.state.visit`. A page that needs a session (every page with a form) calls
`Visit.ensure()`, which opens an anonymous one (it carries the CSRF token and the language);
a page that signs someone in or out replaces it (`Visit.replace`). The middleware then sets or
clears the cookie on the response. Static files never touch the database.

An expired session's parked return path and form (`accounts.remember`) are fetched once here
(`accounts.expired`) and carried into the new session, so a login brings the user back.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.web.runtime import Runtime
from dialogs.app import Unavailable, WebSession

UNAVAILABLE = PlainTextResponse("De database is even niet bereikbaar. Probeer het zo opnieuw.\n"
                                "The database cannot be reached right now. Try again in a moment.\n",
                                status_code=503, headers={"retry-after": "5"})
COOKIE = "__Host-lensbot"     # __Host-: Secure, Path=/, no Domain: no subdomain can set or read it
MAX_TOKEN = 200               # longer cookie values are not looked up


@dataclass
class Visit:
    """The session of one request, as the middleware found it and as the page leaves it."""

    session: WebSession | None        # None: none yet, unknown or expired
    token: str | None = None          # the cookie value of that session
    old_token: str | None = None      # the cookie of a session that has expired (None: no cookie)
    parked: tuple[str | None, str | None] = (None, None)   # (return_to, pending) of that session
    set_token: str | None = None      # a new cookie value to send
    clear: bool = False               # send an expired cookie

    async def ensure(self, rt: Runtime, lang: str = "nl") -> WebSession:
        """The session, opened (anonymous) when there is none; parked data carried over."""
        if self.session is None:
            self.session = await rt.db(rt.door.accounts.open, lang)
            self.token = self.set_token = self.session.token
            return_to, pending = self.parked
            if return_to or pending:
                await rt.db(rt.door.accounts.remember, self.token, return_to, pending)
                self.session = await rt.db(rt.door.accounts.session, self.token) or self.session
        return self.session

    def replace(self, session: WebSession) -> None:
        """After promote(): a new token (no session fixation)."""
        self.session = session
        self.token = self.set_token = session.token
        self.clear = False

    def end(self) -> None:
        self.session, self.token, self.set_token, self.clear = None, None, None, True


def cookie_header(token: str | None, max_age_seconds: int) -> str:
    """Secure, HttpOnly, SameSite=Lax (a link from a mail client to a case still works; a
    cross-site POST never carries the cookie), Path=/, no Domain (the __Host- prefix)."""
    if token is None:
        return f"{COOKIE}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax"
    return f"{COOKIE}={token}; Path=/; Max-Age={max_age_seconds}; Secure; HttpOnly; SameSite=Lax"


class SessionMiddleware:
    def __init__(self, app: ASGIApp, rt: Runtime) -> None:
        self.app, self.rt = app, rt
        self.max_age = int(rt.settings.session_max_hours * 3600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        token = Request(scope).cookies.get(COOKIE) or None
        if token is not None and len(token) > MAX_TOKEN:
            token = None
        accounts = self.rt.door.accounts
        try:
            session = await self.rt.db(accounts.session, token) if token else None
            visit = Visit(session, token if session is not None else None)
            if token and session is None:
                visit.old_token = token
                visit.parked = await self.rt.db(accounts.expired, token)
                visit.clear = True
        except Unavailable:   # the database is away: say so plainly, keep the cookie
            await UNAVAILABLE(scope, receive, send)
            return
        scope.setdefault("state", {})["visit"] = visit

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if visit.set_token is not None:
                    headers.append("set-cookie", cookie_header(visit.set_token, self.max_age))
                elif visit.clear:
                    headers.append("set-cookie", cookie_header(None, 0))
            await send(message)

        await self.app(scope, receive, send_with_cookie)
