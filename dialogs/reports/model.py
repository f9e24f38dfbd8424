"""Plain data handed to the report renderers (PNG, PDF, charts), so they need no database.

The local picture's data and its suppression live in `dialogs/counts.py` (the text renderer in
`dialogs/stats.py` needs them too, and must not import this package); they are named here as well
for the renderers and callers that look for them next to `CaseInfo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dialogs.counts import SUPPRESS_BELOW, LocalPicture, protect, shown, shown_all


@dataclass(frozen=True)
class CaseInfo:
    code: str
    mode: str
    lens_version: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    author_role: str | None = None      # the role of who made the dossier (their profile, as stored)
    organisation: str | None = None     # LENSBOT_ORGANISATION: named beside the role on a dossier


DatedNote = tuple[str, datetime | None]   # a note's text and when it was written (None: not known)


__all__ = ["SUPPRESS_BELOW", "CaseInfo", "DatedNote", "LocalPicture", "protect", "shown", "shown_all"]
