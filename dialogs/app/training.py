"""A trainer's view: the practice of the trainees they invited, and its CSV for a course (issue 14).

A trainer's group is whoever redeemed a trainee invitation the trainer made (storage/training.py).
Only practice cases are read (`IntakeService.progress_of` lists training cases only), never a real
case, never a note: a trainee who is also a professional keeps their real work to themselves.
Every look and every export is audited, and the trainer's role is confirmed as stored now in the
same transaction; trainees read in their own progress that their trainer sees it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime

from dialogs.access import actor, confirm
from dialogs.app.errors import shielded
from dialogs.domain import Action, Role
from dialogs.output import Block, Line
from dialogs.reports.service import File
from dialogs.service import IntakeService
from dialogs.summary import kind_progress
from dialogs.texts import dialog_texts
from matrix.training import TrainingResult
from storage import accounts
from storage import training as training_store
from storage.models import Invite
from storage.repo import UserRow

GROUP_CSV = "oefengroep.csv"
CSV_COLUMNS = ("trainee", "channel", "date", "vignette", "score", "found", "found_of", "rightly_no",
               "rightly_no_of", "rightly_unknown", "rightly_unknown_of", "missed")
Rows = list[tuple[datetime, str, TrainingResult]]


class Trainers:
    def __init__(self, service: IntakeService | Callable[[], IntakeService]) -> None:
        self._service = service

    @property
    def service(self) -> IntakeService:
        return self._service if isinstance(self._service, IntakeService) else self._service()

    @shielded
    def invite(self, trainer: UserRow) -> Invite:
        """A trainee invitation: whoever redeems it joins this trainer's group."""
        store = self.service.store
        return accounts.create_invite(store, Role.TRAINEE, trainer.id, actor=actor(trainer),
                                      check=lambda tx: confirm(tx, trainer, Action.TRAINEES))

    def _group(self, trainer: UserRow, what: str) -> list[tuple[training_store.Trainee, Rows]]:
        store = self.service.store
        with store.transaction() as tx:   # the role as stored now, and the audit row, before anything is read
            confirm(tx, trainer, Action.TRAINEES)
            tx.audit(actor(trainer), what, None, "practice of the trainees one invited")
        return [(p, self.service.progress_of(p.id)) for p in training_store.trainees_of(store, trainer.id)]

    @shielded
    def group(self, trainer: UserRow, lang: str) -> list[Block]:
        """Per trainee: rounds, average score, found per kind, most missed indicator."""
        t = dialog_texts()
        lens = self.service.lens
        lines = [Line(t("trainer.title", lang), "title"), Line(t("trainer.practice_only", lang), "muted")]
        group = self._group(trainer, "trainees")
        if not group:
            lines.append(Line(t("trainer.none", lang)))
        for person, rows in group:
            results = [r for _, _, r in rows]
            average = round(sum(r.score for r in results) / len(results)) if results else None
            lines.append(Line(t("trainer.line", lang, who=person.external_id, rounds=len(results),
                                average="–" if average is None else f"{average}%"), "heading"))
            for kind, (_first, last, n) in kind_progress(results).items():
                lines.append(Line(t("progress.kind_line", lang, kind=t(f"progress.kind.{kind}", lang),
                                    first=_first.pct(), last=last.pct(), n=n), "item"))
            if rows:
                when, vid, last_result = rows[-1]
                title = lens.vignettes[vid].title.get(lang) if vid in lens.vignettes else vid
                lines.append(Line(t("progress.line", lang, date=when.strftime("%Y-%m-%d"), title=title,
                                    score=last_result.score), "subitem"))
        return [Block(tuple(lines), "summary")]

    @shielded
    def group_csv(self, trainer: UserRow) -> File:
        """One row per practice round of every trainee in the group: for a course's records."""
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(CSV_COLUMNS)
        for person, rows in self._group(trainer, "trainees export"):
            for when, vid, r in rows:
                out.writerow([_cell(person.external_id), person.channel, when.strftime("%Y-%m-%d"), vid, r.score,
                              r.found.n, r.found.total, r.rightly_no.n, r.rightly_no.total, r.rightly_unknown.n,
                              r.rightly_unknown.total, " ".join(r.missed)])
        return File(GROUP_CSV, "text/csv", buf.getvalue().encode(), False)


def _cell(value: str) -> str:
    """A login as a spreadsheet shows it, never as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") else value
