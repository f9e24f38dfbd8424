"""An assessment as plain JSON-ready data (for `lensbot assess --format json` and exports).

It renders the same `AssessmentView` as the chat summary and the PDF, so order, grouping and the
kind of each signal are the same in every output.
"""

from __future__ import annotations

from typing import Any

from matrix.lens import Lens
from matrix.scoring import Assessment
from matrix.view import KIND_ORDER, AssessmentView


def assessment_dict(lens: Lens, result: Assessment, lang: str) -> dict[str, Any]:
    return view_dict(AssessmentView.of(lens, result), lang)


def view_dict(view: AssessmentView, lang: str) -> dict[str, Any]:
    """`assessment_dict` of a composed assessment."""
    lens = view.lens
    return {
        "lens_version": view.lens_version,
        "concern": view.concern,
        "concern_explanation": view.say(view.concern_explanation, lang),
        "age_group": view.age_group,
        "age_band": view.age_band,
        "signals_by_kind": {kind: [s.id for s in view.of_kind(kind)] for kind in KIND_ORDER},
        "red_flags": [rf.id for rf in view.red_flags],
        "spread": list(view.spread),
        "leefgebieden": [
            {"id": lg.id, "name": lg.name.get(lang), "status": lg.status, "weight": lg.weight,
             "yes": lg.yes, "no": lg.no, "unknown": lg.unknown, "not_asked": lg.not_asked,
             "triggered": list(lg.triggered)}
            for lg in view.leefgebieden
        ],
        "indicators": [
            {"id": i.id, "name": i.name.get(lang), "leefgebied": i.leefgebied, "weight": i.weight,
             "signals": [s.id for s in i.yes], "kinds": [s.kind for s in i.yes]}
            for i in view.triggered
        ],
        "signals_yes": [s.id for s in view.yes],
        "unknown": [
            {"indicator": u.indicator.id, "leefgebied": u.indicator.leefgebied, "signals": [s.id for s in u.signals],
             "dont_know": list(u.dont_know), "not_asked": list(u.not_asked), "priority": u.priority,
             "seen_by": [{"id": v.id, "name": v.name.get(lang)} for v in u.seen_by]}
            for u in view.open_questions
        ],
        "phenomena": [{"id": p.id, "name": p.name.get(lang), "weight": p.weight, "signals": [s.id for s in p.signals]}
                      for p in view.phenomena],
        "advice": [
            {"id": a.contact.id, "name": a.contact.name.get(lang), "phone": a.contact.phone,
             "website": a.contact.website, "why": view.say(a.why, lang), "rule": a.rule}
            for a in view.advice
        ],
        "rules": list(view.result.rules),
        "steps": [view.say(step, lang) for step in view.steps],
        "answered": view.answered,
        "total_weight": view.result.total_weight,
        "disclaimer": lens.meta.disclaimer.get(lang),
    }
