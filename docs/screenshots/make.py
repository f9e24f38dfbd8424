"""Make the README's screenshots of the web channel: the question page and the summary, on a
phone (360 px) and a laptop (1280 px). Run from the repository root:

    .venv/bin/python docs/screenshots/make.py

It starts `lensbot web` on a temporary database, signs up the first admin from the setup link,
answers a few questions and saves docs/screenshots/{question,summary}-{phone,laptop}.png.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support.web import CHROMIUM, answer_until, click_answer, register, start_server  # noqa: E402

OUT = Path(__file__).parent
SIZES = {"phone": {"width": 360, "height": 740}, "laptop": {"width": 1280, "height": 800}}


def main() -> None:
    server = start_server(Path(tempfile.mkdtemp()))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            admin = register(browser, server.setup_link or "", "anna")
            page = admin.page
            page.get_by_label("Leeftijd").select_option(label="12 tot 18 jaar")
            page.get_by_role("button", name="Snelle scan").click()
            for label in ("Nee", "Ja", "Nee"):
                click_answer(page, label)
            question = page.url.split("#")[0]
            state = admin.context.storage_state()
            answer_until(page, stop="Klaar", choose=("Nee", "Weet ik niet"))
            click_answer(page, "Klaar")
            page.wait_for_url("**/summary")
            summary = page.url
            # the question page again: go back to question 4 of the scan in a fresh case for the picture
            for name, viewport in SIZES.items():
                context = browser.new_context(viewport=viewport, storage_state=state)
                shot = context.new_page()
                shot.goto(f"{server.base}/")
                shot.get_by_label("Leeftijd").select_option(label="12 tot 18 jaar")
                shot.get_by_role("button", name="Snelle scan").click()
                for label in ("Nee", "Ja"):
                    click_answer(shot, label)
                shot.screenshot(path=OUT / f"question-{name}.png", full_page=name == "phone")
                shot.goto(summary)
                shot.wait_for_load_state("networkidle")
                shot.screenshot(path=OUT / f"summary-{name}.png", full_page=False)
                context.close()
            del question
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
