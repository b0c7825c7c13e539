"""The channel registry: which channels are up, for the scheduled warps."""

from __future__ import annotations

import logging

from django.db import transaction

from project.tenancy.models import Tenant
from transport.models import (
    Channel,
)

logger = logging.getLogger(__name__)


def channel_register(*, tenant: Tenant, world_id: int, channel_id: int) -> None:
    with transaction.atomic():
        Channel.objects.get_or_create(tenant=tenant, world_id=world_id, channel_id=channel_id)


def channel_unregister(*, tenant: Tenant, world_id: int, channel_id: int) -> None:
    with transaction.atomic():
        Channel.objects.filter(tenant=tenant, world_id=world_id, channel_id=channel_id).delete()
