"""Score a trainee's answers for a vignette against the answers it expects.

Pure, like `assess`: the same answers always give the same feedback. Over-flagging is a
mistake too ("wrongly flagged"), so trainees learn not to see exploitation where there is none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from matrix.lens import Lens
from matrix.models import ConcernLevel, Text, Vignette
from matrix.scoring import assess

Verdict = Literal["recognised", "missed", "wrongly_flagged", "rightly_unknown", "rightly_no", "differs"]


@dataclass(frozen=True)
class SignalFeedback:
    signal: str
    expected: str
    given: str | None
    verdict: Verdict
    reason: Text
    question: Text | None = None   # in the words of the lens it was scored with (it may leave a later lens)


@dataclass(frozen=True)
class TrainingResult:
    vignette: str
    signals: tuple[SignalFeedback, ...]
    concern_given: ConcernLevel
    concern_expected: ConcernLevel
    recall: float | None      # share of the expected "ja" answers the trainee gave
    precision: float | None   # share of the trainee's "ja" answers that were expected
    age_given: str | None = None   # the age band the trainee chose
    title: Text | None = None      # the vignette's title in the lens it was scored with

    @property
    def score(self) -> int:
        """One number for progress lists: the F1 of the "ja" answers, as a percentage."""
        r, p = self.recall, self.precision
        if r is None and p is None:
            return 100
        r, p = r or 0.0, p or 0.0
        return round(100 * 2 * r * p / (r + p)) if r + p else 0

    @property
    def missed(self) -> tuple[str, ...]:
        return tuple(s.signal for s in self.signals if s.verdict == "missed")


def verdict(expected: str, given: str | None) -> Verdict:
    if expected == "yes":
        return "recognised" if given == "yes" else "missed"
    if given == "yes":
        return "wrongly_flagged"
    if expected == given:
        return "rightly_unknown" if expected == "unknown" else "rightly_no"
    return "differs"


def expected_answers(vignette: Vignette, lens: Lens | None = None) -> dict[str, str]:
    """The vignette's answers, with its age band where the lens asks the age."""
    answers = {e.signal: e.answer for e in vignette.expected}
    if lens is not None and lens.age_item and vignette.age:
        answers[lens.age_item] = vignette.age
    return answers


def score_training(lens: Lens, vignette: Vignette, answers: Mapping[str, str]) -> TrainingResult:
    feedback = tuple(
        SignalFeedback(e.signal, e.answer, answers.get(e.signal), verdict(e.answer, answers.get(e.signal)), e.reason,
                       lens.question_text(e.signal))
        for e in sorted(vignette.expected, key=lambda e: lens.question_index[e.signal])
    )
    expected_yes = {f.signal for f in feedback if f.expected == "yes"}
    given_yes = {f.signal for f in feedback if f.given == "yes"}
    hits = len(expected_yes & given_yes)
    expected = expected_answers(vignette, lens)
    age_key = lens.age_item or ""
    return TrainingResult(
        vignette=vignette.id,
        signals=feedback,
        concern_given=assess(lens, {k: v for k, v in answers.items() if k in expected or k == age_key}).concern,
        concern_expected=assess(lens, expected).concern,
        recall=hits / len(expected_yes) if expected_yes else None,
        precision=hits / len(given_yes) if given_yes else None,
        age_given=answers.get(age_key),
        title=vignette.title,
    )
