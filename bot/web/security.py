"""Security measures every response and every POST of the web channel gets.

- Headers (`SecurityHeaders`): a strict Content-Security-Policy (only this server's own files, no
  inline script or style, no framing, forms only to itself), X-Frame-Options, no referrer,
  nosniff, and `Cache-Control: no-store` on every page (case content never sits in a browser or
  proxy cache; the back button asks the server again). Static files may be cached.
- CSRF (`csrf_ok`): every POST carries the session's token, as a hidden field or (htmx) the
  X-CSRF-Token header; compared in constant time.
- `same_origin`: the browser says the POST came from our own pages (Sec-Fetch-Site / Origin);
  checked before a form posted with an expired session is kept for after the login.
- `local_path`: return paths are paths on this site, never another site.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/_.\-]*")


class SecurityHeaders:
    """Adds the headers above to every response; no-store on everything but /static/."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in PAGE_HEADERS.items():
                    headers[name] = value
                if not static:
                    headers["cache-control"] = "no-store"
                if https:
                    headers["strict-transport-security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_ok(expected: str, request: Request, form_value: object) -> bool:
    """The form's (or htmx header's) token equals the session's."""
    given = form_value if isinstance(form_value, str) and form_value else request.headers.get(CSRF_HEADER, "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def same_origin(request: Request) -> bool:
    """The browser says this request came from our own pages (modern browsers send
    Sec-Fetch-Site; older ones an Origin header we compare with the request's own host)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc == request.headers.get("host")


def local_path(value: object, default: str = "/") -> str:
    """`value` when it is a plain path on this site ("/case/K7-QX3M"), else `default`."""
    return value if isinstance(value, str) and len(value) < 200 and LOCAL_PATH.fullmatch(value) else default
