"""The full intake as a `transitions` state machine, built once per lens version.

States are the phases a person recognises: intro, red flags, one per leefgebied, the closing
note, done. Which question within a phase is data (the case's trail of question indices), so a
new signal in the lens needs no code and the diagram stays readable. The machine is built once
and case objects are driven through it (`Event.trigger(model)`), which costs microseconds,
instead of building a machine per update. Callbacks only change the in-memory case; storing it
is the service's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transitions import EventData, Machine

from matrix.lens import RED_FLAGS_PHASE, Lens, Question

INTRO, NOTE, DONE = "intro", "note", "done"
ANSWER_VALUES = ("yes", "no", "unknown")
NOTE_MAX_CHARS = 2000


@dataclass
class IntakeCase:
    """What the machine needs of a case; the transitions model."""

    state: str
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
        self.states = [INTRO, *self.phases, NOTE, DONE]
        self.machine = Machine(
            model=None, states=self.states, transitions=self._transitions(), initial=INTRO,
            auto_transitions=False, send_event=True, ignore_invalid_triggers=False,
        )

    # -- definition ------------------------------------------------------------------------
    def _transitions(self) -> list[dict[str, Any]]:
        chain = [INTRO, *self.phases, NOTE]
        t: list[dict[str, Any]] = [
            {"trigger": "begin", "source": INTRO, "dest": chain[1], "after": self._enter_forward},
        ]
        for i, phase in enumerate(self.phases):
            nxt, prev = chain[i + 2], chain[i]
            t += [
                {"trigger": "answer", "source": phase, "dest": None, "unless": self._last_in_phase,
                 "before": self._record, "after": self._next_question},
                {"trigger": "answer", "source": phase, "dest": nxt, "conditions": self._last_in_phase,
                 "before": [self._record, self._leave_phase], "after": self._enter_forward},
                {"trigger": "back", "source": phase, "dest": None, "conditions": self._back_stays,
                 "before": self._pop},
                {"trigger": "back", "source": phase, "dest": prev, "unless": self._back_stays,
                 "before": self._pop},
            ]
            if phase != RED_FLAGS_PHASE:
                t.append({"trigger": "skip", "source": phase, "dest": nxt,
                          "before": [self._mark_skipped, self._leave_phase], "after": self._enter_forward})
        t += [
            {"trigger": "back", "source": NOTE, "dest": chain[-2], "after": self._reenter},
            {"trigger": "note", "source": NOTE, "dest": DONE, "conditions": self._note_fits,
             "before": self._store_note, "after": self._finish},
            {"trigger": "no_note", "source": NOTE, "dest": DONE, "after": self._finish},
        ]
        return t

    # -- driving ---------------------------------------------------------------------------
    def accepts(self, state: str, event: str) -> bool:
        ev = self.machine.events.get(event)
        return ev is not None and state in ev.transitions

    def fire(self, case: IntakeCase, event: str, value: str | None = None) -> bool:
        """Apply one event; False (and no change) when it does not fit the current state."""
        case.begin_event()
        if not self.accepts(case.state, event):
            return False
        if event == "answer" and value not in ANSWER_VALUES:
            return False
        return bool(self.machine.events[event].trigger(case, value=value))

    def current_question(self, case: IntakeCase) -> Question | None:
        if case.state in self.phases and case.trail:
            return self.lens.questions[case.trail[-1]]
        return None

    # -- conditions ------------------------------------------------------------------------
    def _last_in_phase(self, ev: EventData) -> bool:
        q = self.current_question(ev.model)
        return q is None or q.number == q.phase_size

    def _back_stays(self, ev: EventData) -> bool:
        trail = ev.model.trail
        return len(trail) >= 2 and self.lens.questions[trail[-2]].phase == ev.model.state

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
        if q.phase == RED_FLAGS_PHASE and value == "yes":
            case.effects.append(("red_flag", q.item_id))

    def _next_question(self, ev: EventData) -> None:
        ev.model.trail.append(ev.model.trail[-1] + 1)

    def _leave_phase(self, ev: EventData) -> None:
        phase = ev.model.state
        if phase != RED_FLAGS_PHASE:
            ev.model.effects.append(("skipped" if phase in ev.model.skipped else "interim", phase))

    def _mark_skipped(self, ev: EventData) -> None:
        if ev.model.state not in ev.model.skipped:
            ev.model.skipped.append(ev.model.state)

    def _enter_forward(self, ev: EventData) -> None:
        case: IntakeCase = ev.model
        if case.state in self.phases:
            case.trail.append(self.lens.phase_start[case.state])
        elif case.state == NOTE:
            case.effects.append(("summary", ""))

    def _pop(self, ev: EventData) -> None:
        case: IntakeCase = ev.model
        case.trail.pop()
        self._reenter(ev)

    def _reenter(self, ev: EventData) -> None:
        """Going back into a skipped leefgebied un-skips it: its questions are asked again."""
        case: IntakeCase = ev.model
        if case.trail:
            phase = self.lens.questions[case.trail[-1]].phase
            if phase in case.skipped:
                case.skipped.remove(phase)

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
            auto_transitions=False, send_event=True, graph_engine="mermaid", title="lensbot full intake",
            show_conditions=False,
        )
        return model.get_graph().draw(None)  # type: ignore[attr-defined]
