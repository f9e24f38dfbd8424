"""The local picture as data: counts over completed cases, the closed periods it is published for,
and the rules that keep small ones hidden.

Kept apart from the renderers so that both the text/JSON/CSV of `dialogs/stats.py` and the chart
of `dialogs/reports/chart.py` read the same data and the same suppression, and neither imports the
other.

Differencing (issue 11): two windows that differ by one month, or one picture before and after a
colleague's intake, gave away a month with 2 cases and which signals one had. So the picture is
published only for fixed, closed periods: a whole month or a whole quarter that has ended
(`Period`). A closed month's counts never change again (counts are added in the month a case
completes), so nothing published moves with one case. Every cell (a count of one metric and key in
one period) is suppressed ("<5") when it is below 5 *or* comes from fewer than 3 distinct
professionals (`MIN_PROFESSIONALS`; the storage keeps how many, not who). Then `seal` applies
complementary suppression across every published relation at once: each panel that adds up to a
total (levels of concern, lens versions, months of a quarter) and each quarter cell against the
same cell of its three months, which are published on their own. A relation with exactly one
suppressed member would give that member away by subtraction; one more member is hidden ("*"),
until no relation has exactly one. Months are sealed on their own data only (they are published
before their quarter ends), so a quarter only ever hides its own cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from matrix.lens import Lens

SUPPRESS_BELOW = 5
MIN_PROFESSIONALS = 3   # a cell also needs this many distinct professionals behind it
LEVELS = ("not_assessed", "none", "attention", "possible_exploitation", "acute")
TOTAL = ("cases", "all")

Row = tuple[str, str, str, int, int]   # month, metric, key, count, distinct professionals (capped)
Cell = tuple[str, str]                 # metric, key
TABLES = {"indicator": "indicators", "leefgebied": "leefgebieden", "signal_yes": "signals_yes",
           "signal_unknown": "signals_unknown", "phenomenon": "phenomena", "concern": "concern",
           "lens_version": "lens_versions", "per_month": "per_month"}


@dataclass(frozen=True)
class Period:
    """A whole month ("2026-01") or quarter ("2026-Q1"): the only windows the picture is published for."""

    label: str
    months: tuple[str, ...]

    @classmethod
    def parse(cls, value: str) -> Period:
        """"YYYY-MM" or "YYYY-Qn"; ValueError otherwise."""
        value = value.strip().upper()
        if m := re.fullmatch(r"(\d{4})-(0[1-9]|1[0-2])", value):
            return cls(value, (value,))
        if m := re.fullmatch(r"(\d{4})-Q([1-4])", value):
            year, q = m.group(1), int(m.group(2))
            return cls(value, tuple(f"{year}-{3 * (q - 1) + i:02d}" for i in (1, 2, 3)))
        raise ValueError(value)

    @property
    def is_quarter(self) -> bool:
        return len(self.months) > 1

    def closed(self, today: date) -> bool:
        """Ended before the current month began: its counts can no longer change."""
        return self.months[-1] < f"{today:%Y-%m}"

    @classmethod
    def last_closed_month(cls, today: date) -> Period:
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        return cls.parse(f"{year}-{month:02d}")

    @classmethod
    def last_closed_quarter(cls, today: date) -> Period:
        q = (today.month - 1) // 3   # the current quarter's index 0..3; the one before it ended last
        return cls.parse(f"{today.year}-Q{q}" if q else f"{today.year - 1}-Q4")



def shown(count: int) -> str:
    """Small counts could point at a person: every count below 5 is shown as "<5"."""
    return "<5" if count < SUPPRESS_BELOW else str(count)


@dataclass
class LocalPicture:
    """The anonymous local picture over completed real cases; counts are raw, suppression is at display."""

    since: str | None                       # "YYYY-MM" or None: first and last month of the period
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
    period: str | None = None               # "2026-01" or "2026-Q1" once sealed
    # (metric, key) -> "shown" | "small" | "hidden", set by `seal`; without it (a picture built by
    # hand) a count is small below 5 and panels are protected on their own (`shown_all`).
    states: dict[Cell, str] = field(default_factory=dict)

    def count(self, metric: str, key: str) -> int:
        if (metric, key) == TOTAL:
            return self.cases
        table: dict[str, int] = getattr(self, TABLES[metric])
        return table.get(key, 0)

    def state(self, metric: str, key: str) -> str:
        if (metric, key) in self.states:
            return self.states[(metric, key)]
        return "small" if self.count(metric, key) < SUPPRESS_BELOW else "shown"

    def show(self, metric: str, key: str) -> str:
        """The count as published: the number, "<5" (small) or "*" (hidden, complementary)."""
        state = self.state(metric, key)
        return "*" if state == "hidden" else "<5" if state == "small" else str(self.count(metric, key))

    def panel(self, metric: str, keys: Iterable[str]) -> dict[str, str]:
        """Counts that add up to the total, as published."""
        keys = list(keys)
        if self.states:
            return {k: self.show(metric, k) for k in keys}
        return shown_all({k: self.count(metric, k) for k in keys})

    def panel_states(self, metric: str, keys: list[str]) -> list[str]:
        if self.states:
            return [self.state(metric, k) for k in keys]
        return protect([self.count(metric, k) for k in keys])


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


# -- sealing a closed period ------------------------------------------------------------------------
Node = tuple[str, str, str]   # (period or month, metric, key)


def _sum(rows: Iterable[Row]) -> tuple[dict[Cell, int], dict[Cell, int]]:
    counts: dict[Cell, int] = {}
    people: dict[Cell, int] = {}
    for _month, metric, key, count, professionals in rows:
        counts[(metric, key)] = counts.get((metric, key), 0) + count
        # Distinct professionals cannot be added up over months (one person works in several):
        # a period has at least as many as its busiest month, which is what we may claim.
        people[(metric, key)] = max(people.get((metric, key), 0), professionals)
    return counts, people


def _panels(where: str, cells: Iterable[Cell]) -> list[tuple[Node, list[Node]]]:
    versions = sorted({k for m, k in cells if m == "lens_version"})
    total = (where, *TOTAL)
    return [(total, [(where, "concern", level) for level in LEVELS]),
            (total, [(where, "lens_version", v) for v in versions])]


def _protect(states: dict[Node, str], counts: dict[Node, int], relations: list[tuple[Node, list[Node]]],
             fixed: set[Node]) -> None:
    """Hide members until no relation (total = sum of parts) has exactly one suppressed member."""
    changed = True
    while changed:
        changed = False
        for total, parts in relations:
            members = [total, *parts]
            if sum(states[n] != "shown" for n in members) != 1:
                continue
            free = [n for n in parts if states[n] == "shown" and n not in fixed]
            if not free and states[total] == "shown" and total not in fixed:
                free = [total]
            if not free:   # only cells of sealed months: they were protected when their month was
                continue
            states[min(free, key=lambda n: (counts[n], n))] = "hidden"
            changed = True


def _base(where: str, counts: dict[Cell, int], people: dict[Cell, int], cells: Iterable[Cell],
          states: dict[Node, str], values: dict[Node, int]) -> None:
    for cell in cells:
        count = counts.get(cell, 0)
        small = count < SUPPRESS_BELOW or people.get(cell, 0) < MIN_PROFESSIONALS
        states[(where, *cell)] = "small" if small else "shown"
        values[(where, *cell)] = count


def _cells(counts: dict[Cell, int]) -> set[Cell]:
    return set(counts) | {TOTAL} | {("concern", level) for level in LEVELS}


def _seal_month(month: str, rows: list[Row], states: dict[Node, str], values: dict[Node, int]) -> None:
    counts, people = _sum(r for r in rows if r[0] == month)
    cells = _cells(counts)
    _base(month, counts, people, cells, states, values)
    _protect(states, values, _panels(month, cells), fixed=set())


def seal(rows: list[Row], period: Period) -> tuple[dict[Cell, int], dict[Cell, str]]:
    """The period's raw counts and the published state of every cell, suppression applied
    consistently with every other published period (see the module docstring)."""
    states: dict[Node, str] = {}
    values: dict[Node, int] = {}
    for month in period.months:
        _seal_month(month, rows, states, values)
    where = period.label
    counts, people = _sum(r for r in rows if r[0] in period.months)
    if not period.is_quarter:
        return counts, {cell: states[(where, *cell)] for cell in _cells(counts)}
    fixed = set(states)   # the months are published on their own: their states stand
    cells = _cells(counts) | {(node[1], node[2]) for node in fixed}
    _base(where, counts, people, cells, states, values)
    for month in period.months:   # cells a month lacks are 0 there, and small
        for cell in cells:
            if (month, *cell) not in states:
                states[(month, *cell)], values[(month, *cell)] = "small", 0
                fixed.add((month, *cell))
    relations = _panels(where, cells)
    relations.append(((where, *TOTAL), [(m, *TOTAL) for m in period.months]))          # the trend per month
    relations += [((where, *cell), [(m, *cell) for m in period.months]) for cell in cells]   # quarter vs months
    _protect(states, values, relations, fixed)
    result = {cell: states[(where, *cell)] for cell in cells}
    result |= {("per_month", m): states[(m, *TOTAL)] for m in period.months}
    return counts, result


__all__ = [
    "LEVELS",
    "MIN_PROFESSIONALS",
    "SUPPRESS_BELOW",
    "TABLES",
    "LocalPicture",
    "Period",
    "Row",
    "protect",
    "seal",
    "shown",
    "shown_all",
]
