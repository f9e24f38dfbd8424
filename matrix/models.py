"""Pydantic models of the lens: the schema a lens file must follow (see FORMAT.md).

The models are strict (`extra="forbid"`) so that a misspelt key in a YAML file is reported
instead of silently ignored; a domain expert editing the lens must hear about every mistake.
Cross-references (an indicator naming an unknown viewer, say) are checked in `checks.py`,
because they span files.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Lang = Literal["nl", "en"]
LANGS: tuple[Lang, ...] = ("nl", "en")
ConcernLevel = Literal["not_assessed", "none", "attention", "possible_exploitation", "acute"]
CONCERN_LEVELS: tuple[ConcernLevel, ...] = ("not_assessed", "none", "attention", "possible_exploitation", "acute")
# What a "ja" on a signal says. A vulnerability explains why someone is at risk; an exploitation
# signal shows control, coercion or crime committed for someone else; a harm signal shows abuse,
# violence, neglect or sexual violence, which has its own route (Veilig Thuis) whatever the rest says.
SignalKind = Literal["vulnerability", "exploitation", "harm"]
SIGNAL_KINDS: tuple[SignalKind, ...] = ("vulnerability", "exploitation", "harm")
AgeGroup = Literal["minor", "adult", "unknown"]
AGE_GROUPS: tuple[AgeGroup, ...] = ("minor", "adult", "unknown")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A user-facing text; both languages are required so no user meets a missing string."""

    nl: NonEmpty
    en: NonEmpty

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.nl


class LensMeta(Strict):
    id: Id
    version: NonEmpty
    name: Text
    description: Text
    disclaimer: Text
    indicator_threshold: Annotated[int, Field(ge=1, le=20)] = 3


class Evidence(Strict):
    """The signals that point to a phenomenon and how many of them a case needs ("waarom")."""

    signals: Annotated[list[Id], Field(min_length=1)]
    min: Annotated[int, Field(ge=1)] = 1
    requires: list[Id] = []   # at least one of these must be among the "ja" answers (e.g. work, for labour)


class Phenomenon(Strict):
    id: Id
    code: NonEmpty
    name: Text
    # None only in lens versions stored before phenomena needed evidence; checks.py requires it.
    evidence: Evidence | None = None


class AgeBand(Strict):
    """One answer to the age question; `person` replaces {person} in texts ("de jongere")."""

    id: Id
    group: AgeGroup
    label: Text
    person: Text


class AgeQuestion(Strict):
    """Asked once at the start of every mode: routes and wording depend on it."""

    id: Id = "age_group"
    question: Text
    why: Text
    bands: Annotated[list[AgeBand], Field(min_length=2)]


class Viewer(Strict):
    id: Id
    name: Text
    school_name: Text | None = None   # the same viewer in the words of school staff (quick scan)
    via: Text | None = None           # reach them only this way (a GP, a bank: through the Meldcode)
    caution: Text | None = None       # they may be involved: do not tip them off


class Signal(Strict):
    id: Id
    # None only in lens versions stored before kinds existed; checks.py requires it in a lens file.
    kind: SignalKind | None = None
    weight: Annotated[int, Field(ge=1, le=3)]
    question: Text
    split_from: list[Id] = []   # an earlier signal id this one took part of the meaning from
    phenomena: list[Id] = []
    seed: bool = False
    quick: bool = False
    sources: list[NonEmpty] = []


class Indicator(Strict):
    id: Id
    name: Text
    seen_by: Annotated[list[Id], Field(min_length=1)]
    signals: Annotated[list[Signal], Field(min_length=1)]


class Leefgebied(Strict):
    id: Id
    order: Annotated[int, Field(ge=1)]
    name: Text
    indicators: Annotated[list[Indicator], Field(min_length=1)]


class RedFlag(Strict):
    id: Id
    question: Text
    contacts: list[Id] = []


class Contact(Strict):
    id: Id
    name: Text
    when: Text
    phone: NonEmpty | None = None
    website: NonEmpty | None = None
    hours: Text | None = None
    attach_to: list[Id] = []
    source: NonEmpty | None = None    # where phone, website and hours were checked
    checked: date | None = None       # when they were checked


class KindCondition(Strict):
    """Conditions on the "ja" signals of one kind; every one that is set must hold."""

    min_count: Annotated[int, Field(ge=0)] | None = None
    max_count: Annotated[int, Field(ge=0)] | None = None
    min_weight: Annotated[int, Field(ge=0)] | None = None
    min_signal_weight: Annotated[int, Field(ge=1, le=3)] | None = None
    min_leefgebieden: Annotated[int, Field(ge=0)] | None = None


class Condition(Strict):
    """The small rule vocabulary of FORMAT.md; every condition that is set must hold."""

    always: bool | None = None
    any_red_flag: bool | None = None
    red_flags_any: list[Id] | None = None
    signals_any: list[Id] | None = None
    concern: list[ConcernLevel] | None = None
    min_yes: Annotated[int, Field(ge=0)] | None = None
    max_yes: Annotated[int, Field(ge=0)] | None = None
    min_yes_weight: Annotated[int, Field(ge=0)] | None = None
    min_leefgebieden: Annotated[int, Field(ge=0)] | None = None
    min_signal_weight: Annotated[int, Field(ge=1, le=3)] | None = None
    max_signal_weight: Annotated[int, Field(ge=1, le=3)] | None = None
    min_unknown: Annotated[int, Field(ge=0)] | None = None
    phenomena_any: list[Id] | None = None
    exploitation: KindCondition | None = None
    vulnerability: KindCondition | None = None
    harm: KindCondition | None = None
    age: list[Id] | None = None                     # age groups (minor, adult, unknown) or band ids
    max_known: Annotated[int, Field(ge=0)] | None = None   # signals answered ja or nee


class ConcernRule(Strict):
    level: ConcernLevel
    when: Condition
    explanation: Text


class AdviceRule(Strict):
    id: Id
    when: Condition
    why: Text
    contacts: list[Id] = []
    steps: list[Text] = []


class QuickScan(Strict):
    """The quick scan for school staff: one acute-danger gate, then the `quick: true` signals."""

    gate: RedFlag
    intro: Text
    steps: list[Text] = []
    contacts: list[Id] = []


class Expected(Strict):
    signal: Id
    answer: Literal["yes", "no", "unknown"]
    reason: Text

    @field_validator("answer", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: object) -> object:
        """YAML 1.1 reads a bare yes/no as a boolean; an expert writing `answer: yes` means "yes"."""
        return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


class Vignette(Strict):
    """A fictional training case with the answers an experienced professional would give."""

    id: Id
    title: Text
    text: Text
    concern: ConcernLevel
    exploitation: bool
    age: Id | None = None               # the age band the text describes
    phenomena: list[Id] = []
    expected: Annotated[list[Expected], Field(min_length=1)]


class LensDocument(Strict):
    """One YAML file, or the merged content of a whole lens folder."""

    lens: LensMeta | None = None
    phenomena: list[Phenomenon] = []
    viewers: list[Viewer] = []
    leefgebieden: list[Leefgebied] = []
    red_flags: list[RedFlag] = []
    contacts: list[Contact] = []
    concern: list[ConcernRule] = []
    advice: list[AdviceRule] = []
    quick_scan: QuickScan | None = None
    age: AgeQuestion | None = None
    vignettes: list[Vignette] = []


class ContactsDocument(Strict):
    """An operator's file of local contacts (LENSBOT_CONTACTS)."""

    contacts: list[Contact] = []
