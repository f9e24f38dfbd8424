"""The layers hold: channels go through the one door, and a Telegram command is one declaration.

- Nothing under bot/ imports storage/ or matrix/ (also not inside a function): a channel only
  talks to dialogs/, so a new channel is an adapter and nothing more.
- dialogs/ has no import cycle (each module's imports, read with ast).
- The command table (bot/telegram/commands.py) is what the running bot registers and what it
  puts in Telegram's command menu, in both languages; every `cmd.*` text has a row, and the
  /help is built from the table: a help line for each command shown in it, and no other.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from telegram.ext import CommandHandler

from bot.telegram.commands import BY_NAME, COMMANDS, menu
from bot.telegram.runtime import telegram_texts
from dialogs.access import ACTIONS
from matrix.lens import Lens
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.harness import TelegramHarness

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:TEST-lensbot-layers-token-abcdefghij"


def imports_of(path: Path, package: str | None = None) -> list[tuple[int, str]]:
    """(line, module) for every import in a file, at any depth; relative imports resolved."""
    package = package or ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


# -- imports -------------------------------------------------------------------------------
def test_bot_imports_neither_storage_nor_matrix() -> None:
    bad = [f"{path.relative_to(ROOT)}:{line}: {name}"
           for path in modules("bot").values() for line, name in imports_of(path)
           if name.split(".")[0] in ("storage", "matrix", "sqlalchemy")]
    assert bad == [], "bot/ must go through dialogs/ (dialogs.app):\n" + "\n".join(bad)


def cycles_in(graph: dict[str, list[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk of `graph` meets, as a path that returns to its start."""
    state: dict[str, str] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == "open":
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node)
    return cycles


def test_dialogs_has_no_import_cycle() -> None:
    known = modules("dialogs")
    graph = {name: sorted({imported for _, imported in imports_of(path) if imported in known and imported != name})
             for name, path in known.items()}
    cycles = cycles_in(graph)
    assert cycles == [], "import cycles in dialogs/:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_checks_see_what_they_look_for(tmp_path: Path) -> None:
    """An import inside a function and a relative one are found, and a cycle is one (so the checks can fail)."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from storage import repo\n    from .. import console\n", encoding="utf-8")
    names = [name for _, name in imports_of(sample, "bot.telegram")]
    assert "storage" in names and "storage.repo" in names and "bot.console" in names
    assert cycles_in({"a": ["b"], "b": ["c"], "c": ["a"]}) == [["a", "b", "c", "a"]]
    assert cycles_in({"a": ["b", "c"], "b": ["c"], "c": []}) == []


# -- the command table ---------------------------------------------------------------------
def test_the_table_is_sound() -> None:
    names = [n for c in COMMANDS for n in c.names]
    assert len(names) == len(set(names)), "a command name is declared twice"
    assert all(re.fullmatch(r"[a-z0-9_]{1,32}", n) for n in names)   # what Telegram accepts
    assert all(c.permission is None or c.permission in ACTIONS for c in COMMANDS)
    texts = telegram_texts()
    keys = texts.keys()
    declared = {key.removeprefix("cmd.") for key in keys if key.startswith("cmd.")}
    assert declared == {c.name for c in menu()}, "every cmd.* text is a menu row of the table, and back"
    helped = {key.removeprefix("help.") for key in keys if key.startswith("help.")} - {"intro", "outro"}
    assert helped == {c.name for c in COMMANDS if c.help}, "every help.* line is a command of the table, and back"
    for c in COMMANDS:
        if c.help:
            for lang in ("nl", "en"):
                assert texts(f"help.{c.name}", lang, cmd="/x").startswith("/x"), (c.name, lang)
                assert c.name_in(lang) in BY_NAME


async def test_the_table_drives_registration_and_the_menu(lens: Lens, sqlite_url: str) -> None:
    async with FakeBotAPI(token=TOKEN) as server, TelegramHarness(server, sqlite_url, lens) as harness:
        app = harness.app
        assert app is not None
        registered = [tuple(sorted(h.commands)) for group in app.handlers.values() for h in group
                      if isinstance(h, CommandHandler)]
        assert sorted(registered) == sorted(tuple(sorted(c.names)) for c in COMMANDS)
        texts = telegram_texts()
        for lang, scope_lang in (("nl", "nl"), ("en", "en"), ("nl", "")):
            shown = server.commands_for("default", scope_lang)
            assert shown == [{"command": c.name, "description": texts(c.description, lang)} for c in menu()], lang
        assert server.violations == []
