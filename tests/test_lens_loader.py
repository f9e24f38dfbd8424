"""Loading and checking a lens: the bundled lens, its version, and how mistakes are reported.

A domain expert edits the YAML files by hand; `lensbot matrix check` must point at every
mistake as `file:line: path: message`, with the right file and the right line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dialogs.app import Settings
from dialogs.app.root import configured_lens
from matrix.loader import DEFAULT_LENS, LensError, lens_from_content, load_lens
from matrix.scoring import assess
from tests.support.lensbot_cli import run_lensbot

pytestmark = pytest.mark.slow(seconds=9)   # about its wall time on one worker: handed out early (tests/conftest.py)

ENV_KEYS = ("LENSBOT_LENS", "LENSBOT_CONTACTS")
PROBLEM_LINE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+): (?:(?P<path>[^:\s]+): )?(?P<message>.+)$")
VERSION = re.compile(r"^\d+\.\d+\.\d+\+[0-9a-f]{10}$")   # the declared version plus a content hash

# Answers that reach "possible_exploitation" for a young person: strong signals in two leefgebieden.
EXPLOITATION = {
    "age_group": "a12_17",
    "schuld_aan_persoon": "yes",
    "bankpas_rekening_afgestaan": "yes",
    "delict_in_opdracht": "yes",
    "delict_ver_van_huis": "yes",
}

LOCAL_CONTACT = """\
# Local contacts of the municipality (LENSBOT_CONTACTS).
contacts:
  - id: afm_mensenhandel_zwolle
    name:
      nl: "Aandachtsfunctionaris mensenhandel gemeente Zwolle"
      en: "Human-trafficking officer, municipality of Zwolle"
    phone: "038-498 9111"
    when:
      nl: "Voor overleg over een vermoeden van mensenhandel of criminele uitbuiting in Zwolle."
      en: "To discuss a suspicion of human trafficking or criminal exploitation in Zwolle."
    attach_to: [exploitation_minor]
"""

BAD_ATTACH = LOCAL_CONTACT.replace("attach_to: [exploitation_minor]", "attach_to: [exploitation_minr]")


# -- helpers -------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's own LENSBOT_LENS / LENSBOT_CONTACTS must not leak into these tests."""
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run_cli_all(jobs: dict[str, tuple[list[str], Path | None]]) -> dict[str, subprocess.CompletedProcess]:
    """Run `lensbot <args>` (in `cwd`) for every job as a real process (tests/support/lensbot_cli.py)."""
    return {name: run_lensbot(*args, cwd=cwd, env=cli_env(), timeout=120) for name, (args, cwd) in jobs.items()}


def copy_lens(dest: Path) -> Path:
    shutil.copytree(DEFAULT_LENS, dest)
    return dest


def plant(file: Path, old: str, new: str) -> None:
    """Replace `old` (which must occur exactly once) by `new` in `file`."""
    text = file.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {file.name}"
    file.write_text(text.replace(old, new), encoding="utf-8")


def line_of(file: Path, needle: str, after: str | None = None) -> int:
    """1-based number of the first line holding `needle` (after the first line holding `after`)."""
    lines = file.read_text(encoding="utf-8").splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line) + 1
    for i in range(start, len(lines)):
        if needle in lines[i]:
            return i + 1
    raise AssertionError(f"{needle!r} not found in {file}")


def parse_problems(output: str) -> list[dict[str, str]]:
    """The `file:line: path: message` lines of `lensbot matrix check`; every line must have that shape."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "no output"
    header, *rest = lines
    assert re.fullmatch(r"1 probleem gevonden:|\d+ problemen gevonden:", header), header
    assert int(header.split()[0]) == len(rest)
    found = []
    for line in rest:
        m = PROBLEM_LINE.match(line)
        assert m, f"not in file:line: path: message form: {line!r}"
        found.append(m.groupdict())
    return found


def assert_reported(problems: list[dict], file: str, line: int, path_part: str, message_part: str) -> None:
    hits = [p for p in problems if p["file"] == file and int(p["line"]) == line
            and path_part in (p["path"] or "") and message_part in p["message"]]
    shown = "\n".join(f"{p['file']}:{p['line']}: {p['path']}: {p['message']}" for p in problems)
    assert hits, f"expected {file}:{line}: ...{path_part}...: ...{message_part}... among:\n{shown}"


def problems_of(path: Path, contacts: Path | None = None) -> list:
    with pytest.raises(LensError) as info:
        load_lens(path, contacts)
    assert info.value.problems
    return info.value.problems


def as_dicts(problems: list) -> list[dict]:
    return [{"file": p.file, "line": p.line, "path": p.path, "message": p.message} for p in problems]


# -- the bundled lens ------------------------------------------------------------------------
def test_bundled_lens_has_the_documented_shape() -> None:
    """The shape README.md documents for the default lens (version 2.0.0).

    The one test that pins these numbers: every other test takes counts and progress lines from the
    loaded lens, so a lens edit changes this test (and the README) and nothing else.
    """
    lens = load_lens()
    assert lens.meta.version == "2.0.0"
    assert len(lens.leefgebieden) == 4
    assert len(lens.indicators) == 19
    assert len(lens.signals) == 94
    assert len(lens.red_flags) == 8
    assert len(lens.vignettes) == 24
    assert lens.counts()["quick_signals"] == 10   # after the age and the acute-danger question
    assert [lg.order for lg in lens.leefgebieden] == [1, 2, 3, 4]
    # Every question of the intake is a red flag or a signal, red flags first.
    assert len(lens.questions) == 94 + 8
    assert [q.phase for q in lens.questions[:8]] == ["red_flags"] * 8
    # The age is asked first, in every mode, with five bands; every signal has a kind.
    assert lens.age_item == "age_group"
    assert list(lens.age_bands) == ["a0_11", "a12_17", "a18_22", "a23_up", "unknown"]
    assert [lens.all_questions[i].item_id for i in lens.full_script[:2]] == ["age_group", "rf_direct_gevaar"]
    assert lens.all_questions[lens.quick_script[0]].item_id == "age_group"
    assert {s.kind for s in lens.signals.values()} == {"vulnerability", "exploitation", "harm"}
    assert VERSION.match(lens.version), lens.version


def test_version_is_stable_and_follows_the_content(tmp_path: Path) -> None:
    first, second = load_lens(), load_lens(DEFAULT_LENS)
    assert first.version == second.version

    copy = copy_lens(tmp_path / "lens")
    commented = copy / "lens.yaml"
    commented.write_text("# a comment changes no content\n" + commented.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_lens(copy).version == first.version

    plant(copy / "2_gezondheid.yaml", "Lijkt iemand anders te voorkomen dat {person} naar een dokter gaat?",
          "Lijkt iemand anders te voorkomen dat {person} naar een huisarts gaat?")
    edited = load_lens(copy)
    assert VERSION.match(edited.version)
    assert edited.version != first.version
    assert edited.version.startswith(f"{first.meta.version}+")


def test_lens_from_content_rebuilds_the_same_lens() -> None:
    lens = load_lens()
    rebuilt = lens_from_content(json.loads(json.dumps(lens.content)))
    assert rebuilt.version == lens.version
    assert rebuilt.counts() == lens.counts()
    assert [q.item_id for q in rebuilt.questions] == [q.item_id for q in lens.questions]


def test_matrix_check_on_the_default_lens(cli) -> None:
    lens = load_lens()
    version, expected = lens.version, lens.counts()
    text = cli["default_text"]
    assert text.returncode == 0, text.stderr
    assert f"lens criminele_uitbuiting {version}: OK" in text.stdout
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+([a-z_]+)\s+(\d+)$", text.stdout, re.M)}
    shown = ("leefgebieden", "indicators", "signals", "red_flags", "contacts", "advice_rules")
    assert counts == {k: expected[k] for k in shown}
    assert counts["signals"] == len(lens.signals) and counts["red_flags"] == len(lens.red_flags)

    as_json = cli["default_json"]
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["ok"] is True
    assert data["counts"].items() >= {**{k: expected[k] for k in shown}, "quick_signals": expected["quick_signals"],
                                      "version": version}.items()
    assert data["counts"]["quick_signals"] == sum(1 for s in lens.signals.values() if s.quick)
    assert data["counts"]["vignettes"] >= 12


# -- five planted mistakes, one `lensbot matrix check` -------------------------------------
@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, int, str, str]]]:
    """A copy of the default lens with five mistakes, each in its own file.

    Returns the folder that holds the copy (the CLI runs there, so files show as `lens/<name>`)
    and the expected problems as (file, line, path fragment, message fragment).
    """
    root = tmp_path_factory.mktemp("planted")
    lens = copy_lens(root / "lens")
    expected: list[tuple[str, int, str, str]] = []

    # 1. A misspelt key.
    f = lens / "4_zingeving_inzicht.yaml"
    plant(f, "          - id: ziet_geen_uitweg\n            kind: exploitation\n            weight: 3\n",
          "          - id: ziet_geen_uitweg\n            kind: exploitation\n            wieght: 3\n")
    expected.append((f"lens/{f.name}", line_of(f, "wieght: 3"), "signals[ziet_geen_uitweg]",
                     "unknown key 'wieght' (did you mean 'weight'?)"))

    # 2. A missing English translation.
    f = lens / "red_flags.yaml"
    plant(f, '      en: "Is {person} seriously injured right now?"\n', "")
    expected.append((f"lens/{f.name}", line_of(f, "question:", after="- id: rf_ernstig_letsel_seksueel_geweld"),
                     "red_flags[rf_ernstig_letsel_seksueel_geweld].question", "missing translation 'en'"))

    # 3. A signal id that is already used (in another file).
    f = lens / "3_werk_activiteiten_relaties.yaml"
    plant(f, "- id: patroon_zelfde_delict\n", "- id: schulden\n")
    duplicate_at = line_of(f, "- id: schulden")

    # 4. A reference to a viewer that does not exist (item on its own line).
    f = lens / "1_wonen_financien.yaml"
    plant(f, "seen_by: [schuldhulpverlening, wijkteam, bank]\n",
          "seen_by:\n          - schuldhulpverlening\n          - wijkteam\n          - wijkagnet\n")
    expected.append((f"lens/{f.name}", line_of(f, "- wijkagnet"), "indicators[schulden].seen_by[2]",
                     "unknown viewer 'wijkagnet' (did you mean 'wijkagent'?)"))
    # 1_wonen_financien.yaml has an indicator `schulden` and, below it, the signal `schulden`.
    first = line_of(f, "- id: schulden", after="- id: schulden")
    expected.append(("lens/3_werk_activiteiten_relaties.yaml", duplicate_at, "signals[schulden]",
                     f"duplicate id 'schulden' (first defined at lens/1_wonen_financien.yaml:{first})"))

    # 5. A weight outside 1..3.
    f = lens / "2_gezondheid.yaml"
    plant(f, "          - id: letsel_geen_zorg\n            kind: exploitation\n            weight: 3\n",
          "          - id: letsel_geen_zorg\n            kind: exploitation\n            weight: 5\n")
    expected.append((f"lens/{f.name}", line_of(f, "weight: 5"), "signals[letsel_geen_zorg].weight",
                     "weight must be 1, 2 or 3 (got 5)"))

    assert len({e[0] for e in expected}) == 5, "each mistake in its own file"
    return root, expected


@pytest.fixture(scope="module")
def cli(planted) -> dict[str, subprocess.CompletedProcess]:
    """Every `lensbot matrix check` run of this file, started together."""
    root, _ = planted
    (root / "local_contacts.yaml").write_text(BAD_ATTACH, encoding="utf-8")
    return run_cli_all({
        "default_text": (["matrix", "check"], None),
        "default_json": (["matrix", "check", str(DEFAULT_LENS), "--json"], None),
        "planted_text": (["matrix", "check", "lens"], root),
        "planted_json": (["matrix", "check", "lens", "--json"], root),
        "bad_contacts": (["matrix", "check", "--contacts", "local_contacts.yaml"], root),
    })


def test_matrix_check_reports_every_planted_mistake_with_file_and_line(planted, cli) -> None:
    _, expected = planted
    result = cli["planted_text"]
    assert result.returncode == 1, result.stdout + result.stderr
    problems = parse_problems(result.stdout)
    for file, line, path, message in expected:
        assert_reported(problems, file, line, path, message)


def test_matrix_check_json_lists_the_same_problems(planted, cli) -> None:
    _, expected = planted
    result = cli["planted_json"]
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    problems = data["problems"]
    assert all(set(p) == {"file", "line", "path", "message"} for p in problems)
    assert all(isinstance(p["line"], int) and p["line"] >= 1 for p in problems)
    for file, line, path, message in expected:
        assert_reported(problems, file, line, path, message)


def test_second_signal_in_the_same_file_with_a_used_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lens = copy_lens(tmp_path / "lens")
    monkeypatch.chdir(tmp_path)
    f = lens / "1_wonen_financien.yaml"
    plant(f, "- id: woont_vakantiepark_tijdelijk\n", "- id: woning_achterstallig_onderhoud\n")
    first = line_of(f, "- id: woning_achterstallig_onderhoud")
    second = line_of(f, "- id: woning_achterstallig_onderhoud", after="- id: woning_achterstallig_onderhoud")
    problems = as_dicts(problems_of(Path("lens")))
    assert_reported(problems, "lens/1_wonen_financien.yaml", second, "signals[woning_achterstallig_onderhoud]",
                    "duplicate id 'woning_achterstallig_onderhoud' "
                    f"(first defined at lens/1_wonen_financien.yaml:{first})")
    # The renamed signal is gone, so whatever referred to it (a vignette, say) is reported too.
    others = [p for p in problems if "duplicate id" not in p["message"]]
    assert all(p["message"] == "unknown signal or red flag 'woont_vakantiepark_tijdelijk'" for p in others)
    assert len(problems) - len(others) == 1


# -- more mistakes, checked in-process -----------------------------------------------------
def test_yaml_syntax_error_is_reported_with_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lens = copy_lens(tmp_path / "lens")
    monkeypatch.chdir(tmp_path)
    f = lens / "4_zingeving_inzicht.yaml"
    plant(f, "          - id: lvb\n            kind: vulnerability\n            weight: 1\n",
          "          - id: lvb\n            kind: vulnerability\n            weight: 1: 3\n")
    problems = problems_of(Path("lens"))
    syntax = [p for p in problems if "YAML syntax error" in p.message]
    assert len(syntax) == 1, [str(p) for p in problems]
    assert syntax[0].file == "lens/4_zingeving_inzicht.yaml"
    assert syntax[0].line == line_of(f, "weight: 1: 3")
    assert str(syntax[0]).startswith(f"lens/4_zingeving_inzicht.yaml:{syntax[0].line}: YAML syntax error")


def test_duplicate_mapping_key_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lens = copy_lens(tmp_path / "lens")
    monkeypatch.chdir(tmp_path)
    f = lens / "2_gezondheid.yaml"
    signal = "          - id: letsel_geen_zorg\n            kind: exploitation\n            weight: 3\n"
    plant(f, signal, signal + "            weight: 1\n")
    first = line_of(f, "weight: 3", after="- id: letsel_geen_zorg")
    problems = problems_of(Path("lens"))
    assert len(problems) == 1, [str(p) for p in problems]
    p = problems[0]
    assert (p.file, p.line) == ("lens/2_gezondheid.yaml", line_of(f, "weight: 1", after="- id: letsel_geen_zorg"))
    assert p.message == f"duplicate key 'weight' (an earlier 'weight' is on line {first})"


def test_unknown_contact_in_advice_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lens = copy_lens(tmp_path / "lens")
    monkeypatch.chdir(tmp_path)
    f = lens / "rules.yaml"
    plant(f, "    contacts: [meld_misdaad_anoniem]\n", "    contacts: [meld_misdaad_anoniem, politie_amsterdam]\n")
    problems = as_dicts(problems_of(Path("lens")))
    assert len(problems) == 1
    assert_reported(problems, "lens/rules.yaml", line_of(f, "politie_amsterdam"), "advice[anonymous_tip].contacts[1]",
                    "unknown contact 'politie_amsterdam'")


def test_local_contacts_file_with_unknown_advice_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    local = tmp_path / "local_contacts.yaml"
    local.write_text(BAD_ATTACH, encoding="utf-8")
    monkeypatch.setenv("LENSBOT_CONTACTS", str(local))     # as an operator configures it
    problems = as_dicts(problems_of(DEFAULT_LENS, Settings.load().contacts))
    assert len(problems) == 1
    assert_reported(problems, "local_contacts.yaml", line_of(local, "attach_to:"),
                    "contacts[afm_mensenhandel_zwolle].attach_to[0]",
                    "unknown advice rule 'exploitation_minr' (did you mean 'exploitation_minor'?)")


def test_matrix_check_with_contacts_option(planted, cli) -> None:
    root, _ = planted
    result = cli["bad_contacts"]
    assert result.returncode == 1
    problems = parse_problems(result.stdout)
    assert len(problems) == 1
    assert_reported(problems, "local_contacts.yaml", line_of(root / "local_contacts.yaml", "attach_to:"),
                    "contacts[afm_mensenhandel_zwolle].attach_to[0]", "unknown advice rule 'exploitation_minr'")


def test_local_contacts_file_may_only_hold_contacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    local = tmp_path / "local_contacts.yaml"
    local.write_text(LOCAL_CONTACT + "viewers:\n  - id: gemeente\n    name: {nl: Gemeente, en: Municipality}\n",
                     encoding="utf-8")
    problems = problems_of(DEFAULT_LENS, local)
    assert [(p.file, p.line) for p in problems] == [("local_contacts.yaml", line_of(local, "viewers:"))]
    assert "unknown key 'viewers'" in problems[0].message
    assert "may only hold 'contacts'" in problems[0].message


def test_local_contact_joins_the_advice_it_attaches_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = tmp_path / "local_contacts.yaml"
    local.write_text(LOCAL_CONTACT, encoding="utf-8")
    default = load_lens()
    monkeypatch.setenv("LENSBOT_CONTACTS", str(local))
    lens = configured_lens(Settings.load())   # the settings reach the loader through the composition root
    assert lens.counts()["contacts"] == default.counts()["contacts"] + 1
    assert lens.version != default.version, "local contacts are part of the lens a case was assessed with"
    assert load_lens(DEFAULT_LENS, local).version == lens.version

    result = assess(lens, EXPLOITATION)
    assert result.concern == "possible_exploitation"
    by_contact = {a.contact: a for a in result.advice}
    assert "afm_mensenhandel_zwolle" in by_contact
    item = by_contact["afm_mensenhandel_zwolle"]
    assert item.rule == "exploitation_minor"
    minor = next(r for r in lens.advice_rules if r.id == "exploitation_minor")
    assert item.why == minor.why
    assert lens.contacts["afm_mensenhandel_zwolle"].phone == "038-498 9111"

    # Not with advice it is not attached to: the same signals for an adult take the adult's route.
    adult = assess(lens, {**EXPLOITATION, "age_group": "a23_up"})
    assert adult.concern == "possible_exploitation" and "exploitation_minor" not in adult.rules
    assert "afm_mensenhandel_zwolle" not in {a.contact for a in adult.advice}
    weak = assess(lens, {"age_group": "a12_17", "schulden": "yes"})
    assert weak.concern == "attention"
    assert "afm_mensenhandel_zwolle" not in {a.contact for a in weak.advice}
