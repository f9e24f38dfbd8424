"""The combined picture of a shared case: the owner's answers beside each domain's contribution.

Pure functions, no storage. `merge` gives the answers the one scorer (matrix/scoring.py) reads: a
"ja" from anyone is an observation, a "nee" from anyone beats "weet ik niet", and nothing is
averaged away; `combined_lines` says per signal who answered what ("school: ja · wijkteam: weet ik
niet"), marks conflicts, shows the spread over domains, which domains the assessment rests on,
and the blind spots (requests that have no answers yet). The chat summary, the PDF and the
contributor's view (when the owner allowed it) all use these lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from dialogs.output import Line
from dialogs.sharing import catalogue
from dialogs.texts import dialog_texts
from matrix.lens import Lens
from matrix.scoring import assess
from matrix.view import AssessmentView

RANK = {"yes": 3, "no": 2, "unknown": 1}
OWNER = "owner"


@dataclass(frozen=True)
class Source:
    """One domain's answers to one request (or the owner's own answers, domain OWNER)."""

    domain: str
    answers: Mapping[str, str]
    status: str = "finished"        # the request's status (open, claimed, finished, revoked, expired)
    expires_at: datetime | None = None


def merge(owner: Mapping[str, str], sources: list[Source]) -> dict[str, str]:
    """The answers to score: per item the strongest of all sources (yes > no > unknown).

    Items outside the yes/no/unknown scale (the age) are the owner's alone."""
    merged = dict(owner)
    for source in sources:
        for item, value in source.answers.items():
            if value not in RANK:
                continue
            current = merged.get(item)
            if current is None or (current in RANK and RANK[value] > RANK[current]):
                merged[item] = value
    return merged


def case_lines(lens: Lens, owner: Mapping[str, str], sources: list[Source], lang: str) -> list[Line]:
    """combined_lines for a case: its owner's answers and every request's source, scored merged."""
    merged = merge(owner, sources)
    return combined_lines(AssessmentView.of(lens, assess(lens, merged), merged), owner, sources, lang)


def domain_label(domain: str, lang: str) -> str:
    if domain == OWNER:
        return dialog_texts()("share.owner_label", lang)
    return catalogue().domain_name(domain, lang)


def combined_lines(view: AssessmentView, owner: Mapping[str, str], sources: list[Source], lang: str) -> list[Line]:
    """The combined picture as lines: sources, what rests on whom, per-signal answers, conflicts, blind spots."""
    t = dialog_texts()
    answered = [s for s in sources if s.answers]
    everyone = [Source(OWNER, owner), *answered]
    lines = [Line(t("share.combined_title", lang), "heading")]
    lines.append(Line(t("share.combined_sources", lang,
                        sources=", ".join(domain_label(s.domain, lang) for s in everyone))))
    # the spread over domains: how many "ja" each source gave, and over how many leefgebieden
    for s in everyone:
        yes = [i for i, v in s.answers.items() if v == "yes" and i in view.signals]
        areas = {view.signals[i].leefgebied for i in yes}
        lines.append(Line(t("share.domain_spread", lang, domain=domain_label(s.domain, lang), yes=len(yes),
                            areas=len(areas)), "item"))
    rests = [domain_label(s.domain, lang) for s in everyone
             if any(v == "yes" and (i in view.signals or i in view.lens.red_flags) for i, v in s.answers.items())]
    lines.append(Line(t("share.rests_on", lang, domains=", ".join(rests) if rests else t("share.nobody", lang))))
    # per signal (and red flag) that any contributor answered: every source's answer
    order = [rf for rf in view.lens.red_flags] + [sid for lg in view.leefgebieden for ind in lg.indicators
                                                  for sid in (s.id for s in ind.signals)]
    shown = [i for i in order if any(i in s.answers for s in answered)]
    if shown:
        lines.append(Line(t("share.per_signal", lang), "heading"))
    conflicts = 0
    for item in shown:
        parts, values = [], set()
        for s in everyone:
            value = s.answers.get(item)
            if value in RANK:
                values.add(value)
                parts.append(f"{domain_label(s.domain, lang)}: {t(f'answer.{value}', lang)}")
        conflict = {"yes", "no"} <= values
        conflicts += conflict
        question = view.say(view.lens.question_text(item), lang)
        lines.append(Line(question, "item"))
        lines.append(Line(" · ".join(parts) + (f"  ⚠ {t('share.conflict', lang)}" if conflict else ""), "subitem"))
    if conflicts:
        lines.append(Line(t("share.conflicts", lang, count=conflicts), "alert"))
    # blind spots: requests that have not been answered (yet)
    waiting = [s for s in sources if not s.answers]
    lines.append(Line(t("share.blind_spots", lang), "heading"))
    if not waiting:
        lines.append(Line(t("share.blind_none", lang), "muted"))
    for s in waiting:
        who = domain_label(s.domain, lang) if s.domain else t("share.unknown_domain", lang)
        lines.append(Line(t("share.blind_line", lang, domain=who, status=t(f"share.status.{s.status}", lang)), "item"))
    return lines


def history_lines(changes: list[tuple[str, str | None, str | None, str, datetime]], lens: Lens,
                  lang: str) -> list[Line]:
    """The answer history (aanvullen and contributions): when, who by role, item, earlier and new value."""
    t = dialog_texts()
    lines = [Line(t("share.history_title", lang), "heading")]
    if not changes:
        lines.append(Line(t("share.history_none", lang), "muted"))
    for item, old, new, by_role, at in changes:
        who = by_role
        if by_role == OWNER:
            who = domain_label(OWNER, lang)
        elif by_role.startswith("contributor:"):
            who = domain_label(by_role.split(":", 1)[1], lang)

        def word(value: str | None) -> str:
            if value is None:
                return "–"
            return t(f"answer.{value}", lang) if value in RANK else value

        if item == "note":
            text = t("share.history_note", lang, at=at.strftime("%Y-%m-%d %H:%M"), who=who)
        else:
            question = lens.say(lens.question_text(item), lang) if item in lens.question_index else item
            text = t("share.history_line", lang, at=at.strftime("%Y-%m-%d %H:%M"), who=who, question=question,
                     old=word(old), new=word(new))
        lines.append(Line(text, "item"))
    return lines
