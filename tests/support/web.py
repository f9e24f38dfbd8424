"""Shared support for the browser tests of the web channel: the real `lensbot web` process on a
free port with its own SQLite file, and Debian's Chromium driven by Playwright.

One server and one browser per test module (module-scoped fixtures): a module's tests are a
story told in order by a few people (an admin from the setup link, a professional and a trainee
from invitations). Helpers do what a person does: open a link, fill in the form by its labels,
type the code the authenticator app would show (pyotp with the secret shown on the page).
Passwords are hashed with argon2-cffi's cheapest profile here (LENSBOT_PASSWORD_HASHING).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import create_engine, text

from tests.support.lensbot_cli import Forked, start_lensbot

CHROMIUM = "/usr/bin/chromium"
SETUP = re.compile(r"(http://\S+/invite/\S+)")
LISTENING = re.compile(r"lensbot web: listening on (http://\S+)")
PASSWORD = "een lange zin als wachtwoord"
START_TIMEOUT = 60.0


@dataclass
class WebServer:
    """A running `lensbot web`: its address, the setup link it printed, its database and its output."""

    process: Forked | subprocess.Popen[bytes]
    base: str
    setup_link: str | None
    db_path: Path
    log: Path

    @property
    def output(self) -> list[str]:
        """What the server printed so far (standard output and error), line by line."""
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)

    def sql(self, statement: str, **params: object) -> list[tuple[object, ...]]:
        """Look into (or change) the database the server uses, as an operator could."""
        engine = create_engine(f"sqlite:///{self.db_path}")
        try:
            with engine.begin() as conn:
                result = conn.execute(text(statement), params)
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            engine.dispose()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_server(tmp: Path, **env: str) -> WebServer:
    """`lensbot web --port 0` on an empty database; waits for its "listening" line.

    The process is forked from the worker's lensbot zygote (tests/support/lensbot_cli.py): the same
    `lensbot web` code path without a second of imports per server."""
    db_path, log = tmp / "web.db", tmp / "web.log"
    environment = {**os.environ, "LENSBOT_DATABASE_URL": f"sqlite:///{db_path}",
                   "LENSBOT_PASSWORD_HASHING": "cheapest", "PYTHONUNBUFFERED": "1", **env}
    environment.pop("LENSBOT_WEB_URL", None)
    process = start_lensbot("web", "--port", "0", env=environment, output=log, cwd=tmp)
    deadline = time.monotonic() + START_TIMEOUT
    pause = 0.005
    while True:
        printed = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        if (listening := LISTENING.search(printed)) is not None:
            setup = SETUP.search(printed)
            return WebServer(process, listening.group(1), setup.group(1) if setup else None, db_path, log)
        if process.poll() is not None:
            raise AssertionError("lensbot web stopped before listening:\n" + printed)
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("lensbot web did not start:\n" + printed)
        time.sleep(pause)
        pause = min(pause * 1.5, 0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    running = start_server(tmp_path_factory.mktemp("web"))
    try:
        yield running
    finally:
        running.stop()
        log = "".join(running.output)
        assert "Traceback" not in log, log


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


# -- what a person does --------------------------------------------------------------------------
@dataclass
class Person:
    """Someone with a browser context of their own (cookies), their login and TOTP secret."""

    login: str
    context: object
    page: object
    secret: str | None = None
    recovery: list[str] = field(default_factory=list)

    def code(self) -> str:
        """What the authenticator app shows now; each 30-second step is accepted once, so a
        second login in the same step uses a recovery code instead (see `second_factor`)."""
        assert self.secret is not None
        return pyotp.TOTP(self.secret).now()


def register(browser: object, link: str, login: str, password: str = PASSWORD, **context: object) -> Person:
    """Open an invitation link, choose a login name and password, and (when the role asks for it)
    set up the authenticator app and keep the recovery codes."""
    ctx = browser.new_context(**context)   # type: ignore[attr-defined]
    page = ctx.new_page()
    page.goto(link)
    person = Person(login, ctx, page)
    page.get_by_label("Inlognaam").fill(login)
    page.get_by_label("Wachtwoord", exact=True).fill(password)
    page.get_by_label("Wachtwoord nog een keer").fill(password)
    page.get_by_role("button", name="Account maken").click()
    if "/enrol" in page.url:
        person.secret = page.locator("#secret").inner_text().strip()
        page.get_by_label("Code uit de app (6 cijfers)").fill(person.code())
        page.get_by_role("button", name="Bevestigen").click()
        person.recovery = [c.strip() for c in page.locator("#recovery-codes li").all_inner_texts()]
        page.get_by_role("link", name="Ik heb ze bewaard, verder").click()
    return person


def login(person: Person, base: str, password: str = PASSWORD) -> None:
    """Log in with password and (when set up) a recovery code: the TOTP step of the set-up may
    still be the current one, and a step is accepted once."""
    page = person.page
    if "/login" not in page.url:
        page.goto(f"{base}/login")
    page.get_by_label("Inlognaam").fill(person.login)
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()
    if "/login/code" in page.url:
        page.get_by_label("Code").fill(person.recovery.pop())
        page.get_by_role("button", name="Controleren").click()


def invite(admin: Person, base: str, role: str) -> str:
    """The admin makes an invitation on the admin page; the link it shows."""
    page = admin.page
    page.goto(f"{base}/admin/invites")
    page.get_by_label("Rol").select_option(role)
    page.get_by_role("button", name="Uitnodiging maken").click()
    return page.locator("#invite-link").inner_text().strip()


def labels(page: object) -> list[str]:
    """The buttons the question offers, as the person sees them."""
    return [t.strip() for t in page.locator("form.question button").all_inner_texts()]   # type: ignore[attr-defined]


# The question the page shows, read in one round trip: its step and its buttons' labels (innerText,
# as all_inner_texts() reads them). As a wait: false while the step `old` is still shown or the
# page is still being parsed (an answer without htmx loads a whole page).
_QUESTION = """old => {
  if (document.readyState === 'loading') return false;
  if (old !== null && document.querySelector(`input[name=step][value="${CSS.escape(old)}"]`)) return false;
  const step = document.querySelector('input[name=step]');
  return {step: step ? step.value : null,
          labels: Array.from(document.querySelectorAll('form.question button'), b => b.innerText.trim())};
}"""


def question(page: object) -> tuple[str | None, list[str]]:
    """The step of the question the page shows (None: no question) and the labels of its buttons,
    once the page has been parsed (a click that loads a new page may still be loading it)."""
    state = page.wait_for_function(_QUESTION, arg=None).json_value()   # type: ignore[attr-defined]
    return state["step"], state["labels"]


def _click(page: object, label: str, step: str | None) -> tuple[str | None, list[str]]:
    """Click the button labelled `label` of the question at `step`; the next question (step, labels)
    once the page no longer shows that step: one wait that also reads what follows, where a
    wait for the old step to go and two reads after it cost three round trips to the browser."""
    page.locator("form.question button", has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).click()  # type: ignore[attr-defined]
    # the page (swapped in by htmx, or loaded anew without it) no longer shows that step
    state = page.wait_for_function(_QUESTION, arg=step).json_value()   # type: ignore[attr-defined]
    return state["step"], state["labels"]


def click_answer(page: object, label: str) -> list[str]:
    """Click the question's button with exactly this label and wait for the next page state; the
    labels of the buttons that page offers."""
    step, _ = question(page)
    return _click(page, label, step)[1]


def answer_until(page: object, stop: str, choose: tuple[str, ...] = ("Nee",), limit: int = 200) -> int:
    """Click the first of `choose` the question offers until a button labelled `stop` shows (or
    there is no question any more); how many clicks it took."""
    step, offered = question(page)
    for clicks in range(limit):
        if stop in offered or not offered:
            return clicks
        step, offered = _click(page, next(c for c in choose if c in offered), step)
    raise AssertionError(f"no {stop} after {limit} answers")


# -- axe-core ---------------------------------------------------------------------------------------
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
               "resultTypes": ["violations"]}   # WCAG 2.1 A and AA, and axe's best practices

# axe.run in the page, handing back only what a report names (rule, impact, help, the first three
# nodes): its whole result (every rule that passed or did not apply) costs as much again to
# serialise and carry over as the run itself. null: axe-core is not in the page yet.
AXE_RUN = """options => typeof axe === 'undefined' ? null : axe.run(options).then(r => r.violations.map(
  v => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map(n => n.target)})))"""


def axe_script() -> str:
    """axe-core as axe-playwright-python ships it (the same file its Axe().run injects)."""
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


def axe_in_every_page(context: object) -> None:
    """axe-core in every page the context opens (an init script, as Playwright's evaluate is: no
    Content-Security-Policy applies), sent to the browser once rather than its 570 kB with every
    check: for a context most of whose pages are checked."""
    context.add_init_script(axe_script())   # type: ignore[attr-defined]


def axe_violations(page: object, options: dict[str, object] | None = None) -> list[dict[str, object]]:
    """axe-core's violations on the page as it is now (`options`: AXE_OPTIONS when None); axe-core
    is injected first when the page does not have it."""
    options = AXE_OPTIONS if options is None else options
    found = page.evaluate(AXE_RUN, options)   # type: ignore[attr-defined]
    if found is None:
        page.evaluate(axe_script())   # type: ignore[attr-defined]
        found = page.evaluate(AXE_RUN, options)   # type: ignore[attr-defined]
    return found
