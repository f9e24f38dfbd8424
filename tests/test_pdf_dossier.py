"""The dossier PDF as a professional files it (issue 15, item 2), read back with pypdf.

One session: a professional of "Gemeente Utrecht, team Jeugd" (LENSBOT_ORGANISATION) runs a full
intake on a real SQLite file through the door, reports acute danger, answers "ja" to the signals of
two indicators and "weet ik niet" to one, skips a leefgebied, writes a closing note, and asks for the
PDF as any channel does (`door.reports.case`). The test reads the pages back: page 1 holds what they
act on (code, author and organisation, Dutch time, the reading, next steps, contacts, the lens picture),
later pages the answers per leefgebied and the dated note; the metadata are real, the fonts embedded,
every page says "pagina N van M", and the acute box speaks to a file reader, not to a chat.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pypdf
import pytest

from dialogs.app import Door, Settings
from tests.support.app import Lens

ORGANISATION = "Gemeente Utrecht, team Jeugd"
STRONG = ("schulden", "criminaliteit", "controle_dwang")
UNKNOWN = ("zingeving", "lerend_vermogen")
NOTE = "Gesprek met mentor gepland.\nTweede regel van de notitie."


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, lens: Lens) -> Iterator[tuple[Door, str, bytes]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('dossier') / 'lensbot.db'}"
    door = Door(Settings.load(database_url=url, organisation=ORGANISATION), "telegram", lens=lens)
    door.upgrade_database()
    user = door.admin.add_user("telegram", "4242", "professional")
    yes = {s.id for ind in STRONG for s in lens.indicators[ind].signals}
    unknown = {s.id for ind in UNKNOWN if ind in lens.indicators for s in lens.indicators[ind].signals}
    first_flag = next(iter(lens.red_flags))
    skipped = lens.leefgebieden[-1].id
    reply = door.cases.start(user, "nl")
    code = reply.case_code
    while reply.prompt is not None:
        prompt = reply.prompt
        ids = [o.id for o in prompt.options]
        if prompt.accepts_text:
            reply = door.cases.note(user, code, NOTE, reply.step, "nl")
            continue
        q = prompt.question_id
        in_skipped = q in lens.signals and lens.indicator_leefgebied[lens.signal_indicator[q]] == skipped
        option = ("age_2" if "age_2" in ids else "skip" if in_skipped and "skip" in ids
                  else "yes" if q in yes or q == first_flag else "unknown" if q in unknown
                  else "no" if "no" in ids else ids[0])
        reply = door.cases.choose(user, code, option, reply.step, "nl")
        assert not reply.refused, (option, reply.toast)
    before = datetime.now(UTC).replace(microsecond=0)
    file = door.reports.case(user, code, "pdf", "nl")
    assert file is not None and file.name == f"lensbot-{code}.pdf"
    yield door, code, file.data
    assert before.year >= 2026


def pages(data: bytes) -> list[str]:
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages]


def test_page_one_holds_what_a_professional_acts_on(session: tuple[Door, str, bytes], lens: Lens) -> None:
    _, code, data = session
    first = " ".join(pages(data)[0].split())      # pypdf breaks table cells over lines
    assert first.startswith(f"Dossier zaak {code}")
    assert f"Zaakcode {code}" in first
    assert f"Opgesteld door professional, {ORGANISATION}" in first
    assert "CET" in first or "CEST" in first     # Dutch time, not UTC
    assert "Zorgniveau:" in first                  # the reading, and why
    assert "Volgende stappen" in first and "Wie inschakelen" in first
    assert "Alarmnummer 112" in first and "0800-2000" in first   # whom to call, with their numbers
    images = pypdf.PdfReader(io.BytesIO(data)).pages[0].images
    assert len(images) == 1 and images[0].image is not None and images[0].image.width >= 1000
    # the acute box is written for a file: no chat sentence
    assert "Acuut gevaar gemeld" in first and "Bij direct gevaar: 112 bellen" in first
    assert "gewoon vervolgen" not in " ".join(pages(data))


def test_later_pages_hold_answers_notes_in_that_order(session: tuple[Door, str, bytes], lens: Lens) -> None:
    _, _, data = session
    text = " ".join(" ".join(pages(data)[1:]).split())
    assert "Antwoorden per leefgebied" not in pages(data)[0]
    order = ["Antwoorden per leefgebied", "Met ja beantwoord", "Niet gevraagd:", "Opvallende indicatoren",
             "Wat zie ik nog niet?", "Notities", "Notitie van"]
    found = [text.find(word) for word in order]
    assert -1 not in found, dict(zip(order, found, strict=True))
    assert found[0] < found[1] and found[5] < found[6]
    skipped = lens.leefgebieden[-1]
    asked = sum(len(ind.signals) for ind in skipped.indicators)
    assert f"{skipped.name.nl}" in text and f"Niet gevraagd: {asked}" in text   # apart from "nee"
    assert "Gesprek met mentor gepland. Tweede regel van de notitie." in text
    year = datetime.now(UTC).year
    assert "Notitie van " in text and str(year) in text


def test_every_page_is_numbered_and_the_file_is_real(session: tuple[Door, str, bytes]) -> None:
    _, code, data = session
    reader = pypdf.PdfReader(io.BytesIO(data))
    total = len(reader.pages)
    assert total >= 2
    for number, text in enumerate(pages(data), start=1):
        assert f"pagina {number} van {total}" in text and f"zaak {code}" in text
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "lensbot dossier" and meta.subject == "Vastlegging van signalen, geen diagnose"
    assert meta.author == f"professional, {ORGANISATION}"
    assert code not in str(dict(meta))                              # no case data in the metadata
    created = meta.creation_date
    assert created is not None and abs((datetime.now(UTC) - created).total_seconds()) < 120
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant.get("/FontDescriptor")
            fonts[str(font["/BaseFont"])] = descriptor is not None and any(
                k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    assert fonts and all(fonts.values()), fonts                    # every font embedded
    assert all("DejaVuSans" in name for name in fonts)
