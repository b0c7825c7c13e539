"""JSON Schema (2020-12, as OpenAPI 3.1 and AsyncAPI 3 use it) of ``GoSchema`` classes.

The marshmallow schemas that decode messages and request bodies are the source of
the published documents (docs/api.md), so what a reader sees there is what the
code reads. Two views of one schema:

- ``reading``: what we accept, with Go's rules: any field may be absent or
  ``null`` (its zero value), unknown members are ignored. Nothing is required.
- ``writing``: what we send: every field present (unless its field says
  ``metadata={"optional": True}``), exactly the declared members, in the declared
  order (the order of ``properties`` is upstream's struct order).
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from project.messaging import schemas

JsonSchema = dict[str, Any]


def schema_of(schema: type[schemas.GoSchema], *, writing: bool) -> JsonSchema:
    """The JSON Schema of a whole message, body or attributes object."""
    instance = schema()
    properties: JsonSchema = {}
    required = []
    for name, field in instance.fields.items():
        key = field.data_key or name
        properties[key] = field_schema(field, writing=writing)
        if writing and not field.metadata.get("optional"):
            required.append(key)
    result: JsonSchema = {"type": "object", "properties": properties}
    if writing:
        result["required"] = required
        result["additionalProperties"] = False
    if schema.__doc__ and schema.__doc__ != schemas.GoSchema.__doc__:
        result["description"] = " ".join(schema.__doc__.split())
    return result


def field_schema(field: fields.Field, *, writing: bool) -> JsonSchema:
    """One field; when ``reading``, ``null`` is allowed too (Go reads it as the zero value)."""
    result = _field(field, writing=writing)
    description = field.metadata.get("description")
    if description:
        result["description"] = description
    if not writing and "type" in result:
        result["type"] = [result["type"], "null"]
    return result


def _field(field: fields.Field, *, writing: bool) -> JsonSchema:
    if isinstance(field, schemas.Int):
        return {"type": "integer", "minimum": field.low, "maximum": field.high}
    if isinstance(field, schemas.Bool):
        return {"type": "boolean"}
    if isinstance(field, schemas.UUID):
        return {"type": "string", "format": "uuid"}
    if isinstance(field, schemas.Time):
        return {"type": "string", "format": "date-time"}
    if isinstance(field, schemas.Str):
        result: JsonSchema = {"type": "string"}
        if field.max_length is not None:
            result["maxLength"] = field.max_length
        return result
    if isinstance(field, schemas.Object):
        return schema_of(field.schema_class, writing=writing)
    if isinstance(field, schemas.List):
        return {"type": "array", "items": _field(field.inner, writing=writing)}
    raise TypeError(f"no JSON Schema for field {field!r}: give GoSchema a case for it")
