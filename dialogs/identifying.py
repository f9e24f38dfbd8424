"""Find likely identifying data in free text before lensbot stores it.

A case is pseudonymous only as long as its free text is: one name, phone number or BSN in a note
turns a case code into a file about a findable person, and that note then travels into the PDF
and the exports. Professionals type such details by habit, so every channel runs a note through
`find_identifying` first and shows what was found, asking the user to remove it or to confirm
explicitly. The patterns favour catching too much over too little (the user can confirm); checks
with a checksum (BSN 11-proef, IBAN mod 97) keep ordinary numbers from being flagged.

The word lists (cues, particles, first names) and the labels live in identifying.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

KINDS = ("name", "phone", "email", "address", "bsn", "iban", "birth_date")


@dataclass(frozen=True)
class Finding:
    """One likely identifying detail: its kind and the text as typed (shown back to the user only)."""

    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class _Words:
    labels: dict[str, dict[str, str]]
    cues: frozenset[str]
    particles: frozenset[str]
    not_names: frozenset[str]
    first_names: frozenset[str]


@cache
def _words() -> _Words:
    data: dict[str, Any] = yaml.safe_load(Path(__file__).with_name("identifying.yaml").read_text(encoding="utf-8"))
    return _Words(
        labels=data["kinds"],
        cues=frozenset(w.lower() for w in data["name_cues"]),
        particles=frozenset(w.lower() for w in data["particles"]),
        not_names=frozenset(w.lower() for w in data["not_names"]),
        first_names=frozenset(w.lower() for w in data["first_names"]),
    )


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# digits with the separators people type in numbers: spaces, dots, dashes, brackets
NUMBER = re.compile(r"(?<![\w@])\+?\(?\d[\d\s().-]{6,}\d(?!\w)")
IBAN = re.compile(r"\b[A-Za-z]{2}\d{2}(?:\s?[A-Za-z0-9]){10,30}")
POSTCODE = re.compile(r"\b[1-9]\d{3}\s?(?!SA|SD|SS)[A-Z]{2}\b")
HOUSE_NUMBER = re.compile(r"\b\d{1,5}\s?[a-zA-Z]?\b")
STREET = re.compile(
    r"\b[A-Z][\w'-]*(?:straat|laan|weg|plein|gracht|kade|singel|dijk|hof|pad|steeg|dreef|park|markt|veld|"
    r"street|road|avenue|lane)\s+\d{1,5}\s?[a-zA-Z]?\b")
MONTHS = ("januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|"
          "jan|feb|mrt|apr|jun|jul|aug|sep|sept|okt|oct|nov|dec|"
          "january|february|march|may|june|july|august|october")
DATE = re.compile(
    r"\b(?:(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<y>\d{4}|\d{2})"
    rf"|(?P<d2>\d{{1,2}})\s+(?P<mn>{MONTHS})\.?\s+(?P<y2>\d{{4}})"
    r"|(?P<y3>(?:19|20)\d{2})-(?P<m3>\d{1,2})-(?P<d3>\d{1,2}))\b",   # ISO: 2009-04-03
    re.IGNORECASE)
BIRTH_CUE = re.compile(r"\b(geboren|geb\.|geboortedatum|born|birth|dob|d\.o\.b\.)", re.IGNORECASE)
WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)


def find_identifying(text: str, today: date | None = None) -> list[Finding]:
    """Every likely identifying detail in `text`, in the order they appear (overlaps removed)."""
    today = today or date.today()
    found: list[Finding] = []
    found += [Finding("email", m.group(), m.start(), m.end()) for m in EMAIL.finditer(text)]
    found += _ibans(text)
    found += _numbers(text)
    found += _addresses(text)
    found += _dates(text, today)
    found += _names(text)
    return _without_overlaps(found)


def describe(findings: list[Finding], lang: str) -> str:
    """"een naam (Jan de Vries), een telefoonnummer (06 1234 5678)": what the user is asked to remove."""
    labels = _words().labels
    return ", ".join(f"{labels[f.kind].get(lang) or labels[f.kind]['nl']} ({f.text})" for f in findings)


# -- numbers -------------------------------------------------------------------------------------
def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def is_bsn(digits: str) -> bool:
    """The 11-proef of a Dutch citizen service number (9 digits)."""
    if len(digits) != 9 or digits == "0" * 9:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(digits[8])
    return total % 11 == 0


def is_iban(candidate: str) -> bool:
    """ISO 13616 check (mod 97); a Dutch IBAN is 18 characters."""
    value = re.sub(r"\s", "", candidate).upper()
    if not 15 <= len(value) <= 34 or not value[:2].isalpha() or not value[2:4].isdigit():
        return False
    moved = value[4:] + value[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _ibans(text: str) -> list[Finding]:
    """The longest prefix of each candidate that passes the check ("NL91 ABNA 0417 1643 00 van ...")."""
    result = []
    for m in IBAN.finditer(text):
        candidate = m.group()
        for end in range(len(candidate), 14, -1):
            if (end == len(candidate) or not candidate[end].isalnum()) and is_iban(candidate[:end]):
                result.append(Finding("iban", candidate[:end], m.start(), m.start() + end))
                break
    return result


def _numbers(text: str) -> list[Finding]:
    result = []
    for m in NUMBER.finditer(text):
        raw = m.group().strip(" .-()")
        digits = _digits(raw)
        if DATE.fullmatch(raw):
            continue
        if len(digits) == 9 and is_bsn(digits):
            result.append(Finding("bsn", raw, m.start(), m.start() + len(raw)))
        elif 10 <= len(digits) <= 13 and (raw.startswith(("0", "+", "(0")) or digits.startswith("31")):
            result.append(Finding("phone", raw, m.start(), m.start() + len(raw)))
    return result


def _addresses(text: str) -> list[Finding]:
    result = [Finding("address", m.group(), m.start(), m.end()) for m in STREET.finditer(text)]
    for m in POSTCODE.finditer(text):
        # a postcode with a house number right before or after it ("1234 AB 12", "12, 1234 AB")
        after = HOUSE_NUMBER.match(text, m.end() + (1 if text[m.end():m.end() + 1] in (" ", ",") else 0))
        before = re.search(r"\d{1,5}\s?[a-zA-Z]?[,\s]\s*$", text[max(0, m.start() - 10):m.start()])
        if after or before:
            end = after.end() if after else m.end()
            result.append(Finding("address", text[m.start():end].strip(), m.start(), end))
    return result


def _dates(text: str, today: date) -> list[Finding]:
    """Full dates that read as a birth date: with a cue ("geboren"), or in a year long past.

    A note often dates what was seen ("op 3 maart zag ik ..."): a recent full date without a cue
    is left alone; a year four or more years back is almost always someone's birth.
    """
    result = []
    for m in DATE.finditer(text):
        year_text = m.group("y") or m.group("y2") or m.group("y3")
        year = int(year_text)
        if len(year_text) == 2:
            year += 2000 if year <= today.year % 100 else 1900
        cue = BIRTH_CUE.search(text[max(0, m.start() - 30):m.start()])
        if cue or 1900 <= year <= today.year - 4:
            result.append(Finding("birth_date", m.group(), m.start(), m.end()))
    return result


# -- names ---------------------------------------------------------------------------------------
def _names(text: str) -> list[Finding]:
    words = _words()
    tokens = list(WORD.finditer(text))
    result = []
    for i, tok in enumerate(tokens):
        low = tok.group().lower().rstrip(".")
        follows_cue = low in words.cues
        is_first_name = tok.group()[:1].isupper() and _first_name(low, words)
        if not (follows_cue or is_first_name):
            continue
        start = i + 1 if follows_cue else i
        if follows_cue:
            # "naam: Jan", "heet Jan", "naam is Jan"
            while start < len(tokens) and tokens[start].group().lower() in ("is", "was", "van", "of"):
                start += 1
        end = _name_end(tokens, start, words, after_cue=follows_cue)
        # after a cue one capitalised word is a name; a first name needs a surname after it
        if end > start + (0 if follows_cue else 1):
            result.append(_span(text, tokens, start, end))
    return result


def _first_name(low: str, words: _Words) -> bool:
    """A known first name, also as the first part of a double one (Jan-Willem, Anne-Marie)."""
    return low in words.first_names or low.split("-")[0] in words.first_names


def _name_end(tokens: list[re.Match[str]], start: int, words: _Words, after_cue: bool = False) -> int:
    """The end (exclusive) of a run of capitalised words, particles allowed between them.

    Right after a cue, particles may come first ("dhr. de Boer") and a known first name counts in
    lower case too ("zijn naam is kevin")."""
    end = start
    j = start
    while j < len(tokens):
        word = tokens[j].group()
        capitalised = word[:1].isupper() and word.lower() not in words.not_names
        if capitalised or (after_cue and j == start and _first_name(word.lower(), words)):
            j += 1
            end = j
        elif word.lower() in words.particles and (end > start or after_cue):
            j += 1
        else:
            break
        if j - start > 5:
            break
    return end


def _span(text: str, tokens: list[re.Match[str]], start: int, end: int) -> Finding:
    first, last = tokens[start], tokens[end - 1]
    return Finding("name", text[first.start():last.end()], first.start(), last.end())


def _without_overlaps(found: list[Finding]) -> list[Finding]:
    """Keep the longest finding where two overlap (an IBAN is not also a phone number)."""
    kept: list[Finding] = []
    for f in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if kept and f.start < kept[-1].end:
            continue
        kept.append(f)
    return kept
