"""Unit tests of the Telegram channel's pure parts: the callback-data codec and message splitting."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.telegram.callback import MAX_BYTES, OPTION_CODES, Callback, decode
from bot.telegram.render import LIMIT, SAFE_LIMIT, split_message, utf16_len
from dialogs.render import AGE_OPTION, age_band_at, option_event
from matrix.lens import Lens
from storage.repo import CODE_ALPHABET, new_case_code
from tests.support.fake_bot_api import parse_html

CODE = "K7-QX3M"
MAX_STEP = 999_999_999


# -- callback data ----------------------------------------------------------------------------
def every_callback(code: str = CODE, step: int = MAX_STEP) -> list[Callback]:
    return (
        [Callback("q", code, s, option) for option in OPTION_CODES for s in (0, 1, 42, step)]
        + [Callback("r", code), Callback("d", code, option="y"), Callback("d", code, option="n")]
        + [Callback("l", option="nl"), Callback("l", option="en")]
    )


@pytest.mark.parametrize("cb", every_callback(), ids=lambda cb: f"{cb.kind}-{cb.step}-{cb.option}")
def test_round_trip_and_size(cb: Callback) -> None:
    data = cb.encode()
    assert len(data.encode()) <= MAX_BYTES
    assert decode(data) == cb


def test_question_data_layout() -> None:
    assert Callback("q", CODE, 12, "yes").encode() == "q:K7QX3M:12:y"
    assert decode("q:K7QX3M:12:y") == Callback("q", CODE, 12, "yes")
    assert decode("d:K7QX3M:n") == Callback("d", CODE, option="n")
    assert Callback("q", CODE, 1, "age_2").encode() == "q:K7QX3M:1:B"      # an age band by its position
    assert decode("q:K7QX3M:1:B") == Callback("q", CODE, 1, "age_2")


def test_option_codes_are_one_distinct_character_each() -> None:
    assert all(len(c) == 1 for c in OPTION_CODES.values())
    assert len(set(OPTION_CODES.values())) == len(OPTION_CODES)


def test_every_age_option_of_the_lens_has_a_code_and_a_band(lens: Lens) -> None:
    """The age question shows one button per band (age_1, age_2, ...): each must fit in callback data."""
    assert lens.age_bands
    for position, band in enumerate(lens.age_bands, start=1):
        option = f"{AGE_OPTION}{position}"
        cb = Callback("q", CODE, 1, option)
        assert decode(cb.encode()) == cb
        assert option_event(option) == ("answer", option)     # the service maps the position ...
        assert age_band_at(lens, str(position)) == band        # ... to the band
    assert age_band_at(lens, str(len(lens.age_bands) + 1)) is None
    assert age_band_at(lens, "0") is None and age_band_at(lens, "x") is None


@given(st.builds(new_case_code), st.integers(0, MAX_STEP), st.sampled_from(sorted(OPTION_CODES)))
def test_round_trip_any_code_and_step(code: str, step: int, option: str) -> None:
    cb = Callback("q", code, step, option)
    data = cb.encode()
    assert len(data.encode()) <= MAX_BYTES and decode(data) == cb


def test_unknown_kind_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        Callback("z", CODE).encode()


@pytest.mark.parametrize("data", [
    None, "", "garbage", "q", "q:", "q::1:y", "q:K7QX3M", "q:K7QX3M:1", "q:K7QX3M::y",
    "q:K7QX3M:1:y:extra", " q:K7QX3M:1:y", "q:K7QX3M:1:y ", "Q:K7QX3M:1:y",
    "q:K7QX3M:1:z", "q:K7QX3M:1:yes", "q:K7QX3M:-1:y", "q:K7QX3M:1.0:y", "q:K7QX3M:1234567890:y",
    "d:K7QX3M:x", "d:K7QX3M", "r:K7QX3M:1", "l:de", "l:", "l:NL",
    "x:K7QX3M", "z:K7QX3M:1:y", "💥:K7QX3M:1:y",
    "q:" + "A" * 62, "l:nl" + " " * 61, "q:K7QX3M:1:y" + "0" * 60,
])
def test_decode_rejects_garbage_oversized_and_unknown_kinds(data: str | None) -> None:
    assert decode(data) is None


@pytest.mark.parametrize("code", [
    "k7qx3m",     # lower case
    "K7-QX3",     # the dash is never sent
    "K7QX3",      # too short
    "K7QX3MM",    # too long
    "K7QX3O",     # O is not in the alphabet (read as 0)
    "K7QXI3",     # I is not in the alphabet (read as 1)
    "K7QX30",     # 0
    "K7QX31",     # 1
    "K7QX3Ä",     # not ASCII
])
def test_decode_rejects_codes_outside_the_alphabet(code: str) -> None:
    for data in (f"q:{code}:1:y", f"r:{code}", f"d:{code}:y"):
        assert decode(data) is None, data


@pytest.mark.parametrize("data", [
    "l:nl\n", "r:K7QX3M\n", "q:K7QX3M:1:y\n",   # a trailing newline
    "q:K7QX3M:١:y", "q:K7QX3M:１:y",            # digits from other scripts
    "q:K7QX3M:01:y", "q:K7QX3M:00:y",           # not how we write numbers
])
def test_decode_accepts_only_exactly_what_encode_writes(data: str) -> None:
    assert decode(data) is None


@given(st.text(max_size=80))
def test_anything_decoded_encodes_back_to_itself(data: str) -> None:
    cb = decode(data)
    assert cb is None or cb.encode() == data


@given(st.from_regex(r"\A[qrdl]:[A-Z0-9]{6}(:[0-9]{1,10})?(:[a-z])?\Z"))
def test_decoded_codes_use_the_case_code_alphabet(data: str) -> None:
    cb = decode(data)
    if cb is not None and cb.code is not None:
        assert set(cb.code.replace("-", "")) <= set(CODE_ALPHABET)
        assert cb.encode() == data


# -- split_message ----------------------------------------------------------------------------
def check_chunks(chunks: list[str], limit: int = SAFE_LIMIT) -> None:
    assert chunks, "nothing to send"
    for chunk in chunks:
        assert chunk.strip(), "empty chunk"
        assert utf16_len(chunk) <= limit, utf16_len(chunk)
        parse_html(chunk)   # raises on a cut tag or entity


def test_short_text_is_one_message() -> None:
    assert split_message("<b>Titel</b>\nregel") == ["<b>Titel</b>\nregel"]


def test_splits_at_line_boundaries_below_the_limit() -> None:
    lines = [f"• regel {i}: " + "x" * (i % 97) for i in range(400)]
    html = "\n".join(lines)
    assert utf16_len(html) > SAFE_LIMIT
    chunks = split_message(html)
    check_chunks(chunks)
    assert len(chunks) >= 2
    assert "\n".join(chunks) == html    # nothing lost, nothing added, no line cut
    for chunk in chunks:
        assert set(chunk.split("\n")) <= set(lines)
    # greedy: a chunk only ends where the next line would not have fitted
    for chunk, following in itertools.pairwise(chunks):
        assert utf16_len(chunk) + 1 + utf16_len(following.split("\n")[0]) > SAFE_LIMIT


def test_each_line_keeps_its_markup() -> None:
    lines = [f"<b>Kop {i}</b>\n• <i>punt</i> &amp; meer &lt;{i}&gt;" for i in range(300)]
    chunks = split_message("\n".join(lines))
    check_chunks(chunks)
    assert len(chunks) > 1


def test_never_empty_chunks() -> None:
    assert split_message("") == []
    assert split_message("\n\n\n") == []
    assert split_message("   \n \n") == []
    html = "\n\n".join("y" * 1000 for _ in range(12)) + "\n\n\n\n"
    check_chunks(split_message(html))
    check_chunks(split_message("\n" * 5000 + "tekst" + "\n" * 5000))


def test_a_single_10000_character_line_with_spaces() -> None:
    words = [f"woord{i}" for i in range(1500)]
    line = " ".join(words)
    assert len(line) > 10_000
    chunks = split_message(line)
    check_chunks(chunks)
    assert " ".join(chunks) == line        # cut at spaces, no word broken
    assert all(w in words for chunk in chunks for w in chunk.split(" "))


def test_a_single_10000_character_word() -> None:
    line = "x" * 10_000
    chunks = split_message(line)
    check_chunks(chunks)
    assert "".join(chunks) == line


@pytest.mark.parametrize("entity", ["&amp;", "&lt;", "&gt;"])
@pytest.mark.parametrize("offset", range(6))
def test_a_long_line_of_entities_is_never_cut_inside_one(entity: str, offset: int) -> None:
    line = "a" * offset + entity * 3000
    chunks = split_message(line)
    check_chunks(chunks)
    assert "".join(chunks) == line
    for chunk in chunks:
        assert re.fullmatch(r"a*(&(amp|lt|gt);)*", chunk), chunk[-12:]


def test_entities_between_words_in_a_long_line() -> None:
    line = " ".join(f"A&amp;B&lt;{i}&gt;" for i in range(1200))
    chunks = split_message(line)
    check_chunks(chunks)
    assert " ".join(chunks) == line


def test_counts_utf16_code_units() -> None:
    emoji_line = "😀" * 1500           # 1500 characters, 3000 UTF-16 code units
    assert len(emoji_line) == 1500 and utf16_len(emoji_line) == 3000
    chunks = split_message(f"{emoji_line}\n{emoji_line}")
    assert chunks == [emoji_line, emoji_line]   # by characters both would have fitted in one
    check_chunks(chunks)


def test_a_long_line_of_emoji_is_cut_below_the_limit() -> None:
    line = "😀" * 6000                  # 12,000 UTF-16 code units, no spaces
    chunks = split_message(line)
    check_chunks(chunks)
    assert "".join(chunks) == line
    assert all(utf16_len(c) <= LIMIT for c in chunks)


@given(st.lists(st.sampled_from(["a", "é", "😀", " ", "&amp;", "&lt;", "\n", "woord "]), max_size=2000))
def test_any_mix_of_lines_fits_and_keeps_every_character(parts: list[str]) -> None:
    html = "".join(parts)
    chunks = split_message(html, limit=200)
    for chunk in chunks:
        assert chunk.strip() and utf16_len(chunk) <= 200
        parse_html(chunk)
    squeeze = re.compile(r"\s+")
    assert squeeze.sub("", "".join(chunks)) == squeeze.sub("", html)
