"""A person's browser without JavaScript, for tests that need no rendering: plain HTTP with httpx.

It keeps the session cookie itself (httpx, like Python's cookie jar, never sends a `Secure`
cookie over http://, where Chromium does on 127.0.0.1), reads the CSRF token, the step and the
buttons from the page it was given, and can send each request to another `lensbot web` instance
(the cookie is host-wide, as in a browser: one person behind a load balancer). Forms are posted
exactly as a browser posts them: urlencoded, the button's name and value included, with the
Sec-Fetch-Site header a browser sends.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass, field

import httpx
import pyotp

COOKIE = "__Host-lensbot"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
STEP = re.compile(r'name="step" value="(\d+)"')
OPTION = re.compile(r'<button type="submit" name="option" value="([^"]+)"[^>]*>([^<]*)</button>')
SECRET = re.compile(r'<code id="secret" class="secret">([A-Z2-7]+)</code>')
RECOVERY = re.compile(r"<li><code>([A-Z0-9-]{19})</code></li>")
CASE = re.compile(r"/case/([A-Z0-9]+-[A-Z0-9]+)")


@dataclass
class Page:
    status: int
    url: str
    text: str

    @property
    def csrf(self) -> str:
        m = CSRF.search(self.text)
        assert m is not None, self.text[:2000]
        return m.group(1)

    @property
    def step(self) -> int:
        m = STEP.search(self.text)
        assert m is not None, self.text[:2000]
        return int(m.group(1))

    def options(self) -> dict[str, str]:
        """The question's buttons: option id -> the label the person reads."""
        return {v: html.unescape(label).strip() for v, label in OPTION.findall(self.text)}


@dataclass
class WebClient:
    """One person; `bases` are the instances (index 0, 1, …) the requests may go to."""

    bases: list[str]
    token: str | None = None
    page: Page | None = None
    secret: str | None = None
    recovery: list[str] = field(default_factory=list)
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def _headers(self, htmx: bool = False) -> dict[str, str]:
        headers = {"sec-fetch-site": "same-origin"}
        if self.token:
            headers["cookie"] = f"{COOKIE}={self.token}"
        if htmx:
            headers["hx-request"] = "true"
        return headers

    def _keep_cookie(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == COOKIE:
                value = rest.split(";", 1)[0]
                self.token = value or None

    def get(self, path: str, on: int = 0) -> Page:
        """Open a page on instance `on`, following redirects (each hop on that instance)."""
        url = path if path.startswith("http") else self.bases[on] + path
        for _ in range(10):
            r = self.client.get(url, headers=self._headers())
            self._keep_cookie(r)
            if r.status_code in (301, 302, 303, 307) and "location" in r.headers:
                location = r.headers["location"]
                url = location if location.startswith("http") else self.bases[on] + location
                continue
            self.page = Page(r.status_code, str(r.url), r.text)
            return self.page
        raise AssertionError(f"too many redirects from {path}")

    def post_raw(self, path: str, data: dict[str, str], on: int = 0, htmx: bool = False) -> httpx.Response:
        """One POST as the form sends it (no redirect followed)."""
        r = self.client.post(self.bases[on] + path, data=data, headers=self._headers(htmx))
        self._keep_cookie(r)
        return r

    def post(self, path: str, data: dict[str, str], on: int = 0, then: int | None = None) -> Page:
        """Submit a form on instance `on` with the page's CSRF token; the redirect is followed on
        instance `then` (default: the same one), as a load balancer may send it anywhere."""
        assert self.page is not None
        r = self.post_raw(path, {"csrf": self.page.csrf, **data}, on)
        if r.status_code == 303:
            return self.get(r.headers["location"], on if then is None else then)
        self.page = Page(r.status_code, str(r.url), r.text)
        return self.page

    # -- what a person does ------------------------------------------------------------------
    def register(self, link: str, login: str, password: str, on: int = 0, then: int | None = None) -> Page:
        """Open the invitation, choose a login and password; set up the authenticator (the role
        asks for it) and keep the recovery codes. The form goes to instance `on`, what follows to `then`."""
        then = on if then is None else then
        path = link.split("//", 1)[1].split("/", 1)[1]
        self.get("/" + path, on)
        page = self.post("/" + path, {"login": login, "password": password, "password2": password}, on, then)
        if "/enrol" in page.url:
            m = SECRET.search(page.text)
            assert m is not None
            self.secret = m.group(1)
            page = self.post("/enrol", {"code": pyotp.TOTP(self.secret).now()}, then)
            self.recovery = RECOVERY.findall(page.text)
        return page

    def next_code(self) -> str:
        """The authenticator's code of the next 30-second step (accepted, one step either side,
        and never used yet: the current step went to the set-up)."""
        assert self.secret is not None
        return pyotp.TOTP(self.secret).at(int(time.time()) + 30)

    def login(self, login: str, password: str, on: int = 0, then: int | None = None) -> Page:
        """Password on instance `on`, the authenticator's code (when asked) on `then`."""
        then = on if then is None else then
        self.get("/login", on)
        page = self.post("/login", {"login": login, "password": password}, on, then)
        if "/login/code" in page.url:
            page = self.post("/login/code", {"code": self.next_code()}, then, on)
        return page

    def close(self) -> None:
        self.client.close()
