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
from matrix.export import assessment_dict
from matrix.lens import Lens
from matrix.scoring import assess

CSV_COLUMNS = ("case", "mode", "status", "lens_version", "created", "updated", "concern", "question", "kind",
               "signal_kind", "leefgebied", "indicator", "answer")
NOT_ASKED = "not_asked"   # a signal this case never asked: not the same as "unknown" (weet ik niet) or "no"


def case_json(lens: Lens, info: CaseInfo, status: str, answers: dict[str, str], notes: list[str],
              lang: str) -> str:
    data: dict[str, Any] = {
        "case": info.code, "mode": info.mode, "status": status, "lens_version": info.lens_version,
        "created": info.created_at.isoformat(timespec="seconds"),
        "updated": info.updated_at.isoformat(timespec="seconds"),
        "completed": info.completed_at.isoformat(timespec="seconds") if info.completed_at else None,
        "answers": {k: answers[k] for k in sorted(answers, key=lambda i: lens.question_index.get(i, 10**6))},
        "notes": notes,
        "assessment": assessment_dict(lens, assess(lens, answers), lang),
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


def case_rows(lens: Lens, info: CaseInfo, status: str, answers: dict[str, str]) -> list[list[str]]:
    """Every answered question, then every signal never asked (answer `not_asked`)."""
    concern = assess(lens, answers).concern
    rows = []
    items = sorted(answers, key=lambda i: lens.question_index.get(i, 10**6))
    items += [s for s in lens.signals if s not in answers]
    for item in items:
        indicator = lens.signal_indicator.get(item, "")
        kind = "signal" if item in lens.signals else "age" if item == lens.age_item else "red_flag"
        signal_kind = (lens.signals[item].kind or "") if item in lens.signals else ""
        rows.append([info.code, info.mode, status, info.lens_version, info.created_at.isoformat(timespec="seconds"),
                     info.updated_at.isoformat(timespec="seconds"), concern, item, kind, signal_kind,
                     lens.indicator_leefgebied.get(indicator, ""), indicator, answers.get(item, NOT_ASKED)])
    return rows


def cases_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return out.getvalue()
