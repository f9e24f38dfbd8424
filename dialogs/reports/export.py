"""Cases as JSON and CSV, for the professional's own dossier.

One CSV row per answered question, then one per signal never asked (answer `not_asked`, which is
not "unknown" and not "no"), with the case's columns repeated, so a spreadsheet can filter and count
without joins; the JSON holds the case, its answers, notes and the assessment.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from dialogs.reports.model import CaseInfo
from matrix.export import view_dict
from matrix.lens import Lens
from matrix.scoring import assess
from matrix.view import AssessmentView

CSV_COLUMNS = ("case", "mode", "status", "lens_version", "created", "updated", "concern", "question", "kind",
               "signal_kind", "leefgebied", "indicator", "answer")
NOT_ASKED = "not_asked"   # a signal this case never asked: not the same as "unknown" (weet ik niet) or "no"


def case_json(lens: Lens, info: CaseInfo, status: str, answers: dict[str, str], notes: list[str],
              lang: str) -> str:
    return view_json(AssessmentView.of(lens, assess(lens, answers), answers), info, status, notes, lang)


def view_json(view: AssessmentView, info: CaseInfo, status: str, notes: list[str], lang: str) -> str:
    """`case_json` of a composed assessment (built with the case's answers)."""
    answered = [i for i in view.answer_order if i in view.answers]
    data: dict[str, Any] = {
        "case": info.code, "mode": info.mode, "status": status, "lens_version": info.lens_version,
        "created": info.created_at.isoformat(timespec="seconds"),
        "updated": info.updated_at.isoformat(timespec="seconds"),
        "completed": info.completed_at.isoformat(timespec="seconds") if info.completed_at else None,
        "answers": {k: view.answers[k] for k in answered},
        "notes": notes,
        "assessment": view_dict(view, lang),
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


def case_rows(lens: Lens, info: CaseInfo, status: str, answers: dict[str, str]) -> list[list[str]]:
    """Every answered question, then every signal never asked (answer `not_asked`)."""
    return view_rows(AssessmentView.of(lens, assess(lens, answers), answers), info, status)


def view_rows(view: AssessmentView, info: CaseInfo, status: str) -> list[list[str]]:
    """`case_rows` of a composed assessment (built with the case's answers)."""
    rows = []
    lens = view.lens
    for item in view.answer_order:
        signal = view.signals.get(item)
        indicator = signal.indicator if signal else ""
        rows.append([info.code, info.mode, status, info.lens_version, info.created_at.isoformat(timespec="seconds"),
                     info.updated_at.isoformat(timespec="seconds"), view.concern, item, view.item_kind(item),
                     signal.kind if signal else "", lens.indicator_leefgebied.get(indicator, ""), indicator,
                     view.answers.get(item, NOT_ASKED)])
    return rows


def cases_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()
