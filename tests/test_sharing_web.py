"""One case, several professionals, across channels (issue 13): Telegram and the browser on one database.

The real Telegram Application against the fake Bot API and the real `lensbot web` process share one
SQLite file, as they would share a database in production; Chromium is driven by Playwright's async
API beside the bot. The issue's transcript: a wijkagent starts a case in Telegram and answers one
leefgebied, asks a teacher (who works in the browser) about "Zingeving, Lerend Vermogen & Inzicht" and
a debt counsellor (in Telegram) about "Wonen & Financiën"; both contribute; the wijkagent is told in
Telegram and their summary shows the combined picture, the domains behind each signal and a changed
concern; the audit log holds every step. Then what the teacher must not get in the browser: a case
as a case, a link someone else opened, an answer after the request was withdrawn. Last, the owner's
side in the browser: the share form, the requests with withdrawing, aanvullen. Every page: no axe
violations.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pyotp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from dialogs.app import Door, Settings
from tests.support.app import IntakeService, Lens
from tests.support.telegram_env import running_bot, start_intake, taps
from tests.support.web import AXE_RUN, CHROMIUM, PASSWORD, axe_script, server  # noqa: F401 - fixtures
from tests.test_sharing_store import complete
from tests.test_sharing_telegram import WONEN, ZINGEVING, ask, contribute, size, summary_text

# browser: CI insists they ran; slow: handed out first; one event loop for the module, as the
# browser that both tests use belongs to it
pytestmark = [pytest.mark.browser, pytest.mark.slow(seconds=17), pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the module's two tests (Playwright's async API: the first test runs a
    Telegram bot in the same event loop); each test closes the contexts it made."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def close_contexts(browser: Browser) -> None:
    """The people of a test leave: their browser contexts are closed."""
    for context in browser.contexts:
        await context.close()


def console(server, lens: Lens, channel: str = "console") -> Door:  # noqa: F811
    """A door on the web server's database (the operator's console, or a channel's use cases)."""
    settings = Settings.load(database_url=f"sqlite:///{server.db_path}", web_url=server.base)
    return Door.around(IntakeService(Door(settings, channel).store, lens), settings, channel)


async def register(page: Page, link: str, login: str) -> None:
    """An invitation link in the browser: login name, password and (when asked) the authenticator app."""
    await page.goto(link)
    await page.get_by_label("Inlognaam").fill(login)
    await page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
    await page.get_by_label("Wachtwoord nog een keer").fill(PASSWORD)
    await page.get_by_role("button", name="Account maken").click()
    await page.wait_for_load_state()
    if "/enrol" in page.url:
        secret = (await page.locator("#secret").inner_text()).strip()
        await page.get_by_label("Code uit de app (6 cijfers)").fill(pyotp.TOTP(secret).now())
        await page.get_by_role("button", name="Bevestigen").click()
        await page.get_by_role("link", name="Ik heb ze bewaard, verder").click()


async def person(browser: object, server, door: Door, role: str, login: str) -> Page:  # noqa: F811
    """Someone with a web account of `role`, from an invitation the operator made."""
    context = await browser.new_context()   # type: ignore[attr-defined]
    context.set_default_timeout(5000)
    page = await context.new_page()
    await register(page, f"{server.base}/invite/{door.admin.invite(role).code}", login)
    return page


async def click(page: Page, label: str) -> None:
    """Press a form's button and wait for the page it leads to."""
    async with page.expect_navigation():
        await page.get_by_role("button", name=label, exact=True).first.click()


AXE_EVERY_RULE = {"resultTypes": ["violations"]}   # axe-playwright-python's default: every rule axe-core has


async def axe(page: Page) -> list[str]:
    """axe-core's violations on the page (injected when the page does not have it yet; only the
    violations come back, see AXE_RUN in tests/support/web.py)."""
    found = await page.evaluate(AXE_RUN, AXE_EVERY_RULE)
    if found is None:
        await page.evaluate(axe_script())
        found = await page.evaluate(AXE_RUN, AXE_EVERY_RULE)
    return [f"{page.url}: {v['id']}: {v['help']}: {v['targets']}" for v in found]


async def test_a_wijkagent_on_telegram_asks_a_teacher_on_the_web(server, browser: Browser, lens: Lens) -> None:  # noqa: F811
    operator = console(server, lens)
    url = f"sqlite:///{server.db_path}"
    async with running_bot(lens, url) as env:
        try:
            agent = env.member(3401, first_name="Wijkagent")
            code, _ = await start_intake(agent)
            await taps(agent, *["Nee"] * len(lens.red_flags))
            await taps(agent, "Ja", *["Nee"] * (size(lens, WONEN) - 1))
            await taps(agent, *["Sla leefgebied over"] * (len(lens.leefgebieden) - 1))
            await env.server.wait_for(lambda: agent.buttons() == [["Geen notitie", "← Terug"]], timeout=10,
                                      message="the closing-note prompt")
            await taps(agent, "Geen notitie")
            before = summary_text(await agent.send_and_wait(f"/samenvatting {code}"))

            # the teacher gets the web link (the bot names its own web address; the path is what counts)
            token = await ask(agent, code, ZINGEVING)
            web_link = re.search(r"Web: (\S+)", agent.last_message.text).group(1)   # type: ignore[union-attr]
            assert web_link.endswith(f"/share/{token}")
            page = await person(browser, server, operator, "contributor", "leraar")
            await page.goto(f"{server.base}/share/{token}")
            assert "Een collega vraagt je mee te kijken" in await page.content()
            problems = await axe(page)
            await click(page, "Open de vragen")
            assert "/contribute/" in page.url and "/share/" not in page.url   # the token leaves the address bar
            assert f"Zaak {code}" in await page.content() and "Vanuit welk domein" in await page.content()
            problems += await axe(page)
            await click(page, "school")
            problems += await axe(page)
            for label in ["Nee"] * len(lens.red_flags) + ["Nee"] * 4 + ["Ja", "Nee", "Nee", "Ja", "Nee", "Ja"]:
                await click(page, label)
            await click(page, "Klaar")
            thanks = await page.content()
            assert "Dank je" in thanks and "eigen waarneming" not in thanks   # the owner's answers not shown
            problems += await axe(page)
            await env.run_job("share_notices")   # the bot's job tells the owner of what happened on the web
            assert f"Nieuwe bijdrage in zaak {code} van school" in summary_text(agent.messages)

            counsellor = env.server.user(4401, first_name="Schuldhulp")
            await contribute(counsellor, await ask(agent, code, WONEN), "schuldhulp", lens,
                             ["Ja", "Nee", "Ja", "Ja", "Ja"])
            after = summary_text(await agent.send_and_wait(f"/samenvatting {code}"))

            # the teacher reaches no case as a case; what they gave is listed for them
            await page.goto(f"{server.base}/case/{code}/summary")
            assert "school: ja" not in await page.content()
            await page.goto(f"{server.base}/")
            async with page.expect_navigation():
                await page.get_by_role("link", name="Mijn bijdragen").click()
            assert f"Zaak {code} · school · klaar" in await page.content()
            problems += await axe(page)
            # a link someone else opened is refused to the next person, who is stored nowhere in it
            other = await person(browser, server, operator, "contributor", "doorgestuurd")
            await other.goto(f"{server.base}/share/{token}")
            await click(other, "Open de vragen")
            assert "al door iemand anders geopend" in await other.content()
            # withdrawn mid-way: the teacher's next answer is refused and nothing is stored
            second = await ask(agent, code, WONEN)
            await page.goto(f"{server.base}/share/{second}")
            await click(page, "Open de vragen")
            await click(page, "leerplicht")
            await agent.send_and_wait(f"/verzoeken {code}")
            await taps(agent, next(b for row in agent.buttons() for b in row if b.startswith("Trek vraag #3")))
            await click(page, "Ja")
            assert "ingetrokken door je collega" in await page.content()
        finally:
            await close_contexts(browser)
    assert problems == [], problems
    assert "Bronnen: eigen waarneming, school, schuldhulp" in after
    assert "school: ja" in after and "eigen waarneming: nee · schuldhulp: ja  ⚠ verschil" in after
    concern = [next(line for line in text.splitlines() if line.startswith("Zorgniveau")) for text in (before, after)]
    assert concern == ["Zorgniveau: aandacht", "Zorgniveau: mogelijke criminele uitbuiting"]
    assert server.sql("select count(*) from contributions where request_id = 3") == [(0,)]
    actions = [r[0] for r in server.sql("select action from audit_log where case_code = :c order by id", c=code)]
    for action, count in (("share", 3), ("share-join", 3), ("share-domain", 3), ("share-revoke", 1)):
        assert actions.count(action) == count, actions
    assert actions.count("contribute") >= 2 * len(lens.red_flags) and "view" in actions
    actors = {r[0] for r in server.sql("select actor from audit_log where case_code = :c", c=code)}
    assert {"telegram:3401", "web:leraar", "telegram:4401", "web:doorgestuurd"} <= actors
    operator.close()


async def test_the_owner_shares_and_adds_in_the_browser(server, browser: Browser, lens: Lens) -> None:  # noqa: F811
    operator = console(server, lens)
    try:
        page = await person(browser, server, operator, "professional", "piet")
        web = console(server, lens, "web")
        owner = web.store.user("web", "piet")
        assert owner is not None
        code = complete(web.service, owner, set())
        web.close()
        await page.goto(f"{server.base}/case/{code}/summary")
        await page.get_by_role("link", name="Vraag een collega").click()
        problems = await axe(page)
        await click(page, "Maak de link")                      # nothing chosen: said plainly, nothing made
        assert "Kies minstens één deel" in await page.content()
        await page.get_by_label("Zingeving, Lerend Vermogen & Inzicht").check()
        await page.get_by_label("Grond om te delen").select_option("zvh_convenant")
        await page.get_by_label("Nee", exact=True).check()
        await page.get_by_label("Zo nee: waarom niet?").select_option("later")
        await click(page, "Maak de link")
        link = await page.locator("#web-link").input_value()
        assert link.startswith(f"{server.base}/share/s_") and code not in link
        problems += await axe(page)
        await page.goto(f"{server.base}/case/{code}/requests")
        listing = await page.content()
        assert "link nog niet geopend" in listing and "Zorg- en Veiligheidshuis" in listing
        problems += await axe(page)
        async with page.expect_navigation():
            await page.locator("button.danger").first.click()   # "Trek #n in"
        assert "ingetrokken" in await page.content()

        # aanvullen: one answer changed, a note added; the summary is worked out again
        await page.goto(f"{server.base}/case/{code}/summary")
        await page.get_by_role("link", name="Aanvullen").click()
        problems += await axe(page)
        await click(page, WONEN)
        assert "(nu: nee)" in await page.content()
        problems += await axe(page)
        await click(page, "Ja")
        await page.get_by_label("Notitie toevoegen", exact=False).fill("Later gesproken met de mentor.")
        await click(page, "Notitie opslaan")
        assert f"/case/{code}/summary" in page.url
    finally:
        await close_contexts(browser)
    assert problems == [], problems
    history = server.sql("select old_value, new_value, by_role from answer_history a join cases c "
                         "on c.id = a.case_id where c.code = :c order by a.id", c=code)
    assert history == [("no", "yes", "owner"), (None, None, "owner")]
    operator.close()
