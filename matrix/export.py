"""An assessment as plain JSON-ready data (for `lensbot assess --format json` and exports)."""

from __future__ import annotations

from typing import Any

from matrix.lens import Lens
from matrix.scoring import Assessment


def assessment_dict(lens: Lens, result: Assessment, lang: str) -> dict[str, Any]:
    def name(obj: Any) -> str:
        return obj.name.get(lang)

    def say(text: Any) -> str:
        return lens.say(text, lang, result.age_band, result.age_group)

    steps = list(dict.fromkeys(say(s) for rule in lens.advice_rules if rule.id in result.rules for s in rule.steps))
    return {
        "lens_version": result.lens_version,
        "concern": result.concern,
        "concern_explanation": say(result.concern_explanation),
        "age_group": result.age_group,
        "age_band": result.age_band,
        "signals_by_kind": {kind: list(result.of_kind(kind)) for kind in ("exploitation", "harm", "vulnerability")},
        "red_flags": list(result.red_flags),
        "spread": list(result.spread),
        "leefgebieden": [
            {"id": lg.id, "name": name(lens.leefgebied_by_id[lg.id]), "status": lg.status, "weight": lg.weight,
             "yes": lg.yes, "no": lg.no, "unknown": lg.unknown, "not_asked": lg.not_asked,
             "triggered": list(lg.triggered)}
            for lg in result.leefgebieden
        ],
        "indicators": [
            {"id": i.id, "name": name(lens.indicators[i.id]), "leefgebied": i.leefgebied, "weight": i.weight,
             "signals": list(i.signals), "kinds": [lens.signals[s].kind for s in i.signals]}
            for i in result.triggered
        ],
        "signals_yes": list(result.yes),
        "unknown": [
            {"indicator": u.indicator, "leefgebied": u.leefgebied, "signals": list(u.signals),
             "dont_know": list(u.dont_know), "not_asked": list(u.not_asked), "priority": u.priority,
             "seen_by": [{"id": v, "name": name(lens.viewers[v])} for v in u.seen_by]}
            for u in result.unknown
        ],
        "phenomena": [{"id": p.id, "name": name(lens.phenomena[p.id]), "weight": p.weight, "signals": list(p.signals)}
                      for p in result.phenomena_detail],
        "advice": [
            {"id": a.contact, "name": name(lens.contacts[a.contact]), "phone": lens.contacts[a.contact].phone,
             "website": lens.contacts[a.contact].website, "why": say(a.why), "rule": a.rule}
            for a in result.advice
        ],
        "rules": list(result.rules),
        "steps": steps,
        "answered": result.answered,
        "total_weight": result.total_weight,
        "disclaimer": lens.meta.disclaimer.get(lang),
    }
