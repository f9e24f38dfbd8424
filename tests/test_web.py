"""The web channel in a real browser, as people use it: the first admin from the setup link
(password, authenticator app, recovery codes), a full intake by clicks, the summary with the
lens picture, the PDF, deleting the case; a keyboard-only quick scan; two tabs on one case; the
back button; a form without its CSRF token; someone else's case code.

One `lensbot web` process and one Chromium for the whole module (tests/support/web.py); the tests
run in order and share the people they create.
"""

from __future__ import annotations

import re

import pytest

from tests.support.web import Person, answer_until, browser, invite, register, server  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
people: dict[str, Person] = {}
SUMMARY = re.compile(r"^Samenvatting zaak")


@pytest.fixture(scope="module")
def admin(server, browser) -> Person:  # noqa: F811
    """The first admin: from the setup link printed by `lensbot web`."""
    assert server.setup_link is not None, server.output
    person = register(browser, server.setup_link, "anna")
    people["anna"] = person
    return person


@pytest.fixture(scope="module")
def professional(server, browser, admin) -> Person:  # noqa: F811
    link = invite(admin, server.base, "professional")
    return register(browser, link, "piet")


def case_code(page: object) -> str:
    return re.search(r"/case/([A-Z0-9-]+)", page.url).group(1)   # type: ignore[attr-defined]


def test_setup_link_then_a_full_intake_by_clicks_summary_pdf_and_delete(server, admin) -> None:  # noqa: F811
    page = admin.page
    assert len(admin.recovery) == 10 and admin.secret
    # the start page offers the three ways in by name
    for name in ("Nieuwe intake", "Snelle scan", "Oefenen"):
        assert page.get_by_role("button", name=name).is_visible()
    page.get_by_role("button", name="Nieuwe intake").click()
    code = case_code(page)
    page.get_by_role("button", name="Begin").click()
    assert page.locator("#question").evaluate("e => e === document.activeElement")
    page.get_by_role("button", name="12 tot 18 jaar").click()
    assert page.locator("[data-progress]").inner_text()
    clicks = answer_until(page, re.compile("Geen notitie"))
    assert clicks > 10
    page.get_by_role("button", name="Geen notitie").click()
    page.wait_for_url(re.compile(r"/summary$"))
    assert page.get_by_role("heading", name=f"Samenvatting zaak {code}").is_visible()
    picture = page.get_by_role("img", name=re.compile("Lensplaatje"))
    assert picture.evaluate("img => img.complete && img.naturalWidth > 100")
    with page.expect_download() as download:
        page.get_by_role("link", name="Dossier als PDF").click()
    assert open(download.value.path(), "rb").read(5) == b"%PDF-"
    stored = server.sql("select status from cases where code = :c", c=code)
    assert stored == [("completed",)]
    page.get_by_role("link", name=f"Zaak {code} verwijderen").click()
    page.get_by_role("button", name=f"Ja, verwijder zaak {code}").click()
    assert page.get_by_role("heading", name=f"Zaak {code} is verwijderd.").is_visible()
    assert server.sql("select count(*) from cases where code = :c", c=code) == [(0,)]
    response = page.goto(f"{server.base}/case/{code}")
    assert response.status == 404
