"""Practice rounds on vignettes: which questions a round asks, and a score that cannot be gamed.

Pure, like `assess`: the same answers always give the same feedback.

A round asks more than the vignette's own signals, so the questions do not give the answers away:
"volledig" asks the whole lens, "kort" the red flags and every leefgebied the vignette touches
(widened until at least as many questions have no "ja" in the vignette as have one). A question
the vignette does not list is one the text does not tell: the right answer there is "weet ik niet"
(or "nee"), never "ja".

The score is a *balanced* score, like balanced accuracy over the three answers: the mean of
  - gevonden (found): of the questions the text answers "ja", the share answered "ja";
  - terecht nee (rightly no): of the questions the text answers "nee", the share answered "nee";
  - terecht weet ik niet (rightly unknown): of the questions the text leaves open (and every question
    the vignette does not list), the share answered "weet ik niet";
each share counted only when the round holds such questions. One answer given everywhere gets one
share right and the others wrong: at most 50 % with two kinds of answer in the round, 33 % with three.
Guessing at random scores about 33 %; only reading the text scores high. Over-flagging is a mistake
too, so trainees learn not to see exploitation where there is none; and saying "nee" where the text
does not tell is a mistake, so they learn "wat zie ik nog niet?".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from matrix.lens import RED_FLAGS_PHASE, Lens
from matrix.models import ConcernLevel, Text, Vignette
from matrix.scoring import assess

Verdict = Literal["recognised", "missed", "wrongly_flagged", "rightly_unknown", "rightly_no", "differs"]
Round = Literal["kort", "volledig"]
ROUNDS: tuple[Round, ...] = ("kort", "volledig")
RED_FLAG_KIND = "red_flag"   # a red flag is not a signal of the leefgebieden; its own kind in feedback

# Vignette ids before they were made neutral (issue 14): practice cases stored with these ids still
# read, in the words of the lens version they were answered with; this maps them to today's ids.
FORMER_IDS: dict[str, str] = {
    "v01_drugsrunner_vermist": "casus_01", "v02_explosief_via_snapchat": "casus_02",
    "v03_geldezel_bankpas": "casus_03", "v04_pgb_dagbesteding_loods": "casus_04",
    "v05_vakantiepark_buurman": "casus_05", "v06_drugsschuld_dealer": "casus_06",
    "v07_winkeldiefstal_met_oom": "casus_07", "v08_criminele_familie": "casus_08",
    "v09_cuckooing_flat": "casus_09", "v10_lvb_abonnementen": "casus_10",
    "v11_sextortion_klusjes": "casus_11", "v12_kopp_jeugdgroep": "casus_12",
    "v13_opgewacht_bij_school": "casus_13", "v14_armoede": "casus_14",
    "v15_puberteit_depressie": "casus_15", "v16_kopp_zonder_uitbuiting": "casus_16",
    "v17_bijbaan_nieuwe_vriend": "casus_17", "v18_radicalisering_online": "casus_18",
}


def current_id(vignette_id: str | None) -> str | None:
    """Today's id of a vignette a stored case names (unchanged when it was never renamed)."""
    return None if vignette_id is None else FORMER_IDS.get(vignette_id, vignette_id)


@dataclass(frozen=True)
class SignalFeedback:
    signal: str
    expected: str              # yes | no | unknown; a question the vignette does not list: unknown
    given: str | None
    verdict: Verdict
    reason: Text | None        # from the vignette; None for a question it does not list
    question: Text | None = None   # in the words of the lens it was scored with (it may leave a later lens)
    kind: str | None = None        # vulnerability | exploitation | harm | red_flag
    listed: bool = True            # the vignette names this question (its text tells)
    indicator: str | None = None


@dataclass(frozen=True)
class Share:
    """n of total; `share` None when there was nothing to count."""

    n: int
    total: int

    @property
    def share(self) -> float | None:
        return self.n / self.total if self.total else None

    def pct(self) -> str:
        return "–" if not self.total else f"{round(100 * self.n / self.total)}%"


@dataclass(frozen=True)
class TrainingResult:
    vignette: str
    signals: tuple[SignalFeedback, ...]   # every question asked (listed ones first in lens order, then the rest)
    concern_given: ConcernLevel
    concern_expected: ConcernLevel
    found: Share              # gevonden: expected "ja" answered "ja"
    rightly_no: Share         # terecht nee: expected "nee" answered "nee"
    rightly_unknown: Share    # terecht weet ik niet: expected "weet ik niet" (or not listed) answered so
    age_given: str | None = None   # the age band the trainee chose
    title: Text | None = None      # the vignette's title in the lens it was scored with

    @property
    def score(self) -> int:
        """The balanced score: the mean of the three shares that count in this round, as a percentage."""
        parts = [s for s in (self.found.share, self.rightly_no.share, self.rightly_unknown.share) if s is not None]
        return round(100 * sum(parts) / len(parts)) if parts else 100

    @property
    def missed(self) -> tuple[str, ...]:
        return tuple(s.signal for s in self.signals if s.verdict == "missed")

    @property
    def listed(self) -> tuple[SignalFeedback, ...]:
        return tuple(s for s in self.signals if s.listed)

    @property
    def wrongly_flagged(self) -> tuple[SignalFeedback, ...]:
        return tuple(s for s in self.signals if s.verdict == "wrongly_flagged")

    def found_by_kind(self) -> dict[str, Share]:
        """Per kind of signal: of the expected "ja" answers, how many were found."""
        result: dict[str, Share] = {}
        for s in self.signals:
            if s.expected == "yes" and s.kind:
                old = result.get(s.kind, Share(0, 0))
                result[s.kind] = Share(old.n + (s.given == "yes"), old.total + 1)
        return result


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


def kind_of(lens: Lens, item: str) -> str | None:
    if item in lens.red_flags:
        return RED_FLAG_KIND
    signal = lens.signals.get(item)
    return (signal.kind or "vulnerability") if signal else None


def round_items(lens: Lens, vignette: Vignette, length: Round = "kort") -> tuple[str, ...]:
    """The questions of a practice round, in intake order (the age question comes before them).

    volledig: the whole lens. kort: the red flags and every leefgebied the vignette touches; while
    fewer questions have no "ja" in the vignette than have one, the next leefgebied joins, so a
    round never is a list of the vignette's own signals."""
    if length not in ROUNDS:
        raise ValueError(f"unknown round {length!r}")
    if length == "volledig":
        return tuple(q.item_id for q in lens.questions)
    listed = {e.signal for e in vignette.expected}
    yes = sum(1 for e in vignette.expected if e.answer == "yes")
    touched = {q.phase for q in lens.questions if q.item_id in listed and q.phase != RED_FLAGS_PHASE}
    phases = [RED_FLAGS_PHASE, *(lg.id for lg in lens.leefgebieden if lg.id in touched)]
    for lg in lens.leefgebieden:
        if sum(1 for q in lens.questions if q.phase in phases) - yes >= yes:
            break
        if lg.id not in phases:
            phases.append(lg.id)
    return tuple(q.item_id for q in lens.questions if q.phase in phases or q.item_id in listed)


def training_script(lens: Lens, vignette: Vignette, length: Round = "kort") -> tuple[int, ...]:
    """The round as a case script: the age question, then the round's questions."""
    return lens.script_for(round_items(lens, vignette, length))


def score_training(lens: Lens, vignette: Vignette, answers: Mapping[str, str],
                   asked: Iterable[str] | None = None) -> TrainingResult:
    """Feedback on every question asked; `asked` defaults to every answered question and every listed one."""
    expected = {e.signal: e for e in vignette.expected}
    age_key = lens.age_item or ""
    items = set(expected) | ({k for k in answers if k != age_key} if asked is None else set(asked))
    items = {i for i in items if i in lens.question_index and i != age_key}
    order = sorted(items, key=lambda i: (i not in expected, lens.question_index[i]))
    feedback = []
    for item in order:
        e = expected.get(item)
        want = e.answer if e else "unknown"
        given = answers.get(item)
        feedback.append(SignalFeedback(item, want, given, verdict(want, given),
                                       e.reason if e else None, lens.question_text(item), kind_of(lens, item),
                                       e is not None, lens.signal_indicator.get(item)))
    def share(answer: str) -> Share:
        rows = [f for f in feedback if f.expected == answer]
        return Share(sum(1 for f in rows if f.given == answer), len(rows))

    wanted = expected_answers(vignette, lens)
    return TrainingResult(
        vignette=vignette.id,
        signals=tuple(feedback),
        concern_given=assess(lens, {k: v for k, v in answers.items() if k in items or k == age_key}).concern,
        concern_expected=assess(lens, wanted).concern,
        found=share("yes"),
        rightly_no=share("no"),
        rightly_unknown=share("unknown"),
        age_given=answers.get(age_key),
        title=vignette.title,
    )


def gaming_scores(lens: Lens, vignette: Vignette, length: Round = "kort") -> dict[str, int]:
    """The score of answering every question of a round the same way (and the age right)."""
    items = round_items(lens, vignette, length)
    age = {lens.age_item: vignette.age} if lens.age_item and vignette.age else {}
    return {answer: score_training(lens, vignette, {**age, **dict.fromkeys(items, answer)}, items).score
            for answer in ("yes", "unknown", "no")}


def model_answers(lens: Lens, vignette: Vignette, length: Round = "kort") -> dict[str, str]:
    """What a professional answers in a round: the vignette's answers, "weet ik niet" where it is silent."""
    return {**dict.fromkeys(round_items(lens, vignette, length), "unknown"), **expected_answers(vignette, lens)}


def weak_spots(results: Iterable[TrainingResult]) -> dict[str, int]:
    """How often each indicator ("indicator:<id>") and each kind ("kind:<kind>") held a missed signal."""
    counts: dict[str, int] = {}
    for result in results:
        for fb in result.signals:
            if fb.verdict == "missed":
                for key in (f"indicator:{fb.indicator}" if fb.indicator else None, f"kind:{fb.kind}"):
                    if key:
                        counts[key] = counts.get(key, 0) + 1
    return counts


def choose_vignette(lens: Lens, done: list[str], results: Iterable[TrainingResult]) -> str:
    """The next vignette: one not done yet (all done: the ones done longest ago) that exercises what
    this trainee missed most, the missed indicators counting double, the missed kinds once; no
    misses yet: lens order. `done` holds today's ids, oldest first."""
    if not lens.vignettes:
        raise ValueError("this lens has no vignettes")
    fresh = [v for v in lens.vignettes if v not in done]
    if not fresh:   # every one done: the half done longest ago
        last = {v: max(i for i, d in enumerate(done) if d == v) for v in lens.vignettes}
        fresh = sorted(lens.vignettes, key=lambda v: last[v])[: max(1, len(lens.vignettes) // 2)]
    weak = weak_spots(results)

    def exercise(vid: str) -> int:
        return sum(2 * weak.get(f"indicator:{lens.signal_indicator.get(e.signal)}", 0)
                   + weak.get(f"kind:{kind_of(lens, e.signal)}", 0)
                   for e in lens.vignettes[vid].expected if e.answer == "yes")

    return max(fresh, key=lambda vid: (exercise(vid), -fresh.index(vid)))
