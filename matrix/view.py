"""One ordered view of an assessment, composed once and shared by every renderer.

The chat summary, the PDF dossier, the lens picture and the JSON/CSV exports all show the same
assessment. Each used to re-derive order and grouping from `Assessment` on its own (indicators
grouped per leefgebied here, advice grouped per reason there, kinds read as `None` in one place and
as "vulnerability" in another). `AssessmentView.of(lens, result, answers)` composes it once:
leefgebieden in lens order with their indicators, every signal with its answer (yes, no, unknown,
not_asked) and kind, the open questions ranked, phenomena with the signals behind them, advice
grouped by reason and the steps of the rules that applied. Renderers only word and lay it out.

It lives in matrix/ because it is pure data over the lens and the assessment (no channel, no I/O),
and `matrix.export.assessment_dict` renders it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from matrix.lens import Lens
from matrix.models import AgeGroup, ConcernLevel, Contact, SignalKind, Text, Viewer
from matrix.scoring import Assessment, Status

AnswerState = Literal["yes", "no", "unknown", "not_asked"]
KIND_ORDER: tuple[SignalKind, ...] = ("exploitation", "harm", "vulnerability")   # how sections are shown


@dataclass(frozen=True)
class SignalView:
    id: str
    indicator: str
    leefgebied: str
    kind: SignalKind          # a signal stored without a kind reads as a vulnerability, as scoring reads it
    weight: int
    answer: AnswerState
    question: Text


@dataclass(frozen=True)
class IndicatorView:
    id: str
    leefgebied: str
    name: Text
    status: Status
    weight: int                          # sum of the weights of its "ja" signals
    signals: tuple[SignalView, ...]      # every signal, in lens order
    seen_by: tuple[Viewer, ...]

    def answered(self, state: AnswerState) -> tuple[SignalView, ...]:
        return tuple(s for s in self.signals if s.answer == state)

    @property
    def yes(self) -> tuple[SignalView, ...]:
        return self.answered("yes")


@dataclass(frozen=True)
class LeefgebiedView:
    id: str
    name: Text
    status: Status
    weight: int
    yes: int
    no: int
    unknown: int                         # "weet ik niet"
    not_asked: int
    triggered: tuple[str, ...]           # triggered indicator ids
    indicators: tuple[IndicatorView, ...]

    def answered(self, state: AnswerState) -> tuple[SignalView, ...]:
        return tuple(s for ind in self.indicators for s in ind.signals if s.answer == state)


@dataclass(frozen=True)
class OpenQuestion:
    """What is not known yet about one indicator, and who usually sees it; most telling first."""

    indicator: IndicatorView
    signals: tuple[SignalView, ...]      # open signals, most telling first
    dont_know: tuple[str, ...]
    not_asked: tuple[str, ...]
    priority: int

    @property
    def seen_by(self) -> tuple[Viewer, ...]:
        return self.indicator.seen_by


@dataclass(frozen=True)
class PhenomenonView:
    id: str
    name: Text
    weight: int
    signals: tuple[SignalView, ...]      # the "ja" signals behind it ("waarom")


@dataclass(frozen=True)
class RedFlagView:
    id: str
    question: Text
    contacts: tuple[str, ...]


@dataclass(frozen=True)
class AdviceContact:
    """One contact of the advice, with the rule that selected it and its reason."""

    contact: Contact
    rule: str
    why: Text


@dataclass(frozen=True)
class AdviceReason:
    """One reason, then the contacts it selected: the reason is the advice, the contacts the route."""

    why: Text
    contacts: tuple[Contact, ...]


@dataclass(frozen=True)
class AssessmentView:
    """An assessment in the order every renderer shows it; build it with `AssessmentView.of`."""

    lens: Lens
    result: Assessment
    answers: Mapping[str, str]
    red_flags: tuple[RedFlagView, ...]
    leefgebieden: tuple[LeefgebiedView, ...]
    by_kind: tuple[tuple[SignalKind, tuple[SignalView, ...]], ...]   # "ja" signals, empty kinds left out
    open_questions: tuple[OpenQuestion, ...]
    phenomena: tuple[PhenomenonView, ...]
    advice: tuple[AdviceContact, ...]     # one per contact, red-flag contacts first
    reasons: tuple[AdviceReason, ...]     # the advice grouped by reason, in the order the reasons first appear
    steps: tuple[Text, ...]               # the steps of the advice rules that applied, each once
    signals: dict[str, SignalView] = field(default_factory=dict)

    @classmethod
    def of(cls, lens: Lens, result: Assessment, answers: Mapping[str, str] | None = None) -> AssessmentView:
        """Compose the view; without `answers` the signal answers follow from the assessment itself."""
        by_indicator = {i.id: i for i in result.indicators}
        signals: dict[str, SignalView] = {}
        leefgebieden: list[LeefgebiedView] = []
        by_lg = {lg.id: lg for lg in result.leefgebieden}
        for lg in lens.leefgebieden:
            scored_lg = by_lg[lg.id]
            indicators: list[IndicatorView] = []
            for ind in lg.indicators:
                scored = by_indicator[ind.id]
                yes, dont_know, not_asked = set(scored.signals), set(scored.dont_know), set(scored.not_asked)
                views = []
                for s in ind.signals:
                    state: AnswerState = ("yes" if s.id in yes else "unknown" if s.id in dont_know
                                          else "not_asked" if s.id in not_asked else "no")
                    views.append(SignalView(s.id, ind.id, lg.id, s.kind or "vulnerability", s.weight, state,
                                            s.question))
                signals.update((v.id, v) for v in views)
                indicators.append(IndicatorView(ind.id, lg.id, ind.name, scored.status, scored.weight, tuple(views),
                                                tuple(lens.viewers[v] for v in ind.seen_by)))
            leefgebieden.append(LeefgebiedView(
                lg.id, lg.name, scored_lg.status, scored_lg.weight, scored_lg.yes, scored_lg.no, scored_lg.unknown,
                scored_lg.not_asked, scored_lg.triggered, tuple(indicators)))
        indicator_views = {i.id: i for lg in leefgebieden for i in lg.indicators}
        by_kind = tuple((kind, tuple(signals[s] for s in result.of_kind(kind))) for kind in KIND_ORDER
                        if result.of_kind(kind))
        open_questions = tuple(
            OpenQuestion(indicator_views[u.indicator], tuple(signals[s] for s in u.signals), u.dont_know, u.not_asked,
                         u.priority)
            for u in result.unknown)
        phenomena = tuple(PhenomenonView(p.id, lens.phenomena[p.id].name, p.weight,
                                         tuple(signals[s] for s in p.signals))
                          for p in result.phenomena_detail)
        advice = tuple(AdviceContact(lens.contacts[a.contact], a.rule, a.why) for a in result.advice)
        reasons: dict[tuple[str, str], tuple[Text, list[Contact]]] = {}
        for item in advice:
            reasons.setdefault(_key(item.why), (item.why, []))[1].append(item.contact)
        applied = [rule for rule in lens.advice_rules if rule.id in result.rules]
        for rule in applied:   # rules without contacts of their own still give their reason
            if not rule.contacts:
                reasons.setdefault(_key(rule.why), (rule.why, []))
        steps = {_key(step): step for rule in applied for step in rule.steps}
        if answers is None:
            answers = {**{s.id: s.answer for s in signals.values() if s.answer != "not_asked"},
                       **{rf: "yes" for rf in result.red_flags}}
        return cls(
            lens=lens, result=result, answers=dict(answers),
            red_flags=tuple(RedFlagView(rf, lens.alarms[rf].question, tuple(lens.alarms[rf].contacts))
                            for rf in result.red_flags),
            leefgebieden=tuple(leefgebieden), by_kind=by_kind, open_questions=open_questions, phenomena=phenomena,
            advice=advice, reasons=tuple(AdviceReason(why, tuple(contacts)) for why, contacts in reasons.values()),
            steps=tuple(steps.values()), signals=signals,
        )

    # -- what the assessment says -----------------------------------------------------------
    @property
    def lens_version(self) -> str:
        return self.result.lens_version

    @property
    def concern(self) -> ConcernLevel:
        return self.result.concern

    @property
    def concern_explanation(self) -> Text:
        return self.result.concern_explanation

    @property
    def age_group(self) -> AgeGroup:
        return self.result.age_group

    @property
    def age_band(self) -> str | None:
        return self.result.age_band

    @property
    def spread(self) -> tuple[str, ...]:
        return self.result.spread

    @property
    def answered(self) -> int:
        return self.result.answered

    @property
    def total_questions(self) -> int:
        """The questions of the full intake (red flags and signals): "94 of 93" never happens."""
        return len(self.lens.questions)

    @cached_property
    def indicators(self) -> tuple[IndicatorView, ...]:
        return tuple(i for lg in self.leefgebieden for i in lg.indicators)

    @cached_property
    def triggered(self) -> tuple[IndicatorView, ...]:
        return tuple(i for i in self.indicators if i.status == "triggered")

    @cached_property
    def yes(self) -> tuple[SignalView, ...]:
        """The "ja" signals in lens order."""
        return tuple(self.signals[s] for s in self.result.yes)

    def of_kind(self, kind: SignalKind) -> tuple[SignalView, ...]:
        return dict(self.by_kind).get(kind, ())

    def leefgebied(self, lg_id: str) -> LeefgebiedView:
        return next(lg for lg in self.leefgebieden if lg.id == lg_id)

    # -- the answers, for exports -------------------------------------------------------------
    @cached_property
    def answer_order(self) -> tuple[str, ...]:
        """Every answered item in intake order (unknown ids last), then every signal never asked."""
        index = self.lens.question_index
        answered = sorted(self.answers, key=lambda i: index.get(i, 10**6))
        return (*answered, *(s for s in self.signals if s not in self.answers))

    def item_kind(self, item: str) -> str:
        """How an export names an answered item: signal, age or red_flag (the quick scan's gate too)."""
        return "signal" if item in self.signals else "age" if item == self.lens.age_item else "red_flag"

    # -- wording ------------------------------------------------------------------------------
    def say(self, text: Text | str, lang: str) -> str:
        """A lens text worded for the age of this case ({person} -> "de jongere", "the adult")."""
        return self.lens.say(text, lang, self.age_band, self.age_group)


def _key(text: Text) -> tuple[str, str]:
    return (text.nl, text.en)


__all__ = ["AdviceContact", "AdviceReason", "AnswerState", "AssessmentView", "IndicatorView", "LeefgebiedView",
           "OpenQuestion", "PhenomenonView", "RedFlagView", "SignalView"]
