"""`lensbot` commands for a shared case (issue 13): ask a colleague, list and withdraw requests,
aanvullen, and the data-subject export of one case. An adapter on dialogs.app.sharing, like the rest
of the command line; bot/cli.py adds these to its parser with `add_commands`.
"""

from __future__ import annotations

import argparse
import sys

from bot.terminal import render_block
from dialogs.sharing import catalogue


def add_commands(sub: argparse._SubParsersAction) -> None:   # type: ignore[type-arg]
    cat = catalogue()
    sh = sub.add_parser("share", help="ask a colleague to add to one of your cases: prints a single-use web link")
    sh.add_argument("code")
    sh.add_argument("--areas", required=True, metavar="LIST",
                    help="'open' (the open questions) and/or leefgebieden by number, comma-separated: open,1,4")
    sh.add_argument("--purpose", required=True, choices=list(cat.purposes))
    sh.add_argument("--basis", required=True, choices=list(cat.legal_bases), help="the legal basis")
    sh.add_argument("--not-informed", choices=list(cat.not_informed_reasons), metavar="REASON",
                    help="the person or parents do not know, and why: " + ", ".join(cat.not_informed_reasons))
    sh.add_argument("--days", type=int, default=cat.validity_days[0], choices=list(cat.validity_days))
    sh.add_argument("--show-combined", action="store_true", help="the colleague may see the combined picture")
    sh.set_defaults(func=cmd_share)

    rq = sub.add_parser("shares", help="the requests of one of your cases (--revoke ID withdraws one)")
    rq.add_argument("code")
    rq.add_argument("--revoke", type=int, metavar="ID")
    rq.add_argument("--lang", choices=("nl", "en"), default=argparse.SUPPRESS)   # else: lensbot --lang, LANG
    rq.set_defaults(func=cmd_shares)

    am = sub.add_parser("amend", help="add to a completed case: change an answer (ITEM=yes|no|unknown) or add a note")
    am.add_argument("code")
    am.add_argument("--answer", action="append", default=[], metavar="ITEM=VALUE")
    am.add_argument("--note", metavar="TEXT")
    am.add_argument("--lang", choices=("nl", "en"), default=argparse.SUPPRESS)
    am.set_defaults(func=cmd_amend)

    ex = sub.add_parser("export-case", help="a data-subject export: everything stored about one case, as JSON "
                                           "(answers, history, notes, requests, contributions, audit rows)")
    ex.add_argument("code")
    ex.add_argument("--out", metavar="FILE")
    ex.set_defaults(func=cmd_export_case)


def cmd_share(args: argparse.Namespace) -> int:
    from bot.cli import console_user, door

    d = door(args)
    areas = [a.strip() for a in args.areas.split(",") if a.strip()]
    created = d.sharing.create(console_user(d), args.code, areas, args.purpose, args.basis, args.not_informed is None,
                               args.not_informed, args.days, args.show_combined)
    if created is None:
        print(f"lensbot: case {args.code} not found", file=sys.stderr)
        return 2
    print(f"request {created.request_id} for case {created.code}, valid until "
          f"{created.expires_at:%Y-%m-%d %H:%M} UTC; send this link to one colleague, through a safe channel:")
    print(created.web_link)
    print(f"Telegram: /start {created.token}")
    return 0


def cmd_shares(args: argparse.Namespace) -> int:
    from bot.cli import console_user, door

    d = door(args)
    user = console_user(d)
    if args.revoke is not None:
        if not d.sharing.revoke(user, args.code, args.revoke):
            print(f"lensbot: no request {args.revoke} for case {args.code}", file=sys.stderr)
            return 2
        print(f"request {args.revoke} withdrawn")
        return 0
    found = d.sharing.requests(user, args.code, args.lang)
    if found is None:
        print(f"lensbot: case {args.code} not found", file=sys.stderr)
        return 2
    for r in found:
        print(f"#{r.id:<4} {r.status_label:24} {r.domain or '-':16} {r.answered}/{r.total}  {r.areas}  "
              f"[{r.legal_basis}; informed: {r.informed}; until {r.expires_at:%Y-%m-%d}]")
    return 0


def cmd_amend(args: argparse.Namespace) -> int:
    from bot.cli import console_user, door

    d = door(args)
    user = console_user(d)
    for pair in args.answer:
        item, _, value = pair.partition("=")
        refused = d.sharing.set_answer(user, args.code, item, value, args.lang)
        if refused is not None:
            print(f"lensbot: {item}: {refused.toast}", file=sys.stderr)
            return 2
    if args.note:
        reply = d.sharing.add_note(user, args.code, args.note, args.lang)
        if reply.refused:
            print(f"lensbot: {reply.toast}", file=sys.stderr)
            return 2
    blocks = d.cases.summary(user, args.code, args.lang) or []
    for block in blocks:
        print(render_block(block))
    return 0


def cmd_export_case(args: argparse.Namespace) -> int:
    from bot.cli import console_user, door, write_output

    d = door(args)
    file = d.sharing.export_case(console_user(d), args.code)
    if file is None:
        print(f"lensbot: case {args.code} not found", file=sys.stderr)
        return 2
    return write_output(file, args.out)
