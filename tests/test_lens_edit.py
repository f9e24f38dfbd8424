"""Adding a signal is a YAML edit and nothing else: the suite passes on a copy of the default lens with one more.

The README promises that a new signal needs no code. The tests keep that promise honest only if they
take their counts, progress lines and question order from the loaded lens; this test proves they do by
running the lens-dependent test files against an edited copy (LENSBOT_LENS, which the loader and every
`lensbot` subprocess read). To run the whole suite that way:

    python -m tests.support.lens_edit /tmp/lens && LENSBOT_LENS=/tmp/lens pytest
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.app import DEFAULT_LENS, load_lens
from tests.support.lens_edit import INDICATOR, LEEFGEBIED_FILE, NEW_SIGNAL, edited_lens_copy

pytestmark = pytest.mark.slow(seconds=30)   # about its wall time on one worker: handed out early (tests/conftest.py)

ROOT = Path(__file__).parents[1]
# A slice of the files whose tests depend on the lens's content: the intake (counts, order, ids), the quick
# scan and training in the console, the rendered reports and the Telegram modes (about 15 s on one core;
# the whole suite passes the same way, see the module docstring).
LENS_DEPENDENT = ["test_intake.py", "test_quick_training.py", "test_reports_render.py", "test_telegram_modes.py"]


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edited_lens_copy(tmp_path_factory.mktemp("lens") / "default")


def test_the_edit_is_one_signal_in_one_yaml_file(edited: Path) -> None:
    changed = [f.name for f in sorted(edited.iterdir())
               if f.read_bytes() != (DEFAULT_LENS / f.name).read_bytes()]
    assert changed == [LEEFGEBIED_FILE]
    default, copy = load_lens(DEFAULT_LENS), load_lens(edited)
    assert set(copy.signals) - set(default.signals) == {NEW_SIGNAL}
    assert copy.counts()["signals"] == default.counts()["signals"] + 1
    (indicator,) = [i for lg in copy.leefgebieden for i in lg.indicators if i.id == INDICATOR]
    assert indicator.signals[0].id == NEW_SIGNAL
    first = copy.leefgebieden[0].id
    assert sum(q.phase == first for q in copy.questions) == sum(q.phase == first for q in default.questions) + 1


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_lens_dependent_tests_pass_on_the_edited_copy(edited: Path) -> None:
    """The lens-dependent files, unchanged, against the copy (SQLite only: the engine is not what a lens edit
    touches, and the PostgreSQL parametrisations run in the outer suite)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LENSBOT_CONTACTS", "LENSBOT_TEST_POSTGRES_URL")}
    env |= {"LENSBOT_LENS": str(edited), "LENSBOT_TESTS_UNDER_LOCK": "1"}   # this test holds the suite lock
    files = [f"tests/{name}" for name in LENS_DEPENDENT]
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", *files], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    tail = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, f"{tail}\n{result.stderr[-2000:]}"
    passed = re.search(r"(\d+) passed", tail)
    assert passed and int(passed.group(1)) >= 40 and " failed" not in tail, tail
