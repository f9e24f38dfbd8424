"""The `lensbot` command line: chat, web, cases, assess, matrix check, dialog graph, db upgrade.

Exit codes: 0 success, 1 the thing checked is wrong (a broken lens, the database), 2 bad usage or
bad input (unknown answer ids, a missing token, a bad setting), 130 interrupted (Ctrl-C), 141 the
reader of the output went away (`| head`). Every error is one line on standard error, in the
language of --lang or LANG; help texts come from bot/texts.yaml in the same language.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import os
import sys
import textwrap
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from bot.cli_sharing import add_commands as add_sharing_commands
from bot.cli_training import add_commands as add_training_commands
from bot.cli_training import write_chart
from bot.console import ConsoleChat, console_texts
from bot.terminal import render_block, width
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
from dialogs.app.cases import Cases
from dialogs.app.tools import check_lens
from dialogs.texts import DEFAULT_LANG, LANGUAGES

CONSOLE_CHANNEL = "console"
YES_WORDS = {"j", "ja", "y", "yes"}
DEFAULT_USERS_CHANNEL = "telegram"
LOCAL_ZONE = ZoneInfo("Europe/Amsterdam")   # times are stored in UTC and shown as people here read them


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    lang = cli_lang(argv)
    translate_argparse(lang)
    parser = build_parser(lang)
    args = parser.parse_args(argv)
    os.umask(0o077)   # every file lensbot creates (the SQLite database, its WAL, --out files) is 0600
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    lang = getattr(args, "lang", None) or lang
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:   # `lensbot summary CODE | head`: the reader stopped; nothing to report
        quiet_stdout()
        return 141
    except KeyboardInterrupt:
        say_error(t("cli.interrupted", lang))
        return 130
    except ConfigError as exc:
        say_error(t("cli.setting", lang, error=exc))
        return 2
    except BadInput as exc:
        say_error(t("cli.bad_input", lang, error=exc))
        return 2
    except NotAllowed:
        say_error(t("cli.not_allowed", lang))
        return 2
    except LensError as exc:
        say_error(lens_error(exc, lang))
        return 1
    except SchemaOutdated:
        say_error(t("cli.schema", lang, location=where(args)))
        return 1
    except Unavailable as exc:
        say_error(t("cli.database", lang, location=where(args), error=exc))
        return 1
    except Exception as exc:   # one line for the person, never a traceback (nor its text: it may hold content)
        say_error(t("cli.unexpected", lang, error=type(exc).__name__))
        return 1


def t(key: str, lang: str, **params: object) -> str:
    return console_texts()(key, lang, **params)


def say_error(text: str) -> None:
    """One line on standard error, whatever the message held (a driver's message may span lines)."""
    with contextlib.suppress(BrokenPipeError, OSError):
        print(" ".join(str(text).split()), file=sys.stderr, flush=True)


def quiet_stdout() -> None:
    """After a closed pipe: point standard output at /dev/null so Python's own flush at exit stays quiet."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def where(args: argparse.Namespace) -> str:
    """Where the database is, for a message (no password)."""
    try:
        return door_settings(args).database_location
    except ConfigError:
        return "LENSBOT_DATABASE_URL"


def lens_error(exc: LensError, lang: str) -> str:
    """A broken lens in one line: how many problems (1 probleem, 3 problemen), the first, and where
    the lens came from when LENSBOT_LENS chose it."""
    count = len(exc.problems)
    counted = t("cli.problems_one", lang) if count == 1 else t("cli.problems_many", lang, count=count)
    try:
        lens = Settings.load().lens
    except ConfigError:
        lens = None
    place = t("cli.lens_where", lang, path=lens) if lens else ""
    first = exc.problems[0] if exc.problems else "?"
    more = t("cli.lens_more", lang) if count > 1 else ""
    return t("cli.lens_error", lang, where=place, count=counted, first=first, more=more)


def cli_lang(argv: list[str]) -> str:
    """The language of help and messages: --lang if given, else LANG (en_* is English), else Dutch."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang", choices=LANGUAGES)
    try:
        known, _ = early.parse_known_args(argv)
    except SystemExit:
        known = argparse.Namespace(lang=None)
    if known.lang:
        return str(known.lang)
    locale = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "en" if locale.lower().startswith("en") else DEFAULT_LANG


ARGPARSE_WORDS = {   # argparse's own English strings -> our catalogue keys
    "usage: ": "argparse.usage", "positional arguments": "argparse.positional", "options": "argparse.options",
    "show this help message and exit": "argparse.help",
    "invalid choice: %(value)r (choose from %(choices)s)": "argparse.invalid_choice",
    "the following arguments are required: %s": "argparse.required",
    "unrecognized arguments: %s": "argparse.unrecognized", "expected one argument": "argparse.expected_one",
    "argument %(argument_name)s: %(message)s": "argparse.argument",
    "invalid %(type)s value: %(value)r": "argparse.invalid_type",
    "ambiguous option: %(option)s could match %(matches)s": "argparse.ambiguous",
    "not allowed with argument %s": "argparse.not_allowed_with",
    "one of the arguments %s is required": "argparse.one_required",
}


def translate_argparse(lang: str) -> None:
    """argparse's own words ("usage:", "options", its error messages) in the chosen language: argparse
    looks them up through its module-level gettext function at the moment it prints."""
    def words(text: str) -> str:
        key = ARGPARSE_WORDS.get(text)
        return t(key, lang) if key else text
    argparse._ = words  # type: ignore[attr-defined]


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors in the chosen language: "lensbot: ... (hulp: lensbot chat --help)"."""

    lang = DEFAULT_LANG

    def error(self, message: str) -> NoReturn:
        say_error(t("cli.usage", self.lang, error=message, prog=self.prog))
        raise SystemExit(2)


def build_parser(lang: str = DEFAULT_LANG) -> argparse.ArgumentParser:
    def h(key: str) -> str:
        return t(f"help.{key}", lang)

    Parser.lang = lang
    raw = argparse.RawDescriptionHelpFormatter
    p = Parser(prog="lensbot", description=textwrap.fill(h("description"), width()), epilog=h("examples"),
               formatter_class=raw)
    p.add_argument("--version", action="version", version=f"lensbot {lensbot_version()}", help=h("version"))
    p.add_argument("--database", metavar="URL", help=h("database"))
    p.add_argument("--lang", choices=LANGUAGES, default=lang, help=h("lang"))
    language = Parser(add_help=False)   # --lang after the command too: lensbot cases --lang en
    language.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS, help=h("lang"))
    sub = p.add_subparsers(metavar="COMMAND", parser_class=Parser)

    def command(name: str, key: str, parent: Any = sub, **kwargs: Any) -> argparse.ArgumentParser:
        return parent.add_parser(name, help=h(key), description=h(key), parents=[language], **kwargs)

    chat = command("chat", "chat", epilog=h("chat_examples"), formatter_class=raw)
    chat.add_argument("--case", metavar="CODE", help=h("case"))
    chat.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.FULL.value, help=h("mode"))
    chat.add_argument("--vignette", metavar="ID", help=h("vignette"))
    chat.add_argument("--round", choices=["kort", "volledig"], default=None, help=h("round"))
    chat.set_defaults(func=cmd_chat)

    progress = command("progress", "progress")
    progress.add_argument("--chart", metavar="FILE.png", help=h("chart"))
    progress.set_defaults(func=cmd_progress)

    cases = command("cases", "cases")
    cases.add_argument("--format", choices=["text", "json"], default="text", help=h("format_list"))
    cases.set_defaults(func=cmd_cases)
    cases_sub = cases.add_subparsers(metavar="ACTION", parser_class=Parser)
    cdel = command("delete", "delete", cases_sub)
    cdel.add_argument("code", help=h("code"))
    cdel.add_argument("--yes", action="store_true", help=h("yes"))
    cdel.set_defaults(func=cmd_cases_delete)

    summ = command("summary", "summary")
    summ.add_argument("code", help=h("code"))
    summ.set_defaults(func=cmd_summary)

    ass = command("assess", "assess")
    ass.add_argument("answers", metavar="ANSWERS.json", help=h("answers"))
    ass.add_argument("--format", choices=["text", "json"], default="text", help=h("format_list"))
    ass.set_defaults(func=cmd_assess)

    matrix = command("matrix", "matrix").add_subparsers(metavar="ACTION", parser_class=Parser)
    check = command("check", "check", matrix)
    check.add_argument("path", nargs="?", help=h("lens_path"))
    check.add_argument("--contacts", help=h("contacts"))
    check.add_argument("--json", action="store_true", help=h("json"))
    check.set_defaults(func=cmd_matrix_check)

    dialog = command("dialog", "dialog").add_subparsers(metavar="ACTION", parser_class=Parser)
    command("graph", "graph", dialog).set_defaults(func=cmd_dialog_graph)

    tg = command("telegram", "telegram")
    tg.add_argument("--webhook-url", metavar="URL", help=h("webhook_url"))
    tg.add_argument("--listen", default="127.0.0.1", metavar="HOST", help=h("listen"))
    tg.add_argument("--port", type=int, default=8443, metavar="N", help=h("tg_port"))
    tg.set_defaults(func=cmd_telegram)

    web = command("web", "web")
    web.add_argument("--host", metavar="H", help=h("host"))
    web.add_argument("--port", type=int, metavar="N", help=h("web_port"))
    web.set_defaults(func=cmd_web)

    users = command("users", "users")
    users_sub = users.add_subparsers(metavar="ACTION", parser_class=Parser)
    channel = Parser(add_help=False)
    channel.add_argument("--channel", default=DEFAULT_USERS_CHANNEL, metavar="NAME", help=h("channel"))
    add = users_sub.add_parser("add", help=h("users_add"), description=h("users_add"), parents=[channel, language])
    add.add_argument("user_id", metavar="USER_ID", help=h("user_id"))
    add.add_argument("--role", choices=list(ROLES), default="professional", help=h("role"))
    add.set_defaults(func=cmd_users_add)
    lst = users_sub.add_parser("list", help=h("users_list"), description=h("users_list"), parents=[channel, language])
    lst.set_defaults(func=cmd_users_list)
    rm = users_sub.add_parser("remove", help=h("users_remove"), description=h("users_remove"),
                              parents=[channel, language])
    rm.add_argument("user_id", metavar="USER_ID", help=h("user_id"))
    rm.set_defaults(func=cmd_users_remove)
    reset = command("reset-login", "reset_login", users_sub)
    reset.add_argument("login", metavar="LOGIN", help=h("login"))
    reset.set_defaults(func=cmd_users_reset_login)

    # `lensbot invite --role R` (no action) still creates one, as before the actions existed
    inv = command("invite", "invite")
    inv.add_argument("--role", choices=list(ROLES), default="professional", help=h("role"))
    inv.add_argument("--days", type=int, default=7, help=h("days"))
    inv.set_defaults(func=cmd_invite)
    inv_sub = inv.add_subparsers(metavar="ACTION", parser_class=Parser)
    inv_create = command("create", "invite_create", inv_sub)
    inv_create.add_argument("--role", choices=list(ROLES), default="professional", help=h("role"))
    inv_create.add_argument("--days", type=int, default=7, help=h("days"))
    inv_create.set_defaults(func=cmd_invite)
    inv_list = command("list", "invite_list", inv_sub)
    inv_list.add_argument("--all", action="store_true", help=h("all"))
    inv_list.set_defaults(func=cmd_invite_list)
    inv_revoke = command("revoke", "invite_revoke", inv_sub)
    inv_revoke.add_argument("code", metavar="CODE", help=h("invite_code"))
    inv_revoke.set_defaults(func=cmd_invite_revoke)

    rep = command("report", "report", epilog=h("report_examples"), formatter_class=raw)
    rep.add_argument("code", help=h("code"))
    rep.add_argument("--format", choices=list(CASE_FORMAT_NAMES), default="pdf", help=h("report_format"))
    rep.add_argument("--out", metavar="FILE", help=h("out"))
    rep.set_defaults(func=cmd_report)

    st = command("stats", "stats")
    st.add_argument("--period", metavar="PERIOD", help=h("period"))
    st.add_argument("--since", help=argparse.SUPPRESS)   # refused with a message: windows can be differenced
    st.add_argument("--until", help=argparse.SUPPRESS)
    st.add_argument("--format", choices=list(STATS_FORMAT_NAMES), default="text", help=h("stats_format"))
    st.add_argument("--out", metavar="FILE", help=h("stats_out"))
    st.set_defaults(func=cmd_stats)

    pu = command("purge", "purge")
    pu.add_argument("--dry-run", action="store_true", help=h("dry_run"))
    pu.add_argument("--confirm", action="store_true", help=h("confirm"))
    pu.set_defaults(func=cmd_purge)

    au = command("audit", "audit")
    au.add_argument("--since", metavar="DATE", type=lambda v: a_date(v, lang), help=h("since"))
    au.set_defaults(func=cmd_audit)

    db = command("db", "db").add_subparsers(metavar="ACTION", parser_class=Parser)
    command("upgrade", "upgrade", db).set_defaults(func=cmd_db_upgrade)
    add_sharing_commands(sub)   # share, shares, amend, export-case (bot/cli_sharing.py, issue 13)
    add_training_commands(sub)  # trainees (bot/cli_training.py, issue 14)
    return p


def a_date(value: str, lang: str) -> str:
    """--since: a real calendar date (2026-13-01 is refused in one line, exit 2)."""
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(t("help.bad_date", lang, value=value)) from None


def lensbot_version() -> str:
    try:
        return metadata.version("lensbot")
    except metadata.PackageNotFoundError:
        return "?"


# -- shared set-up ------------------------------------------------------------------------
def door_settings(args: argparse.Namespace) -> Settings:
    """The settings from the environment, --database on top."""
    overrides = {"database_url": args.database} if getattr(args, "database", None) else {}
    return Settings.load(**overrides)


def door(args: argparse.Namespace) -> Door:
    """The door for this command."""
    return Door(door_settings(args), CONSOLE_CHANNEL)


def console_user(d: Door) -> User:
    """Whoever runs the command: the console user named like their login."""
    return d.operator(getpass.getuser())


# -- commands -----------------------------------------------------------------------------
def cmd_chat(args: argparse.Namespace) -> int:
    if (args.vignette or args.round) and args.mode != Mode.TRAINING:   # never a real intake on a made-up case
        print("lensbot: --vignette and --round are for practice only: add --mode training", file=sys.stderr)
        return 2
    d = door(args)
    d.service   # noqa: B018 - the lens and the database first: a broken one stops here, before the opening
    if args.vignette and not d.cases.has_vignette(args.vignette):
        say_error(t("cli.unknown_vignette", args.lang, vignette=args.vignette, known=", ".join(d.cases.vignettes())))
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
    user = console_user(d)
    if args.format == "json":
        rows = [{**c.as_dict(), "concern": d.cases.concern(user, c.code, args.lang)} for c in cases]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    print(t("cli.database_at", args.lang, location=d.settings.database_location))
    if not cases:
        print(t("console.no_cases", args.lang))
        return 0
    print(t("cli.cases_header", args.lang, zone=LOCAL_ZONE.key))
    for c in cases:
        concern = d.cases.concern(user, c.code, args.lang) or "-"
        print(f"{c.code:8}  {c.mode:5}  {c.status:9}  {c.answers:>10}  {concern[:31]:31}  {c.lens_version:18}  "
              f"{local(c.created_at)}  {local(c.updated_at)}")
    return 0


def local(at: datetime) -> str:
    """A stored time (UTC) as people here read it: Europe/Amsterdam, to the minute."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")


def cmd_cases_delete(args: argparse.Namespace) -> int:
    """Delete one of the console user's cases, after a yes at the prompt (or --yes)."""
    d = door(args)
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
        say_error(t("cli.case_not_found", args.lang, code=args.code))
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
        say_error(t("cli.cannot_read", args.lang, path=args.answers, error=exc))
        return 2
    except json.JSONDecodeError as exc:
        say_error(t("cli.not_json", args.lang, path=args.answers, line=exc.lineno, error=exc.msg))
        return 2
    result = tools.assess(data, args.lang)
    if result.problems:
        count = len(result.problems)
        counted = t("cli.problems_one", args.lang) if count == 1 else t("cli.problems_many", args.lang, count=count)
        print(f"lensbot: {args.answers}: {counted}:", file=sys.stderr)
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
            count = len(result.problems)
            print(t("cli.found_one", args.lang) if count == 1 else t("cli.found_many", args.lang, count=count))
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
        say_error(t("cli.token_rejected", args.lang))
        return 2
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    """The web channel (bot/web): the database is migrated on start (SQLite), as for the others."""
    from bot.web.server import run

    settings = door(args).settings
    try:
        run(settings, args.host or settings.web_host, settings.web_port if args.port is None else args.port)
    except OSError as exc:   # the address is in use, or not ours to listen on
        say_error(t("cli.cannot_listen", args.lang, error=exc.strerror))
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
        say_error(t("cli.case_not_found", args.lang, code=args.code))
        return 2
    # a picture or PDF without --out goes to CODE.png / CODE.pdf in this folder, never to the terminal
    default = f"{Cases.normalise_code(args.code)}{Path(file.name).suffix}"
    return write_output(file, args.out or (default if file.binary else None), args.lang)


def write_output(file: File, out: str | None, lang: str = DEFAULT_LANG) -> int:
    """Write a file to `out` (mode 0600, never through a symlink), or text to standard output;
    binary data without `out` goes to the file's own name."""
    if out is None and file.binary:
        out = file.name
    if out:
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        except OSError as exc:   # ELOOP: --out is a symbolic link
            why = t("cli.symlink", lang) if Path(out).is_symlink() else exc.strerror
            say_error(t("cli.cannot_write", lang, path=out, error=why))
            return 2
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)   # an existing file keeps no wider mode
            f.write(file.data)
        say_error(t("cli.written", lang, path=out, size=len(file.data)))
    else:
        sys.stdout.write(file.data.decode())
        sys.stdout.flush()   # a closed pipe shows here, inside main's BrokenPipeError handler
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    if args.since or args.until:
        say_error(t("cli.stats_windows", args.lang))
        return 2
    d = door(args)
    result = d.reports.local_picture(console_user(d), args.format, args.lang, args.period)
    if isinstance(result, list):
        text = "\n".join(render_block(b) for b in result) + "\n"
        return write_output(File("lokaal-beeld.txt", "text/plain", text.encode(), False), args.out, args.lang)
    return write_output(result, args.out, args.lang)


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
