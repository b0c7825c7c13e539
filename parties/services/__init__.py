"""The party operations: every write to parties and the character cache happens here.

Each service takes a tenant and plain values, runs in one ``transaction.atomic()``
(a savepoint inside the inbox task's transaction) and buffers its records with
``bus.emit`` in that transaction. Lookups of the
character service happened before, in ``parties.lookups``: a service gets their
answers as ``looked_up`` (``lookups.LookedUp``: the characters the cache lacked,
each with its facts or ``None`` when the lookup failed, and for LOGIN and
GM_CHANGED the character service's current answer).

Concurrency: a writer locks the ``Party`` row before changing who is in it
and changes a character's party only by compare-and-set (``membership.claim``/``release``),
so capacity holds, a character is in at most one party, and a JOIN racing a
DISBAND finds the party gone. Lock order is always party, then characters. A
lost compare-and-set raises ``events.LostRace`` carrying the error event the
player would have got had the race gone the other way.

A refusal raises a ``DomainError`` carrying its ERROR event (``events.refusal``);
the command services are ``errors.answered``: the service's block rolls back, the
event is emitted and the call returns ``None`` or ``False``. The looked-up
characters are cached before that block (``membership.acting`` opens it), so they stay.
The operator actions call the raising forms: the admin shows the reason.
"""

from parties.services.characters import (
    character_channel_changed,
    character_deleted,
    character_gm_changed,
    character_job_changed,
    character_level_changed,
    character_login,
    character_logout,
    character_map_changed,
    character_name_changed,
)
from parties.services.parties import (
    CAPACITY,
    is_beginner,
    party_change_leader,
    party_create,
    party_disband,
    party_expel,
    party_expel_by_operator,
    party_invite_accepted,
    party_join,
    party_leave,
    party_leave_command,
    party_request_invite,
)

__all__ = [
    "CAPACITY",
    "character_channel_changed",
    "character_deleted",
    "character_gm_changed",
    "character_job_changed",
    "character_level_changed",
    "character_login",
    "character_logout",
    "character_map_changed",
    "character_name_changed",
    "is_beginner",
    "party_change_leader",
    "party_create",
    "party_disband",
    "party_expel",
    "party_expel_by_operator",
    "party_invite_accepted",
    "party_join",
    "party_leave",
    "party_leave_command",
    "party_request_invite",
]
