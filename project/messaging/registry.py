"""Subscriptions: which app consumes which topic, which types it acts on, and how.

An app declares, in its ``handlers.py``::

    consumer = registry.consumer("invites", group="Invitation Service",
                                 produces=[messages.EVENT_TOPIC_INVITE_STATUS])

    @consumer.command(messages.COMMAND_TOPIC_INVITE, "CREATE", messages.CreateCommandSchema)
    def on_create(message: registry.Message) -> None:
        services.invite_create(tenant=message.tenant, ...)

On a *command* topic an unknown ``type`` is bad input (a dead letter); on an
*event* topic it is a type meant for other consumers and is skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from django.conf import settings

from project.messaging import wire
from project.messaging.schemas import GoSchema
from project.tenancy.models import Tenant

Kind = Literal["command", "event"]


@dataclass(frozen=True, slots=True)
class Message:
    """What a handler receives: the decoded value and its context."""

    tenant: Tenant
    data: dict
    key: bytes | None
    inbox_id: int
    environment: str
    trace: wire.TraceParent | None


HandlerFunc = Callable[[Message], None]


@dataclass(frozen=True)
class Handler:
    type: str
    schema: type[GoSchema]
    func: HandlerFunc

    @functools.cached_property
    def loader(self) -> GoSchema:
        """One schema instance per handler: building one per message is costly."""
        return self.schema()


@dataclass(slots=True)
class Subscription:
    app: str
    token: str
    kind: Kind
    start: Literal["earliest", "latest"] = "earliest"
    handlers: dict[str, Handler] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return wire.topic_name(self.token)


@dataclass(slots=True)
class Consumer:
    """One app's consumer group and its subscriptions."""

    app: str
    default_group: str
    produces: list[str] = field(default_factory=list)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)

    @property
    def group(self) -> str:
        """Upstream's group id unless ``KAFKA_CONSUMER_GROUP`` overrides it."""
        return settings.KAFKA_CONSUMER_GROUP or self.default_group

    def command(self, token: str, type_: str, schema: type[GoSchema]) -> Callable:
        return self._register(token, "command", type_, schema)

    def event(self, token: str, type_: str, schema: type[GoSchema]) -> Callable:
        return self._register(token, "event", type_, schema)

    def _register(self, token: str, kind: Kind, type_: str, schema: type[GoSchema]) -> Callable:
        subscription = self.subscriptions.setdefault(token, Subscription(self.app, token, kind))
        if subscription.kind != kind:
            raise ValueError(f"{token} is registered both as command and event topic")

        def decorate(func: HandlerFunc) -> HandlerFunc:
            if type_ in subscription.handlers:
                raise ValueError(f"{self.app}: {token} {type_} already has a handler")
            subscription.handlers[type_] = Handler(type_, schema, func)
            return func

        return decorate

    def subscription_for_topic(self, topic: str) -> Subscription | None:
        for subscription in self.subscriptions.values():
            if subscription.topic == topic:
                return subscription
        return None


_consumers: dict[str, Consumer] = {}


def consumer(app: str, *, group: str, produces: list[str] | tuple[str, ...] = ()) -> Consumer:
    if app in _consumers:
        raise ValueError(f"app {app!r} already declared its consumer")
    _consumers[app] = Consumer(app, group, list(produces))
    return _consumers[app]


def consumers() -> dict[str, Consumer]:
    return dict(_consumers)


def get(app: str) -> Consumer:
    try:
        return _consumers[app]
    except KeyError:
        raise KeyError(f"no consumer registered for app {app!r}") from None


def produced_topics() -> set[str]:
    return {wire.topic_name(token) for c in _consumers.values() for token in c.produces}
