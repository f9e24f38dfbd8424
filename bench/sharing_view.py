"""What sharing adds to reading a case: IntakeService.view() and the summary, without and with requests.

`view()` (resume, summary, every report) now also reads the case's share requests, their
contributions and the answer history in the same transaction (issue 13). This measures view() and
the summary on a completed case with 0 requests and with 3 answered requests, on a SQLite file (and
PostgreSQL with --postgres URL), next to a floor measured in the same run: a primary-key lookup
through the same Store.reading() path, since the machine is noisy.

Run: .venv/bin/python bench/sharing_view.py [--runs 200] [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from dialogs.app import Door, Settings
from dialogs.render import option_event
from dialogs.service import IntakeService
from matrix.loader import DEFAULT_LENS, load_lens
from storage.models import Case
from storage.repo import Store


def complete(service: IntakeService, user) -> str:   # type: ignore[no-untyped-def]
    reply = service.start(user, "nl")
    code = reply.case_code
    while reply.prompt is not None:
        ids = [o.id for o in reply.prompt.options]
        option = "no" if "no" in ids else next((o for o in ("no_note", "finish") if o in ids), ids[0])
        event, value = option_event(option)
        reply = service.handle(user, code, event, value, step=reply.step)
    return code


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)]


def run(url: str, runs: int) -> None:
    store = Store(url)
    store.upgrade()
    lens = load_lens(DEFAULT_LENS)
    door = Door.around(IntakeService(store, lens), Settings(), "telegram")
    owner = store.user("telegram", "1", create_role="professional")
    plain, shared = complete(door.service, owner), complete(door.service, owner)
    for n, domain in enumerate(("school", "schuldhulp", "wijkteam")):
        created = door.sharing.create(owner, shared, ["1", "2"], "combine_signals", "consent", True, None, 7, False)
        joined = door.sharing.join("telegram", str(100 + n), created.token, "nl")
        door.sharing.answer(joined.user, created.request_id, f"domain:{domain}", "nl")
        for _ in range(20):
            reply = door.sharing.prompt(joined.user, created.request_id, "nl")
            door.sharing.answer(joined.user, created.request_id, reply.prompt.options[1].id, "nl")

    def floor() -> None:
        with store.reading() as conn:
            conn.execute(select(Case.id).where(Case.code == plain)).first()

    print(f"{store.engine.dialect.name}: median / p90 in µs over {runs} runs")
    print(f"  floor (pk lookup)              {timed(floor, runs)[0]:8.0f} / {timed(floor, runs)[1]:8.0f}")
    for label, code in (("view, no requests", plain), ("view, 3 answered requests", shared)):
        med, p90 = timed(lambda code=code: door.service.view(owner, code), runs)
        print(f"  {label:30} {med:8.0f} / {p90:8.0f}")
    for label, code in (("summary, no requests", plain), ("summary, 3 answered requests", shared)):
        med, p90 = timed(lambda code=code: door.cases.summary(owner, code, "nl"), runs // 4)
        print(f"  {label:30} {med:8.0f} / {p90:8.0f}")
    store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--postgres", metavar="URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.runs)
    if args.postgres:
        from inproc import PgSchema

        with PgSchema(args.postgres) as url:
            run(url, args.runs)


if __name__ == "__main__":
    main()
