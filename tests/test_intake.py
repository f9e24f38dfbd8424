"""The full intake through the service and real storage, on SQLite and PostgreSQL.

Each test reads like a conversation: start, tap answers, look at what the user is shown and
at what is stored.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dialogs.intake import IntakeDialog
from dialogs.output import Reply
from dialogs.service import IntakeService
from matrix.lens import RED_FLAGS_PHASE, Lens
from matrix.loader import load_lens
from storage.repo import Store, UserRow
from tests.support.app import lens_under_test

DIAGRAM = Path(__file__).parents[1] / "dialogs" / "intake.mmd"


class Chat:
    """A scripted professional: remembers the case and the step of the last reply."""

    def __init__(self, service: IntakeService, user: UserRow, lang: str = "nl") -> None:
        self.service, self.user, self.lang = service, user, lang
        self.reply = service.start(user, lang)
        self.code = self.reply.case_code

    def do(self, event: str, value: str | None = None) -> Reply:
        reply = self.service.handle(self.user, self.code, event, value, step=self.reply.step, lang=self.lang)
        if not reply.refused:
            self.reply = reply
        return reply

    def answer(self, value: str) -> Reply:
        return self.do("answer", value)

    def age(self, option: str = "age_2") -> Reply:
        """Tap an age button (age_2: 12 to 17); the age question comes first in every mode."""
        return self.do("answer", option)

    @property
    def progress(self) -> str | None:
        return self.reply.prompt.progress if self.reply.prompt else None

    def texts(self, reply: Reply | None = None) -> str:
        reply = reply or self.reply
        return "\n".join(line.text for block in reply.blocks for line in block.lines)


def new_chat(store: Store, lens: Lens, who: str = "ann") -> Chat:
    service = IntakeService(store, lens)
    return Chat(service, store.user("console", who, create_role="professional"))


def sizes(lens: Lens) -> tuple[int, list[int]]:
    """The number of red flags and of signals per leefgebied, from the loaded lens (never pinned)."""
    return len(lens.red_flags), [sum(len(i.signals) for i in lg.indicators) for lg in lens.leefgebieden]


def first_domain(lens: Lens) -> str:
    """The Dutch name of the first leefgebied, as the progress line shows it."""
    return lens.leefgebieden[0].name.nl


def items(lens: Lens, phase: str) -> list[str]:
    """The item ids a phase (red_flags or a leefgebied id) asks, in order."""
    return [q.item_id for q in lens.questions if q.phase == phase]


def stored(store: Store, chat: Chat) -> dict[str, str]:
    view = chat.service.view(chat.user, chat.code)
    assert view is not None
    return view.answers


def test_full_intake_all_no_is_stored_and_gives_concern_none(store: Store, lens: Lens) -> None:
    chat = new_chat(store, lens)
    assert "Zaakcode: " + chat.code in chat.reply.prompt.text
    assert [o.label for o in chat.reply.prompt.options] == ["Begin"]
    chat.do("begin")
    assert chat.progress == "Leeftijd · 1/1"
    assert "bij wie je terechtkunt" in chat.reply.prompt.text          # the intro of the question says why
    assert [o.label for o in chat.reply.prompt.options] == [
        "Jonger dan 12", "12 tot 18 jaar", "18 tot 23 jaar", "23 jaar of ouder", "Weet ik niet", "← Terug"]
    chat.age()
    flags, per_lg = sizes(lens)
    assert chat.progress == f"Acuut gevaar · 1/{flags}"
    assert [o.label for o in chat.reply.prompt.options] == ["Ja", "Nee", "Weet ik niet", "← Terug"]
    assert "de jongere" in chat.reply.prompt.text                       # worded for the age just chosen
    for _ in range(flags):
        chat.answer("no")
    assert chat.progress == f"{first_domain(lens)} · 1/{per_lg[0]}"
    assert [o.label for o in chat.reply.prompt.options][-1] == "Sla leefgebied over"
    interim = []
    while chat.reply.prompt and chat.reply.prompt.question_id:
        reply = chat.answer("no")
        interim += [b for b in reply.blocks if b.kind == "interim"]
    assert len(interim) == len(lens.leefgebieden)
    assert f"{first_domain(lens)}: 0 keer ja, 0 onbekend" in interim[0].lines[0].text
    summary = chat.texts()
    assert "Zorgniveau: geen signalen" in summary
    assert "Veilig Thuis" not in summary
    assert chat.reply.prompt.accepts_text and "geen namen" in chat.reply.prompt.text
    done = chat.do("note", "Gezien op dinsdag bij de fietsenstalling.")
    assert done.finished and done.prompt is None
    assert "afgerond" in chat.texts(done)
    answers = stored(store, chat)
    assert len(answers) == len(lens.questions) + 1 == flags + sum(per_lg) + 1
    assert set(answers.values()) == {"no", "a12_17"} and answers["age_group"] == "a12_17"
    assert store.notes(chat.service.view(chat.user, chat.code).case.id) == ["Gezien op dinsdag bij de fietsenstalling."]
    cases = store.list_cases(chat.user.id)
    assert [(c.code, c.status, c.answers) for c in cases] == [(chat.code, "completed", len(answers))]


def test_red_flag_yes_shows_112_before_the_next_question(store: Store, lens: Lens) -> None:
    chat = new_chat(store, lens)
    chat.do("begin")
    chat.age()
    reply = chat.answer("yes")
    assert reply.blocks[0].kind == "alert"
    assert "112" in reply.blocks[0].lines[0].text
    assert chat.progress == f"Acuut gevaar · 2/{len(lens.red_flags)}"
    assert stored(store, chat) == {"age_group": "a12_17", items(lens, RED_FLAGS_PHASE)[0]: "yes"}


def test_back_at_the_edges_and_across_leefgebieden(store: Store, lens: Lens) -> None:
    chat = new_chat(store, lens)
    refused = chat.do("back")
    assert refused.refused and refused.toast == "Er is geen eerdere vraag."
    chat.do("begin")
    chat.do("back")
    assert chat.reply.prompt.options[0].id == "begin"          # back on the age question returns to the intro
    chat.do("begin")
    chat.age()
    flags, per_lg = sizes(lens)
    for _ in range(flags):
        chat.answer("no")
    chat.answer("yes")                                          # the first leefgebied, question 1 -> yes
    assert chat.progress == f"{first_domain(lens)} · 2/{per_lg[0]}"
    chat.do("back")
    assert chat.progress == f"{first_domain(lens)} · 1/{per_lg[0]}"
    assert chat.reply.prompt.current == "Eerder antwoord: ja"
    chat.do("back")
    assert chat.progress == f"Acuut gevaar · {flags}/{flags}"  # back crosses into the previous phase
    assert chat.reply.prompt.current == "Eerder antwoord: nee"
    chat.answer("unknown")
    chat.answer("no")                                           # change its question 1 from yes to no
    answers = stored(store, chat)
    first = items(lens, lens.leefgebieden[0].id)[0]
    assert answers[items(lens, RED_FLAGS_PHASE)[-1]] == "unknown"
    assert answers[first] == "no"
    case_id = chat.service.view(chat.user, chat.code).case.id
    log = [v for item, v in store.answer_log(case_id) if item == first]
    assert log == ["yes", "no"]                                 # the change is kept, not overwritten


def test_skip_a_leefgebied_and_go_back_into_it(store: Store, lens: Lens) -> None:
    chat = new_chat(store, lens)
    chat.do("begin")
    chat.age()
    flags, per_lg = sizes(lens)
    refused = chat.do("skip")
    assert refused.refused and "niet overslaan" in (refused.toast or "")
    for _ in range(flags):
        chat.answer("no")
    chat.answer("yes")
    chat.answer("no")
    reply = chat.do("skip")                                     # skip the first leefgebied at question 3
    assert "overgeslagen" in chat.texts(reply)
    assert chat.progress == f"Lichamelijke & Psychische Gezondheid · 1/{per_lg[1]}"
    chat.do("back")
    assert chat.progress == f"{first_domain(lens)} · 3/{per_lg[0]}"   # back lands where the skip was pressed
    chat.answer("yes")
    assert chat.progress == f"{first_domain(lens)} · 4/{per_lg[0]}"
    for _ in range(4):                                          # skip the rest of every leefgebied
        chat.do("skip")
    assert chat.reply.prompt.accepts_text
    summary = chat.texts()
    assert "Wat zie ik nog niet?" in summary
    assert "wie ziet dit" in summary
    assert "niet gevraagd" in summary                           # skipped questions are not "weet ik niet"
    chat.do("back")                                             # from the note back to the last question
    assert chat.progress == f"Zingeving, Lerend Vermogen & Inzicht · 1/{per_lg[3]}"


def test_resume_after_restart_continues_at_the_same_question(store: Store, lens: Lens, db_url: str) -> None:
    chat = new_chat(store, lens)
    chat.do("begin")
    chat.age()
    flags, per_lg = sizes(lens)
    for _ in range(flags + 2):
        chat.answer("no")
    before = chat.progress
    store.dispose()
    fresh = Store(db_url)                                       # a new process: new engine, new service
    service = IntakeService(fresh, lens_under_test())
    reply = service.resume(chat.user, chat.code.lower(), "nl")
    assert reply.prompt.progress == before == f"{first_domain(lens)} · 3/{per_lg[0]}"
    resumed = Chat.__new__(Chat)
    resumed.service, resumed.user, resumed.lang = service, chat.user, "nl"
    resumed.reply, resumed.code = reply, chat.code
    resumed.answer("yes")
    assert resumed.progress == f"{first_domain(lens)} · 4/{per_lg[0]}"
    assert len(stored(fresh, resumed)) == 1 + flags + 3
    fresh.dispose()


def test_stale_step_and_other_users_case_change_nothing(store: Store, lens: Lens) -> None:
    chat = new_chat(store, lens)
    chat.do("begin")
    chat.age()
    old_step = chat.reply.step
    chat.answer("no")
    stale = chat.service.handle(chat.user, chat.code, "answer", "yes", step=old_step)
    assert stale.refused and "eerdere vraag" in (stale.toast or "")
    assert stored(store, chat) == {"age_group": "a12_17", items(lens, RED_FLAGS_PHASE)[0]: "no"}
    mallory = store.user("console", "mallory", create_role="professional")
    forged = chat.service.handle(mallory, chat.code, "answer", "yes")
    assert forged.refused and forged.toast == f"Zaak {chat.code} is niet gevonden."
    assert chat.service.view(mallory, chat.code) is None
    assert chat.service.summary(mallory, chat.code, "nl") is None
    assert store.list_cases(mallory.id) == []
    bogus = chat.service.handle(chat.user, chat.code, "answer", "maybe", step=chat.reply.step)
    assert bogus.refused
    age_here = chat.service.handle(chat.user, chat.code, "answer", "age_9", step=chat.reply.step)
    assert age_here.refused                                     # an age button is no answer to a signal
    assert stored(store, chat) == {"age_group": "a12_17", items(lens, RED_FLAGS_PHASE)[0]: "no"}


def test_english_on_request(store: Store, lens: Lens) -> None:
    chat = new_chat(store, lens)
    chat.lang = "en"
    chat.do("begin")
    assert chat.progress == "Age · 1/1"
    chat.age("age_4")
    assert chat.progress == f"Acute danger · 1/{len(lens.red_flags)}"
    assert [o.label for o in chat.reply.prompt.options] == ["Yes", "No", "Don't know", "← Back"]
    assert "the adult" in chat.reply.prompt.text


def test_an_old_case_keeps_the_questions_of_its_lens_version(store: Store, lens: Lens, tmp_path: Path) -> None:
    chat = new_chat(store, lens)
    chat.do("begin")
    chat.age()
    old_question = chat.reply.prompt.text
    changed = tmp_path / "lens"
    changed.mkdir()
    for f in (Path(load_lens.__code__.co_filename).parent / "lenses" / "default").glob("*.yaml"):
        (changed / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    red = changed / "red_flags.yaml"
    data = yaml.safe_load(red.read_text(encoding="utf-8"))
    data["red_flags"][0]["question"]["nl"] = "Nieuwe formulering van de eerste vraag?"
    red.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    new_lens = load_lens(changed)
    assert new_lens.version != lens.version
    service = IntakeService(Store(engine=store.engine), load_lens(changed))
    assert service.resume(chat.user, chat.code, "nl").prompt.text == old_question
    fresh = Chat(service, chat.user)
    fresh.do("begin")
    fresh.age()
    assert fresh.reply.prompt.text == "Nieuwe formulering van de eerste vraag?"
    versions = {c.code: c.lens_version for c in store.list_cases(chat.user.id)}
    assert versions == {chat.code: lens.version, fresh.code: new_lens.version}


def test_dialog_diagram_is_current(lens: Lens) -> None:
    assert DIAGRAM.read_text(encoding="utf-8") == IntakeDialog(lens).mermaid() + "\n", \
        "dialogs/intake.mmd is stale: run `lensbot dialog graph > dialogs/intake.mmd`"
