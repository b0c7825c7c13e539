"""Path ids and request bodies, read with upstream's rules."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from marshmallow import ValidationError

from project.messaging import wire
from project.messaging.schemas import GoSchema
from project.rest.errors import BadRequest
from project.tenancy.keys import parse_go_atoi

logger = logging.getLogger(__name__)

_DECIMAL = re.compile(r"[0-9]+")


def parse_u32(text: str) -> int:
    """Go's ``strconv.ParseUint(text, 10, 32)``: ASCII digits (leading zeros allowed,
    no sign), at most 4294967295; anything else is a 400."""
    if not _DECIMAL.fullmatch(text) or len(text.lstrip("0")) > 10 or int(text) > 0xFFFFFFFF:
        raise BadRequest()
    return int(text)


def parse_int_truncated_u32(text: str) -> int:
    """Go's ``strconv.Atoi`` then a cast to ``uint32``, as upstream reads every path,
    filter and body id (``server.ParseIntId[uint32]``, the models' ``SetID``): ``+1``
    and ``01`` are 1, ``-1`` is 4294967295, ``4294967296`` is 0 (as upstream reads them);
    beyond int64 (however many digits) is a 400."""
    try:
        value = parse_go_atoi(text)
    except ValueError:
        raise BadRequest() from None
    return value & 0xFFFFFFFF


def query_value(request: HttpRequest, name: str, default: str = "") -> str:
    """A query parameter as Go's ``url.Values.Get`` reads it: the first value of a
    repeated parameter (Django's ``QueryDict.get`` takes the last), ``default``
    when absent."""
    values = request.GET.getlist(name)
    return values[0] if values else default


def query_id(request: HttpRequest, name: str) -> int | None:
    """An id filter (``filter[members.id]``): ``None`` when absent, else read as path
    ids are (``parse_int_truncated_u32``)."""
    if name not in request.GET:
        return None
    return parse_int_truncated_u32(query_value(request, name))


@dataclass(frozen=True, slots=True)
class Body:
    id: str
    attributes: dict[str, Any]
    relationships: dict[str, Any]


def read_body(
    request: HttpRequest,
    type_: str,
    attributes: type[GoSchema],
    *,
    integer_id: bool = True,
) -> Body:
    """A JSON:API request document of resource ``type_``; any problem is a 400, empty body.

    ``data.type`` must equal ``type_``; for integer-id resources ``data.id`` must be
    a decimal string (Go clients send ``"0"`` on create); attributes are decoded
    with Go's rules. The request's ``Content-Type`` is not checked, as upstream.
    The body of the 400 says nothing (as upstream's); the reason is logged, as a
    warning, so whoever sent it can find out why.
    """
    try:
        document = wire.loads(request.body)
    except wire.WireError as exc:
        raise _refused(request, f"the body is not JSON ({exc})") from None
    data = go_field(document, "data")
    if not isinstance(data, dict):
        raise _refused(request, "the body has no data object")
    if (got := go_field(data, "type")) != type_:
        raise _refused(request, f"data.type is {got!r}, this resource's is {type_!r}")
    resource_id = go_field(data, "id")
    if resource_id is None:
        resource_id = ""
    if not isinstance(resource_id, str):
        raise _refused(request, f"data.id is {resource_id!r}, not a string")
    if integer_id:
        try:
            parse_int_truncated_u32(resource_id)  # the model's SetID: strconv.Atoi
        except BadRequest:
            raise _refused(
                request,
                f"data.id {resource_id!r} is not a decimal integer "
                '(missing or empty included: a create sends "id": "0")',
            ) from None
    raw_attributes = go_field(data, "attributes")
    try:
        decoded = attributes().load(raw_attributes if raw_attributes is not None else {})
    except ValidationError as exc:
        raise _refused(request, f"data.attributes: {exc.messages}") from None
    relationships = go_field(data, "relationships")
    return Body(resource_id, decoded, relationships if isinstance(relationships, dict) else {})


def _refused(request: HttpRequest, reason: str) -> BadRequest:
    logger.warning("%s %s: request body refused (400): %s", request.method, request.path, reason)
    return BadRequest()


def go_field(obj: object, name: str) -> object:
    """A member of a decoded JSON object found case-insensitively, as Go's decoder
    matches struct fields (the last match wins); ``None`` if absent or not an object."""
    if not isinstance(obj, dict):
        return None
    found = None
    for key, value in obj.items():
        if key.lower() == name:
            found = value
    return found
