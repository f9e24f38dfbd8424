"""Misses found in dialogs/identifying.py while wiring the note check into the channels."""

from __future__ import annotations

from datetime import date

import pytest

from dialogs.identifying import find_identifying

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(("note", "expected"), [
    ("geboortedatum: 2009-04-03", [("birth_date", "2009-04-03")]),      # ISO dates
    ("zijn naam is kevin", [("name", "kevin")]),                         # a known first name after a cue, lower case
    ("Dr. de Boer belde terug", [("name", "de Boer")]),                  # a title, then a particle
    ("Jan-Willem van den Berg komt vaak langs", [("name", "Jan-Willem van den Berg")]),   # a double first name
    ("Ik sprak juf Annemiek", [("name", "Annemiek")]),
])
def test_more_identifying_details_are_found(note: str, expected: list[tuple[str, str]]) -> None:
    assert [(f.kind, f.text) for f in find_identifying(note, TODAY)] == expected


@pytest.mark.parametrize("note", [
    "het is heet buiten en hij draagt geen jas",     # "heet" is also "hot": a plain word after it is no name
    "zijn naam is niet bekend",
    "op 2026-11-03 zag ik hem bij het station",      # a recent ISO date without a cue: when it was seen
    "met de juf besproken",
    "rekening bij de ING",
])
def test_ordinary_words_after_cues_stay_clean(note: str) -> None:
    assert find_identifying(note, TODAY) == []
