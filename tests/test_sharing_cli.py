"""The owner's side of sharing at the command line, and the data-subject export (issue 13).

`lensbot share` prints a single-use link, `lensbot shares` lists and withdraws, `lensbot amend`
changes an answer of a completed case and adds a note, `lensbot export-case` writes everything
stored about exactly one case. Each runs the real `main()` on a real SQLite file.
"""

from __future__ import annotations

import getpass
import json
import re
from pathlib import Path

import pytest

from bot.cli import main
from dialogs.app import Door, Settings
from tests.test_sharing_store import complete


def test_share_list_amend_revoke_and_export_at_the_console(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    url = f"sqlite:///{tmp_path / 'lensbot.db'}"
    door = Door(Settings.load(database_url=url, web_url="https://lensbot.example.org"), "console")
    me = door.operator(getpass.getuser())
    code, other = complete(door.service, me, set()), complete(door.service, me, set())
    lens = door.lens
    first_signal = next(iter(lens.signals))

    assert main(["--database", url, "share", code, "--areas", "open,4", "--purpose", "weigh_concern",
                 "--basis", "zvh_convenant", "--not-informed", "later", "--days", "14"]) == 0
    out = capsys.readouterr().out
    token = re.search(r"/share/(s_[A-Za-z0-9_-]{40})", out)
    assert token and f"for case {code}" in out and code not in token.group(1)
    joined = door.sharing.join("telegram", "9001", token.group(1), "nl")
    assert joined.outcome == "ok" and joined.user is not None
    door.sharing.answer(joined.user, joined.request_id or 0, "domain:leerplicht", "nl")

    assert main(["--database", url, "shares", code]) == 0
    listing = capsys.readouterr().out
    assert "leerplicht" in listing and "Casusoverleg Zorg- en Veiligheidshuis" in listing
    assert "nee (Wordt later verteld" in listing

    assert main(["--database", url, "amend", code, "--answer", f"{first_signal}=yes",
                 "--note", "Aangevuld na overleg."]) == 0
    assert "Zorgniveau" in capsys.readouterr().out
    assert main(["--database", url, "amend", other, "--answer", "no_such_item=yes"]) == 2
    assert main(["--database", url, "shares", code, "--revoke", str(joined.request_id)]) == 0
    assert door.sharing.answer(joined.user, joined.request_id or 0, "finish", "nl").reason == "share.link_revoked"

    target = tmp_path / "inzage.json"
    assert main(["--database", url, "export-case", code, "--out", str(target)]) == 0
    data = json.loads(target.read_text())
    assert data["case"]["code"] == code and other not in target.read_text()
    assert data["answers"][first_signal] == "yes" and "Aangevuld na overleg." in data["notes"]
    assert [(h["item"], h["old"], h["new"], h["by"]) for h in data["history"]] == [
        (first_signal, "no", "yes", "owner"), ("note", None, None, "owner")]
    request = data["share_requests"][0]
    assert (request["legal_basis"], request["purpose"], request["informed"], request["not_informed_reason"],
            request["domain"], request["status"]) == ("zvh_convenant", "weigh_concern", False, "later",
                                                      "leerplicht", "revoked")
    assert "token" not in json.dumps(request) and token.group(1) not in target.read_text()
    actions = [row["action"] for row in data["audit"]]
    assert actions[-1] == "export-case"
    assert {"share", "share-join", "share-list", "amend", "share-revoke"} <= set(actions)
    assert main(["--database", url, "export-case", "ZZ-ZZZZ"]) == 2
    door.close()
