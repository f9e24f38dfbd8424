"""A trainee's progress as a small chart: the score of every round, and "gevonden" per kind.

A line of scores says at a glance whether practice helps, and where the score sits against the
50 % that guessing or one answer everywhere reaches (drawn as a dashed line); a table of numbers
does not. Drawn with Pillow in the fonts of the other pictures, deterministic for the same input.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from dialogs.reports.picture import RGB, drawable, font, png_bytes
from dialogs.texts import dialog_texts
from matrix.training import TrainingResult

WIDTH, HEIGHT, MARGIN, LEFT = 720, 420, 30, 70
INK: RGB = (26, 26, 26)
MUTED: RGB = (110, 110, 110)
GRID: RGB = (214, 214, 214)
BACKGROUND: RGB = (250, 250, 247)
KIND_COLOURS: dict[str, RGB] = {"score": (26, 26, 26), "exploitation": (213, 94, 0), "harm": (204, 121, 167),
                                "vulnerability": (0, 114, 178)}   # Okabe-Ito: readable with colour blindness


def progress_png(results: list[TrainingResult], lang: str) -> bytes:
    t = dialog_texts()
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    title, small = font(22, bold=True), font(14)
    draw.text((MARGIN, MARGIN - 10), drawable(t("progress.title", lang)), font=title, fill=INK)
    top, bottom, right = 80, HEIGHT - 70, WIDTH - MARGIN
    for pct in (0, 25, 50, 75, 100):
        y = bottom - (bottom - top) * pct / 100
        draw.line([(LEFT, y), (right, y)], fill=GRID if pct != 50 else MUTED, width=1)
        draw.text((MARGIN, y - 8), f"{pct}%", font=small, fill=MUTED)
    n = len(results)
    if n == 0:
        draw.text((LEFT, (top + bottom) / 2), drawable(t("progress.none", lang)), font=small, fill=INK)
        return png_bytes(image)

    def x(i: int) -> float:
        return LEFT + 10 + (right - LEFT - 20) * (i / (n - 1) if n > 1 else 0.5)

    def y(share: float) -> float:
        return bottom - (bottom - top) * share

    series: dict[str, list[tuple[int, float]]] = {"score": [(i, r.score / 100) for i, r in enumerate(results)]}
    for kind in ("exploitation", "harm", "vulnerability"):
        points = [(i, s.share) for i, r in enumerate(results)
                  if (s := r.found_by_kind().get(kind)) is not None and s.share is not None]
        if points:
            series[kind] = points
    for key, points in series.items():
        colour, width = KIND_COLOURS[key], 4 if key == "score" else 2
        xy = [(x(i), y(v)) for i, v in points]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=width)
        for px, py in xy:
            draw.ellipse([px - 4, py - 4, px + 4, py + 4], fill=colour)
    legend_x = LEFT
    for key in series:
        label = t("training.score", lang, score="").rstrip(": %") if key == "score" else t(f"progress.kind.{key}", lang)
        draw.rectangle([legend_x, bottom + 30, legend_x + 14, bottom + 44], fill=KIND_COLOURS[key])
        draw.text((legend_x + 20, bottom + 29), drawable(label), font=small, fill=INK)
        legend_x += 30 + int(small.getlength(drawable(label)))
    draw.text((LEFT, bottom + 8), drawable(t("progress.chart_rounds", lang, n=n)), font=small, fill=MUTED)
    return png_bytes(image)
