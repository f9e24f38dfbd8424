"""Callback data: one small codec, so no handler splits strings itself.

Telegram allows 64 bytes of callback data. An intake button carries the case code and the
case's step counter, so a tap can be checked against the question the case is waiting for:
`q:K7QX3M:12:y` (kind, code without the dash, step, option). Anything that does not parse
exactly is treated as forged and refused: that includes data that is not text, that cannot be
encoded (lone surrogates arrive from JSON escapes such as "\ud800") or that is over-long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dialogs.domain import CODE_ALPHABET

MAX_BYTES = 64
OPTION_CODES = {"yes": "y", "no": "n", "unknown": "u", "back": "b", "skip": "s", "begin": "g", "no_note": "x",
                "continue": "c", "finish": "f", "vignette": "v", "save_note": "k",
                **{f"deepen_{n}": str(n) for n in range(1, 10)},
                **{f"age_{n}": "ABCDEFGHI"[n - 1] for n in range(1, 10)}}
OPTION_IDS = {v: k for k, v in OPTION_CODES.items()}
KINDS = {"q", "r", "d", "l", "i", "v", "m"}   # question option, resume case, delete confirmation, language,
#                                         accept a lower-role invitation (y/n), revoke an invitation,
#                                         a short summary's buttons (d details, p picture, f PDF)
_INVITE = r"[A-Za-z0-9_-]{8,32}"   # an invitation code (secrets.token_urlsafe)
_CODE = f"[{CODE_ALPHABET}]{{6}}"
_STEP = r"0|[1-9][0-9]{0,8}"   # ASCII digits as str(int) writes them
_PATTERNS = {   # matched with fullmatch: no trailing newline, nothing around
    "q": re.compile(rf"q:({_CODE}):({_STEP}):([{''.join(OPTION_IDS)}])"),
    "r": re.compile(rf"r:({_CODE})"),
    "d": re.compile(rf"d:({_CODE}):([yn])"),
    "l": re.compile(r"l:(nl|en)"),
    "i": re.compile(rf"i:({_INVITE}):([yn])"),
    "v": re.compile(rf"v:({_INVITE})"),
    "m": re.compile(rf"m:({_CODE}):([dpf])"),   # "s:" is sharing's (bot/telegram/sharing.py)
}


@dataclass(frozen=True)
class Callback:
    kind: str
    code: str | None = None      # case code with its dash, e.g. K7-QX3M
    step: int | None = None
    option: str | None = None    # option id (yes, back, ...) or y/n for delete, or a language
    invite: str | None = None    # an invitation code (kinds i and v)

    def encode(self) -> str:
        bare = self.code.replace("-", "") if self.code else ""
        if self.kind == "q":
            data = f"q:{bare}:{self.step}:{OPTION_CODES[self.option or '']}"
        elif self.kind == "r":
            data = f"r:{bare}"
        elif self.kind == "d":
            data = f"d:{bare}:{self.option}"
        elif self.kind == "l":
            data = f"l:{self.option}"
        elif self.kind == "i":
            data = f"i:{self.invite}:{self.option}"
        elif self.kind == "v":
            data = f"v:{self.invite}"
        elif self.kind == "m":
            data = f"m:{bare}:{self.option}"
        else:
            raise ValueError(f"unknown callback kind {self.kind!r}")
        if len(data.encode()) > MAX_BYTES:
            raise ValueError("callback data longer than 64 bytes")
        return data


def decode(data: str | None) -> Callback | None:
    """Parse callback data; None for anything we did not produce (never an exception)."""
    if not isinstance(data, str) or not data or len(data) > MAX_BYTES:
        return None
    try:
        size = len(data.encode())   # lone surrogates cannot be encoded
    except UnicodeEncodeError:
        return None
    if size > MAX_BYTES:
        return None
    pattern = _PATTERNS.get(data[:1])
    match = pattern.fullmatch(data) if pattern else None
    if match is None:
        return None
    kind = data[0]
    if kind == "l":
        return Callback("l", option=match.group(1))
    if kind == "i":
        return Callback("i", option=match.group(2), invite=match.group(1))
    if kind == "v":
        return Callback("v", invite=match.group(1))
    code = f"{match.group(1)[:2]}-{match.group(1)[2:]}"
    if kind == "q":
        return Callback("q", code, int(match.group(2)), OPTION_IDS[match.group(3)])
    if kind in ("d", "m"):
        return Callback(kind, code, option=match.group(2))
    return Callback("r", code)
