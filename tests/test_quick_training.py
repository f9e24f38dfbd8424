"""The quick scan and training mode through the service (SQLite and PostgreSQL) and the console.

A quick scan is what a teacher does in two minutes: the acute-danger gate, ten signals, a
result with steps and a text to forward. It can be deepened per leefgebied or continued into
the full intake without asking anything twice. Training cases score a trainee against a
vignette's expected answers and never count as real cases.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialogs.output import Reply
from dialogs.render import option_event
from dialogs.service import IntakeService
from dialogs.texts import dialog_texts
from matrix.lens import Lens
from matrix.scoring import assess
from matrix.training import expected_answers, score_training
from storage import records
from storage.repo import Store, UserRow

LENSBOT = Path(sys.executable).with_name("lensbot")
GATE = "rf_snelle_scan_acuut"
RIGHT = {"recognised", "rightly_no", "rightly_unknown"}
WORDS = {"yes": "ja", "no": "nee", "unknown": "weet ik niet"}
t = dialog_texts()


class Session:
    """A scripted user of one case: taps options by id, counts the taps, remembers the questions."""

    def __init__(self, service: IntakeService, user: UserRow, mode: str = "quick", vignette: str | None = None,
                 lang: str = "nl") -> None:
        self.service, self.user, self.lang = service, user, lang
        self.reply = service.start(user, lang, mode=mode, vignette=vignette)
        self.code = self.reply.case_code
        self.taps = 0
        self.asked: list[str] = [self.question] if self.question else []

    @property
    def question(self) -> str | None:
        return self.reply.prompt.question_id if self.reply.prompt else None

    @property
    def options(self) -> list[str]:
        return [o.id for o in self.reply.prompt.options] if self.reply.prompt else []

    @property
    def labels(self) -> list[str]:
        return [o.label for o in self.reply.prompt.options] if self.reply.prompt else []

    def event(self, event: str, value: str | None = None) -> Reply:
        reply = self.service.handle(self.user, self.code, event, value, step=self.reply.step, lang=self.lang)
        if not reply.refused:
            self.reply = reply
            if self.question:
                self.asked.append(self.question)
        return reply

    def tap(self, option: str) -> Reply:
        """Tap a button that is on screen, like a user would."""
        assert option in self.options, (option, self.options)
        self.taps += 1
        reply = self.event(*option_event(option))
        assert not reply.refused, reply.toast
        return reply

    def answer_all(self, answers: dict[str, str], default: str = "no") -> list[str]:
        """Answer every question until the prompt is no question any more; the ids asked."""
        asked = []
        while self.question:
            asked.append(self.question)
            self.tap(answers.get(self.question, default))
        return asked

    def text(self, reply: Reply | None = None) -> str:
        return "\n".join(line.text for block in (reply or self.reply).blocks for line in block.lines)


def service_user(store: Store, lens: Lens, who: str = "teacher-ann-7731",
                 role: str = "professional") -> tuple[IntakeService, UserRow]:
    user = store.user("console", who, create_role=role)
    assert user is not None
    return IntakeService(store, lens), user


def leefgebied_of(lens: Lens, item: str) -> str:
    return lens.indicator_leefgebied[lens.signal_indicator[item]]


def quick_items(lens: Lens) -> list[str]:
    return [q.item_id for q in lens.quick_questions]


def intake_items(lens: Lens) -> list[str]:
    return [q.item_id for q in lens.questions]


def forward_text(reply: Reply) -> str:
    heading = t("quick.forward_title", "nl")
    (block,) = [b for b in reply.blocks if b.lines[0].text == heading]
    assert len(block.lines) == 2
    return block.lines[1].text


def forward_pattern() -> re.Pattern[str]:
    """The forward template with every placeholder as a named group: the text is this and nothing else."""
    template = t("quick.forward_text", "nl")
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.*?)" for i, p in enumerate(parts))
    return re.compile(regex)


def stored_answers(service: IntakeService, user: UserRow, code: str) -> dict[str, str]:
    view = service.view(user, code)
    assert view is not None
    return view.answers


# -- 1. the quick scan and its result --------------------------------------------------------
def test_quick_scan_result_in_at_most_12_taps(store: Store, lens: Lens) -> None:
    service, user = service_user(store, lens)
    before = datetime.now(UTC).strftime("%Y-%m-%d")
    s = Session(service, user)
    assert s.reply.prompt is not None
    assert s.reply.prompt.progress == "Snelle scan · 1/11"
    assert s.question == GATE and s.options == ["yes", "no", "unknown", "back"]   # no intro, no Begin
    assert t("quick.title", "nl") in s.text()

    items = quick_items(lens)
    assert items[0] == GATE and len(items) == 11
    yes = [items[1], items[8]]     # one in Wonen & Financiën, one in Werk, Activiteiten & Sociale Relaties
    unknown = [items[4]]
    answers = {GATE: "no"} | dict.fromkeys(yes, "yes") | dict.fromkeys(unknown, "unknown")
    asked = s.answer_all(answers)
    assert asked == items
    assert s.taps == 11 <= 12
    assert s.reply.prompt is not None and s.reply.prompt.text == t("quick.more", "nl")

    shown = s.text()
    result = assess(lens, {i: answers.get(i, "no") for i in items})
    assert result.concern != "none"
    level = t(f"concern.{result.concern}", "nl")
    assert f"Resultaat snelle scan {s.code}" in shown
    assert f"Zorgniveau: {level}" in shown
    assert t("quick.noted", "nl") in shown
    for item in yes:
        assert lens.signals[item].question.nl in shown
    assert "Wat doe je nu?" in shown
    quick = lens.doc.quick_scan
    assert quick is not None
    for step in quick.steps:
        assert step.nl in shown
    for contact in quick.contacts:
        assert lens.contacts[contact].name.nl in shown
    assert "Veilig Thuis · 0800-2000" in shown

    # the text to forward: the template filled with the code, the date, the level and signal texts only
    note = "Het gaat om Jan de Vries uit 3B"
    refused = s.event("note", note)   # a quick scan takes no typed note: nothing personal to leak
    assert refused.refused
    forward = forward_text(s.reply)
    match = forward_pattern().fullmatch(forward)
    assert match is not None, forward
    assert match["code"] == s.code
    assert match["date"] in {before, datetime.now(UTC).strftime("%Y-%m-%d")}
    assert match["level"] == level
    assert match["signals"] == "; ".join(lens.signals[i].question.nl for i in yes)
    assert match["unknown"] == "; ".join(lens.signals[i].question.nl for i in unknown)
    assert "Jan" not in forward and user.external_id not in forward
    view = service.view(user, s.code)
    assert view is not None and store.notes(view.case.id) == []
    assert view.case.mode == "quick" and view.case.status == "open"


def test_gate_yes_shows_112_before_the_next_question(store: Store, lens: Lens) -> None:
    service, user = service_user(store, lens)
    s = Session(service, user)
    reply = s.tap("yes")
    assert reply.blocks[0].kind == "alert"
    assert "112" in reply.blocks[0].lines[0].text
    assert "Veilig Thuis" in "\n".join(line.text for line in reply.blocks[0].lines)
    assert reply.prompt is not None and reply.prompt.progress == "Snelle scan · 2/11"
    assert stored_answers(service, user, s.code) == {GATE: "yes"}
    s.answer_all({})
    shown = s.text()
    assert f"Zorgniveau: {t('concern.acute', 'nl')}" in shown
    assert lens.contacts["alarm_112"].name.nl in shown   # the gate's own contacts join the list


# -- 3. deepening one leefgebied ---------------------------------------------------------------
def test_deepen_asks_only_the_rest_of_a_leefgebied_with_a_yes(store: Store, lens: Lens) -> None:
    service, user = service_user(store, lens)
    s = Session(service, user)
    items = quick_items(lens)
    wonen, werk = items[1], items[8]
    assert leefgebied_of(lens, wonen) == "wonen_financien" and leefgebied_of(lens, werk) == "werk_activiteiten_relaties"
    s.answer_all({wonen: "yes", werk: "yes"})
    name = {lg.id: lg.name.nl for lg in lens.leefgebieden}
    deepen = [label for label in s.labels if label.startswith("Meer vragen over")]
    assert deepen == [f"Meer vragen over {name[lg]}" for lg in ("wonen_financien", "werk_activiteiten_relaties")]
    assert s.labels[0] == "Doorgaan met volledige intake" and s.labels[-2:] == ["Klaar", "← Terug"]
    order = {lg.id: lg.order for lg in lens.leefgebieden}
    assert s.event("deepen", str(order["gezondheid"])).refused      # no yes there: not offered, not accepted

    s.tap(f"deepen_{order['wonen_financien']}")
    rest = [q.item_id for q in lens.questions if q.phase == "wonen_financien" and q.item_id not in items]
    assert s.reply.prompt is not None and s.reply.prompt.progress == f"{name['wonen_financien']} · 1/{len(rest)}"
    first = s.question
    asked = s.answer_all({first: "yes"} if first else {})
    assert asked == rest                                   # that leefgebied's remaining questions, in order
    assert not set(asked) & set(items)                      # never a quick question again
    assert s.reply.prompt is not None and s.reply.prompt.text == t("quick.more", "nl")
    shown = s.text()
    assert f"Resultaat snelle scan {s.code}" in shown
    assert lens.signals[rest[0]].question.nl in shown       # the deepened "ja" is noted now too
    deepen = [label for label in s.labels if label.startswith("Meer vragen over")]
    assert deepen == [f"Meer vragen over {name['werk_activiteiten_relaties']}"]   # Wonen has nothing left
    assert s.event("deepen", str(order["wonen_financien"])).refused
    answers = stored_answers(service, user, s.code)
    assert set(answers) == set(items) | set(rest)


# -- 4. continuing into the full intake --------------------------------------------------------
def test_continue_asks_nothing_twice_and_ends_with_the_full_summary(store: Store, lens: Lens) -> None:
    service, user = service_user(store, lens)
    s = Session(service, user)
    items = quick_items(lens)
    health = next(i for i in items[1:] if leefgebied_of(lens, i) == "gezondheid")
    s.answer_all({health: "yes", items[-1]: "unknown"})
    s.tap(f"deepen_{lens.leefgebied_by_id['gezondheid'].order}")
    s.answer_all({})
    before = list(s.asked)
    assert len(before) == len(set(before))

    reply = s.tap("continue")
    assert "De volledige intake gaat verder" in s.text(reply)
    assert reply.mode == "full"
    assert s.reply.prompt is not None and s.reply.prompt.progress == "Acuut gevaar · 1/6"
    start = len(s.asked) - 1
    s.answer_all({})
    after = s.asked[start:]
    assert len(after) == len(set(after))
    assert not set(after) & set(before), set(after) & set(before)
    assert set(before) | set(after) == set(intake_items(lens)) | {GATE}

    shown = s.text()
    assert f"Overzicht zaak {s.code}" in shown
    assert s.reply.prompt is not None and s.reply.prompt.accepts_text          # the closing note
    total = len(lens.questions)
    assert f"{total} van de {total} vragen beantwoord" in shown
    done = s.tap("no_note")
    assert done.finished
    answers = stored_answers(service, user, s.code)
    assert len(answers) == total + 1 == 94
    view = service.view(user, s.code)
    assert view is not None
    log = [item for item, _ in store.answer_log(view.case.id)]
    assert len(log) == len(set(log)) == 94
    assert view.case.mode == "full" and view.case.status == "completed"
    counts = [(m, k, n) for _, m, k, n in records.read_counts(store) if m == "cases"]
    assert counts == [("cases", "all", 1)]


# -- 5. finishing a quick scan -----------------------------------------------------------------
def test_klaar_finishes_and_counts_and_back_at_the_gate_is_refused(store: Store, lens: Lens) -> None:
    service, user = service_user(store, lens)
    s = Session(service, user)
    back = s.event("back")
    assert back.refused and back.reason == "refuse.no_back"
    assert s.reply.prompt is not None and s.reply.prompt.progress == "Snelle scan · 1/11"
    s.answer_all({})
    assert "Zorgniveau: geen signalen" in s.text()
    s.tap("back")                                        # back from the result to the last question
    assert s.reply.prompt is not None and s.reply.prompt.progress == "Snelle scan · 11/11"
    s.tap("no")
    done = s.tap("finish")
    assert done.finished and done.prompt is None
    assert s.code in s.text(done)
    (case,) = store.list_cases(user.id)
    assert (case.code, case.mode, case.status, case.answers) == (s.code, "quick", "completed", 11)
    rows = records.read_counts(store)
    assert [(m, k, n) for _, m, k, n in rows if m == "cases"] == [("cases", "all", 1)]
    assert ("concern", "none", 1) in [(m, k, n) for _, m, k, n in rows]
    assert s.event("continue").refused                   # a finished scan stays finished


# -- 6. training -------------------------------------------------------------------------------
def test_every_vignette_claims_the_concern_its_expected_answers_give(lens: Lens) -> None:
    wrong = {v.id: (v.concern, assess(lens, expected_answers(v)).concern) for v in lens.vignettes.values()
             if assess(lens, expected_answers(v)).concern != v.concern}
    assert wrong == {}
    assert sum(1 for v in lens.vignettes.values() if not v.exploitation) >= 3
    for v in lens.vignettes.values():
        result = score_training(lens, v, expected_answers(v))
        assert result.score == 100 and {f.verdict for f in result.signals} <= RIGHT, v.id


def test_training_cases_score_expected_answers_100_and_over_flagging_lower(store: Store, lens: Lens) -> None:
    service, user = service_user(store, lens, "trainee-tom", role="trainee")
    for v in lens.vignettes.values():
        expected = expected_answers(v)
        good = Session(service, user, "training", v.id)
        assert good.options == ["begin"] and v.text.nl in good.reply.prompt.text  # type: ignore[union-attr]
        good.tap("begin")
        asked = good.answer_all(expected)
        assert sorted(asked) == sorted(expected), v.id                 # exactly the vignette's signals
        assert good.reply.finished, v.id
        shown = good.text()
        assert "Score: 100%" in shown, v.id
        level = t(f"concern.{v.concern}", "nl")
        assert t("training.concern", "nl", given=level, expected=level) in shown, v.id
        reading = "training.reading_yes" if v.exploitation else "training.reading_no"
        assert t(reading, "nl") in shown, v.id
        result = score_training(lens, v, stored_answers(service, user, good.code))
        assert result.score == 100 and {f.verdict for f in result.signals} <= RIGHT, v.id

        eager = Session(service, user, "training", v.id)
        eager.tap("begin")
        eager.answer_all({}, default="yes")
        result = score_training(lens, v, stored_answers(service, user, eager.code))
        flagged = {f.signal for f in result.signals if f.verdict == "wrongly_flagged"}
        assert flagged == {s for s, a in expected.items() if a != "yes"}, v.id
        assert flagged and result.score < 100, v.id
        assert f"Score: {result.score}%" in eager.text(), v.id
        shown = eager.text()
        assert t("concern." + result.concern_given, "nl") in shown and t("concern." + v.concern, "nl") in shown


def test_vignette_option_reshows_the_text_without_changing_the_step(store: Store, lens: Lens) -> None:
    service, user = service_user(store, lens, "trainee-tom", role="trainee")
    v = next(iter(lens.vignettes.values()))
    s = Session(service, user, "training", v.id)
    s.tap("begin")
    s.tap(expected_answers(v)[s.question or ""])
    question, step = s.question, s.reply.step
    assert "vignette" in s.options and "📄 Casus" in s.labels
    again = s.tap("vignette")
    assert not again.refused and again.step == step
    assert v.text.nl in s.text(again) and again.prompt is not None and again.prompt.question_id == question
    view = service.view(user, s.code)
    assert view is not None and view.case.step == step and len(view.answers) == 1
    s.tap(expected_answers(v)[question or ""])                     # the question is still answerable
    assert s.reply.step == step + 1

    pro_service, pro = service_user(store, lens)
    real = Session(pro_service, pro)
    assert real.event("vignette").refused                    # a real case has no vignette


# -- 7. progress -------------------------------------------------------------------------------
def test_progress_lists_training_cases_which_never_count_as_real(store: Store, lens: Lens) -> None:
    service, user = service_user(store, lens)       # a professional practising
    first_id = service.next_vignette(user)
    first = Session(service, user, "training")
    first.tap("begin")
    first.answer_all(expected_answers(lens.vignettes[first_id]))
    second_id = service.next_vignette(user)
    assert second_id != first_id
    second = Session(service, user, "training")
    second.tap("begin")
    second.answer_all({}, default="yes")
    assert first.reply.finished and second.reply.finished

    rows = service.progress(user)
    assert [(vid, r.score) for _, vid, r in rows] == [
        (first_id, 100),
        (second_id, score_training(lens, lens.vignettes[second_id],
                                   stored_answers(service, user, second.code)).score)]
    assert rows[1][2].score < 100
    nxt = service.next_vignette(user)
    assert nxt in lens.vignettes and nxt not in {first_id, second_id}
    assert store.list_cases(user.id) == []
    assert records.read_counts(store) == []
    assert {c.code for c in store.list_cases(user.id, modes=("training",))} == {first.code, second.code}


# -- 8. the console ----------------------------------------------------------------------------
def lensbot_cmd(*args: str) -> list[str]:
    return [str(LENSBOT), *args] if LENSBOT.exists() else [sys.executable, "-m", "bot.cli", *args]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["LENSBOT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'lensbot.db'}"
    e.pop("LENSBOT_LENS", None)
    e.pop("LENSBOT_CONTACTS", None)
    return e


def run(env: dict[str, str], stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(lensbot_cmd(*args), input=stdin, env=env, capture_output=True, text=True, timeout=60)


def test_console_quick_scan_piped(env: dict[str, str], lens: Lens) -> None:
    # gate "nee", then words and numbers (1 = Ja, 2 = Nee, 3 = Weet ik niet), then "klaar"
    lines = ["nee", "ja", "2", "nee", "3", "n", "?", "2", "1", "nee", "2", "klaar"]
    done = run(env, "\n".join(lines) + "\n", "chat", "--mode", "quick")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "[Snelle scan · 1/11]" in out and "[Snelle scan · 11/11]" in out
    assert "Begin" not in out.split("[Snelle scan · 1/11]")[0]
    result = out[out.index("Resultaat snelle scan"):]
    assert "Wat doe je nu?" in result and "Om door te sturen" in result
    items = quick_items(lens)
    for item in (items[1], items[8]):                                 # "ja" and "1" are noted
        assert lens.signals[item].question.nl[:60] in result, item
    assert "Zorgniveau: " in result
    assert "herken ik niet" not in out
    code = re.search(r"Resultaat snelle scan ([A-Z0-9]{2}-[A-Z0-9]{4})", out)
    assert code is not None
    listing = run(env, "", "cases", "--format", "json")
    assert '"status": "completed"' in listing.stdout and '"mode": "quick"' in listing.stdout


def test_console_training_with_expected_answers_and_progress(env: dict[str, str], lens: Lens) -> None:
    v = lens.vignettes["v13_opgewacht_bij_school"]
    expected = expected_answers(v)
    order = [lens.all_questions[i].item_id for i in lens.script_for(expected)]
    lines = ["begin", *(WORDS[expected[item]] for item in order)]
    done = run(env, "\n".join(lines) + "\n", "chat", "--mode", "training", "--vignette", v.id)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert v.title.nl in out
    assert "Score: 100%" in out
    progress = run(env, "", "progress")
    assert progress.returncode == 0, progress.stderr
    assert f"{v.title.nl}: 100%" in progress.stdout
    assert f"1 van de {len(lens.vignettes)} casussen gedaan" in progress.stdout
    listing = run(env, "", "cases", "--format", "json")
    assert listing.stdout.strip() == "[]"            # practice is not a case


def test_console_unknown_vignette_is_bad_usage(env: dict[str, str]) -> None:
    done = run(env, "", "chat", "--mode", "training", "--vignette", "v99_bestaat_niet")
    assert done.returncode == 2
    assert "unknown vignette" in done.stderr


# -- 9. the vignettes themselves ---------------------------------------------------------------
def test_enough_vignettes_of_reasonable_length(lens: Lens) -> None:
    assert len(lens.vignettes) >= 12
    for v in lens.vignettes.values():
        for lang in ("nl", "en"):
            words = len(v.text.get(lang).split())
            assert 80 <= words <= 200, (v.id, lang, words)
        assert all(lens.question_index[e.signal] < len(lens.questions) for e in v.expected)   # intake questions
