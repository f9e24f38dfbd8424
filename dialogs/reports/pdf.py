"""The dossier: a case's signals, unknowns, advice and notes as an A4 PDF to file or hand over.

A professional keeps this with their own records or takes it to a Meldcode consultation, so it
is laid out in the order they read it (issue 15): page 1 holds what they act on (the case code,
who made it in which organisation, the dates in Dutch time, the reading and why, the next steps
and whom to call, the lens picture); then per leefgebied the answers with "ja", "weet ik niet",
"nee" and "niet gevraagd" kept apart, what stands out and why, what is not known yet, the notes
with their dates and the history of later changes. Its texts are written for a file, not for a
chat. It records signals, never a verdict, and says so on every page ("pagina N van M").

reportlab's platypus lays out flowing text with page breaks and a footer per page without any
system dependency. The text is set in DejaVu Sans, shipped in `dialogs/reports/fonts/` and embedded
as a subset (`dialogs/reports/typeface.py`): a note may hold Łukasz, Cyrillic, Greek or Arabic, and
Helvetica's cp1252 dropped them. Every text first goes through `plain_text`, which turns what the
font lacks (emoji such as ⚠️) into plain text, then Arabic is shaped and put in visual order
(`shaped_text`), then `escape`, because Paragraph reads a small XML markup and lens texts and notes
are data, not markup.
The fonts are embedded (TrueType subsets, FontFile2). PDF/A-2b is not claimed: reportlab's
open-source edition writes neither the XMP packet nor the output intent PDF/A asks for.
`invariant=1` pins the document id; CreationDate is the moment of rendering (`made_at`, now by
default), so the same case rendered at the same moment gives the same bytes. The metadata name
the author's role and organisation and never any case data: the case code is in the file name.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    ImageAndFlowables,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from dialogs.output import Line
from dialogs.reports.model import CaseInfo, DatedNote
from dialogs.reports.picture import draw_view, plain_text, png_bytes, report_texts
from dialogs.reports.typeface import registered, shaped_text
from dialogs.summary import advice_lines, age_line, contact_label, kind_sections, open_lines, phenomenon_lines
from dialogs.texts import dialog_texts
from matrix.lens import Lens
from matrix.scoring import Assessment
from matrix.view import AssessmentView

MELDCODE_STEPS = 5
FONT, BOLD = registered()   # DejaVu Sans, regular and bold
ACCENT = colors.Color(181 / 255, 74 / 255, 0)
GREY = colors.Color(0.33, 0.33, 0.33)
DUTCH_TIME = ZoneInfo("Europe/Amsterdam")   # a Dutch dossier gives Dutch wall-clock time, not UTC
FIRST_PAGE_STEPS = 4      # the next steps on page 1; all of them follow under "Advies"
PICTURE_WIDTH = 64 * mm   # the lens picture on page 1, with the reading, steps and contacts beside it


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, bulletFontName=FONT, fontSize=10, leading=13.5, spaceAfter=3)
    return {
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=18, leading=22, spaceAfter=2),
        "subtitle": ParagraphStyle("subtitle", parent=base, textColor=GREY, spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base, fontName=BOLD, fontSize=13, leading=16, spaceBefore=8,
                             spaceAfter=3, keepWithNext=1),
        "h3": ParagraphStyle("h3", parent=base, fontName=BOLD, fontSize=11, leading=14, spaceBefore=6,
                             spaceAfter=2, keepWithNext=1),
        "reading": ParagraphStyle("reading", parent=base, fontName=BOLD, fontSize=14, leading=18, spaceBefore=8,
                                  spaceAfter=3, keepWithNext=1),
        "body": base,
        "label": ParagraphStyle("label", parent=base, fontName=BOLD, spaceAfter=1, keepWithNext=1),
        "muted": ParagraphStyle("muted", parent=base, textColor=GREY),
        "item": ParagraphStyle("item", parent=base, leftIndent=14, bulletIndent=3, spaceAfter=2),
        "subitem": ParagraphStyle("subitem", parent=base, leftIndent=28, bulletIndent=17, spaceAfter=1),
        "alert": ParagraphStyle("alert", parent=base, textColor=colors.white, fontName=BOLD),
        "alert_item": ParagraphStyle("alert_item", parent=base, textColor=colors.white, leftIndent=14,
                                     bulletIndent=3),
        "cell": ParagraphStyle("cell", parent=base, spaceAfter=0),
        "cell_label": ParagraphStyle("cell_label", parent=base, fontName=BOLD, spaceAfter=0),
    }


def markup(text: str) -> str:
    """Plain data -> safe Paragraph text: no emoji boxes, no markup, line breaks kept."""
    return escape(shaped_text(plain_text(text))).replace("\n", "<br/>")


def meldcode_steps(lens: Lens, lang: str) -> list[str]:
    """The five Meldcode steps as the lens words them, or the catalogue's if the lens lacks them."""
    rule = next((r for r in lens.advice_rules if sum(s.nl.startswith("Meldcode") for s in r.steps) >= MELDCODE_STEPS),
                None)
    steps = [s for s in (rule.steps if rule else []) if s.nl.startswith("Meldcode")][:MELDCODE_STEPS]
    if len(steps) == MELDCODE_STEPS:
        return [s.get(lang) for s in steps]
    rt = report_texts()
    return [rt(f"pdf.meldcode.step{i}", lang) for i in range(1, MELDCODE_STEPS + 1)]


_LINE_STYLES = {"heading": "h2", "title": "h2", "item": "item", "subitem": "subitem", "muted": "muted",
                "alert": "label", "text": "body"}


def _lines(story: _Story, lines: list[Line]) -> None:
    for line in lines:
        story.add(line.text, _LINE_STYLES.get(line.style, "body"))


def dutch_time(moment: datetime | None, lang: str = "nl") -> str:
    """A moment as Dutch wall-clock time with its zone (CET or CEST): "07-12-2026 01:14 CET"."""
    if moment is None:
        return ""
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(DUTCH_TIME)
    return local.strftime("%d-%m-%Y %H:%M %Z" if lang == "nl" else "%Y-%m-%d %H:%M %Z")


def author_line(info: CaseInfo, lang: str) -> str:
    """Who made the dossier: their role in the reader's words, and the organisation when it is set."""
    rt = report_texts()
    if info.author_role is None:
        role = rt("pdf.author_unknown", lang)
    else:
        try:
            role = rt(f"pdf.role.{info.author_role}", lang)
        except KeyError:    # a role added later: its id is better than nothing
            role = info.author_role
    return f"{role}, {info.organisation}" if info.organisation else role


class _Story:
    """Collects flowables; every text passes `markup` on the way in."""

    def __init__(self) -> None:
        self.styles = _styles()
        self.items: list[Flowable] = []

    def add(self, text: str, style: str = "body") -> None:
        bullet = "•" if style in ("item", "subitem", "alert_item") else None
        self.items.append(Paragraph(markup(text), self.styles[style], bulletText=bullet))

    def raw(self, flowable: Flowable) -> None:
        self.items.append(flowable)


def _facts(story: _Story, view: AssessmentView, info: CaseInfo, lang: str) -> None:
    """The file's header: code, author, dates and what kind of intake, two pairs a row."""
    rt = report_texts()
    try:
        mode = rt(f"pdf.mode.{info.mode}", lang)
    except KeyError:       # a mode added later: its id is better than nothing
        mode = info.mode
    pairs = [
        (rt("pdf.code", lang), info.code),
        (rt("pdf.author", lang), author_line(info, lang)),
        (rt("pdf.created", lang), dutch_time(info.created_at, lang)),
        (rt("pdf.mode", lang), mode),
        (rt("pdf.updated", lang), dutch_time(info.updated_at, lang)),
        (rt("pdf.answered", lang), rt("pdf.answered_value", lang, answered=view.answered,
                                      total=view.total_questions)),
        (rt("pdf.completed", lang), dutch_time(info.completed_at, lang) or rt("pdf.not_completed", lang)),
        (rt("pdf.lens_version", lang), view.lens_version),
    ]
    s = story.styles
    cells = [[Paragraph(markup(k), s["cell_label"]), Paragraph(markup(v), s["cell"])] for k, v in pairs]
    rows = [cells[i] + cells[i + 1] for i in range(0, len(cells), 2)]
    table = Table(rows, colWidths=[31 * mm, 51 * mm, 34 * mm, None], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 10),   # a table names Helvetica otherwise, which is never embedded
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("LINEBELOW", (0, -1), (-1, -1), 0.5, GREY),
    ]))
    story.raw(table)


def _red_flags(story: _Story, view: AssessmentView, lang: str) -> None:
    rt = report_texts()
    s = story.styles
    cells = [Paragraph(markup(rt("pdf.red_flags", lang)), s["alert"])]
    cells += [Paragraph(markup(view.say(rf.question, lang)), s["alert_item"], bulletText="•")
              for rf in view.red_flags]
    cells.append(Paragraph(markup(rt("pdf.red_flags_body", lang)), s["alert_item"]))
    box = Table([[c] for c in cells], hAlign="LEFT")
    box.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 10),
        ("BACKGROUND", (0, 0), (-1, -1), ACCENT),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
        ("RIGHTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (-1, 0), 6),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 6),
    ]))
    story.raw(Spacer(1, 6))
    story.raw(box)


def _first_page(story: _Story, view: AssessmentView, info: CaseInfo, lang: str) -> None:
    """What a professional acts on: the reading and why, the next steps, whom to call, the picture."""
    t, rt = dialog_texts(), report_texts()
    story.add(rt("pdf.title", lang, code=info.code), "title")
    story.add(rt("pdf.subtitle", lang, lens=view.lens.meta.name.get(lang)), "subtitle")
    _facts(story, view, info, lang)
    if view.red_flags:
        _red_flags(story, view, lang)
    first = _Story()   # the reading, steps and contacts flow beside the lens picture
    first.add(t("summary.concern", lang, level=t(f"concern.{view.concern}", lang)), "reading")
    first.add(view.say(view.concern_explanation, lang))
    age = age_line(view, lang)
    if age is not None:
        first.add(age.text)
    first.add(t("summary.spread", lang, count=len(view.spread), total=len(view.leefgebieden)))

    # the first steps and every contact once; all steps and each contact's reason open page 2 ("Advies")
    first.add(rt("pdf.next_steps", lang), "h2")
    steps = [view.say(step, lang) for step in view.steps]
    for step in steps[:FIRST_PAGE_STEPS] or [rt("pdf.next_steps_none", lang)]:
        first.add(step, "item" if steps else "muted")
    if len(steps) > FIRST_PAGE_STEPS:
        first.add(rt("pdf.more_steps", lang, count=len(steps) - FIRST_PAGE_STEPS), "muted")
    first.add(rt("pdf.contacts", lang), "h2")
    contacts = list(dict.fromkeys(c.id for reason in view.reasons for c in reason.contacts))
    for cid in contacts:
        first.add(contact_label(view.lens, cid, lang), "item")
    if not contacts:
        first.add(rt("pdf.contacts_none", lang), "muted")

    image, _ = draw_view(view, info, lang)
    width, height = image.size
    picture = Image(io.BytesIO(png_bytes(image)), PICTURE_WIDTH, PICTURE_WIDTH * height / width)
    story.raw(Spacer(1, 6))
    story.raw(ImageAndFlowables(picture, first.items, imageLeftPadding=8, imageTopPadding=8))
    story.raw(PageBreak())


def _answers(story: _Story, view: AssessmentView, lang: str) -> None:
    """Per leefgebied: "ja", "weet ik niet", "nee" and "niet gevraagd" each on its own."""
    t, rt = dialog_texts(), report_texts()
    story.add(rt("pdf.answers", lang), "h2")
    story.add(rt("pdf.answers_intro", lang), "muted")
    for lg in view.leefgebieden:
        story.add(rt("pdf.lg_heading", lang, name=lg.name.get(lang), status=t(f"status.{lg.status}", lang)), "h3")
        yes, dont_know = lg.answered("yes"), lg.answered("unknown")
        if yes:
            story.add(rt("pdf.lg_yes", lang, count=len(yes)), "label")
            for s in yes:
                story.add(view.say(s.question, lang), "item")
        if dont_know:
            story.add(rt("pdf.lg_unknown", lang, count=len(dont_know)), "label")
            for s in dont_know:
                story.add(view.say(s.question, lang), "item")
        story.add(rt("pdf.lg_no", lang, count=lg.no), "muted")
        story.add(rt("pdf.lg_not_asked", lang, count=lg.not_asked), "muted")


def _why(story: _Story, view: AssessmentView, lang: str) -> None:
    """What stands out and the signals behind it, by kind; then related phenomena."""
    t, rt = dialog_texts(), report_texts()
    story.add(t("summary.triggered", lang), "h2")
    if not view.triggered:
        story.add(t("summary.no_triggered", lang), "muted")
    for ind in view.triggered:
        story.add(rt("pdf.indicator_weight", lang, name=ind.name.get(lang),
                     leefgebied=view.leefgebied(ind.leefgebied).name.get(lang), weight=ind.weight), "label")
        for s in ind.yes:
            story.add(view.say(s.question, lang), "item")
    for heading, texts in kind_sections(view, lang):
        story.add(heading, "label")
        for text in texts:
            story.add(text, "item")
    _lines(story, phenomenon_lines(view, lang) or [Line(t("summary.phenomena", lang), "heading"),
                                                   Line(rt("pdf.phenomena_none", lang), "muted")])


def _notes(story: _Story, notes: Sequence[str | DatedNote], lang: str) -> None:
    rt = report_texts()
    story.add(rt("pdf.notes", lang), "h2")
    if not notes:
        story.add(rt("pdf.no_notes", lang), "muted")
    for note in notes:
        text, when = (note, None) if isinstance(note, str) else note
        if when is not None:
            story.add(rt("pdf.note_date", lang, date=dutch_time(when, lang)), "label")
        story.add(text, "item")


def _numbered(footer: str, made_at: datetime) -> type[Canvas]:
    """A canvas that holds its pages until the end, so each footer can say "pagina N van M"."""
    created = made_at.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'")

    class Numbered(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["initialFontName"] = FONT   # else every page names Helvetica, never embedded
            super().__init__(*args, **kwargs)
            self.setDateFormatter(lambda *_: created)   # CreationDate/ModDate: when it was made
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for state in self._held:
                self.__dict__.update(state)
                self._draw_footer(total)
                super().showPage()
            super().save()

        def _draw_footer(self, total: int) -> None:
            self.saveState()
            self.setFont(FONT, 8)
            self.setFillColor(GREY)
            text = footer.format(page=self.getPageNumber(), pages=total)
            self.drawCentredString(A4[0] / 2, 12 * mm, shaped_text(plain_text(text)))
            self.restoreState()

    return Numbered


def dossier_pdf(lens: Lens, result: Assessment, info: CaseInfo, notes: Sequence[str | DatedNote], lang: str = "nl",
                extra: list[Line] | None = None, made_at: datetime | None = None) -> bytes:
    """The case file as A4 PDF bytes: page 1 to act on, then the answers, the why, notes, history."""
    return view_pdf(AssessmentView.of(lens, result), info, notes, lang, extra, made_at)


def view_pdf(view: AssessmentView, info: CaseInfo, notes: Sequence[str | DatedNote], lang: str = "nl",
             extra: list[Line] | None = None, made_at: datetime | None = None) -> bytes:
    """The dossier of a composed assessment (`dossier_pdf` composes it first)."""
    rt = report_texts()
    story = _Story()
    _first_page(story, view, info, lang)
    _lines(story, advice_lines(view, lang))   # each reason with its contacts, then every step
    _answers(story, view, lang)
    _why(story, view, lang)
    _lines(story, open_lines(view, lang, limit=None))   # what is not known yet, all of it
    _notes(story, notes, lang)
    if extra:   # a shared case: what each domain answered, and the history of later changes (issue 13)
        _lines(story, extra)
    story.raw(Spacer(1, 8))
    story.add(view.lens.meta.disclaimer.get(lang), "muted")

    buf = io.BytesIO()
    author = author_line(info, lang) if info.author_role else "lensbot"
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=16 * mm, bottomMargin=22 * mm,
        title=rt("pdf.meta_title", lang), author=author, creator="lensbot", subject=rt("pdf.meta_subject", lang),
        keywords=[], invariant=1, lang=lang,
    )
    footer = rt("pdf.footer", lang, code=info.code, page="{page}", pages="{pages}")   # numbered at the end
    doc.build(story.items, canvasmaker=_numbered(footer, made_at or datetime.now(UTC)))
    return buf.getvalue()


__all__ = ["dossier_pdf", "dutch_time", "markup", "meldcode_steps", "view_pdf"]
