"""The one typeface of every report: DejaVu Sans, shipped in `dialogs/reports/fonts/`, and the
shaping that Arabic needs before either renderer can draw it.

A note may hold any script (a Polish name, a Russian or Arabic phrase a youth said): the PDF's
standard Helvetica only has cp1252, so `Łukasz` lost its Ł and Cyrillic or Arabic vanished.
DejaVu Sans covers Latin Extended, Greek, Cyrillic and Arabic; both reportlab (PDF) and Pillow
(PNG) use the same two files, so the two reports show the same characters. Neither reportlab nor
Pillow's BASIC layout engine shapes Arabic, so a line that holds Arabic is shaped (joined letter
forms, `arabic-reshaper`) and put in visual order (`python-bidi`) first.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

import arabic_reshaper
from bidi.algorithm import get_display
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFontFile

REGULAR, BOLD = "DejaVuSans", "DejaVuSans-Bold"
_FILES = {REGULAR: "DejaVuSans.ttf", BOLD: "DejaVuSans-Bold.ttf"}
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


def font_path(bold: bool = False) -> Path:
    """The TTF file of the regular or bold face, inside the installed package."""
    return Path(str(resources.files("dialogs.reports") / "fonts" / _FILES[BOLD if bold else REGULAR]))


@cache
def registered() -> tuple[str, str]:
    """Register both faces with reportlab once; their names for ParagraphStyle and the canvas."""
    for name in (REGULAR, BOLD):
        pdfmetrics.registerFont(TTFont(name, str(font_path(name == BOLD))))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
    return REGULAR, BOLD


@cache
def coverage() -> frozenset[int]:
    """Code points both faces can draw."""
    regular, bold = (set(TTFontFile(str(font_path(b))).charToGlyph) for b in (False, True))
    return frozenset(regular & bold)


def can_draw(ch: str) -> bool:
    return ord(ch) in coverage()


def shaped(line: str) -> str:
    """One line ready to draw left to right: Arabic letters joined and in visual order; others as is."""
    if not _ARABIC.search(line):
        return line
    return get_display(arabic_reshaper.reshape(line))


def shaped_text(text: str) -> str:
    """`shaped` per line, line breaks kept."""
    return "\n".join(shaped(line) for line in text.split("\n"))


__all__ = ["BOLD", "REGULAR", "can_draw", "coverage", "font_path", "registered", "shaped", "shaped_text"]
