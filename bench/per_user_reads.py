"""Per-user reads against the size of the database: do they stay flat from 10k to 1M stored cases?

Builds a database with N stored cases (default ~20 cases per user, 40 answers per case, each
answer also in the answer log, a note on every tenth case) with set-based INSERT ... SELECT in
one transaction per table, in a temp dir (SQLite) or a fresh schema (PostgreSQL, --postgres URL).
Then, for each per-user query that lensbot runs, prints its query plan (EXPLAIN QUERY PLAN /
EXPLAIN) and its time through the real Store (median and p90 over --runs random users), next to
a floor measured in the same run: a primary-key lookup through the same Store.reading() path,
since the machine is noisy.

The per-user queries:
- user       Store.user: who sent this update (uncached; the cache usually answers)
- open case  Store.list_cases(status="open"): where typed text goes, on every typed message
- list       Store.list_cases: the /hervat list, the export of all cases
- progress   Store.list_cases(status="completed", modes=("training",)): /voortgang
- view       load_case + answers in one transaction: resume, summary, a report (IntakeService.view)
- notes      Store.notes: the PDF and JSON of a case
- export     list + a view of every listed case: the CSV of all of a user's cases
- old list   (reference, sizes up to --old-up-to) the list query before revision 0005: it counted
             the answers of the whole table, then joined

Run: .venv/bin/python bench/per_user_reads.py [--sizes 10000,100000[,1000000]] [--answers-per-case 40]
     [--cases-per-user 20] [--runs 25] [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inproc import PgSchema, print_machine
from sqlalchemy import event, func, select, text

from storage.models import Answer, Case
from storage.repo import _ANSWERS, _LOAD_CASE, Store

LENS = "bench-1"
ITEMS = 93   # questions of the default lens: answer item ids are drawn from these


# -- building ------------------------------------------------------------------------------------
def _sqlite_build(path: Path, n: int, per_user: int, answers: int) -> None:
    """Set-based inserts from a recursive CTE: no Python per row. Journal off while building."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-400000")
    users = -(-n // per_user)
    stamp = "strftime('%Y-%m-%d %H:%M:%f000', 'now', printf('-%d seconds', {age}))"
    case_at = stamp.format(age=f"({n} - x) * 7776000 / {n}")   # spread over the last 90 days
    con.execute("BEGIN")
    con.execute(f"""WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {users})
        INSERT INTO users (id, channel, external_id, role, lang, reminders, created_at)
        SELECT x, 'telegram', CAST(1000000 + x AS TEXT), 'professional', 'nl', 1, {stamp.format(age=0)} FROM s""")
    con.execute(f"""WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < {n})
        INSERT INTO cases (id, code, user_id, mode, status, state, step, trail, script, vignette, skipped, lang,
                           lens_version, created_at, updated_at, completed_at, reminded_at)
        SELECT x, printf('B%07d', x), (x - 1) % {users} + 1,
               CASE x % 10 WHEN 8 THEN 'training' WHEN 9 THEN 'quick' ELSE 'full' END,
               CASE WHEN x % 7 = 0 THEN 'open' ELSE 'completed' END,
               CASE WHEN x % 7 = 0 THEN 'question' ELSE 'done' END, {answers},
               '0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36',
               NULL, CASE x % 10 WHEN 8 THEN 'v' || (x % 5) END, '', 'nl', '{LENS}', {case_at}, {case_at},
               CASE WHEN x % 7 != 0 THEN {case_at} END, NULL
        FROM s""")
    for table, at in (("answers", "answered_at"), ("answer_log", "at")):
        con.execute(f"""WITH RECURSIVE i(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM i WHERE k < {answers - 1})
            INSERT INTO {table} (case_id, item_id, value, {at})
            SELECT c.id, 'signal_' || ((c.id + k * 7) % {ITEMS}),
                   CASE (c.id + k) % 10 WHEN 0 THEN 'yes' WHEN 1 THEN 'unknown' ELSE 'no' END, c.updated_at
            FROM cases c, i ORDER BY c.id, k""")
    con.execute("""INSERT INTO notes (case_id, text, created_at)
        SELECT id, 'Een notitie van een regel of twee over wat er gezien is.', updated_at
        FROM cases WHERE id % 10 = 0""")
    con.execute("COMMIT")
    con.close()


def _postgres_build(store: Store, n: int, per_user: int, answers: int) -> None:
    users = -(-n // per_user)
    case_at = f"now() - ({n} - x) * interval '90 days' / {n}"
    with store.engine.begin() as conn:
        conn.execute(text(f"""INSERT INTO users (id, channel, external_id, role, lang, reminders, created_at)
            SELECT x, 'telegram', (1000000 + x)::text, 'professional', 'nl', true, now()
            FROM generate_series(1, {users}) x"""))
        conn.execute(text(f"""INSERT INTO cases (id, code, user_id, mode, status, state, step, trail, vignette,
                                     skipped, lang, lens_version, created_at, updated_at, completed_at)
            SELECT x, 'B' || lpad(x::text, 7, '0'), (x - 1) % {users} + 1,
                   CASE x % 10 WHEN 8 THEN 'training' WHEN 9 THEN 'quick' ELSE 'full' END,
                   CASE WHEN x % 7 = 0 THEN 'open' ELSE 'completed' END,
                   CASE WHEN x % 7 = 0 THEN 'question' ELSE 'done' END, {answers},
                   '0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34',
                   CASE x % 10 WHEN 8 THEN 'v' || (x % 5) END, '', 'nl', '{LENS}',
                   {case_at}, {case_at}, CASE WHEN x % 7 != 0 THEN {case_at} END
            FROM generate_series(1, {n}) x"""))
        for table, at in (("answers", "answered_at"), ("answer_log", "at")):
            conn.execute(text(f"""INSERT INTO {table} (case_id, item_id, value, {at})
                SELECT c.id, 'signal_' || ((c.id + k * 7) % {ITEMS}),
                       CASE (c.id + k) % 10 WHEN 0 THEN 'yes' WHEN 1 THEN 'unknown' ELSE 'no' END, c.updated_at
                FROM cases c, generate_series(0, {answers - 1}) k ORDER BY c.id, k"""))
        conn.execute(text("""INSERT INTO notes (case_id, text, created_at)
            SELECT id, 'Een notitie van een regel of twee over wat er gezien is.', updated_at
            FROM cases WHERE id % 10 = 0"""))
        for table in ("users", "cases", "notes"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE users, cases, answers, answer_log, notes"))   # as autovacuum would soon


@contextmanager
def database(n: int, per_user: int, answers: int, postgres: str | None) -> Iterator[tuple[Store, str]]:
    if postgres:
        with PgSchema(postgres) as url:
            store = Store(url)
            try:
                store.upgrade()
                store.ensure_lens_version(LENS, "1", "0" * 64, {})
                _postgres_build(store, n, per_user, answers)
                yield store, "postgresql"
            finally:
                store.dispose()
        return
    with tempfile.TemporaryDirectory(prefix="lensbot-reads-") as tmp:
        path = Path(tmp) / "lensbot.db"
        store = Store(f"sqlite:///{path}")
        store.upgrade()
        store.ensure_lens_version(LENS, "1", "0" * 64, {})
        store.dispose()
        _sqlite_build(path, n, per_user, answers)
        store = Store(f"sqlite:///{path}")   # WAL again, as lensbot runs it
        try:
            yield store, f"sqlite, {path.stat().st_size / 1e9:.2f} GB"
        finally:
            store.dispose()


# -- the queries ---------------------------------------------------------------------------------
def old_list_cases(store: Store, user_id: int) -> list[Any]:
    """The list query before revision 0005 (storage/repo.py at fe454dc), for reference."""
    counts = select(Answer.case_id, func.count().label("n")).group_by(Answer.case_id).subquery()
    stmt = (select(Case.code, Case.mode, Case.status, Case.state, Case.lens_version, Case.created_at,
                   Case.updated_at, func.coalesce(counts.c.n, 0).label("n"), Case.vignette)
            .outerjoin(counts, counts.c.case_id == Case.id).where(Case.user_id == user_id)
            .where(Case.mode.in_(("full", "quick"))).order_by(Case.updated_at.desc()))
    with store.reading() as conn:
        return conn.execute(stmt).all()


def view(store: Store, code: str) -> dict[str, str]:
    with store.transaction() as tx:
        case = tx.load_case(code)
        assert case is not None
        return tx.answers(case.id)


def floor(store: Store, case_id: int) -> Any:
    with store.reading() as conn:
        return conn.execute(select(Case.code).where(Case.id == case_id)).scalar_one()


def queries(store: Store, include_old: bool) -> dict[str, Callable[[int, int], Any]]:
    """name -> f(user id, one of that user's case ids)."""
    def export(user_id: int, _case: int) -> None:
        for c in store.list_cases(user_id):
            view(store, c.code)

    out: dict[str, Callable[[int, int], Any]] = {
        "floor: primary-key lookup": lambda _u, c: floor(store, c),
        "user": lambda u, _c: store.user("telegram", str(1000000 + u)),
        "open case": lambda u, _c: store.list_cases(u, status="open", modes=("full", "quick")),
        "list": lambda u, _c: store.list_cases(u),
        "progress": lambda u, _c: store.list_cases(u, status="completed", modes=("training",)),
        "view (resume, summary, report)": lambda _u, c: view(store, f"B{c:07d}"),
        "notes": lambda _u, c: store.notes(c),
        "export (list + a view per case)": export,
    }
    if include_old:
        out["old list (before 0005)"] = lambda u, _c: old_list_cases(store, u)
    return out


def plans(store: Store, named: dict[str, Callable[[int, int], Any]], user_id: int, case_id: int) -> None:
    """The plan of every statement each query sends (the view's two are sent past SQLAlchemy on SQLite)."""
    seen: list[tuple[str, str, Any]] = []
    current = [""]

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((current[0], statement, params))

    event.listen(store.engine, "before_cursor_execute", keep)
    for name, fn in named.items():
        if name.startswith(("floor", "export")):
            continue
        current[0] = name
        fn(user_id, case_id)
    event.remove(store.engine, "before_cursor_execute", keep)
    sqlite = store.engine.dialect.name == "sqlite"
    if sqlite:   # the hot statements run straight on sqlite3: compile them here
        for stmt, params in ((_LOAD_CASE, (f"B{case_id:07d}",)), (_ANSWERS, (case_id,))):
            seen.append(("view (resume, summary, report)", str(stmt.compile(dialect=store.engine.dialect)), params))
    print("\nquery plans" + (" (EXPLAIN QUERY PLAN)" if sqlite else " (EXPLAIN)"))
    with store.engine.connect() as conn:
        for name, statement, params in seen:
            print(f"  {name}: {' '.join(statement.split())[:150]}")
            if sqlite:
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
                for row in rows:
                    print(f"      {row[-1]}")
            else:
                for (line,) in conn.exec_driver_sql("EXPLAIN " + statement, params).all():
                    print(f"      {line}")


def measure(named: dict[str, Callable[[int, int], Any]], users: int, per_user: int, n: int,
            runs: int, rng: random.Random) -> dict[str, tuple[float, float]]:
    """name -> (median, p90) in ms, the queries interleaved run by run so noise hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in named}
    for r in range(runs + 3):
        user = rng.randrange(1, users + 1)
        case = user + users * rng.randrange(0, max(min(per_user, (n - user) // users + 1), 1))
        for name, fn in named.items():
            t0 = time.perf_counter()
            fn(user, case)
            if r >= 3:   # the first runs warm the caches
                times[name].append((time.perf_counter() - t0) * 1000)
    return {name: (statistics.median(ts), sorted(ts)[int(len(ts) * 0.9) - 1]) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="stored cases, comma-separated")
    parser.add_argument("--cases-per-user", type=int, default=20)
    parser.add_argument("--answers-per-case", type=int, default=40)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--old-up-to", type=int, default=100_000, help="measure the old list query up to this size")
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL (a fresh schema) instead of SQLite")
    parser.add_argument("--no-plans", action="store_true")
    args = parser.parse_args()
    print_machine("per_user_reads: per-user queries against the number of stored cases")
    rng = random.Random(7)
    results: dict[int, dict[str, tuple[float, float]]] = {}
    for n in [int(s) for s in args.sizes.split(",")]:
        t0 = time.perf_counter()
        with database(n, args.cases_per_user, args.answers_per_case, args.postgres) as (store, what):
            built = time.perf_counter() - t0
            users = -(-n // args.cases_per_user)
            print(f"\n## {n:,} cases, {users:,} users, {n * args.answers_per_case:,} answers "
                  f"(+ as many log rows): {what}, built in {built:.0f} s")
            named = queries(store, n <= args.old_up_to)
            if not args.no_plans:
                plans(store, named, users // 2, users // 2 + users)
            results[n] = measure(named, users, args.cases_per_user, n, args.runs, rng)
            print(f"\n  {'query':34} {'median ms':>10} {'p90 ms':>8}")
            for name, (med, p90) in results[n].items():
                print(f"  {name:34} {med:10.3f} {p90:8.3f}")
    if len(results) > 1:
        sizes = list(results)
        print("\nmedian ms by size\n  " + f"{'query':34}" + "".join(f"{s:>12,}" for s in sizes))
        for name in results[sizes[0]]:
            print(f"  {name:34}" + "".join(f"{results[s][name][0]:12.3f}" if name in results[s] else f"{'-':>12}"
                                           for s in sizes))
    print(f"\n({args.runs} runs per query and size, each on a random user; {args.cases_per_user} cases per user, "
          f"{args.answers_per_case} answers per case)")


if __name__ == "__main__":
    main()
