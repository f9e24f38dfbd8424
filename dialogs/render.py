"""Turn the state of an intake case into what the user sees next."""

from __future__ import annotations

from dialogs.intake import DONE, INTRO, NOTE, IntakeCase, IntakeDialog
from dialogs.output import Block, Line, Option, Prompt
from dialogs.summary import red_flag_block, summary_blocks
from dialogs.texts import dialog_texts
from matrix.lens import RED_FLAGS_PHASE
from matrix.scoring import assess


def options(lang: str, *ids: str, row: int = 0) -> tuple[Option, ...]:
    t = dialog_texts()
    return tuple(Option(i, t(f"option.{i}", lang), row) for i in ids)


def prompt(dialog: IntakeDialog, case: IntakeCase, lang: str, code: str) -> Prompt | None:
    t = dialog_texts()
    if case.state == INTRO:
        text = "\n\n".join([
            t("intro.title", lang), t("intro.body", lang), t("intro.privacy", lang), t("intro.answers", lang),
            t("intro.acute", lang), t("case.code", lang, code=code),
        ])
        return Prompt(text, options(lang, "begin"))
    if case.state == NOTE:
        return Prompt(t("note.prompt", lang), options(lang, "no_note", "back"), accepts_text=True)
    if case.state == DONE:
        return None
    q = dialog.current_question(case)
    assert q is not None
    phase_name = dialog.lens.phase_name(q.phase)
    phase = phase_name.get(lang) if phase_name else t("phase.red_flags", lang)
    current = case.answers.get(q.item_id)
    nav = ("back",) if q.phase == RED_FLAGS_PHASE else ("back", "skip")
    return Prompt(
        text=q.text.get(lang),
        options=options(lang, "yes", "no", "unknown") + options(lang, *nav, row=1),
        progress=t("progress", lang, phase=phase, number=q.number, size=q.phase_size),
        current=t("question.current", lang, answer=t(f"answer.{current}", lang)) if current else None,
        question_id=q.item_id,
    )


def effect_blocks(dialog: IntakeDialog, case: IntakeCase, lang: str, code: str) -> list[Block]:
    """Messages caused by the last event, shown before the next prompt."""
    t = dialog_texts()
    lens = dialog.lens
    blocks: list[Block] = []
    for kind, ref in case.effects:
        if kind == "red_flag":
            blocks.append(red_flag_block(lens, lang, [ref]))
        elif kind in ("interim", "skipped"):
            name = lens.leefgebied_by_id[ref].name.get(lang)
            if kind == "skipped":
                blocks.append(Block((Line(t("interim.skipped", lang, name=name), "muted"),), "interim"))
                continue
            result = assess(lens, case.answers)
            lg = next(r for r in result.leefgebieden if r.id == ref)
            names = ", ".join(lens.indicators[i].name.get(lang) for i in lg.triggered)
            detail = t("interim.triggered", lang, names=names) if names else t("interim.none", lang)
            blocks.append(Block((Line(t("interim.title", lang, name=name, yes=lg.yes, unknown=lg.unknown), "heading"),
                                 Line(detail)), "interim"))
        elif kind == "summary":
            blocks += summary_blocks(lens, assess(lens, case.answers), lang, code)
        elif kind == "done":
            lines = [Line(t("note.saved", lang), "muted")] if case.note else []
            blocks.append(Block((*lines, Line(t("done.body", lang, code=code))), "notice"))
    return blocks
