"""The reading a safeguarding expert signs, checked over every answer set, not only our examples.

Vulnerability is not exploitation; exploitation shows in control, coercion and crime for someone
else; harm has its own route. These properties hold for any combination of answers (Hypothesis
draws them), and `lensbot matrix check` refuses a lens whose rules would break them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matrix.lens import Lens
from matrix.loader import DEFAULT_LENS, LensError, load_lens
from matrix.scoring import assess

LENS = load_lens()
BY_KIND = {kind: sorted(s.id for s in LENS.signals.values() if s.kind == kind)
           for kind in ("vulnerability", "exploitation", "harm")}
AGES = sorted({*LENS.age_bands, "minor", "adult"})
EXPLOITATION_ROUTES = {"politie", "comensha", "zorgcoordinator_mensenhandel", "meld_misdaad_anoniem"}


def answers_of(kind: str) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from(BY_KIND[kind]), st.sampled_from(["yes", "no", "unknown"]), min_size=1)


@settings(max_examples=300, deadline=None)
@given(answers_of("vulnerability"), st.sampled_from(AGES))
def test_vulnerabilities_alone_never_read_as_exploitation(answers: dict[str, str], age: str) -> None:
    result = assess(LENS, {**answers, "age_group": age})
    assert result.concern in ("not_assessed", "none", "attention")
    assert not EXPLOITATION_ROUTES & {a.contact for a in result.advice}
    assert not result.phenomena, "a phenomenon from vulnerabilities alone"


def test_every_vulnerability_ja_at_once_is_still_attention() -> None:
    result = assess(LENS, dict.fromkeys(BY_KIND["vulnerability"], "yes"))
    assert result.concern == "attention"
    assert len(result.spread) == len(LENS.leefgebieden)      # in every leefgebied, and still not exploitation


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(BY_KIND["harm"]), st.dictionaries(st.sampled_from(sorted(LENS.signals)),
                                                          st.sampled_from(["yes", "no", "unknown"])))
def test_harm_routes_to_veilig_thuis_whatever_the_rest_says(harm: str, rest: dict[str, str]) -> None:
    for age in ("a0_11", "a12_17", "unknown", "a23_up"):
        result = assess(LENS, {**rest, harm: "yes", "age_group": age})
        assert "veilig_thuis" in {a.contact for a in result.advice}, (age, result.rules)
        assert result.concern in ("attention", "possible_exploitation")


def test_one_strong_exploitation_signal_is_possible_exploitation_one_weak_is_attention() -> None:
    strong = next(s for s in BY_KIND["exploitation"] if LENS.signals[s].weight == 3)
    weak = next(s for s in BY_KIND["exploitation"] if LENS.signals[s].weight == 1)
    assert assess(LENS, {strong: "yes", "age_group": "minor"}).concern == "possible_exploitation"
    assert assess(LENS, {weak: "yes", "age_group": "minor"}).concern == "attention"


def test_sexual_exploitation_of_a_minor_counts_as_exploitation() -> None:
    result = assess(LENS, {"seksuele_uitbuiting": "yes", "age_group": "a12_17"})
    assert result.concern == "possible_exploitation"
    assert {"veilig_thuis", "centrum_seksueel_geweld"} <= {a.contact for a in result.advice}


@pytest.mark.parametrize("answers", [{}, {"rf_direct_gevaar": "no"}, dict.fromkeys(BY_KIND["harm"], "unknown")])
def test_nothing_known_reads_not_assessed_never_none(answers: dict[str, str]) -> None:
    assert assess(LENS, answers).concern == "not_assessed"


def test_all_no_reads_none() -> None:
    assert assess(LENS, dict.fromkeys(LENS.signals, "no")).concern == "none"


def test_age_decides_the_route_and_unknown_shows_both() -> None:
    strong = {"bankpas_rekening_afgestaan": "yes"}
    minor = {a.contact for a in assess(LENS, {**strong, "age_group": "a12_17"}).advice}
    adult = {a.contact for a in assess(LENS, {**strong, "age_group": "a23_up"}).advice}
    unknown = assess(LENS, strong)
    assert "veilig_thuis" in minor and "comensha" not in minor
    assert {"politie", "comensha", "zorgcoordinator_mensenhandel"} <= adult and "veilig_thuis" not in adult
    assert {"veilig_thuis", "comensha"} <= {a.contact for a in unknown.advice}
    assert "age_unknown" in unknown.rules


def test_adult_texts_never_speak_of_a_young_person_or_the_parents() -> None:
    from dialogs.summary import summary_blocks

    result = assess(LENS, {"werkt_onder_dwang": "yes", "schulden": "yes", "age_group": "a23_up"})
    text = "\n".join(line.text for block in summary_blocks(LENS, result, "nl") for line in block.lines)
    assert "de volwassene" in text
    assert not re.search(r"\b(de|het) jongere\b|\bde ouders\b", text, re.IGNORECASE), text
    assert "{person}" not in text and "{Person}" not in text
    assert "Meldcode stap" not in text          # the Meldcode steps are for minors


def test_phenomena_show_their_signals_and_need_more_than_vulnerabilities() -> None:
    result = assess(LENS, {"extremistische_werving": "yes", "eenzaam_geisoleerd": "yes", "age_group": "minor"})
    radical = next(p for p in result.phenomena_detail if p.id == "radicalisering")
    assert "extremistische_werving" in radical.signals
    assert "landelijk_steunpunt_extremisme" in {a.contact for a in result.advice}


def test_open_questions_rank_exploitation_in_leefgebieden_with_signals_first() -> None:
    result = assess(LENS, {"schulden": "yes", "age_group": "minor"})
    first = result.unknown[0]
    assert first.leefgebied == "wonen_financien"
    assert LENS.signals[first.signals[0]].kind == "exploitation"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "lens"
    shutil.copytree(DEFAULT_LENS, target)
    return target


def test_matrix_check_refuses_a_rule_vulnerabilities_alone_could_meet(tmp_path: Path) -> None:
    lens_dir = _copy(tmp_path)
    rules = lens_dir / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace(
        "when: {exploitation: {min_weight: 6}}", "when: {min_yes_weight: 6, min_leefgebieden: 2}"), encoding="utf-8")
    with pytest.raises(LensError) as err:
        load_lens(lens_dir)
    assert "vulnerabilities alone could meet this possible_exploitation rule" in str(err.value)
    assert "rules.yaml:" in str(err.value)


def test_matrix_check_refuses_a_signal_without_kind_and_an_unknown_placeholder(tmp_path: Path) -> None:
    lens_dir = _copy(tmp_path)
    f = lens_dir / "1_wonen_financien.yaml"
    text = f.read_text(encoding="utf-8")
    text = re.sub(r"\n +kind: vulnerability\n", "\n", text, count=1)
    text = re.sub(r'(nl: "[^"\n]*)\{person\}', r"\1{persoon}", text, count=1)
    f.write_text(text, encoding="utf-8")
    with pytest.raises(LensError) as err:
        load_lens(lens_dir)
    assert "missing 'kind'" in str(err.value)
    assert "unknown placeholder '{persoon}'" in str(err.value)


def test_an_old_lens_version_still_loads_and_keeps_its_reading(lens: Lens) -> None:
    """Content stored before kinds existed (lens 1.0.0) rebuilds; its cases keep their own rules."""
    from matrix.loader import lens_from_content

    content = lens.doc.model_dump(mode="json")
    for lg in content["leefgebieden"]:
        for ind in lg["indicators"]:
            for s in ind["signals"]:
                s.pop("kind"), s.pop("split_from")
    for ph in content["phenomena"]:
        ph.pop("evidence")
    old = lens_from_content(content)
    assert old.signals["schulden"].kind is None
    assert assess(old, {"schulden": "yes"}).concern in ("attention", "none")


def test_assess_takes_the_ways_people_write_an_age(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from bot.cli import main

    for written, band in (("12-17", "a12_17"), ("minderjarig", None), ("23+", "a23_up")):
        f = tmp_path / "answers.json"
        f.write_text(json.dumps({"age_group": written, "schulden": "ja"}), encoding="utf-8")
        assert main(["assess", str(f), "--format", "json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["age_band"] == band and out["age_group"] in ("minor", "adult")
