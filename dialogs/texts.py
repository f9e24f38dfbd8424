"""Text catalogues: every user-facing string comes from YAML, in Dutch and English.

Each channel may have its own catalogue (the console's prompts, Telegram's command list);
they all use this loader, which refuses a catalogue with a missing translation at start-up
rather than showing a user an empty line later.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("nl", "en")
DEFAULT_LANG = "nl"


class Catalog:
    def __init__(self, entries: dict[str, dict[str, str]], source: str) -> None:
        for key, value in entries.items():
            missing = [lang for lang in LANGUAGES if not isinstance(value, dict) or not value.get(lang)]
            if missing:
                raise ValueError(f"{source}: text '{key}' lacks a translation for {', '.join(missing)}")
        self._entries = entries
        self.source = source

    @classmethod
    def load(cls, path: Path) -> Catalog:
        with path.open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        return cls(data, str(path))

    def __call__(self, key: str, lang: str = DEFAULT_LANG, **params: Any) -> str:
        entry = self._entries[key]
        text = entry.get(lang) or entry[DEFAULT_LANG]
        return text.format(**params) if params else text

    def keys(self) -> list[str]:
        return list(self._entries)


@cache
def dialog_texts() -> Catalog:
    return Catalog.load(Path(__file__).with_name("texts.yaml"))


def normalise_lang(lang: str | None) -> str:
    lang = (lang or "").lower()[:2]
    return lang if lang in LANGUAGES else DEFAULT_LANG
