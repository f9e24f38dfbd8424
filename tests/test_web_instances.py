"""Two `lensbot web` processes on one PostgreSQL database, one person going back and forth.

Behind a load balancer a person's requests land on any instance: the sign-up on one and the
authenticator step on the other, an answer posted to one and the page it redirects to served by
the other. Nothing may depend on which: the session, the CSRF token, the step check and what an
answer showed (the acute-danger advice without JavaScript) all live in the database. A double
submit that reaches both instances at the same moment is applied once; a stale form changes
nothing and gets the notice. The person is plain HTTP without JavaScript (tests/support/
web_client.py); the browser tests are tests/test_web.py. Needs LENSBOT_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, text

from dialogs.texts import dialog_texts
from tests.conftest import POSTGRES_URL, _postgres_schema_url
from tests.support.lensbot_cli import run_lensbot
from tests.support.web import PASSWORD, WebServer, start_server
from tests.support.web_client import CASE, Page, WebClient

pytestmark = [pytest.mark.skipif(not POSTGRES_URL, reason="LENSBOT_TEST_POSTGRES_URL is not set"),
              pytest.mark.slow(seconds=9)]
A, B = 0, 1
ANSWERS = ("yes", "no", "unknown")   # options that store an answer (an age choice does too)
ACUTE = html.escape(dialog_texts()("red_flag.title", "nl"), quote=True)
STALE = "eerdere vraag"              # dialogs/texts.yaml refuse.stale: "… hoort bij een eerdere vraag …"


class Database:
    """The shared database, as an operator looks into it."""

    def __init__(self, url: str) -> None:
        self.url = url

    def scalar(self, statement: str, **params: object) -> object:
        engine = create_engine(self.url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with engine.begin() as conn:
                return conn.execute(text(statement), params).scalar_one()
        finally:
            engine.dispose()

    def answers(self, code: str) -> tuple[int, int]:
        """(rows in answers, rows in answer_log) of a case."""
        answers = self.scalar("SELECT count(*) FROM answers a JOIN cases c ON c.id = a.case_id WHERE c.code = :c",
                              c=code)
        logged = self.scalar("SELECT count(*) FROM answer_log a JOIN cases c ON c.id = a.case_id WHERE c.code = :c",
                             c=code)
        return int(answers), int(logged)   # type: ignore[call-overload]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    yield from _postgres_schema_url()


@pytest.fixture(scope="module")
def instances(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[WebServer]]:
    """`lensbot db upgrade` once (README: deploying several instances), then two instances."""
    env = dict(os.environ, LENSBOT_DATABASE_URL=pg_url)
    done = run_lensbot("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    servers: list[WebServer] = []
    try:
        for name in ("a", "b"):
            servers.append(start_server(tmp_path_factory.mktemp(f"web-{name}"), LENSBOT_DATABASE_URL=pg_url))
        yield servers
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            log = "".join(server.output)
            assert "Traceback" not in log, log


@pytest.fixture(scope="module")
def anne(instances: list[WebServer]) -> Iterator[WebClient]:
    person = WebClient([s.base for s in instances])
    yield person
    person.close()


@pytest.fixture(scope="module")
def db(pg_url: str) -> Database:
    return Database(pg_url)


def case_code(page: Page) -> str:
    m = CASE.search(page.url)
    assert m is not None, page.url
    return m.group(1)


def answer(person: WebClient, code: str, option: str, on: int, then: int) -> Page:
    """Click a button of the question shown: the POST on `on`, the redirected GET on `then`."""
    assert person.page is not None
    return person.post(f"/case/{code}/answer", {"option": option, "step": str(person.page.step)}, on, then)


def test_signing_up_and_in_across_instances(instances: list[WebServer], anne: WebClient) -> None:
    a, b = instances
    # Each start on an empty database prints a setup link and voids the one before: B's holds.
    assert a.setup_link and b.setup_link and a.setup_link != b.setup_link
    assert anne.register(a.setup_link, "anne", PASSWORD, on=A).status == 404
    page = anne.register(b.setup_link, "anne", PASSWORD, on=A, then=B)   # the form on A, the app set up on B
    assert page.status == 200 and len(anne.recovery) == 10                # the recovery codes, shown once
    assert "Ingelogd als anne" in anne.get("/continue", A).text
    anne.post("/logout", {}, B, A)
    assert anne.get("/", A).url.endswith("/login?m=needed")
    page = anne.login("anne", PASSWORD, on=A, then=B)   # password on A, authenticator code on B
    assert page.status == 200 and "Ingelogd als anne" in page.text
    assert "Ingelogd als anne" in anne.get("/", A).text and "Ingelogd als anne" in anne.get("/", B).text


def test_acute_advice_without_javascript_survives_the_redirect_to_another_instance(anne: WebClient,
                                                                                   db: Database) -> None:
    page = anne.post("/start", {"mode": "full"}, A, B)
    code = case_code(page)
    answer(anne, code, "begin", B, A)
    age = next(o for o in anne.page.options() if o.startswith("age_"))   # type: ignore[union-attr]
    answer(anne, code, age, A, B)
    # "Is het kind of iemand anders nu in direct gevaar?" Ja: posted to A without htmx (303) ...
    assert anne.page is not None
    r = anne.post_raw(f"/case/{code}/answer", {"csrf": anne.page.csrf, "option": "yes",
                                              "step": str(anne.page.step)}, A)
    assert r.status_code == 303 and ACUTE not in r.text
    # ... and the question page it leads to, served by B, shows what to do now.
    page = anne.get(r.headers["location"], B)
    assert ACUTE in page.text and "block-alert" in page.text
    assert ACUTE not in anne.get(f"/case/{code}", A).text      # shown once
    assert db.answers(code) == (2, 2)                          # the age and the red flag


def test_a_full_intake_alternating_instances_stores_every_answer_once(anne: WebClient, db: Database) -> None:
    assert anne.page is not None
    code = case_code(anne.page)                  # the case of the test before, at its next question
    anne.get(f"/case/{code}", B)
    before = db.answers(code)[0]
    given, posts, in_area = 0, 0, 0
    while (options := anne.page.options()) if anne.page else {}:   # type: ignore[union-attr]
        skip = "skip" in options and in_area == 3                   # three answers per leefgebied, then on
        choice = next(o for o in ("no_note", "skip" if skip else "", "no", "unknown") if o in options)
        answer(anne, code, choice, posts % 2, (posts + 1) % 2)      # the POST on one, the GET on the other
        posts += 1
        given += choice in ANSWERS
        in_area = 0 if skip else in_area + ("skip" in options)
        assert posts < 150
    assert anne.page is not None and anne.page.url.endswith(f"/case/{code}/summary")
    assert "De intake is afgerond" in anne.page.text               # the end notice, across instances too
    assert db.answers(code) == (before + given, before + given) and given > 10
    assert db.scalar("SELECT status FROM cases WHERE code = :c", c=code) == "completed"


def test_a_double_submit_to_both_instances_at_once_applies_once(anne: WebClient, db: Database) -> None:
    code = case_code(anne.post("/start", {"mode": "full"}, A))
    answer(anne, code, "begin", A, B)
    age = next(o for o in anne.page.options() if o.startswith("age_"))   # type: ignore[union-attr]
    answer(anne, code, age, B, A)
    assert anne.page is not None
    form = {"csrf": anne.page.csrf, "option": "no", "step": str(anne.page.step)}
    counted = db.answers(code)
    # A double click (htmx: each POST answers with the page part), one copy to each instance.
    together = threading.Barrier(2)

    def send(on: int) -> httpx.Response:
        together.wait()
        return anne.post_raw(f"/case/{code}/answer", form, on, htmx=True)

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(send, (A, B)))
    assert [r.status_code for r in responses] == [200, 200]
    assert sorted(STALE in r.text for r in responses) == [False, True]   # one applied, one told so
    assert db.answers(code) == (counted[0] + 1, counted[1] + 1)
    # The same form once more, later, without JavaScript, from an old tab: nothing changes, the
    # notice is shown with the current question (on the other instance).
    r = anne.post_raw(f"/case/{code}/answer", {**form, "option": "yes"}, B)
    assert r.status_code == 303
    page = anne.get(r.headers["location"], A)
    assert STALE in page.text and f'name="step" value="{int(form["step"]) + 1}"' in page.text
    assert db.answers(code) == (counted[0] + 1, counted[1] + 1)
    # Deleting the case takes what an answer left in the session with it (here: a stale form's notice).
    anne.post_raw(f"/case/{code}/answer", form, A)
    assert db.scalar("SELECT count(*) FROM web_sessions WHERE flash LIKE :c", c=f"%{code}%") == 1
    anne.get(f"/case/{code}/delete", B)
    assert "verwijderd" in anne.post(f"/case/{code}/delete", {}, A).text
    assert db.scalar("SELECT count(*) FROM web_sessions WHERE flash LIKE :c", c=f"%{code}%") == 0
    assert db.scalar("SELECT count(*) FROM cases WHERE code = :c", c=code) == 0
