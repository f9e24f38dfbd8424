"""One composition of an assessment: the summary, the PDF, the lens picture and the exports agree.

Every renderer draws on `matrix.view.AssessmentView`, so a professional who reads the chat summary,
opens the PDF and hands over the JSON or CSV sees the same signals, in the same order, with the
same kind. These tests read each output as its user would and compare them.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from dialogs.reports.export import CSV_COLUMNS, case_json, case_rows
from dialogs.reports.model import CaseInfo
from dialogs.summary import quick_result_blocks, summary_blocks
from dialogs.texts import dialog_texts
from matrix.export import assessment_dict
from matrix.lens import Lens
from matrix.loader import lens_from_content
from matrix.scoring import assess
from matrix.view import AssessmentView

t = dialog_texts()
WHEN = datetime(2026, 3, 4, 14, 5, tzinfo=UTC)
INFO = CaseInfo(code="K7Q-2MXR", mode="full", lens_version="-", created_at=WHEN, updated_at=WHEN)


def random_answers(lens: Lens, seed: int) -> dict[str, str]:
    """Some questions answered (ja, nee, weet ik niet), the rest never asked; a random age."""
    rng = random.Random(seed)
    answers = {s: rng.choice(("yes", "no", "unknown")) for s in lens.signals if rng.random() < 0.6}
    if lens.age_item:
        answers[lens.age_item] = rng.choice(list(lens.age_bands))
    return answers


def summary_text(lens: Lens, answers: dict[str, str]) -> str:
    return "\n".join(line.text for block in summary_blocks(lens, assess(lens, answers), "nl") for line in block.lines)


@pytest.mark.parametrize("seed", range(6))
def test_every_output_lists_the_same_signals_in_the_same_order_and_kind(lens: Lens, seed: int) -> None:
    answers = random_answers(lens, seed)
    result = assess(lens, answers)
    view = AssessmentView.of(lens, result, answers)
    for s in lens.signals:                                    # every signal with its answer, never guessed
        assert view.signals[s].answer == answers.get(s, "not_asked")

    data = json.loads(case_json(lens, INFO, "completed", answers, [], "nl"))["assessment"]
    rows = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in case_rows(lens, INFO, "completed", answers)]
    yes_csv = [r["question"] for r in rows if r["kind"] == "signal" and r["answer"] == "yes"]
    yes_json = data["signals_yes"]
    assert yes_json == [s.id for s in view.yes]
    assert sorted(yes_csv, key=lambda s: lens.question_index[s]) == yes_json   # the CSV: in intake order
    kind_of = {r["question"]: r["signal_kind"] for r in rows if r["kind"] == "signal"}
    for kind, ids in data["signals_by_kind"].items():
        assert all(kind_of[s] == kind for s in ids)
    for ind in data["indicators"]:
        assert ind["kinds"] == [kind_of[s] for s in ind["signals"]]

    text = summary_text(lens, answers)
    positions = [text.index(lens.say(lens.signals[s].question, "nl", result.age_band, result.age_group))
                 for kind in ("exploitation", "harm", "vulnerability") for s in data["signals_by_kind"][kind]]
    assert positions == sorted(positions)                     # the summary: exploitation first, then lens order
    triggered = [lens.indicators[i["id"]].name.nl for i in data["indicators"]]
    assert [i.name.nl for i in view.triggered] == triggered


def test_a_signal_stored_without_a_kind_reads_as_a_vulnerability_in_every_output(lens: Lens) -> None:
    """A case of a lens version stored before kinds existed: the summary files its "ja" under
    vulnerabilities (as scoring reads it), and so do the JSON and the CSV, not null or empty."""
    content = lens.doc.model_dump(mode="json")
    for lg in content["leefgebieden"]:
        for ind in lg["indicators"]:
            for s in ind["signals"]:
                s.pop("kind")
    old = lens_from_content(content)
    signal = next(iter(old.signals))
    answers = {s: "yes" if s == signal else "no" for s in old.signals}
    result = assess(old, answers)

    text = summary_text(old, answers)
    assert t("summary.kind.vulnerability", "nl") in text
    data = assessment_dict(old, result, "nl")
    assert data["signals_by_kind"]["vulnerability"] == [signal]
    assert all(kind == "vulnerability" for ind in data["indicators"] for kind in ind["kinds"])
    (row,) = [r for r in case_rows(old, INFO, "completed", answers) if r[7] == signal]
    assert row[9] == "vulnerability"


def test_the_quick_scan_forward_text_lists_what_is_unknown_in_lens_order(lens: Lens) -> None:
    quick = [s for s in lens.signals if lens.signals[s].quick]
    unknown = list(reversed(quick))[:3]                      # ids chosen against the lens order
    answers = {s: "unknown" if s in unknown else "no" for s in quick}
    blocks = quick_result_blocks(lens, assess(lens, answers), answers, set(quick), "nl", "K7Q-2MXR", WHEN)
    forward = blocks[-1].lines[-1].text
    texts = [lens.say(lens.signals[s].question, "nl") for s in quick if s in unknown]
    assert "\n".join(f"- {q}" for q in texts) in forward   # issue 15: one question a line
