"""Turn the state of a case into what the user sees next: the prompt and the messages before it."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime

from dialogs.domain import Mode
from dialogs.intake import DONE, INTRO, NOTE, QUICK_RESULT, IntakeCase, IntakeDialog
from dialogs.output import Block, Line, Option, Prompt
from dialogs.summary import feedback_blocks, quick_result_blocks, red_flag_block, summary_blocks
from dialogs.texts import dialog_texts
from matrix.lens import AGE_PHASE, QUICK_PHASE, RED_FLAGS_PHASE, Lens
from matrix.scoring import assess
from matrix.training import score_training

AGE_OPTION = "age_"


def age_band_at(lens: Lens, position: str) -> str | None:
    """The age band behind option `age_N` (1-based), or None for a position the lens does not have."""
    bands = list(lens.age_bands)
    return bands[int(position) - 1] if position.isdigit() and 0 < int(position) <= len(bands) else None


def age_of_case(lens: Lens, answers: dict[str, str]) -> tuple[str, str | None]:
    """(age group, band) of a case, for wording its texts."""
    return lens.age_of(answers.get(lens.age_item or ""))


def options(lang: str, *ids: str, row: int = 0) -> tuple[Option, ...]:
    t = dialog_texts()
    return tuple(Option(i, t(f"option.{i}", lang), row) for i in ids)


def option_event(option_id: str) -> tuple[str, str | None]:
    """The dialog event an option stands for: ("answer", "yes"), ("deepen", "2"), ("back", None)."""
    if option_id in ("yes", "no", "unknown"):
        return "answer", option_id
    if option_id.startswith("deepen_"):
        return "deepen", option_id.removeprefix("deepen_")
    if option_id.startswith(AGE_OPTION):   # the service maps the position to the lens's age band
        return "answer", option_id
    return option_id, None


def vignette_lines(dialog: IntakeDialog, case_vignette: str | None, lang: str) -> list[Line]:
    t = dialog_texts()
    v = dialog.lens.vignettes.get(case_vignette or "")
    if v is None:
        return []
    return [Line(t("training.title", lang, title=v.title.get(lang)), "title"), Line(v.text.get(lang)),
            Line(t("training.fictional", lang), "muted")]


def intro_before_case(lang: str) -> Prompt:
    """The full intake's opening before any case exists (the console creates the case at Begin):
    the same text as `intro_prompt`, without a case code."""
    t = dialog_texts()
    text = "\n\n".join([t("intro.title", lang), t("intro.body", lang), t("intro.privacy", lang),
                         t("intro.answers", lang), t("intro.acute", lang)])
    return Prompt(text, options(lang, "begin"))


def intro_prompt(dialog: IntakeDialog, case: IntakeCase, lang: str, code: str, vignette: str | None) -> Prompt:
    t = dialog_texts()
    if case.mode == Mode.TRAINING:
        v = dialog.lens.vignettes[vignette or ""]
        text = "\n\n".join([t("training.title", lang, title=v.title.get(lang)), v.text.get(lang),
                            t("training.instructions", lang), t("training.fictional", lang)])
        return Prompt(text, options(lang, "begin"))
    text = "\n\n".join([
        t("intro.title", lang), t("intro.body", lang), t("intro.privacy", lang), t("intro.answers", lang),
        t("intro.acute", lang), t("case.code", lang, code=code),
    ])
    return Prompt(text, options(lang, "begin"))


def prompt(dialog: IntakeDialog, case: IntakeCase, lang: str, code: str, vignette: str | None = None) -> Prompt | None:
    t = dialog_texts()
    if case.state == INTRO:
        return intro_prompt(dialog, case, lang, code, vignette)
    if case.state == NOTE:
        return Prompt(t("note.prompt", lang, code=code), options(lang, "no_note", "back"), accepts_text=True)
    if case.state == QUICK_RESULT:
        lens = dialog.lens
        deepen = tuple(
            Option(f"deepen_{lens.leefgebied_by_id[lg].order}",
                   t("option.deepen", lang, name=lens.leefgebied_by_id[lg].name.get(lang)), 2 + i)
            for i, lg in enumerate(dialog.deepen_options(case)))
        # "Klaar" first: most teachers stop here, and its place never shifts with the deepen options
        return Prompt(t("quick.more", lang),
                      options(lang, "finish") + options(lang, "continue", row=1) + deepen
                      + options(lang, "back", row=9))
    if case.state == DONE:
        return None
    q = dialog.current_question(case)
    assert q is not None
    lens = dialog.lens
    phase_name = lens.phase_name(q.phase)
    phase = phase_name.get(lang) if phase_name else t(f"phase.{q.phase}", lang)
    current = case.answers.get(q.item_id)
    nav: tuple[str, ...] = ("back",) if q.phase in (RED_FLAGS_PHASE, QUICK_PHASE, AGE_PHASE) else ("back", "skip")
    if q.phase == AGE_PHASE and not dialog.can_go_back(case):
        nav = ()   # the first question of a quick scan: there is nothing to go back to
    if case.mode == Mode.TRAINING:
        nav = (*nav, "vignette")
    group, band = age_of_case(lens, case.answers)
    if q.phase == AGE_PHASE and lens.doc.age is not None:
        bands = lens.doc.age.bands
        answer_options = tuple(Option(f"{AGE_OPTION}{i + 1}", b.label.get(lang), i // 3) for i, b in enumerate(bands))
        text = f"{q.text.get(lang)}\n\n{lens.doc.age.why.get(lang)}"
        shown = lens.age_bands[current].label.get(lang) if current in lens.age_bands else None
        nav_row = 1 + (len(bands) - 1) // 3
    else:
        answer_options, text = options(lang, "yes", "no", "unknown"), lens.say(q.text, lang, band, group)
        shown = t(f"answer.{current}", lang) if current in ("yes", "no", "unknown") else None
        nav_row = 1
    return Prompt(
        text=text,
        options=answer_options + options(lang, *nav, row=nav_row),
        progress=t("progress", lang, phase=phase, number=_number(dialog, case, q.index),
                   size=_size(dialog, case, q.phase)),
        current=t("question.current", lang, answer=shown) if shown else None,
        question_id=q.item_id,
    )


def _number(dialog: IntakeDialog, case: IntakeCase, index: int) -> int:
    """Position within the phase as this case's script asks it (a training case asks fewer)."""
    if case.script is None:
        return _full_intake_layout(dialog)[0][index]
    return _scan_number(dialog, dialog.script(case), index)


def _size(dialog: IntakeDialog, case: IntakeCase, phase: str) -> int:
    if case.script is None:
        return _full_intake_layout(dialog)[1][phase]
    return sum(1 for i in case.script if dialog.lens.all_questions[i].phase == phase)


def _scan_number(dialog: IntakeDialog, script: Sequence[int], index: int) -> int:
    phase = dialog.lens.all_questions[index].phase
    return 1 + sum(1 for i in script[: script.index(index)] if dialog.lens.all_questions[i].phase == phase) \
        if index in script else dialog.lens.all_questions[index].number


@functools.cache
def _full_intake_layout(dialog: IntakeDialog) -> tuple[dict[int, int], dict[str, int]]:
    """Every question's number and every phase's size in the whole intake, worked out once per lens.

    Scanning the script for them on every prompt made prompt() cost 82 µs, 15 µs with this table
    (the size test was quadratic in the number of questions); a full intake's script never changes.
    Machines are built once per lens version, so this holds one small entry per version.
    """
    lens = dialog.lens
    numbers = {q.index: _scan_number(dialog, lens.full_script, q.index) for q in lens.all_questions}
    sizes = {phase: sum(1 for q in lens.all_questions if q.phase == phase and q.index in lens.full_script)
             for phase in {q.phase for q in lens.all_questions}}
    return numbers, sizes


def effect_blocks(dialog: IntakeDialog, case: IntakeCase, lang: str, code: str,
                  vignette: str | None = None) -> list[Block]:
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
        elif kind == "quick_result":
            quick_items = {lens.all_questions[i].item_id for i in lens.quick_script}
            blocks += quick_result_blocks(lens, assess(lens, case.answers), case.answers, quick_items, lang, code,
                                          datetime.now(UTC))
        elif kind == "continued":
            blocks.append(Block((Line(t("quick.continued", lang), "muted"),), "notice"))
        elif kind == "feedback":
            v = lens.vignettes[vignette or ""]
            blocks += feedback_blocks(lens, v, score_training(lens, v, case.answers), lang)
        elif kind == "done":
            lines = [Line(t("note.saved", lang), "muted")] if case.note else []
            if case.mode != Mode.TRAINING:
                lines.append(Line(t("done.body", lang, code=code)))
            if lines:
                blocks.append(Block(tuple(lines), "notice"))
    return blocks
