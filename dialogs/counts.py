"""The local picture as data: counts over completed cases, and the rule that keeps small ones hidden.

Kept apart from the renderers so that both the text/JSON/CSV of `dialogs/stats.py` and the chart
of `dialogs/reports/chart.py` read the same data and the same suppression, and neither imports the
other. Counts are raw here; suppression happens at display time (`shown`, `shown_all`, `protect`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from matrix.lens import Lens

SUPPRESS_BELOW = 5


def shown(count: int) -> str:
    """Small counts could point at a person: every count below 5 is shown as "<5"."""
    return "<5" if count < SUPPRESS_BELOW else str(count)


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
    lens_versions: dict[str, int] = field(default_factory=dict)      # lens version -> cases completed under it
    # The lenses those versions were, newest first, where they could be loaded: ids that left the
    # lens are named in the words of the version they were counted under.
    lenses: tuple[Lens, ...] = ()


def protect(counts: list[int]) -> list[str]:
    """Per count: "shown", "small" (below 5, shown as "<5") or "hidden" (complementary suppression).

    Both panels cover the same cases, so one panel's total is the other's: with exactly one small
    count in a panel, that count would follow from the total minus the rest. Then the smallest
    other count is hidden too (ties: the first), so only the sum of the two can be worked out.
    """
    states = ["small" if c < SUPPRESS_BELOW else "shown" for c in counts]
    if states.count("small") == 1 and "shown" in states:
        smallest = min((c, i) for i, c in enumerate(counts) if states[i] == "shown")[1]
        states[smallest] = "hidden"
    return states


def shown_all(counts: dict[str, int]) -> dict[str, str]:
    """Counts that add up to a total that is shown too (levels, months): small ones as "<5",
    and one more hidden as "*" when a single small count could be derived from the total."""
    keys = list(counts)
    states = protect([counts[k] for k in keys])
    return {k: "*" if state == "hidden" else shown(counts[k]) for k, state in zip(keys, states, strict=True)}


__all__ = ["SUPPRESS_BELOW", "LocalPicture", "protect", "shown", "shown_all"]
