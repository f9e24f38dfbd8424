"""End-to-end: the real `lensbot` command in a subprocess, answers piped in, a real SQLite file."""

from __future__ import annotations

import codecs
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from matrix.lens import Lens
from tests.support.lensbot_cli import run_lensbot

pytestmark = pytest.mark.slow(seconds=18)   # about its wall time on one worker: handed out early (tests/conftest.py)

LENSBOT = Path(sys.executable).with_name("lensbot")
STRONG = {  # strong (weight-3) exploitation signals in two leefgebieden
    "bankpas_rekening_afgestaan", "schuld_aan_persoon",                 # Wonen & Financiën
    "delict_in_opdracht", "bedreigd_zelf_of_familie",                   # Werk, Activiteiten & Sociale Relaties
}
AGE = "12 tot 18 jaar"   # the band a person picks for a teenager


def lensbot_cmd(*args: str) -> list[str]:
    return [str(LENSBOT), *args] if LENSBOT.exists() else [sys.executable, "-m", "bot.cli", *args]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["LENSBOT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'lensbot.db'}"
    return e   # LENSBOT_LENS / LENSBOT_CONTACTS pass through: the process uses the lens the `lens` fixture loaded


def run(env: dict[str, str], stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_lensbot(*args, env=env, input=stdin)


def age_option(lens: Lens, label: str = AGE) -> str:
    """What a person types at the age question: the number of the option with this label."""
    assert lens.doc.age is not None
    labels = [b.label.nl for b in lens.doc.age.bands]
    return str(labels.index(label) + 1)


def red_flag_progress(lens: Lens, number: int, phase: str = "Acuut gevaar") -> str:
    return f"[{phase} · {number}/{len(lens.red_flags)}]"


def script(lens: Lens, answer: dict[str, str], default: str = "nee", note: str = "1") -> str:
    """Input lines for a whole intake: begin, the age, one line per question, then the note line."""
    lines = [answer.get(q.item_id, default) for q in lens.questions]
    return "\n".join(["begin", age_option(lens), *lines, note]) + "\n"


def case_code(out: str) -> str:
    match = re.search(r"Nieuwe zaak gestart: ([A-Z0-9]{2}-[A-Z0-9]{4})", out)
    assert match, out
    return match.group(1)


def test_strong_signals_in_two_leefgebieden(env: dict[str, str], lens: Lens) -> None:
    assert all(lens.signals[s].kind == "exploitation" and lens.signals[s].weight == 3 for s in STRONG)
    indicators = {lens.signal_indicator[s] for s in STRONG}
    assert len({lens.indicator_leefgebied[i] for i in indicators}) == 2
    done = run(env, script(lens, {s: "ja" for s in STRONG}, default="?"), "chat")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    code = case_code(out)
    short = out[out.index("Overzicht zaak"):]   # the chat ends with the short summary: one screen
    assert "Zorgniveau: mogelijke criminele uitbuiting" in short and f"Leeftijd: {AGE}" in short
    assert "Wat zie ik nog niet?" in short and f"lensbot summary {code}" in short
    assert len(short.splitlines()) <= 30 and "lens 2." not in short
    summary = run(env, "", "summary", code).stdout   # the details, as the chat's last line says
    assert "Zorgniveau: mogelijke criminele uitbuiting" in summary
    assert f"Leeftijd: {AGE}" in summary
    for ind in indicators:   # each pair of strong signals makes its indicator stand out
        lg = lens.leefgebied_by_id[lens.indicator_leefgebied[ind]]
        assert f"{lens.indicators[ind].name.nl} ({lg.name.nl})" in summary
    unknown_age = [b.person.nl for b in lens.age_bands.values() if b.group == "unknown"]
    assert "de jongere" in summary and "{person}" not in summary          # worded for the age given ...
    assert not any(who in summary for who in unknown_age)                  # ... not as for an unknown age
    assert "Wat zie ik nog niet?" in summary and "wie ziet dit:" in summary
    assert "Veilig Thuis · 0800-2000" in summary and "Politie · 0900-8844" in summary
    assert "De intake is afgerond" in out


def test_all_no_gives_no_exploitation_advice(env: dict[str, str], lens: Lens) -> None:
    done = run(env, script(lens, {}), "chat")
    assert done.returncode == 0, done.stderr
    short = done.stdout[done.stdout.index("Overzicht zaak"):]
    assert "Zorgniveau: geen signalen" in short
    summary = run(env, "", "summary", case_code(done.stdout)).stdout
    assert "Zorgniveau: geen signalen" in summary
    for contact in ("Veilig Thuis", "Politie", "CoMensha", "Alarmnummer 112", "Meld Misdaad Anoniem"):
        assert contact not in summary
    assert "CCV (Centrum voor Criminaliteitspreventie en Veiligheid) · https://hetccv.nl" in summary


def test_red_flag_shows_112_before_anything_else(env: dict[str, str], lens: Lens) -> None:
    done = run(env, f"begin\n{age_option(lens)}\nja\n", "chat")
    out = done.stdout
    assert out.index("[Leeftijd · 1/1]") < out.index(red_flag_progress(lens, 1))   # the age comes first
    alert = out.index("Acuut gevaar: bel nu 112")
    assert alert < out.index(red_flag_progress(lens, 2))
    assert done.returncode == 0
    assert "Alles tot nu toe is opgeslagen" in out


def test_english_and_bad_input(env: dict[str, str], lens: Lens) -> None:
    # "yes" is no age: the age question wants one of its options, typed by number
    done = run(env, "hello\nbegin\nyes\n4\nmaybe\nyes\nstop\n", "chat", "--lang", "en")
    out = done.stdout
    assert "New case started" in out
    assert out.count("I do not recognise that answer") == 3
    assert "[Age · 1/1]" in out
    assert red_flag_progress(lens, 2, "Acute danger") in out
    assert "the adult" in out   # "23 or older": the questions speak of an adult
    assert "Paused. Everything so far is saved" in out
    cases = json.loads(run(env, "", "cases", "--format", "json").stdout)
    assert [(c["status"], c["answers"]) for c in cases] == [("open", 2)]   # the age and one red flag
    assert set(cases[0]) >= {"code", "mode", "status", "answers", "lens_version", "created", "updated"}


def test_resume_with_case_code_and_cases_listing(env: dict[str, str], lens: Lens) -> None:
    first = run(env, "begin\nweet ik niet\nnee\nnee\n", "chat")    # the age typed as its option's label
    assert "herken ik niet" not in first.stdout
    code = case_code(first.stdout)
    again = run(env, "nee\n", "chat", "--case", code.lower())
    assert f"Zaak {code} hervat." in again.stdout
    assert "[Leeftijd" not in again.stdout   # the age was given: not asked again
    (unknown,) = [b for b in lens.age_bands.values() if b.group == "unknown"]
    assert unknown.person.nl in again.stdout    # the questions speak of a person of unknown age
    assert again.stdout.index(red_flag_progress(lens, 3)) < again.stdout.index(red_flag_progress(lens, 4))
    listing = run(env, "", "cases")
    assert code in listing.stdout and "open" in listing.stdout
    missing = run(env, "", "chat", "--case", "ZZ-ZZZZ")
    assert missing.returncode == 2 and "niet gevonden" in missing.stdout


def _read_until(proc: subprocess.Popen[bytes], marker: str, buffer: list[str], timeout: float = 20) -> None:
    """Read the process's output into `buffer` until `marker` shows; fail (never hang) after `timeout`."""
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    decoder = codecs.getincrementaldecoder("utf-8")()
    while marker not in "".join(buffer):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(left, 0))
        assert ready, f"timed out waiting for {marker!r}: {''.join(buffer)[-500:]}"
        chunk = os.read(fd, 4096)
        assert chunk, f"process ended before {marker!r}"
        buffer.append(decoder.decode(chunk))


def _say(proc: subprocess.Popen[bytes], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(f"{line}\n".encode())
    proc.stdin.flush()


def test_sigkill_mid_intake_loses_no_acknowledged_answer(env: dict[str, str], lens: Lens) -> None:
    proc = subprocess.Popen(lensbot_cmd("chat"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
    buf: list[str] = []
    _read_until(proc, "1) Begin", buf)
    assert "Nieuwe zaak gestart" not in "".join(buf)   # no case before Begin
    _say(proc, "begin")
    _read_until(proc, "[Leeftijd · 1/1]", buf)
    code = case_code("".join(buf))
    _say(proc, age_option(lens))
    flags = len(lens.red_flags)
    first_lg = lens.leefgebieden[0].name.nl
    acknowledged: list[str] = []
    for i, q in enumerate(lens.questions[:12]):
        _read_until(proc, f"[{'Acuut gevaar' if i < flags else first_lg} · {q.number}/{q.phase_size}]", buf)
        _say(proc, "ja" if i == 8 else "nee")
        nxt = lens.questions[i + 1]
        if i < 10:  # wait until the next question is shown: this answer is acknowledged
            _read_until(proc, f" · {nxt.number}/{nxt.phase_size}]", buf)
            acknowledged.append(q.item_id)
    # the 11th and 12th answers were sent but not waited for; kill the process now
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    resumed = run(env, "nee\n" * (len(lens.questions) - 10) + "1\n", "chat", "--case", code)
    assert resumed.returncode == 0, resumed.stderr
    first_prompt = re.search(r"\[(.+?) · (\d+)/(\d+)\]", resumed.stdout)
    assert first_prompt is not None
    resumed_at = int(first_prompt.group(2)) + (flags if first_prompt.group(1) == first_lg else 0) - 1
    assert 10 <= resumed_at <= 12       # continues right after the last acknowledged (or committed) answer
    assert "De intake is afgerond" in resumed.stdout
    from storage.repo import Store

    store = Store(env["LENSBOT_DATABASE_URL"])
    user = store.user("console", __import__("getpass").getuser())
    assert user is not None
    (case,) = [c for c in store.list_cases(user.id) if c.code == code]
    assert case.status == "completed" and case.answers == len(lens.full_script)   # the age and every question
    from dialogs.service import IntakeService

    view = IntakeService(store, lens).view(user, code)
    assert view is not None
    assert view.answers[lens.questions[8].item_id] == "yes"   # the acknowledged "ja" survived the kill
    assert lens.age_item is not None and view.answers[lens.age_item] in lens.age_bands
    log_items = [item for item, _ in store.answer_log(view.case.id)]
    assert len(log_items) == len(set(log_items)) == len(lens.full_script)   # nothing stored twice
    store.dispose()
