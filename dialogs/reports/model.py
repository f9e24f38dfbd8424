"""Plain data handed to the report renderers (PNG, PDF, charts), so they need no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

SUPPRESS_BELOW = 5


def shown(count: int) -> str:
    """Small counts could point at a person: every count below 5 is shown as "<5"."""
    return "<5" if count < SUPPRESS_BELOW else str(count)


@dataclass(frozen=True)
class CaseInfo:
    code: str
    mode: str
    lens_version: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None


@dataclass
class LocalPicture:
    """The anonymous local picture over completed real cases; counts are raw, suppression is at display."""

    since: str | None                       # "YYYY-MM" or None
    until: str | None
    cases: int = 0
    per_month: dict[str, int] = field(default_factory=dict)          # "2026-11" -> completed cases
    leefgebieden: dict[str, int] = field(default_factory=dict)       # leefgebied id -> cases with a triggered indicator
    indicators: dict[str, int] = field(default_factory=dict)         # indicator id -> cases where triggered
    signals_yes: dict[str, int] = field(default_factory=dict)        # signal id -> cases answered yes
    signals_unknown: dict[str, int] = field(default_factory=dict)    # signal id -> cases answered "weet ik niet"
    phenomena: dict[str, int] = field(default_factory=dict)          # phenomenon id -> cases tagged
    concern: dict[str, int] = field(default_factory=dict)            # concern level -> cases
