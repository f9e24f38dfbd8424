"""Training on Telegram (issue 14), end to end: the real PTB Application against the fake Bot API.

Transcripts: a trainee who answers as the vignette says scores high and gets the advice with its
reasons; three trainees who give one answer everywhere score at most 50 %. A trainer invites a
trainee with /groep uitnodigen and follows them with /groep (practice only, with a CSV), and a
trainee is pointed to /oefenen, never to /nieuw.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator

import pytest

from dialogs.texts import dialog_texts
from matrix.training import model_answers
from tests.support.app import Lens
from tests.support.fake_bot_api import FakeUser
from tests.support.telegram_env import ANSWER_ROW, ANSWERS, TelegramEnv, running_bot, texts

pytestmark = pytest.mark.slow(seconds=15)   # about its wall time on one worker: handed out early (tests/conftest.py)

TOKEN = "123456789:TEST-lensbot-train-token-abcdefghij"
t = dialog_texts()


@pytest.fixture
async def env(lens: Lens, sqlite_url: str) -> AsyncIterator[TelegramEnv]:
    async with running_bot(lens, sqlite_url, admins=frozenset(), token=TOKEN) as e:
        yield e


async def practise(env: TelegramEnv, user: FakeUser, command: str, answer: str | None) -> str:
    """/oefenen, Begin, the age the case gives, then every question: as the vignette says (answer None)
    or `answer` everywhere. The vignette's id."""
    await user.send_and_wait(command)
    intro = user.last_message
    assert intro is not None and intro.buttons == [["Begin"]]
    vignette = next(v for v in env.lens.vignettes.values() if v.title.nl in intro.text)
    assert vignette.id not in intro.text                                 # the id says nothing of the reading
    await user.tap_and_wait("Begin")
    await user.tap_and_wait(env.lens.age_bands[vignette.age or "unknown"].label.nl)
    band = vignette.age or "unknown"
    ids = {env.lens.say(q.text, "nl", band): q.item_id for q in env.lens.all_questions}
    wanted = model_answers(env.lens, vignette)
    while (message := user.last_message) is not None and message.buttons and message.buttons[0] == ANSWER_ROW:
        item = ids[message.text.split("\n\n")[1]]
        await user.tap_and_wait(ANSWERS[answer or wanted[item]], timeout=10)
    return vignette.id


def score(text: str) -> int:
    found = re.findall(r"Score: (\d+)%", text)
    assert found, text[-500:]
    return int(found[-1])


async def test_a_reader_scores_high_with_advice_and_three_gamers_at_most_half(env: TelegramEnv) -> None:
    dana = env.member(5005, role="trainee")
    (hello,) = await dana.send_and_wait("/start")
    assert "/oefenen" in hello.text and "/nieuw" not in hello.text      # pointed to what a trainee can use
    (none_open,) = await dana.send_and_wait("/hervat")
    assert "/oefenen" in none_open.text and "/nieuw" not in none_open.text
    (usage,) = await dana.send_and_wait("/oefenen lang genoeg")
    assert "/oefenen kort" in usage.text

    vid = await practise(env, dana, "/oefenen kort", None)
    feedback = texts(dana.messages)
    assert score(feedback) == 100
    assert t("training.advice_title", "nl") in feedback and t("training.principle", "nl") in feedback
    assert "Soort: " in feedback and "gevonden:" in feedback and "terecht weet ik niet:" in feedback
    assert t("training.practice_mark", "nl") in feedback
    progress = await dana.send_and_wait("/voortgang")
    assert f"{env.lens.vignettes[vid].title.nl}: 100%" in texts(progress)
    assert any(m.kind == "photo" and m.file is not None and m.file.data.startswith(b"\x89PNG") for m in progress)

    for uid, answer in ((5101, "yes"), (5102, "unknown"), (5103, "no")):
        gamer = env.member(uid, role="trainee")
        await practise(env, gamer, "/oefenen", answer)
        assert score(texts(gamer.messages)) <= 50, answer
    assert env.store.list_cases(env.known(dana).id) == []                # no real case for anyone


async def test_a_trainer_invites_a_trainee_and_follows_their_practice_only(env: TelegramEnv) -> None:
    coach = env.member(6001, role="trainer")
    (help_,) = await coach.send_and_wait("/help")
    assert "/groep" in help_.text and "/nieuw" not in help_.text
    (made,) = await coach.send_and_wait("/groep uitnodigen")
    code = re.search(r"code: (\S+)", made.text).group(1)   # type: ignore[union-attr]
    eva = env.server.user(6002, first_name="Eva")
    (welcome,) = await eva.send_and_wait(f"/start {code}")
    assert "/oefenen" in welcome.text and env.known(eva).role == "trainee"
    await practise(env, eva, "/oefenen kort", None)
    progress = texts(await eva.send_and_wait("/voortgang"))
    assert t("training.trainer_sees", "nl", trainer="6001") in progress   # she knows her trainer sees it

    group = await coach.send_and_wait("/groep")
    assert t("trainer.line", "nl", who="6002", rounds=1, average="100%") in texts(group)
    (doc,) = [m for m in group if m.kind == "document"]
    assert doc.file is not None
    rows = list(csv.reader(io.StringIO(doc.file.data.decode())))
    assert [(r[0], r[4]) for r in rows[1:]] == [("6002", "100")]
    (refused,) = await eva.send_and_wait("/groep")
    assert refused.text == "Dit is niet beschikbaar voor jouw rol."
    assert env.server.violations == []
