"""Subscriptions: which app consumes which topic, which types it acts on, and how.

An app declares, in its ``handlers.py``::

    consumer = registry.consumer("invites", group="Invitation Service",
                                 produces=[messages.EVENT_TOPIC_INVITE_STATUS])

    # The usual case needs no function: the service is called with ``tenant=`` and
    # the message's fields it declares (``message.args``).
    consumer.command(messages.COMMAND_TOPIC_INVITE, "CREATE", messages.CreateCommandSchema,
                     service=services.invite_create)

    # A function when the call needs more than the message's fields.
    @consumer.event(TOPIC, "LOGIN", Schema, prepare=lookups.login_character)
    def on_login(message: registry.Message) -> None:
        services.member_login(tenant=message.tenant, character=message.prepared, ...)

``prepare`` runs before the inbox transaction, outside any database lock, and is
the one place a handler may wait on another service (HTTP lookups); its
JSON-serialisable result is stored on the inbox row and given to the handler as
``message.prepared`` (see ``inbox`` and docs/design.md, "lookups").

``on_dead(message, reason)`` returns the records that answer a message which will
never be handled (its attempts are spent, or it failed for good): the app's
failure event, e.g. notes' CREATE_FAILED. The inbox emits them in the
transaction that marks the row dead (docs/design.md, "Failure events of dead
letters"). A record that cannot even be decoded has no message to answer.

On a *command* topic an unknown ``type`` is bad input (a dead letter); on an
*event* topic it is a type meant for other consumers and is skipped.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings

from project import deployment
from project.messaging import wire
from project.messaging.errors import Record
from project.messaging.schemas import GoSchema
from project.tenancy.models import Tenant

Kind = Literal["command", "event"]
Start = Literal["earliest", "latest"]


@dataclass(frozen=True, slots=True)
class Message:
    """What a handler receives: the decoded value and its context."""

    tenant: Tenant
    data: dict
    key: bytes | None
    inbox_id: int
    environment: str
    trace: wire.TraceParent | None
    prepared: Any = None

    @property
    def args(self) -> dict[str, Any]:
        """The fields as a service takes them: envelope and body merged, snake_case,
        without ``type`` and ``body`` (``{"worldId": 1, "body": {"targetId": 7}}`` →
        ``{"world_id": 1, "target_id": 7}``)."""
        return flatten(self.data)


def snake_case(name: str) -> str:
    """``transactionId`` → ``transaction_id``; ``useTargetPosition`` → ``use_target_position``."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_ARGS = frozenset({"type", "body"})


def flatten(data: dict) -> dict[str, Any]:
    args = {snake_case(k): v for k, v in data.items() if k not in _NOT_ARGS}
    body = data.get("body")
    if isinstance(body, dict):
        for key, value in body.items():
            name = snake_case(key)
            if name in args:
                raise ValueError(f"body field {key!r} shadows an envelope field")
            args[name] = value
    return args


def schema_arg_names(schema: type[GoSchema]) -> set[str]:
    """The names ``flatten`` gives a message of ``schema``."""
    instance = schema()
    names = {snake_case(n) for n in instance.load_fields if n not in _NOT_ARGS}
    body = instance.load_fields.get("body")
    nested = getattr(body, "schema_class", None)
    if nested is not None:
        names |= {snake_case(n) for n in nested().load_fields}
    return names


HandlerFunc = Callable[[Message], None]
PrepareFunc = Callable[[Message], Any]
# What answers a message that died: its records (``errors.Record``), given the reason.
DeadFunc = Callable[[Message, str], Iterable[Record]]

# Parameters a service may declare besides the message's own fields.
_CONTEXT_PARAMETERS = frozenset({"tenant", "prepared"})


ExtraArgs = dict[str, Callable[["Message"], Any]]


def service_handler(
    service: Callable[..., Any], schema: type[GoSchema], extra: ExtraArgs | None = None
) -> HandlerFunc:
    """A handler that calls ``service`` with ``tenant=`` and the fields it declares.

    Checked once, at registration: every required keyword of the service must be a
    field of the schema (or ``tenant``/``prepared``, or a name of
    ``extra``: values computed from the message, e.g. a decoded prepare result), so a
    misspelt parameter fails at start-up, not on the first record.
    """
    extra = extra or {}
    parameters = inspect.signature(service).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        raise ValueError(f"{service.__qualname__}: declare its parameters, no **kwargs")
    available = schema_arg_names(schema) | _CONTEXT_PARAMETERS | set(extra)
    missing = [
        name
        for name, p in parameters.items()
        if p.default is inspect.Parameter.empty and name not in available
    ]
    if missing:
        raise ValueError(
            f"{service.__qualname__} needs {missing}, which {schema.__name__} does not have"
        )
    wanted = [name for name in parameters if name not in _CONTEXT_PARAMETERS and name not in extra]
    context = [name for name in parameters if name in _CONTEXT_PARAMETERS]

    def handle(message: Message) -> None:
        args = message.args
        kwargs = {name: args[name] for name in wanted if name in args}
        for name in context:
            kwargs[name] = _context_value(message, name)
        for name, compute in extra.items():
            kwargs[name] = compute(message)
        service(**kwargs)

    handle.__qualname__ = f"service_handler({service.__qualname__})"
    handle.service = service  # type: ignore[attr-defined]
    return handle


def _context_value(message: Message, name: str) -> Any:
    return message.tenant if name == "tenant" else message.prepared


@dataclass(frozen=True)
class Handler:
    type: str
    schema: type[GoSchema]
    func: HandlerFunc
    prepare: PrepareFunc | None = None
    on_dead: DeadFunc | None = None

    @functools.cached_property
    def loader(self) -> GoSchema:
        """One schema instance per handler: building one per message is costly."""
        return self.schema()


@dataclass(slots=True)
class Subscription:
    app: str
    token: str
    kind: Kind
    start: Start = "earliest"
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
        """The group the app consumes under: one ``pin_groups`` fixed (a service
        switched from its Go service keeps the group it consumed with in shadow
        mode, whatever the settings say), else ``configured_group``."""
        return _pinned.get(self.app) or self.configured_group

    @property
    def configured_group(self) -> str:
        """Upstream's group id unless the app's setting names another (see
        ``settings.KAFKA_CONSUMER_GROUPS``). A shadowed service (``ATLAS_SHADOW``)
        never takes upstream's own group, which the Go service still consumes under:
        its default is ``shadow_group`` of it."""
        named = settings.KAFKA_CONSUMER_GROUPS.get(self.app)
        if named:
            return named
        if self.app in settings.ATLAS_SHADOW:
            return shadow_group(self.upstream_group)
        return self.default_group

    @property
    def upstream_group(self) -> str:
        """The Go service's consumer group: upstream's ``KAFKA_CONSUMER_GROUP`` when a
        shadowed deployment was given it, else upstream's default name."""
        return settings.SHADOW_UPSTREAM_GROUPS.get(self.app) or self.default_group

    @property
    def topics(self) -> list[str]:
        """The topic names the group subscribes to, sorted."""
        return sorted({s.topic for s in self.subscriptions.values()})

    @property
    def starts(self) -> dict[str, str]:
        """Per topic, where a partition without a committed offset starts: each
        subscription's own policy (upstream's consumer of that topic)."""
        return {s.topic: s.start for s in self.subscriptions.values()}

    def command(
        self,
        token: str,
        type_: str,
        schema: type[GoSchema],
        *,
        service: Callable[..., Any] | None = None,
        prepare: PrepareFunc | None = None,
        extra: ExtraArgs | None = None,
        on_dead: DeadFunc | None = None,
    ) -> Callable:
        """Handle ``type_`` on command topic ``token``; with ``service``, no function needed."""
        return self._register(token, "command", type_, schema, service, prepare, extra, on_dead)

    def event(
        self,
        token: str,
        type_: str,
        schema: type[GoSchema],
        *,
        service: Callable[..., Any] | None = None,
        prepare: PrepareFunc | None = None,
        extra: ExtraArgs | None = None,
        on_dead: DeadFunc | None = None,
        start: Start | None = None,
    ) -> Callable:
        """Handle ``type_`` on event topic ``token``; with ``service``, no function needed.

        ``start="latest"``: a new group starts this topic at its end (upstream's
        policy for state that is only current, e.g. map status), not its beginning.
        """
        if start is not None:
            subscription = self._subscription(token, "event")
            if subscription.handlers and subscription.start != start:
                raise ValueError(f"{self.app}: {token} registered with two start policies")
            subscription.start = start
        return self._register(token, "event", type_, schema, service, prepare, extra, on_dead)

    def _register(
        self,
        token: str,
        kind: Kind,
        type_: str,
        schema: type[GoSchema],
        service: Callable[..., Any] | None,
        prepare: PrepareFunc | None,
        extra: ExtraArgs | None = None,
        on_dead: DeadFunc | None = None,
    ) -> Callable:
        subscription = self._subscription(token, kind)

        def decorate(func: HandlerFunc) -> HandlerFunc:
            if type_ in subscription.handlers:
                raise ValueError(f"{self.app}: {token} {type_} already has a handler")
            subscription.handlers[type_] = Handler(type_, schema, func, prepare, on_dead)
            return func

        if service is not None:
            decorate(service_handler(service, schema, extra))
        return decorate

    def _subscription(self, token: str, kind: Kind) -> Subscription:
        subscription = self.subscriptions.setdefault(token, Subscription(self.app, token, kind))
        if subscription.kind != kind:
            raise ValueError(f"{token} is registered both as command and event topic")
        return subscription

    def subscription_for_topic(self, topic: str) -> Subscription | None:
        for subscription in self.subscriptions.values():
            if subscription.topic == topic:
                return subscription
        return None


def shadow_group(upstream: str) -> str:
    """The group a shadowed service consumes under beside the Go service's ``upstream``."""
    return f"{upstream} (atlas-social shadow)"


_pinned: dict[str, str] = {}


def pin_groups(groups: dict[str, str]) -> None:
    """Fix the group of each app named, over the settings, for this process (the
    groups the database holds for switched services: ``shadow.switch.keep_groups``)."""
    _pinned.clear()
    _pinned.update(groups)


def producers_of(topic: str) -> list[str]:
    """The apps that publish to ``topic`` (a resolved name)."""
    return sorted(
        app
        for app, c in _consumers.items()
        if any(wire.topic_name(token) == topic for token in c.produces)
    )


_consumers: dict[str, Consumer] = {}


def consumer(app: str, *, group: str, produces: list[str] | tuple[str, ...] = ()) -> Consumer:
    if app in _consumers:
        raise ValueError(f"app {app!r} already declared its consumer")
    _consumers[app] = Consumer(app, group, list(produces))
    return _consumers[app]


def consumers() -> dict[str, Consumer]:
    return dict(_consumers)


def running() -> dict[str, Consumer]:
    """The consumers of this deployment: those of the services ``ATLAS_SERVICES``
    runs, and the platform's own (the local directory, extra apps)."""
    return {app: consumer for app, consumer in _consumers.items() if deployment.runs(app)}


def check_groups(apps: list[str]) -> None:
    """Refuse consumer groups that two apps would share.

    Apps read overlapping topics (all five read the character status topic); in
    one group, each record would reach only one of them. The inbox tells records
    apart by group, topic, partition and offset, so a group is one app's too.
    """
    owners: dict[str, list[str]] = {}
    for app in apps:
        owners.setdefault(get(app).group, []).append(app)
    shared = {group: names for group, names in owners.items() if len(names) > 1}
    if shared:
        said = "; ".join(f"{group!r} by {', '.join(names)}" for group, names in shared.items())
        raise ValueError(
            f"consumer groups would be shared: {said}; give each service a group of its "
            "own (KAFKA_CONSUMER_GROUP_<SERVICE>)"
        )


def get(app: str) -> Consumer:
    try:
        return _consumers[app]
    except KeyError:
        raise KeyError(f"no consumer registered for app {app!r}") from None


def produced_topics() -> set[str]:
    """The topics the running apps publish to."""
    return {wire.topic_name(token) for c in running().values() for token in c.produces}


def setting_of(topic: str) -> str | None:
    """The setting (environment variable, upstream's token) that names ``topic``."""
    tokens = {s.token for c in _consumers.values() for s in c.subscriptions.values()}
    tokens |= {token for c in _consumers.values() for token in c.produces}
    for token in sorted(tokens):
        if wire.topic_name(token) == topic:
            return token
    return None


def all_topics() -> set[str]:
    """Every topic the apps consume or produce (what upstream's pre-create step makes)."""
    consumed = {s.topic for c in _consumers.values() for s in c.subscriptions.values()}
    return consumed | {wire.topic_name(token) for c in _consumers.values() for token in c.produces}
