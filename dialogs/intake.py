"""The conversation as one `transitions` state machine, built once per lens version.

States are the phases a person recognises: intro, the quick scan, red flags, one per
leefgebied, the quick-scan result, the closing note, done. Which questions a case asks is data:
its *script*, a list of question indices (the whole intake, the quick scan, a training
vignette's signals, or what is still unanswered when a quick scan continues into the full
intake). Because a script may leave a phase out, the forward transitions name every later phase
with a condition ("the next question of the script is there"), and back transitions every
earlier one; the trail of question indices shown tells where "back" goes.

The machine is built once and cases are driven through it (`Event.trigger(model)`), which costs
microseconds instead of building a machine per update. Callbacks only change the in-memory
case; storing it is the service's job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from transitions import EventData, Machine

from dialogs.domain import Mode
from matrix.lens import AGE_PHASE, QUICK_PHASE, Lens, Question

INTRO, QUICK_RESULT, NOTE, DONE = "intro", "quick_result", "note", "done"
END_STATE = {Mode.FULL: NOTE, Mode.QUICK: QUICK_RESULT, Mode.TRAINING: DONE}
ANSWER_VALUES = ("yes", "no", "unknown")
NOTE_MAX_CHARS = 2000
MODES = tuple(END_STATE)


@dataclass
class IntakeCase:
    """What the machine needs of a case; the transitions model."""

    state: str
    mode: str = Mode.FULL
    script: list[int] | None = None                      # None: the whole intake
    trail: list[int] = field(default_factory=list)       # indices of the questions shown, in order
    skipped: list[str] = field(default_factory=list)     # leefgebied ids skipped
    answers: dict[str, str] = field(default_factory=dict)
    # Effects of the last event, read by the service and the renderer:
    changes: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    effects: list[tuple[str, str]] = field(default_factory=list)

    def begin_event(self) -> None:
        self.changes, self.note, self.effects = {}, None, []


class IntakeDialog:
    """The machine for one lens, plus the rules that need the lens (which question is next)."""

    def __init__(self, lens: Lens) -> None:
        self.lens = lens
        self.phases: tuple[str, ...] = lens.phases
        self.leefgebieden = tuple(lg.id for lg in lens.leefgebieden)
        self.states = [INTRO, *self.phases, QUICK_RESULT, NOTE, DONE]
        self.machine = Machine(
            model=None, states=self.states, transitions=self._transitions(), initial=INTRO,
            auto_transitions=False, send_event=True, ignore_invalid_triggers=False,
        )

    # -- definition ------------------------------------------------------------------------
    def _transitions(self) -> list[dict[str, Any]]:
        ends = [QUICK_RESULT, NOTE, DONE]
        t: list[dict[str, Any]] = [
            {"trigger": "begin", "source": INTRO, "dest": p, "conditions": self._is(self._first_phase, p),
             "after": self._enter_forward} for p in self.phases
        ]
        for i, phase in enumerate(self.phases):
            later, earlier = [*self.phases[i + 1:], *ends], [INTRO, *self.phases[:i]]
            t.append({"trigger": "answer", "source": phase, "dest": None, "unless": self._last_in_phase,
                      "before": self._record, "after": self._next_question})
            t += [{"trigger": "answer", "source": phase, "dest": dest,
                   "conditions": [self._last_in_phase, self._is(self._next_phase, dest)],
                   "before": [self._record, self._leave_phase], "after": self._enter_forward} for dest in later]
            if phase in self.leefgebieden:
                t += [{"trigger": "skip", "source": phase, "dest": dest,
                       "conditions": self._is(self._phase_after_skip, dest),
                       "before": [self._mark_skipped, self._leave_phase], "after": self._enter_forward}
                      for dest in later]
            t.append({"trigger": "back", "source": phase, "dest": None, "conditions": self._back_stays,
                      "before": self._pop})
            t += [{"trigger": "back", "source": phase, "dest": dest, "conditions": self._is(self._back_phase, dest),
                   "before": self._pop} for dest in earlier]
        t += [
            {"trigger": "back", "source": end, "dest": p, "conditions": self._is(self._current_phase, p),
             "after": self._reenter} for end in (QUICK_RESULT, NOTE) for p in self.phases
        ]
        t += [
            {"trigger": "continue", "source": QUICK_RESULT, "dest": p, "before": self._start_full,
             "conditions": self._is(self._full_first_phase, p), "after": self._enter_forward}
            for p in (*self.phases, NOTE) if p != QUICK_PHASE
        ]
        t += [
            {"trigger": "deepen", "source": QUICK_RESULT, "dest": lg, "conditions": self._deepen_to(lg),
             "before": self._deepen, "after": self._enter_forward} for lg in self.leefgebieden
        ]
        t += [
            {"trigger": "finish", "source": QUICK_RESULT, "dest": DONE, "after": self._finish},
            {"trigger": "note", "source": NOTE, "dest": DONE, "conditions": self._note_fits,
             "before": self._store_note, "after": self._finish},
            {"trigger": "no_note", "source": NOTE, "dest": DONE, "after": self._finish},
        ]
        return t

    @staticmethod
    def _is(probe: Callable[[IntakeCase], str | None], target: str) -> Callable[[EventData], bool]:
        return lambda ev: probe(ev.model) == target

    # -- driving ---------------------------------------------------------------------------
    def accepts(self, state: str, event: str) -> bool:
        ev = self.machine.events.get(event)
        return ev is not None and state in ev.transitions

    def fire(self, case: IntakeCase, event: str, value: str | None = None) -> bool:
        """Apply one event; False (and no change) when it does not fit the current state."""
        case.begin_event()
        if not self.accepts(case.state, event):
            return False
        if event == "answer" and value not in self.answer_values(case):
            return False
        return bool(self.machine.events[event].trigger(case, value=value))

    def answer_values(self, case: IntakeCase) -> tuple[str, ...]:
        """What an answer may be here: an age band at the age question, else ja / nee / weet ik niet."""
        q = self.current_question(case)
        if q is not None and q.phase == AGE_PHASE:
            return tuple(self.lens.age_bands)
        return ANSWER_VALUES

    def can_go_back(self, case: IntakeCase) -> bool:
        """Whether "back" leads anywhere from here (not from the first question of a quick scan)."""
        return self._back_phase(case) is not None

    def script(self, case: IntakeCase) -> Sequence[int]:
        return self.lens.full_script if case.script is None else case.script

    def current_question(self, case: IntakeCase) -> Question | None:
        if case.state in self.phases and case.trail:
            return self.lens.all_questions[case.trail[-1]]
        return None

    def deepen_options(self, case: IntakeCase) -> list[str]:
        """Leefgebieden with a quick "ja" that still have unanswered questions."""
        lens = self.lens
        hot = {lens.indicator_leefgebied[lens.signal_indicator[i]] for i, v in case.answers.items()
               if v == "yes" and i in lens.signals}
        return [lg for lg in self.leefgebieden if lg in hot and self._unanswered(case, lg)]

    # -- where things go -------------------------------------------------------------------
    def _phase_of(self, case: IntakeCase, index: int | None) -> str:
        return END_STATE[case.mode] if index is None else self.lens.all_questions[index].phase

    def _position(self, case: IntakeCase) -> int:
        script = self.script(case)
        return script.index(case.trail[-1]) if case.trail and case.trail[-1] in script else -1

    def _next_index(self, case: IntakeCase) -> int | None:
        script, pos = self.script(case), self._position(case)
        return script[pos + 1] if pos + 1 < len(script) else None

    def _next_phase(self, case: IntakeCase) -> str:
        return self._phase_of(case, self._next_index(case))

    def _first_phase(self, case: IntakeCase) -> str:
        script = self.script(case)
        return self._phase_of(case, script[0] if script else None)

    def _current_phase(self, case: IntakeCase) -> str | None:
        return self.lens.all_questions[case.trail[-1]].phase if case.trail else None

    def _phase_after_skip(self, case: IntakeCase) -> str:
        script, pos = self.script(case), self._position(case)
        rest = [i for i in script[pos + 1:] if self.lens.all_questions[i].phase != case.state]
        return self._phase_of(case, rest[0] if rest else None)

    def _back_phase(self, case: IntakeCase) -> str | None:
        """Where "back" leads when it leaves the phase: the previous question shown, or the intro."""
        if len(case.trail) >= 2:
            return self.lens.all_questions[case.trail[-2]].phase
        # A quick scan, and a quick scan continued into the full intake, have no intro to return to.
        return INTRO if case.mode == Mode.TRAINING or (case.mode == Mode.FULL and case.script is None) else None

    def _unanswered(self, case: IntakeCase, phase: str) -> list[int]:
        return [i for i in self.lens.full_script
                if self.lens.all_questions[i].phase == phase and self.lens.all_questions[i].item_id not in case.answers]

    def _full_first_phase(self, case: IntakeCase) -> str:
        rest = [i for i in self.lens.full_script if self.lens.all_questions[i].item_id not in case.answers]
        return self.lens.all_questions[rest[0]].phase if rest else NOTE

    # -- conditions ------------------------------------------------------------------------
    def _last_in_phase(self, ev: EventData) -> bool:
        return self._next_phase(ev.model) != ev.model.state

    def _back_stays(self, ev: EventData) -> bool:
        trail = ev.model.trail
        return len(trail) >= 2 and self.lens.all_questions[trail[-2]].phase == ev.model.state

    def _deepen_to(self, lg: str) -> Callable[[EventData], bool]:
        """Only what the quick result offers: a leefgebied with a "ja" and questions left."""
        return lambda ev: ev.kwargs.get("value") == lg and lg in self.deepen_options(ev.model)

    def _note_fits(self, ev: EventData) -> bool:
        text = (ev.kwargs.get("value") or "").strip()
        return 0 < len(text) <= NOTE_MAX_CHARS

    # -- callbacks -------------------------------------------------------------------------
    def _record(self, ev: EventData) -> None:
        case: IntakeCase = ev.model
        q = self.current_question(case)
        assert q is not None
        value = ev.kwargs["value"]
        if case.answers.get(q.item_id) != value:
            case.answers[q.item_id] = value
            case.changes[q.item_id] = value
        if q.item_id in self.lens.alarms and value == "yes":
            case.effects.append(("red_flag", q.item_id))

    def _next_question(self, ev: EventData) -> None:
        nxt = self._next_index(ev.model)
        assert nxt is not None
        ev.model.trail.append(nxt)

    def _leave_phase(self, ev: EventData) -> None:
        case: IntakeCase = ev.model
        if case.mode == Mode.FULL and case.state in self.leefgebieden:
            case.effects.append(("skipped" if case.state in case.skipped else "interim", case.state))

    def _mark_skipped(self, ev: EventData) -> None:
        if ev.model.state not in ev.model.skipped:
            ev.model.skipped.append(ev.model.state)

    def _enter_forward(self, ev: EventData) -> None:
        """Show the first question of the new phase, or what the end of the script shows."""
        case: IntakeCase = ev.model
        if case.state in self.phases:
            script = self.script(case)
            start = self._position(case) + 1
            case.trail.append(next(i for i in script[start:] if self.lens.all_questions[i].phase == case.state))
        elif case.state == NOTE:
            case.effects.append(("summary", ""))
        elif case.state == QUICK_RESULT:
            case.effects.append(("quick_result", ""))
        elif case.state == DONE:
            if case.mode == Mode.TRAINING:
                case.effects.append(("feedback", ""))
            case.effects.append(("done", ""))

    def _pop(self, ev: EventData) -> None:
        ev.model.trail.pop()
        self._reenter(ev)

    def _reenter(self, ev: EventData) -> None:
        """Going back into a skipped leefgebied un-skips it: its questions are asked again."""
        case: IntakeCase = ev.model
        phase = self._current_phase(case)
        if phase in case.skipped:
            case.skipped.remove(phase)

    def _start_full(self, ev: EventData) -> None:
        """Continue a quick scan as a full intake that asks nothing twice."""
        case: IntakeCase = ev.model
        case.mode = Mode.FULL
        case.script = [i for i in self.lens.full_script if self.lens.all_questions[i].item_id not in case.answers]
        case.trail, case.skipped = [], []
        case.effects.append(("continued", ""))

    def _deepen(self, ev: EventData) -> None:
        case: IntakeCase = ev.model
        case.script = [*self.script(case)[: self._position(case) + 1], *self._unanswered(case, ev.kwargs["value"])]

    def _finish(self, ev: EventData) -> None:
        ev.model.effects.append(("done", ""))

    def _store_note(self, ev: EventData) -> None:
        ev.model.note = ev.kwargs["value"].strip()

    # -- documentation ---------------------------------------------------------------------
    def mermaid(self) -> str:
        """The machine as a Mermaid state diagram, generated from the same definition."""
        from transitions.extensions import GraphMachine

        class _Model:
            pass

        model = _Model()
        GraphMachine(
            model=model, states=self.states, transitions=self._transitions(), initial=INTRO,
            auto_transitions=False, send_event=True, graph_engine="mermaid", title="lensbot dialogs",
            show_conditions=False,
        )
        return model.get_graph().draw(None)  # type: ignore[attr-defined]
