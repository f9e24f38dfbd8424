"""The dossier: a case's signals, unknowns, advice and notes as an A4 PDF to file or hand over.

A professional keeps this with their own records or takes it to a Meldcode consultation, so it
lists everything the chat summary says plus what the summary leaves out: the literal question
texts per leefgebied, every open question, every contact's phone and website, the Meldcode steps
where an applied advice rule gives them (a minor, or an unknown age), the notes.
It records signals, never a verdict, and says so on every page.

reportlab's platypus lays out flowing text with page breaks and a footer per page without any
system dependency. The text is set in DejaVu Sans, shipped in `dialogs/reports/fonts/` and embedded
as a subset (`dialogs/reports/typeface.py`): a note may hold Łukasz, Cyrillic, Greek or Arabic, and
Helvetica's cp1252 dropped them. Every text first goes through `plain_text`, which turns what the
font lacks (emoji such as ⚠️) into plain text, then Arabic is shaped and put in visual order
(`shaped_text`), then `escape`, because Paragraph reads a small XML markup and lens texts and notes
are data, not markup.
`invariant=1` pins the creation date and document id: the same case gives the same bytes.
The metadata hold only generic words (title "lensbot dossier", author "lensbot"), no case data.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from dialogs.output import Line
from dialogs.reports.model import CaseInfo
from dialogs.reports.picture import plain_text, report_texts
from dialogs.reports.typeface import registered, shaped_text
from dialogs.summary import advice_lines, age_line, kind_sections, open_lines, phenomenon_lines
from dialogs.texts import dialog_texts
from matrix.lens import Lens
from matrix.scoring import Assessment
from matrix.view import AssessmentView

MELDCODE_STEPS = 5
FONT, BOLD = registered()   # DejaVu Sans, regular and bold
ACCENT = colors.Color(181 / 255, 74 / 255, 0)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=13.5, spaceAfter=3)
    return {
        "title": ParagraphStyle("title", parent=base, fontName=BOLD, fontSize=18, leading=22, spaceAfter=4),
        "subtitle": ParagraphStyle("subtitle", parent=base, textColor=colors.Color(0.33, 0.33, 0.33), spaceAfter=8),
        "h2": ParagraphStyle("h2", parent=base, fontName=BOLD, fontSize=13, leading=16, spaceBefore=10,
                             spaceAfter=4, keepWithNext=1),
        "h3": ParagraphStyle("h3", parent=base, fontName=BOLD, fontSize=11, leading=14, spaceBefore=6,
                             spaceAfter=2, keepWithNext=1),
        "body": base,
        "label": ParagraphStyle("label", parent=base, fontName=BOLD, spaceAfter=1, keepWithNext=1),
        "muted": ParagraphStyle("muted", parent=base, textColor=colors.Color(0.33, 0.33, 0.33)),
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


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def _footer(version: str, lang: str) -> Callable[[Canvas, SimpleDocTemplate], None]:
    rt = report_texts()

    def draw(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(colors.Color(0.33, 0.33, 0.33))
        text = shaped_text(plain_text(rt("pdf.footer", lang, version=version, page=canvas.getPageNumber())))
        canvas.drawCentredString(A4[0] / 2, 12 * mm, text)
        canvas.restoreState()

    return draw


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
    rt = report_texts()
    try:
        mode = rt(f"pdf.mode.{info.mode}", lang)
    except KeyError:       # a mode added later: its id is better than nothing
        mode = info.mode
    rows = [
        (rt("pdf.created", lang), _when(info.created_at)),
        (rt("pdf.updated", lang), _when(info.updated_at)),
        (rt("pdf.completed", lang), _when(info.completed_at) or rt("pdf.not_completed", lang)),
        (rt("pdf.lens_version", lang), view.lens_version),
        (rt("pdf.mode", lang), mode),
        (rt("pdf.answered", lang), rt("pdf.answered_value", lang, answered=view.answered,
                                      total=view.total_questions)),
    ]
    s = story.styles
    table = Table([[Paragraph(markup(k), s["cell_label"]), Paragraph(markup(v), s["cell"])] for k, v in rows],
                  colWidths=[40 * mm, None], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
    ]))
    story.raw(table)


def _red_flags(story: _Story, view: AssessmentView, lang: str) -> None:
    t, rt = dialog_texts(), report_texts()
    s = story.styles
    cells = [Paragraph(markup(rt("pdf.red_flags", lang)), s["alert"])]
    cells += [Paragraph(markup(view.say(rf.question, lang)), s["alert_item"], bulletText="•")
              for rf in view.red_flags]
    cells.append(Paragraph(markup(t("red_flag.body", lang)), s["alert_item"]))
    box = Table([[c] for c in cells], hAlign="LEFT")
    box.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), ACCENT),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
        ("RIGHTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (-1, 0), 6),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 6),
    ]))
    story.raw(Spacer(1, 6))
    story.raw(box)


def dossier_pdf(lens: Lens, result: Assessment, info: CaseInfo, notes: list[str], lang: str = "nl",
                extra: list[Line] | None = None) -> bytes:
    """The case file as A4 PDF bytes: signals, unknowns, advice with contacts, Meldcode steps, notes."""
    return view_pdf(AssessmentView.of(lens, result), info, notes, lang, extra)


def view_pdf(view: AssessmentView, info: CaseInfo, notes: list[str], lang: str = "nl",
             extra: list[Line] | None = None) -> bytes:
    """The dossier of a composed assessment (`dossier_pdf` composes it first)."""
    t, rt = dialog_texts(), report_texts()
    lens = view.lens
    story = _Story()
    story.add(rt("pdf.title", lang, code=info.code), "title")
    story.add(rt("pdf.subtitle", lang, lens=lens.meta.name.get(lang)), "subtitle")
    _facts(story, view, info, lang)
    if view.red_flags:
        _red_flags(story, view, lang)

    # Concern level and why, the age it was read for, then the spread over leefgebieden.
    story.add(t("summary.concern", lang, level=t(f"concern.{view.concern}", lang)), "h2")
    story.add(view.say(view.concern_explanation, lang))
    age = age_line(view, lang)
    if age is not None:
        story.add(age.text)
    story.add(t("summary.spread", lang, count=len(view.spread), total=len(view.leefgebieden)))
    for heading, texts in kind_sections(view, lang):
        story.add(heading, "label")
        for text in texts:
            story.add(text, "item")

    # Per leefgebied: the questions answered yes and "weet ik niet"; how many were no or not asked.
    # Questions that were never asked are counted, not listed: a quick scan lists what it asked.
    story.add(t("summary.leefgebieden", lang), "h2")
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
        story.add(rt("pdf.lg_no", lang, count=lg.no, not_asked=lg.not_asked), "muted")

    # Triggered indicators with the signals that made them stand out.
    story.add(t("summary.triggered", lang), "h2")
    if not view.triggered:
        story.add(t("summary.no_triggered", lang), "muted")
    for ind in view.triggered:
        story.add(rt("pdf.indicator_weight", lang, name=ind.name.get(lang),
                     leefgebied=view.leefgebied(ind.leefgebied).name.get(lang), weight=ind.weight), "label")
        for s in ind.yes:
            story.add(view.say(s.question, lang), "item")

    # What is not known yet, all of it (the chat shows the first lines), phenomena and advice: the
    # same lines as the chat summary.
    _lines(story, open_lines(view, lang, limit=None))
    _lines(story, phenomenon_lines(view, lang) or [Line(t("summary.phenomena", lang), "heading"),
                                                   Line(rt("pdf.phenomena_none", lang), "muted")])
    _lines(story, advice_lines(view, lang))
    if extra:   # a shared case: what each domain answered, and the history of later changes (issue 13)
        _lines(story, extra)

    story.add(rt("pdf.notes", lang), "h2")
    if not notes:
        story.add(rt("pdf.no_notes", lang), "muted")
    for note in notes:
        story.add(note, "item")

    story.raw(Spacer(1, 8))
    story.add(lens.meta.disclaimer.get(lang), "muted")

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm, bottomMargin=22 * mm,
        title=rt("pdf.meta_title", lang), author="lensbot", creator="lensbot", subject="", keywords=[],
        invariant=1, lang=lang,
    )
    footer = _footer(view.lens_version, lang)
    doc.build(story.items, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


__all__ = ["dossier_pdf", "markup", "meldcode_steps", "view_pdf"]
