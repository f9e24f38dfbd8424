"""The `lensbot` command line: chat, web, cases, assess, matrix check, dialog graph, db upgrade.

Exit codes: 0 success, 1 the thing checked is wrong (e.g. a broken lens), 2 bad usage or
bad input (unknown answer ids, a missing token).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from pathlib import Path

from bot.cli_sharing import add_commands as add_sharing_commands
from bot.cli_training import add_commands as add_training_commands
from bot.cli_training import write_chart
from bot.console import ConsoleChat, console_texts
from bot.terminal import render_block
from dialogs.app import (
    CASE_FORMAT_NAMES,
    ROLES,
    STATS_FORMAT_NAMES,
    BadInput,
    ConfigError,
    Door,
    File,
    LensError,
    Mode,
    NotAllowed,
    SchemaOutdated,
    Settings,
    Unavailable,
    User,
)
from dialogs.app.admin import console_actor
from dialogs.app.tools import check_lens

CONSOLE_CHANNEL = "console"
YES_WORDS = {"j", "ja", "y", "yes"}
DEFAULT_USERS_CHANNEL = "telegram"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    os.umask(0o077)   # every file lensbot creates (the SQLite database, its WAL, --out files) is 0600
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ConfigError, BadInput) as exc:
        print(f"lensbot: {exc}", file=sys.stderr)
        return 2
    except NotAllowed:
        print("lensbot: your role does not allow this (see `lensbot users list --channel console`)",
              file=sys.stderr)
        return 2
    except LensError as exc:
        print(f"lensbot: the lens is not valid ({len(exc.problems)} problems):", file=sys.stderr)
        for p in exc.problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    except (Unavailable, SchemaOutdated) as exc:
        print(f"lensbot: database problem: {exc}", file=sys.stderr)
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
    chat.add_argument("--mode", choices=list(Mode), default=Mode.FULL,
                      help="full intake, quick scan for school staff, or training on a vignette")
    chat.add_argument("--vignette", metavar="ID",
                      help="with --mode training only: this vignette (default: the one that exercises what you miss)")
    chat.add_argument("--round", choices=["kort", "volledig"], default=None,
                      help="training: kort (the leefgebieden the case touches, default) or volledig (the whole lens)")
    chat.set_defaults(func=cmd_chat)

    progress = sub.add_parser("progress", help="your training record: vignettes done, scores, signals missed")
    progress.add_argument("--lang", choices=["nl", "en"], default="nl")
    progress.add_argument("--chart", metavar="FILE.png", help="also write your scores per round as a PNG chart")
    progress.set_defaults(func=cmd_progress)

    cases = sub.add_parser("cases", help="list your cases (or delete one: lensbot cases delete CODE)")
    cases.add_argument("--format", choices=["text", "json"], default="text")
    cases.set_defaults(func=cmd_cases)
    cases_sub = cases.add_subparsers(metavar="ACTION")
    cdel = cases_sub.add_parser("delete", help="delete one of your cases with its answers, notes and log")
    cdel.add_argument("code")
    cdel.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    cdel.add_argument("--lang", choices=["nl", "en"], default="nl")
    cdel.set_defaults(func=cmd_cases_delete)

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

    web = sub.add_parser("web", help="run the web app (prints a setup link on an empty database)")
    web.add_argument("--host", metavar="H", help="address to listen on (default: LENSBOT_WEB_HOST or 127.0.0.1)")
    web.add_argument("--port", type=int, metavar="N", help="port (default: LENSBOT_WEB_PORT or 8080; 0: any free one)")
    web.set_defaults(func=cmd_web)

    users = sub.add_parser("users", help="users and roles of a channel (default: telegram)")
    users_sub = users.add_subparsers(metavar="ACTION")
    channel = argparse.ArgumentParser(add_help=False)
    channel.add_argument("--channel", default=DEFAULT_USERS_CHANNEL, metavar="NAME",
                         help=f"the channel the user id belongs to (default: {DEFAULT_USERS_CHANNEL})")
    add = users_sub.add_parser("add", help="give a user id a role", parents=[channel])
    add.add_argument("user_id", metavar="USER_ID", help="the user's id on that channel (Telegram: a number)")
    add.add_argument("--role", choices=list(ROLES), default="professional")
    add.set_defaults(func=cmd_users_add)
    lst = users_sub.add_parser("list", help="list the users of a channel and their roles", parents=[channel])
    lst.set_defaults(func=cmd_users_list)
    rm = users_sub.add_parser("remove", help="remove a user and their cases", parents=[channel])
    rm.add_argument("user_id", metavar="USER_ID")
    rm.set_defaults(func=cmd_users_remove)
    reset = users_sub.add_parser("reset-login", help="web: clear a login's password and second factor, and print "
                                                      "a one-hour link to set them again")
    reset.add_argument("login", metavar="LOGIN", help="the web login name")
    reset.set_defaults(func=cmd_users_reset_login)

    # `lensbot invite --role R` (no action) still creates one, as before the actions existed
    inv = sub.add_parser("invite", help="single-use invitation codes: create (the default), list, revoke")
    inv.add_argument("--role", choices=list(ROLES), default="professional")
    inv.add_argument("--days", type=int, default=7, help="days before the code expires")
    inv.set_defaults(func=cmd_invite)
    inv_sub = inv.add_subparsers(metavar="ACTION")
    inv_create = inv_sub.add_parser("create", help="create a single-use invitation code (the default)")
    inv_create.add_argument("--role", choices=list(ROLES), default="professional")
    inv_create.add_argument("--days", type=int, default=7, help="days before the code expires")
    inv_create.set_defaults(func=cmd_invite)
    inv_list = inv_sub.add_parser("list", help="open invitations (--all: used, revoked and expired ones too)")
    inv_list.add_argument("--all", action="store_true")
    inv_list.set_defaults(func=cmd_invite_list)
    inv_revoke = inv_sub.add_parser("revoke", help="revoke an open invitation")
    inv_revoke.add_argument("code", metavar="CODE")
    inv_revoke.set_defaults(func=cmd_invite_revoke)

    rep = sub.add_parser("report", help="a report of one of your cases: lens picture, PDF dossier, JSON or CSV")
    rep.add_argument("code")
    rep.add_argument("--format", choices=list(CASE_FORMAT_NAMES), default="pdf")
    rep.add_argument("--out", metavar="FILE", help="write here (default: standard output for json/csv)")
    rep.add_argument("--lang", choices=["nl", "en"], default="nl")
    rep.set_defaults(func=cmd_report)

    st = sub.add_parser("stats", help="the local picture of a closed month or quarter (counts below 5 shown as <5)")
    st.add_argument("--period", metavar="PERIOD",
                    help="a month (YYYY-MM) or quarter (YYYY-Qn) that has ended; default: the last quarter that ended")
    st.add_argument("--since", help=argparse.SUPPRESS)   # refused with a message: windows can be differenced
    st.add_argument("--until", help=argparse.SUPPRESS)
    st.add_argument("--format", choices=list(STATS_FORMAT_NAMES), default="text")
    st.add_argument("--out", metavar="FILE")
    st.add_argument("--lang", choices=["nl", "en"], default="nl")
    st.set_defaults(func=cmd_stats)

    pu = sub.add_parser("purge", help="delete cases inactive longer than LENSBOT_RETENTION_DAYS (default 90)")
    pu.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    pu.add_argument("--confirm", action="store_true",
                    help="run although the purge guard refused (after a clock jump, or too large a share of cases)")
    pu.set_defaults(func=cmd_purge)

    au = sub.add_parser("audit", help="the audit log: who viewed, reported, exported or deleted what")
    au.add_argument("--since", metavar="DATE", help="YYYY-MM-DD")
    au.set_defaults(func=cmd_audit)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(metavar="ACTION")
    up = db.add_parser("upgrade", help="run the Alembic migrations up to the newest schema")
    up.set_defaults(func=cmd_db_upgrade)
    add_sharing_commands(sub)   # share, shares, amend, export-case (bot/cli_sharing.py, issue 13)
    add_training_commands(sub)  # trainees (bot/cli_training.py, issue 14)
    return p


# -- shared set-up ------------------------------------------------------------------------
def door(args: argparse.Namespace) -> Door:
    """The door for this command: the settings from the environment, --database on top."""
    overrides = {"database_url": args.database} if args.database else {}
    return Door(Settings.load(**overrides), CONSOLE_CHANNEL)


def console_user(d: Door) -> User:
    """Whoever runs the command: the console user named like their login."""
    return d.operator(getpass.getuser())


# -- commands -----------------------------------------------------------------------------
def cmd_chat(args: argparse.Namespace) -> int:
    if (args.vignette or args.round) and args.mode != Mode.TRAINING:   # never a real intake on a made-up case
        print("lensbot: --vignette and --round are for practice only: add --mode training", file=sys.stderr)
        return 2
    d = door(args)
    if args.vignette and not d.cases.has_vignette(args.vignette):
        print(f"lensbot: unknown vignette '{args.vignette}' (known: {', '.join(d.cases.vignettes())})",
              file=sys.stderr)
        return 2
    return ConsoleChat(d.cases, console_user(d), args.lang).run(args.case, args.mode, args.vignette, args.round)


def cmd_progress(args: argparse.Namespace) -> int:
    d = door(args)
    for block in d.cases.progress(console_user(d), args.lang):
        print(render_block(block))
    if args.chart:
        write_chart(d, console_user(d), args.lang, args.chart)
    return 0


def cmd_cases(args: argparse.Namespace) -> int:
    d = door(args)
    cases = d.cases.list(console_user(d), limit=None)
    if args.format == "json":
        print(json.dumps([c.as_dict() for c in cases], indent=2, ensure_ascii=False))
        return 0
    if not cases:
        print(console_texts()("console.no_cases", "nl"))
        return 0
    header = f"{'code':8}  {'mode':5}  {'status':9}  {'answers':>7}  {'lens':18}  {'created':19}  updated"
    print(header)
    for c in cases:
        row = c.as_dict()
        print(f"{c.code:8}  {c.mode:5}  {c.status:9}  {c.answers:>7}  {c.lens_version:18}  "
              f"{row['created'][:19]:19}  {row['updated'][:19]}")
    return 0


def cmd_cases_delete(args: argparse.Namespace) -> int:
    """Delete one of the console user's cases, after a yes at the prompt (or --yes)."""
    d, t = door(args), console_texts()
    user = console_user(d)
    code = d.cases.deletable(user, args.code)
    if code is None:
        print(d.cases.not_found(args.code, args.lang), file=sys.stderr)
        return 1
    if not args.yes:
        print(t("console.delete_confirm", args.lang, code=code), end=" ", flush=True)
        if sys.stdin.readline().strip().lower() not in YES_WORDS:
            print(t("console.delete_cancelled", args.lang))
            return 1
    if d.cases.delete(user, code) is None:
        print(d.cases.not_found(code, args.lang), file=sys.stderr)
        return 1
    print(t("console.deleted", args.lang, code=code))
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    d = door(args)
    blocks = d.cases.summary(console_user(d), args.code, args.lang)
    if blocks is None:
        print(f"lensbot: case {args.code} not found", file=sys.stderr)
        return 2
    for block in blocks:
        print(render_block(block))
    return 0


def cmd_assess(args: argparse.Namespace) -> int:
    d = door(args)
    tools = d.tools
    try:
        raw = sys.stdin.read() if args.answers == "-" else Path(args.answers).read_text(encoding="utf-8")
        data = json.loads(raw)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"lensbot: cannot read {args.answers}: {exc}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"lensbot: {args.answers}:{exc.lineno}: not valid JSON: {exc.msg}", file=sys.stderr)
        return 2
    result = tools.assess(data, args.lang)
    if result.problems:
        print(f"lensbot: {args.answers}: {len(result.problems)} problem(s):", file=sys.stderr)
        for e in result.problems:
            print(f"  {e}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(result.data, indent=2, ensure_ascii=False))
    else:
        for block in result.blocks:
            print(render_block(block))
    return 0


def cmd_matrix_check(args: argparse.Namespace) -> int:
    settings = Settings.load()
    result = check_lens(args.path or settings.lens, args.contacts or settings.contacts)
    if not result.ok:
        if args.json:
            print(json.dumps({"ok": False, "problems": [p.__dict__ for p in result.problems]}, indent=2,
                             ensure_ascii=False))
        else:
            print(f"{len(result.problems)} problem(s) found:")
            for p in result.problems:
                print(p)
        return 1
    counts = result.counts
    if args.json:
        print(json.dumps({"ok": True, "counts": counts, "load_ms": round(result.load_ms, 1)}, indent=2))
    else:
        print(f"lens {result.lens_id} {counts['version']}: OK")
        for key in ("leefgebieden", "indicators", "signals", "red_flags", "contacts", "advice_rules"):
            print(f"  {key:13} {counts[key]}")
        print(f"  loaded in {result.load_ms:.0f} ms")
    return 0


def cmd_dialog_graph(args: argparse.Namespace) -> int:
    print(door(args).tools.dialog_graph())
    return 0


def cmd_telegram(args: argparse.Namespace) -> int:
    settings = door(args).settings
    settings.telegram_token()   # ConfigError (exit 2) before anything is opened
    if args.webhook_url and not settings.webhook_secret:
        raise ConfigError("LENSBOT_WEBHOOK_SECRET must be set for webhook mode")
    # Imported after the checks: python-telegram-bot costs ~0.3 s of CPU, a refusal need not pay for it.
    from telegram.error import InvalidToken

    from bot.telegram.app import CHANNEL, run

    d = Door(settings, CHANNEL)
    d.service   # noqa: B018 - the lens first (a broken one stops here), then the database
    try:
        run(settings, d, args.webhook_url, args.listen, args.port)
    except InvalidToken:   # its message holds the token: never let it reach a traceback
        print("lensbot: Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped? ask @BotFather)",
              file=sys.stderr)
        return 2
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    """The web channel (bot/web): the database is migrated on start (SQLite), as for the others."""
    from bot.web.server import run

    settings = door(args).settings
    try:
        run(settings, args.host or settings.web_host, settings.web_port if args.port is None else args.port)
    except OSError as exc:   # the address is in use, or not ours to listen on
        print(f"lensbot: cannot listen there: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def operator() -> str:
    """Who runs this command, as the audit log names them: console:<OS login>."""
    return console_actor(getpass.getuser())


def cmd_users_add(args: argparse.Namespace) -> int:
    user = door(args).admin.add_user(args.channel, args.user_id, args.role, by=operator())
    print(f"{user.channel} user {user.external_id}: {user.role} (given in the database)")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    rows = door(args).admin.list_users(args.channel)
    for u in rows:
        if u.lang is None:
            print(f"{u.external_id:>14}  {'admin':12}  -   (LENSBOT_ADMIN_IDS, not seen yet)")
            continue
        if u.admin_by_config:
            given = f"; {u.stored_role} in the database" if u.stored_role else ""
            note = f" (admin via LENSBOT_ADMIN_IDS{given})"
        elif u.role is None:
            note = " (no role: was admin via LENSBOT_ADMIN_IDS only)"
        else:
            note = ""
        print(f"{u.external_id:>14}  {u.role or '-':12}  {u.lang}{note}")
    if not rows:
        print(f"no users yet: add one with `lensbot users add USER_ID --role professional --channel {args.channel}`")
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    if not door(args).admin.remove_user(args.channel, args.user_id, by=operator()):
        print(f"lensbot: no {args.channel} user {args.user_id}", file=sys.stderr)
        return 2
    print(f"{args.channel} user {args.user_id} removed, with their cases and open invitations")
    return 0


def cmd_users_reset_login(args: argparse.Namespace) -> int:
    d = door(args)
    code = d.accounts.reset_login(args.login, by=operator())
    if code is None:
        print(f"lensbot: no web login {args.login}", file=sys.stderr)
        return 2
    print(f"web login {args.login.strip().lower()}: password, second factor and sessions cleared; "
          "valid for one hour, single use:")
    print(f"  {d.settings.web_base_url}/invite/{code}")
    return 0


def cmd_invite(args: argparse.Namespace) -> int:
    inv = door(args).admin.invite(args.role, by=operator(), days=args.days)
    print(f"invitation for role {inv.role}, valid until {inv.expires_at:%Y-%m-%d %H:%M} UTC, single use:")
    print(f"  code: {inv.code}")
    print(f"  send it as: /start {inv.code}   or the link https://t.me/<your_bot>?start={inv.code}")
    return 0


def cmd_invite_list(args: argparse.Namespace) -> int:
    rows = door(args).admin.invites(by=operator(), everything=args.all)
    if not rows:
        print("no open invitations" if not args.all else "no invitations")
        return 0
    print(f"{'code':16}  {'role':12}  {'status':8}  {'made by':24}  {'created':16}  expires")
    for i in rows:
        print(f"{i.code:16}  {i.role:12}  {i.status:8}  {i.issuer:24}  {i.created_at:%Y-%m-%d %H:%M}  "
              f"{i.expires_at:%Y-%m-%d %H:%M}")
    return 0


def cmd_invite_revoke(args: argparse.Namespace) -> int:
    if not door(args).admin.revoke_invite(args.code, by=operator()):
        print(f"lensbot: no open invitation {args.code}", file=sys.stderr)
        return 2
    print(f"invitation {args.code} revoked")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    d = door(args)
    file = d.reports.case(console_user(d), args.code, args.format, args.lang)
    if file is None:
        print(f"lensbot: case {args.code} not found", file=sys.stderr)
        return 2
    return write_output(file, args.out)


def write_output(file: File, out: str | None) -> int:
    """Write a file to --out (mode 0600, never through a symlink), or text to standard output;
    binary data needs --out."""
    if out:
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        except OSError as exc:   # ELOOP: --out is a symbolic link
            why = "it is a symbolic link" if Path(out).is_symlink() else exc.strerror
            print(f"lensbot: cannot write {out}: {why}", file=sys.stderr)
            return 2
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)   # an existing file keeps no wider mode
            f.write(file.data)
        print(f"written: {out} ({len(file.data)} bytes)", file=sys.stderr)
    elif file.binary:
        print("lensbot: this format is binary; give --out FILE", file=sys.stderr)
        return 2
    else:
        sys.stdout.write(file.data.decode())
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    if args.since or args.until:
        print("lensbot: --since/--until are no longer offered: two windows could be subtracted to reveal a "
              "small count. The local picture is published per closed month or quarter: "
              "use --period YYYY-MM or --period YYYY-Qn.", file=sys.stderr)
        return 2
    d = door(args)
    result = d.reports.local_picture(console_user(d), args.format, args.lang, args.period)
    if isinstance(result, list):
        text = "\n".join(render_block(b) for b in result) + "\n"
        return write_output(File("lokaal-beeld.txt", "text/plain", text.encode(), False), args.out)
    return write_output(result, args.out)


def cmd_purge(args: argparse.Namespace) -> int:
    result = door(args).admin.purge(dry_run=args.dry_run, confirm=args.confirm)
    if result.refused and not args.dry_run:
        print("lensbot: the purge did not run, nothing was deleted:", file=sys.stderr)
        for reason in result.refused:
            print(f"  {reason}", file=sys.stderr)
        print("Check the server clock; if the purge is right, run: lensbot purge --confirm", file=sys.stderr)
        return 1
    for reason in result.refused:
        print(f"note: without --confirm the purge would not run: {reason}")
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {len(result.codes)} case(s) inactive for more than {result.days} days")
    for code in result.codes if args.dry_run else []:
        print(f"  {code}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    for row in door(args).admin.audit(args.since):
        print(f"{row.at:%Y-%m-%d %H:%M:%S}  {row.actor:24}  {row.action:8}  {row.case_code or '-':8}  "
              f"{row.detail or ''}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    door(args).upgrade_database()
    print("database schema is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
