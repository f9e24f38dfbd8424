"""`lensbot assess ANSWERS.json` as a real process: JSON and text output, and bad input.

Each process costs most of a second (imports), so all runs of this file are started at once
by one module fixture and every test inspects its own run.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from dialogs.texts import dialog_texts
from matrix.loader import DEFAULT_LENS, load_lens
from tests.support.lensbot_cli import run_lensbot

pytestmark = pytest.mark.slow(seconds=8)   # about its wall time on one worker: handed out early (tests/conftest.py)

ENV_KEYS = ("LENSBOT_LENS", "LENSBOT_CONTACTS")

# Strong signals in two leefgebieden about a minor, written the way a Dutch user would.
DUTCH_ANSWERS = {
    "age_group": "minor",
    "rf_direct_gevaar": "nee",
    "schuld_aan_persoon": "ja",
    "bankpas_rekening_afgestaan": "Ja",
    "delict_in_opdracht": "ja",
    "delict_ver_van_huis": "ja",
    "schulden": "onbekend",
    "lvb": "nee",
}

# name -> (answers file content, extra options)
RUNS: dict[str, tuple[object, tuple[str, ...]]] = {
    "json": (DUTCH_ANSWERS, ("--format", "json")),
    "adult": ({**DUTCH_ANSWERS, "age_group": "a23_up"}, ("--format", "json")),   # the same, 23 or older
    "unknown_id": ({"schulden": "yes", "schuldn_typo": "yes"}, ("--format", "json")),
    "bad_age": ({"age_group": "oud", "schulden": "yes"}, ("--format", "json")),
    "bad_value": ({"schulden": "misschien"}, ("--format", "json")),
    "invalid_json": ('{"schulden": "yes",\n', ("--format", "json")),
    "text_nl": (DUTCH_ANSWERS, ()),
    "text_en": (DUTCH_ANSWERS, ("--format", "text", "--lang", "en")),
}


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess]:
    """Run `lensbot assess <file> ...` for every entry of RUNS (tests/support/lensbot_cli.py)."""
    root = tmp_path_factory.mktemp("assess")
    results = {}
    for name, (answers, options) in RUNS.items():
        file = root / f"{name}.json"
        file.write_text(answers if isinstance(answers, str) else json.dumps(answers), encoding="utf-8")
        results[name] = run_lensbot("assess", str(file), *options, cwd=root, env=cli_env(), timeout=120)
    return results


@pytest.fixture(scope="module")
def default_version() -> str:
    with pytest.MonkeyPatch.context() as mp:
        for key in ENV_KEYS:
            mp.delenv(key, raising=False)
        return load_lens(DEFAULT_LENS).version


def test_json_output(runs: dict, default_version: str) -> None:
    result = runs["json"]
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)

    assert data["lens_version"] == default_version
    assert data["concern"] == "possible_exploitation"
    assert data["red_flags"] == []
    assert (data["age_group"], data["age_band"]) == ("minor", None)
    assert data["answered"] == len(DUTCH_ANSWERS) - 1          # the questions; the age is no question answered
    # ja / Ja / nee / onbekend were all understood.
    assert set(data["signals_yes"]) == {"schuld_aan_persoon", "bankpas_rekening_afgestaan", "delict_in_opdracht",
                                        "delict_ver_van_huis"}
    assert set(data["signals_by_kind"]["exploitation"]) == set(data["signals_yes"])   # 2.0: each signal's kind
    assert data["signals_by_kind"]["vulnerability"] == data["signals_by_kind"]["harm"] == []

    indicators = {i["id"]: i for i in data["indicators"]}
    assert set(indicators) == {"schulden", "criminaliteit"}
    assert indicators["schulden"]["leefgebied"] == "wonen_financien"
    assert set(indicators["schulden"]["signals"]) == {"schuld_aan_persoon", "bankpas_rekening_afgestaan"}
    assert indicators["criminaliteit"]["leefgebied"] == "werk_activiteiten_relaties"
    assert set(indicators["criminaliteit"]["signals"]) == {"delict_in_opdracht", "delict_ver_van_huis"}

    unknown = {u["indicator"]: u for u in data["unknown"]}
    assert "schulden" in unknown["schulden"]["signals"]          # "onbekend"
    assert "schulden" in unknown["schulden"]["dont_know"]        # 2.0: "weet ik niet", told apart from ...
    assert "woont_vakantiepark_tijdelijk" in unknown["woonomstandigheden"]["not_asked"]   # ... never asked
    assert "lvb" not in unknown["lerend_vermogen"]["signals"]   # "nee"
    assert {v["id"] for v in unknown["schulden"]["seen_by"]} == {"schuldhulpverlening", "wijkteam", "bank"}
    assert all(v["name"] for u in data["unknown"] for v in u["seen_by"])

    assert data["phenomena"], "phenomena of the yes signals"
    assert {"id", "name", "weight"} <= set(data["phenomena"][0])
    assert "mensenhandel" in {p["id"] for p in data["phenomena"]}

    assert data["advice"]
    for item in data["advice"]:
        assert {"id", "name", "phone", "why"} <= set(item)
        assert item["name"] and item["why"]
    advice = {a["id"]: a for a in data["advice"]}
    assert advice["veilig_thuis"]["phone"] == "0800-2000"
    assert advice["politie"]["phone"] == "0900-8844"
    assert advice["veilig_thuis"]["name"] == "Veilig Thuis"          # --lang nl is the default
    # 2.0: the route for a minor (was: one "combine signals" rule for everyone)
    assert advice["veilig_thuis"]["rule"] == "exploitation_minor"
    assert "uitbuiting van een minderjarige" in advice["veilig_thuis"]["why"]
    assert any(step.startswith("Meldcode stap 1") for step in data["steps"])


def test_an_adult_gets_the_adult_route(runs: dict) -> None:
    result = runs["adult"]
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["concern"], data["age_group"], data["age_band"]) == ("possible_exploitation", "adult", "a23_up")
    rules = {a["rule"] for a in data["advice"]}
    assert "exploitation_adult" in rules and "exploitation_minor" not in rules
    advice = {a["id"]: a for a in data["advice"]}
    assert advice["politie"]["phone"] == "0900-8844" and "comensha" in advice
    assert "de volwassene" in data["concern_explanation"] + " ".join(a["why"] for a in data["advice"])
    assert "de jongere" not in result.stdout                # never "de jongere" for an adult


def test_unknown_age_is_refused(runs: dict) -> None:
    result = runs["bad_age"]
    assert result.returncode == 2
    assert "age_group" in result.stderr and "oud" in result.stderr
    assert result.stdout == ""


def test_unknown_id_is_refused(runs: dict) -> None:
    result = runs["unknown_id"]
    assert result.returncode == 2
    assert "schuldn_typo" in result.stderr
    assert "'schulden'" not in result.stderr
    assert result.stdout == ""


def test_bad_answer_value_is_refused(runs: dict) -> None:
    result = runs["bad_value"]
    assert result.returncode == 2
    assert "schulden" in result.stderr and "misschien" in result.stderr
    assert result.stdout == ""


def test_invalid_json_is_refused(runs: dict) -> None:
    result = runs["invalid_json"]
    assert result.returncode == 2
    assert "geen geldige JSON" in result.stderr
    assert result.stdout == ""


def _heading_lines(lang: str) -> tuple[str, str]:
    t = dialog_texts()
    concern = t("summary.concern", lang, level=t("concern.possible_exploitation", lang))
    return concern, t("summary.advice", lang)


def test_text_output_in_dutch(runs: dict) -> None:
    result = runs["text_nl"]
    assert result.returncode == 0, result.stderr
    out = result.stdout
    concern, advice = _heading_lines("nl")
    assert concern == "Zorgniveau: mogelijke criminele uitbuiting"
    assert advice.startswith("Advies")
    lines = out.splitlines()
    assert concern in lines
    assert advice in lines
    assert lines.index(concern) < lines.index(advice)
    assert "Veilig Thuis" in out and "0800-2000" in out
    assert "Politie" in out and "0900-8844" in out
    assert "Leeftijd: minderjarig" in lines                 # "age_group": "minor", without a band
    assert "Level of concern" not in out


def test_text_output_in_english(runs: dict) -> None:
    result = runs["text_en"]
    assert result.returncode == 0, result.stderr
    out = result.stdout
    concern, advice = _heading_lines("en")
    assert concern == "Level of concern: possible criminal exploitation"
    assert advice.startswith("Advice")
    lines = out.splitlines()
    assert concern in lines
    assert advice in lines
    assert "0800-2000" in out
    assert "Zorgniveau" not in out
