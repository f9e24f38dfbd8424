"""The command line as a newcomer meets it (issue 15): the same database from any folder, errors in one
line in the user's language with the documented exit code, help in Dutch and English, reports written
to CODE.pdf / CODE.png, a CSV that Dutch Excel opens as it is, and the local picture per month.

Commands run through bot.cli.main, as the console script runs them (a closed pipe: the real `lensbot`
process under bash), on real SQLite files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from bot.cli import main
from dialogs.counts import Period
from dialogs.service import IntakeService
from matrix.lens import Lens
from tests.support.app import Store
from tests.support.closed import close_this_month
from tests.support.generate import run_case

LENSBOT = Path(sys.executable).with_name("lensbot")


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """`lensbot ARGS` as typed in a Dutch terminal (LANG=C.UTF-8): (exit code, stdout, stderr)."""
    for key in [k for k in os.environ if k.startswith(("LC_", "LANG")) or k == "LENSBOT_DATABASE_URL"]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("LANG", "C.UTF-8")

    def run(*args: str, stdin: str = "", **env: str) -> tuple[int, str, str]:
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            m.setattr(sys, "stdin", io.StringIO(stdin))
            try:
                code = main(list(args))
            except SystemExit as exc:   # --help, --version, a usage error
                code = int(exc.code or 0)
            out = capsys.readouterr()
        return code, out.out, out.err
    return run


def one_line_error(result: tuple[int, str, str], code: int) -> str:
    rc, _, err = result
    assert rc == code, result
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


QUICK = "2\nnee\nja\n?\nja\nnee\nnee\n?\nnee\nnee\nnee\nnee\n1\n"   # age 12-18, no danger, ten answers, 1) Klaar


def quick_scan(run, **env: str) -> str:  # type: ignore[no-untyped-def]
    """A quick scan typed through to "1) Klaar"; its case code."""
    rc, out, _ = run("chat", "--mode", "quick", stdin=QUICK, **env)
    code = re.search(r"Resultaat snelle scan ([A-Z0-9]{2}-[A-Z0-9]{4})", out)
    assert rc == 0 and code, out
    return code.group(1)


def test_klaar_keeps_its_number_and_no_case_exists_before_begin(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'lensbot.db'}"
    _, out, _ = run("chat", stdin="hallo\nstop\n", LENSBOT_DATABASE_URL=db)   # looks at the opening, leaves
    assert "1) Begin" in out and "Nieuwe zaak gestart" not in out
    assert "Er is geen zaak aangemaakt en niets opgeslagen." in out
    assert "Nog geen zaken." in run("cases", LENSBOT_DATABASE_URL=db)[1]
    # the quick result: with two leefgebieden to deepen, and with none, "Klaar" is 1 and "Doorgaan" 2
    for typed in (QUICK, "2\nnee\n" + "nee\n" * 10 + "1\n"):
        _, out, _ = run("chat", "--mode", "quick", stdin=typed, LENSBOT_DATABASE_URL=db)
        assert "\n1) Klaar\n2) Doorgaan met volledige intake\n" in out
        assert "De intake is afgerond" in out
    assert len(json.loads(run("cases", "--format", "json", LENSBOT_DATABASE_URL=db)[1])) == 2


def test_the_same_database_from_any_folder(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    data, one, two, here = (tmp_path / d for d in ("data", "one", "two", "here"))
    for folder in (one, two, here):
        folder.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.chdir(one)
    code = quick_scan(run)
    monkeypatch.chdir(two)                                              # another folder: the same case
    rc, listed, _ = run("cases")
    assert rc == 0 and f"Database: {data / 'lensbot' / 'lensbot.db'}" in listed
    row = next(line for line in listed.splitlines() if line.startswith(code))
    assert "quick" in row and "completed" in row
    assert re.search(r"(geen signalen|aandacht|mogelijke criminele uitbuiting|acuut gevaar)", row), row   # concern
    assert "(Europe/Amsterdam)" in listed and "zorgniveau" in listed
    assert not list(one.iterdir()) and not list(two.iterdir())         # nothing left in the folders run from
    # a lensbot.db in the current folder is still honoured (as before the default moved)
    monkeypatch.chdir(here)
    assert run("db", "upgrade", LENSBOT_DATABASE_URL="sqlite:///lensbot.db")[0] == 0
    _, there, _ = run("cases")
    assert f"Database: {here / 'lensbot.db'}" in there and "Nog geen zaken." in there
    _, english, _ = run("cases", "--lang", "en")
    assert "No cases yet." in english and "Database:" in english


def test_errors_are_one_line_in_the_users_language(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'lensbot.db'}"
    bad = one_line_error(run("cases", LENSBOT_DATABASE_URL="lensbot.db"), 2)
    assert bad.startswith("lensbot: een instelling klopt niet: LENSBOT_DATABASE_URL")
    assert "geheim" not in one_line_error(run("cases", LENSBOT_DATABASE_URL="mysql://ann:geheim@db/x"), 2)
    unreachable = "postgresql://ann:geheim@127.0.0.1:1/x"
    down = one_line_error(run("--lang", "en", "cases", LENSBOT_DATABASE_URL=unreachable), 1)
    assert down.startswith("lensbot: the database is unavailable (postgresql://ann:***@127.0.0.1:1/x)")
    assert "geheim" not in down
    assert "zaak ZZ-ZZZZ niet gevonden" in one_line_error(run("summary", "ZZ-ZZZZ", LENSBOT_DATABASE_URL=db), 2)
    english = one_line_error(run("summary", "ZZ-ZZZZ", LENSBOT_DATABASE_URL=db, LANG="en_GB.UTF-8"), 2)
    assert "case ZZ-ZZZZ not found" in english
    for period in ("2026-13", "2026-13-01"):
        assert one_line_error(run("stats", "--period", period, LENSBOT_DATABASE_URL=db), 2)
    assert "2026-13-01" in one_line_error(run("audit", "--since", "2026-13-01", LENSBOT_DATABASE_URL=db), 2)
    usage = one_line_error(run("chat", "--mode", "snel", LENSBOT_DATABASE_URL=db), 2)
    assert "ongeldige keuze: 'snel'" in usage and "lensbot chat --help" in usage
    # one bad weight in a lens from LENSBOT_LENS: one problem, named so, and where the lens came from
    broken = tmp_path / "lens"
    shutil.copytree(Path(__file__).parents[1] / "matrix" / "lenses" / "default", broken)
    f = broken / "2_gezondheid.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("weight: 3", "weight: 7", 1), encoding="utf-8")
    lens_error = one_line_error(run("chat", LENSBOT_DATABASE_URL=db, LENSBOT_LENS=str(broken)), 1)
    assert f"de lens uit LENSBOT_LENS ({broken}) is niet geldig (1 probleem): " in lens_error
    assert "weight must be 1, 2 or 3 (got 7)" in lens_error
    rc, out, _ = run("matrix", "check", str(broken))
    assert rc == 1 and out.splitlines()[0] == "1 probleem gevonden:" and len(out.splitlines()) == 2


def test_a_closed_pipe_ends_quietly(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'lensbot.db'}"
    code = quick_scan(run, LENSBOT_DATABASE_URL=db)
    lensbot = str(LENSBOT) if LENSBOT.exists() else f"{sys.executable} -m bot.cli"
    done = subprocess.run(["bash", "-c", f"{lensbot} summary {code} | head -1; echo \"exit ${{PIPESTATUS[0]}}\""],
                          env={**os.environ, "LENSBOT_DATABASE_URL": db}, capture_output=True, text=True, timeout=60)
    assert done.stderr == "", done.stderr                               # no traceback, no "Exception ignored"
    assert re.fullmatch(r".*\nexit (0|141)\n", done.stdout, re.S), done.stdout


def test_help_version_and_language(run) -> None:  # type: ignore[no-untyped-def]
    rc, dutch, _ = run("--help")
    assert rc == 0 and dutch.startswith("gebruik: lensbot") and "voorbeelden:" in dutch
    assert "lensbot report 7K-M2QX" in dutch and "afsluitcodes:" in dutch
    _, english, _ = run("--help", LANG="en_US.UTF-8")
    assert english.startswith("usage: lensbot") and "examples:" in english
    _, chat, _ = run("chat", "--help", "--lang", "en")
    assert "resume this case where it stopped" in chat and "end it with an empty line" in chat
    _, report, _ = run("report", "--help")
    assert "schrijft 7K-M2QX.pdf" in report and "csv-plain" in report and "toon deze hulp en stop" in report
    rc, version, _ = run("--version")
    assert rc == 0 and re.fullmatch(r"lensbot \d+\.\d+\.\d+\S*\n", version)


def test_reports_land_in_code_files_and_the_csv_opens_in_dutch_excel(run, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENSBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'lensbot.db'}")
    monkeypatch.chdir(tmp_path)
    code = quick_scan(run)
    for fmt, magic in (("pdf", b"%PDF"), ("png", b"\x89PNG")):
        rc, _, err = run(*(("report", code) if fmt == "pdf" else ("report", code, "--format", fmt)))
        assert rc == 0 and f"geschreven: {code}.{fmt}" in err, err
        assert (tmp_path / f"{code}.{fmt}").read_bytes().startswith(magic)
    assert run("report", code, "--format", "csv", "--out", "zaak.csv")[0] == 0
    raw = (tmp_path / "zaak.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw                      # BOM, Windows line ends
    header, *rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert header[:13] == ["Zaak", "Soort", "Status", "Lensversie", "Aangemaakt", "Bijgewerkt", "Zorgniveau",
                           "Leefgebied", "Indicator", "Vraag", "Soort vraag", "Soort signaal", "Antwoord"]
    assert header[13:] == ["question_id", "leefgebied_id", "indicator_id", "answer_id", "concern_id"]
    col = {name: i for i, name in enumerate(header)}
    assert {r[col["Soort"]] for r in rows} == {"snelle scan"} and {r[col["Status"]] for r in rows} == {"afgerond"}
    assert {"12 tot 18 jaar", "ja", "nee", "weet ik niet", "niet gevraagd"} == {r[col["Antwoord"]] for r in rows}
    assert "Wonen & Financiën" in {r[col["Leefgebied"]] for r in rows}
    assert all(r[col["Vraag"]] and "{" not in r[col["Vraag"]] for r in rows)
    assert {r[col["answer_id"]] for r in rows} >= {"yes", "unknown", "not_asked"}  # the ids, for joining
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", rows[0][col["Aangemaakt"]])
    _, plain, _ = run("report", code, "--format", "csv-plain")
    assert plain.splitlines()[0].startswith("case,mode,status,lens_version")
    _, english, _ = run("report", code, "--format", "csv", "--lang", "en")
    assert english.startswith("\ufeffCase;Mode;Status") and "don't know" in english


# -- the local picture per month -------------------------------------------------------------------
@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory, lens: Lens) -> tuple[str, Period, list[int]]:
    """Completed quick scans in the three months of the last closed quarter: 6, 12 and 20."""
    url = f"sqlite:///{tmp_path_factory.mktemp('quarter') / 'lensbot.db'}"
    store = Store(url)
    store.upgrade()
    service = IntakeService(store, lens)
    users = [store.user("console", f"u{i}", create_role="professional") for i in range(4)]
    period = Period.last_closed_quarter(datetime.now(UTC).date())
    sizes = [6, 12, 20]
    rng = random.Random(5)
    for month, size in zip(period.months, sizes, strict=True):
        for i in range(size):
            run_case(service, users[i % 4], rng, "quick", p_yes=0.4, p_unknown=0.3)   # type: ignore[arg-type]
        close_this_month(store, into=month)
    store.dispose()
    return url, period, sizes


def test_the_stats_picture_shows_each_month(run, quarter: tuple[str, Period, list[int]], tmp_path: Path,  # type: ignore[no-untyped-def]
                                            lens: Lens, monkeypatch: pytest.MonkeyPatch) -> None:
    url, period, sizes = quarter
    monkeypatch.setenv("LENSBOT_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    for month, size in zip(period.months, sizes, strict=True):   # each month as published on its own
        assert json.loads(run("stats", "--period", month, "--format", "json")[1])["completed_cases"] == str(size)
    rc, _, err = run("stats", "--period", period.label, "--format", "png")
    assert rc == 0 and "geschreven: lokaal-beeld.png" in err, err
    image = Image.open(tmp_path / "lokaal-beeld.png").convert("RGB")
    assert image.width == 1080 and image.height > 1200      # cases, concern, leefgebieden, indicators, ...
    # the first row of cells is "Alle afgeronde zaken": the busier the month, the darker its cell
    columns = [1080 - 40 - 150 * (3 - i) + 20 for i in range(3)]
    background = image.getpixel((5, 5))
    first = next(y for y in range(150, image.height) if image.getpixel((columns[0], y)) != background
                 and sum(image.getpixel((columns[0], y))) < 700)                      # type: ignore[arg-type]
    shades = [sum(image.getpixel((x, first + 10))) for x in columns]                 # type: ignore[arg-type]
    assert shades[0] > shades[1] > shades[2], shades
    _, excel, _ = run("stats", "--period", period.label, "--format", "csv")
    assert excel.startswith("\ufeffPeriode;Onderdeel;Naam;Aantal;section_id;id")
    rows = list(csv.reader(io.StringIO(excel.lstrip("\ufeff")), delimiter=";"))
    assert [period.label, "Afgeronde zaken", "", str(sum(sizes)), "completed_cases", ""] in rows
    leefgebieden = [r for r in rows if r[1] == "Leefgebied valt op"]
    assert leefgebieden and all(r[2] == lens.leefgebied_by_id[r[5]].name.nl for r in leefgebieden)   # words, ids
    _, plain, _ = run("stats", "--period", period.label, "--format", "csv-plain")
    assert plain.splitlines()[0] == "section,id,count"
