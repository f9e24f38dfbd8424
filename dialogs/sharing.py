"""The lists a share request chooses from (dialogs/sharing.yaml), read and checked once.

Legal bases, purposes, domains and the reasons why the person or the parents were not informed
are data the organisation's privacy officer (FG) keeps, not code: a request stores the ids, every
channel shows the words. A list entry without both languages stops the start (as texts.yaml does).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from dialogs.texts import LANGUAGES

LISTS = ("legal_bases", "purposes", "domains", "not_informed_reasons")


@dataclass(frozen=True)
class Catalogue:
    legal_bases: dict[str, dict[str, str]]
    purposes: dict[str, dict[str, str]]
    domains: dict[str, dict[str, str]]
    not_informed_reasons: dict[str, dict[str, str]]
    validity_days: tuple[int, ...]

    def name(self, kind: str, key: str, lang: str) -> str:
        entry = getattr(self, kind).get(key)
        return entry[lang] if entry else key

    def domain_name(self, key: str, lang: str) -> str:
        return self.name("domains", key, lang)


def load_catalogue(path: Path) -> Catalogue:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for kind in LISTS:
        entries = data.get(kind)
        if not isinstance(entries, dict) or not entries:
            raise ValueError(f"{path}: '{kind}' must be a non-empty mapping of id -> texts")
        for key, texts in entries.items():
            missing = [lang for lang in LANGUAGES if not isinstance(texts, dict) or not texts.get(lang)]
            if missing or len(str(key)) > 40:
                raise ValueError(f"{path}: {kind}.{key}: needs nl and en texts and an id of at most 40 characters")
    days = tuple(int(d) for d in data.get("validity_days") or ())
    if not days or any(d < 1 or d > 90 for d in days):
        raise ValueError(f"{path}: validity_days must list 1 to 90 days")
    return Catalogue(*(data[k] for k in LISTS), validity_days=days)


@cache
def catalogue() -> Catalogue:
    return load_catalogue(Path(__file__).with_name("sharing.yaml"))
