"""Free text is checked for identifying data before it is stored (dialogs/identifying.py).

Each case is a note a professional might type; the kinds found are what the user is asked to remove.
Notes without identifying data must come through clean, or people learn to click the warning away.
"""

from __future__ import annotations

from datetime import date

import pytest

from dialogs.identifying import describe, find_identifying, is_bsn, is_iban

TODAY = date(2026, 12, 6)


def kinds(text: str) -> list[str]:
    return [f.kind for f in find_identifying(text, TODAY)]


@pytest.mark.parametrize(("note", "expected"), [
    ("Zijn naam is Jan de Vries en hij belt vaak met 06-12345678.", ["name", "phone"]),
    ("Moeder heet Fatima, bereikbaar via fatima.b@example.nl", ["name", "email"]),
    ("Woont op Dorpsstraat 12 in de wijk.", ["address"]),
    ("Adres 3512 JK 4, Utrecht", ["address"]),
    ("BSN 123456782 stond op de brief", ["bsn"]),
    ("Rekening NL91 ABNA 0417 1643 00 van een oom", ["iban"]),
    ("geboren op 12-04-2009", ["birth_date"]),
    ("Ze is geboren 3 maart 2010 en zit in de brugklas.", ["birth_date"]),
    ("Łukasz Nowak haalt hem op bij school.", ["name"]),
    ("Gisteren zag ik Mohamed El Amrani bij het station.", ["name"]),
    ("Bel +31 6 1234 5678 of 020-1234567.", ["phone", "phone"]),
    ("Name: Smith, called him twice", ["name"]),
])
def test_identifying_details_are_found(note: str, expected: list[str]) -> None:
    assert kinds(note) == expected


@pytest.mark.parametrize("note", [
    "Sinds de zomer verzuimt hij vaak en is hij moe. Veel nieuwe spullen.",
    "Op 3-11-2026 zag ik hem om 23.00 uur bij het station met twee oudere jongens.",
    "Overleg gehad met Veilig Thuis en de wijkagent; afspraak over 2 weken.",
    "Ze had 3 telefoons en 450 euro contant. Niveau 2 van 3.",
    "Zaak K7-QX3M besproken in het zorgteam van school.",
    "Moeder maakt zich zorgen. Meld Misdaad Anoniem niet gebeld.",
    "Hij werkt 40 uur per week voor 200 euro.",
    "Jan",     # a first name alone is not a full name (and may be anyone)
])
def test_ordinary_notes_come_through_clean(note: str) -> None:
    assert kinds(note) == []


def test_checksums_keep_ordinary_numbers_apart() -> None:
    assert is_bsn("123456782") and not is_bsn("123456789") and not is_bsn("000000000")
    assert is_iban("NL91ABNA0417164300") and not is_iban("NL91ABNA0417164301")


def test_what_was_found_is_described_in_both_languages() -> None:
    found = find_identifying("naam: Jan Jansen, 06 12345678", TODAY)
    assert describe(found, "nl") == "een naam (Jan Jansen), een telefoonnummer (06 12345678)"
    assert describe(found, "en") == "a name (Jan Jansen), a phone number (06 12345678)"
