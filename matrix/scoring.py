"""assess(lens, answers): from answers to indicators, concern level, phenomena and advice.

A pure function over data so that the same answers always give the same result, in every
channel and in tests, and so that every rule can be read in the lens files rather than in code.
It shows signals and advice; it never decides that exploitation is taking place.

The reading follows one principle, written into the data as the *kind* of each signal:
vulnerability is not exploitation (a vulnerability explains why someone is at risk);
exploitation shows in control, coercion and crime committed for someone else; harm (abuse,
violence, neglect, sexual violence) has its own route whatever the rest says. The concern rules
in rules.yaml count "ja" answers per kind; `checks.py` refuses a rule that would let
vulnerabilities alone reach `possible_exploitation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from matrix.lens import Lens
from matrix.models import CONCERN_LEVELS, AgeGroup, ConcernLevel, Condition, KindCondition, SignalKind, Text

Answer = Literal["yes", "no", "unknown"]
ANSWERS: tuple[Answer, ...] = ("yes", "no", "unknown")
Status = Literal["triggered", "signals", "unknown", "clear", "not_asked"]
ANSWER_ALIASES: dict[str, Answer] = {
    "yes": "yes", "ja": "yes", "y": "yes", "j": "yes",
    "no": "no", "nee": "no", "n": "no",
    "unknown": "unknown", "onbekend": "unknown", "?": "unknown",
    "weet ik niet": "unknown", "weet niet": "unknown", "don't know": "unknown", "dont know": "unknown",
}
# How much an open question could change the picture, by the kind of its signal.
_OPEN_RANK: dict[str, int] = {"exploitation": 3, "harm": 2, "vulnerability": 1}


@dataclass(frozen=True)
class IndicatorResult:
    id: str
    leefgebied: str
    status: Status
    weight: int                  # sum of the weights of its "yes" signals
    signals: tuple[str, ...]     # signals answered yes: the signals behind it
    unknown: tuple[str, ...]     # signals answered "weet ik niet" or not asked (kept for old callers)
    dont_know: tuple[str, ...] = ()   # answered "weet ik niet"
    not_asked: tuple[str, ...] = ()   # never answered (skipped, or not in this case's script)


@dataclass(frozen=True)
class LeefgebiedResult:
    id: str
    status: Status
    weight: int
    yes: int
    no: int
    unknown: int                 # "weet ik niet"
    triggered: tuple[str, ...]   # triggered indicator ids
    not_asked: int = 0


@dataclass(frozen=True)
class UnknownGroup:
    """What is not known yet about one indicator, and who usually sees it; ranked by what it could change."""

    indicator: str
    leefgebied: str
    signals: tuple[str, ...]          # open signals, most telling first
    seen_by: tuple[str, ...]
    priority: int = 0
    dont_know: tuple[str, ...] = ()
    not_asked: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhenomenonResult:
    id: str
    signals: tuple[str, ...]          # the "ja" signals behind it ("waarom")
    weight: int


@dataclass(frozen=True)
class AdviceItem:
    contact: str
    rule: str
    why: Text


@dataclass(frozen=True)
class KindFacts:
    """The "ja" signals of one kind."""

    signals: tuple[str, ...] = ()
    weight: int = 0
    max_weight: int = 0
    leefgebieden: int = 0

    def holds(self, c: KindCondition) -> bool:
        return all((
            c.min_count is None or len(self.signals) >= c.min_count,
            c.max_count is None or len(self.signals) <= c.max_count,
            c.min_weight is None or self.weight >= c.min_weight,
            c.min_signal_weight is None or self.max_weight >= c.min_signal_weight,
            c.min_leefgebieden is None or self.leefgebieden >= c.min_leefgebieden,
        ))


@dataclass(frozen=True)
class Assessment:
    lens_version: str
    concern: ConcernLevel
    concern_explanation: Text
    red_flags: tuple[str, ...]
    indicators: tuple[IndicatorResult, ...]          # every indicator, in lens order
    leefgebieden: tuple[LeefgebiedResult, ...]
    unknown: tuple[UnknownGroup, ...]                # open questions, most telling first
    phenomena: tuple[tuple[str, int], ...]           # (phenomenon id, weight of its yes signals)
    advice: tuple[AdviceItem, ...]                   # one per contact, first selecting rule wins
    rules: tuple[str, ...]                           # advice rule ids that applied
    yes: tuple[str, ...]
    answered: int
    total_weight: int
    stats: dict[str, int] = field(default_factory=dict)
    age_group: AgeGroup = "unknown"
    age_band: str | None = None
    kinds: dict[str, KindFacts] = field(default_factory=dict)
    phenomena_detail: tuple[PhenomenonResult, ...] = ()
    known: int = 0                                   # signals answered ja or nee

    @property
    def triggered(self) -> tuple[IndicatorResult, ...]:
        return tuple(i for i in self.indicators if i.status == "triggered")

    @property
    def spread(self) -> tuple[str, ...]:
        """Leefgebieden with at least one yes signal: the lens's core idea is their combination."""
        return tuple(lg.id for lg in self.leefgebieden if lg.yes)

    def of_kind(self, kind: SignalKind) -> tuple[str, ...]:
        facts = self.kinds.get(kind)
        return facts.signals if facts else ()


def normalise_answer(value: object) -> Answer | None:
    if not isinstance(value, str):
        return None
    return ANSWER_ALIASES.get(value.strip().lower())


def assess(lens: Lens, answers: Mapping[str, str]) -> Assessment:
    threshold = lens.meta.indicator_threshold
    indicators: list[IndicatorResult] = []
    leefgebieden: list[LeefgebiedResult] = []
    yes_ids: list[str] = []
    max_weight = dont_know_count = known = 0
    kind_lg: dict[str, set[str]] = {}
    for lg in lens.leefgebieden:
        lg_yes = lg_no = lg_dk = lg_na = lg_weight = 0
        lg_triggered: list[str] = []
        for ind in lg.indicators:
            yes = [s for s in ind.signals if answers.get(s.id) == "yes"]
            dont_know = tuple(s.id for s in ind.signals if answers.get(s.id) == "unknown")
            not_asked = tuple(s.id for s in ind.signals if answers.get(s.id) not in ANSWERS)
            no = sum(1 for s in ind.signals if answers.get(s.id) == "no")
            weight = sum(s.weight for s in yes)
            for s in yes:
                yes_ids.append(s.id)
                max_weight = max(max_weight, s.weight)
                kind_lg.setdefault(s.kind or "vulnerability", set()).add(lg.id)
            status = _status(weight >= threshold, bool(yes), len(dont_know), len(not_asked), len(ind.signals))
            open_ids = tuple(s.id for s in ind.signals if answers.get(s.id) not in ("yes", "no"))
            indicators.append(IndicatorResult(ind.id, lg.id, status, weight, tuple(s.id for s in yes), open_ids,
                                              dont_know, not_asked))
            if status == "triggered":
                lg_triggered.append(ind.id)
            lg_yes, lg_no, lg_dk, lg_na = lg_yes + len(yes), lg_no + no, lg_dk + len(dont_know), lg_na + len(not_asked)
            lg_weight += weight
            dont_know_count += len(dont_know)
            known += len(yes) + no
        size = lg_yes + lg_no + lg_dk + lg_na
        leefgebieden.append(LeefgebiedResult(
            lg.id, _status(bool(lg_triggered), bool(lg_yes), lg_dk, lg_na, size), lg_weight,
            lg_yes, lg_no, lg_dk, tuple(lg_triggered), lg_na))
    kinds = _kind_facts(lens, yes_ids, kind_lg)
    age_group, age_band = lens.age_of(answers.get(lens.age_item or "age_group"))
    phenomena = _phenomena(lens, set(yes_ids))
    red = tuple(rf for rf in lens.alarms if answers.get(rf) == "yes")
    facts = _Facts(
        red_flags=set(red), yes=set(yes_ids), total_weight=sum(lens.signals[s].weight for s in yes_ids),
        leefgebieden=sum(1 for lg in leefgebieden if lg.yes), max_weight=max_weight,
        unknown=dont_know_count, phenomena={p.id for p in phenomena}, concern=None,
        kinds=kinds, age_group=age_group, age_band=age_band, known=known,
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
    # Red flags name their own contacts (e.g. 112); they come first whatever the rules say.
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
        unknown=_open_questions(lens, indicators, leefgebieden),
        phenomena=tuple((p.id, p.weight) for p in phenomena),
        advice=tuple(ordered.values()),
        rules=tuple(rules),
        yes=tuple(yes_ids),
        # questions of the intake only: the quick scan's gate and the age are not among them ("94 of 93")
        answered=sum(1 for k, v in answers.items() if v in ANSWERS and (k in lens.signals or k in lens.red_flags)),
        total_weight=facts.total_weight,
        stats={"yes": len(yes_ids), "unknown": dont_know_count, "red_flags": len(red)},
        age_group=age_group,
        age_band=age_band,
        kinds=kinds,
        phenomena_detail=phenomena,
        known=known,
    )


def _status(triggered: bool, any_yes: bool, dont_know: int, not_asked: int, size: int) -> Status:
    if triggered:
        return "triggered"
    if any_yes:
        return "signals"
    # Nothing answered here: say so rather than suggest nothing is going on.
    if size and not_asked == size:
        return "not_asked"
    # Mostly "weet ik niet" or never asked (a quick scan asks a few): say which, not "clear".
    if size and (dont_know + not_asked) * 2 >= size:
        return "unknown" if dont_know >= not_asked else "not_asked"
    return "clear"


def _kind_facts(lens: Lens, yes_ids: list[str], kind_lg: dict[str, set[str]]) -> dict[str, KindFacts]:
    result: dict[str, KindFacts] = {}
    for kind in ("vulnerability", "exploitation", "harm"):
        ids = tuple(s for s in yes_ids if (lens.signals[s].kind or "vulnerability") == kind)
        weights = [lens.signals[s].weight for s in ids]
        result[kind] = KindFacts(ids, sum(weights), max(weights, default=0), len(kind_lg.get(kind, ())))
    return result


def _phenomena(lens: Lens, yes: set[str]) -> tuple[PhenomenonResult, ...]:
    """Phenomena whose evidence is met: enough of their signals, and never vulnerabilities alone.

    A phenomenon backed only by vulnerabilities (a parent with an addiction for KOPP) is shown only
    when the case also holds exploitation or harm signals: it then names the context of what was seen.
    """
    found: list[PhenomenonResult] = []
    beyond_vulnerability = any(lens.signals[s].kind in ("exploitation", "harm") for s in yes if s in lens.signals)
    for ph in lens.doc.phenomena:
        if ph.evidence is None:
            # A lens version stored before evidence existed: its own reading (any tagged "ja").
            behind = [s for s in lens.signals if s in yes and ph.id in lens.signals[s].phenomena]
            if not behind:
                continue
        else:
            behind = [s for s in ph.evidence.signals if s in yes and s in lens.signals]
            if len(behind) < ph.evidence.min:
                continue
            if ph.evidence.requires and not set(ph.evidence.requires) & yes:
                continue
            if not beyond_vulnerability:
                continue
        found.append(PhenomenonResult(ph.id, tuple(behind), sum(lens.signals[s].weight for s in behind)))
    return tuple(sorted(found, key=lambda p: (-p.weight, p.id)))


def _open_questions(lens: Lens, indicators: list[IndicatorResult],
                    leefgebieden: list[LeefgebiedResult]) -> tuple[UnknownGroup, ...]:
    """Open questions ranked by how much an answer could change the picture.

    An open exploitation signal in a leefgebied that already has "ja" answers comes first (it
    could turn loose signals into a pattern), then other exploitation and harm signals, then
    vulnerabilities; within a rank the heavier signal first.
    """
    hot = {lg.id for lg in leefgebieden if lg.yes}

    def rank(sid: str, leefgebied: str) -> int:
        s = lens.signals[sid]
        return (_OPEN_RANK.get(s.kind or "vulnerability", 1) * 10 + s.weight) * (2 if leefgebied in hot else 1)

    groups: list[tuple[int, int, UnknownGroup]] = []
    for order, ind in enumerate(indicators):
        if not ind.unknown:
            continue
        ranked = tuple(sorted(ind.unknown, key=lambda sid, lg=ind.leefgebied: -rank(sid, lg)))
        priority = rank(ranked[0], ind.leefgebied)
        groups.append((-priority, order, UnknownGroup(
            ind.id, ind.leefgebied, ranked, tuple(lens.indicators[ind.id].seen_by), priority,
            ind.dont_know, ind.not_asked)))
    return tuple(g for _, _, g in sorted(groups, key=lambda x: (x[0], x[1])))


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
    kinds: dict[str, KindFacts] = field(default_factory=dict)
    age_group: str = "unknown"
    age_band: str | None = None
    known: int = 0

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
            c.exploitation is None or self.kinds["exploitation"].holds(c.exploitation),
            c.vulnerability is None or self.kinds["vulnerability"].holds(c.vulnerability),
            c.harm is None or self.kinds["harm"].holds(c.harm),
            c.age is None or self.age_group in c.age or (self.age_band is not None and self.age_band in c.age),
            c.max_known is None or self.known <= c.max_known,
        )
        return all(checks)


__all__ = ["ANSWERS", "CONCERN_LEVELS", "Answer", "Assessment", "assess", "normalise_answer"]
