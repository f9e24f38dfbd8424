"""Use cases that hand a channel a file or a picture: a case's report in any format, the export
of all of a user's cases, and the local picture. Each returns a `File` (name, MIME type, bytes),
or blocks for the text form of the local picture; the format table is in dialogs/reports/service.py.
"""

from __future__ import annotations

import re

from dialogs.access import is_operator
from dialogs.app.admin import actor_of
from dialogs.app.errors import BadInput, shielded
from dialogs.output import Block
from dialogs.reports.service import CASE_FORMATS, STATS_FORMATS, STATS_TEXT, File, Reports
from storage.repo import UserRow

CASE_FORMAT_NAMES = tuple(CASE_FORMATS)
STATS_FORMAT_NAMES = (STATS_TEXT, *STATS_FORMATS)


def month(value: str | None) -> str | None:
    """A month bound of the local picture: YYYY-MM or YYYY-MM-DD (the day is ignored)."""
    if value is None:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value):
        raise BadInput(f"'{value}' is not a date (use YYYY-MM or YYYY-MM-DD)")
    return value[:7]


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
    def local_picture(self, user: UserRow | None, fmt: str, lang: str, since: str | None = None,
                      until: str | None = None) -> File | list[Block]:
        """The local picture over completed cases; counts below 5 are shown as <5."""
        checked = None if user is None or is_operator(user) else user   # a chat user must be admin, as stored now
        return self.reports.stats_result(fmt, lang, month(since), month(until), who=actor_of(user), user=checked)
