"""Checks that span files: unique ids and references to ids that exist.

Each file is valid on its own once pydantic accepts it; whether `seen_by: [wijkagent]` names a
viewer defined somewhere in the lens can only be checked over all files together.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from matrix.models import AGE_GROUPS, Condition, ContactsDocument, LensDocument, Text
from matrix.yamlsource import PathKey, Problem, SourceDoc

Doc = LensDocument | ContactsDocument


@dataclass(frozen=True)
class Ref:
    """An id as it appears at one place in one file."""

    ident: str
    source: SourceDoc
    path: PathKey

    def problem(self, message: str) -> Problem:
        return Problem(self.source.file, self.source.line_of(self.path), self.source.label(self.path), message)


def cross_check(docs: list[tuple[SourceDoc, Doc]], lens_path: str,
                invalid: list[SourceDoc] | tuple[SourceDoc, ...] = ()) -> list[Problem]:
    """Problems across files. `invalid`: files already reported as not valid on their own; what they
    define (every `id` in them, every section) counts as there, so that one bad weight is one
    problem and not one more for every reference into that file."""
    problems: list[Problem] = []
    defined = {kind: _defined(docs, kind, problems) for kind in
               ("phenomena", "viewers", "leefgebieden", "indicators", "questions", "contacts", "advice",
                "vignettes")}
    half = set().union(*(_raw_ids(s.data) for s in invalid)) if invalid else set()
    sections = {key for s in invalid if isinstance(s.data, dict) for key in s.data}
    lens_meta = [(s, ("lens",)) for s, d in docs if isinstance(d, LensDocument) and d.lens is not None]
    if not lens_meta and "lens" not in sections:
        problems.append(Problem(lens_path, 1, "lens", "no 'lens' section (id, version, name) found in any file"))
    for source, path in lens_meta[1:]:
        problems.append(Ref("lens", source, path).problem(
            f"second 'lens' section (the first is in {lens_meta[0][0].file})"))
    quick = [(s, d) for s, d in docs if isinstance(d, LensDocument) and d.quick_scan is not None]
    for source, _ in quick[1:]:
        problems.append(Ref("quick_scan", source, ("quick_scan",)).problem(
            f"second 'quick_scan' section (the first is in {quick[0][0].file})"))
    problems += _check_quick(docs, lens_path, bool(quick))
    problems += _check_vignettes(docs)
    if not defined["leefgebieden"] and "leefgebieden" not in sections:
        problems.append(Problem(lens_path, 1, "leefgebieden", "the lens defines no leefgebied"))
    problems += _check_orders(docs)
    problems += _check_concern(docs, lens_path)
    problems += _check_kinds(docs)
    problems += _check_texts(docs)
    problems += _check_ages(docs)
    targets = {"phenomena": "phenomenon", "viewers": "viewer", "contacts": "contact",
               "questions": "signal or red flag", "advice": "advice rule"}
    for kind, ref in _references(docs):
        if ref.ident not in defined[kind] and ref.ident not in half:
            problems.append(ref.problem(f"unknown {targets[kind]} '{ref.ident}'{_suggest(ref.ident, defined[kind])}"))
    return problems


def _raw_ids(node: object) -> set[str]:
    """Every `id` value anywhere in a file's raw data (it may not have passed validation)."""
    if isinstance(node, dict):
        found = {node["id"]} if isinstance(node.get("id"), str) else set()
        return found.union(*(_raw_ids(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_raw_ids(v) for v in node))
    return set()


def _defined(docs: list[tuple[SourceDoc, Doc]], kind: str, problems: list[Problem]) -> set[str]:
    """Collect the ids of one kind and report duplicates where the second one stands."""
    seen: dict[str, Ref] = {}
    for ref in _definitions(docs, kind):
        first = seen.get(ref.ident)
        if first is not None:
            where = f"{first.source.file}:{first.source.line_of(first.path)}"
            problems.append(ref.problem(f"duplicate id '{ref.ident}' (first defined at {where})"))
        else:
            seen[ref.ident] = ref
    return set(seen)


def _definitions(docs: list[tuple[SourceDoc, Doc]], kind: str) -> Iterator[Ref]:
    for source, doc in docs:
        if kind == "contacts":
            for i, c in enumerate(doc.contacts):
                yield Ref(c.id, source, ("contacts", i, "id"))
        if not isinstance(doc, LensDocument):
            continue
        if kind in ("phenomena", "viewers", "advice"):
            for i, item in enumerate(getattr(doc, kind)):
                yield Ref(item.id, source, (kind, i, "id"))
        elif kind == "leefgebieden":
            for i, lg in enumerate(doc.leefgebieden):
                yield Ref(lg.id, source, ("leefgebieden", i, "id"))
        elif kind == "indicators":
            for i, lg in enumerate(doc.leefgebieden):
                for j, ind in enumerate(lg.indicators):
                    yield Ref(ind.id, source, ("leefgebieden", i, "indicators", j, "id"))
        elif kind == "vignettes":
            for i, v in enumerate(doc.vignettes):
                yield Ref(v.id, source, ("vignettes", i, "id"))
        elif kind == "questions":
            # Signals and red flags share one namespace: answers are keyed by these ids.
            for i, rf in enumerate(doc.red_flags):
                yield Ref(rf.id, source, ("red_flags", i, "id"))
            if doc.quick_scan is not None:
                yield Ref(doc.quick_scan.gate.id, source, ("quick_scan", "gate", "id"))
            for i, lg in enumerate(doc.leefgebieden):
                for j, ind in enumerate(lg.indicators):
                    for k, sig in enumerate(ind.signals):
                        yield Ref(sig.id, source, ("leefgebieden", i, "indicators", j, "signals", k, "id"))


def _references(docs: list[tuple[SourceDoc, Doc]]) -> Iterator[tuple[str, Ref]]:
    for source, doc in docs:
        for i, c in enumerate(doc.contacts):
            for m, target in enumerate(c.attach_to):
                yield "advice", Ref(target, source, ("contacts", i, "attach_to", m))
        if not isinstance(doc, LensDocument):
            continue
        for i, lg in enumerate(doc.leefgebieden):
            for j, ind in enumerate(lg.indicators):
                base = ("leefgebieden", i, "indicators", j)
                for m, viewer in enumerate(ind.seen_by):
                    yield "viewers", Ref(viewer, source, (*base, "seen_by", m))
                for k, sig in enumerate(ind.signals):
                    for m, ph in enumerate(sig.phenomena):
                        yield "phenomena", Ref(ph, source, (*base, "signals", k, "phenomena", m))
        for i, phen in enumerate(doc.phenomena):
            for m, sid in enumerate(phen.evidence.signals if phen.evidence else []):
                yield "questions", Ref(sid, source, ("phenomena", i, "evidence", "signals", m))
        for i, rf in enumerate(doc.red_flags):
            for m, contact in enumerate(rf.contacts):
                yield "contacts", Ref(contact, source, ("red_flags", i, "contacts", m))
        for i, rule in enumerate(doc.advice):
            for m, contact in enumerate(rule.contacts):
                yield "contacts", Ref(contact, source, ("advice", i, "contacts", m))
            yield from _condition_refs(rule.when, source, ("advice", i, "when"))
        for i, crule in enumerate(doc.concern):
            yield from _condition_refs(crule.when, source, ("concern", i, "when"))
        if doc.quick_scan is not None:
            for m, contact in enumerate(doc.quick_scan.gate.contacts):
                yield "contacts", Ref(contact, source, ("quick_scan", "gate", "contacts", m))
            for m, contact in enumerate(doc.quick_scan.contacts):
                yield "contacts", Ref(contact, source, ("quick_scan", "contacts", m))
        for i, v in enumerate(doc.vignettes):
            for m, ph in enumerate(v.phenomena):
                yield "phenomena", Ref(ph, source, ("vignettes", i, "phenomena", m))
            for m, exp in enumerate(v.expected):
                yield "questions", Ref(exp.signal, source, ("vignettes", i, "expected", m, "signal"))


def _condition_refs(cond: Condition, source: SourceDoc, base: PathKey) -> Iterator[tuple[str, Ref]]:
    for key, kind in (("red_flags_any", "questions"), ("signals_any", "questions"), ("phenomena_any", "phenomena")):
        for m, ident in enumerate(getattr(cond, key) or []):
            yield kind, Ref(ident, source, (*base, key, m))


def _check_orders(docs: list[tuple[SourceDoc, Doc]]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[int, str] = {}
    for source, doc in docs:
        if not isinstance(doc, LensDocument):
            continue
        for i, lg in enumerate(doc.leefgebieden):
            if lg.order in seen:
                problems.append(Ref(lg.id, source, ("leefgebieden", i, "order")).problem(
                    f"order {lg.order} is already used by leefgebied '{seen[lg.order]}'"))
            seen.setdefault(lg.order, lg.id)
    return problems


def _check_concern(docs: list[tuple[SourceDoc, Doc]], lens_path: str) -> list[Problem]:
    rules = [(s, i, r) for s, d in docs if isinstance(d, LensDocument) for i, r in enumerate(d.concern)]
    if not rules:
        return [Problem(lens_path, 1, "concern",
                        "no concern rules: add at least one, the last with when: {always: true}")]
    source, i, last = rules[-1]
    if not last.when.always:
        return [Ref(last.level, source, ("concern", i, "when")).problem(
            "the last concern rule must have when: {always: true} so every case gets a level")]
    return []


def _signals(docs: list[tuple[SourceDoc, Doc]]) -> Iterator[tuple[SourceDoc, tuple[str | int, ...], object]]:
    for source, doc in docs:
        if not isinstance(doc, LensDocument):
            continue
        for i, lg in enumerate(doc.leefgebieden):
            for j, ind in enumerate(lg.indicators):
                for k, sig in enumerate(ind.signals):
                    yield source, ("leefgebieden", i, "indicators", j, "signals", k), sig


def _check_kinds(docs: list[tuple[SourceDoc, Doc]]) -> list[Problem]:
    """Every signal says what a "ja" shows; the concern rules and phenomena lean on it.

    A possible_exploitation rule must ask for exploitation signals (or a red flag): vulnerabilities
    alone must never reach it, however many. A phenomenon needs evidence that can be met by
    something other than vulnerabilities.
    """
    problems: list[Problem] = []
    kinds: dict[str, str] = {}
    for source, path, sig in _signals(docs):
        if sig.kind is None:   # type: ignore[attr-defined]
            problems.append(Ref(sig.id, source, (*path, "id")).problem(  # type: ignore[attr-defined]
                "missing 'kind': vulnerability, exploitation or harm"))
        kinds[sig.id] = sig.kind or "vulnerability"   # type: ignore[attr-defined]
    for source, doc in docs:
        if not isinstance(doc, LensDocument):
            continue
        for i, rule in enumerate(doc.concern):
            if rule.level != "possible_exploitation":
                continue
            w, e = rule.when, rule.when.exploitation
            asks_exploitation = e is not None and any((e.min_count, e.min_weight, e.min_signal_weight))
            named = w.signals_any is not None and all(kinds.get(s) == "exploitation" for s in w.signals_any)
            if not (asks_exploitation or named or w.any_red_flag or w.red_flags_any):
                problems.append(Ref(rule.level, source, ("concern", i, "when")).problem(
                    "vulnerabilities alone could meet this possible_exploitation rule: add an 'exploitation' "
                    "condition (min_count, min_weight or min_signal_weight)"))
        for i, phen in enumerate(doc.phenomena):
            where = Ref(phen.id, source, ("phenomena", i, "id"))
            if phen.evidence is None:
                problems.append(where.problem("missing 'evidence': the signals that point to it and how many"))
            elif phen.evidence.signals and all(kinds.get(s) == "vulnerability" for s in phen.evidence.signals
                                               if s in kinds):
                problems.append(where.problem(
                    "its evidence lists only vulnerabilities, so it can never be shown: add exploitation or harm "
                    "signals"))
            elif phen.evidence.min > len(phen.evidence.signals):
                problems.append(Ref(phen.id, source, ("phenomena", i, "evidence", "min")).problem(
                    f"min {phen.evidence.min} is more than the {len(phen.evidence.signals)} signals listed"))
    return problems


PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PERSON_WORDS = {"person", "Person"}


def _check_texts(docs: list[tuple[SourceDoc, Doc]]) -> list[Problem]:
    """Lens texts may hold {person} or {Person}, nothing else in braces (a typo would show raw)."""
    problems: list[Problem] = []

    def check(text: Text | None, source: SourceDoc, path: tuple[str | int, ...]) -> None:
        for lang in ("nl", "en"):
            value = getattr(text, lang, "") if text is not None else ""
            for name in PLACEHOLDER.findall(value):
                if name not in PERSON_WORDS:
                    problems.append(Ref(name, source, (*path, lang)).problem(
                        f"unknown placeholder '{{{name}}}': only {{person}} and {{Person}} are filled in"))

    for source, path, sig in _signals(docs):
        check(sig.question, source, (*path, "question"))  # type: ignore[attr-defined]
    for source, doc in docs:
        for i, c in enumerate(doc.contacts):
            check(c.when, source, ("contacts", i, "when"))
        if not isinstance(doc, LensDocument):
            continue
        for i, rf in enumerate(doc.red_flags):
            check(rf.question, source, ("red_flags", i, "question"))
        for i, crule in enumerate(doc.concern):
            check(crule.explanation, source, ("concern", i, "explanation"))
        for i, adv in enumerate(doc.advice):
            check(adv.why, source, ("advice", i, "why"))
            for m, step in enumerate(adv.steps):
                check(step, source, ("advice", i, "steps", m))
    return problems


def _check_ages(docs: list[tuple[SourceDoc, Doc]]) -> list[Problem]:
    """`age:` in a rule and a vignette's `age` name age groups or bands that exist."""
    bands = {b.id for _, d in docs if isinstance(d, LensDocument) and d.age for b in d.age.bands}
    known = bands | set(AGE_GROUPS)
    problems: list[Problem] = []
    for source, doc in docs:
        if not isinstance(doc, LensDocument):
            continue
        for section in ("concern", "advice"):
            for i, rule in enumerate(getattr(doc, section)):
                for m, age in enumerate(rule.when.age or []):
                    if age not in known:
                        problems.append(Ref(age, source, (section, i, "when", "age", m)).problem(
                            f"unknown age '{age}' (use {', '.join(sorted(known))})"))
        for i, v in enumerate(doc.vignettes):
            if v.age is not None and v.age not in bands:
                problems.append(Ref(v.age, source, ("vignettes", i, "age")).problem(
                    f"unknown age band '{v.age}' (use {', '.join(sorted(bands))})"))
    return problems


MAX_QUICK = 10
VIGNETTE_WORDS = (80, 200)


def _check_quick(docs: list[tuple[SourceDoc, Doc]], lens_path: str, has_section: bool) -> list[Problem]:
    """At most 10 quick signals (12 taps with the age and the gate), one per leefgebied at least, none whole."""
    quick: list[Ref] = []
    problems: list[Problem] = []
    for source, doc in docs:
        if not isinstance(doc, LensDocument):
            continue
        for i, lg in enumerate(doc.leefgebieden):
            marked = [(j, k) for j, ind in enumerate(lg.indicators) for k, s in enumerate(ind.signals) if s.quick]
            total = sum(len(ind.signals) for ind in lg.indicators)
            quick += [Ref(lg.indicators[j].signals[k].id, source,
                          ("leefgebieden", i, "indicators", j, "signals", k, "quick")) for j, k in marked]
            where = Ref(lg.id, source, ("leefgebieden", i, "id"))
            if has_section and not marked:
                problems.append(where.problem("the quick scan needs at least one 'quick: true' signal here"))
            if marked and len(marked) == total:
                problems.append(where.problem("every signal is 'quick: true'; keep at least one for the full intake"))
    if len(quick) > MAX_QUICK:
        problems.append(quick[MAX_QUICK].problem(
            f"{len(quick)} signals are 'quick: true'; at most {MAX_QUICK} fit the 12-tap quick scan"))
    if quick and not has_section:
        problems.append(quick[0].problem("signals are marked 'quick: true' but there is no 'quick_scan' section"))
    return problems


def _check_vignettes(docs: list[tuple[SourceDoc, Doc]]) -> list[Problem]:
    problems: list[Problem] = []
    low, high = VIGNETTE_WORDS
    for source, doc in docs:
        if not isinstance(doc, LensDocument):
            continue
        for i, v in enumerate(doc.vignettes):
            for lang in ("nl", "en"):
                words = len(getattr(v.text, lang).split())
                if not low <= words <= high:
                    problems.append(Ref(v.id, source, ("vignettes", i, "text", lang)).problem(
                        f"the {lang} text has {words} words; write {low}–{high}"))
            seen: set[str] = set()
            for m, exp in enumerate(v.expected):
                if exp.signal in seen:
                    problems.append(Ref(exp.signal, source, ("vignettes", i, "expected", m, "signal")).problem(
                        f"'{exp.signal}' is listed twice in this vignette"))
                seen.add(exp.signal)
    return problems


def _suggest(ident: str, known: set[str]) -> str:
    close = difflib.get_close_matches(ident, sorted(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
