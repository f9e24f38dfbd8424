"""The local picture over time as a PNG: per month, how many completed cases there were, their
concern levels, the leefgebieden and indicators that stood out, the phenomena, and the blind spots
(the questions most often answered "weet ik niet").

A coordinator reads it as a table with shaded cells: one column per month of the period, one row per
item. Each month's column is that month exactly as `lensbot stats --period YYYY-MM` publishes it
(sealed on its own: "<5" for small counts, "*" for complementary suppression), so the picture adds no
count that was not already published; which rows appear follows the published period. Small and
hidden cells are the same hatched box whatever their value. Drawn with Pillow like the other
pictures (same fonts), 1080 px wide, deterministic for the same input.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw

from dialogs.counts import LEVELS, LocalPicture
from dialogs.labels import LensLabels
from dialogs.reports.picture import RGB, drawable, font, hatched, png_bytes, wrap
from dialogs.texts import Catalog, dialog_texts
from matrix.lens import Lens

WIDTH = 1080
MARGIN = 40
COLUMN = 150             # a month's column
ROW = 44
TOP_ROWS = 8             # indicators, phenomena and blind spots: the most frequent ones
INK: RGB = (26, 26, 26)
MUTED: RGB = (85, 85, 85)
BACKGROUND: RGB = (250, 250, 247)
GRID: RGB = (214, 214, 214)
LIGHT: RGB = (222, 235, 247)     # few ... many: light to dark blue (Okabe-Ito blue at the end)
DARK: RGB = (0, 90, 150)
STUB_FILL: RGB = (236, 236, 236)
STUB_LINES: RGB = (150, 150, 150)
MONTHS = {"nl": "jan feb mrt apr mei jun jul aug sep okt nov dec",
          "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"}


@cache
def timeline_texts() -> Catalog:
    return Catalog.load(Path(__file__).with_name("timeline.yaml"))


def month_label(month: str, lang: str) -> str:
    """2026-07 -> "jul 2026"."""
    year, number = month.split("-")
    return f"{MONTHS[lang].split()[int(number) - 1]} {year}"


def two_lines(text: str, fnt: object, width: int) -> list[str]:
    """At most two lines; a longer text ends in "…" (the question is in full in the CSV and the text)."""
    lines = wrap(text, fnt, width)  # type: ignore[arg-type]
    if len(lines) <= 2:
        return lines
    second = lines[1]
    while second and fnt.getlength(second + " …") > width:  # type: ignore[attr-defined]
        second = second.rsplit(" ", 1)[0] if " " in second else second[:-1]
    return [lines[0], second + " …"]


def _shade(value: int, top: int) -> RGB:
    share = 0.25 + 0.75 * (value / top) if top else 0.25
    return tuple(round(a + (b - a) * share) for a, b in zip(LIGHT, DARK, strict=True))  # type: ignore[return-value]


def _listed(pic: LocalPicture, metric: str, keys: list[str]) -> list[str]:
    """Keys the published period shows (not small), most frequent first; a hidden count sorts as 0."""
    listed = [k for k in keys if pic.state(metric, k) != "small"]
    return sorted(listed, key=lambda k: (-pic.count(metric, k) if pic.state(metric, k) == "shown" else 0, k))


Section = tuple[str, list[tuple[str, str, str]]]   # heading, rows of (label, metric, key)


def sections(lens: Lens, pic: LocalPicture, lang: str) -> list[Section]:
    tt, dt = timeline_texts(), dialog_texts()
    labels = LensLabels.of(lens, pic.lenses)
    concern = [(dt(f"concern.{level}", lang), "concern", level) for level in LEVELS]
    leefgebieden = [(lg.name.get(lang), "leefgebied", lg.id) for lg in lens.leefgebieden]
    indicators = [(labels.indicator(k, lang), "indicator", k)
                  for k in _listed(pic, "indicator", list(pic.indicators))[:TOP_ROWS]]
    phenomena = [(labels.phenomenon(k, lang), "phenomenon", k)
                 for k in _listed(pic, "phenomenon", list(pic.phenomena))[:TOP_ROWS]]
    blind = [(labels.question(k, lang), "signal_unknown", k)
             for k in _listed(pic, "signal_unknown", list(pic.signals_unknown))[:TOP_ROWS]]
    return [(tt("section.cases", lang), [(tt("row.cases", lang), "cases", "all")]),
            (tt("section.concern", lang), concern), (tt("section.leefgebieden", lang), leefgebieden),
            (tt("section.indicators", lang), indicators), (tt("section.phenomena", lang), phenomena),
            (tt("section.blind_spots", lang), blind)]


def stats_timeline(lens: Lens, pic: LocalPicture, monthly: tuple[LocalPicture, ...], lang: str = "nl") -> bytes:
    """The PNG bytes; `monthly` holds one sealed picture per month of the period, oldest first."""
    tt = timeline_texts()
    title_font, sub_font, head_font, cell_font, small_font = (font(40, bold=True), font(24), font(28, bold=True),
                                                              font(24), font(22))
    label_w = WIDTH - 2 * MARGIN - COLUMN * len(monthly)
    parts = sections(lens, pic, lang)
    wrapped = {label: two_lines(label, cell_font, label_w - 16) for _, rows in parts for label, _, _ in rows}
    legend = wrap(tt("legend", lang), small_font, WIDTH - 2 * MARGIN - 70)
    subtitle = wrap(tt("subtitle", lang), sub_font, WIDTH - 2 * MARGIN)
    height = MARGIN + 54 + 32 * len(subtitle) + 20 + ROW   # title, subtitle, month header
    for _, rows in parts:
        height += 56 + (sum(ROW + 26 * (len(wrapped[label]) - 1) for label, _, _ in rows) if rows else ROW)
    height += 20 + 28 * len(legend) + 20 + 30 + MARGIN
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)

    y = MARGIN
    draw.text((MARGIN, y), drawable(tt("title", lang, period=pic.period or "")), font=title_font, fill=INK)
    y += 54
    for line in subtitle:
        draw.text((MARGIN, y), line, font=sub_font, fill=MUTED)
        y += 32
    y += 20
    x0 = MARGIN + label_w
    for i, month in enumerate(monthly):
        text = drawable(month_label(month.period or "", lang))
        draw.text((x0 + i * COLUMN + COLUMN // 2, y + ROW // 2), text, font=cell_font,
                  fill=INK, anchor="mm")
    y += ROW
    for heading, rows in parts:
        y += 14
        draw.text((MARGIN, y), drawable(heading), font=head_font, fill=INK)
        y += 42
        if not rows:
            draw.text((MARGIN + 16, y + 8), drawable(tt("none", lang)), font=cell_font, fill=MUTED)
            y += ROW
            continue
        top = max((m.count(metric, key) for _, metric, key in rows for m in monthly
                   if m.state(metric, key) == "shown"), default=0)
        for label, metric, key in rows:
            lines = wrapped[label]
            h = ROW + 26 * (len(lines) - 1)
            draw.line((MARGIN, y, WIDTH - MARGIN, y), fill=GRID, width=1)
            for n, line in enumerate(lines):
                draw.text((MARGIN + 16, y + 9 + 26 * n), line, font=cell_font, fill=INK)
            for i, month in enumerate(monthly):
                _cell(image, draw, (x0 + i * COLUMN + 6, y + 5, x0 + (i + 1) * COLUMN - 6, y + h - 5),
                      month, metric, key, top, cell_font)
            y += h
    y += 20
    hatched(image, (MARGIN, y + 2, MARGIN + 54, y + 28), STUB_FILL, STUB_LINES, step=10, width=2)
    draw.rectangle((MARGIN, y + 2, MARGIN + 54, y + 28), outline=STUB_LINES, width=1)
    for line in legend:
        draw.text((MARGIN + 70, y), line, font=small_font, fill=INK)
        y += 28
    y += 20
    draw.line((MARGIN, y - 10, WIDTH - MARGIN, y - 10), fill=GRID, width=2)
    draw.text((MARGIN, y), drawable(tt("footer", lang, version=lens.version)), font=small_font, fill=MUTED)
    return png_bytes(image)


def _cell(image: Image.Image, draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], month: LocalPicture,
          metric: str, key: str, top: int, fnt: Callable[..., object] | object) -> None:
    """One month's count: a shaded box with the number, or the same hatched box for "<5" and "*"."""
    state = month.state(metric, key)
    middle = ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)
    if state == "shown":
        value = month.count(metric, key)
        fill = _shade(value, top)
        draw.rectangle(box, fill=fill)
        ink = (255, 255, 255) if sum(fill) < 400 else INK
        draw.text(middle, str(value), font=fnt, fill=ink, anchor="mm")  # type: ignore[arg-type]
        return
    hatched(image, box, STUB_FILL, STUB_LINES, step=10, width=2)
    draw.rectangle(box, outline=STUB_LINES, width=1)
    draw.text(middle, "*" if state == "hidden" else "<5", font=fnt, fill=INK, anchor="mm")  # type: ignore[arg-type]


__all__ = ["month_label", "sections", "stats_timeline"]
