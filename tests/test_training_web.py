"""Training in the web app (issue 14): the real `lensbot web` process and Chromium.

A trainer (invited by the admin) invites a trainee from their group page. The trainee chooses a
short round on the start page, reads the case and answers as it says: the feedback page shows
100 %, the kind of each signal and what a professional does now, with the reasons. Three more
rounds answered with one answer everywhere score at most 50 %. The trainer sees the trainee's
practice, downloads it as CSV, and the trainee's progress page says the trainer sees it.

The questions of a round are answered by posting the question form over real HTTP in the
trainee's session (a round asks 80 to 100 questions; clicking each would cost a second per ten):
with httpx and the session cookie of the trainee's browser, as the browser posts the form without
JavaScript (the Sec-Fetch-Site header included). Playwright's page.request did the same at about
twice the CPU: every request of it reads and writes the browser context's cookies in Chromium.
"""

from __future__ import annotations

import html
import re

import httpx
import pytest

from dialogs.texts import dialog_texts
from matrix.loader import load_lens
from matrix.training import model_answers

pytestmark = [pytest.mark.browser, pytest.mark.slow(seconds=20)]   # browser: CI insists they ran; slow: first

from tests.support.web import (  # noqa: E402, F401 - fixtures
    Person,
    browser,
    invite,
    register,
    server,
)
from tests.support.web_client import COOKIE  # noqa: E402

t = dialog_texts()
STEP = re.compile(r'name="step" value="(\d+)"')
HEADING = re.compile(r'<h1 id="question"[^>]*>(.*?)</h1>', re.S)
OPTION = re.compile(r'<button type="submit" name="option" value="([^"]+)"[^>]*>(.*?)</button>')
SCORE = re.compile(r"Score: (\d+)%")
CASE_PAGE = re.compile(r"/case/[A-Z0-9-]+")   # a case's page, where Oefenen leads


@pytest.fixture(scope="module")
def admin(server, browser) -> Person:  # noqa: F811
    assert server.setup_link is not None, server.output
    return register(browser, server.setup_link, "anna")


def answer_round(person: Person, base: str, first_page: str, answer: str | None) -> str:
    """Answer every question of the case the page shows, as the vignette says (answer None) or with
    `answer` everywhere; the page after the last answer (the feedback)."""
    lens = load_lens()
    page = person.page
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    (session,) = [c for c in page.context.cookies() if c["name"] == COOKIE]   # type: ignore[attr-defined]
    body, code = first_page, re.search(r"/case/([A-Z0-9-]+)/answer", first_page).group(1)   # type: ignore[union-attr]
    title = next(v for v in lens.vignettes.values() if v.title.nl in body)
    band = title.age or "unknown"
    wanted = model_answers(lens, title)
    ids = {lens.say(q.text, "nl", band): q.item_id for q in lens.all_questions}
    # the redirect after each answer is followed here: httpx drops a Cookie header it did not set itself
    form = httpx.Client(base_url=base, timeout=30,
                        headers={"cookie": f"{COOKIE}={session['value']}", "sec-fetch-site": "same-origin"})
    while (step := STEP.search(body)) is not None:
        heading = html.unescape(HEADING.search(body).group(1).strip())   # type: ignore[union-attr]
        options = {label.strip(): value for value, label in OPTION.findall(body)}
        if "begin" in options.values():
            choice = "begin"
        elif ids.get(heading) == lens.age_item:
            choice = options[lens.age_bands[band].label.nl]
        else:
            choice = answer or wanted[ids[heading]]
        response = form.post(f"/case/{code}/answer", data={"csrf": csrf, "step": step.group(1), "option": choice})
        if response.is_redirect:
            response = form.get(response.headers["location"])
        assert response.is_success, response.status_code
        body = response.text
    form.close()
    return body


def test_a_trainer_follows_a_trainee_who_reads_well_and_games_badly(server, browser, admin) -> None:  # noqa: F811
    coach = register(browser, invite(admin, server.base, "trainer"), "coach")   # no authenticator for a trainer
    coach.page.goto(f"{server.base}/training/group")
    coach.page.get_by_role("button", name="Nodig een deelnemer uit").click()
    link = coach.page.locator("main code").inner_text().strip()

    tim = register(browser, link, "tim")
    page = tim.page
    assert page.get_by_role("button", name="Nieuwe intake").count() == 0
    page.get_by_label("Kort: de rode vlaggen en de leefgebieden van de casus").check()
    page.get_by_role("button", name="Oefenen").click()
    page.wait_for_url(CASE_PAGE)   # the new case's page, loaded, before its HTML is read
    assert page.get_by_role("button", name="Begin").is_visible()
    assert "casus_" not in page.content()                                # the id says nothing of the reading
    done = answer_round(tim, server.base, page.content(), None)
    feedback = html.unescape(re.sub(r"<[^>]+>", " ", done))               # the page after the last answer
    assert SCORE.findall(done)[-1] == "100" and "Score: 100%" in feedback
    assert t("training.advice_title", "nl") in feedback and "Soort: " in feedback
    assert "gevonden:" in feedback and t("training.practice_mark", "nl") in feedback

    for answer in ("yes", "unknown", "no"):
        page.goto(f"{server.base}/")
        page.get_by_role("button", name="Oefenen").click()
        page.wait_for_url(CASE_PAGE)
        body = answer_round(tim, server.base, page.content(), answer)
        assert int(SCORE.findall(body)[-1]) <= 50, answer

    page.goto(f"{server.base}/training/progress")
    assert t("training.trainer_sees", "nl", trainer="coach") in page.locator("main").inner_text()
    chart = page.locator("img.chart")
    assert chart.is_visible() and chart.evaluate("i => i.naturalWidth") == 720

    coach.page.goto(f"{server.base}/training/group")
    assert "tim: 4 oefenrondes" in coach.page.locator("main").inner_text()
    with coach.page.expect_download() as download:
        coach.page.get_by_role("link", name="Download als CSV").click()
    rows = open(download.value.path(), encoding="utf-8").read().splitlines()   # noqa: SIM115
    assert rows[0].startswith("trainee,channel,date,vignette,score") and len(rows) == 5
    assert tim.page.request.get(f"{server.base}/training/group").status == 403   # not for a trainee
    coach.context.close()
    tim.context.close()
