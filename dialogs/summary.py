"""The summary of an assessment as channel-neutral blocks.

Shared by every place that shows a result (end of the intake, `/samenvatting`, `lensbot assess`)
so the wording and order are the same everywhere: acute danger first, then the concern level
and its reason, the spread, the triggered indicators, what is unknown and who may know, the
related phenomena, and the advice with contacts.
"""

from __future__ import annotations

from datetime import datetime

from dialogs.output import Block, Line
from dialogs.texts import dialog_texts
from matrix.lens import Lens
from matrix.models import Vignette
from matrix.scoring import Assessment
from matrix.training import TrainingResult


def red_flag_block(lens: Lens, lang: str, flags: tuple[str, ...] | list[str] = ()) -> Block:
    t = dialog_texts()
    lines = [Line(t("red_flag.title", lang), "title"), Line(t("red_flag.body", lang))]
    extra = [c for rf in flags for c in lens.alarms[rf].contacts if c != "alarm_112"]
    for contact_id in dict.fromkeys(extra):
        lines.append(Line(contact_line(lens, contact_id, lens.contacts[contact_id].when.get(lang), lang), "item"))
    return Block(tuple(lines), "alert")


def contact_line(lens: Lens, contact_id: str, why: str, lang: str) -> str:
    contact = lens.contacts[contact_id]
    phone = f" ({contact.phone})" if contact.phone else ""
    return dialog_texts()("summary.contact_line", lang, name=contact.name.get(lang), phone=phone, why=why)


def contact_label(lens: Lens, contact_id: str, lang: str) -> str:
    """Name, phone, opening hours and website: everything needed to actually get in touch."""
    c = lens.contacts[contact_id]
    parts = [c.name.get(lang)]
    if c.phone:
        parts.append(c.phone)
    if c.hours:
        parts.append(c.hours.get(lang))
    if c.website:
        parts.append(c.website)
    return " · ".join(parts)


def summary_blocks(lens: Lens, result: Assessment, lang: str, code: str | None = None) -> list[Block]:
    t = dialog_texts()
    blocks: list[Block] = []
    if result.red_flags:
        blocks.append(red_flag_block(lens, lang, result.red_flags))
    head: list[Line] = []
    if code:
        head.append(Line(t("summary.title", lang, code=code), "title"))
    head.append(Line(t("summary.concern", lang, level=t(f"concern.{result.concern}", lang)), "heading"))
    head.append(Line(result.concern_explanation.get(lang)))
    if result.red_flags:
        head.append(Line(t("summary.red_flags", lang)))
        head += [Line(lens.alarms[rf].question.get(lang), "item") for rf in result.red_flags]
    head.append(Line(t("summary.spread", lang, count=len(result.spread), total=len(lens.leefgebieden))))
    head.append(Line(t("summary.leefgebieden", lang), "heading"))
    for lg in result.leefgebieden:
        name = lens.leefgebied_by_id[lg.id].name.get(lang)
        head.append(Line(t("summary.leefgebied_line", lang, name=name, status=t(f"status.{lg.status}", lang),
                           yes=lg.yes, no=lg.no, unknown=lg.unknown), "item"))
    blocks.append(Block(tuple(head), "summary"))

    body: list[Line] = [Line(t("summary.triggered", lang), "heading")]
    triggered = result.triggered
    if not triggered:
        body.append(Line(t("summary.no_triggered", lang), "muted"))
    for ind in triggered:
        body.append(Line(t("summary.indicator_line", lang, name=lens.indicators[ind.id].name.get(lang),
                           leefgebied=lens.leefgebied_by_id[ind.leefgebied].name.get(lang)), "item"))
        body += [Line(lens.signals[s].question.get(lang), "subitem") for s in ind.signals]
    loose = [s for ind in result.indicators if ind.status == "signals" for s in ind.signals]
    if loose:
        body.append(Line(t("summary.signals_yes", lang), "heading"))
        body += [Line(lens.signals[s].question.get(lang), "item") for s in loose]
    blocks.append(Block(tuple(body), "summary"))

    unknown: list[Line] = [Line(t("summary.unknown", lang), "heading")]
    if not result.unknown:
        unknown.append(Line(t("summary.unknown_none", lang), "muted"))
    for group in result.unknown:
        who = ", ".join(lens.viewers[v].name.get(lang) for v in group.seen_by)
        unknown.append(Line(t("summary.unknown_line", lang, name=lens.indicators[group.indicator].name.get(lang),
                              count=len(group.signals), who=who), "item"))
    if result.phenomena:
        unknown.append(Line(t("summary.phenomena", lang), "heading"))
        unknown.append(Line(", ".join(lens.phenomena[p].name.get(lang) for p, _ in result.phenomena)))
    blocks.append(Block(tuple(unknown), "summary"))

    advice: list[Line] = [Line(t("summary.advice", lang), "heading")]
    # One reason, then the contacts it selected: the reason is the advice, the contacts the route.
    by_reason: dict[str, list[str]] = {}
    for item in result.advice:
        by_reason.setdefault(item.why.get(lang), []).append(item.contact)
    for why, contacts in by_reason.items():
        advice.append(Line(why, "item"))
        advice += [Line(contact_label(lens, c, lang), "subitem") for c in contacts]
    steps = [step for rule in lens.advice_rules if rule.id in result.rules for step in rule.steps]
    if steps:
        advice.append(Line(t("summary.steps", lang), "heading"))
        advice += [Line(step.get(lang), "item") for step in steps]
    advice.append(Line(lens.meta.disclaimer.get(lang), "muted"))
    advice.append(Line(t("summary.answered", lang, answered=result.answered, total=len(lens.questions),
                         version=result.lens_version), "muted"))
    blocks.append(Block(tuple(advice), "summary"))
    return blocks


def quick_result_blocks(lens: Lens, result: Assessment, answers: dict[str, str], quick_items: set[str], lang: str,
                        code: str, when: datetime) -> list[Block]:
    """What a teacher needs after two minutes: the level, what was noted, what to do, a text to forward."""
    t = dialog_texts()
    quick = lens.doc.quick_scan
    assert quick is not None
    lines = [Line(t("quick.result_title", lang, code=code), "title"),
             Line(t("summary.concern", lang, level=t(f"concern.{result.concern}", lang)), "heading"),
             Line(result.concern_explanation.get(lang))]
    noted = [s for s in result.yes]
    lines.append(Line(t("quick.noted", lang), "heading"))
    if noted:
        lines += [Line(lens.signals[s].question.get(lang), "item") for s in noted]
    else:
        lines.append(Line(t("quick.none_noted", lang), "muted"))
    lines.append(Line(t("quick.now", lang), "heading"))
    lines += [Line(step.get(lang), "item") for step in quick.steps]
    contacts = list(dict.fromkeys([*(c for rf in result.red_flags for c in lens.alarms[rf].contacts), *quick.contacts]))
    lines.append(Line(t("quick.contacts", lang), "heading"))
    lines += [Line(contact_label(lens, c, lang), "item") for c in contacts]
    blocks = [Block(tuple(lines), "summary")]
    unknown = [lens.signals[i].question.get(lang) for i in sorted(quick_items & set(lens.signals))
               if answers.get(i) == "unknown"]
    none = t("quick.forward_none", lang)
    forward = t("quick.forward_text", lang, code=code, date=when.strftime("%Y-%m-%d"),
                level=t(f"concern.{result.concern}", lang),
                signals="; ".join(lens.signals[s].question.get(lang) for s in noted) or none,
                unknown="; ".join(unknown) or none)
    # A message of its own, so it can be forwarded without the rest.
    blocks.append(Block((Line(t("quick.forward_title", lang), "heading"), Line(forward)), "info"))
    return blocks


def feedback_blocks(lens: Lens, vignette: Vignette, result: TrainingResult, lang: str) -> list[Block]:
    t = dialog_texts()
    lines = [Line(t("training.feedback_title", lang, title=vignette.title.get(lang)), "title")]
    for fb in result.signals:
        given = t(f"answer.{fb.given}", lang) if fb.given else t("training.no_answer", lang)
        lines.append(Line(t("training.signal_line", lang, verdict=t(f"verdict.{fb.verdict}", lang),
                            question=lens.question_text(fb.signal).get(lang), given=given,
                            expected=t(f"answer.{fb.expected}", lang)), "item"))
        lines.append(Line(fb.reason.get(lang), "subitem"))
    lines.append(Line(t("training.concern", lang, given=t(f"concern.{result.concern_given}", lang),
                        expected=t(f"concern.{result.concern_expected}", lang)), "heading"))
    lines.append(Line(t("training.reading_yes" if vignette.exploitation else "training.reading_no", lang)))
    def pct(share: float | None) -> str:
        return "–" if share is None else f"{round(100 * share)}%"

    lines.append(Line(t("training.score", lang, score=result.score, recall=pct(result.recall),
                        precision=pct(result.precision)), "heading"))
    return [Block(tuple(lines), "summary")]


def progress_blocks(lens: Lens, rows: list[tuple[datetime, str, TrainingResult]], lang: str) -> list[Block]:
    """A trainee's record: cases done, scores, and the signals they miss most often."""
    t = dialog_texts()
    lines = [Line(t("progress.title", lang), "title")]
    if not rows:
        lines.append(Line(t("progress.none", lang)))
        return [Block(tuple(lines), "summary")]
    average = round(sum(r.score for _, _, r in rows) / len(rows))
    done = len({vid for _, vid, _ in rows})
    lines.append(Line(t("progress.summary", lang, done=done, total=len(lens.vignettes), average=average)))
    for when, vid, result in rows:
        title = lens.vignettes[vid].title.get(lang) if vid in lens.vignettes else vid
        lines.append(Line(t("progress.line", lang, date=when.strftime("%Y-%m-%d"), title=title, score=result.score),
                          "item"))
    missed: dict[str, int] = {}
    for _, _, result in rows:
        for s in result.missed:
            missed[s] = missed.get(s, 0) + 1
    if missed:
        lines.append(Line(t("progress.missed", lang), "heading"))
        for s, n in sorted(missed.items(), key=lambda kv: (-kv[1], kv[0]))[:5]:
            lines.append(Line(t("progress.missed_line", lang, question=lens.question_text(s).get(lang), count=n),
                              "item"))
    return [Block(tuple(lines), "summary")]
