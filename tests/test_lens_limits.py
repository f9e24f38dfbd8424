"""A lens file can come from an operator's folder: reading it must be bounded.

A "billion laughs" file of a few hundred bytes expands to 10^9 values through YAML aliases; before
the limits in matrix/yamlsource.py, one such file took 5 GB. Each limit is reported like any other
lens mistake (file, line, what is wrong), and `lensbot matrix check` exits 1 quickly.
"""

from __future__ import annotations

import contextlib
import io
import resource
import shutil
import time
from pathlib import Path

from bot import cli as bot_cli
from matrix.loader import DEFAULT_LENS
from matrix.yamlsource import MAX_BYTES, MAX_DEPTH, parse_text

BOMB = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
) + "\n"


def check(lens: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = bot_cli.main(["matrix", "check", str(lens)])
    return rc, out.getvalue() + err.getvalue()


def test_an_alias_bomb_in_a_lens_folder_is_refused_quickly_and_with_its_line(tmp_path: Path) -> None:
    lens = tmp_path / "lens"
    shutil.copytree(DEFAULT_LENS, lens)
    (lens / "zz_bomb.yaml").write_text(BOMB, encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    rc, output = check(lens)
    assert rc == 1, output
    assert time.monotonic() - started < 10, "the limit must stop the expansion early"
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 300, f"memory grew by {grown_mb:.0f} MB"
    assert "zz_bomb.yaml:" in output and "after expanding aliases" in output, output


def test_the_default_lens_stays_far_below_every_limit() -> None:
    for file in sorted(DEFAULT_LENS.glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        assert len(text.encode()) < MAX_BYTES / 4, file
        doc, problems = parse_text(text, file.name)
        assert doc is not None and problems == [], (file, problems)


def test_too_deep_and_too_large_files_are_problems_not_crashes() -> None:
    deep = "x: " + "[" * (MAX_DEPTH + 5) + "1" + "]" * (MAX_DEPTH + 5) + "\n"
    doc, problems = parse_text(deep, "deep.yaml")
    assert doc is None and "nested more than" in str(problems[0]) and str(problems[0]).startswith("deep.yaml:1:")
    doc, problems = parse_text("# " + "x" * MAX_BYTES + "\n", "big.yaml")
    assert doc is None and "larger than" in str(problems[0])
