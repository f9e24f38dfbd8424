"""The production names the shared test support uses, imported in one place.

When a module of lensbot moves (bot/, dialogs/, storage/ are being reshaped), fix the import here
and the support modules and the tests that use them follow.
"""

from __future__ import annotations

from sqlalchemy import update as sql_update

from bot.telegram.app import REMIND_AFTER
from dialogs.app import Settings
from dialogs.app.root import configured_lens
from dialogs.render import option_event
from dialogs.service import IntakeService
from matrix.lens import RED_FLAGS_PHASE, Lens
from matrix.loader import DEFAULT_LENS, load_lens
from storage import accounts
from storage.models import Case
from storage.repo import CaseRow, Store, UserRow, now

__all__ = [
    "DEFAULT_LENS",
    "RED_FLAGS_PHASE",
    "REMIND_AFTER",
    "Case",
    "CaseRow",
    "IntakeService",
    "Lens",
    "Store",
    "UserRow",
    "accounts",
    "lens_under_test",
    "load_lens",
    "now",
    "option_event",
    "sql_update",
]


def lens_under_test() -> Lens:
    """The lens the suite runs against: the one the settings name (LENSBOT_LENS, as every `lensbot`
    process the tests start reads it; tests/test_lens_edit.py sets it), else the bundled lens."""
    return configured_lens(Settings.load())
