"""Consumed records carry upstream's ids; a shadowed service handles them with ours.

Once the comparer learnt that upstream's party 17 is our party 3 (from the first
paired CREATED), a JOIN naming party 17 must reach our party 3. The fields that
hold such ids are data (the rules' ``inputs``). An id with no pair yet names an
entity the shadow never saw created (it existed before the shadow started): the
record is handled as it is, and what it causes is marked *no baseline*.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from project.messaging.models import InboxMessage
from project.shadow import compare, rules
from project.shadow.models import IdPair, UnknownInput


def translate(row: InboxMessage, data: dict) -> dict:
    """``data`` with upstream's ids replaced by ours, where the pair is known."""
    type_ = str(data.get("type", ""))
    found = rules.current().input_rules(row.app, row.topic, type_)
    if not found:
        return data
    tenant = compare.tenant_of(row.header_list)
    data = copy.deepcopy(data)
    for rule in found:
        for path in rule.paths:
            for parent, name, value in _locations(data, path):
                if value in (None, 0, "", compare.NIL_UUID):
                    continue
                ours = (
                    IdPair.objects.filter(tenant=tenant, kind=rule.kind, theirs=str(value))
                    .values_list("ours", flat=True)
                    .first()
                )
                if ours is None:
                    UnknownInput.objects.get_or_create(
                        inbox_id=row.id, defaults={"kind": rule.kind, "theirs": str(value)}
                    )
                    continue
                parent[name] = int(ours) if isinstance(value, int) else ours
    return data


_STEP = re.compile(r"([^.\[]+)(\[\])?")


def _locations(data: Any, path: str) -> list[tuple[Any, Any, Any]]:
    """(container, index or name, value) of every place ``path`` names in ``data``."""
    places = [(None, None, data)]
    for name, each in _STEP.findall(path):
        following = []
        for _, _, node in places:
            if not isinstance(node, dict) or name not in node:
                continue
            if each:
                items = node[name]
                if isinstance(items, list):
                    following += [(items, i, item) for i, item in enumerate(items)]
            else:
                following.append((node, name, node[name]))
        places = following
    return places
