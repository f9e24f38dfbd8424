"""Reports of a user's own cases (picture, PDF, JSON, CSV) and the admin's local picture.

Every report passes the same ownership check as the dialog (a user only ever sees their own
cases) and is written to the audit log without any content. Each format is one row of a table
(`CASE_FORMATS`, `STATS_FORMATS`): how to render it, the file's name, its MIME type, and whether
it is binary. A new format is one row and its renderer; channels and the CLI read the row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from dialogs.access import confirm
from dialogs.combined import case_lines, history_lines
from dialogs.counts import Period
from dialogs.domain import Action
from dialogs.output import Block, Line
from dialogs.reports.excel import case_sheet, stats_sheet
from dialogs.reports.export import case_json, case_rows, cases_csv
from dialogs.reports.model import CaseInfo, LocalPicture
from dialogs.service import CaseView, IntakeService, actor
from dialogs.stats import local_picture, stats_blocks, stats_csv, stats_dict, stats_json
from matrix.lens import Lens
from storage.records import read_counts, seal_closed_months
from storage.repo import UserRow, now

ReportFormat = Literal["png", "pdf", "json", "csv", "csv-plain"]
StatsFormat = Literal["text", "json", "csv", "csv-plain", "png"]
Monthly = Callable[[], "tuple[LocalPicture, ...]"]   # the period's months, each sealed as its own published month


@dataclass(frozen=True)
class File:
    """A rendered file for a channel: what to call it, what it is, and its bytes."""

    name: str
    mime: str
    data: bytes
    binary: bool

    @property
    def picture(self) -> bool:
        """An image a chat shows inline (a photo) rather than as a document."""
        return self.mime.startswith("image/")


# -- case reports --------------------------------------------------------------------------------
def _png(view: CaseView, notes: Callable[[], list[str]], lang: str) -> bytes:
    from dialogs.reports.picture import lens_picture  # Pillow: imported on first use

    return lens_picture(view.lens, view.assessment(), case_info(view), lang)


def _pdf(view: CaseView, notes: Callable[[], list[str]], lang: str) -> bytes:
    from dialogs.reports.pdf import dossier_pdf  # reportlab: imported on first use

    return dossier_pdf(view.lens, view.assessment(), case_info(view), notes(), lang, shared_lines(view, lang))


def shared_lines(view: CaseView, lang: str) -> list[Line]:
    """The combined picture (when colleagues were asked) and the history of later changes (issue 13)."""
    lines = case_lines(view.lens, view.answers, list(view.shared), lang) if view.shared else []
    if view.history:
        lines += history_lines([(c.item_id, c.old, c.new, c.by_role, c.at) for c in view.history], view.lens, lang)
    return lines


def _json(view: CaseView, notes: Callable[[], list[str]], lang: str) -> bytes:
    return case_json(view.lens, case_info(view), view.case.status, view.answers, notes(), lang).encode()


def _csv(view: CaseView, notes: Callable[[], list[str]], lang: str) -> bytes:
    """For Dutch Excel: semicolons, a BOM, words, local times; ids in columns of their own."""
    return case_sheet(view.lens, case_info(view), view.case.status, view.answers, lang)


def _csv_plain(view: CaseView, notes: Callable[[], list[str]], lang: str) -> bytes:
    """For programs: commas, ids, UTC (the columns of CSV_COLUMNS)."""
    return cases_csv(case_rows(view.lens, case_info(view), view.case.status, view.answers)).encode()


@dataclass(frozen=True)
class CaseFormat:
    render: Callable[[CaseView, Callable[[], list[str]], str], bytes]
    name: str          # file name; {code} is the case code
    mime: str
    binary: bool
    audit: str         # the audit action: "report" (a rendering) or "export" (the data)


CASE_FORMATS: dict[str, CaseFormat] = {
    "png": CaseFormat(_png, "lens-{code}.png", "image/png", True, "report"),
    "pdf": CaseFormat(_pdf, "lensbot-{code}.pdf", "application/pdf", True, "report"),
    "json": CaseFormat(_json, "lensbot-{code}.json", "application/json", False, "export"),
    "csv": CaseFormat(_csv, "lensbot-{code}.csv", "text/csv", False, "export"),              # Excel (NL)
    "csv-plain": CaseFormat(_csv_plain, "lensbot-{code}-plain.csv", "text/csv", False, "export"),   # programs
}
EXPORT_ALL = ("lensbot-cases.csv", "text/csv")


# -- the local picture ---------------------------------------------------------------------------
def _stats_png(lens: Lens, pic: LocalPicture, lang: str, monthly: Monthly) -> bytes:
    from dialogs.reports.timeline import stats_timeline  # Pillow: imported on first use

    return stats_timeline(lens, pic, monthly(), lang)


@dataclass(frozen=True)
class StatsFileFormat:
    render: Callable[[Lens, LocalPicture, str, Monthly], bytes]
    name: str
    mime: str
    binary: bool


STATS_FORMATS: dict[str, StatsFileFormat] = {
    "json": StatsFileFormat(lambda lens, pic, lang, monthly: stats_json(lens, pic).encode(), "lokaal-beeld.json",
                            "application/json", False),
    "csv": StatsFileFormat(lambda lens, pic, lang, monthly: stats_sheet(lens, pic, stats_dict(lens, pic), lang),
                           "lokaal-beeld.csv", "text/csv", False),   # Excel (NL)
    "csv-plain": StatsFileFormat(lambda lens, pic, lang, monthly: stats_csv(lens, pic).encode(),
                                 "lokaal-beeld-plain.csv", "text/csv", False),
    "png": StatsFileFormat(_stats_png, "lokaal-beeld.png", "image/png", True),
}
STATS_TEXT = "text"   # not a file: blocks each channel renders in its own way


def case_info(view: CaseView) -> CaseInfo:
    c = view.case
    return CaseInfo(code=c.code, mode=c.mode, lens_version=c.lens_version, created_at=c.created_at,
                    updated_at=c.updated_at, completed_at=c.completed_at)


class Reports:
    def __init__(self, service: IntakeService, organisation: str | None = None) -> None:
        self.service = service
        self.store = service.store
        self.organisation = organisation   # LENSBOT_ORGANISATION, named on a dossier beside the author's role

    def case_file(self, user: UserRow, code: str, fmt: str, lang: str) -> File | None:
        """The report of one of the user's own cases; None when there is no such case for them."""
        form = CASE_FORMATS[fmt]
        view = self.service.view(user, code, audit=(form.audit, fmt))   # read and audited in one transaction
        if view is None:
            return None
        if fmt == "pdf":   # the dossier names its author and dates its notes (issue 15)
            data = self._dossier(view, user, lang)
        else:
            data = form.render(view, lambda: self.store.notes(view.case.id), lang)
        name = form.name.format(code=view.case.code)
        if view.case.mode == "training":   # fiction stays fiction: the file name says so too (issue 14)
            name = f"oefencasus-{name}"
        return File(name, form.mime, data, form.binary)

    def _dossier(self, view: CaseView, user: UserRow, lang: str) -> bytes:
        from dialogs.reports.pdf import dossier_pdf  # reportlab: imported on first use

        info = replace(case_info(view), author_role=user.role, organisation=self.organisation)
        return dossier_pdf(view.lens, view.assessment(), info, self.store.dated_notes(view.case.id), lang,
                           shared_lines(view, lang))

    def case_report(self, user: UserRow, code: str, fmt: ReportFormat, lang: str) -> bytes | None:
        """The bytes of case_file()."""
        file = self.case_file(user, code, fmt, lang)
        return None if file is None else file.data

    def export_file(self, user: UserRow) -> File:
        """All of the user's real cases as one CSV (training cases are not dossier material)."""
        with self.store.transaction() as tx:   # the role as stored now, the read and its audit row together
            confirm(tx, user, Action.CASES)
            cases = tx.list_cases(user.id)
            found = [self.service.load_in(tx, user, summary.code) for summary in cases]
            tx.audit(actor(user), "export", None, f"all cases ({len(cases)})")
        rows: list[list[str]] = []
        for case, answers in filter(None, found):
            view = CaseView(case, self.service.dialog_for(case.lens_version).lens, answers)
            rows += case_rows(view.lens, case_info(view), view.case.status, view.answers)
        return File(*EXPORT_ALL, cases_csv(rows).encode(), False)

    def export_all(self, user: UserRow) -> bytes:
        return self.export_file(user).data

    def stats_result(self, fmt: str, lang: str, period: Period, who: str = "console",
                     user: UserRow | None = None) -> File | list[Block]:
        """The local picture of a closed period as blocks (`text`) or as a file of STATS_FORMATS.

        The audit row comes first, in a transaction that confirms `user`'s role as stored now:
        no audit row (or no admin any more), nothing is read."""
        with self.store.transaction() as tx:
            if user is not None:
                confirm(tx, user, Action.INVITE)
            tx.audit(who, "stats", None, f"{period.label} {fmt}")
        lens = self.service.lens
        seal_closed_months(self.store, f"{now():%Y-%m}")
        rows = read_counts(self.store, period.months[0], period.months[-1])
        # ids that left the lens are named in the words of the stored version they were counted under
        versions = lambda version: self.service.dialog_for(version).lens  # noqa: E731
        pic = local_picture(rows, period, lenses=versions)
        if fmt == STATS_TEXT:
            return stats_blocks(lens, pic, lang)
        form = STATS_FORMATS[fmt]

        def monthly() -> tuple[LocalPicture, ...]:   # each month exactly as `stats --period YYYY-MM` publishes it
            return tuple(local_picture(rows, Period.parse(month), lenses=versions) for month in period.months)
        return File(form.name, form.mime, form.render(lens, pic, lang, monthly), form.binary)

    def stats(self, fmt: StatsFormat, lang: str, period: Period, who: str = "console") -> bytes | list[Block]:
        result = self.stats_result(fmt, lang, period, who)
        return result.data if isinstance(result, File) else result
