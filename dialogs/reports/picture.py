"""The lens picture: one PNG that shows at a glance which indicators stand out, per leefgebied.

A professional forwards it or looks at it on a phone, so it is 1080 px wide with text of at least
28 px, the four leefgebieden in a 2×2 grid (like the quadrants of the CCV lens) and every indicator
as a cell. Status is never told by colour alone: each cell also carries a drawn symbol and a word,
and the colours (dark orange, amber, hatched light blue, white) differ in lightness and pattern
so they survive colour blindness and greyscale printing.

Fonts: Pillow's bundled Aileron (`ImageFont.load_default`) only covers ASCII and a few quotes, so
"Financiën" would show a missing-glyph box. We use DejaVu Sans, shipped in `dialogs/reports/fonts/`
(`dialogs/reports/typeface.py`, the same files as the PDF): Latin Extended, Greek, Cyrillic and
Arabic, so no system font is needed. Text goes through `plain_text` first, which also turns emoji
into plain text, and a line holding Arabic is shaped and put in visual order (`typeface.shaped`).

The same input always gives the same bytes: a fixed layout engine (BASIC, not raqm, whose
presence varies per install), no timestamps, fixed PNG settings.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from dialogs.reports.model import CaseInfo
from dialogs.reports.typeface import can_draw, font_path, shaped
from dialogs.texts import Catalog, dialog_texts
from matrix.lens import Lens
from matrix.scoring import Assessment, Status
from matrix.view import AssessmentView

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]


@cache
def report_texts() -> Catalog:
    return Catalog.load(Path(__file__).with_name("texts.yaml"))


# -- text and fonts, shared by the PNG renderers and the PDF ------------------------------------------
FONT_CHARSET = "font"   # plain_text's default: what DejaVu Sans draws

# Characters outside cp1252 that carry meaning: a plain-text stand-in rather than a missing-glyph box.
_REPLACEMENTS = {
    "⚠": "!", "❗": "!", "‼": "!!", "✅": "+", "✔": "+", "✓": "+", "☑": "+", "❌": "x", "✖": "x", "✗": "x",
    "→": "->", "←": "<-", "↑": "^", "↓": "v", "⇒": "=>", "≥": ">=", "≤": "<=", "≠": "!=", "☎": "tel.",
    "📞": "tel.", "\u2212": "-", "\u2011": "-", "\u2010": "-", "\u00a0": " ", "\u202f": " ", "\u2009": " ",
}
# Only needed when falling back to Pillow's ASCII-only font.
_ASCII = {"–": "-", "—": "-", "‘": "'", "’": "'", "‚": ",", "“": '"', "”": '"', "„": '"', "•": "*", "…": "...",
          "€": "EUR", "·": "-", "«": '"', "»": '"', "×": "x", "°": " ", "ß": "ss", "æ": "ae", "Æ": "AE",
          "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O"}


def plain_text(text: str, charset: str = FONT_CHARSET) -> str:
    """`text` with every character the charset cannot show replaced, decomposed (ë -> e) or dropped.

    The default charset is what the shipped DejaVu Sans draws; "cp1252" and "ascii" are narrower."""
    out: list[str] = []
    dropped = False
    for ch in unicodedata.normalize("NFC", text):     # "e" + combining diaeresis -> "ë"
        if ch in "\n\t":
            out.append(ch)
            continue
        if charset == "ascii" and ch in _ASCII:
            out.append(_ASCII[ch])
            continue
        if ch in _REPLACEMENTS:
            out.append(_REPLACEMENTS[ch])
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Mn", "Me", "Cs", "Co", "Cn"):
            dropped = True   # controls, zero-width joiners, variation selectors (the "️" of ⚠️)
            continue
        if _encodable(ch, charset):
            out.append(ch)
            continue
        folded = "".join(c for c in unicodedata.normalize("NFKD", ch) if _encodable(c, charset)
                         and not unicodedata.combining(c))
        out.append(folded)
        dropped = dropped or not folded
    result = "".join(out)
    if dropped:   # no double or trailing spaces where an emoji stood
        result = "\n".join(re.sub(" {2,}", " ", line).strip() for line in result.split("\n"))
    return result


def _encodable(ch: str, charset: str) -> bool:
    if charset == FONT_CHARSET:
        return can_draw(ch)
    try:
        ch.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


@cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans from `dialogs/reports/fonts/`, the same face as the PDF."""
    return ImageFont.truetype(str(font_path(bold)), size, layout_engine=ImageFont.Layout.BASIC)


def drawable(text: str) -> str:
    """What the font can draw of `text`, on one line, Arabic shaped and in visual order."""
    return shaped(plain_text(text).replace("\n", " ").replace("\t", " "))


def wrap(text: str, fnt: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap to `width` pixels; a word longer than a line is cut by characters."""
    lines: list[str] = []
    line = ""
    for word in drawable(text).split():
        candidate = f"{line} {word}" if line else word
        if fnt.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while fnt.getlength(word) > width:
            cut = max(1, next((i for i in range(len(word), 0, -1) if fnt.getlength(word[:i]) <= width), 1))
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines or [""]


def hatched(image: Image.Image, box: Box, fill: RGB, lines: RGB, step: int = 14, width: int = 3) -> None:
    """Fill `box` with diagonal hatching; identical for every box of the same size."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    tile = Image.new("RGB", (w, h), fill)
    pen = ImageDraw.Draw(tile)
    for k in range(-h, w + h, step):
        pen.line((k, h, k + h, 0), fill=lines, width=width)
    image.paste(tile, (x0, y0))


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


# -- the lens picture -------------------------------------------------------------------------------

WIDTH = 1080
MARGIN = 36
GUTTER = 24
CELL_GAP = 12
PAD = 14
LINE = 34            # line height of 28 px text
SYMBOL = 26

INK: RGB = (26, 26, 26)
MUTED: RGB = (85, 85, 85)
WHITE: RGB = (255, 255, 255)
BACKGROUND: RGB = (250, 250, 247)
RULE: RGB = (170, 170, 170)
ALERT: RGB = (181, 74, 0)


@dataclass(frozen=True)
class StatusStyle:
    fill: RGB
    ink: RGB
    border: RGB
    hatch: RGB | None = None


# Dark orange / amber / hatched light blue / white: four steps of lightness plus a pattern, so the
# statuses stay apart for every kind of colour blindness; white text on dark orange is 5.3:1.
STATUS_STYLES: dict[Status, StatusStyle] = {
    "triggered": StatusStyle(fill=(181, 74, 0), ink=WHITE, border=(120, 45, 0)),
    "signals": StatusStyle(fill=(242, 193, 78), ink=INK, border=(168, 124, 20)),
    "unknown": StatusStyle(fill=(214, 230, 242), ink=INK, border=(120, 150, 180), hatch=(176, 202, 224)),
    "clear": StatusStyle(fill=WHITE, ink=INK, border=(154, 165, 177)),
    "not_asked": StatusStyle(fill=(236, 236, 236), ink=INK, border=(150, 150, 150)),
}
STATUS_ORDER: tuple[Status, ...] = ("triggered", "signals", "unknown", "not_asked", "clear")


def draw_symbol(draw: ImageDraw.ImageDraw, status: Status, x: int, y: int, size: int, colour: RGB) -> None:
    """A drawn, font-independent marker: triangle, disc, question ring, tick."""
    s = size
    if status == "triggered":
        draw.polygon([(x + s // 2, y), (x + s, y + s), (x, y + s)], fill=colour)
    elif status == "signals":
        draw.ellipse((x + 2, y + 2, x + s - 2, y + s - 2), fill=colour)
    elif status == "not_asked":   # a dash: nothing was asked here
        draw.line([(x + 3, y + s // 2), (x + s - 3, y + s // 2)], fill=colour, width=4)
    elif status == "unknown":
        draw.ellipse((x + 1, y + 1, x + s - 1, y + s - 1), outline=colour, width=3)
        q = font(s - 6, bold=True)
        draw.text((x + s / 2, y + s / 2 + 1), "?", font=q, fill=colour, anchor="mm")
    else:
        draw.line([(x + 3, y + s // 2), (x + s // 2 - 2, y + s - 4), (x + s - 2, y + 4)], fill=colour, width=4,
                  joint="curve")


@dataclass(frozen=True)
class _Cell:
    indicator: str
    status: Status
    lines: tuple[str, ...]
    label: str
    height: int


@dataclass(frozen=True)
class _Quadrant:
    title: tuple[str, ...]
    cells: tuple[_Cell, ...]
    height: int


def _quadrants(view: AssessmentView, lang: str, width: int) -> list[_Quadrant]:
    rt = report_texts()
    name_font, title_font = font(28), font(30, bold=True)
    result_quadrants = []
    for lg in view.leefgebieden:
        cells = []
        for ind in lg.indicators:
            lines = wrap(ind.name.get(lang), name_font, width - 2 * PAD)
            label = rt(f"picture.cell.{ind.status}", lang)
            if ind.yes:
                label += " · " + rt("picture.cell.yes", lang, count=len(ind.yes))
            height = PAD + LINE * len(lines) + 6 + LINE + PAD
            cells.append(_Cell(ind.id, ind.status, tuple(lines), label, height))
        title = wrap(lg.name.get(lang), title_font, width)
        height = 36 * len(title) + 10 + sum(c.height + CELL_GAP for c in cells)
        result_quadrants.append(_Quadrant(tuple(title), tuple(cells), height))
    return result_quadrants


def draw_lens(lens: Lens, result: Assessment, info: CaseInfo, lang: str = "nl") -> tuple[Image.Image,
                                                                                          dict[str, Box]]:
    """The picture and where each indicator's cell is (for tests and for callers that annotate)."""
    return draw_view(AssessmentView.of(lens, result), info, lang)


def draw_view(view: AssessmentView, info: CaseInfo, lang: str = "nl") -> tuple[Image.Image, dict[str, Box]]:
    """`draw_lens` for a composed assessment."""
    t, rt = dialog_texts(), report_texts()
    inner = WIDTH - 2 * MARGIN
    qwidth = (inner - GUTTER) // 2
    quads = _quadrants(view, lang, qwidth)
    title_font, sub_font, head_font = font(44, bold=True), font(28), font(30, bold=True)
    concern = t("summary.concern", lang, level=t(f"concern.{view.concern}", lang))
    concern_lines = wrap(concern, head_font, inner)
    sub = rt("picture.subtitle", lang, date=info.updated_at.strftime("%Y-%m-%d"), version=view.lens_version)
    sub_lines = wrap(sub, sub_font, inner)

    # Vertical layout, measured first so the canvas is exactly as tall as needed.
    y = MARGIN
    header_h = 54 + LINE * len(sub_lines) + 8 + 38 * len(concern_lines)
    alert_h = 64 if view.red_flags else 0
    rows = [quads[i:i + 2] for i in range(0, len(quads), 2)]
    rows_h = sum(max(q.height for q in row) + GUTTER for row in rows)
    legend_rows = (len(STATUS_ORDER) + 1) // 2
    legend_h = 40 + legend_rows * 56
    footer_h = 24 + 40
    height = MARGIN + header_h + 16 + (alert_h + 16 if alert_h else 0) + rows_h + legend_h + footer_h + MARGIN

    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)

    # Header: case code, date, lens version, concern level.
    draw.text((MARGIN, y), drawable(rt("picture.title", lang, code=info.code)), font=title_font, fill=INK)
    y += 54
    for line in sub_lines:
        draw.text((MARGIN, y), line, font=sub_font, fill=MUTED)
        y += LINE
    y += 8
    for line in concern_lines:
        draw.text((MARGIN, y), line, font=head_font, fill=INK)
        y += 38
    y += 16
    if view.red_flags:
        draw.rounded_rectangle((MARGIN, y, WIDTH - MARGIN, y + alert_h), radius=10, fill=ALERT)
        draw_symbol(draw, "triggered", MARGIN + 18, y + (alert_h - SYMBOL) // 2, SYMBOL, WHITE)
        draw.text((MARGIN + 18 + SYMBOL + 14, y + alert_h // 2), drawable(rt("picture.red_flags", lang)),
                  font=head_font, fill=WHITE, anchor="lm")
        y += alert_h + 16

    # The leefgebieden, two per row.
    boxes: dict[str, Box] = {}
    cell_font, label_font = font(28), font(28, bold=True)
    for row in rows:
        row_h = max(q.height for q in row)
        for col, quad in enumerate(row):
            x = MARGIN + col * (qwidth + GUTTER)
            cy = y
            for line in quad.title:
                draw.text((x, cy), line, font=head_font, fill=INK)
                cy += 36
            cy += 10
            for cell in quad.cells:
                style = STATUS_STYLES[cell.status]
                box = (x, cy, x + qwidth, cy + cell.height)
                draw.rectangle(box, fill=style.fill)
                if style.hatch:
                    hatched(image, box, style.fill, style.hatch)
                draw.rectangle(box, outline=style.border, width=3 if cell.status == "triggered" else 2)
                ty = cy + PAD
                for line in cell.lines:
                    draw.text((x + PAD, ty), line, font=cell_font, fill=style.ink)
                    ty += LINE
                ty += 6
                draw_symbol(draw, cell.status, x + PAD, ty + (LINE - SYMBOL) // 2, SYMBOL, style.ink)
                draw.text((x + PAD + SYMBOL + 10, ty), drawable(cell.label), font=label_font, fill=style.ink)
                boxes[cell.indicator] = box
                cy += cell.height + CELL_GAP
        y += row_h + GUTTER

    # Legend: swatch with its symbol, and the status words the chat summary uses.
    draw.text((MARGIN, y), drawable(rt("picture.legend", lang)), font=head_font, fill=INK)
    y += 40
    for i, status in enumerate(STATUS_ORDER):
        style = STATUS_STYLES[status]
        x = MARGIN + (i % 2) * (qwidth + GUTTER)
        ly = y + (i // 2) * 56
        swatch = (x, ly, x + 64, ly + 44)
        draw.rectangle(swatch, fill=style.fill)
        if style.hatch:
            hatched(image, swatch, style.fill, style.hatch)
        draw.rectangle(swatch, outline=style.border, width=2)
        draw_symbol(draw, status, x + 19, ly + 9, SYMBOL, style.ink)
        words = wrap(t(f"status.{status}", lang), cell_font, qwidth - 80)[0]
        draw.text((x + 80, ly + 22), words, font=cell_font, fill=INK, anchor="lm")
    y += legend_rows * 56

    # Footer.
    y += 12
    draw.line((MARGIN, y, WIDTH - MARGIN, y), fill=RULE, width=2)
    y += 12
    draw.text((WIDTH // 2, y + 20), drawable(rt("report.footer_short", lang)), font=head_font, fill=INK,
              anchor="mm")
    return image, boxes


def lens_picture(lens: Lens, result: Assessment, info: CaseInfo, lang: str = "nl") -> bytes:
    """The lens picture of one case as PNG bytes (about 1080 px wide; the height follows the lens)."""
    image, _ = draw_lens(lens, result, info, lang)
    return png_bytes(image)


__all__ = ["STATUS_STYLES", "draw_lens", "draw_view", "font", "hatched", "lens_picture", "plain_text", "report_texts",
           "wrap"]
