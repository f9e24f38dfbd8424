"""The report renderers with the default lens: lens picture (PNG), dossier (PDF), local-picture chart (PNG).

What a user would see is what is checked: PNGs are opened with Pillow and sampled at the cells,
the PDF's text is read back with pypdf, and the chart's suppression is checked by comparing the
pictures of different small counts, which must be identical.
"""

from __future__ import annotations

import copy
import dataclasses
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pypdf
import pytest
from PIL import Image

from dialogs.reports.chart import months_of, protect, stats_chart
from dialogs.reports.model import CaseInfo, LocalPicture
from dialogs.reports.pdf import dossier_pdf, meldcode_steps
from dialogs.reports.picture import STATUS_STYLES, draw_lens, lens_picture, plain_text
from matrix.lens import Lens
from matrix.loader import DEFAULT_LENS, lens_from_content, load_lens
from matrix.scoring import Assessment, assess

STRONG = ("schulden", "criminaliteit", "controle_dwang")
UNKNOWN = ("zingeving", "lerend_vermogen")   # "weet ik niet" throughout, in the same leefgebied
NOTE = "Gezien bij het station <b>& ë"
MADE = datetime(2026, 3, 4, 14, 6, tzinfo=UTC)   # when the dossier is rendered: pinned for equal bytes


@pytest.fixture(scope="module")
def lens() -> Iterator[Lens]:
    """The bundled lens, without the runner's own LENSBOT_CONTACTS."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("LENSBOT_CONTACTS", raising=False)
        yield load_lens(DEFAULT_LENS)


@pytest.fixture(scope="module")
def info(lens: Lens) -> CaseInfo:
    done = datetime(2026, 3, 4, 14, 5, tzinfo=UTC)
    return CaseInfo(code="K7Q-2MXR", mode="full", lens_version=lens.version,
                    created_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC), updated_at=done, completed_at=done)


def answers(lens: Lens, yes: tuple[str, ...] = (), unknown: tuple[str, ...] = (),
            default: str = "no") -> dict[str, str]:
    """Every question `default`; every signal of the `yes` / `unknown` indicators answered so."""
    result = {q.item_id: default for q in lens.questions}
    for ind in yes:
        result.update(dict.fromkeys((s.id for s in lens.indicators[ind].signals), "yes"))
    for ind in unknown:
        result.update(dict.fromkeys((s.id for s in lens.indicators[ind].signals), "unknown"))
    return result


@pytest.fixture(scope="module")
def strong(lens: Lens) -> Assessment:
    return assess(lens, answers(lens, yes=STRONG, unknown=UNKNOWN))


@pytest.fixture(scope="module")
def all_no(lens: Lens) -> Assessment:
    return assess(lens, answers(lens))


def png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


# -- lens picture -----------------------------------------------------------------------------------------


def test_picture_is_a_phone_sized_png(lens: Lens, strong: Assessment, info: CaseInfo) -> None:
    image = png(lens_picture(lens, strong, info))
    assert image.width >= 1000
    assert image.height > image.width          # a tall picture to scroll on a phone


def test_picture_colours_the_triggered_cells(lens: Lens, strong: Assessment, all_no: Assessment,
                                             info: CaseInfo) -> None:
    assert {i.id for i in strong.triggered} == set(STRONG)
    strong_image, boxes = draw_lens(lens, strong, info)
    calm_image, calm_boxes = draw_lens(lens, all_no, info)
    assert boxes == calm_boxes                 # same layout, only the colours differ
    assert set(boxes) == set(lens.indicators)
    for ind in STRONG:
        _, y0, x1, _ = boxes[ind]
        corner = (x1 - 8, y0 + 8)              # inside the border, above the text
        assert strong_image.getpixel(corner) == STATUS_STYLES["triggered"].fill
        assert calm_image.getpixel(corner) == STATUS_STYLES["clear"].fill
    assert lens_picture(lens, strong, info) != lens_picture(lens, all_no, info)


def test_picture_hatches_unknown_cells(lens: Lens, info: CaseInfo) -> None:
    result = assess(lens, answers(lens, default="unknown"))
    image, boxes = draw_lens(lens, result, info)
    x0, y0, x1, _ = boxes["zingeving"]
    colours = {image.getpixel((x, y)) for x in range(x0 + 4, x1 - 4, 3) for y in range(y0 + 4, y0 + 12)}
    style = STATUS_STYLES["unknown"]
    assert {style.fill, style.hatch} <= colours


def test_picture_is_deterministic_and_translated(lens: Lens, strong: Assessment, info: CaseInfo) -> None:
    nl = lens_picture(lens, strong, info)
    assert lens_picture(lens, strong, info) == nl
    assert lens_picture(lens, strong, info, "en") != nl


def test_picture_with_red_flag_grows_a_banner(lens: Lens, info: CaseInfo) -> None:
    base = answers(lens, yes=("schulden",))
    calm = png(lens_picture(lens, assess(lens, base), info))
    alarm = png(lens_picture(lens, assess(lens, {**base, "rf_direct_gevaar": "yes"}), info))
    assert alarm.height > calm.height


def test_plain_text_keeps_dutch_and_replaces_emoji() -> None:
    assert plain_text("Financiën – beïnvloedbaar, ’t • café") == "Financiën – beïnvloedbaar, ’t • café"
    assert plain_text("⚠️ Acuut gevaar ✅ klaar ❌") == "! Acuut gevaar + klaar x"
    assert plain_text("groep 🙂 zag\nklaar 👍") == "groep zag\nklaar"
    assert plain_text("Financie\u0308n") == "Financiën"           # decomposed input is composed first
    assert plain_text("Financiën – ’t", "ascii") == "Financien - 't"


# -- dossier ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dossier(lens: Lens, strong: Assessment, info: CaseInfo) -> bytes:
    return dossier_pdf(lens, strong, info, [NOTE, "Tweede notitie ⚠️ met\nregelafbreking"], made_at=MADE)


def test_dossier_holds_the_case(lens: Lens, strong: Assessment, info: CaseInfo, dossier: bytes) -> None:
    text = pdf_text(dossier)
    assert info.code in text
    for ind in STRONG:
        assert lens.indicators[ind].name.nl in text
    assert "0900-8844" in text                 # the police, from the advice
    assert "politie" in {a.contact for a in strong.advice}
    assert NOTE in text                        # user text rendered literally, not as markup
    # 2.0: no age given, so both routes: the minor's (with the five Meldcode steps) and the adult's
    assert strong.age_group == "unknown" and "Leeftijd: onbekend" in text
    assert "Meldcode stap 5" in text
    assert "minderjarige" in text and "volwassene" in text
    # 2.0: the "weet ik niet" questions are listed per leefgebied, and what was never asked is counted
    assert len({lens.indicator_leefgebied[i] for i in UNKNOWN}) == 1
    unknown = sum(len(lens.indicators[i].signals) for i in UNKNOWN)
    assert f"Met weet ik niet beantwoord ({unknown}):" in text
    assert "Niet gevraagd: 0" in text
    assert "geen diagnose" in text
    assert "Wonen & Financiën" in text          # Dutch characters survive: ë, ï, ö
    assert "beïnvloedbaarheid" in text         # an open indicator's name ("Wat zie ik nog niet?")
    assert "zorgcoördinator" in text
    assert "\ufffd" not in text and "⚠" not in text


def test_dossier_has_a_footer_on_every_page(dossier: bytes, strong: Assessment) -> None:
    pages = pypdf.PdfReader(io.BytesIO(dossier)).pages
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        text = page.extract_text()
        assert f"pagina {number} van {len(pages)}" in text
        assert "Vastlegging van signalen, geen diagnose" in text
    assert strong.lens_version in pages[0].extract_text()


def test_dossier_metadata_hold_no_case_data(dossier: bytes, info: CaseInfo) -> None:
    meta = pypdf.PdfReader(io.BytesIO(dossier)).metadata
    assert meta is not None
    assert meta.author == "lensbot"          # no role given: the tool's name
    assert meta.title == "lensbot dossier"
    assert info.code not in str(dict(meta))


def test_dossier_is_deterministic(lens: Lens, strong: Assessment, info: CaseInfo, dossier: bytes) -> None:
    assert dossier_pdf(lens, strong, info, [NOTE, "Tweede notitie ⚠️ met\nregelafbreking"], made_at=MADE) == dossier


def test_dossier_without_signals_or_notes_in_english(lens: Lens, all_no: Assessment, strong: Assessment,
                                                     info: CaseInfo) -> None:
    text = pdf_text(dossier_pdf(lens, all_no, info, [], "en"))
    assert f"Case file {info.code}" in text
    assert "No indicator stands out." in text
    assert "No notes." in text
    assert "not a diagnosis" in text
    # 2.0: the Meldcode steps come with the advice that calls for them (a minor's route), in English too
    assert "Meldcode step 1" in pdf_text(dossier_pdf(lens, strong, info, [], "en"))


def test_dossier_of_a_quick_scan_counts_what_was_never_asked(lens: Lens, info: CaseInfo) -> None:
    """2.0: a quick scan's dossier lists the questions it asked; the others are counted as not asked."""
    asked = [q.item_id for q in lens.quick_questions if q.item_id in lens.signals]
    assert lens.age_item is not None
    result = assess(lens, {lens.age_item: "a12_17", **dict.fromkeys(asked, "unknown")})
    assert result.concern == "not_assessed"                   # only "weet ik niet": nothing assessed yet
    text = pdf_text(dossier_pdf(lens, result, dataclasses.replace(info, mode="quick"), []))
    assert "Zorgniveau: nog niet beoordeeld" in text and "Leeftijd: 12 tot 18 jaar" in text
    for lg in lens.leefgebieden:
        signals = [s.id for ind in lg.indicators for s in ind.signals]
        mine = [s for s in signals if s in asked]
        assert f"Met weet ik niet beantwoord ({len(mine)}):" in text
        assert f"Met nee beantwoord: 0\nNiet gevraagd: {len(signals) - len(mine)}" in text


def test_meldcode_steps_come_from_the_lens_or_the_catalogue(lens: Lens) -> None:
    steps = meldcode_steps(lens, "nl")
    assert [s[:15] for s in steps] == [f"Meldcode stap {i}" for i in range(1, 6)]
    content = copy.deepcopy(lens.content)
    # 2.0: the steps are those of any advice rule that words all five (the minor's routes share them)
    with_steps = [rule for rule in content["advice"]
                  if sum(step["nl"].startswith("Meldcode") for step in rule.get("steps") or []) >= 5]
    assert with_steps
    content["advice"] = [rule for rule in content["advice"] if rule not in with_steps]
    bare = lens_from_content(content)
    assert meldcode_steps(bare, "en")[0].startswith("Meldcode step 1")
    assert len(meldcode_steps(bare, "nl")) == 5
    assert meldcode_steps(bare, "nl") != steps          # the catalogue's wording, not the lens's


# -- local picture chart ----------------------------------------------------------------------------------


def picture(months: dict[str, int], concern: dict[str, int] | None = None) -> LocalPicture:
    keys = sorted(months)
    return LocalPicture(since=keys[0] if keys else None, until=keys[-1] if keys else None, cases=sum(months.values()),
                        per_month=months, concern=concern or {})


def test_chart_is_a_png(lens: Lens) -> None:
    image = png(stats_chart(lens, picture({"2026-01": 12, "2026-02": 7}, {"none": 8, "attention": 11})))
    assert image.width >= 1000


@pytest.mark.parametrize("small", [(1, 4), (0, 3), (2, 2)])
def test_chart_hides_small_counts(lens: Lens, small: tuple[int, int]) -> None:
    a, b = small
    assert stats_chart(lens, picture({"2026-01": a}, {"attention": a})) == \
        stats_chart(lens, picture({"2026-01": b}, {"attention": b}))
    # Next to a large count as well: the large one is then hidden too, or the small one would follow.
    assert stats_chart(lens, picture({"2026-01": 12, "2026-02": a}, {"none": 12, "acute": a})) == \
        stats_chart(lens, picture({"2026-01": 12, "2026-02": b}, {"none": 12, "acute": b}))


def test_chart_shows_counts_from_five(lens: Lens) -> None:
    assert stats_chart(lens, picture({"2026-01": 5}, {"attention": 5})) != \
        stats_chart(lens, picture({"2026-01": 9}, {"attention": 9}))
    assert stats_chart(lens, picture({"2026-01": 5, "2026-02": 6})) != stats_chart(lens, picture({"2026-01": 9,
                                                                                                    "2026-02": 6}))


def test_chart_without_data(lens: Lens) -> None:
    assert months_of(LocalPicture(since=None, until=None)) == []
    for lang in ("nl", "en"):
        image = png(stats_chart(lens, LocalPicture(since=None, until=None), lang))
        assert image.width >= 1000


def test_chart_months_fill_gaps_and_drop_finer_dates() -> None:
    pic = LocalPicture(since="2025-11", until="2026-02", per_month={"2025-12-03": 2, "2025-12": 6, "2026-02": 7})
    assert months_of(pic) == [("2025-11", 0), ("2025-12", 8), ("2026-01", 0), ("2026-02", 7)]


def test_protect_hides_a_complement_for_a_lone_small_count() -> None:
    assert protect([30, 41, 7, 2]) == ["shown", "shown", "hidden", "small"]
    assert protect([30, 2, 3]) == ["shown", "small", "small"]
    assert protect([3]) == ["small"]
    assert protect([5, 9]) == ["shown", "shown"]
