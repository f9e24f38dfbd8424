"""The summary of an assessment as channel-neutral blocks.

Shared by every place that shows a result (end of the intake, `/samenvatting`, `lensbot assess`)
so the wording and order are the same everywhere: acute danger first, then the concern level
and its reason, the spread, the triggered indicators, what is unknown and who may know, the
related phenomena, and the advice with contacts.

Every section renders one `matrix.view.AssessmentView`, the ordered composition the PDF, the lens
picture and the JSON/CSV exports render too; the section helpers (`open_lines`, `advice_lines`, ...)
take that view, so the PDF reuses them line for line.
"""

from __future__ import annotations

from datetime import datetime

from dialogs.output import Block, Line
from dialogs.texts import dialog_texts
from matrix.lens import Lens
from matrix.models import Text, Vignette
from matrix.scoring import Assessment, assess
from matrix.training import Share, TrainingResult, expected_answers
from matrix.view import AssessmentView


def red_flag_block(lens: Lens, lang: str, flags: tuple[str, ...] | list[str] = ()) -> Block:
    t = dialog_texts()
    lines = [Line(t("red_flag.title", lang), "title"), Line(t("red_flag.body", lang))]
    extra = [c for rf in flags for c in lens.alarms[rf].contacts if c != "alarm_112"]
    for contact_id in dict.fromkeys(extra):
        lines.append(Line(contact_line(lens, contact_id, lens.say(lens.contacts[contact_id].when, lang), lang), "item"))
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


SUMMARY_OPEN_LINES = 8   # "wat zie ik nog niet" in a chat: the most telling lines; the PDF has them all
QUICK_OPEN_LINES = 4     # a teacher's two-minute result: only the most telling open topics


def age_line(view: AssessmentView, lang: str) -> Line | None:
    """The age the case was assessed for; unknown: say that both routes are shown."""
    t = dialog_texts()
    lens = view.lens
    if lens.doc.age is None:
        return None
    band = lens.age_bands.get(view.age_band or "")
    if view.age_group == "unknown":
        return Line(t("summary.age_unknown", lang))
    label = band.label.get(lang) if band else t(f"age_group.{view.age_group}", lang)
    return Line(t("summary.age", lang, label=label))


def kind_sections(view: AssessmentView, lang: str) -> list[tuple[str, list[str]]]:
    """The "ja" signals by kind, exploitation first: (heading, signal texts), empty kinds left out."""
    t = dialog_texts()
    return [(t(f"summary.kind.{kind}", lang), [view.say(s.question, lang) for s in signals])
            for kind, signals in view.by_kind]


def open_lines(view: AssessmentView, lang: str, asker: str = "general",
               limit: int | None = SUMMARY_OPEN_LINES) -> list[Line]:
    """"Wat zie ik nog niet?": open topics, most telling first, with who usually sees them."""
    t = dialog_texts()
    lines: list[Line] = [Line(t("summary.unknown", lang), "heading")]
    questions = view.open_questions
    groups = questions if limit is None else questions[:limit]
    if not questions:
        lines.append(Line(t("summary.unknown_none", lang), "muted"))
    notes: dict[str, str] = {}
    for group in groups:
        who = ", ".join((v.school_name if asker == "school" and v.school_name else v.name).get(lang)
                        for v in group.seen_by)
        lines.append(Line(t("summary.unknown_line", lang, name=group.indicator.name.get(lang),
                            count=len(group.signals), dont_know=len(group.dont_know),
                            not_asked=len(group.not_asked), who=who), "item"))
        for v in group.seen_by:
            for note in (v.via, v.caution):
                if note is not None:
                    notes.setdefault(f"{v.id}:{note.nl}", f"{v.name.get(lang)}: {note.get(lang)}")
    lines += [Line(n, "subitem") for n in notes.values()]   # under the topics they belong to
    if limit is not None and len(questions) > limit:
        lines.append(Line(t("summary.unknown_more", lang, count=len(questions) - limit), "muted"))
    if questions:
        lines.append(Line(t("summary.ask_school" if asker == "school" else "summary.ask_anyone", lang), "muted"))
    return lines


def phenomenon_lines(view: AssessmentView, lang: str) -> list[Line]:
    """Related phenomena, each with the signals behind it: never a label without its "waarom"."""
    t = dialog_texts()
    if not view.phenomena:
        return []
    lines = [Line(t("summary.phenomena", lang), "heading")]
    for ph in view.phenomena:
        lines.append(Line(ph.name.get(lang), "item"))
        lines.append(Line(t("summary.why", lang, why="; ".join(view.say(s.question, lang) for s in ph.signals)),
                          "subitem"))
    return lines


def advice_lines(view: AssessmentView, lang: str) -> list[Line]:
    """One reason, then the contacts it selected: the reason is the advice, the contacts the route."""
    t = dialog_texts()
    advice: list[Line] = [Line(t("summary.advice", lang), "heading")]
    for reason in view.reasons:
        advice.append(Line(view.say(reason.why, lang), "item"))
        advice += [Line(contact_label(view.lens, c.id, lang), "subitem") for c in reason.contacts]
    if view.steps:
        advice.append(Line(t("summary.steps", lang), "heading"))
        advice += [Line(view.say(step, lang), "item") for step in view.steps]
    return advice


SHORT_OPEN_LINES = 3   # "wat zie ik nog niet" on the first screen: the three most telling topics


def first_sentence(text: str) -> str:
    """The reason in one line: its first sentence (a lens explanation may run to three)."""
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text


def short_lines(view: AssessmentView, lang: str, code: str | None = None, more: str = "short.more") -> list[Line]:
    """The first screen of a result (issue 15): the reading, why in one line, what to do now, whom to
    call, and what is not seen yet in at most three lines. The rest is one tap away (details, PDF);
    no lens version: that is for the dossier."""
    t = dialog_texts()
    lines: list[Line] = []
    if code:
        lines.append(Line(t("summary.title", lang, code=code), "title"))
    if view.red_flags:
        lines.append(Line(t("red_flag.title", lang), "heading"))
    lines.append(Line(t("summary.concern", lang, level=t(f"concern.{view.concern}", lang)), "heading"))
    lines.append(Line(first_sentence(view.say(view.concern_explanation, lang))))
    age = age_line(view, lang)
    if age is not None:
        lines.append(age)
    if view.steps:   # the lens's first step; without one, no made-up advice (the reading says why)
        lines.append(Line(t("short.now", lang, step=first_sentence(view.say(view.steps[0], lang)))))
    contacts = list(dict.fromkeys(c.id for r in view.reasons for c in r.contacts
                                  if view.lens.contacts[c.id].phone))[:2]
    if contacts:
        lines.append(Line(t("short.call", lang), "heading"))
        for cid in contacts:
            c = view.lens.contacts[cid]
            lines.append(Line(t("short.contact", lang, name=c.name.get(lang), phone=c.phone), "item"))
    open_questions = view.open_questions[:SHORT_OPEN_LINES]
    if open_questions:
        lines.append(Line(t("summary.unknown", lang), "heading"))
        for group in open_questions:
            who = ", ".join(v.name.get(lang) for v in group.seen_by[:2])
            lines.append(Line(t("short.unknown_line", lang, name=group.indicator.name.get(lang), who=who), "item"))
    lines.append(Line(t(more, lang, code=code or ""), "muted"))
    return lines


def short_blocks(view: AssessmentView, lang: str, code: str | None = None, more: str = "short.more") -> list[Block]:
    """`short_lines` as the one block a channel shows first (kind "short": buttons may follow it).
    `more` is the text key of its last line, where the details are: buttons in a chat, a command in
    the console ("short.more_console")."""
    return [Block(tuple(short_lines(view, lang, code, more)), "short")]


def summary_blocks(lens: Lens, result: Assessment, lang: str, code: str | None = None,
                   asker: str = "general") -> list[Block]:
    return view_blocks(AssessmentView.of(lens, result), lang, code, asker)


def view_blocks(view: AssessmentView, lang: str, code: str | None = None, asker: str = "general") -> list[Block]:
    """The chat summary of a composed assessment (`summary_blocks` composes it first)."""
    t = dialog_texts()
    lens = view.lens
    blocks: list[Block] = []
    if view.red_flags:
        blocks.append(red_flag_block(lens, lang, [rf.id for rf in view.red_flags]))
    head: list[Line] = []
    if code:
        head.append(Line(t("summary.title", lang, code=code), "title"))
    head.append(Line(t("summary.concern", lang, level=t(f"concern.{view.concern}", lang)), "heading"))
    head.append(Line(view.say(view.concern_explanation, lang)))
    age = age_line(view, lang)
    if age is not None:
        head.append(age)
    if view.red_flags:
        head.append(Line(t("summary.red_flags", lang)))
        head += [Line(view.say(rf.question, lang), "item") for rf in view.red_flags]
    head.append(Line(t("summary.spread", lang, count=len(view.spread), total=len(view.leefgebieden))))
    head.append(Line(t("summary.leefgebieden", lang), "heading"))
    for lg in view.leefgebieden:
        status = t(f"status.{lg.status}", lang)
        head.append(Line(t("summary.leefgebied_line", lang, name=lg.name.get(lang), status=status,
                           yes=lg.yes, no=lg.no, unknown=lg.unknown, not_asked=lg.not_asked), "item"))
    blocks.append(Block(tuple(head), "summary"))

    body: list[Line] = []
    for heading, texts in kind_sections(view, lang):
        body.append(Line(heading, "heading"))
        body += [Line(text, "item") for text in texts]
    body.append(Line(t("summary.triggered", lang), "heading"))
    if not view.triggered:
        body.append(Line(t("summary.no_triggered", lang), "muted"))
    for ind in view.triggered:
        body.append(Line(t("summary.indicator_line", lang, name=ind.name.get(lang),
                           leefgebied=view.leefgebied(ind.leefgebied).name.get(lang)), "item"))
    blocks.append(Block(tuple(body), "summary"))
    blocks.append(Block(tuple(open_lines(view, lang, asker) + phenomenon_lines(view, lang)), "summary"))
    advice = advice_lines(view, lang)
    advice.append(Line(lens.meta.disclaimer.get(lang), "muted"))
    advice.append(Line(t("summary.answered", lang, answered=view.answered, total=view.total_questions,
                         version=view.lens_version), "muted"))
    blocks.append(Block(tuple(advice), "summary"))
    return blocks


def quick_result_blocks(lens: Lens, result: Assessment, answers: dict[str, str], quick_items: set[str], lang: str,
                        code: str, when: datetime) -> list[Block]:
    """What a teacher needs after two minutes: the level, what was noted, what to do, a text to forward."""
    t = dialog_texts()
    view = AssessmentView.of(lens, result, answers)
    quick = lens.doc.quick_scan
    assert quick is not None
    lines = [Line(t("quick.result_title", lang, code=code), "title"),
             Line(t("summary.concern", lang, level=t(f"concern.{view.concern}", lang)), "heading"),
             Line(view.say(view.concern_explanation, lang))]
    age = age_line(view, lang)
    if age is not None:
        lines.append(age)
    sections = kind_sections(view, lang)
    if not sections:
        lines.append(Line(t("quick.noted", lang), "heading"))
        lines.append(Line(t("quick.none_noted", lang), "muted"))
    for heading, texts in sections:
        lines.append(Line(heading, "heading"))
        lines += [Line(text, "item") for text in texts]
    lines.append(Line(t("quick.now", lang), "heading"))
    lines += [Line(view.say(step, lang), "item") for step in quick.steps]
    lines += advice_lines(view, lang)
    if view.yes:   # what colleagues could add, in the words of school staff (the quick scan's users)
        lines += open_lines(view, lang, asker="school", limit=QUICK_OPEN_LINES)
    contacts = list(dict.fromkeys([*(c for rf in view.red_flags for c in rf.contacts), *quick.contacts]))
    contacts = [c for c in contacts if c not in {a.contact.id for a in view.advice}]
    if contacts:
        lines.append(Line(t("quick.contacts", lang), "heading"))
        lines += [Line(contact_label(lens, c, lang), "item") for c in contacts]
    blocks = [Block(tuple(lines), "summary")]
    unknown = [view.say(s.question, lang) for s in view.signals.values()
               if s.id in quick_items and s.answer == "unknown"]
    none = t("quick.forward_none", lang)
    # one question a line: "…?" then "Onbekend" on its own line, never "…?. Onbekend" (issue 15)
    forward = t("quick.forward_text", lang, code=code, date=when.strftime("%Y-%m-%d"),
                level=t(f"concern.{view.concern}", lang),
                signals="\n".join(f"- {view.say(s.question, lang)}" for s in view.yes) or f"- {none}",
                unknown="\n".join(f"- {q}" for q in unknown) or f"- {none}")
    # A message of its own, so it can be forwarded without the rest.
    blocks.append(Block((Line(t("quick.forward_title", lang), "heading"), Line(forward)), "info"))
    return blocks


UNLISTED_YES_LINES = 8   # over-flagged questions the text does not mention, named one by one; then a count


def feedback_blocks(lens: Lens, vignette: Vignette, result: TrainingResult, lang: str) -> list[Block]:
    """Per signal what the trainee answered and why the text says otherwise, its kind in one line, the
    score in its parts, then the case as a professional reads it: concern, advice, routes and steps."""
    t = dialog_texts()
    lines = [Line(t("training.feedback_title", lang, title=vignette.title.get(lang)), "title"),
             Line(t("training.practice_mark", lang), "muted"), Line(t("training.listed_title", lang), "heading")]
    for fb in result.listed:
        given = t(f"answer.{fb.given}", lang) if fb.given else t("training.no_answer", lang)
        lines.append(Line(t("training.signal_line", lang, verdict=t(f"verdict.{fb.verdict}", lang),
                            question=lens.say(lens.question_text(fb.signal), lang, vignette.age), given=given,
                            expected=t(f"answer.{fb.expected}", lang)), "item"))
        if fb.reason is not None:
            lines.append(Line(fb.reason.get(lang), "subitem"))
        if fb.kind:
            lines.append(Line(t(f"training.kind.{fb.kind}", lang), "subitem"))
    unlisted = [fb for fb in result.signals if not fb.listed]
    if unlisted:
        lines.append(Line(t("training.unlisted_title", lang), "heading"))
        count = {a: sum(1 for fb in unlisted if fb.given == a) for a in ("yes", "no", "unknown")}
        lines.append(Line(t("training.unlisted_counts", lang, total=len(unlisted), **count)))
        flagged = [fb for fb in unlisted if fb.given == "yes"]
        for fb in flagged[:UNLISTED_YES_LINES]:
            lines.append(Line(t("training.unlisted_yes", lang,
                                question=lens.say(lens.question_text(fb.signal), lang, vignette.age)), "item"))
            if fb.kind:
                lines.append(Line(t(f"training.kind.{fb.kind}", lang), "subitem"))
        if len(flagged) > UNLISTED_YES_LINES:
            lines.append(Line(t("training.unlisted_more", lang, count=len(flagged) - UNLISTED_YES_LINES), "muted"))
    if vignette.age is not None and vignette.age in lens.age_bands:
        given_age = lens.age_bands.get(result.age_given or "")
        lines.append(Line(t("training.age", lang, given=given_age.label.get(lang) if given_age else
                            t("training.no_answer", lang), expected=lens.age_bands[vignette.age].label.get(lang),
                            verdict=t("verdict.rightly_no" if result.age_given == vignette.age else "verdict.differs",
                                      lang)), "item"))
    lines.append(Line(t("training.score", lang, score=result.score), "heading"))
    for key, share in (("found", result.found), ("rightly_no", result.rightly_no),
                       ("rightly_unknown", result.rightly_unknown)):
        if share.total:
            lines.append(Line(t(f"training.score_{key}", lang, n=share.n, total=share.total, pct=share.pct()), "item"))
    lines.append(Line(t("training.score_how", lang), "muted"))
    return [Block(tuple(lines), "summary"), Block(tuple(advice_for_vignette(lens, vignette, result, lang)), "summary")]


def advice_for_vignette(lens: Lens, vignette: Vignette, result: TrainingResult, lang: str) -> list[Line]:
    """The case as a professional would get it: the concern and why, the advice with its routes and
    the steps (the Meldcode where it applies), from the vignette's own answers under today's rules."""
    t = dialog_texts()
    view = AssessmentView.of(lens, assess(lens, expected_answers(vignette, lens)))
    lines = [Line(t("training.advice_title", lang), "title"), Line(t("training.advice_intro", lang)),
             Line(t("training.concern", lang, given=t(f"concern.{result.concern_given}", lang),
                    expected=t(f"concern.{result.concern_expected}", lang)), "heading"),
             Line(t("training.reading_yes" if vignette.exploitation else "training.reading_no", lang)),
             Line(view.say(view.concern_explanation, lang))]
    lines += advice_lines(view, lang)
    lines.append(Line(t("training.principle", lang), "muted"))
    return lines


def progress_blocks(lens: Lens, rows: list[tuple[datetime, str, TrainingResult]], lang: str,
                    next_vignette: str | None = None) -> list[Block]:
    """A trainee's record: cases done, scores, found per kind over time, the indicators and
    signals missed most often, and the next case chosen for them.

    Each row was scored with the lens version of its case. A vignette or signal still in `lens` is
    named in the current words; one that left it in the words of the version it was scored with,
    and failing that by its id: an edited lens never breaks the record."""
    t = dialog_texts()
    lines = [Line(t("progress.title", lang), "title")]
    if not rows:
        lines.append(Line(t("progress.none", lang)))
        return [Block(tuple(lines), "summary")]
    average = round(sum(r.score for _, _, r in rows) / len(rows))
    done = len({vid for _, vid, _ in rows})
    lines.append(Line(t("progress.summary", lang, done=done, total=len(lens.vignettes), average=average)))
    for when, vid, result in rows:
        title = (lens.vignettes[vid].title.get(lang) if vid in lens.vignettes
                 else result.title.get(lang) if result.title else vid)
        lines.append(Line(t("progress.line", lang, date=when.strftime("%Y-%m-%d"), title=title, score=result.score),
                          "item"))
    kinds = kind_progress([r for _, _, r in rows])
    if kinds:
        lines.append(Line(t("progress.kinds", lang), "heading"))
        for kind, (first, last, n) in kinds.items():
            lines.append(Line(t("progress.kind_line", lang, kind=t(f"progress.kind.{kind}", lang), first=first.pct(),
                                last=last.pct(), n=n), "item"))
    indicators = indicator_misses([r for _, _, r in rows])
    if indicators:
        lines.append(Line(t("progress.indicators", lang), "heading"))
        for ind, (missed_n, total) in list(indicators.items())[:5]:
            name = lens.indicators[ind].name.get(lang) if ind in lens.indicators else ind
            lines.append(Line(t("progress.indicator_line", lang, name=name, missed=missed_n, total=total), "item"))
    missed: dict[str, int] = {}
    recorded: dict[str, Text] = {}
    for _, _, result in rows:
        for fb in result.signals:
            if fb.verdict == "missed":
                missed[fb.signal] = missed.get(fb.signal, 0) + 1
                if fb.question is not None:
                    recorded.setdefault(fb.signal, fb.question)
    if missed:
        lines.append(Line(t("progress.missed", lang), "heading"))
        for s, n in sorted(missed.items(), key=lambda kv: (-kv[1], kv[0]))[:5]:
            question = (lens.say(lens.question_text(s), lang) if s in lens.question_index
                        else lens.say(recorded[s], lang) if s in recorded else s)
            lines.append(Line(t("progress.missed_line", lang, question=question, count=n), "item"))
    if next_vignette in lens.vignettes:
        lines.append(Line(t("progress.next", lang, title=lens.vignettes[next_vignette].title.get(lang)), "muted"))
    return [Block(tuple(lines), "summary")]


def kind_progress(results: list[TrainingResult]) -> dict[str, tuple[Share, Share, int]]:
    """Per kind: found in the first half of the rounds, found in the last half, signals in all.
    One round: both halves are that round."""
    half = len(results) // 2
    first, last = (results[:half], results[half:]) if half else (results, results)

    def found(part: list[TrainingResult]) -> dict[str, Share]:
        total: dict[str, Share] = {}
        for r in part:
            for kind, share in r.found_by_kind().items():
                old = total.get(kind, Share(0, 0))
                total[kind] = Share(old.n + share.n, old.total + share.total)
        return total

    a, b, every = found(first), found(last), found(results)
    return {k: (a.get(k, Share(0, 0)), b.get(k, Share(0, 0)), every[k].total)
            for k in ("exploitation", "harm", "vulnerability", "red_flag") if k in every}


def indicator_misses(results: list[TrainingResult]) -> dict[str, tuple[int, int]]:
    """Per indicator with a miss: (missed, expected "ja" in all rounds), most missed first."""
    counts: dict[str, list[int]] = {}
    for r in results:
        for fb in r.signals:
            if fb.expected == "yes" and fb.indicator:
                c = counts.setdefault(fb.indicator, [0, 0])
                c[0] += fb.verdict == "missed"
                c[1] += 1
    return {k: (m, n) for k, (m, n) in sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0])) if m}
