"""The console as a person meets it in a real terminal (a pty): a pasted note of two lines is stored
whole and nothing is left for the shell; Ctrl-C says what was saved and how to resume; the text
wraps to the terminal's width. Each runs the real `lensbot` process on a real SQLite file."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from matrix.lens import Lens
from tests.support.app import Store
from tests.support.lensbot_cli import run_lensbot

LENSBOT = Path(sys.executable).with_name("lensbot")


def lensbot_cmd(*args: str) -> list[str]:
    return [str(LENSBOT), *args] if LENSBOT.exists() else [sys.executable, "-m", "bot.cli", *args]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["LENSBOT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'lensbot.db'}"
    e.pop("COLUMNS", None)
    return e


class Terminal:
    """A process on a pseudo-terminal of its own, as in a terminal window: what it prints is read back,
    what the person types (or pastes, several lines at once) is written in one go."""

    def __init__(self, argv: list[str], env: dict[str, str], columns: int = 100) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, bytes([24, 0, columns, 0, 0, 0, 0, 0]))

        def controlling_terminal() -> None:   # so that Ctrl-C reaches the process, as in a shell
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            # and with Ctrl-C and Ctrl-\ at their defaults, as a shell starts a command in the foreground:
            # a disposition of "ignore" is inherited through exec, and the test process may have one
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGQUIT, signal.SIG_DFL)

        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, preexec_fn=controlling_terminal)
        os.close(slave)
        self.screen = ""

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait_for(self, pattern: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.screen):
            left = deadline - time.monotonic()
            assert left > 0, f"{pattern!r} did not appear:\n{self.screen[-2000:]}\n{self.diagnosis()}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:   # the process has gone and the pty is closed
                    chunk = b""
                if not chunk:
                    assert re.search(pattern, self.screen), f"{pattern!r} never came:\n{self.screen[-2000:]}"
                    break
                self.screen += chunk.decode(errors="replace").replace("\r\n", "\n")
        return self.screen

    def diagnosis(self) -> str:
        """The process's state and signal masks (a Ctrl-C that went unanswered), for the failure message."""
        lines = []
        for pid in (self.proc.pid, os.getpid()):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                wchan = Path(f"/proc/{pid}/wchan").read_text()
            except OSError as exc:
                lines.append(f"{pid}: {exc}")
                continue
            keep = [x for x in status.splitlines() if x.startswith(("State", "SigBlk", "SigIgn", "SigCgt", "SigPnd",
                                                                  "ShdPnd"))]
            lines.append(f"{pid}: wchan={wchan} " + " ".join(keep))
        return "\n".join(lines)

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=20)
        finally:
            os.close(self.master)


def to_the_note(lens: Lens) -> str:
    """What a person types from Begin to the closing note: the age, no red flags, every leefgebied skipped."""
    assert lens.doc.age is not None
    age = str([b.label.nl for b in lens.doc.age.bands].index("12 tot 18 jaar") + 1)
    return "\n".join(["begin", age, *["nee"] * len(lens.red_flags), *["sla over"] * len(lens.leefgebieden)]) + "\n"


def stored(url: str, code: str) -> tuple[list[str], int]:
    store = Store(url)
    try:
        with store.transaction() as tx:
            case = tx.load_case(code)
            assert case is not None
            answers = tx.answers(case.id)
        return store.notes(case.id), len(answers)
    finally:
        store.dispose()


def test_a_pasted_two_line_note_is_stored_whole_and_nothing_reaches_the_shell(env: dict[str, str],
                                                                               lens: Lens) -> None:
    # the chat runs inside a shell, as it would be typed at a prompt; after it the shell reads on
    shell = (f"{' '.join(lensbot_cmd('chat'))}; IFS= read -r -t 2 rest; echo \"SHELL-READ:[$rest]\"")
    term = Terminal(["bash", "-c", shell], env)
    term.type(to_the_note(lens))
    term.wait_for(r"Meer regels mag: sluit de notitie af met een lege regel\.\n")
    # one paste: two lines of note, the empty line that ends it, and a stray line after the chat's end
    term.type("Eerste regel: werkt 's nachts.\nTweede regel: nieuwe kleding.\n\nrm -rf ~/werk\n")
    screen = term.wait_for(r"SHELL-READ:\[.*\]")
    assert term.close() == 0
    assert "SHELL-READ:[]" in screen                    # the shell got nothing to run
    assert "Invoer die na het einde van het gesprek kwam, is weggegooid" in screen
    assert "Notitie opgeslagen." in screen
    code = re.search(r"Nieuwe zaak gestart: ([A-Z0-9]{2}-[A-Z0-9]{4})", screen)
    assert code, screen
    notes, _ = stored(env["LENSBOT_DATABASE_URL"], code.group(1))
    assert notes == ["Eerste regel: werkt 's nachts.\nTweede regel: nieuwe kleding."]


def test_a_piped_note_of_two_lines_ends_at_the_empty_line(env: dict[str, str], lens: Lens) -> None:
    typed = to_the_note(lens) + "Eerste regel.\nTweede regel.\n\n"
    done = run_lensbot("chat", env=env, input=typed)
    assert done.returncode == 0, done.stderr
    assert "Notitie opgeslagen." in done.stdout and "herken ik niet" not in done.stdout
    code = re.search(r"Nieuwe zaak gestart: ([A-Z0-9]{2}-[A-Z0-9]{4})", done.stdout)
    assert code
    assert stored(env["LENSBOT_DATABASE_URL"], code.group(1))[0] == ["Eerste regel.\nTweede regel."]


def test_ctrl_c_says_what_was_saved_and_how_to_resume(env: dict[str, str], lens: Lens) -> None:
    term = Terminal(lensbot_cmd("chat"), env, columns=60)   # a narrow window: the text wraps to it
    term.wait_for(r"\n> ")
    term.type("begin\n")
    term.wait_for(r"\[Leeftijd · 1/1\][\s\S]*\n> ")
    term.type("3\n")                                     # the age: one answer stored
    term.wait_for(r"\[Acuut gevaar · 1/")
    time.sleep(0.2)
    term.type("\x03")                                    # Ctrl-C
    screen = term.wait_for(r"Hervat met: lensbot chat --case [A-Z0-9-]+")
    assert term.close() == 130
    assert "Traceback" not in screen
    code = re.search(r"Onderbroken\. Alles tot nu toe is opgeslagen onder zaakcode ([A-Z0-9]{2}-[A-Z0-9]{4})\. "
                     r"Hervat met: lensbot chat --case \1", " ".join(screen.split()))   # as read, wrapped or not
    assert code, screen
    assert stored(env["LENSBOT_DATABASE_URL"], code.group(1)) == ([], 1)
    assert 45 <= max(len(line) for line in screen.split("\n")) <= 60


def test_ctrl_d_says_the_same_and_columns_sets_the_width(env: dict[str, str]) -> None:
    done = run_lensbot("chat", env={**env, "COLUMNS": "50"}, input="begin\n")
    assert done.returncode == 0
    assert max(len(line) for line in done.stdout.split("\n")) <= 50
    assert re.search(r"Einde van de invoer\. Alles tot nu toe is opgeslagen onder zaakcode ([A-Z0-9-]+)\. "
                     r"Hervat met: lensbot chat --case \1", " ".join(done.stdout.split()))
