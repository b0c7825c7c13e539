"""The AsyncAPI 3.0 document of the Kafka side, generated from the registry.

Consumed: every app's subscriptions (``registry``): topic, consumer group, and per
message ``type`` the ``GoSchema`` that decodes it (as read: Go's rules, any field
may be absent or null). Produced: every topic an app declares in ``produces``, with
the messages its ``messages.PRODUCED_MESSAGES`` declares (as written: every field,
in order). A topic is one channel, named by its token: the environment variable
that names the topic (upstream's convention), whose default is the token itself.

``manage.py asyncapi`` writes it (docs/asyncapi.yaml: every service); a test
regenerates it and compares.
"""

from __future__ import annotations

import importlib
from typing import Any

from project.messaging import jsonschema, registry
from project.messaging.produced import Produced

HEADERS = {
    "type": "object",
    "properties": {
        "TENANT_ID": {"type": "string", "format": "uuid", "description": "the tenant"},
        "REGION": {"type": "string", "description": "UTF-8, e.g. GMS"},
        "MAJOR_VERSION": {"type": "string", "description": "2 bytes, big-endian uint16"},
        "MINOR_VERSION": {"type": "string", "description": "2 bytes, big-endian uint16"},
        "traceparent": {
            "type": "string",
            "description": "W3C trace context; a child span of the cause's, when there is one",
        },
        "ENVIRONMENT": {"type": "string", "description": "carried from the cause when not empty"},
    },
    "required": ["TENANT_ID", "REGION", "MAJOR_VERSION", "MINOR_VERSION"],
}

DESCRIPTION = """\
The Kafka records the invites, parties, messengers, notes and transport services \
consume and publish, in upstream's wire format: JSON values (Go's encoding), \
tenant headers, keys as upstream makes them.

Each channel is a topic named by the environment variable of the channel's name \
(the default topic name is that name). A consumed command of an unknown `type` is \
a dead letter; an event type an app does not list is skipped. Consumed payloads \
are read with Go's rules: members match case-insensitively, absent or null is the \
zero value, unknown members are ignored, integers must be integer literals in range.
"""


def build(apps: list[str]) -> dict[str, Any]:
    """The document of the consumers of ``apps`` (labels, in this order)."""
    channels: dict[str, dict[str, Any]] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}

    def channel(token: str) -> dict[str, Any]:
        if token not in channels:
            channels[token] = {
                "address": token,
                "description": f"the topic named by ${token} (default: {token})",
                "messages": {},
            }
        return channels[token]

    for app in apps:
        consumer = registry.get(app)
        for subscription in consumer.subscriptions.values():
            refs = []
            for type_, handler in subscription.handlers.items():
                name = f"{app}.{subscription.token}.{type_}"
                messages[name] = _message(type_, handler.schema, writing=False)
                channel(subscription.token)["messages"][name] = _ref("components/messages", name)
                refs.append(_ref(f"channels/{subscription.token}/messages", name))
            operations[f"{app}.receive.{subscription.token}"] = {
                "action": "receive",
                "channel": _ref("channels", subscription.token),
                "summary": f"{app} ({subscription.kind} topic, from {subscription.start})",
                "messages": refs,
                "bindings": {
                    "kafka": {"groupId": {"type": "string", "enum": [consumer.default_group]}}
                },
            }
        declared = {p.token: p for p in produced_messages(app)}
        # What the registry says the app produces, then what only its REST views do.
        for token in [*consumer.produces, *(t for t in declared if t not in consumer.produces)]:
            channel(token)
            refs = []
            produced: Produced | None = declared.get(token)
            for type_, schema in (produced.messages if produced else {}).items():
                name = f"{app}.{token}.{type_}"
                messages[name] = _message(type_, schema, writing=True, key=produced.key)
                channel(token)["messages"][name] = _ref("components/messages", name)
                refs.append(_ref(f"channels/{token}/messages", name))
            operations[f"{app}.send.{token}"] = {
                "action": "send",
                "channel": _ref("channels", token),
                "summary": app if produced else f"{app} (messages not declared yet)",
                "messages": refs,
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "atlas-social Kafka records",
            "version": "1.0",
            "description": DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "channels": dict(sorted(channels.items())),
        "operations": operations,
        "components": {"messages": messages},
    }


def produced_messages(app: str) -> list[Produced]:
    """The app's ``messages.PRODUCED_MESSAGES`` (none declared: an empty list)."""
    try:
        module = importlib.import_module(f"{app}.messages")
    except ModuleNotFoundError:
        return []
    return list(getattr(module, "PRODUCED_MESSAGES", []))


def _ref(where: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/{where}/{name}"}


def _message(type_: str, schema, *, writing: bool, key: str = "") -> dict[str, Any]:
    payload = jsonschema.schema_of(schema, writing=writing)
    if "type" in payload["properties"]:
        payload["properties"]["type"] = {"const": type_}
    message: dict[str, Any] = {
        "name": type_,
        "title": f"{type_} ({'as published' if writing else 'as read'})",
        "headers": HEADERS,
        "payload": payload,
    }
    if key:
        message["bindings"] = {"kafka": {"key": {"type": "string", "description": key}}}
    return message


def dumps(document: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
