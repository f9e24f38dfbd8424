"""Storage on both databases: a user's case list, the batched jobs, audit rows that commit with
their action, one exception for every database error, and the cost of one answer on PostgreSQL.

Each test builds its cases through Store and Tx, as the service does, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, event, func, select, text

from dialogs.domain import REAL_MODES
from dialogs.service import IntakeService
from matrix.lens import Lens
from storage import accounts, migrate, records
from storage.models import Invite
from storage.repo import CaseRow, StorageUnavailable, Store, UserRow, audit_hash, now

pytestmark = pytest.mark.slow(seconds=9)   # about its wall time on one worker: handed out early (tests/conftest.py)

LENS = "test-lens"


@pytest.fixture
def db(store: Store) -> Store:
    store.ensure_lens_version(LENS, "1", "0" * 64, {"meta": {"version": "1"}})
    return store


def professional(store: Store, name: str) -> UserRow:
    user = store.user("console", name, create_role="professional")
    assert user is not None
    return user


def case_with(store: Store, user: UserRow, answers: int, mode: str = "full", completed: bool = False,
              idle_days: float = 0) -> CaseRow:
    """A case with `answers` answers given in one transaction, as an answer tap writes them."""
    case = store.create_case(user.id, LENS, "intro", "nl", mode)
    assert case is not None
    at = now() - timedelta(days=idle_days)
    with store.transaction() as tx:
        tx.set_answers(case.id, {f"signal_{i}": "yes" if i % 3 else "no" for i in range(answers)}, at)
        case.step += 1
        if completed:
            case.status, case.state = "completed", "done"
        tx.save_case(case, at, completed=completed)
    return case


def audit_rows(store: Store, action: str) -> list[tuple[str, str | None, str | None]]:
    return [(r.actor, r.case_code, r.detail) for r in records.read_audit(store) if r.action == action]


@contextmanager
def failing_audit(store: Store) -> Iterator[None]:
    """Every INSERT into the audit log fails, after the action it records ran in the same transaction."""
    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            raise RuntimeError("the audit log is full")

    event.listen(store.engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(store.engine, "before_cursor_execute", fail)


# -- a user's cases ----------------------------------------------------------------------------
def test_the_case_list_counts_each_cases_own_answers(db: Store) -> None:
    ann, bob = professional(db, "ann"), professional(db, "bob")
    first = case_with(db, ann, 3)
    empty = case_with(db, ann, 0)
    done = case_with(db, ann, 5, completed=True)
    training = case_with(db, ann, 2, mode="training")
    case_with(db, bob, 7)

    listed = {c.code: c.answers for c in db.list_cases(ann.id)}
    assert listed == {first.code: 3, empty.code: 0, done.code: 5}           # bob's 7 count nowhere
    assert [c.code for c in db.list_cases(ann.id)] == [done.code, empty.code, first.code]   # newest first
    assert [c.code for c in db.list_cases(ann.id, status="open")] == [empty.code, first.code]
    assert [(c.code, c.answers) for c in db.list_cases(ann.id, status="completed")] == [(done.code, 5)]
    assert [(c.code, c.answers) for c in db.list_cases(ann.id, modes=("training",))] == [(training.code, 2)]
    assert [c.answers for c in db.list_cases(bob.id)] == [7]

    # a changed answer is one answer, not two; a new one counts; the log keeps both, in order
    at = now()
    with db.transaction() as tx:
        tx.set_answers(first.id, {"signal_0": "yes", "signal_9": "unknown"}, at)
        first.step += 1
        tx.save_case(first, at)
    assert {c.code: c.answers for c in db.list_cases(ann.id)}[first.code] == 4
    assert db.list_cases(ann.id)[0].code == first.code                        # touched last: listed first
    assert db.answer_log(first.id)[-2:] == [("signal_0", "yes"), ("signal_9", "unknown")]
    with db.transaction() as tx:
        assert tx.answers(first.id)["signal_0"] == "yes"
        assert tx.load_case(first.code).step == first.step                    # type: ignore[union-attr]


def test_answers_without_a_saved_case_are_still_written(db: Store) -> None:
    """On PostgreSQL answers wait for save_case to travel with it; without one, the commit writes them."""
    ann = professional(db, "ann")
    case = case_with(db, ann, 0)
    with db.transaction() as tx:
        tx.set_answers(case.id, {"signal_1": "no"}, now())
    with db.transaction() as tx:
        tx.set_answers(case.id, {"signal_2": "yes"}, now())
        assert tx.answers(case.id) == {"signal_1": "no", "signal_2": "yes"}   # read in the same transaction
        tx.add_note(case.id, "een notitie", now())
    assert db.answer_log(case.id) == [("signal_1", "no"), ("signal_2", "yes")]
    assert db.notes(case.id) == ["een notitie"]


def test_the_per_user_queries_never_scan_a_table(sqlite_url: str) -> None:
    """SQLite's plan for every per-user and job query: searches through indexes only, no SCAN."""
    store = Store(sqlite_url)
    store.upgrade()
    store.ensure_lens_version(LENS, "1", "0" * 64, {})
    ann = professional(store, "ann")
    case_with(store, ann, 4)
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, params))

    event.listen(store.engine, "before_cursor_execute", keep)
    store.list_cases(ann.id)
    store.list_cases(ann.id, status="open", modes=("full", "quick"))
    store.list_cases(ann.id, status="completed", modes=("training",))
    records.due_reminders(store, "console", timedelta(days=1), REAL_MODES)
    records.purge(store, 90)
    event.remove(store.engine, "before_cursor_execute", keep)
    assert len(seen) == 5
    with store.engine.connect() as conn:
        for statement, params in seen:
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
            assert not [step for step in plan if step.startswith("SCAN")], (statement, plan)
    store.dispose()


# -- the jobs, in batches ----------------------------------------------------------------------
def count_commits(store: Store) -> tuple[list[int], Any]:
    commits = [0]

    def on_commit(_conn: Any) -> None:
        commits[0] += 1

    event.listen(store.engine, "commit", on_commit)
    return commits, on_commit


def test_the_purge_deletes_every_due_case_in_batches_and_nothing_else(db: Store) -> None:
    ann, bob = professional(db, "ann"), professional(db, "bob")
    due = [case_with(db, user, 4, completed=i % 2 == 0, idle_days=100) for i, user in enumerate([ann, bob] * 4)]
    fresh = [case_with(db, ann, 2, idle_days=89), case_with(db, bob, 1)]
    commits, listener = count_commits(db)
    purged = records.purge(db, 90, batch=3, pause=0)
    event.remove(db.engine, "commit", listener)

    assert sorted(purged) == sorted(c.code for c in due)
    assert commits[0] == 3                                                      # 3 + 3 + 2 cases
    assert sorted(c.code for c in db.list_cases(ann.id) + db.list_cases(bob.id)) == sorted(c.code for c in fresh)
    hashes = sorted(audit_hash(db.audit_key(), c) for c in purged)   # the codes left the audit log
    assert sorted(code for _, code, _ in audit_rows(db, "purge")) == hashes
    assert {(actor, detail) for actor, _, detail in audit_rows(db, "purge")} == {("retention", "inactive > 90 days")}
    with db.reading() as conn:                                                  # answers and logs went too
        assert conn.execute(text("SELECT count(*) FROM answers")).scalar_one() == 3
        assert conn.execute(text("SELECT count(*) FROM answer_log")).scalar_one() == 3
    assert records.purge(db, 90, batch=3, pause=0) == []


def test_a_dry_run_purge_lists_and_keeps(db: Store) -> None:
    ann = professional(db, "ann")
    old = case_with(db, ann, 1, idle_days=120)
    case_with(db, ann, 1)
    assert records.purge(db, 90, dry_run=True, batch=1) == [old.code]
    assert len(db.list_cases(ann.id)) == 2 and audit_rows(db, "purge") == []


def test_reminders_come_in_batches_once_each(db: Store) -> None:
    ann, quiet = professional(db, "ann"), professional(db, "quiet")
    records.set_reminders(db, quiet.id, False)
    due = [case_with(db, ann, 2, mode="quick" if i == 0 else "full", idle_days=2) for i in range(5)]
    case_with(db, ann, 2, mode="training", idle_days=2)                         # practice: never reminded
    case_with(db, ann, 2, completed=True, idle_days=2)                          # done
    case_with(db, ann, 2)                                                       # active today
    case_with(db, quiet, 2, idle_days=2)                                        # does not want them
    commits, listener = count_commits(db)
    sent = records.due_reminders(db, "console", timedelta(days=1), REAL_MODES, batch=2, pause=0)
    event.remove(db.engine, "commit", listener)

    assert sorted(r.code for r in sent) == sorted(c.code for c in due)
    assert {(r.external_id, r.lang) for r in sent} == {("ann", "nl")}
    assert commits[0] == 3                                                      # 2 + 2 + 1
    assert records.due_reminders(db, "console", timedelta(days=1), REAL_MODES, batch=2, pause=0) == []


# -- audit rows commit with their action -------------------------------------------------------
def test_a_deleted_case_and_its_audit_row_commit_together(db: Store) -> None:
    ann = professional(db, "ann")
    case = case_with(db, ann, 3)
    with failing_audit(db), pytest.raises(RuntimeError):
        db.delete_case(case.id, actor="console:ann", code=case.code)
    assert [c.code for c in db.list_cases(ann.id)] == [case.code] and audit_rows(db, "delete") == []

    with pytest.raises(RuntimeError), db.transaction() as tx:                  # a failure after both
        tx.delete_case(case.id)
        tx.audit("console:ann", "delete", case.code)
        raise RuntimeError("the reply could not be built")
    assert [c.code for c in db.list_cases(ann.id)] == [case.code] and audit_rows(db, "delete") == []

    assert db.delete_case(case.id, actor="console:ann", code=case.code)
    gone = audit_hash(db.audit_key(), case.code)   # an erased case's code leaves the audit log
    assert db.list_cases(ann.id) == [] and audit_rows(db, "delete") == [("console:ann", gone, None)]


def test_user_administration_and_its_audit_rows_commit_together(db: Store) -> None:
    def roles() -> dict[str, str]:
        return {u.external_id: u.role for u in accounts.list_users(db, "telegram")}

    def invites() -> int:
        with db.reading() as conn:
            return conn.execute(select(func.count()).select_from(Invite)).scalar_one()

    with failing_audit(db):
        with pytest.raises(RuntimeError):
            accounts.set_role(db, "telegram", "42", "trainee", actor="console:admin")
        assert roles() == {}
        with pytest.raises(RuntimeError):
            accounts.create_invite(db, "professional", actor="console:admin")
        assert invites() == 0
    assert audit_rows(db, "role") == [] and audit_rows(db, "invite") == []

    accounts.set_role(db, "telegram", "42", "trainee", actor="console:admin")
    with failing_audit(db):
        with pytest.raises(RuntimeError):
            accounts.set_role(db, "telegram", "42", "professional", actor="console:admin")
        with pytest.raises(RuntimeError):
            accounts.remove_user(db, "telegram", "42", actor="console:admin")
    assert roles() == {"42": "trainee"}
    assert audit_rows(db, "role") == [("console:admin", None, "telegram:42 = trainee")]

    accounts.create_invite(db, "professional", actor="console:admin")
    assert accounts.remove_user(db, "telegram", "42", actor="console:admin")
    assert roles() == {} and invites() == 1
    assert audit_rows(db, "role")[-1] == ("console:admin", None, "telegram:42 removed")
    assert audit_rows(db, "invite") == [("console:admin", None, "created for role professional")]


# -- one exception for every database error ----------------------------------------------------
def test_a_failed_read_is_storage_unavailable(db: Store) -> None:
    ann = professional(db, "ann")
    case = case_with(db, ann, 2)
    with db.transaction() as tx:
        for table in ("audit_log", "stats_counts", "notes", "answers"):
            tx.conn.execute(text(f"DROP TABLE {table}"))
    for read in (lambda: records.read_audit(db), lambda: records.read_counts(db), lambda: db.notes(case.id),
                 lambda: db.list_cases(ann.id)):
        with pytest.raises(StorageUnavailable):
            read()
    with pytest.raises(StorageUnavailable):                                     # a write fails the same way
        records.audit(db, "console:ann", "view", case.code)


def test_an_unreachable_database_is_storage_unavailable(db: Store, tmp_path: Any) -> None:
    url = ("sqlite:///" + str(tmp_path / "no" / "such" / "dir" / "lensbot.db") if db.engine.dialect.name == "sqlite"
           else "postgresql://postgres@127.0.0.1:1/test")
    gone = Store(url)
    for read in (lambda: accounts.list_users(gone, "telegram"), lambda: records.count_cases(gone),
                 lambda: records.read_audit(gone), lambda: gone.list_cases(1), lambda: gone.user("console", "x")):
        with pytest.raises(StorageUnavailable):
            read()
    gone.dispose()


# -- the schema --------------------------------------------------------------------------------
def test_the_index_migration_goes_down_and_up(db: Store) -> None:
    ann = professional(db, "ann")
    case = case_with(db, ann, 2)
    command.downgrade(migrate.alembic_config(db.engine), "0004")
    assert migrate.current_revision(db.engine) == "0004"
    db.upgrade()
    assert migrate.is_current(db.engine)
    assert [(c.code, c.answers) for c in db.list_cases(ann.id)] == [(case.code, 2)]


# -- one answer on PostgreSQL ------------------------------------------------------------------
def test_an_answer_costs_four_statements_on_postgresql(store: Store, lens: Lens) -> None:
    """BEGIN, lock and read the case, its answers, claim the update, one write, COMMIT: no ping."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("round trips are PostgreSQL's cost; SQLite runs in the process")
    service = IntakeService(store, lens)
    user = professional(store, "ann")
    reply = service.start(user, "nl")
    reply = service.handle(user, reply.case_code, "begin", step=reply.step)
    assert reply.prompt is not None
    option = reply.prompt.options[0].id                                                # the first age band
    statements: list[str] = []
    pings = [0]

    def keep(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split()[0].upper())

    real_ping = store.engine.dialect.do_ping

    def ping(dbapi_conn: Any) -> bool:
        pings[0] += 1
        return real_ping(dbapi_conn)

    store.engine.dialect.do_ping = ping                                               # type: ignore[method-assign]
    event.listen(store.engine, "before_cursor_execute", keep)
    try:
        after = service.handle(user, reply.case_code, "answer", option, step=reply.step, update=("test", 1))
    finally:
        event.remove(store.engine, "before_cursor_execute", keep)
        del store.engine.dialect.do_ping
    assert not after.refused, after
    assert statements == ["SELECT", "SELECT", "INSERT", "WITH"], statements
    assert pings[0] == 0
    with store.transaction() as tx:
        case = tx.load_case(reply.case_code)
        assert case is not None and case.step == after.step
        assert len(tx.answers(case.id)) == 1
    assert len(store.answer_log(case.id)) == 1


def test_a_connection_the_server_closed_is_replaced_without_an_error(store: Store) -> None:
    """No ping before each use: a pooled connection found dead at BEGIN is swapped for a fresh one."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server that can close a connection")
    ann = professional(store, "ann")
    with store.reading() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(store.engine.url)   # the server ends the pooled connection, as a restart does
    with admin.begin() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()
    assert store.list_cases(ann.id) == []                                       # no StorageUnavailable
    with store.reading() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid


def test_a_connection_that_asks_for_autocommit_gets_no_transaction(store: Store) -> None:
    """The explicit BEGIN of storage/db.py leaves a connection alone that asked for autocommit."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's BEGIN IMMEDIATE is for every transaction")
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM answers"))                    # refused inside a transaction block
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT now() = statement_timestamp()")).scalar_one() is False   # in a transaction
