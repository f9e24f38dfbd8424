"""Sharing a case through the door, on SQLite and PostgreSQL: a request, a contributor, the combined
picture, revocation, aanvullen with its history, the data-subject export and erasure.

A wijkagent completes a case, asks a debt counsellor about "Wonen & Financiën"; what each of them
may see and do, and what is stored and audited, is checked against the database itself.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from dialogs.app import Door, Settings
from dialogs.app.sharing import Sharing
from matrix.lens import Lens
from storage.models import AnswerChange, AuditEntry, Case, Contribution, ShareRequest
from storage.repo import Store, UserRow, now
from tests.support.app import IntakeService, option_event
from tests.test_reports_render import pdf_text

WONEN = "1"   # Wonen & Financiën, by its order


def complete(service: IntakeService, user: UserRow, yes: set[str]) -> str:
    """A completed full case: 12 to 18 years old, `yes` answered ja, the rest nee."""
    reply = service.start(user, "nl")
    code = reply.case_code
    while reply.prompt is not None:
        ids = [o.id for o in reply.prompt.options]
        item = reply.prompt.question_id
        if item == service.lens.age_item:
            option = next(o.id for o in reply.prompt.options if o.label == "12 tot 18 jaar")
        elif "yes" in ids:
            option = "yes" if item in yes else "no"
        else:
            option = next((o for o in ("no_note", "finish") if o in ids), ids[0])
        event, value = option_event(option)
        reply = service.handle(user, code, event, value, step=reply.step)
        assert not reply.refused, reply.toast
    return code


def text_of(blocks: list) -> str:
    return "\n".join(line.text for b in blocks for line in b.lines)


@pytest.fixture
def door(store: Store, lens: Lens) -> Door:
    return Door.around(IntakeService(store, lens), Settings(web_url="https://lensbot.example.org"), "telegram")


def test_a_request_a_contribution_and_everything_around_it(door: Door, store: Store, lens: Lens) -> None:
    sharing: Sharing = door.sharing
    agent = store.user("telegram", "501", create_role="professional")
    assert agent is not None
    code = complete(door.service, agent, yes=set())
    before = text_of(door.cases.summary(agent, code, "nl") or [])
    debts = [s.id for ind in lens.leefgebied_by_id["wonen_financien"].indicators for s in ind.signals][:3]

    # the owner asks, through the wizard, exactly as a channel would
    step = sharing.begin(agent, code, "nl")
    assert step.draft is not None and step.prompt is not None
    for option in (f"area:{WONEN}", "areas_done", "purpose:combine_signals", "basis:meldcode_consultation",
                   "informed:no", "reason:safety", "days:7", "combined:no"):
        step = sharing.choose(agent, step.draft, option, "nl")
        assert step.draft is not None
    created = step.created
    assert created is not None and created.web_link.startswith("https://lensbot.example.org/share/s_")
    assert code not in created.token and code.replace("-", "") not in created.web_link
    with store.engine.connect() as conn:   # only the hash of the token
        stored = conn.execute(select(ShareRequest.token_hash)).scalar_one()
    assert created.token not in stored and len(stored) == 64

    # a stranger opens it first: they become a contributor and see the case code and the first red flag
    joined = sharing.join("telegram", "777", created.token, "nl")
    assert joined.outcome == "ok" and joined.user is not None and joined.user.role == "contributor"
    counsellor = joined.user
    assert joined.reply is not None and joined.reply.prompt is not None
    assert code in joined.reply.prompt.text and "domein" in joined.reply.prompt.text
    # a second person is refused, the first comes back
    assert sharing.join("telegram", "778", created.token, "nl").outcome == "taken"
    assert sharing.join("telegram", "777", created.token, "nl").outcome == "ok"

    reply = sharing.answer(counsellor, created.request_id, "domain:schuldhulp", "nl")
    assert reply.prompt is not None and reply.prompt.question_id == next(iter(lens.red_flags))   # red flags first
    while reply.prompt is not None and reply.prompt.question_id in lens.red_flags:
        no = next(o.id for o in reply.prompt.options if o.id.startswith("no:"))
        reply = sharing.answer(counsellor, created.request_id, no, "nl")
    for item in debts:
        assert reply.prompt is not None and reply.prompt.question_id == item
        yes = next(o.id for o in reply.prompt.options if o.id.startswith("yes:"))
        reply = sharing.answer(counsellor, created.request_id, yes, "nl")
        assert not reply.refused
    # a question from outside the request is refused, nothing stored
    wonen = {s.id for ind in lens.leefgebied_by_id["wonen_financien"].indicators for s in ind.signals}
    outside = lens.question_index[next(s for s in lens.signals if s not in wonen)]
    assert sharing.answer(counsellor, created.request_id, f"yes:{outside}", "nl").refused
    finished = sharing.answer(counsellor, created.request_id, "finish", "nl")
    total = len(lens.red_flags) + len(wonen)
    answered = len(lens.red_flags) + len(debts)
    assert finished.finished and f"{answered} van de {total} vragen" in text_of(list(finished.blocks))
    assert finished.prompt is not None   # more may be answered; the combined picture was not allowed
    assert [o.id for o in finished.prompt.options] == ["more"]
    assert sharing.answer(counsellor, created.request_id, "combined", "nl").refused

    # the owner's answers were never touched; the summary now shows the combined picture
    assert all(v != "yes" for v in door.service.view(agent, code).answers.values())  # type: ignore[union-attr]
    after = text_of(door.cases.summary(agent, code, "nl") or [])
    assert "Gecombineerd beeld" in after and "schuldhulp: ja" in after and "eigen waarneming: nee" in after
    assert "verschil" in after and "schuldhulp" in after.split("Dit beeld rust op:")[1].splitlines()[0]
    assert before.splitlines()[1] != after.splitlines()[1] or before != after
    # the contributor cannot reach the case as a case
    assert door.service.view(counsellor, code) is None
    assert sharing.requests(counsellor, code, "nl") is None
    # the owner is told, once
    notices = sharing.notices("telegram")
    assert [(n.external_id, "schuldhulp" in n.text) for n in notices] == [("501", True)]
    assert sharing.notices("telegram") == []

    # aanvullen: the owner changes one answer; the history keeps who, when and the earlier value
    start = sharing.amend_start(agent, code, "nl")
    assert start.prompt is not None
    first = sharing.amend(agent, code, f"scope:{WONEN}", "nl")
    assert first.prompt is not None and first.prompt.question_id == debts[0]
    sharing.amend(agent, code, next(o.id for o in first.prompt.options if o.id.startswith("yes:")), "nl")
    assert sharing.add_note(agent, code, "Besproken met schuldhulp.", "nl").finished
    with store.engine.connect() as conn:
        changes = conn.execute(select(AnswerChange.item_id, AnswerChange.old_value, AnswerChange.new_value,
                                      AnswerChange.by_role).order_by(AnswerChange.id)).all()
    assert [tuple(c) for c in changes if c.by_role == "owner"] == [(debts[0], "no", "yes", "owner"),
                                                                    ("note", None, None, "owner")]
    assert {c.by_role for c in changes} == {"owner", "contributor:schuldhulp"}
    pdf = door.reports.case(agent, code, "pdf", "nl")
    assert pdf is not None
    dossier = " ".join(pdf_text(pdf.data).split())
    assert "Gecombineerd beeld" in dossier and "schuldhulp: ja" in dossier
    assert "Geschiedenis van wijzigingen" in dossier and "was nee, nu ja" in dossier and "notitie toegevoegd" in dossier

    # revocation stops the contributor at their next action
    assert sharing.revoke(agent, code, created.request_id)
    refused = sharing.answer(counsellor, created.request_id, "finish", "nl")
    assert refused.refused and refused.reason == "share.link_revoked"

    # the data-subject export: exactly this case, contributions and audit included
    other = complete(door.service, agent, yes=set())
    operator = Door.around(door.service, door.settings, "console").operator("fg")   # the server's console
    export = sharing.export_case(operator, code)
    assert export is not None
    data = json.loads(export.data)
    assert data["case"]["code"] == code and other not in export.data.decode()
    assert data["share_requests"][0]["contributions"] == {**{rf: "no" for rf in lens.red_flags},
                                                          **dict.fromkeys(debts, "yes")}
    actions = [row["action"] for row in data["audit"]]
    for action in ("share", "share-join", "share-domain", "contribute", "share-revoke", "amend", "export-case"):
        assert action in actions, actions
    assert all(row["actor"] != "telegram:778" or row["action"] == "refused" for row in data["audit"])

    # deleting the case deletes every contribution; the contributor is told the case is closed
    assert door.cases.delete(agent, code) is not None
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Contribution)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(AnswerChange)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(AuditEntry)
                            .where(AuditEntry.case_code == code)).scalar() == 0
    closed = sharing.notices("telegram")
    assert [n.external_id for n in closed] == ["777"] and "gesloten" in closed[0].text
    assert sharing.join("telegram", "777", created.token, "nl").outcome in ("closed", "bad")


def test_isolation_between_cases_and_people(door: Door, store: Store) -> None:
    sharing = door.sharing
    agent = store.user("telegram", "601", create_role="professional")
    colleague = store.user("telegram", "602", create_role="professional")
    assert agent is not None and colleague is not None
    mine, theirs = complete(door.service, agent, set()), complete(door.service, colleague, set())
    created = sharing.create(agent, mine, ["open"], "combine_signals", "consent", True, None, 7, True)
    assert created is not None
    # nobody can share a case that is not theirs, and an unknown link is refused without a hint
    assert sharing.create(colleague, mine, ["open"], "combine_signals", "consent", True, None, 7, True) is None
    assert sharing.join("telegram", "603", "s_" + "x" * 40, "nl").outcome == "bad"
    assert sharing.join("telegram", "601", created.token, "nl").outcome == "own"
    store.user("telegram", "609", create_role="trainee")   # a trainee never touches a real case: nothing claimed
    assert sharing.join("telegram", "609", created.token, "nl").outcome == "role"
    joined = sharing.join("telegram", "602", created.token, "nl")
    assert joined.outcome == "ok" and joined.user is not None
    assert joined.user.role == "professional"   # a known user keeps their role
    # the contributor reaches only their own request: not another request id, not the case itself
    other = sharing.create(colleague, theirs, ["1"], "combine_signals", "consent", True, None, 7, False)
    assert other is not None
    assert sharing.answer(joined.user, other.request_id, "domain:school", "nl").reason == "share.not_yours"
    assert "Zingeving" not in "".join(r.areas for r in sharing.requests(agent, mine, "nl") or [])
    stranger = sharing.join("telegram", "604", other.token, "nl").user
    assert stranger is not None and stranger.role == "contributor"
    assert sharing.answer(stranger, created.request_id, "domain:school", "nl").reason == "share.not_yours"
    # the owner's case page hears of a finished contribution once (the web shows it there)
    sharing.answer(joined.user, created.request_id, "domain:jeugdzorg", "nl")
    sharing.answer(joined.user, created.request_id, "finish", "nl")
    news = text_of(sharing.news(agent, mine, "nl"))
    assert f"Nieuwe bijdrage in zaak {mine} van jeugdzorg" in news
    assert sharing.news(agent, mine, "nl") == [] and sharing.news(colleague, mine, "nl") == []


def test_retention_purges_the_case_with_its_contributions(door: Door, store: Store) -> None:
    sharing = door.sharing
    agent = store.user("telegram", "701", create_role="professional")
    assert agent is not None
    code = complete(door.service, agent, set())
    created = sharing.create(agent, code, ["open"], "combine_signals", "statutory_task", True, None, 30, False)
    assert created is not None
    joined = sharing.join("telegram", "702", created.token, "nl")
    assert joined.user is not None
    sharing.answer(joined.user, created.request_id, "domain:wijkteam", "nl")
    reply = sharing.prompt(joined.user, created.request_id, "nl")
    assert reply.prompt is not None
    sharing.answer(joined.user, created.request_id, reply.prompt.options[0].id, "nl")
    with store.engine.begin() as conn:   # untouched for longer than the retention period
        conn.execute(update(Case).where(Case.code == code).values(updated_at=now() - timedelta(days=400)))
    assert code in door.admin.purge(confirm=True).codes
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Contribution)).scalar() == 0
        assert conn.execute(select(ShareRequest.case_id)).scalars().all() == [None]   # a stub, no answers
    assert [n.external_id for n in sharing.notices("telegram")] == ["702"]
    assert sharing.answer(joined.user, created.request_id, "finish", "nl").reason == "share.link_closed"
