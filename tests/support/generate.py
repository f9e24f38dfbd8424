"""Generate realistic completed cases through the real service (for stats, purge and benchmarks)."""

from __future__ import annotations

import random

from dialogs.render import option_event
from dialogs.service import IntakeService
from storage.repo import UserRow


def run_case(service: IntakeService, user: UserRow, rng: random.Random, mode: str = "full",
             p_yes: float = 0.08, p_unknown: float = 0.2) -> str:
    """Drive one case to its end with random answers; returns the case code."""
    reply = service.start(user, "nl", mode=mode)
    code = reply.case_code
    while reply.prompt is not None:
        ids = [o.id for o in reply.prompt.options]
        if "yes" in ids:
            r = rng.random()
            option = "yes" if r < p_yes else "unknown" if r < p_yes + p_unknown else "no"
        elif "finish" in ids:
            option = "finish"
        elif "no_note" in ids:
            option = "no_note"
        else:
            option = ids[0]
        event, value = option_event(option)
        reply = service.handle(user, code, event, value, step=reply.step)
        assert not reply.refused, reply.toast
    return code
