"""Use cases that hand a channel a file or a picture: a case's report in any format, the export
of all of a user's cases, and the local picture. Each returns a `File` (name, MIME type, bytes),
or blocks for the text form of the local picture; the format table is in dialogs/reports/service.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from dialogs.access import is_operator
from dialogs.app.admin import actor_of
from dialogs.app.errors import BadInput, shielded
from dialogs.counts import Period
from dialogs.output import Block
from dialogs.reports.service import CASE_FORMATS, STATS_FORMATS, STATS_TEXT, File, Reports
from storage.repo import UserRow

CASE_FORMAT_NAMES = tuple(CASE_FORMATS)
STATS_FORMAT_NAMES = (STATS_TEXT, *STATS_FORMATS)


def closed_period(value: str | None, today: date | None = None) -> Period:
    """The period of the local picture: a month (2026-01) or quarter (2026-Q1) that has ended;
    without a value the last quarter that has ended. Open or arbitrary windows are refused: they
    would let two pictures be subtracted (dialogs/counts.py)."""
    today = today or datetime.now(UTC).date()
    last = f"{Period.last_closed_month(today).label} or {Period.last_closed_quarter(today).label}"
    if value is None:
        return Period.last_closed_quarter(today)
    try:
        period = Period.parse(value)
    except ValueError:
        raise BadInput(f"'{value}' is not a period: use a month (YYYY-MM) or a quarter (YYYY-Qn), "
                       f"for example {last}") from None
    if not period.closed(today):
        raise BadInput(f"{period.label} has not ended yet: the local picture is published only for months "
                       f"and quarters that have ended (the latest: {last})")
    return period


class CaseReports:
    def __init__(self, reports: Reports) -> None:
        self.reports = reports

    def case(self, user: UserRow, code: str, fmt: str, lang: str) -> File | None:
        """One of the user's own cases as `fmt` (png, pdf, json, csv); None when it is not theirs."""
        return self.reports.case_file(user, code, fmt, lang)

    @shielded
    def export(self, user: UserRow) -> File | None:
        """All of the user's real cases as CSV; None when they have none."""
        if not self.reports.store.list_cases(user.id):
            return None
        return self.reports.export_file(user)

    @shielded
    def local_picture(self, user: UserRow | None, fmt: str, lang: str, period: str | None = None
                      ) -> File | list[Block]:
        """The local picture of a closed month or quarter (`closed_period`; default the last
        quarter that ended); counts below 5 or from fewer than 3 professionals are shown as <5."""
        checked = None if user is None or is_operator(user) else user   # a chat user must be admin, as stored now
        return self.reports.stats_result(fmt, lang, closed_period(period), who=actor_of(user), user=checked)
