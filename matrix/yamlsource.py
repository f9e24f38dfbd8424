"""Read YAML while remembering where every value came from.

Validation errors are only useful to a domain expert if they point at a line of a file, so
YAML is composed into nodes (which carry line marks) and converted to plain Python by hand,
recording the line of every mapping key and list item. PyYAML silently keeps the last of two
equal keys; here that is reported, since it almost always hides a mistake.

A lens file may come from an operator's folder (`LENSBOT_LENS`), so reading it is bounded: a file
larger than MAX_BYTES, nesting deeper than MAX_DEPTH, or aliases that expand to more than MAX_NODES
values (a "billion laughs" file of a few hundred bytes can otherwise take gigabytes) is refused
as a Problem with its line, like any other mistake.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PathKey = tuple[str | int, ...]
MAX_BYTES = 2_000_000      # the default lens is ~250 kB in all
MAX_DEPTH = 40             # the default lens nests 8 deep
MAX_NODES = 200_000        # values after expanding aliases; the default lens has ~15,000 per file


class _TooBig(Exception):
    """The file goes past one of the limits above; `line` is where that happened."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a lens, in the `file:line: path: message` shape of the CLI."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}: {where}{self.message}"


@dataclass
class SourceDoc:
    """A parsed YAML file: its data, and the line of each path inside it."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int:
        """Line of `path`, or of its nearest ancestor that has one (missing keys have none)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1

    def label(self, path: PathKey) -> str:
        """A readable path: list items are named by their `id` where they have one."""
        parts: list[str] = []
        node: Any = self.data
        for key in path:
            item = None
            with contextlib.suppress(KeyError, IndexError, TypeError):
                item = node[key]
            if isinstance(key, int):
                ident = item.get("id") if isinstance(item, dict) else None
                parts.append(f"[{ident}]" if isinstance(ident, str) else f"[{key}]")
            else:
                parts.append(("." if parts else "") + str(key))
            node = item
        return "".join(parts)


def parse_file(path: Path, display: str | None = None) -> tuple[SourceDoc | None, list[Problem]]:
    """Parse one YAML file; a syntax error becomes a Problem instead of an exception."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, 1, "", f"cannot read file: {exc}")]
    return parse_text(text, name)


def parse_text(text: str, name: str) -> tuple[SourceDoc | None, list[Problem]]:
    if len(text.encode("utf-8")) > MAX_BYTES:
        return None, [Problem(name, 1, "", f"file is larger than {MAX_BYTES // 1_000_000} MB; a lens file is far "
                                           "smaller (split it, or check that this is the right file)")]
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return SourceDoc(name, {}), []
        doc = SourceDoc(name, None)
        duplicates: list[tuple[int, PathKey, str, int]] = []
        doc.data = _convert(loader, node, (), doc, duplicates, [0])
        problems = [
            Problem(name, line, doc.label(path), f"duplicate key '{key}' (an earlier '{key}' is on line {first})")
            for line, path, key, first in duplicates
        ]
        return doc, problems
    except _TooBig as exc:
        return None, [Problem(name, exc.line, "", exc.message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        reason = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        return None, [Problem(name, line, "", f"YAML syntax error: {reason}")]
    except yaml.YAMLError as exc:
        return None, [Problem(name, 1, "", f"YAML error: {exc}")]
    finally:
        loader.dispose()


def _convert(loader: Any, node: yaml.Node, path: PathKey, doc: SourceDoc,
             duplicates: list[tuple[int, PathKey, str, int]], count: list[int]) -> Any:
    line = node.start_mark.line + 1
    count[0] += 1
    if count[0] > MAX_NODES:
        raise _TooBig(line, f"more than {MAX_NODES:,} values after expanding aliases (&/*): "
                            "is an alias repeated inside itself?")
    if len(path) > MAX_DEPTH:
        raise _TooBig(line, f"nested more than {MAX_DEPTH} levels deep")
    doc.lines[path] = line
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            if key in result:
                duplicates.append((key_node.start_mark.line + 1, path, key, doc.lines[child]))
            result[key] = _convert(loader, value_node, child, doc, duplicates, count)
            doc.lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(loader, item, (*path, i), doc, duplicates, count) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
