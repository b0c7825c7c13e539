"""Reads of invites, for the services, the admin and (later) REST.

Each returns a lazy queryset scoped by tenant, so a service can add
``select_for_update()`` and the admin can page it.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from invites.models import Invite
from project.tenancy.models import Tenant


def invites_by_reference(
    *, tenant: Tenant, target_id: int, invite_type: str, reference_id: int
) -> QuerySet[Invite]:
    """The invite of one (target, type, reference): at most one row (a unique key)."""
    return Invite.objects.filter(
        tenant=tenant, target_id=target_id, invite_type=invite_type, reference_id=reference_id
    )


def invites_by_originator(
    *, tenant: Tenant, target_id: int, invite_type: str, originator_id: int
) -> QuerySet[Invite]:
    """Invites of one type from one originator to one target, oldest (lowest id) first.

    Several can exist when they name different references.
    """
    return Invite.objects.filter(
        tenant=tenant, target_id=target_id, invite_type=invite_type, originator_id=originator_id
    ).order_by("invite_id")


def invites_received(*, tenant: Tenant, target_id: int) -> QuerySet[Invite]:
    """Invites a character received, by id: the REST listing."""
    return Invite.objects.filter(tenant=tenant, target_id=target_id).order_by("invite_id")


def invites_sent(*, tenant: Tenant, originator_id: int) -> QuerySet[Invite]:
    """Invites a character sent, by id."""
    return Invite.objects.filter(tenant=tenant, originator_id=originator_id).order_by("invite_id")


def invites_involving(*, tenant: Tenant, character_id: int) -> QuerySet[Invite]:
    """Invites a character received or sent (a self-invite once): character deletion."""
    return Invite.objects.filter(
        Q(target_id=character_id) | Q(originator_id=character_id), tenant=tenant
    )


def invites_created_before(
    *, cutoff: dt.datetime, tenant: Tenant | None = None
) -> QuerySet[Invite]:
    """Invites older than ``cutoff``, oldest first, across tenants unless one is given."""
    queryset = Invite.objects.filter(created_at__lt=cutoff)
    if tenant is not None:
        queryset = queryset.filter(tenant=tenant)
    return queryset.order_by("created_at", "id")
