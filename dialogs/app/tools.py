"""Use cases about the lens itself, without a user or a database: assess answers given as data
(`lensbot assess`), check a lens (`lensbot matrix check`), and draw the dialog graph.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialogs.intake import IntakeDialog
from dialogs.output import Block
from dialogs.summary import summary_blocks
from dialogs.texts import normalise_lang
from matrix.export import assessment_dict
from matrix.lens import Lens
from matrix.loader import LensError, load_lens
from matrix.scoring import assess, normalise_answer

# Ways people write an age group in a JSON file; the lens's own band ids are accepted as they are.
AGE_ALIASES = {"minderjarig": "minor", "child": "minor", "kind": "minor", "jongere": "minor",
               "volwassen": "adult", "volwassene": "adult", "onbekend": "unknown", "weet ik niet": "unknown",
               "0-11": "a0_11", "<12": "a0_11", "12-17": "a12_17", "18-22": "a18_22", "23+": "a23_up"}


@dataclass(frozen=True)
class Assessed:
    """`lensbot assess`: the problems with the input, or the result as blocks and as JSON data."""

    problems: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checked:
    """`lensbot matrix check`: the lens's counts, or every problem found."""

    ok: bool
    counts: dict[str, Any] = field(default_factory=dict)
    problems: list[Any] = field(default_factory=list)   # matrix.yamlsource.Problem: file, line, path, message
    load_ms: float = 0.0
    lens_id: str = ""


def parse_answers(lens: Lens, data: Any) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(data, dict):
        return {}, ['expected a JSON object such as {"schulden": "yes", "rf_direct_gevaar": "no"}']
    answers: dict[str, Any] = {}
    errors: list[str] = []
    for key, value in data.items():
        if key in ("age_group", lens.age_item):   # "minor", "adult", "unknown" or an age band such as a12_17
            choices = sorted({"minor", "adult", "unknown", *lens.age_bands})
            age = AGE_ALIASES.get(value.strip().lower(), value.strip().lower()) if isinstance(value, str) else None
            if age not in choices:
                errors.append(f"'{key}': unknown age {value!r} (use {', '.join(choices)})")
            else:
                answers[lens.age_item or key] = age
            continue
        if key not in lens.question_index:  # signals, red flags and the quick scan's gate
            errors.append(f"unknown signal or red flag id '{key}'")
            continue
        answer = normalise_answer(value)
        if answer is None:
            errors.append(f"'{key}': unknown answer {value!r} (use yes/no/unknown or ja/nee/onbekend)")
            continue
        answers[key] = answer
    return answers, errors


class Tools:
    def __init__(self, lens: Lens) -> None:
        self.lens = lens

    def assess(self, data: Any, lang: str) -> Assessed:
        """Assess answers given as data (signal id -> yes/no/unknown, plus an age); nothing is stored."""
        answers, problems = parse_answers(self.lens, data)
        if problems:
            return Assessed(problems)
        result = assess(self.lens, answers)
        lang = normalise_lang(lang)
        return Assessed([], summary_blocks(self.lens, result, lang), assessment_dict(self.lens, result, lang))

    def dialog_graph(self) -> str:
        """The intake state machine as a Mermaid diagram."""
        return IntakeDialog(self.lens).mermaid()


def check_lens(path: Path | str | None, contacts: Path | str | None) -> Checked:
    """Validate a lens folder or file (with local contacts) and count what it holds."""
    start = time.perf_counter()
    try:
        lens = load_lens(path, contacts)
    except LensError as exc:
        return Checked(False, problems=list(exc.problems))
    elapsed_ms = (time.perf_counter() - start) * 1000
    return Checked(True, lens.counts(), load_ms=elapsed_ms, lens_id=lens.meta.id)
