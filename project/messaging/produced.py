"""What an app publishes, declared in its ``messages.py`` as ``PRODUCED_MESSAGES``.

The consumed side is in the registry (each handler's schema); the produced side is
built by functions returning dicts, so its shapes are declared here, as
``GoSchema`` classes listing the fields in the order the builders write them. The
AsyncAPI document (``project.messaging.asyncapi``) is generated from both, and a
test builds a record with each builder and checks it against its declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from project.messaging.schemas import GoSchema, Object

KEY_U32 = "upstream's CreateKey: the id as uint32 little-endian, then four zero bytes"
KEY_TEXT = "the UUID's text, ASCII"


@dataclass(frozen=True)
class Produced:
    """One produced topic: how its records are keyed, and its messages by ``type``."""

    token: str
    key: str
    messages: dict[str, type[GoSchema]]


def with_body(
    envelope: type[GoSchema], body: type[GoSchema], *, suffix: str, **after: Any
) -> type[GoSchema]:
    """``envelope`` with this ``body``, named ``<Body><suffix>``: the declaration of one
    type of a topic whose types differ only in their body. ``after``: fields written
    after the body (parties' ``transactionId``)."""
    return type(f"{body.__name__}{suffix}", (envelope,), {"body": Object(body), **after})
