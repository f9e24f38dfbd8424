"""Dependencies (issue 11, item 9): floors past known advisories, a hashed lock that CI and the
README install from, current pip and setuptools.

The audit found `pillow>=10.1` (known CVEs), no lock file, and a venv with an old pip and setuptools.
ADVISORIES is the table SECURITY.md ("Dependencies") keeps: the first version without each known
advisory we found. A floor below it, a lock that pins below it, an unhashed or file:// line, or an
install command that does not use the lock fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ("requirements.lock", "requirements-test.lock")
ADVISORIES = {   # package -> first version without the advisories we know of (SECURITY.md)
    "pillow": "12.1.1", "pyyaml": "5.4", "pydantic": "2.4.0", "reportlab": "3.6.13", "aiohttp": "3.13.3",
    "setuptools": "78.1.1", "pip": "25.3", "tornado": "6.5", "h11": "0.16.0",
    "starlette": "0.47.2", "jinja2": "3.1.6", "python-multipart": "0.0.18", "authlib": "1.6.5",
}


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    tools = [line.split("#")[0].strip() for line in (ROOT / ".ci" / "venv-tools.in").read_text().splitlines()]
    return [Requirement(r) for r in [*reqs, *filter(None, tools)]]


def pins(lock: str) -> dict[str, tuple[Version, int]]:
    """package -> (pinned version, number of hashes) of a lock file."""
    text = (ROOT / lock).read_text()
    found: dict[str, tuple[Version, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9_.-]+)==([^\s\\]+)", block)
        if match:
            found[match[1].lower()] = (Version(match[2]), block.count("--hash=sha256:"))
    return found


def floor(req: Requirement) -> Version | None:
    lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    return max(lows) if lows else None


@pytest.mark.parametrize("req", declared(), ids=lambda r: r.name)
def test_every_floor_is_past_the_known_advisories(req: Requirement) -> None:
    low = floor(req)
    assert low is not None, f"{req} has no floor"
    first_safe = ADVISORIES.get(req.name.lower())
    assert first_safe is None or low >= Version(first_safe), f"{req}: advisories up to {first_safe}"


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_pins_every_package_with_hashes_within_the_floors(lock: str) -> None:
    text = (ROOT / lock).read_text()
    assert "file://" not in text and "/opt/" not in text and "--index-url" not in text and "--find-links" not in text
    locked = pins(lock)
    assert {"pip", "setuptools"} <= set(locked)   # the installers come from the lock too
    assert all(hashes >= 1 for _, hashes in locked.values()), [p for p, (_, h) in locked.items() if not h]
    test_only = {r.lower() for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
                 ["optional-dependencies"]["test"]}
    needed = [r for r in declared() if lock == "requirements-test.lock" or str(r).lower() not in test_only]
    for req in needed:
        name = req.name.lower()
        assert name in locked, f"{name} missing from {lock}"
        assert req.specifier.contains(locked[name][0], prereleases=True), f"{lock}: {name}=={locked[name][0]}"
    for name, first_safe in ADVISORIES.items():
        if name in locked:
            assert locked[name][0] >= Version(first_safe), f"{lock}: {name}=={locked[name][0]}"


def test_ci_and_the_readme_install_from_the_lock() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n([^\n]*python3 -m venv[^\n]*)\n```", readme)
    assert len(commands) == 2
    assert "pip install -q -r requirements.lock && .venv/bin/pip install -q --no-deps -e ." in commands[0]
    assert "pip install -q -r requirements-test.lock && .venv/bin/pip install -q --no-deps -e ." in commands[1]
    assert "pip install -q -r requirements-test.lock" in ci and "--no-deps -e ." in ci
    assert "'.[test]'" not in ci
