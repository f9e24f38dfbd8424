"""Reports of a user's own cases (picture, PDF, JSON, CSV) and the admin's local picture.

Every report passes the same ownership check as the dialog (a user only ever sees their own
cases) and is written to the audit log without any content.
"""

from __future__ import annotations

from typing import Literal

from dialogs.output import Block
from dialogs.reports.export import case_json, case_rows, cases_csv
from dialogs.reports.model import CaseInfo
from dialogs.service import CaseView, IntakeService, actor
from dialogs.stats import local_picture, stats_blocks, stats_csv, stats_json
from storage.records import audit, read_counts
from storage.repo import UserRow

ReportFormat = Literal["png", "pdf", "json", "csv"]
StatsFormat = Literal["text", "json", "csv", "png"]


def case_info(view: CaseView) -> CaseInfo:
    c = view.case
    return CaseInfo(code=c.code, mode=c.mode, lens_version=c.lens_version, created_at=c.created_at,
                    updated_at=c.updated_at, completed_at=c.completed_at)


class Reports:
    def __init__(self, service: IntakeService) -> None:
        self.service = service
        self.store = service.store

    def case_report(self, user: UserRow, code: str, fmt: ReportFormat, lang: str) -> bytes | None:
        """The report of one of the user's own cases; None when there is no such case for them."""
        view = self.service.view(user, code)
        if view is None:
            return None
        info = case_info(view)
        audit(self.store, actor(user), "export" if fmt in ("json", "csv") else "report", info.code, fmt)
        if fmt == "png":
            from dialogs.reports.picture import lens_picture

            return lens_picture(view.lens, view.assessment(), info, lang)
        if fmt == "pdf":
            from dialogs.reports.pdf import dossier_pdf

            return dossier_pdf(view.lens, view.assessment(), info, self.store.notes(view.case.id), lang)
        if fmt == "json":
            return case_json(view.lens, info, view.case.status, view.answers, self.store.notes(view.case.id),
                             lang).encode()
        return cases_csv(case_rows(view.lens, info, view.case.status, view.answers)).encode()

    def export_all(self, user: UserRow) -> bytes:
        """All of the user's real cases as one CSV (training cases are not dossier material)."""
        rows: list[list[str]] = []
        cases = self.store.list_cases(user.id)
        for summary in cases:
            view = self.service.view(user, summary.code)
            if view is not None:
                rows += case_rows(view.lens, case_info(view), view.case.status, view.answers)
        audit(self.store, actor(user), "export", None, f"all cases ({len(cases)})")
        return cases_csv(rows).encode()

    def stats(self, fmt: StatsFormat, lang: str, since: str | None = None, until: str | None = None,
              who: str = "console") -> bytes | list[Block]:
        lens = self.service.lens
        # ids that left the lens are named in the words of the stored version they were counted under
        pic = local_picture(read_counts(self.store, since, until), since, until,
                            lenses=lambda version: self.service.dialog_for(version).lens)
        audit(self.store, who, "stats", None, f"{since or ''}..{until or ''} {fmt}")
        if fmt == "text":
            return stats_blocks(lens, pic, lang)
        if fmt == "json":
            return stats_json(lens, pic).encode()
        if fmt == "csv":
            return stats_csv(lens, pic).encode()
        from dialogs.reports.chart import stats_chart

        return stats_chart(lens, pic, lang)
