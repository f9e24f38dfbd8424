"""CSV for a spreadsheet as Dutch Excel opens it: `;` between fields (the comma is the Dutch decimal
sign), a UTF-8 byte order mark (or Excel reads "Financiën" as "FinanciÃ«n"), CRLF line ends, a header
and values in words ("Wonen & Financiën", "weet ik niet", "niet gevraagd"), times in
Europe/Amsterdam. Ids stay in columns of their own at the end, so the sheet can still be joined.

The plain CSV for programs (commas, ids only, UTC) is `dialogs/reports/export.py`; the format table
in `dialogs/reports/service.py` names them `csv` (this one) and `csv-plain`.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from dialogs.counts import LocalPicture
from dialogs.labels import LensLabels
from dialogs.reports.export import NOT_ASKED
from dialogs.reports.model import CaseInfo
from dialogs.texts import Catalog, dialog_texts
from matrix.lens import Lens
from matrix.scoring import assess
from matrix.view import AssessmentView

BOM = "\ufeff"
LOCAL_ZONE = ZoneInfo("Europe/Amsterdam")
CASE_COLUMNS = ("case", "mode", "status", "lens_version", "created", "updated", "concern", "leefgebied",
                "indicator", "question", "kind", "signal_kind", "answer")
CASE_ID_COLUMNS = ("question_id", "leefgebied_id", "indicator_id", "answer_id", "concern_id")
STATS_COLUMNS = ("period", "section", "name", "count")
STATS_ID_COLUMNS = ("section_id", "id")


@cache
def excel_texts() -> Catalog:
    return Catalog.load(Path(__file__).with_name("excel.yaml"))


def sheet(header: list[str], rows: list[list[str]]) -> bytes:
    """The bytes Excel opens with a double click: BOM, semicolons, CRLF, every field quoted as needed."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (BOM + out.getvalue()).encode("utf-8")


def local_time(at: datetime) -> str:
    """A stored time (UTC) as Excel reads a date and time: 2026-12-07 14:05, in Europe/Amsterdam."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")


def case_sheet(lens: Lens, info: CaseInfo, status: str, answers: dict[str, str], lang: str) -> bytes:
    """One case: every answered question, then every signal never asked, in words, ids at the end."""
    return view_sheet(AssessmentView.of(lens, assess(lens, answers), answers), info, status, lang)


def view_sheet(view: AssessmentView, info: CaseInfo, status: str, lang: str) -> bytes:
    t = excel_texts()
    lens = view.lens
    header = [t(f"col.{c}", lang) for c in CASE_COLUMNS] + list(CASE_ID_COLUMNS)
    concern = dialog_texts()(f"concern.{view.concern}", lang)
    rows = []
    for item in view.answer_order:
        signal = view.signals.get(item)
        indicator = signal.indicator if signal else ""
        leefgebied = lens.indicator_leefgebied.get(indicator, "")
        answer = view.answers.get(item, NOT_ASKED)
        kind = view.item_kind(item)
        rows.append([
            info.code, t(f"mode.{info.mode}", lang), t(f"status.{status}", lang), info.lens_version,
            local_time(info.created_at), local_time(info.updated_at), concern,
            lens.leefgebied_by_id[leefgebied].name.get(lang) if leefgebied else "",
            lens.indicators[indicator].name.get(lang) if indicator else "",
            view.say(lens.question_text(item), lang), t(f"kind.{kind}", lang),
            t(f"signal_kind.{signal.kind}", lang) if signal else "",
            answer_words(lens, answer, lang, kind == "age"),
            item, leefgebied, indicator, answer, view.concern,
        ])
    return sheet(header, rows)


def answer_words(lens: Lens, answer: str, lang: str, age: bool = False) -> str:
    """ja / nee / weet ik niet / niet gevraagd, or the age band as the question offered it."""
    band = lens.age_bands.get(answer) if age else None
    if band is not None:
        return band.label.get(lang)
    key = f"answer.{answer}"
    return excel_texts()(key, lang) if key in excel_texts().keys() else answer  # noqa: SIM118 - Catalog has no __contains__


def stats_sheet(lens: Lens, pic: LocalPicture, data: dict, lang: str) -> bytes:  # type: ignore[type-arg]
    """The local picture (`dialogs/stats.py` stats_dict: already suppressed) in words: one row per count."""
    t = excel_texts()
    labels = LensLabels.of(lens, pic.lenses)
    period = pic.period or ""
    names = {"leefgebieden": labels.leefgebied, "indicators": labels.indicator, "signals_yes": labels.question,
             "signals_unknown": labels.question, "phenomena": labels.phenomenon}
    rows = [[period, t("section.completed_cases", lang), "", data["completed_cases"], "completed_cases", ""]]
    rows += [[period, t("section.lens_versions", lang), r["version"], r["count"], "lens_versions", r["version"]]
             for r in data["lens_versions"]]
    rows += [[period, t("section.per_month", lang), r["month"], r["count"], "per_month", r["month"]]
             for r in data["per_month"]]
    for section, name in names.items():
        rows += [[period, t(f"section.{section}", lang), name(r["id"], lang), r["count"], section, r["id"]]
                 for r in data[section]]
    rows += [[period, t("section.concern", lang), dialog_texts()(f"concern.{level}", lang), count, "concern", level]
             for level, count in data["concern"].items()]
    return sheet([t(f"col.{c}", lang) for c in STATS_COLUMNS] + list(STATS_ID_COLUMNS), rows)
