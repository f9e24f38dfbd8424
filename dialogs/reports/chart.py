"""The local picture as a chart: completed cases per month, and their levels of concern.

Coordinators use it to see a trend in their region without seeing anybody's case, so it shows
months only (YYYY-MM) and suppresses every count below 5: such a bar is drawn as the same hatched
stub with the label "<5" whatever its value (0 to 4), and nothing else on the picture (totals,
percentages, axis range) depends on a suppressed value. Both panels count the same cases, so a
single small count could be worked out as "total minus the rest"; then one more count is hidden
("*", complementary suppression). Bars scale to the largest *shown* count.

Drawn with Pillow like the lens picture (same fonts, same text folding), deterministic for the
same input, 1080 px wide for phones.
"""

from __future__ import annotations

import math
import re

from PIL import Image, ImageDraw

from dialogs.counts import SUPPRESS_BELOW, LocalPicture, protect
from dialogs.reports.picture import RGB, drawable, font, hatched, png_bytes, report_texts, wrap
from dialogs.texts import dialog_texts
from matrix.lens import Lens
from matrix.models import CONCERN_LEVELS

WIDTH = 1080
MARGIN = 40
MAX_MONTHS = 36          # a longer period shows its most recent 36 months
STUB = 26                # height of the hatched stub of a suppressed bar, the same for every value

INK: RGB = (26, 26, 26)
MUTED: RGB = (85, 85, 85)
BACKGROUND: RGB = (250, 250, 247)
GRID: RGB = (214, 214, 214)
AXIS: RGB = (120, 120, 120)
BAR: RGB = (0, 114, 178)                       # Okabe-Ito blue
STUB_FILL: RGB = (236, 236, 236)
STUB_LINES: RGB = (150, 150, 150)
# Light to dark, blue to orange: ordered by lightness so the levels also read in greyscale.
CONCERN_COLOURS: dict[str, RGB] = {
    "none": (136, 204, 238),
    "attention": (242, 193, 78),
    "possible_exploitation": (230, 127, 0),
    "acute": (160, 55, 0),
}
MONTH = re.compile(r"^(\d{4})-(\d{2})")


def _month(value: str | None) -> tuple[int, int] | None:
    match = MONTH.match(value or "")
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    return (year, month) if 1 <= month <= 12 else None


def months_of(picture: LocalPicture) -> list[tuple[str, int]]:
    """(YYYY-MM, count) for every month of the period, gaps as 0; finer dates are cut to the month."""
    counts: dict[tuple[int, int], int] = {}
    for key, count in picture.per_month.items():
        month = _month(key)
        if month is not None:
            counts[month] = counts.get(month, 0) + count
    ends = [m for m in (_month(picture.since), _month(picture.until)) if m]
    known = sorted([*counts, *ends])
    if not known:
        return []
    first = _month(picture.since) or known[0]
    last = _month(picture.until) or known[-1]
    first, last = min(first, known[0]), max(last, known[-1])
    months: list[tuple[int, int]] = []
    y, m = first
    while (y, m) <= last:
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    months = months[-MAX_MONTHS:]
    return [(f"{y:04d}-{m:02d}", counts.get((y, m), 0)) for y, m in months]


def _label(count: int, state: str) -> str:
    return "*" if state == "hidden" else "<5" if state == "small" else str(count)


def _nice_top(value: int) -> tuple[int, int]:
    """An axis top at or above `value` and a tick step giving at most 5 intervals."""
    value = max(value, 2 * SUPPRESS_BELOW)
    magnitude = 10 ** math.floor(math.log10(value / 5))
    for factor in (1, 2, 5, 10):
        step = factor * magnitude
        if value / step <= 5:
            return step * math.ceil(value / step), step
    return value, value  # not reached


def _stub(image: Image.Image, draw: ImageDraw.ImageDraw, x0: int, x1: int, base: int) -> None:
    box = (x0, base - STUB, x1, base)
    hatched(image, box, STUB_FILL, STUB_LINES, step=10, width=2)
    draw.rectangle(box, outline=STUB_LINES, width=1)


def _no_data(draw: ImageDraw.ImageDraw, top: int, height: int, lang: str) -> None:
    draw.rectangle((MARGIN, top, WIDTH - MARGIN, top + height), outline=GRID, width=2)
    draw.text((WIDTH // 2, top + height // 2), drawable(report_texts()("report.no_data", lang)), font=font(30),
              fill=MUTED, anchor="mm")


def _trend(image: Image.Image, draw: ImageDraw.ImageDraw, picture: LocalPicture, months: list[tuple[str, int]],
           top: int, height: int, lang: str) -> None:
    if not months:
        _no_data(draw, top, height, lang)
        return
    tick_font, label_font = font(24), font(24)
    states = picture.panel_states("per_month", [m for m, _ in months])   # as sealed with the period
    axis_top, step = _nice_top(max((c for (_, c), s in zip(months, states, strict=True) if s == "shown"),
                                   default=0))
    left, right = MARGIN + 64, WIDTH - MARGIN
    label_h = 64
    base = top + height - label_h
    plot_top = top + 34
    scale = (base - plot_top) / axis_top
    for tick in range(0, axis_top + 1, step):
        y = round(base - tick * scale)
        draw.line((left, y, right, y), fill=GRID if tick else AXIS, width=2 if not tick else 1)
        draw.text((left - 12, y), str(tick), font=tick_font, fill=MUTED, anchor="rm")
    slot = (right - left) / len(months)
    bar_w = max(4, min(72, round(slot * 0.7)))
    value_fits = label_font.getlength("<5") <= slot - 2 and label_font.getlength(str(axis_top)) <= slot - 2
    month_every = max(1, math.ceil(label_font.getlength("2026-01") * 1.15 / slot))
    for i, ((month, count), state) in enumerate(zip(months, states, strict=True)):
        cx = round(left + slot * (i + 0.5))
        x0, x1 = cx - bar_w // 2, cx + bar_w // 2
        if state == "shown":
            y = round(base - count * scale)
            draw.rectangle((x0, y, x1, base), fill=BAR)
        else:
            _stub(image, draw, x0, x1, base)
            y = base - STUB
        if value_fits:
            draw.text((cx, y - 6), _label(count, state), font=label_font, fill=INK, anchor="mb")
        if i % month_every == 0:
            half = label_font.getlength(month) / 2
            lx = min(max(cx, MARGIN / 2 + half), WIDTH - MARGIN / 2 - half)
            draw.text((lx, base + 12), month, font=label_font, fill=INK, anchor="mt")


CONCERN_BAR, CONCERN_GAP, NAME_LINE = 36, 22, 34


def _concern_height(lang: str) -> int:
    t = dialog_texts()
    names = [wrap(t(f"concern.{level}", lang), font(28), WIDTH - 2 * MARGIN) for level in CONCERN_LEVELS]
    return sum(NAME_LINE * len(lines) + 4 + CONCERN_BAR + CONCERN_GAP for lines in names)


def _concern(image: Image.Image, draw: ImageDraw.ImageDraw, picture: LocalPicture, top: int, lang: str) -> int:
    t = dialog_texts()
    name_font, value_font = font(28), font(28, bold=True)
    counts = [(level, picture.concern.get(level, 0)) for level in CONCERN_LEVELS]
    states = picture.panel_states("concern", list(CONCERN_LEVELS))
    axis_top, _ = _nice_top(max((c for (_, c), s in zip(counts, states, strict=True) if s == "shown"), default=0))
    left, right = MARGIN, WIDTH - MARGIN - 90
    y = top
    for (level, count), state in zip(counts, states, strict=True):
        for line in wrap(t(f"concern.{level}", lang), name_font, WIDTH - 2 * MARGIN):
            draw.text((left, y), line, font=name_font, fill=INK)
            y += NAME_LINE
        y += 4
        bar_h = CONCERN_BAR
        if state == "shown":
            x1 = left + max(2, round((right - left) * count / axis_top))
            draw.rectangle((left, y, x1, y + bar_h), fill=CONCERN_COLOURS[level], outline=AXIS, width=1)
        else:
            x1 = left + 60
            hatched(image, (left, y, x1, y + bar_h), STUB_FILL, STUB_LINES, step=10, width=2)
            draw.rectangle((left, y, x1, y + bar_h), outline=STUB_LINES, width=1)
        draw.text((x1 + 14, y + bar_h // 2), _label(count, state), font=value_font, fill=INK, anchor="lm")
        y += bar_h + CONCERN_GAP
    return y


def stats_chart(lens: Lens, picture: LocalPicture, lang: str = "nl") -> bytes:
    """The local picture as PNG bytes: a monthly trend and the concern levels, small counts as "<5"."""
    rt = report_texts()
    months = months_of(picture)
    title_font, sub_font, head_font, small_font = font(40, bold=True), font(28), font(30, bold=True), font(24)
    note_lines = wrap(rt("chart.suppressed_note", lang), small_font, WIDTH - 2 * MARGIN - 70)
    footer_lines = wrap(rt("chart.footer", lang, version=lens.version), small_font, WIDTH - 2 * MARGIN)
    trend_h = 520
    concern_h = _concern_height(lang) if months else 200
    height = (MARGIN + 50 + 40 + 30 + 44 + trend_h + 30 + 44 + concern_h + 20 + 30 * len(note_lines) + 20
              + 30 * len(footer_lines) + MARGIN)
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)

    y = MARGIN
    draw.text((MARGIN, y), drawable(rt("chart.title", lang)), font=title_font, fill=INK)
    y += 50
    period = (rt("chart.period", lang, since=months[0][0], until=months[-1][0]) if months
              else rt("chart.period_none", lang))
    draw.text((MARGIN, y), drawable(period), font=sub_font, fill=MUTED)
    y += 40 + 30

    draw.text((MARGIN, y), drawable(rt("chart.trend", lang)), font=head_font, fill=INK)
    y += 44
    _trend(image, draw, picture, months, y, trend_h, lang)
    y += trend_h + 30

    draw.text((MARGIN, y), drawable(rt("chart.concern", lang)), font=head_font, fill=INK)
    y += 44
    if months:
        _concern(image, draw, picture, y, lang)
    else:
        _no_data(draw, y, concern_h, lang)
    y += concern_h + 20

    # What the hatched stub means, then the footer.
    hatched(image, (MARGIN, y + 2, MARGIN + 54, y + 28), STUB_FILL, STUB_LINES, step=10, width=2)
    draw.rectangle((MARGIN, y + 2, MARGIN + 54, y + 28), outline=STUB_LINES, width=1)
    for line in note_lines:
        draw.text((MARGIN + 70, y), line, font=small_font, fill=INK)
        y += 30
    y += 20
    draw.line((MARGIN, y - 10, WIDTH - MARGIN, y - 10), fill=GRID, width=2)
    for line in footer_lines:
        draw.text((MARGIN, y), line, font=small_font, fill=MUTED)
        y += 30
    return png_bytes(image)


__all__ = ["months_of", "protect", "stats_chart"]
