"""Records of both sides for the comparer: a held outbox row of ours, one of upstream's."""

from __future__ import annotations

import datetime as dt
import itertools
import json

from django.db import transaction
from django.utils import timezone

from project.messaging import bus, wire
from project.messaging.models import OutboxMessage, store_headers
from project.shadow import compare
from project.shadow.models import UpstreamMessage
from project.tenancy.models import Tenant

_offsets = itertools.count()


def held(
    tenant: Tenant, app: str, topic: str, key: bytes, value: dict, *, cause: int | None = None
) -> OutboxMessage:
    """A record ``app`` writes (held while the service is in shadow mode)."""
    with transaction.atomic(), bus.caused_by(bus.Cause("", None, cause, app)):
        return bus.emit(tenant=tenant, topic=topic, key=key, value=value)


def upstream(
    tenant: Tenant,
    service: str,
    topic: str,
    key: bytes,
    value: dict,
    *,
    at: dt.datetime | None = None,
) -> UpstreamMessage:
    """A record the Go service published on ``topic`` (a token), as the comparer stores it."""
    return UpstreamMessage.objects.create(
        service=service,
        topic=wire.topic_name(topic),
        partition=0,
        offset=next(_offsets),
        timestamp=at or timezone.now(),
        key=key,
        value=json.dumps(value).encode(),
        headers=store_headers(tenant.key.kafka_headers()),
        message_type=value.get("type", ""),
        tenant=str(tenant.key.id),
        transaction_id=compare.transaction_id(value),
    )


def later(seconds: float = 11) -> dt.datetime:
    """A moment ``seconds`` from now (past the default 10 s window)."""
    return timezone.now() + dt.timedelta(seconds=seconds)
