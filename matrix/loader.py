"""Load a lens from YAML, validate all of it, and report every problem at once.

An expert fixing a lens should see the whole list of mistakes in one run, each as
`file:line: path: message`, so schema errors (pydantic) and cross-file checks (duplicate
ids, references to unknown ids) are collected rather than raised one by one.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from matrix import models
from matrix.checks import cross_check
from matrix.lens import Lens
from matrix.models import (
    ContactsDocument,
    LensDocument,
)
from matrix.yamlsource import PathKey, Problem, SourceDoc, parse_file

DEFAULT_LENS = Path(__file__).parent / "lenses" / "default"
LIST_SECTIONS = ("phenomena", "viewers", "leefgebieden", "red_flags", "contacts", "concern", "advice", "vignettes")
SINGLE_SECTIONS = ("lens", "quick_scan", "age")
_KNOWN_KEYS = sorted({
    name for model in vars(models).values()
    if isinstance(model, type) and issubclass(model, BaseModel) for name in model.model_fields
})


class LensError(Exception):
    """A lens that cannot be used; `problems` holds every mistake found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def lens_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


def load_lens(path: Path | str | None = None, contacts: Path | str | None = None) -> Lens:
    """Load and validate a lens folder or file (default: the bundled lens).

    `contacts` names an operator's file of local contacts. Entry points pass what the settings
    say (`LENSBOT_LENS`, `LENSBOT_CONTACTS`, read in dialogs/app/settings.py) so all see the same lens.
    """
    path = Path(path or DEFAULT_LENS)
    contacts = contacts or None
    problems: list[Problem] = []
    if not path.exists():
        raise LensError([Problem(str(path), 1, "", "lens path does not exist")])
    sources: list[SourceDoc] = []
    for file in lens_files(path):
        doc, found = parse_file(file, _display(file))
        problems += found
        if doc is not None:
            sources.append(doc)
    if not sources and not problems:
        problems.append(Problem(str(path), 1, "", "no .yaml files found"))
    local: SourceDoc | None = None
    if contacts:
        local, found = parse_file(Path(contacts), _display(Path(contacts)))
        problems += found
    docs = [(s, _validate(s, LensDocument, problems)) for s in sources]
    if local is not None:
        docs.append((local, _validate(local, ContactsDocument, problems)))
    problems += cross_check([(s, d) for s, d in docs if d is not None], str(path),
                            [s for s, d in docs if d is None])   # already reported: no cascade from them
    if problems:
        raise LensError(_sorted(problems))
    merged = merge([d for _, d in docs if d is not None])
    return Lens.build(LensDocument.model_validate(merged))


def lens_from_content(content: dict[str, Any]) -> Lens:
    """Rebuild a lens from the JSON stored with a case, so old cases keep their own questions."""
    return Lens.build(LensDocument.model_validate(content))


def merge(docs: Iterable[LensDocument | ContactsDocument]) -> dict[str, Any]:
    merged: dict[str, Any] = {name: [] for name in LIST_SECTIONS}
    for doc in docs:
        data = doc.model_dump(mode="json")
        for name in SINGLE_SECTIONS:
            if data.get(name) is not None:
                merged[name] = data[name]
        for name in LIST_SECTIONS:
            merged[name] += data.get(name, [])
    return merged


def _display(file: Path) -> str:
    try:
        return str(file.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(file)


def _validate(source: SourceDoc, model: type[LensDocument] | type[ContactsDocument],
              problems: list[Problem]) -> LensDocument | ContactsDocument | None:
    if not isinstance(source.data, dict):
        problems.append(Problem(source.file, 1, "", "the file must be a mapping of sections (lens, leefgebieden, ...)"))
        return None
    try:
        return model.model_validate(source.data)
    except ValidationError as exc:
        for err in exc.errors():
            loc: PathKey = tuple(err["loc"])
            problems.append(Problem(source.file, source.line_of(loc), _path_label(source, err), _message(err, model)))
        return None


def _path_label(source: SourceDoc, err: Any) -> str:
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        loc = loc[:-1]
    return source.label(loc)


def _message(err: Any, model: type) -> str:
    kind = err["type"]
    loc = err["loc"]
    field = str(loc[-1]) if loc else ""
    if kind == "missing":
        if field in ("nl", "en"):
            return f"missing translation '{field}'"
        return f"missing required field '{field}'"
    if kind == "extra_forbidden":
        hint = difflib.get_close_matches(field, _KNOWN_KEYS, n=1)
        suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
        if model is ContactsDocument and field != "contacts" and len(loc) == 1:
            suffix = " (a local contacts file may only hold 'contacts')"
        return f"unknown key '{field}'{suffix}"
    if kind == "string_pattern_mismatch":
        return f"'{err['input']}' is not a valid id: use lower-case letters, digits and _ (snake_case)"
    if kind == "string_too_short":
        return f"'{field}' must not be empty"
    if field == "weight" and kind in ("greater_than_equal", "less_than_equal", "int_parsing", "int_type"):
        return f"weight must be 1, 2 or 3 (got {err.get('input')!r})"
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
    return f"{err['msg']}{shown}"


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.file, p.line, p.path, p.message))
