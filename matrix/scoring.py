"""assess(lens, answers): from answers to triggered indicators, concern level and advice.

A pure function over data so that the same answers always give the same result, in every
channel and in tests, and so that every rule can be read in the lens files rather than in code.
It shows signals and advice; it never decides that exploitation is taking place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from matrix.lens import Lens
from matrix.models import CONCERN_LEVELS, ConcernLevel, Condition, Text

Answer = Literal["yes", "no", "unknown"]
ANSWERS: tuple[Answer, ...] = ("yes", "no", "unknown")
Status = Literal["triggered", "signals", "unknown", "clear"]
ANSWER_ALIASES: dict[str, Answer] = {
    "yes": "yes", "ja": "yes", "y": "yes", "j": "yes",
    "no": "no", "nee": "no", "n": "no",
    "unknown": "unknown", "onbekend": "unknown", "?": "unknown",
    "weet ik niet": "unknown", "weet niet": "unknown", "don't know": "unknown", "dont know": "unknown",
}


@dataclass(frozen=True)
class IndicatorResult:
    id: str
    leefgebied: str
    status: Status
    weight: int                  # sum of the weights of its "yes" signals
    signals: tuple[str, ...]     # signals answered yes
    unknown: tuple[str, ...]     # signals answered "weet ik niet" or not answered


@dataclass(frozen=True)
class LeefgebiedResult:
    id: str
    status: Status
    weight: int
    yes: int
    no: int
    unknown: int
    triggered: tuple[str, ...]   # triggered indicator ids


@dataclass(frozen=True)
class UnknownGroup:
    """What is not known yet about one indicator, and who usually sees it."""

    indicator: str
    leefgebied: str
    signals: tuple[str, ...]
    seen_by: tuple[str, ...]


@dataclass(frozen=True)
class AdviceItem:
    contact: str
    rule: str
    why: Text


@dataclass(frozen=True)
class Assessment:
    lens_version: str
    concern: ConcernLevel
    concern_explanation: Text
    red_flags: tuple[str, ...]
    indicators: tuple[IndicatorResult, ...]          # every indicator, in lens order
    leefgebieden: tuple[LeefgebiedResult, ...]
    unknown: tuple[UnknownGroup, ...]
    phenomena: tuple[tuple[str, int], ...]           # (phenomenon id, weight of its yes signals)
    advice: tuple[AdviceItem, ...]                   # one per contact, first selecting rule wins
    rules: tuple[str, ...]                           # advice rule ids that applied
    yes: tuple[str, ...]
    answered: int
    total_weight: int
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def triggered(self) -> tuple[IndicatorResult, ...]:
        return tuple(i for i in self.indicators if i.status == "triggered")

    @property
    def spread(self) -> tuple[str, ...]:
        """Leefgebieden with at least one yes signal: the lens's core idea is their combination."""
        return tuple(lg.id for lg in self.leefgebieden if lg.yes)


def normalise_answer(value: object) -> Answer | None:
    if not isinstance(value, str):
        return None
    return ANSWER_ALIASES.get(value.strip().lower())


def assess(lens: Lens, answers: Mapping[str, Answer]) -> Assessment:
    threshold = lens.meta.indicator_threshold
    indicators: list[IndicatorResult] = []
    leefgebieden: list[LeefgebiedResult] = []
    unknown_groups: list[UnknownGroup] = []
    phenomena: dict[str, int] = {}
    yes_ids: list[str] = []
    max_weight = 0
    unknown_count = 0
    for lg in lens.leefgebieden:
        lg_yes = lg_no = lg_unknown = lg_weight = 0
        lg_triggered: list[str] = []
        lg_ind: list[IndicatorResult] = []
        for ind in lg.indicators:
            yes = [s for s in ind.signals if answers.get(s.id) == "yes"]
            unknown = [s.id for s in ind.signals if answers.get(s.id) not in ("yes", "no")]
            unknown_count += sum(1 for s in ind.signals if answers.get(s.id) == "unknown")
            weight = sum(s.weight for s in yes)
            for s in yes:
                yes_ids.append(s.id)
                max_weight = max(max_weight, s.weight)
                for ph in s.phenomena:
                    phenomena[ph] = phenomena.get(ph, 0) + s.weight
            status = _status(weight >= threshold, bool(yes), len(unknown), len(ind.signals))
            lg_ind.append(IndicatorResult(ind.id, lg.id, status, weight, tuple(s.id for s in yes), tuple(unknown)))
            if status == "triggered":
                lg_triggered.append(ind.id)
            if unknown:
                unknown_groups.append(UnknownGroup(ind.id, lg.id, tuple(unknown), tuple(ind.seen_by)))
            lg_yes += len(yes)
            lg_unknown += len(unknown)
            lg_no += len(ind.signals) - len(yes) - len(unknown)
            lg_weight += weight
        indicators += lg_ind
        size = lg_yes + lg_no + lg_unknown
        leefgebieden.append(LeefgebiedResult(
            lg.id, _status(bool(lg_triggered), bool(lg_yes), lg_unknown, size), lg_weight,
            lg_yes, lg_no, lg_unknown, tuple(lg_triggered)))
    red = tuple(rf for rf in lens.alarms if answers.get(rf) == "yes")
    facts = _Facts(
        red_flags=set(red), yes=set(yes_ids), total_weight=sum(lens.signals[s].weight for s in yes_ids),
        leefgebieden=sum(1 for lg in leefgebieden if lg.yes), max_weight=max_weight,
        unknown=unknown_count, phenomena=set(phenomena), concern=None,
    )
    concern, explanation = "none", Text(nl="-", en="-")
    for rule in lens.doc.concern:
        if facts.holds(rule.when):
            concern, explanation = rule.level, rule.explanation
            break
    facts.concern = concern
    advice: dict[str, AdviceItem] = {}
    rules: list[str] = []
    for adv in lens.advice_rules:
        if not facts.holds(adv.when):
            continue
        rules.append(adv.id)
        for contact in [*adv.contacts, *lens.attached_contacts.get(adv.id, [])]:
            advice.setdefault(contact, AdviceItem(contact, adv.id, adv.why))
    # Red flags name their own contacts (e.g. 113); they come first whatever the rules say.
    ordered: dict[str, AdviceItem] = {}
    for rf in red:
        for c in lens.alarms[rf].contacts:
            ordered.setdefault(c, advice.get(c) or AdviceItem(c, "red_flag", lens.alarms[rf].question))
    ordered.update({c: a for c, a in advice.items() if c not in ordered})
    return Assessment(
        lens_version=lens.version,
        concern=concern,
        concern_explanation=explanation,
        red_flags=red,
        indicators=tuple(indicators),
        leefgebieden=tuple(leefgebieden),
        unknown=tuple(unknown_groups),
        phenomena=tuple(sorted(phenomena.items(), key=lambda kv: (-kv[1], kv[0]))),
        advice=tuple(ordered.values()),
        rules=tuple(rules),
        yes=tuple(yes_ids),
        # questions of the intake only: the quick scan's gate is not one of them ("94 of 93")
        answered=sum(1 for k, v in answers.items() if v in ANSWERS and (k in lens.signals or k in lens.red_flags)),
        total_weight=facts.total_weight,
        stats={"yes": len(yes_ids), "unknown": unknown_count, "red_flags": len(red)},
    )


def _status(triggered: bool, any_yes: bool, unknown: int, size: int) -> Status:
    if triggered:
        return "triggered"
    if any_yes:
        return "signals"
    # Mostly unanswered or "weet ik niet": say so rather than suggest nothing is going on.
    if size and unknown * 2 >= size:
        return "unknown"
    return "clear"


@dataclass
class _Facts:
    red_flags: set[str]
    yes: set[str]
    total_weight: int
    leefgebieden: int
    max_weight: int
    unknown: int
    phenomena: set[str]
    concern: ConcernLevel | None

    def holds(self, c: Condition) -> bool:
        checks = (
            c.always is None or c.always,
            c.any_red_flag is None or (bool(self.red_flags) == c.any_red_flag),
            c.red_flags_any is None or bool(self.red_flags & set(c.red_flags_any)),
            c.signals_any is None or bool(self.yes & set(c.signals_any)),
            c.concern is None or self.concern in c.concern,
            c.min_yes is None or len(self.yes) >= c.min_yes,
            c.max_yes is None or len(self.yes) <= c.max_yes,
            c.min_yes_weight is None or self.total_weight >= c.min_yes_weight,
            c.min_leefgebieden is None or self.leefgebieden >= c.min_leefgebieden,
            c.min_signal_weight is None or self.max_weight >= c.min_signal_weight,
            c.max_signal_weight is None or self.max_weight <= c.max_signal_weight,
            c.min_unknown is None or self.unknown >= c.min_unknown,
            c.phenomena_any is None or bool(self.phenomena & set(c.phenomena_any)),
        )
        return all(checks)


__all__ = ["ANSWERS", "CONCERN_LEVELS", "Answer", "Assessment", "assess", "normalise_answer"]
