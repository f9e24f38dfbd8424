"""The web channel's own texts (bot/web/texts.yaml): pages, labels and errors around the dialog.

Questions, buttons and summaries come from the dialogs' catalogue; both catalogues refuse a
missing translation when they load.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from dialogs.texts import LANGUAGES, Catalog

__all__ = ["LANGUAGES", "web_texts"]


@cache
def web_texts() -> Catalog:
    return Catalog.load(Path(__file__).with_name("texts.yaml"))
