"""The exceptions a channel may see from the door, and nothing else of storage's.

`Unavailable`: the database could not be reached or stayed locked; nothing was written (the
channel says "try again"). It is storage's StorageUnavailable under our name, so a channel
catches one type whatever raised it. `shielded` turns a SQLAlchemy OperationalError from a read
outside `Store.transaction()`/`Store.reading()` into it as well.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import OperationalError

from dialogs.app.settings import ConfigError
from matrix.loader import LensError
from storage.repo import SchemaOutdated
from storage.repo import StorageUnavailable as Unavailable

P = ParamSpec("P")
T = TypeVar("T")


class BadInput(ValueError):
    """Arguments a use case cannot work with (an unknown role, a date that is no date); one line."""


def shielded(fn: Callable[P, T]) -> Callable[P, T]:
    """Raise Unavailable, not SQLAlchemy's OperationalError, when the database cannot be reached."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except OperationalError as exc:
            raise Unavailable(str(exc.orig)) from exc

    return wrapper


__all__ = ["BadInput", "ConfigError", "LensError", "SchemaOutdated", "Unavailable", "shielded"]
