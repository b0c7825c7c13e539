"""The invite operations: every write to invites happens here.

Each service takes a tenant and plain values, runs in one ``transaction.atomic()``
(a savepoint when the inbox task already opened the transaction), locks the rows
it deletes and buffers its events with ``bus.emit`` in the same transaction, so an
event leaves only for a change that was committed.

Deletion is always of exactly the matched row, by primary key, and an event is
emitted only when this call's ``DELETE`` removed that row. Whatever the
interleaving of ACCEPT, REJECT, character deletion and expiry sweeps, an invite
ends with exactly one ACCEPTED or REJECTED.

A command that cannot apply (a CREATE failing upstream's checks, an ACCEPT or
REJECT of no invite) is a ``DomainError`` with no events: upstream answers
nothing. The services are ``errors.answered``: logged, and the call returns ``None``.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from invites import messages, selectors
from invites.models import Invite
from project.messaging import bus, errors
from project.messaging.errors import DomainError
from project.tenancy import sequences
from project.tenancy.models import Tenant

logger = logging.getLogger(__name__)

SEQUENCE = "invite"
# Invites rejected per expiry transaction; the task re-queues itself after a full batch.
EXPIRY_BATCH_SIZE = 500


@errors.answered
def invite_create(
    *,
    tenant: Tenant,
    transaction_id: uuid.UUID,
    world_id: int,
    invite_type: str,
    originator_id: int,
    target_id: int,
    reference_id: int,
) -> Invite | None:
    """Create the invite of (target, type, reference), or answer for the existing one.

    A duplicate changes nothing (originator, world and age stay as stored, no id
    is used) and still emits CREATED naming the stored originator, as upstream
    does. The duplicate check comes before validation, also as upstream.
    A new invite that fails validation is logged and dropped: no state, no event,
    no id. Returns the new or existing invite, or ``None``.
    """
    with transaction.atomic():
        invite = _locked_by_reference(tenant, target_id, invite_type, reference_id)
        if invite is None:
            problem = _creation_problem(
                invite_type=invite_type, originator_id=originator_id, target_id=target_id
            )
            if problem:
                raise DomainError(
                    f"invite CREATE dropped in {tenant} (transaction {transaction_id}): {problem}"
                )
            invite = _insert_or_get_existing(
                tenant=tenant,
                world_id=world_id,
                invite_type=invite_type,
                originator_id=originator_id,
                target_id=target_id,
                reference_id=reference_id,
            )
        _emit_status(
            tenant=tenant,
            event_type=messages.EVENT_CREATED,
            invite=invite,
            transaction_id=transaction_id,
            world_id=world_id,
            invite_type=invite_type,
        )
    return invite


@errors.answered
def invite_accept(
    *,
    tenant: Tenant,
    transaction_id: uuid.UUID,
    world_id: int,
    invite_type: str,
    target_id: int,
    reference_id: int,
) -> Invite | None:
    """The target accepts the invite of (type, reference): delete it, emit ACCEPTED.

    The event echoes the command's transaction id and world id; originator,
    target and reference are the stored ones. No invite → nothing.
    """
    matches = selectors.invites_by_reference(
        tenant=tenant, target_id=target_id, invite_type=invite_type, reference_id=reference_id
    )
    return _answer(
        tenant,
        matches,
        messages.EVENT_ACCEPTED,
        transaction_id=transaction_id,
        world_id=world_id,
        invite_type=invite_type,
        missing=f"invite ACCEPT in {tenant}: no {invite_type} invite for target {target_id},"
        f" reference {reference_id}",
    )


@errors.answered
def invite_reject(
    *,
    tenant: Tenant,
    transaction_id: uuid.UUID,
    world_id: int,
    invite_type: str,
    target_id: int,
    originator_id: int,
) -> Invite | None:
    """The target declines the invite of this type from ``originator_id``; emit REJECTED.

    REJECT names no reference, so several invites can match (different
    references); upstream picks whichever its index yields, this picks the
    oldest, the lowest invite id. No invite → nothing.
    """
    matches = selectors.invites_by_originator(
        tenant=tenant, target_id=target_id, invite_type=invite_type, originator_id=originator_id
    )
    return _answer(
        tenant,
        matches,
        messages.EVENT_REJECTED,
        transaction_id=transaction_id,
        world_id=world_id,
        invite_type=invite_type,
        missing=f"invite REJECT in {tenant}: no {invite_type} invite from {originator_id}"
        f" to {target_id}",
    )


def _answer(
    tenant: Tenant,
    matches: QuerySet[Invite],
    event_type: str,
    *,
    transaction_id: uuid.UUID,
    world_id: int,
    invite_type: str,
    missing: str,
) -> Invite:
    """ACCEPT and REJECT: delete the first invite of ``matches`` (locked) and emit
    ``event_type`` for it; ``missing`` is the refusal when there is none to delete."""
    with transaction.atomic():
        invite = matches.select_for_update().first()
        if invite is None or not _delete(invite):
            raise DomainError(missing)
        _emit_status(
            tenant=tenant,
            event_type=event_type,
            invite=invite,
            transaction_id=transaction_id,
            world_id=world_id,
            invite_type=invite_type,
        )
    return invite


def invites_delete_for_character(*, tenant: Tenant, character_id: int) -> list[Invite]:
    """A deleted character's invites, received and sent, are rejected.

    Received invites first, then sent ones, each by id; a self-invite once. Each
    REJECTED carries a fresh random transaction id and the stored world id.
    Returns the removed invites in event order.
    """
    with transaction.atomic():
        # One locking query in primary-key order, like every other multi-row
        # locker, so two characters deleted at once cannot deadlock on the
        # invites they sent each other.
        involved = list(
            selectors.invites_involving(tenant=tenant, character_id=character_id)
            .order_by("pk")
            .select_for_update()
        )
        received = sorted(
            (invite for invite in involved if invite.target_id == character_id),
            key=lambda invite: invite.invite_id,
        )
        sent = sorted(
            (invite for invite in involved if invite.target_id != character_id),
            key=lambda invite: invite.invite_id,
        )
        removed = [invite for invite in [*received, *sent] if _delete(invite)]
        for invite in removed:
            _emit_rejected_by_system(invite, tenant=tenant)
    if removed:
        logger.info(
            "character %s deleted in %s: rejected %d invites", character_id, tenant, len(removed)
        )
    return removed


@dataclass(frozen=True, slots=True)
class ExpiryResult:
    claimed: int
    rejected: int
    batch_size: int

    @property
    def more(self) -> bool:
        """A full batch was claimed, so more expired invites may be waiting."""
        return self.claimed >= self.batch_size


def invites_expire(
    *,
    tenant: Tenant | None = None,
    now: dt.datetime | None = None,
    batch_size: int = EXPIRY_BATCH_SIZE,
) -> ExpiryResult:
    """Reject one batch of invites older than ``INVITE_TIMEOUT_SECONDS``.

    Expired means ``now - age > timeout``, strictly. Oldest first, across all
    tenants unless ``tenant`` is given; each REJECTED carries a fresh random
    transaction id, the stored world id and the invite's tenant. Overlapping
    sweeps skip each other's rows (``SKIP LOCKED``; on SQLite writers are
    serialised anyway), and a row deleted meanwhile by ACCEPT/REJECT is skipped,
    so no invite is answered twice. Callers loop while ``result.more``.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.INVITE_TIMEOUT_SECONDS)
    with transaction.atomic():
        batch = list(
            selectors.invites_created_before(cutoff=cutoff, tenant=tenant)
            .select_related("tenant")
            .select_for_update(skip_locked=True, of=("self",))[:batch_size]
        )
        rejected = [invite for invite in batch if _delete(invite)]
        for invite in rejected:
            _emit_rejected_by_system(invite, tenant=invite.tenant)
    if rejected:
        logger.info("invite expiry: rejected %d invites older than %s", len(rejected), cutoff)
    return ExpiryResult(claimed=len(batch), rejected=len(rejected), batch_size=batch_size)


# --- helpers ----------------------------------------------------------------------


def _creation_problem(*, invite_type: str, originator_id: int, target_id: int) -> str:
    """Upstream's builder checks; the tenant is already known to be valid."""
    if not invite_type:
        return "inviteType is empty"
    if originator_id == 0:
        return "originatorId is 0"
    if target_id == 0:
        return "targetId is 0"
    return ""


def _insert_or_get_existing(
    *,
    tenant: Tenant,
    world_id: int,
    invite_type: str,
    originator_id: int,
    target_id: int,
    reference_id: int,
) -> Invite:
    """Insert a new invite; if a concurrent CREATE of the same key won, return its invite.

    The insert runs in a savepoint so the unique-constraint violation, and the id
    taken for it, roll back without spoiling the caller's transaction. On
    PostgreSQL the losing insert waits for the winner to commit and then fails;
    the lookup that follows sees the winner's row.
    """
    try:
        with transaction.atomic():
            return Invite.objects.create(
                tenant=tenant,
                invite_id=sequences.next_id(tenant=tenant, name=SEQUENCE),
                invite_type=invite_type,
                reference_id=reference_id,
                originator_id=originator_id,
                target_id=target_id,
                world_id=world_id,
                created_at=timezone.now(),
            )
    except IntegrityError:
        existing = _locked_by_reference(tenant, target_id, invite_type, reference_id)
        if existing is None:
            raise
        return existing


def _locked_by_reference(
    tenant: Tenant, target_id: int, invite_type: str, reference_id: int
) -> Invite | None:
    """The invite of (target, type, reference), locked: at most one (a unique key)."""
    return (
        selectors.invites_by_reference(
            tenant=tenant, target_id=target_id, invite_type=invite_type, reference_id=reference_id
        )
        .select_for_update()
        .first()
    )


def _delete(invite: Invite) -> bool:
    """Delete exactly this invite; ``True`` only if this call removed the row."""
    deleted, _ = Invite.objects.filter(pk=invite.pk).delete()
    return deleted == 1


def _emit_rejected_by_system(invite: Invite, *, tenant: Tenant) -> None:
    """REJECTED for character deletion and expiry: new transaction id, stored values."""
    _emit_status(
        tenant=tenant,
        event_type=messages.EVENT_REJECTED,
        invite=invite,
        transaction_id=uuid.uuid4(),
        world_id=invite.world_id,
        invite_type=invite.invite_type,
    )


def _emit_status(
    *,
    tenant: Tenant,
    event_type: str,
    invite: Invite,
    transaction_id: uuid.UUID,
    world_id: int,
    invite_type: str,
) -> None:
    """A status event: the command's (or a fresh) transaction id, world and type;
    reference, originator and target as stored."""
    bus.emit(
        tenant=tenant,
        topic=messages.EVENT_TOPIC_INVITE_STATUS,
        key=messages.status_key(invite.reference_id),
        value=messages.status_event(
            event_type=event_type,
            transaction_id=transaction_id,
            world_id=world_id,
            invite_type=invite_type,
            reference_id=invite.reference_id,
            originator_id=invite.originator_id,
            target_id=invite.target_id,
        ),
    )
