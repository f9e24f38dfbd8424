"""Logs that never carry what users wrote or were asked, whatever level an operator turns on.

At DEBUG, python-telegram-bot logs every update it processes ("Processing update Update(...)":
the note a user typed, the callback data of every answer) and every Bot API call with its
parameters (the question texts, the summary); httpx, httpcore and SQLAlchemy's engine can log
request bodies and result rows. lensbot's own loggers log event kinds, update ids and case codes
only. So every record of these libraries below WARNING keeps its message template but has each
argument that is not a plain short token (a number, an endpoint name, a state) replaced by
`<hidden>`, and a pre-formatted message without arguments is cut to its first words. A log record
factory does it, so it holds for every handler (a file, journald, pytest's capture) and every
child logger, however the logging is configured. SQL parameters are hidden by the engine itself
(`hide_parameters=True`, storage/db.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

LIBRARIES = ("telegram", "httpx", "httpcore", "hpack", "h11", "sqlalchemy", "aiohttp", "apscheduler", "asyncio",
             "transitions", "alembic")
HIDDEN = "<hidden>"
_PLAIN = re.compile(r"[\w.:/@#=+-]{0,64}")   # an endpoint, a state name, a URL path, an id; no spaces
_installed: list[Callable[..., logging.LogRecord]] = []


def _from_library(name: str) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in LIBRARIES)


def _safe(arg: Any) -> Any:
    if isinstance(arg, bool | int | float) or arg is None:
        return arg
    if isinstance(arg, str) and _PLAIN.fullmatch(arg):
        return arg
    return HIDDEN


def redact(record: logging.LogRecord) -> logging.LogRecord:
    """The record with anything that could be content hidden (libraries, below WARNING)."""
    if record.levelno >= logging.WARNING or not _from_library(record.name):
        return record
    if isinstance(record.args, dict):
        record.args = {k: _safe(v) for k, v in record.args.items()}
    elif record.args:
        record.args = tuple(_safe(a) for a in record.args)
    elif isinstance(record.msg, str) and len(record.msg) > 80:   # formatted before it reached us
        record.msg = record.msg[:60].split("(")[0].split("{")[0] + " " + HIDDEN
    elif not isinstance(record.msg, str):
        record.msg = f"{type(record.msg).__name__} {HIDDEN}"
    return record


def install() -> None:
    """Put the redaction into every log record made in this process from now on (once)."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact(previous(*args, **kwargs))

    _installed.append(previous)
    logging.setLogRecordFactory(factory)


__all__ = ["HIDDEN", "LIBRARIES", "install", "redact"]
