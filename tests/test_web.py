"""The web channel in a real browser, as people use it: the first admin from the setup link
(password, authenticator app, recovery codes), a full intake by clicks, the summary with the
lens picture, the PDF, deleting the case; a keyboard-only quick scan; two tabs on one case; the
back button; a session that expires mid-intake; a form without its CSRF token; someone else's
case code.

One `lensbot web` process and one Chromium for the whole module (tests/support/web.py); the tests
run in order and share the people they create (the admin from the setup link, a professional).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.web import (  # noqa: F401 - fixtures
    Person,
    answer_until,
    axe_in_every_page,
    axe_violations,
    browser,
    click_answer,
    invite,
    labels,
    login,
    register,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow(seconds=35)]   # CI insists these ran (.ci/run)

SKIP = "Sla leefgebied over"
STALE = re.compile(r"al beantwoord|verouderd|niet meer|eerder", re.I)


@pytest.fixture(scope="module")
def admin(server, browser) -> Person:  # noqa: F811
    """The first admin: from the setup link `lensbot web` printed on its empty database."""
    assert server.setup_link is not None, server.output
    return register(browser, server.setup_link, "anna")


@pytest.fixture(scope="module")
def professional(server, browser, admin) -> Person:  # noqa: F811
    """A professional from an invitation the admin made on the admin page."""
    return register(browser, invite(admin, server.base, "professional"), "piet")


def case_code(page: object) -> str:
    return re.search(r"/case/([A-Z0-9-]+)", page.url).group(1)   # type: ignore[attr-defined]


def step_of(page: object) -> int:
    return int(page.locator("input[name=step]").get_attribute("value"))   # type: ignore[attr-defined]


def focus_on_question(page: object) -> None:
    """The keyboard focus is on the new question's heading (a screen reader reads it next)."""
    page.wait_for_function("document.activeElement && document.activeElement.id === 'question'",  # type: ignore[attr-defined]
                           timeout=3000)


def stored_answers(server, code: str) -> int:  # noqa: F811
    return server.sql("select count(*) from answers a join cases c on c.id = a.case_id where c.code = :c",
                      c=code)[0][0]


def test_setup_link_then_a_full_intake_by_clicks_summary_pdf_and_delete(server, admin) -> None:  # noqa: F811
    page = admin.page
    assert len(admin.recovery) == 10 and admin.secret
    for name in ("Nieuwe intake", "Snelle scan", "Oefenen"):   # the three ways in, by name
        assert page.get_by_role("button", name=name).is_visible()
    page.get_by_role("button", name="Nieuwe intake").click()
    code = case_code(page)
    click_answer(page, "Begin")
    focus_on_question(page)
    click_answer(page, "12 tot 18 jaar")
    answer_until(page, stop=SKIP, choose=("Nee",))   # the red flags: none
    first = page.locator("[data-progress]").inner_text()
    for label in ("Ja", "Nee", "Weet ik niet"):
        click_answer(page, label)
    offered = click_answer(page, "Terug")   # back one question: the earlier answer is shown
    assert page.get_by_text("Weet ik niet", exact=False).count() >= 1
    assert page.locator("#live").inner_text() == page.locator("[data-progress]").inner_text() != first
    while SKIP in offered:
        offered = click_answer(page, SKIP)
    page.get_by_label(re.compile("Je notitie")).fill("Bel Jan de Vries op 0612345678")
    page.get_by_role("button", name="Notitie opslaan").click()   # held back: it looks like it names someone
    page.get_by_role("button", name="Toch opslaan").wait_for()   # nothing stored; the same step
    page.get_by_label(re.compile("Je notitie")).fill("Vaak laat thuis, nieuwe schoenen.")
    click_answer(page, "Notitie opslaan")
    page.wait_for_url(re.compile(r"/summary$"))
    assert page.get_by_role("heading", name=f"Samenvatting zaak {code}").is_visible()
    picture = page.get_by_role("img", name=re.compile("Lensplaatje"))
    assert picture.evaluate("img => img.complete && img.naturalWidth > 100")
    with page.expect_download() as download:
        page.get_by_role("link", name="Dossier als PDF").click()
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"
    with page.expect_download() as download:
        page.get_by_role("link", name="Antwoorden als CSV").click()
    assert code in Path(download.value.path()).read_text(encoding="utf-8")
    assert server.sql("select status from cases where code = :c", c=code) == [("completed",)]
    assert stored_answers(server, code) >= 4
    page.get_by_role("link", name=f"Zaak {code} verwijderen").click()
    page.get_by_role("button", name=f"Ja, verwijder zaak {code}").click()
    assert page.get_by_role("heading", name=f"Zaak {code} is verwijderd.").is_visible()
    assert server.sql("select count(*) from cases where code = :c", c=code) == [(0,)]
    assert page.goto(f"{server.base}/case/{code}").status == 404


def test_a_quick_scan_with_the_keyboard_alone_in_at_most_12_activations(server, professional) -> None:  # noqa: F811
    page = professional.page
    errors: list[str] = []   # a Content-Security-Policy violation, or a script error, shows up here
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{server.base}/")
    page.get_by_label("Leeftijd").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")   # "12 tot 18 jaar"; choosing in a list is not an activation
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Snelle scan"
    activations = 0
    page.keyboard.press("Enter")
    activations += 1
    page.wait_for_url(re.compile(r"/case/"))
    code = case_code(page)
    while page.locator("[data-progress]").count():
        focus_on_question(page)
        step = step_of(page)
        page.keyboard.press("Tab")   # the first answer button: "Ja"
        page.keyboard.press("Tab")   # "Nee"
        assert page.evaluate("document.activeElement.textContent.trim()") == "Nee"
        page.keyboard.press("Enter")
        activations += 1
        page.wait_for_selector(f"input[name=step][value='{step}']", state="detached")
    assert page.get_by_role("button", name="Klaar").is_visible()   # the quick result, with its choices
    assert activations <= 12, activations
    assert stored_answers(server, code) == activations   # the age and every question, once
    assert errors == []


def test_two_tabs_on_one_case_the_stale_one_gets_a_notice_and_the_current_question(server, professional) -> None:  # noqa: F811
    page = professional.page
    page.goto(f"{server.base}/")
    page.get_by_role("button", name="Snelle scan").click()
    code = case_code(page)
    second = professional.context.new_page()
    second.goto(page.url)
    click_answer(page, "Weet ik niet")   # tab 1 answers the age question
    now = page.locator("#question").inner_text()
    second.locator("form.question button", has_text="Jonger dan 12").click()   # tab 2 still shows it
    second.wait_for_selector(".notice")
    assert second.locator("#question").inner_text() == now   # the current question, not the old one
    assert stored_answers(server, code) == 1
    second.close()


def test_the_back_button_changes_nothing(server, professional, browser) -> None:  # noqa: F811
    """Without JavaScript every answer is a page of its own (POST/redirect/GET): going back shows
    the question as it is now (pages are never cached), and an answer from there counts once."""
    context = browser.new_context(java_script_enabled=False, storage_state=professional.context.storage_state())
    page = context.new_page()
    page.goto(f"{server.base}/")
    page.get_by_role("button", name="Snelle scan").click()
    code = case_code(page)
    page.get_by_role("button", name="Weet ik niet").click()
    page.get_by_role("button", name="Ja").click()   # acute danger: the advice shows above the next question
    assert page.locator(".block-alert").is_visible()
    assert page.evaluate("document.activeElement.id") == "question"   # autofocus, no script needed
    asked = page.locator("#question").inner_text()
    page.go_back()
    assert page.locator("#question").inner_text() == asked   # not the earlier question
    page.get_by_role("button", name="Nee").click()
    assert stored_answers(server, code) == 3
    context.close()


def test_an_expired_session_mid_intake_keeps_the_answer_for_after_the_login(server, professional) -> None:  # noqa: F811
    page = professional.page
    page.goto(f"{server.base}/")
    page.get_by_role("button", name="Snelle scan").click()
    code = case_code(page)
    click_answer(page, "Weet ik niet")
    before = step_of(page)
    server.sql("update web_sessions set last_seen = '2000-01-01 00:00:00' where user_id = "
               "(select id from users where channel = 'web' and external_id = :login)", login=professional.login)
    page.get_by_role("button", name="Ja").click()
    page.wait_for_url(re.compile(r"/login"))
    assert page.get_by_text("Je antwoord is bewaard").is_visible()
    login(professional, server.base)
    page.wait_for_url(re.compile(rf"/case/{code}"))
    assert step_of(page) == before + 1   # the answer given at the expiry counted, once
    assert stored_answers(server, code) == 2


def test_a_post_without_the_csrf_token_is_refused(server, professional) -> None:  # noqa: F811
    page = professional.page
    page.goto(f"{server.base}/")
    page.get_by_role("button", name="Snelle scan").click()
    code, step = case_code(page), step_of(page)
    for form in ({"option": "age_1", "step": str(step)}, {"option": "age_1", "step": str(step), "csrf": "forged"}):
        response = page.request.post(f"{server.base}/case/{code}/answer", form=form)
        assert response.status == 403
        assert "Er is niets veranderd" in response.text()
    assert stored_answers(server, code) == 0


def test_someone_elses_case_code_is_not_found_like_an_unknown_one(server, admin, professional) -> None:  # noqa: F811
    page = professional.page
    page.goto(f"{server.base}/")
    page.get_by_role("button", name="Snelle scan").click()
    theirs = case_code(page)
    unknown = "ZZ-ZZZZ"
    for suffix in ("", "/summary", "/file/pdf", "/delete"):
        other = admin.page.goto(f"{server.base}/case/{theirs}{suffix}")
        other_text = admin.page.locator("main").inner_text().replace(theirs, "CODE")
        nothing = admin.page.goto(f"{server.base}/case/{unknown}{suffix}")
        nothing_text = admin.page.locator("main").inner_text().replace(unknown, "CODE")
        assert other.status == nothing.status == 404
        assert other_text == nothing_text
    assert server.sql("select count(*) from answers a join cases c on c.id = a.case_id where c.code = :c",
                      c=theirs) == [(0,)]


def test_cookies_and_headers_keep_case_content_out_of_caches_frames_and_scripts(server, professional) -> None:  # noqa: F811
    (cookie,) = professional.context.cookies()
    assert cookie["name"].startswith("__Host-") and cookie["secure"] and cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    page = professional.page
    page.goto(f"{server.base}/")
    page.get_by_role("button", name="Snelle scan").click()
    code = case_code(page)
    for path in ("/", f"/case/{code}", f"/case/{code}/file/png", "/emergency"):
        headers = page.request.get(server.base + path).headers
        assert headers["cache-control"] == "no-store", path
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
    # forwarded headers count only from LENSBOT_WEB_TRUSTED_PROXIES (none here): still plain http
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    spoofed = page.request.get(f"{server.base}/", headers=forged)
    assert "strict-transport-security" not in spoofed.headers


def test_a_trainee_practises_gets_feedback_and_sees_progress(server, browser, admin) -> None:  # noqa: F811
    trainee = register(browser, invite(admin, server.base, "trainee"), "tim")   # no authenticator needed
    page = trainee.page
    assert trainee.secret is None
    assert page.get_by_role("button", name="Oefenen").is_visible()
    assert page.get_by_role("button", name="Nieuwe intake").count() == 0   # trainees only practise
    assert page.get_by_role("button", name="Snelle scan").count() == 0
    page.get_by_role("button", name="Oefenen").click()
    click_answer(page, "Begin")
    answer_until(page, stop="Geen notitie", choose=("Ja", "12 tot 18 jaar"))
    if "Geen notitie" in labels(page):
        click_answer(page, "Geen notitie")
    assert page.get_by_role("heading", name=re.compile("^Klaar met zaak")).is_visible()
    feedback = page.locator("main").inner_text()
    page.get_by_role("link", name="Mijn oefenresultaten").click()
    assert page.get_by_role("heading", name="Mijn oefenresultaten").is_visible()
    assert page.locator("main .block").count() >= 1 and feedback
    response = page.request.post(f"{server.base}/start", form={"mode": "full", "csrf": page.locator(
        "input[name=csrf]").first.get_attribute("value")})
    assert response.status == 403   # a real intake is not for a trainee, whatever the form says
    trainee.context.close()


def test_an_admin_revokes_an_invitation_and_changes_a_role(server, browser, admin, professional) -> None:  # noqa: F811
    link = invite(admin, server.base, "professional")
    page = admin.page
    short = link.rsplit("/", 1)[1][:6]
    page.get_by_role("button", name=f"Intrekken {short}").click()
    assert page.get_by_text(f"Uitnodiging {short} is ingetrokken.").is_visible()
    stranger = browser.new_context()
    assert stranger.new_page().goto(link).status == 404   # the link no longer works
    stranger.close()
    page.goto(f"{server.base}/admin/users")
    page.get_by_label("Rol van piet wijzigen").select_option("trainee")
    page.get_by_role("button", name=re.compile("Opslaan.*piet")).click()
    assert page.get_by_text("piet heeft nu de rol in opleiding.").is_visible()
    assert server.sql("select role from users where channel = 'web' and external_id = 'piet'") == [("trainee",)]
    professional.page.goto(f"{server.base}/")
    assert professional.page.get_by_role("button", name="Nieuwe intake").count() == 0   # at the next page
    page.get_by_label("Rol van piet wijzigen").select_option("professional")
    page.get_by_role("button", name=re.compile("Opslaan.*piet")).click()


# -- accessibility: zero axe violations on every page, in Dutch and in English ------------------------
def axe_problems(page: object) -> list[str]:
    """axe-core's violations (AXE_OPTIONS of tests/support/web.py: WCAG 2.1 A and AA, and axe's
    best practices), and the acute-danger link, on the page as it is now."""
    danger = {"nl": "Direct gevaar?", "en": "Acute danger?"}[page.locator("html").get_attribute("lang")]  # type: ignore[attr-defined]
    assert page.get_by_role("link", name=danger).is_visible()   # type: ignore[attr-defined]  # on every page
    return [f"{page.url}: {v['id']} ({v['impact']}): {v['help']}: {v['targets']}"   # type: ignore[attr-defined]
            for v in axe_violations(page)]


def switch_language(page: object, to: str) -> None:
    page.get_by_role("button", name={"en": "English", "nl": "Nederlands"}[to]).click()   # type: ignore[attr-defined]
    page.wait_for_selector(f"html[lang={to}]")   # type: ignore[attr-defined]


def test_every_page_has_no_axe_violations_in_dutch_and_in_english(server, browser, admin) -> None:  # noqa: F811
    base, problems = server.base, []
    newcomer = browser.new_context()
    axe_in_every_page(newcomer)   # nearly every page of both people is checked
    page = newcomer.new_page()
    links = [invite(admin, base, "professional"), invite(admin, base, "trainee")]
    for lang in ("nl", "en"):   # pages for someone not signed in
        for url in (f"{base}/login", links[0], f"{base}/emergency", f"{base}/toegankelijkheid", f"{base}/nergens"):
            page.goto(url)
            assert page.locator("html").get_attribute("lang") == lang
            problems += axe_problems(page)
        if lang == "nl":
            switch_language(page, "en")
    # a newcomer sets up the authenticator app (in English now): the set-up and recovery-code pages
    page.goto(links[0])
    page.get_by_label("Login name").fill("kees")
    page.get_by_label("Password", exact=True).fill("een lange zin als wachtwoord")
    page.get_by_label("Password again").fill("een lange zin als wachtwoord")
    page.get_by_role("button", name="Create account").click()
    problems += axe_problems(page)
    import pyotp
    secret = page.locator("#secret").inner_text()
    page.get_by_label("Code from the app (6 digits)").fill("000000")   # a typo: told so, same secret
    page.get_by_role("button", name="Confirm").click()
    assert page.get_by_role("alert").is_visible() and page.locator("#secret").inner_text() == secret
    problems += axe_problems(page)
    page.get_by_label("Code from the app (6 digits)").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm").click()
    problems += axe_problems(page)
    newcomer.close()
    # the admin's pages: in Dutch by clicks (with the red-flag advice after an answer), then the
    # same pages again in English
    page = admin.page
    axe_in_every_page(admin.context)
    page.goto(f"{base}/")
    visited = [page.url]
    problems += axe_problems(page)
    page.get_by_role("button", name="Nieuwe intake").click()
    problems += axe_problems(page)   # the introduction
    click_answer(page, "Begin")
    click_answer(page, "12 tot 18 jaar")
    click_answer(page, "Ja")   # "yes" to a red flag: the advice block shows above the next question
    problems += axe_problems(page)
    visited.append(page.url)
    page.goto(f"{base}/")
    page.get_by_label("Leeftijd").select_option(label="12 tot 18 jaar")
    page.get_by_role("button", name="Snelle scan").click()
    code = case_code(page)
    answer_until(page, stop="Klaar", choose=("Weet ik niet",))
    problems += axe_problems(page)   # the quick result
    click_answer(page, "Klaar")
    page.wait_for_url(re.compile("/summary"))
    problems += axe_problems(page)
    visited.append(page.url)
    for path in (f"/case/{code}/delete", "/training/progress", "/admin/invites", "/admin/users", "/admin/picture"):
        page.goto(base + path)
        problems += axe_problems(page)
        visited.append(page.url)
    page.goto(f"{base}/")
    page.get_by_role("button", name="Oefenen").click()
    problems += axe_problems(page)   # a practice case
    visited.append(page.url)
    switch_language(page, "en")
    for url in visited:
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == "en"
        problems += axe_problems(page)
    switch_language(page, "nl")
    assert problems == []


# -- a phone, 200 % zoom, page weight -----------------------------------------------------------------
def test_pages_fit_a_phone_and_200_percent_zoom_and_weigh_under_100_kb(server, browser, admin) -> None:  # noqa: F811
    """360 px wide (a phone) and 640 px (a 1280 px laptop at 200 % zoom): no sideways scrolling;
    the question page with everything it loads (but without the lens picture) at most 100 KB."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, storage_state=admin.context.storage_state())
    page = context.new_page()
    sizes: dict[str, int] = {}
    page.on("response", lambda r: sizes.__setitem__(r.url, len(r.body())) if r.ok else None)
    page.goto(f"{server.base}/")
    page.get_by_role("button", name="Nieuwe intake").click()
    click_answer(page, "Begin")
    weight = sum(size for url, size in sizes.items() if "/file/png" not in url)
    assert weight <= 100_000, sizes
    question = page.url
    for width in (360, 640):
        page.set_viewport_size({"width": width, "height": 740})
        for url in (question, f"{server.base}/", f"{server.base}/admin/invites", f"{server.base}/admin/users"):
            page.goto(url)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (width, url)
    context.close()
