"""The local picture (lokaal beeld): what completed real cases show together, anonymously.

Counts are added per month when a case completes (`completion_keys`) and read back from the
aggregate table, so the picture survives the retention purge. It is published only for a closed
month or quarter (`dialogs/counts.py`: `Period`, `seal`): every count below 5, or from fewer than 3
professionals, is shown as "<5", and "*" where it would otherwise follow from other published
counts; nothing finer than a month, no codes, notes or users ever reaches this module.

Counts outlive lens edits: each case also counts the lens version it was completed under, and an
id that left the current lens is named in the words of that version (`dialogs/labels.py`), never
dropped and never a crash. The data and its suppression live in `dialogs/counts.py`; the chart in
`dialogs/reports/chart.py` reads the same data. This module imports nothing from `dialogs/reports/`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from dialogs.counts import LEVELS, TABLES, LocalPicture, Period, Row, seal
from dialogs.labels import LensLabels
from dialogs.output import Block, Line
from dialogs.texts import dialog_texts
from matrix.lens import Lens
from matrix.scoring import Assessment

TOP = 10
LensOf = Callable[[str], Lens | None]   # a stored lens version by its version string


def completion_keys(result: Assessment, answers: dict[str, str]) -> list[tuple[str, str]]:
    """The (metric, key) pairs one completed case adds to its month."""
    keys = [("cases", "all"), ("concern", result.concern), ("age_group", result.age_group),
            ("lens_version", result.lens_version)]   # which lens names the ids below
    keys += [("indicator", i.id) for i in result.triggered]
    keys += [("leefgebied", lg.id) for lg in result.leefgebieden if lg.triggered]
    keys += [("signal_yes", s) for s in result.yes]
    keys += [("signal_unknown", s) for i in result.indicators for s in i.dont_know]   # signals only, not the age
    keys += [("phenomenon", p) for p, _ in result.phenomena]
    return keys


def local_picture(rows: list[Row], period: Period | None = None, lenses: LensOf | None = None) -> LocalPicture:
    """The picture of a closed `period` from (month, metric, key, count, professionals) rows, sealed
    (`dialogs/counts.py`); `lenses` loads the stored versions counted. Without a period: every row,
    with per-panel suppression only (for tests and tools, never published)."""
    if period is not None:
        rows = [r for r in rows if r[0] in period.months]
    months = sorted({r[0] for r in rows})
    pic = LocalPicture(since=period.months[0] if period else (months[0] if months else None),
                       until=period.months[-1] if period else (months[-1] if months else None),
                       period=period.label if period else None)
    target = {"indicator": pic.indicators, "leefgebied": pic.leefgebieden, "signal_yes": pic.signals_yes,
              "signal_unknown": pic.signals_unknown, "phenomenon": pic.phenomena, "concern": pic.concern,
              "lens_version": pic.lens_versions}
    last_month: dict[str, str] = {}
    for month, metric, key, count, _professionals in rows:
        if metric == "cases":
            pic.per_month[month] = pic.per_month.get(month, 0) + count
            pic.cases += count
        elif metric in target:
            target[metric][key] = target[metric].get(key, 0) + count
            if metric == "lens_version":
                last_month[key] = max(month, last_month.get(key, month))
    if period is not None:
        pic.states = seal(rows, period)[1]
        for month in period.months:
            pic.per_month.setdefault(month, 0)
    if lenses is not None:
        newest_first = sorted(pic.lens_versions, key=lambda v: (last_month[v], pic.lens_versions[v]), reverse=True)
        pic.lenses = tuple(lens for lens in map(_loader(lenses), newest_first) if lens is not None)
    return pic


def _loader(lenses: LensOf) -> LensOf:
    def load(version: str) -> Lens | None:
        try:
            return lenses(version)
        except (LookupError, ValueError):   # not stored (any more), or stored content that no longer loads
            return None
    return load


def _ranked(pic: LocalPicture, metric: str) -> list[str]:
    """Ids by published count, largest first, ties by id; small ones are left out, because a row
    that is there at all says "at least one" (0 and 1-4 must look the same). A hidden ("*") count
    sorts as if it were 0, so the order never tells it apart."""
    counts: dict[str, int] = getattr(pic, TABLES[metric])
    listed = [k for k in counts if pic.state(metric, k) != "small"]
    return sorted(listed, key=lambda k: (-counts[k] if pic.state(metric, k) == "shown" else 0, k))


def _top(pic: LocalPicture, metric: str) -> list[str]:
    return _ranked(pic, metric)[:TOP]


def stats_blocks(lens: Lens, pic: LocalPicture, lang: str) -> list[Block]:
    t = dialog_texts()
    labels = LensLabels.of(lens, pic.lenses)
    period = pic.period or f"{pic.since or '…'} – {pic.until or '…'}"
    head = [Line(t("stats.title", lang, period=period), "title"),
            Line(t("stats.cases", lang, count=pic.show("cases", "all"))),
            Line(t("stats.suppressed", lang), "muted"), Line(t("stats.closed_only", lang), "muted")]
    if set(pic.lens_versions) - {lens.version}:   # the counts span another lens: say which
        versions = ", ".join(f"{v} ({pic.show('lens_version', v)})" for v in sorted(pic.lens_versions))
        head.append(Line(t("stats.lens_versions", lang, versions=versions), "muted"))
    if pic.state("cases", "all") == "small":   # 0 and 1-4 cases (or too few professionals) look the same
        return [Block((*head, Line(t("stats.none", lang))), "summary")]
    body: list[Line] = [Line(t("stats.per_leefgebied", lang), "heading")]
    for lg in lens.leefgebieden:
        body.append(Line(f"{lg.name.get(lang)}: {pic.show('leefgebied', lg.id)}", "item"))
        body += [Line(f"{ind.name.get(lang)}: {pic.show('indicator', ind.id)}", "subitem")
                 for ind in lg.indicators]
    former_lg = [(k, n) for k, n in sorted(pic.leefgebieden.items())
                 if k not in lens.leefgebied_by_id and pic.state("leefgebied", k) != "small"]
    former_ind = [(k, n) for k, n in sorted(pic.indicators.items())
                  if k not in lens.indicators and pic.state("indicator", k) != "small"]
    if former_lg or former_ind:
        body.append(Line(t("stats.former", lang), "heading"))
        body += [Line(f"{labels.leefgebied(k, lang)}: {pic.show('leefgebied', k)}", "item") for k, _ in former_lg]
        body += [Line(f"{labels.indicator(k, lang)}: {pic.show('indicator', k)}", "item") for k, _ in former_ind]
    body.append(Line(t("stats.yes", lang), "heading"))
    body += [Line(f"{labels.question(s, lang)} — {pic.show('signal_yes', s)}", "item")
             for s in _top(pic, "signal_yes")]
    body.append(Line(t("stats.unknown", lang), "heading"))
    for s in _top(pic, "signal_unknown"):
        body.append(Line(f"{labels.question(s, lang)} — {pic.show('signal_unknown', s)}", "item"))
        who = labels.seen_by(s, lang)
        if who:
            body.append(Line(t("stats.partners", lang, who=who), "subitem"))
    body.append(Line(t("stats.phenomena", lang), "heading"))
    body += [Line(f"{labels.phenomenon(p, lang)}: {pic.show('phenomenon', p)}", "item")
             for p in _top(pic, "phenomenon")]
    body.append(Line(t("stats.concern", lang), "heading"))
    levels = pic.panel("concern", LEVELS)
    body += [Line(f"{t(f'concern.{level}', lang)}: {levels[level]}", "item") for level in LEVELS]
    body.append(Line(t("stats.trend", lang), "heading"))
    body += [Line(f"{month}: {n}", "item") for month, n in pic.panel("per_month", sorted(pic.per_month)).items()]
    return [Block(tuple(head), "summary"), Block(tuple(body), "summary")]


def stats_dict(lens: Lens, pic: LocalPicture) -> dict[str, Any]:
    """JSON-ready, already suppressed: no consumer of this output ever sees a count below 5.

    Ids are the lens's own; `lens_versions` says which versions they were counted under."""
    def table(metric: str) -> list[dict[str, str]]:
        return [{"id": k, "count": pic.show(metric, k)} for k in _ranked(pic, metric)]

    return {
        "period": pic.period, "since": pic.since, "until": pic.until, "lens_version": lens.version,
        "lens_versions": [{"version": v, "count": pic.show("lens_version", v)} for v in sorted(pic.lens_versions)],
        "completed_cases": pic.show("cases", "all"),
        "per_month": [{"month": m, "count": n} for m, n in pic.panel("per_month", sorted(pic.per_month)).items()],
        "leefgebieden": table("leefgebied"), "indicators": table("indicator"),
        "signals_yes": table("signal_yes"),
        "signals_unknown": table("signal_unknown"),
        "phenomena": table("phenomenon"),
        "concern": pic.panel("concern", LEVELS),
    }


def stats_csv(lens: Lens, pic: LocalPicture) -> str:
    data = stats_dict(lens, pic)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "id", "count"])
    writer.writerow(["completed_cases", "", data["completed_cases"]])
    for row in data["lens_versions"]:
        writer.writerow(["lens_versions", row["version"], row["count"]])
    for row in data["per_month"]:
        writer.writerow(["per_month", row["month"], row["count"]])
    for section in ("leefgebieden", "indicators", "signals_yes", "signals_unknown", "phenomena"):
        for row in data[section]:
            writer.writerow([section, row["id"], row["count"]])
    for level, count in data["concern"].items():
        writer.writerow(["concern", level, count])
    return out.getvalue()


def stats_json(lens: Lens, pic: LocalPicture) -> str:
    return json.dumps(stats_dict(lens, pic), indent=2, ensure_ascii=False)
