"""An assessment as plain JSON-ready data (for `lensbot assess --format json` and exports)."""

from __future__ import annotations

from typing import Any

from matrix.lens import Lens
from matrix.scoring import Assessment


def assessment_dict(lens: Lens, result: Assessment, lang: str) -> dict[str, Any]:
    def name(obj: Any) -> str:
        return obj.name.get(lang)

    steps = [s.get(lang) for rule in lens.advice_rules if rule.id in result.rules for s in rule.steps]
    return {
        "lens_version": result.lens_version,
        "concern": result.concern,
        "concern_explanation": result.concern_explanation.get(lang),
        "red_flags": list(result.red_flags),
        "spread": list(result.spread),
        "leefgebieden": [
            {"id": lg.id, "name": name(lens.leefgebied_by_id[lg.id]), "status": lg.status, "weight": lg.weight,
             "yes": lg.yes, "no": lg.no, "unknown": lg.unknown, "triggered": list(lg.triggered)}
            for lg in result.leefgebieden
        ],
        "indicators": [
            {"id": i.id, "name": name(lens.indicators[i.id]), "leefgebied": i.leefgebied, "weight": i.weight,
             "signals": list(i.signals)}
            for i in result.triggered
        ],
        "signals_yes": list(result.yes),
        "unknown": [
            {"indicator": u.indicator, "leefgebied": u.leefgebied, "signals": list(u.signals),
             "seen_by": [{"id": v, "name": name(lens.viewers[v])} for v in u.seen_by]}
            for u in result.unknown
        ],
        "phenomena": [{"id": p, "name": name(lens.phenomena[p]), "weight": w} for p, w in result.phenomena],
        "advice": [
            {"id": a.contact, "name": name(lens.contacts[a.contact]), "phone": lens.contacts[a.contact].phone,
             "website": lens.contacts[a.contact].website, "why": a.why.get(lang), "rule": a.rule}
            for a in result.advice
        ],
        "rules": list(result.rules),
        "steps": steps,
        "answered": result.answered,
        "total_weight": result.total_weight,
        "disclaimer": lens.meta.disclaimer.get(lang),
    }
