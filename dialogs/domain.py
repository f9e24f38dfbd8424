"""The words of the domain every layer shares: kinds of case (modes), roles, case codes.

They live here, in dialogs/, because they are rules about the conversation and about who may
do what; storage/ stores their values as plain strings (a StrEnum compares and hashes like its
value, so "full" read from the database equals `Mode.FULL`).
"""

from __future__ import annotations

from enum import StrEnum

from storage.repo import CODE_ALPHABET  # the alphabet lives with the code generator; named here for channels


class Mode(StrEnum):
    """A kind of case: the full intake, the two-minute quick scan, or practice on a vignette."""

    FULL = "full"
    QUICK = "quick"
    TRAINING = "training"


REAL_MODES: tuple[Mode, ...] = (Mode.FULL, Mode.QUICK)   # real cases: listed, reported, counted
TRAINING_MODES: tuple[Mode, ...] = (Mode.TRAINING,)


class Role(StrEnum):
    """What someone may do with lensbot (see dialogs/access.py for the actions of each role)."""

    ADMIN = "admin"
    PROFESSIONAL = "professional"
    TRAINEE = "trainee"
    TRAINER = "trainer"           # follows the practice of the trainees they invited (issue 14)
    CONTRIBUTOR = "contributor"   # a colleague asked to add to one case: only the requests they claimed


ROLES: tuple[str, ...] = tuple(Role)


class Action(StrEnum):
    """What a command or a tap needs a role to allow (dialogs/access.py maps roles to actions)."""

    USE = "use"             # anything with one's own account: resume, language, reminders, pause
    INTAKE = "intake"       # start real cases
    CASES = "cases"         # see, report, export and delete real cases
    TRAINING = "training"   # practise on vignettes
    INVITE = "invite"       # invitations and the local picture: admins
    CONTRIBUTE = "contribute"   # answer a share request one claimed (dialogs/app/sharing.py)
    TRAINEES = "trainees"   # invite trainees and see their practice (never their real cases): trainers

__all__ = ["CODE_ALPHABET", "REAL_MODES", "ROLES", "TRAINING_MODES", "Action", "Mode", "Role"]
