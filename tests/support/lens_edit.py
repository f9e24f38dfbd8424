"""A copy of the default lens with one signal more: the edit the README calls "a YAML edit and nothing else".

`tests/test_lens_edit.py` runs lens-dependent test files against such a copy (LENSBOT_LENS), and a
developer can run the whole suite against it: `python -m tests.support.lens_edit /tmp/lens` prints
the folder to export as LENSBOT_LENS.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.support.app import DEFAULT_LENS

LEEFGEBIED_FILE = "1_wonen_financien.yaml"
INDICATOR = "woonomstandigheden"
NEW_SIGNAL = "woning_zonder_eigen_sleutel"
# Put first in the first indicator of the first leefgebied, so every question after it moves one
# place and every progress count of that leefgebied grows by one. Both languages, a kind, a weight,
# phenomena and sources, as matrix/FORMAT.md asks of every signal.
SIGNAL_YAML = f"""\
          - id: {NEW_SIGNAL}
            kind: vulnerability
            weight: 1
            phenomena: [woonoverlast]
            sources: [CCV-SIG]
            question:
              nl: "Heeft {{person}} geen eigen sleutel van de plek waar {{person}} woont?"
              en: "Does {{person}} have no key of their own to the place where they live?"
"""


def add_signal(text: str) -> str:
    """The YAML text of the leefgebied file with the new signal first under INDICATOR's `signals:`."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- id: {INDICATOR}")
    at = next(i for i in range(start, len(lines)) if lines[i].strip() == "signals:") + 1
    return "".join([*lines[:at], SIGNAL_YAML, *lines[at:]])


def edited_lens_copy(target: Path) -> Path:
    """Copy the default lens folder to `target` and add one signal: a YAML edit only."""
    shutil.copytree(DEFAULT_LENS, target)
    file = target / LEEFGEBIED_FILE
    file.write_text(add_signal(file.read_text(encoding="utf-8")), encoding="utf-8")
    return target


if __name__ == "__main__":
    print(edited_lens_copy(Path(sys.argv[1])))
