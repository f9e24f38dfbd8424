"""matrix.scoring.assess with the default lens: concern level, triggered indicators and advice.

The expectations follow the rules in matrix/lenses/default/rules.yaml (concern: first matching
rule wins; advice: every matching rule adds its contacts, the first rule naming a contact wins).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from matrix.lens import Lens
from matrix.loader import DEFAULT_LENS, lens_from_content, load_lens
from matrix.scoring import assess

EXPLOITATION_CONTACTS = {"veilig_thuis", "politie"}


@pytest.fixture(scope="module")
def lens() -> Iterator[Lens]:
    """The bundled lens, without the runner's own LENSBOT_CONTACTS."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("LENSBOT_CONTACTS", raising=False)
        yield load_lens(DEFAULT_LENS)


def yes(*ids: str) -> dict[str, str]:
    return dict.fromkeys(ids, "yes")


def contacts_of(result) -> list[str]:
    return [a.contact for a in result.advice]


def all_no(lens: Lens) -> dict[str, str]:
    return {q.item_id: "no" for q in lens.questions}


# -- nothing is going on ---------------------------------------------------------------------
def test_all_no_gives_no_concern_and_only_the_knowledge_advice(lens: Lens) -> None:
    answers = all_no(lens)
    result = assess(lens, answers)
    assert result.concern == "none"
    assert result.concern_explanation.en.startswith("No signal was answered 'yes'")
    assert result.triggered == ()
    assert result.red_flags == ()
    assert result.yes == ()
    assert result.spread == ()
    assert result.phenomena == ()
    assert result.unknown == ()
    assert result.total_weight == 0
    assert result.answered == len(lens.questions)
    assert {i.status for i in result.indicators} == {"clear"}
    assert {lg.status for lg in result.leefgebieden} == {"clear"}
    assert all(lg.no == sum(len(ind.signals) for ind in lens.leefgebied_by_id[lg.id].indicators)
               for lg in result.leefgebieden)
    # Of all advice rules only `knowledge` (when: always) holds: no yes, no red flag, no unknown.
    assert result.rules == ("knowledge",)
    assert contacts_of(result) == ["ccv", "ckm"]
    assert not EXPLOITATION_CONTACTS & set(contacts_of(result))
    assert "alarm_112" not in contacts_of(result)


def test_empty_answers_are_not_assessed_and_everything_is_not_asked(lens: Lens) -> None:
    result = assess(lens, {})
    assert result.concern == "not_assessed"                  # never "geen signalen"
    assert result.answered == 0
    assert {i.status for i in result.indicators} == {"not_asked"}
    assert {lg.status for lg in result.leefgebieden} == {"not_asked"}
    assert [(lg.yes, lg.no, lg.unknown) for lg in result.leefgebieden] == [(0, 0, 0)] * 4
    assert [lg.not_asked for lg in result.leefgebieden] == [
        sum(len(ind.signals) for ind in lg.indicators) for lg in lens.leefgebieden]
    # One group per indicator, holding all its signals (most telling first) and who usually sees them.
    assert sorted(g.indicator for g in result.unknown) == sorted(lens.indicators)
    for group in result.unknown:
        indicator = lens.indicators[group.indicator]
        assert group.leefgebied == lens.indicator_leefgebied[group.indicator]
        assert set(group.signals) == {s.id for s in indicator.signals} == set(group.not_asked)
        assert group.seen_by == tuple(indicator.seen_by)
        assert group.seen_by, f"{group.indicator} names nobody who sees it"
        assert set(group.seen_by) <= set(lens.viewers)
    assert not EXPLOITATION_CONTACTS & set(contacts_of(result))


# -- a pattern of strong signals ------------------------------------------------------------
STRONG_TWO_DOMAINS = yes(
    "schuld_aan_persoon", "bankpas_rekening_afgestaan",   # wonen_financien / schulden, 3 + 3
    "delict_in_opdracht", "zwaar_delict_jonge_leeftijd",  # werk_activiteiten_relaties / criminaliteit, 3 + 3
)


def test_strong_signals_in_two_leefgebieden_point_to_possible_exploitation(lens: Lens) -> None:
    result = assess(lens, STRONG_TWO_DOMAINS)
    assert result.concern == "possible_exploitation"
    assert {(i.id, i.leefgebied) for i in result.triggered} == {
        ("schulden", "wonen_financien"), ("criminaliteit", "werk_activiteiten_relaties")}
    assert {i.id: i.weight for i in result.triggered} == {"schulden": 6, "criminaliteit": 6}
    assert set(result.triggered[0].signals) == {"schuld_aan_persoon", "bankpas_rekening_afgestaan"}
    assert result.spread == ("wonen_financien", "werk_activiteiten_relaties")
    assert result.total_weight == 12
    lg = {r.id: r for r in result.leefgebieden}
    assert lg["wonen_financien"].triggered == ("schulden",)
    assert lg["werk_activiteiten_relaties"].status == "triggered"
    assert lg["gezondheid"].triggered == ()

    advice = contacts_of(result)
    assert len(advice) == len(set(advice)), "each contact once"
    phones = {lens.contacts[c].phone for c in advice}
    assert {"0800-2000", "0900-8844"} <= phones
    assert lens.contacts["veilig_thuis"].phone == "0800-2000"
    assert lens.contacts["politie"].phone == "0900-8844"
    assert "alarm_112" not in advice
    by_contact = {a.contact: a for a in result.advice}
    # No age given: both routes, and the summary says so.
    assert by_contact["veilig_thuis"].rule == "exploitation_minor"
    assert by_contact["comensha"].rule == "exploitation_adult"
    assert {"exploitation_minor", "exploitation_adult", "anonymous_tip", "age_unknown", "knowledge"} <= set(
        result.rules)
    # Phenomena come with the signals behind them, heaviest first; never from a tag alone.
    assert all(p.signals for p in result.phenomena_detail)
    assert [p for p, _ in result.phenomena] == [p.id for p in result.phenomena_detail]


def test_one_moderate_exploitation_signal_alone_is_attention(lens: Lens) -> None:
    result = assess(lens, yes("meerdere_telefoons") | {"age_group": "a12_17"})
    assert result.concern == "attention"
    assert "some_exploitation_signals" in result.rules and "vulnerability_only" not in result.rules
    assert {"aandachtsfunctionaris", "veilig_thuis"} <= set(contacts_of(result))
    assert not {"politie", "comensha", "meld_misdaad_anoniem"} & set(contacts_of(result))


# -- red flags -----------------------------------------------------------------------------------
def test_a_red_flag_makes_the_concern_acute_and_112_comes_first(lens: Lens) -> None:
    answers = all_no(lens) | yes("rf_direct_gevaar")
    result = assess(lens, answers)
    assert result.concern == "acute"
    assert result.red_flags == ("rf_direct_gevaar",)
    assert result.advice[0].contact == "alarm_112"
    assert "veilig_thuis" in contacts_of(result)            # no age given: the minor's route too
    assert "acute_danger" in result.rules
    assert "zelfmoordpreventie_113" not in contacts_of(result)
    steps = [s.en for r in lens.advice_rules if r.id in result.rules for s in r.steps]
    assert any("Stay with {person}" in s for s in steps) and any("Do not confront" in s for s in steps)


def test_red_flag_acute_even_with_strong_signals(lens: Lens) -> None:
    result = assess(lens, STRONG_TWO_DOMAINS | yes("rf_opdracht_geweld_nu"))
    assert result.concern == "acute"
    assert result.advice[0].contact == "alarm_112"


def test_red_flag_contacts_come_first_whatever_the_rule_order(lens: Lens) -> None:
    content = copy.deepcopy(lens.content)
    acute = next(r for r in content["advice"] if r["id"] == "acute_danger")
    content["advice"] = [r for r in content["advice"] if r["id"] != "acute_danger"] + [acute]
    reordered = lens_from_content(content)
    assert reordered.advice_rules[-1].id == "acute_danger"
    result = assess(reordered, yes("rf_suicidaal", "schulden"))
    assert contacts_of(result)[:2] == ["alarm_112", "zelfmoordpreventie_113"]


def test_acute_suicide_risk_is_112_and_thoughts_of_suicide_are_113(lens: Lens) -> None:
    acute = assess(lens, yes("rf_suicidaal"))
    assert acute.concern == "acute"
    advice = contacts_of(acute)
    assert advice[0] == "alarm_112"
    assert len(advice) == len(set(advice))
    thoughts = assess(lens, yes("denkt_aan_zelfdoding") | {"age_group": "a12_17"})
    assert thoughts.concern == "attention"
    assert {a.contact: a.rule for a in thoughts.advice}["zelfmoordpreventie_113"] == "suicide_thoughts"
    assert "alarm_112" not in contacts_of(thoughts)
    assert "gratis" in lens.contacts["zelfmoordpreventie_113"].when.nl + (
        lens.contacts["zelfmoordpreventie_113"].hours.nl if lens.contacts["zelfmoordpreventie_113"].hours else "")


# -- weak signals and the indicator threshold ------------------------------------------------------
def test_only_vulnerabilities_give_attention_and_support(lens: Lens) -> None:
    weak = yes("schulden", "woning_achterstallig_onderhoud", "lvb") | {"age_group": "a12_17"}
    result = assess(lens, weak)
    assert result.concern == "attention"
    assert result.concern_explanation.nl.startswith("Er zijn alleen kwetsbaarheden")
    assert result.rules == ("vulnerability_only", "knowledge")
    by_contact = {a.contact: a.rule for a in result.advice}
    assert by_contact["aandachtsfunctionaris"] == "vulnerability_only"
    assert not EXPLOITATION_CONTACTS & set(by_contact)


def test_domestic_violence_alone_routes_to_veilig_thuis_with_the_meldcode(lens: Lens) -> None:
    result = assess(lens, yes("huiselijk_geweld") | {"age_group": "a12_17"})
    assert result.concern == "attention"
    assert "alleen zwakke signalen" not in result.concern_explanation.nl
    assert {a.contact: a.rule for a in result.advice}["veilig_thuis"] == "harm_minor"
    steps = [s.nl for r in lens.advice_rules if r.id in result.rules for s in r.steps]
    assert sum(s.startswith("Meldcode stap") for s in steps) == 5
    adult = assess(lens, yes("huiselijk_geweld") | {"age_group": "a23_up"})
    assert "harm_adult" in adult.rules and "harm_minor" not in adult.rules


def test_indicator_threshold(lens: Lens) -> None:
    assert lens.meta.indicator_threshold == 3

    def woonomstandigheden(answers: dict[str, str]):
        result = assess(lens, answers)
        return next(i for i in result.indicators if i.id == "woonomstandigheden")

    two_weak = woonomstandigheden(yes("woning_achterstallig_onderhoud", "woont_vakantiepark_tijdelijk"))  # 1 + 1
    assert (two_weak.status, two_weak.weight) == ("signals", 2)
    one_plus_two = woonomstandigheden(yes("woning_achterstallig_onderhoud", "veel_aanloop_woning"))  # 1 + 2
    assert (one_plus_two.status, one_plus_two.weight) == ("triggered", 3)
    assert set(one_plus_two.signals) == {"woning_achterstallig_onderhoud", "veel_aanloop_woning"}
    # Weights of different indicators are not added up.
    split = assess(lens, yes("woning_achterstallig_onderhoud", "schulden", "ouders_niet_in_beeld"))
    assert split.triggered == ()
    # An indicator that stands out from vulnerabilities says where the signals are, not the concern.
    assert assess(lens, yes("woning_achterstallig_onderhoud", "veel_aanloop_woning")).concern == "attention"


def test_threshold_is_read_from_the_lens(lens: Lens) -> None:
    content = copy.deepcopy(lens.content)
    content["lens"]["indicator_threshold"] = 2
    lower = lens_from_content(content)
    result = assess(lower, yes("woning_achterstallig_onderhoud", "woont_vakantiepark_tijdelijk"))
    assert [i.id for i in result.triggered] == ["woonomstandigheden"]
    assert lower.version != lens.version


# -- spread, unknown answers, purity ------------------------------------------------------------
def test_spread_counts_leefgebieden_with_a_yes(lens: Lens) -> None:
    answers = all_no(lens) | yes("schulden", "zoekt_erbij_horen")
    result = assess(lens, answers)
    assert result.spread == ("wonen_financien", "zingeving_inzicht")
    assert assess(lens, all_no(lens) | yes("schulden", "schuld_aan_persoon")).spread == ("wonen_financien",)
    # Vulnerabilities in every leefgebied stay attention: vulnerability is not exploitation.
    everywhere = yes("schulden", "vermagerd_ondervoed", "schoolverzuim", "lvb", "eenzaam_geisoleerd")
    assert assess(lens, everywhere).concern == "attention"
    # Moderate exploitation signals: one leefgebied is attention, two leefgebieden a pattern.
    one_domain = yes("opgewacht_rond_school_wijk")
    assert assess(lens, one_domain).concern == "attention"
    two_domains = yes("opgewacht_rond_school_wijk", "onverklaarbaar_geld_spullen")
    assert assess(lens, two_domains).concern == "possible_exploitation"


def test_unknown_answers_are_counted_and_grouped(lens: Lens) -> None:
    answers = all_no(lens) | {"schulden": "unknown", "onverklaard_letsel": "unknown"}
    result = assess(lens, answers)
    assert result.stats["unknown"] == 2
    assert result.answered == len(lens.questions)
    # The harm signal could change more than a vulnerability: it comes first.
    assert [(g.indicator, g.signals, g.dont_know) for g in result.unknown] == [
        ("mishandeling", ("onverklaard_letsel",), ("onverklaard_letsel",)), ("schulden", ("schulden",), ("schulden",))]
    assert result.unknown[1].seen_by == ("schuldhulpverlening", "wijkteam", "bank")
    lg = {r.id: r for r in result.leefgebieden}
    assert (lg["wonen_financien"].unknown, lg["gezondheid"].unknown) == (1, 1)
    assert "ask_other_domains" not in result.rules

    five = ["schulden", "onverklaard_letsel", "lvb", "schoolverzuim", "eerder_trauma"]
    many = assess(lens, all_no(lens) | dict.fromkeys(five, "unknown"))
    assert many.stats["unknown"] == 5
    assert "ask_other_domains" in many.rules           # min_unknown: 5
    four = assess(lens, all_no(lens) | dict.fromkeys(five[:4], "unknown"))
    assert "ask_other_domains" not in four.rules


def test_assess_is_pure(lens: Lens) -> None:
    answers = all_no(lens) | STRONG_TWO_DOMAINS | {"lvb": "unknown"}
    before = copy.deepcopy(answers)
    first = assess(lens, answers)
    second = assess(lens, answers)
    assert first == second
    assert answers == before, "assess must not change the answers it is given"
    assert assess(lens, dict(reversed(list(answers.items())))) == first, "answer order does not matter"
