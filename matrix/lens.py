"""A validated lens with the look-ups the dialogs and scoring need, and its version.

Built once per lens version and shared read-only: the dialog asks "what is question n" and
"which leefgebied owns this signal" on every answer, so those are dictionary look-ups here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from matrix.models import (
    AdviceRule,
    AgeBand,
    AgeGroup,
    Contact,
    Indicator,
    Leefgebied,
    LensDocument,
    Phenomenon,
    RedFlag,
    Signal,
    Text,
    Viewer,
    Vignette,
)

RED_FLAGS_PHASE = "red_flags"
QUICK_PHASE = "quick"
AGE_PHASE = "age"
PERSON = ("{person}", "{Person}")


@dataclass(frozen=True)
class Question:
    """One question of the intake: a red flag or a signal, at a place in its phase."""

    index: int          # position in the whole intake
    item_id: str        # signal or red flag id (the key of the stored answer)
    phase: str          # "red_flags" or a leefgebied id
    number: int         # 1-based position within the phase
    phase_size: int
    text: Text


def _numbered(items: list[tuple[str, str, Text]], offset: int) -> tuple[Question, ...]:
    sizes: dict[str, int] = {}
    for phase, _, _ in items:
        sizes[phase] = sizes.get(phase, 0) + 1
    seen: dict[str, int] = {}
    result = []
    for i, (phase, item_id, text) in enumerate(items):
        seen[phase] = seen.get(phase, 0) + 1
        result.append(Question(offset + i, item_id, phase, seen[phase], sizes[phase], text))
    return tuple(result)


@dataclass(frozen=True, eq=False)
class Lens:
    doc: LensDocument
    content: dict[str, Any]
    content_hash: str

    @classmethod
    def build(cls, doc: LensDocument) -> Lens:
        content = doc.model_dump(mode="json")
        canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return cls(doc=doc, content=content, content_hash=digest)

    # -- identity -------------------------------------------------------------------------
    @property
    def version(self) -> str:
        """Declared version plus a content hash: an edited lens never poses as the old one."""
        assert self.doc.lens is not None
        return f"{self.doc.lens.version}+{self.content_hash[:10]}"

    @property
    def meta(self):  # type: ignore[no-untyped-def]
        assert self.doc.lens is not None
        return self.doc.lens

    # -- structure -------------------------------------------------------------------------
    @cached_property
    def leefgebieden(self) -> tuple[Leefgebied, ...]:
        return tuple(sorted(self.doc.leefgebieden, key=lambda lg: lg.order))

    @cached_property
    def leefgebied_by_id(self) -> dict[str, Leefgebied]:
        return {lg.id: lg for lg in self.leefgebieden}

    @cached_property
    def indicators(self) -> dict[str, Indicator]:
        return {ind.id: ind for lg in self.leefgebieden for ind in lg.indicators}

    @cached_property
    def indicator_leefgebied(self) -> dict[str, str]:
        return {ind.id: lg.id for lg in self.leefgebieden for ind in lg.indicators}

    @cached_property
    def signals(self) -> dict[str, Signal]:
        return {s.id: s for ind in self.indicators.values() for s in ind.signals}

    @cached_property
    def signal_indicator(self) -> dict[str, str]:
        return {s.id: ind.id for ind in self.indicators.values() for s in ind.signals}

    @cached_property
    def red_flags(self) -> dict[str, RedFlag]:
        return {rf.id: rf for rf in self.doc.red_flags}

    @cached_property
    def alarms(self) -> dict[str, RedFlag]:
        """Every acute-danger question: the red flags and the quick scan's gate."""
        gate = self.doc.quick_scan.gate if self.doc.quick_scan else None
        return {**self.red_flags, **({gate.id: gate} if gate else {})}

    @cached_property
    def vignettes(self) -> dict[str, Vignette]:
        return {v.id: v for v in self.doc.vignettes}

    @cached_property
    def contacts(self) -> dict[str, Contact]:
        return {c.id: c for c in self.doc.contacts}

    @cached_property
    def phenomena(self) -> dict[str, Phenomenon]:
        return {p.id: p for p in self.doc.phenomena}

    @cached_property
    def viewers(self) -> dict[str, Viewer]:
        return {v.id: v for v in self.doc.viewers}

    @cached_property
    def advice_rules(self) -> tuple[AdviceRule, ...]:
        return tuple(self.doc.advice)

    @cached_property
    def attached_contacts(self) -> dict[str, list[str]]:
        """Local contacts joining an advice rule's list (contact `attach_to`)."""
        result: dict[str, list[str]] = {}
        for c in self.doc.contacts:
            for rule_id in c.attach_to:
                result.setdefault(rule_id, []).append(c.id)
        return result

    # -- the intake ------------------------------------------------------------------------
    @cached_property
    def questions(self) -> tuple[Question, ...]:
        """The full intake: red flags first, then every leefgebied's signals in order."""
        items: list[tuple[str, str, Text]] = [(RED_FLAGS_PHASE, rf.id, rf.question) for rf in self.doc.red_flags]
        for lg in self.leefgebieden:
            items += [(lg.id, s.id, s.question) for ind in lg.indicators for s in ind.signals]
        return _numbered(items, 0)

    @cached_property
    def quick_questions(self) -> tuple[Question, ...]:
        """The quick scan: its acute-danger gate, then the `quick: true` signals again."""
        if self.doc.quick_scan is None:
            return ()
        gate = self.doc.quick_scan.gate
        items = [(QUICK_PHASE, gate.id, gate.question)]
        items += [(QUICK_PHASE, s.id, s.question) for lg in self.leefgebieden for ind in lg.indicators
                  for s in ind.signals if s.quick]
        return _numbered(items, len(self.questions))

    @cached_property
    def age_questions(self) -> tuple[Question, ...]:
        """The age question, asked first in every mode; after the others so their indices stay put."""
        if self.doc.age is None:
            return ()
        return _numbered([(AGE_PHASE, self.doc.age.id, self.doc.age.question)],
                         len(self.questions) + len(self.quick_questions))

    @cached_property
    def all_questions(self) -> tuple[Question, ...]:
        """Every question at a fixed index (case trails store these): the intake, the quick scan, the age."""
        return self.questions + self.quick_questions + self.age_questions

    @cached_property
    def age_script(self) -> tuple[int, ...]:
        return tuple(q.index for q in self.age_questions)

    @cached_property
    def question_index(self) -> dict[str, int]:
        """Item id -> its index in the full intake (the gate: its quick-scan index)."""
        index = {q.item_id: q.index for q in self.quick_questions}
        index.update({q.item_id: q.index for q in self.questions})
        index.update({q.item_id: q.index for q in self.age_questions})
        return index

    @cached_property
    def full_script(self) -> tuple[int, ...]:
        return self.age_script + tuple(q.index for q in self.questions)

    @cached_property
    def quick_script(self) -> tuple[int, ...]:
        return self.age_script + tuple(q.index for q in self.quick_questions) if self.quick_questions else ()

    def script_for(self, item_ids: Iterable[str]) -> tuple[int, ...]:
        """The age question, then the full-intake questions for these items, in intake order."""
        return self.age_script + tuple(sorted(self.question_index[i] for i in set(item_ids)))

    @cached_property
    def phases(self) -> tuple[str, ...]:
        """The question phases in the order a person meets them (age, quick scan, red flags, leefgebieden)."""
        return tuple(dict.fromkeys(q.phase for q in (*self.age_questions, *self.quick_questions, *self.questions)))

    @cached_property
    def phase_start(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for q in self.all_questions:
            result.setdefault(q.phase, q.index)
        return result

    def question_text(self, item_id: str) -> Text:
        return self.all_questions[self.question_index[item_id]].text

    # -- age -------------------------------------------------------------------------------
    @property
    def age_item(self) -> str | None:
        """The answer key of the age question ("age_group"); None for a lens without one."""
        return self.doc.age.id if self.doc.age else None

    @cached_property
    def age_bands(self) -> dict[str, AgeBand]:
        return {b.id: b for b in self.doc.age.bands} if self.doc.age else {}

    def age_of(self, value: str | None) -> tuple[AgeGroup, str | None]:
        """(group, band id) for a stored or typed age: a band id, or a group name ("minor")."""
        band = self.age_bands.get(value or "")
        if band is not None:
            return band.group, band.id
        if value in ("minor", "adult"):
            return value, None  # type: ignore[return-value]
        return "unknown", None

    def person(self, lang: str, band: str | None = None, group: str = "unknown") -> str:
        """The words for the person a case is about ("de jongere", "the adult")."""
        chosen = self.age_bands.get(band or "")
        if chosen is None:   # a group without a band: the first band of that group, else the unknown band
            bands = self.doc.age.bands if self.doc.age else []
            in_group = [b for b in bands if b.group == group and group != "unknown"]   # the oldest band of it
            chosen = in_group[-1] if in_group else next((b for b in bands if b.group == "unknown"), None)
        return chosen.person.get(lang) if chosen else ("de persoon" if lang == "nl" else "the person")

    def say(self, text: Text | str, lang: str, band: str | None = None, group: str = "unknown") -> str:
        """A lens text in `lang` with {person} / {Person} worded for the age of the case."""
        raw = text if isinstance(text, str) else text.get(lang)
        if "{" not in raw:
            return raw
        who = self.person(lang, band, group)
        return raw.replace(PERSON[0], who).replace(PERSON[1], who[:1].upper() + who[1:])

    def phase_name(self, phase: str) -> Text | None:
        lg = self.leefgebied_by_id.get(phase)
        return lg.name if lg else None

    def counts(self) -> dict[str, Any]:
        return {
            "leefgebieden": len(self.leefgebieden),
            "indicators": len(self.indicators),
            "signals": len(self.signals),
            "red_flags": len(self.red_flags),
            "contacts": len(self.contacts),
            "advice_rules": len(self.advice_rules),
            "quick_signals": len(self.quick_questions) - 1 if self.quick_questions else 0,
            "vignettes": len(self.vignettes),
            "version": self.version,
        }
