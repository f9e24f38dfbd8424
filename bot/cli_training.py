"""`lensbot` commands for training (issue 14): a trainer's group and its CSV, a trainee invitation,
and the progress chart. An adapter on dialogs.app.training, like the rest of the command line;
bot/cli.py adds these to its parser with `add_commands`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.terminal import render_block


def add_commands(sub: argparse._SubParsersAction) -> None:   # type: ignore[type-arg]
    tr = sub.add_parser("trainees", help="trainers: the practice of the trainees you invited (practice cases only)")
    tr.add_argument("--csv", metavar="FILE", help="write one row per practice round to FILE (- for standard output)")
    tr.add_argument("--invite", action="store_true", help="make a trainee invitation that joins your group")
    tr.add_argument("--lang", choices=("nl", "en"), default="nl")
    tr.set_defaults(func=cmd_trainees)


def cmd_trainees(args: argparse.Namespace) -> int:
    from bot.cli import console_user, door

    d = door(args)
    trainer = console_user(d)
    if args.invite:
        invite = d.training.invite(trainer)
        print(f"{invite.code}  (trainee, valid until {invite.expires_at:%Y-%m-%d})")
        return 0
    if args.csv:
        data = d.training.group_csv(trainer).data
        if args.csv == "-":
            sys.stdout.write(data.decode())
        else:
            Path(args.csv).write_bytes(data)
            print(f"lensbot: wrote {args.csv}")
        return 0
    for block in d.training.group(trainer, args.lang):
        print(render_block(block))
    return 0


def write_chart(d, user, lang: str, path: str) -> None:  # type: ignore[no-untyped-def]
    """`lensbot progress --chart FILE.png`: the trainee's scores per round as a picture."""
    Path(path).write_bytes(d.cases.progress_chart(user, lang))
    print(f"lensbot: wrote {path}")
