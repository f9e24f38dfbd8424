"""The console channel: the intake in a terminal, typed or piped.

Works the same on a TTY and with stdin piped (one answer per line), so it doubles as the
end-to-end harness for the core. Every answer is committed before the next question is
printed; at end of input everything answered so far is already stored.
"""

from __future__ import annotations

import select
import sys
from functools import cache
from pathlib import Path
from typing import TextIO

from bot.terminal import fit, numbered, render_block, render_prompt
from dialogs.app import Mode, Prompt, Reply, Unavailable, User
from dialogs.app.cases import Cases
from dialogs.texts import Catalog

WORDS: dict[str, str] = {
    "ja": "yes", "j": "yes", "yes": "yes", "y": "yes",
    "nee": "no", "n": "no", "no": "no",
    "weet ik niet": "unknown", "weet niet": "unknown", "?": "unknown", "onbekend": "unknown",
    "don't know": "unknown", "dont know": "unknown", "unknown": "unknown",
    "terug": "back", "back": "back", "t": "back", "b": "back",
    "sla over": "skip", "sla leefgebied over": "skip", "overslaan": "skip", "skip": "skip",
    "begin": "begin", "start": "begin",
    "geen notitie": "no_note", "geen": "no_note", "no note": "no_note",
    "doorgaan": "continue", "volledig": "continue", "continue": "continue", "full": "continue",
    "klaar": "finish", "done": "finish", "finish": "finish",
    "casus": "vignette", "case": "vignette", "tekst": "vignette",
    "toch opslaan": "save_note", "opslaan": "save_note", "save anyway": "save_note", "save": "save_note",
}
SAVE_NOTE = "save_note"   # the prompt after a note with likely identifying data: save it anyway?
STOP_WORDS = {"stop", "pauze", "quit", "exit", "q"}
DELETE_WORDS = {"verwijder", "delete"}   # erase this case (asks first), as /verwijder does in Telegram
YES_WORDS = {"j", "ja", "y", "yes"}
NOTE_END = "."   # a line with only a full stop also ends a note (besides an empty line)


@cache
def console_texts() -> Catalog:
    return Catalog.load(Path(__file__).with_name("texts.yaml"))


def interpret(line: str, prompt: Prompt) -> tuple[str, str | None] | None:
    """Map a typed line to (option id, free text) for the prompt on screen; None if unclear."""
    text = line.strip()
    ids = [o.id for o in numbered(prompt)]   # the numbers as render_prompt showed them
    if text.isdigit() and 1 <= int(text) <= len(ids):
        return ids[int(text) - 1], None
    by_label = {o.label.lower(): o.id for o in prompt.options}   # "12 tot 18 jaar", "Weet ik niet" at the age
    if text.lower() in by_label:
        return by_label[text.lower()], None
    word = WORDS.get(text.lower().rstrip("."))
    if word in ids:
        return word, None
    if SAVE_NOTE in ids and word in ("yes", "no"):   # the y/n question: save the note with what was found?
        return (SAVE_NOTE, None) if word == "yes" else ("retype", None)
    if word in ("yes", "no", "unknown") and "yes" in ids:
        return word, None
    if prompt.accepts_text and text:
        return "note", text
    return None


class ConsoleChat:
    def __init__(self, cases: Cases, user: User, lang: str,
                 stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.cases, self.user, self.lang = cases, user, lang
        self.stdin, self.stdout = stdin or sys.stdin, stdout or sys.stdout   # looked up now: tests swap them
        self.t = console_texts()
        self.interactive = bool(getattr(self.stdin, "isatty", lambda: False)())

    def say(self, text: str) -> None:
        self.stdout.write(fit(text) + "\n")
        self.stdout.flush()

    def show(self, reply: Reply) -> None:
        """A reply's blocks, then its question. Where the summary comes (the end of an intake, a quick
        result), the short one is shown: the reading, why, what to do now, whom to call, at most three
        open topics (issue 15); the full summary is `lensbot summary CODE`, the dossier `lensbot report`."""
        blocks = list(reply.blocks)
        short = None
        if "lens_picture" in reply.attachments and reply.mode != Mode.TRAINING:
            short = self.cases.summary(self.user, reply.case_code, self.lang, short=True, more="short.more_console")
        if short:
            blocks = [b for b in blocks if b.kind != "summary"]
        for block in blocks:
            self.say(render_block(block))
        for block in short or ():
            self.say(render_block(block))
        if reply.prompt:
            self.say(render_prompt(reply.prompt))
            if any(o.id == SAVE_NOTE for o in reply.prompt.options):
                self.say(self.t("console.save_note", self.lang))
            elif reply.prompt.accepts_text:
                self.say(self.t("console.note_lines", self.lang))

    def run(self, code: str | None = None, mode: str = Mode.FULL, vignette: str | None = None,
            length: str | None = None) -> int:
        """The whole chat; whatever way it ends, no typed or pasted input is left for the shell."""
        try:
            return self._run(code, mode, vignette, length)
        finally:
            self.drop_unread_input()

    def drop_unread_input(self) -> None:
        """Discard what is still waiting on a terminal (a paste that went past the end of the chat), so
        the shell does not run it as commands; say so when there was something."""
        if not self.interactive:
            return
        try:
            import termios

            fd = self.stdin.fileno()
            waiting = bool(select.select([fd], [], [], 0)[0])
            termios.tcflush(fd, termios.TCIFLUSH)
        except (ImportError, OSError, ValueError):   # not a real terminal (or not a POSIX one)
            return
        if waiting:
            self.say(self.t("console.input_dropped", self.lang))

    def read_line(self, prompt: str = "> ") -> str:
        """One line typed or piped ("" at the end of input), echoed when piped so the transcript reads
        like a chat."""
        self.stdout.write(prompt)
        self.stdout.flush()
        line = self.stdin.readline()
        if line and not self.interactive:
            self.say(line.rstrip("\n"))
        return line

    def read_note(self, first: str) -> tuple[str, bool]:
        """A note of one or more lines: it ends with an empty line (or a line with only "."), or at the
        end of input. Returns (the note, whether the input ended)."""
        lines = [first.rstrip()]
        while True:
            line = self.read_line("… ")
            if not line:
                return "\n".join(lines).strip(), True
            if line.strip() in ("", NOTE_END):
                return "\n".join(lines).strip(), False
            lines.append(line.rstrip())

    def _run(self, code: str | None, mode: str, vignette: str | None, length: str | None) -> int:
        try:
            if code:
                reply = self.cases.resume(self.user, code, self.lang)
                if reply.refused:
                    self.say(reply.toast or "")
                    return 2
                self.say(self.t("console.resumed", self.lang, code=reply.case_code))
            elif mode == Mode.FULL:   # the opening first; the case is created only at Begin
                begun = self.before_begin()
                if begun is None:
                    return 0
                reply = begun
                self.say(self.t("console.started", self.lang, code=reply.case_code))
            else:
                reply = self.cases.start(self.user, self.lang, mode=mode, vignette=vignette, length=length)
                started = "console.started_training" if mode == Mode.TRAINING else "console.started"
                self.say(self.t(started, self.lang, code=reply.case_code))
        except Unavailable as exc:
            self.say(self.t("console.storage_error", self.lang, error=exc))
            return 1
        self.show(reply)
        try:
            return self.loop(reply)
        except KeyboardInterrupt:   # Ctrl-C: every answer was committed when it was given
            self.say("\n" + self.t("console.interrupted", self.lang, code=reply.case_code))
            return 130

    def before_begin(self) -> Reply | None:
        """Show the opening and wait for Begin; then create the case and return its first question.
        None when the person stops (or the input ends) before Begin: nothing was stored."""
        intro = self.cases.intro(self.lang)
        self.say(render_prompt(intro))
        while True:
            line = self.read_line()
            if not line or line.strip().lower() in STOP_WORDS:
                self.say(("\n" if not line else "") + self.t("console.no_case", self.lang))
                return None
            if interpret(line, intro) == ("begin", None):
                reply = self.cases.begin(self.user, self.lang)
                if reply.refused:
                    self.say(reply.toast or "")
                    continue
                return reply
            self.say(self.t("console.not_understood", self.lang, hint=self.t("console.options_hint", self.lang)))

    def delete(self, code: str) -> bool:
        """Erase the case on screen after a yes; True when it is gone."""
        self.stdout.write(self.t("console.delete_confirm", self.lang, code=code) + " ")
        self.stdout.flush()
        answer = self.stdin.readline()
        if answer and not self.interactive:
            self.say(answer.rstrip("\n"))
        if answer.strip().lower() not in YES_WORDS:
            self.say(self.t("console.delete_cancelled", self.lang))
            return False
        try:
            erased = self.cases.delete(self.user, code)
        except Unavailable as exc:
            self.say(self.t("console.storage_error", self.lang, error=exc))
            return False
        self.say(self.t("console.deleted", self.lang, code=code) if erased else self.cases.not_found(code, self.lang))
        return erased is not None

    def loop(self, reply: Reply) -> int:
        code = reply.case_code
        prompt = reply.prompt
        step = reply.step
        ended = False
        while prompt is not None:
            line = "" if ended else self.read_line()
            if not line:
                self.say("\n" + self.t("console.eof", self.lang, code=code))
                return 0
            if line.strip().lower() in STOP_WORDS:
                self.say(self.t("console.paused", self.lang, code=code))
                return 0
            if line.strip().lower() in DELETE_WORDS:
                if self.delete(code):
                    return 0
                continue
            choice = interpret(line, prompt)
            if choice is None:
                hint = self.t("console.note_hint" if prompt.accepts_text else "console.options_hint", self.lang)
                self.say(self.t("console.not_understood", self.lang, hint=hint))
                continue
            option, text = choice
            if option == "note" and text is not None:   # the note's further lines, up to an empty line
                text, ended = self.read_note(text)
            if option == "retype":   # "n" to "save anyway?": nothing is stored; they type the note again
                self.say(self.t("console.retype_note", self.lang))
                continue
            try:
                reply = self.cases.choose(self.user, code, option, step, self.lang, text=text)
            except Unavailable as exc:
                self.say(self.t("console.storage_error", self.lang, error=exc))
                continue
            if option == "vignette" and not reply.refused:
                self.show(reply)
                continue
            if reply.refused:
                self.say(reply.toast or "")
                if reply.step != step:  # someone else moved the case on: show where it is now
                    reply = self.cases.resume(self.user, code, self.lang)
                    self.show(reply)
                    prompt, step = reply.prompt, reply.step
                continue
            self.show(reply)
            prompt, step = reply.prompt, reply.step
        return 0
