"""The expert acceptance table: fictional cases with the concern and routes a safeguarding expert expects.

Why this table exists: the scoring rules and the lens data change often, and every change can quietly
turn a vulnerable-but-safe young person into "possible exploitation", or lose the Veilig Thuis route for
a child who is being harmed. The cases in tests/data/expert_cases.yaml pin down what professionals must
see, in the expert's words: vulnerability is not exploitation; exploitation shows in control, coercion
and crime committed for someone else; harm has its own route whatever the rest says; a red flag is acute;
nothing answered is not assessed. Each case runs through the real `lensbot assess --format json` path.

`python tests/test_expert_table.py` prints the table as markdown (id | expected | actual | ok), to
review with the expert or to paste into a pull request.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.slow(seconds=10)   # about its wall time on one worker: handed out early (tests/conftest.py)

CASES_FILE = Path(__file__).parent / "data" / "expert_cases.yaml"
ENV_KEYS = ("LENSBOT_LENS", "LENSBOT_CONTACTS")  # the bundled lens, never an operator's override

CONCERNS = ("not_assessed", "none", "attention", "possible_exploitation", "acute")
ANSWER_VALUES = ("yes", "no", "unknown")
AGE_VALUES = ("minor", "adult", "unknown", "a0_11", "a12_17", "a18_22", "a23_up")
CONTACTS = frozenset({
    "alarm_112", "veilig_thuis", "politie", "meld_misdaad_anoniem", "comensha", "zorgcoordinator_mensenhandel",
    "aandachtsfunctionaris", "arbeidsinspectie", "leerplichtambtenaar", "rmc", "zelfmoordpreventie_113",
    "centrum_seksueel_geweld", "landelijk_steunpunt_extremisme", "zorg_en_veiligheidshuis", "nidos", "gemeente",
    "keerpunt", "fier", "ccv", "ckm",
})
PHENOMENA = frozenset({
    "mensenhandel", "ondermijning", "fraude", "criminele_familienetwerken", "georganiseerde_misdaad",
    "onveilige_vakantieparken", "kopp_kinderen", "radicalisering", "jeugdgroepen", "onveilige_wijk", "woonoverlast",
    "pgb_fraude", "arbeidsuitbuiting",
})
# The routes for (suspected) exploitation; a case without exploitation must never be sent there.
EXPLOITATION_ROUTES = frozenset({"politie", "comensha", "zorgcoordinator_mensenhandel", "meld_misdaad_anoniem"})
CASE_KEYS = frozenset({"id", "reason", "answers", "concern", "must", "must_not", "phenomena", "phenomena_not"})
REQUIRED_KEYS = frozenset({"id", "reason", "answers", "concern", "must", "must_not"})
SUBPROCESS_CASE = "trap_armoede_schuldhulp"


def load_cases() -> list[dict[str, Any]]:
    cases = yaml.load(CASES_FILE.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert isinstance(cases, list), f"{CASES_FILE}: expected a list of cases"
    return cases


CASES = load_cases()
CASES_BY_ID = {c["id"]: c for c in CASES if isinstance(c, dict) and "id" in c}


@contextlib.contextmanager
def bundled_lens_env() -> Iterator[None]:
    """Run with the bundled lens and contacts, whatever the caller's environment says."""
    saved = {k: os.environ.pop(k) for k in ENV_KEYS if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def write_answers(directory: Path, case: dict[str, Any]) -> Path:
    file = directory / f"{case['id']}.json"
    file.write_text(json.dumps(case["answers"], ensure_ascii=False), encoding="utf-8")
    return file


def assess_argv(file: Path) -> list[str]:
    return ["assess", str(file), "--format", "json"]


def run_in_process(file: Path) -> tuple[int, str, str]:
    """`lensbot assess FILE --format json` through bot.cli.main; (exit code, stdout, stderr)."""
    from bot.cli import main  # imported late, so `python tests/test_expert_table.py` needs no sys.path setup

    out, err = io.StringIO(), io.StringIO()
    with bundled_lens_env(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(assess_argv(file))
        except SystemExit as exc:  # argparse refusing the command line
            code = exc.code if isinstance(exc.code, int) else 2
        except Exception as exc:  # a table row, not a crash of the whole table
            return 1, out.getvalue(), f"{type(exc).__name__}: {exc}"
    return code, out.getvalue(), err.getvalue()


def advice_ids(data: dict[str, Any]) -> list[str]:
    return [a["id"] if isinstance(a, dict) else str(a) for a in data.get("advice") or []]


def advice_shown(data: dict[str, Any]) -> list[str]:
    """Advice ids with the rule behind each, when the output names it: "veilig_thuis (harm_minor)"."""
    shown = []
    for a in data.get("advice") or []:
        if isinstance(a, dict):
            shown.append(f"{a.get('id')} ({a['rule']})" if a.get("rule") else str(a.get("id")))
        else:
            shown.append(str(a))
    return shown


def phenomenon_ids(data: dict[str, Any]) -> list[str]:
    """The shown phenomena: a list of objects with `id`, or a list of ids."""
    return [p["id"] if isinstance(p, dict) else str(p) for p in data.get("phenomena") or []]


def problems_of(case: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """Everything in `data` (the assess JSON) that differs from what the case expects; empty when it passes."""
    problems = []
    if data.get("concern") != case["concern"]:
        problems.append(f"concern: expected {case['concern']}, got {data.get('concern')}")
    advice = set(advice_ids(data))
    if missing := [c for c in case["must"] if c not in advice]:
        problems.append(f"advice lacks {missing}")
    if forbidden := [c for c in case["must_not"] if c in advice]:
        problems.append(f"advice must not contain {forbidden}")
    phenomena = set(phenomenon_ids(data))
    if missing := [p for p in case.get("phenomena") or [] if p not in phenomena]:
        problems.append(f"phenomena lack {missing}")
    if forbidden := [p for p in case.get("phenomena_not") or [] if p in phenomena]:
        problems.append(f"phenomena must not contain {forbidden}")
    return problems


def failure_message(case: dict[str, Any], data: dict[str, Any] | None, problems: list[str], stderr: str = "") -> str:
    lines = [
        f"case {case['id']}: {'; '.join(problems)}",
        f"  reason:    {case['reason']}",
        f"  answers:   {json.dumps(case['answers'], ensure_ascii=False)}",
        f"  concern:   expected {case['concern']}, actual {data.get('concern') if data else None}",
        f"  must:      {case['must']}",
        f"  must_not:  {case['must_not']}",
        f"  advice:    {advice_shown(data) if data else None}",
    ]
    if "phenomena" in case or "phenomena_not" in case:
        lines.append(f"  phenomena: expected {case.get('phenomena') or []}, not {case.get('phenomena_not') or []}, "
                     f"actual {phenomenon_ids(data) if data else None}")
    if data and data.get("rules"):
        lines.append(f"  rules:     {data['rules']}")
    if stderr.strip():
        lines.append(f"  stderr:    {stderr.strip()}")
    return "\n".join(lines)


# -- the table ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.get("id", "?") for c in CASES])
def test_expert_case(case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import main

    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    file = write_answers(tmp_path, case)
    capsys.readouterr()  # drop anything printed before the command
    code = main(assess_argv(file))
    out, err = capsys.readouterr()
    assert code == 0, failure_message(case, None, [f"exit code {code}"], err)
    data = json.loads(out)
    problems = problems_of(case, data)
    assert not problems, failure_message(case, data, problems, err)


def test_console_script_on_a_trap_case(tmp_path: Path) -> None:
    """The installed `lensbot` console script (as in pyproject), as a real process, on one trap case."""
    case = CASES_BY_ID[SUBPROCESS_CASE]
    file = write_answers(tmp_path, case)
    script = Path(sys.executable).with_name("lensbot")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["PYTHONIOENCODING"] = "utf-8"
    result = subprocess.run([*command, *assess_argv(file)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            encoding="utf-8", timeout=120, check=False)
    assert result.returncode == 0, failure_message(case, None, [f"exit code {result.returncode}"], result.stderr)
    data = json.loads(result.stdout)
    problems = problems_of(case, data)
    assert not problems, failure_message(case, data, problems, result.stderr)


def test_print_table() -> None:
    """Prints the markdown table of a sample (see it with `pytest -s`; `python tests/test_expert_table.py`
    prints all of it)."""
    sample = CASES[::10]   # every case runs in test_expert_case already; the table's shape needs a few
    text = table(sample)
    print()
    print(text)
    rows = text.splitlines()
    assert rows[0].startswith("| id | expected | actual | ok |")
    assert len(rows) == 2 + len(sample) and all(r.endswith("| yes |") for r in rows[2:])


# -- the table file itself ------------------------------------------------------------------------


def test_case_file_is_well_formed() -> None:
    ids = [c.get("id") for c in CASES]
    assert len(ids) == len(set(ids)), f"duplicate case ids: {sorted({i for i in ids if ids.count(i) > 1})}"
    for case in CASES:
        where = f"case {case.get('id')}"
        assert set(case) >= REQUIRED_KEYS, f"{where}: missing {sorted(REQUIRED_KEYS - set(case))}"
        assert set(case) <= CASE_KEYS, f"{where}: unknown keys {sorted(set(case) - CASE_KEYS)}"
        assert isinstance(case["reason"], str) and case["reason"].strip(), f"{where}: empty reason"
        assert case["concern"] in CONCERNS, f"{where}: unknown concern {case['concern']!r}"
        assert isinstance(case["answers"], dict), f"{where}: answers must be a mapping"
        for key, value in case["answers"].items():
            allowed = AGE_VALUES if key == "age_group" else ANSWER_VALUES
            # An unquoted yes/no is a YAML boolean: this catches it before the CLI refuses it.
            assert isinstance(value, str) and value in allowed, f"{where}: {key}: {value!r} is not one of {allowed}"
        for field in ("must", "must_not"):
            unknown = set(case[field]) - CONTACTS
            assert not unknown, f"{where}: {field} names unknown contact ids {sorted(unknown)}"
        both = set(case["must"]) & set(case["must_not"])
        assert not both, f"{where}: {sorted(both)} both in must and must_not"
        for field in ("phenomena", "phenomena_not"):
            unknown = set(case.get(field) or []) - PHENOMENA
            assert not unknown, f"{where}: {field} names unknown phenomenon ids {sorted(unknown)}"


def test_case_file_covers_the_brief() -> None:
    """The table keeps enough traps, harm and exploitation cases, and every phenomenon in an exploitation case."""
    traps = [c for c in CASES if c["id"].startswith("trap_")]
    assert len(traps) >= 12
    for case in traps:
        assert case["concern"] in ("none", "attention"), case["id"]
        missing = EXPLOITATION_ROUTES - set(case["must_not"])
        assert not missing, f"trap {case['id']} must forbid the exploitation routes {sorted(missing)}"
    assert len([c for c in CASES if c["id"].startswith("harm_")]) >= 4
    exploitation = [c for c in CASES if c["concern"] in ("possible_exploitation", "acute")]
    assert len(exploitation) >= 12
    shown = {p for c in exploitation for p in c.get("phenomena") or []}
    assert shown == PHENOMENA, f"phenomena never expected in an exploitation case: {sorted(PHENOMENA - shown)}"
    assert len(CASES) >= 34


# -- the table as markdown ------------------------------------------------------------------------


def table(cases: list[dict[str, Any]] | None = None) -> str:
    """Run the cases (default: all) in-process and return a markdown table: id | expected | actual | ok."""
    rows = ["| id | expected | actual | ok |", "| --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory(prefix="expert_table_") as tmp:
        for case in CASES if cases is None else cases:
            code, out, err = run_in_process(write_answers(Path(tmp), case))
            if code != 0:
                actual = f"exit {code}: {' '.join(err.split())[:120]}"
                ok = "no"
            else:
                try:
                    data = json.loads(out)
                except json.JSONDecodeError:
                    actual, ok = "output is not JSON", "no"
                else:
                    problems = problems_of(case, data)
                    actual = str(data.get("concern"))
                    if problems:
                        actual += " (" + "; ".join(p for p in problems if not p.startswith("concern")) + ")"
                    ok = "no" if problems else "yes"
            actual = actual.replace(" ()", "").replace("|", "\\|")
            rows.append(f"| {case['id']} | {case['concern']} | {actual} | {ok} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
