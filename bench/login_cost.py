"""What signing in and a session check cost (dialogs/app/accounts.py), on SQLite and PostgreSQL.

- hash, verify   one Argon2id hash / verification with argon2-cffi's default parameters (what
                 LENSBOT_PASSWORD_HASHING=default gives): the price of a registration and a sign-in
- login          Accounts.login with the right password, end to end (throttle check, verify, audit)
- session        Accounts.session(token): what every web request pays before its own work
- floor          a primary-key lookup through the same Store.reading() path, measured in the same run

Medians and p90 over --runs; the machine is printed first (it is shared and noisy).
Run: .venv/bin/python bench/login_cost.py [--runs 200] [--logins 20] [--db sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from inproc import PgSchema, median, percentile, pg_available, print_machine
from sqlalchemy import select

from dialogs.app import Door, Settings
from dialogs.app.accounts import hasher
from storage.models import User
from storage.repo import Store

PASSWORD = "paarden eten graag hooi"


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def show(name: str, ms: list[float]) -> None:
    print(f"  {name:10} median {median(ms):8.3f} ms   p90 {percentile(ms, 90):8.3f} ms   (n={len(ms)})")


def run(url: str, runs: int, logins: int) -> None:
    store = Store(url)
    store.upgrade()
    door = Door(Settings(database_url=url), "web", store=store)
    accounts = door.accounts
    user = accounts.register(door.admin.invite("trainee").code, "bench", PASSWORD, "nl")
    show("login", timed(lambda: accounts.login("bench", PASSWORD, "127.0.0.1"), logins))
    token = accounts.promote(accounts.open().token, user, "active").token
    show("session", timed(lambda: accounts.session(token), runs))

    def floor() -> None:
        with store.reading() as conn:
            conn.execute(select(User.id).where(User.id == user.id)).first()

    show("floor", timed(floor, runs))
    store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--logins", type=int, default=20)
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    print_machine("login_cost.py")
    argon = hasher("default")
    digest = argon.hash(PASSWORD)
    print("argon2id, argon2-cffi defaults (RFC 9106 low-memory: t=3, m=64 MiB, p=4)")
    show("hash", timed(lambda: argon.hash(PASSWORD), args.logins))
    show("verify", timed(lambda: argon.verify(digest, PASSWORD), args.logins))
    if "sqlite" in args.db:
        with tempfile.TemporaryDirectory() as tmp:
            print("SQLite")
            run(f"sqlite:///{Path(tmp) / 'bench.db'}", args.runs, args.logins)
    if "postgresql" in args.db:
        url = pg_available()
        if url is None:
            print("PostgreSQL: no server, skipped")
            return
        with PgSchema(url) as schema_url:
            print("PostgreSQL")
            run(schema_url, args.runs, args.logins)


if __name__ == "__main__":
    main()
