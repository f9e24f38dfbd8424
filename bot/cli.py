"""The `lensbot` command line: chat, cases, assess, matrix check, dialog graph, db upgrade.

Exit codes: 0 success, 1 the thing checked is wrong (e.g. a broken lens), 2 bad usage or
bad input (unknown answer ids, a missing token).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from bot.console import ConsoleChat, console_texts
from bot.terminal import render_block
from dialogs.access import admin_ids_from_env
from dialogs.intake import IntakeDialog
from dialogs.reports.service import Reports
from dialogs.service import IntakeService
from dialogs.summary import progress_blocks, summary_blocks
from dialogs.texts import normalise_lang
from matrix.export import assessment_dict
from matrix.lens import Lens
from matrix.loader import LensError, load_lens
from matrix.scoring import assess, normalise_answer
from storage import accounts, records
from storage.accounts import ROLES
from storage.repo import SchemaOutdated, StorageUnavailable, Store

CONSOLE_CHANNEL = "console"
TELEGRAM_CHANNEL = "telegram"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LensError as exc:
        print(f"lensbot: the lens is not valid ({len(exc.problems)} problems):", file=sys.stderr)
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    except (StorageUnavailable, SchemaOutdated) as exc:
        print(f"lensbot: database problem: {exc}", file=sys.stderr)
        return 1
    except DBAPIError as exc:   # a read outside a transaction wrapper: still one line, no traceback
        print(f"lensbot: database problem: {exc.orig}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lensbot", description="Signals of criminal exploitation through the CCV lens.")
    p.add_argument("--database", metavar="URL", help="database URL (default: LENSBOT_DATABASE_URL or sqlite:///lensbot.db)")
    sub = p.add_subparsers(metavar="COMMAND")

    chat = sub.add_parser("chat", help="the intake in this terminal")
    chat.add_argument("--lang", choices=["nl", "en"], default="nl")
    chat.add_argument("--case", metavar="CODE", help="resume this case where it stopped")
    chat.add_argument("--mode", choices=["full", "quick", "training"], default="full",
                      help="full intake, quick scan for school staff, or training on a vignette")
    chat.add_argument("--vignette", metavar="ID", help="training: this vignette (default: the next one not done)")
    chat.set_defaults(func=cmd_chat)

    progress = sub.add_parser("progress", help="your training record: vignettes done, scores, signals missed")
    progress.add_argument("--lang", choices=["nl", "en"], default="nl")
    progress.set_defaults(func=cmd_progress)

    cases = sub.add_parser("cases", help="list your cases")
    cases.add_argument("--format", choices=["text", "json"], default="text")
    cases.set_defaults(func=cmd_cases)

    summ = sub.add_parser("summary", help="show the summary of one of your cases")
    summ.add_argument("code")
    summ.add_argument("--lang", choices=["nl", "en"], default="nl")
    summ.set_defaults(func=cmd_summary)

    ass = sub.add_parser("assess", help="assess answers from a JSON file (signal id -> yes/no/unknown)")
    ass.add_argument("answers", metavar="ANSWERS.json", help="JSON file, or - for standard input")
    ass.add_argument("--format", choices=["text", "json"], default="text")
    ass.add_argument("--lang", choices=["nl", "en"], default="nl")
    ass.set_defaults(func=cmd_assess)

    matrix = sub.add_parser("matrix", help="the lens data").add_subparsers(metavar="ACTION")
    check = matrix.add_parser("check", help="validate a lens and print its counts")
    check.add_argument("path", nargs="?", help="lens folder or file (default: LENSBOT_LENS or the bundled lens)")
    check.add_argument("--contacts", help="a local contacts file to validate with it (default: LENSBOT_CONTACTS)")
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_matrix_check)

    dialog = sub.add_parser("dialog", help="the dialog machines").add_subparsers(metavar="ACTION")
    graph = dialog.add_parser("graph", help="print the intake machine as a Mermaid diagram")
    graph.set_defaults(func=cmd_dialog_graph)

    tg = sub.add_parser("telegram", help="run the Telegram bot (long polling, or a webhook server)")
    tg.add_argument("--webhook-url", metavar="URL", help="public HTTPS URL Telegram posts updates to")
    tg.add_argument("--listen", default="127.0.0.1", metavar="HOST", help="webhook server address")
    tg.add_argument("--port", type=int, default=8443, metavar="N", help="webhook server port")
    tg.set_defaults(func=cmd_telegram)

    users = sub.add_parser("users", help="Telegram users and roles").add_subparsers(metavar="ACTION")
    add = users.add_parser("add", help="give a Telegram user id a role")
    add.add_argument("telegram_id", type=int)
    add.add_argument("--role", choices=list(ROLES), default="professional")
    add.set_defaults(func=cmd_users_add)
    lst = users.add_parser("list", help="list Telegram users and their roles")
    lst.set_defaults(func=cmd_users_list)
    rm = users.add_parser("remove", help="remove a Telegram user and their cases")
    rm.add_argument("telegram_id", type=int)
    rm.set_defaults(func=cmd_users_remove)

    inv = sub.add_parser("invite", help="create a single-use invitation code")
    inv.add_argument("--role", choices=list(ROLES), default="professional")
    inv.add_argument("--days", type=int, default=7, help="days before the code expires")
    inv.set_defaults(func=cmd_invite)

    rep = sub.add_parser("report", help="a report of one of your cases: lens picture, PDF dossier, JSON or CSV")
    rep.add_argument("code")
    rep.add_argument("--format", choices=["png", "pdf", "json", "csv"], default="pdf")
    rep.add_argument("--out", metavar="FILE", help="write here (default: standard output for json/csv)")
    rep.add_argument("--lang", choices=["nl", "en"], default="nl")
    rep.set_defaults(func=cmd_report)

    st = sub.add_parser("stats", help="the local picture over completed cases (counts below 5 shown as <5)")
    st.add_argument("--since", metavar="DATE", help="first month, YYYY-MM or YYYY-MM-DD")
    st.add_argument("--until", metavar="DATE", help="last month, YYYY-MM or YYYY-MM-DD")
    st.add_argument("--format", choices=["text", "json", "csv", "png"], default="text")
    st.add_argument("--out", metavar="FILE")
    st.add_argument("--lang", choices=["nl", "en"], default="nl")
    st.set_defaults(func=cmd_stats)

    pu = sub.add_parser("purge", help="delete cases inactive longer than LENSBOT_RETENTION_DAYS (default 90)")
    pu.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    pu.set_defaults(func=cmd_purge)

    au = sub.add_parser("audit", help="the audit log: who viewed, reported, exported or deleted what")
    au.add_argument("--since", metavar="DATE", help="YYYY-MM-DD")
    au.set_defaults(func=cmd_audit)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(metavar="ACTION")
    up = db.add_parser("upgrade", help="run the Alembic migrations up to the newest schema")
    up.set_defaults(func=cmd_db_upgrade)
    return p


# -- shared set-up ------------------------------------------------------------------------
def open_store(args: argparse.Namespace) -> Store:
    store = Store(args.database)
    store.ensure_schema(auto_upgrade=False)
    return store


def console_user(store: Store) -> Any:
    return store.user(CONSOLE_CHANNEL, getpass.getuser(), create_role="professional")


# -- commands -----------------------------------------------------------------------------
def cmd_chat(args: argparse.Namespace) -> int:
    lens = load_lens()
    store = open_store(args)
    service = IntakeService(store, lens)
    if args.vignette and args.vignette not in lens.vignettes:
        print(f"lensbot: unknown vignette '{args.vignette}' (known: {', '.join(lens.vignettes)})", file=sys.stderr)
        return 2
    return ConsoleChat(service, console_user(store), args.lang).run(args.case, args.mode, args.vignette)


def cmd_progress(args: argparse.Namespace) -> int:
    lens = load_lens()
    store = open_store(args)
    service = IntakeService(store, lens)
    for block in progress_blocks(lens, service.progress(console_user(store)), args.lang):
        print(render_block(block))
    return 0


def cmd_cases(args: argparse.Namespace) -> int:
    store = open_store(args)
    cases = store.list_cases(console_user(store).id)
    if args.format == "json":
        print(json.dumps([c.as_dict() for c in cases], indent=2, ensure_ascii=False))
        return 0
    if not cases:
        print(console_texts()("console.no_cases", "nl"))
        return 0
    header = f"{'code':8}  {'mode':5}  {'status':9}  {'answers':>7}  {'lens':18}  {'created':19}  updated"
    print(header)
    for c in cases:
        d = c.as_dict()
        print(f"{c.code:8}  {c.mode:5}  {c.status:9}  {c.answers:>7}  {c.lens_version:18}  "
              f"{d['created'][:19]:19}  {d['updated'][:19]}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    lens = load_lens()
    store = open_store(args)
    service = IntakeService(store, lens)
    blocks = service.summary(console_user(store), args.code, args.lang)
    if blocks is None:
        print(f"lensbot: case {args.code} not found", file=sys.stderr)
        return 2
    for block in blocks:
        print(render_block(block))
    return 0


def cmd_assess(args: argparse.Namespace) -> int:
    lens = load_lens()
    try:
        raw = sys.stdin.read() if args.answers == "-" else Path(args.answers).read_text(encoding="utf-8")
        data = json.loads(raw)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"lensbot: cannot read {args.answers}: {exc}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"lensbot: {args.answers}:{exc.lineno}: not valid JSON: {exc.msg}", file=sys.stderr)
        return 2
    answers, errors = parse_answers(lens, data)
    if errors:
        print(f"lensbot: {args.answers}: {len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print(f"  {e}", file=sys.stderr)
        return 2
    result = assess(lens, answers)
    lang = normalise_lang(args.lang)
    if args.format == "json":
        print(json.dumps(assessment_dict(lens, result, lang), indent=2, ensure_ascii=False))
    else:
        for block in summary_blocks(lens, result, lang):
            print(render_block(block))
    return 0


# Ways people write an age group in a JSON file; the lens's own band ids are accepted as they are.
AGE_ALIASES = {"minderjarig": "minor", "child": "minor", "kind": "minor", "jongere": "minor",
               "volwassen": "adult", "volwassene": "adult", "onbekend": "unknown", "weet ik niet": "unknown",
               "0-11": "a0_11", "<12": "a0_11", "12-17": "a12_17", "18-22": "a18_22", "23+": "a23_up"}


def parse_answers(lens: Lens, data: Any) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(data, dict):
        return {}, ['expected a JSON object such as {"schulden": "yes", "rf_direct_gevaar": "no"}']
    answers: dict[str, Any] = {}
    errors: list[str] = []
    for key, value in data.items():
        if key in ("age_group", lens.age_item):   # "minor", "adult", "unknown" or an age band such as a12_17
            choices = sorted({"minor", "adult", "unknown", *lens.age_bands})
            age = AGE_ALIASES.get(value.strip().lower(), value.strip().lower()) if isinstance(value, str) else None
            if age not in choices:
                errors.append(f"'{key}': unknown age {value!r} (use {', '.join(choices)})")
            else:
                answers[lens.age_item or key] = age
            continue
        if key not in lens.question_index:  # signals, red flags and the quick scan's gate
            errors.append(f"unknown signal or red flag id '{key}'")
            continue
        answer = normalise_answer(value)
        if answer is None:
            errors.append(f"'{key}': unknown answer {value!r} (use yes/no/unknown or ja/nee/onbekend)")
            continue
        answers[key] = answer
    return answers, errors


def cmd_matrix_check(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    try:
        lens = load_lens(args.path, args.contacts)
    except LensError as exc:
        if args.json:
            print(json.dumps({"ok": False, "problems": [p.__dict__ for p in exc.problems]}, indent=2,
                             ensure_ascii=False))
        else:
            print(f"{len(exc.problems)} problem(s) found:")
            for p in exc.problems:
                print(p)
        return 1
    elapsed_ms = (time.perf_counter() - start) * 1000
    counts = lens.counts()
    if args.json:
        print(json.dumps({"ok": True, "counts": counts, "load_ms": round(elapsed_ms, 1)}, indent=2))
    else:
        print(f"lens {lens.meta.id} {counts['version']}: OK")
        for key in ("leefgebieden", "indicators", "signals", "red_flags", "contacts", "advice_rules"):
            print(f"  {key:13} {counts[key]}")
        print(f"  loaded in {elapsed_ms:.0f} ms")
    return 0


def cmd_dialog_graph(args: argparse.Namespace) -> int:
    print(IntakeDialog(load_lens()).mermaid())
    return 0


def cmd_telegram(args: argparse.Namespace) -> int:
    from telegram.error import InvalidToken

    from bot.telegram.app import ConfigError, Settings, run

    try:
        settings = Settings.from_env()
        if args.webhook_url and not settings.webhook_secret:
            raise ConfigError("LENSBOT_WEBHOOK_SECRET must be set for webhook mode")
    except ConfigError as exc:
        print(f"lensbot: {exc}", file=sys.stderr)
        return 2
    lens = load_lens()
    store = open_store(args)
    try:
        run(settings, IntakeService(store, lens), store, args.webhook_url, args.listen, args.port)
    except InvalidToken:   # its message holds the token: never let it reach a traceback
        print("lensbot: Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped? ask @BotFather)",
              file=sys.stderr)
        return 2
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    user = accounts.set_role(open_store(args), TELEGRAM_CHANNEL, str(args.telegram_id), args.role)
    print(f"telegram user {user.external_id}: {user.role}")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    admins = admin_ids_from_env()
    rows = accounts.list_users(open_store(args), TELEGRAM_CHANNEL)
    for u in rows:
        note = " (admin via LENSBOT_ADMIN_IDS)" if u.external_id in admins else ""
        print(f"{u.external_id:>14}  {u.role:12}  {u.lang}{note}")
    for missing in sorted(admins - {u.external_id for u in rows}):
        print(f"{missing:>14}  {'admin':12}  -   (LENSBOT_ADMIN_IDS, not seen yet)")
    if not rows and not admins:
        print("no users yet: add one with `lensbot users add TELEGRAM_ID --role professional`")
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    if not accounts.remove_user(open_store(args), TELEGRAM_CHANNEL, str(args.telegram_id)):
        print(f"lensbot: no telegram user {args.telegram_id}", file=sys.stderr)
        return 2
    print(f"telegram user {args.telegram_id} removed, with their cases")
    return 0


def cmd_invite(args: argparse.Namespace) -> int:
    from datetime import timedelta

    inv = accounts.create_invite(open_store(args), args.role, ttl=timedelta(days=args.days))
    print(f"invitation for role {inv.role}, valid until {inv.expires_at:%Y-%m-%d %H:%M} UTC, single use:")
    print(f"  code: {inv.code}")
    print(f"  send it as: /start {inv.code}   or the link https://t.me/<your_bot>?start={inv.code}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    store = open_store(args)
    reports = Reports(IntakeService(store, load_lens()))
    data = reports.case_report(console_user(store), args.code, args.format, args.lang)
    if data is None:
        print(f"lensbot: case {args.code} not found", file=sys.stderr)
        return 2
    return write_output(data, args.out, binary=args.format in ("png", "pdf"))


def write_output(data: bytes, out: str | None, binary: bool) -> int:
    if out:
        Path(out).write_bytes(data)
        print(f"written: {out} ({len(data)} bytes)", file=sys.stderr)
    elif binary:
        print("lensbot: this format is binary; give --out FILE", file=sys.stderr)
        return 2
    else:
        sys.stdout.write(data.decode())
    return 0


def month_arg(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value):
        raise SystemExit(f"lensbot: '{value}' is not a date (use YYYY-MM or YYYY-MM-DD)")
    return value[:7]


def cmd_stats(args: argparse.Namespace) -> int:
    store = open_store(args)
    reports = Reports(IntakeService(store, load_lens()))
    since, until = month_arg(args.since), month_arg(args.until)
    result = reports.stats(args.format, args.lang, since, until, who=f"console:{getpass.getuser()}")
    if isinstance(result, list):
        text = "\n".join(render_block(b) for b in result) + "\n"
        return write_output(text.encode(), args.out, binary=False)
    return write_output(result, args.out, binary=args.format == "png")


def cmd_purge(args: argparse.Namespace) -> int:
    try:
        days = records.retention_days(os.environ.get("LENSBOT_RETENTION_DAYS"))
    except ValueError as exc:
        print(f"lensbot: {exc}", file=sys.stderr)
        return 2
    codes = records.purge(open_store(args), days, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {len(codes)} case(s) inactive for more than {days} days")
    for code in codes if args.dry_run else []:
        print(f"  {code}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since).replace(tzinfo=UTC)
        except ValueError:
            print(f"lensbot: '{args.since}' is not a date (YYYY-MM-DD)", file=sys.stderr)
            return 2
    for row in records.read_audit(open_store(args), since):
        print(f"{row.at:%Y-%m-%d %H:%M:%S}  {row.actor:24}  {row.action:8}  {row.case_code or '-':8}  "
              f"{row.detail or ''}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    store = Store(args.database)
    store.upgrade()
    print("database schema is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
