"""The known differences, as data (``SHADOW_RULES_FILE``, docs/shadow-rules.json).

A new deliberate difference adds a rule to the file, not code: which fields are ids
each side assigns (mapped, not compared), which differ by nature (clocks, never
compared), and which differences are expected, each naming the compatibility note
that explains it. Paths are dotted (``body.noteId``), ``[]`` is any list element,
``*`` any one name, ``**`` every path, ``$key`` the Kafka key and ``$type`` the
record's type.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from project.messaging import wire

Doc = dict[str, Any]


@dataclass(frozen=True)
class IdRule:
    service: str
    kind: str
    topic: str
    paths: tuple[str, ...]
    creates: frozenset[str]
    types: frozenset[str] = frozenset({"*"})
    sequence: str = ""


@dataclass(frozen=True)
class Follows:
    """A one-sided record's evidence: a record of upstream's before it (within
    ``within_seconds``, same topic and tenant) of one of ``types``, whose fields at
    ``same`` equal the record's and at ``differ`` do not."""

    types: frozenset[str]
    same: tuple[str, ...] = ()
    differ: tuple[str, ...] = ()
    within_seconds: float = 600.0


@dataclass(frozen=True)
class ExpectedRule:
    name: str
    service: str
    topic: str
    klass: str
    types: frozenset[str]
    paths: tuple[str, ...] = ()
    ours: dict = field(default_factory=dict, hash=False)
    upstream: dict = field(default_factory=dict, hash=False)
    ours_matches: dict = field(default_factory=dict, hash=False)
    pairs_with: frozenset[str] = frozenset()
    follows: Follows | None = None
    compatibility: str = ""


# Asked by ``explain`` about a rule's ``follows``: whether upstream published such a record.
Evidence = Callable[[Follows], bool]


@dataclass(frozen=True)
class Rules:
    ids: tuple[IdRule, ...]
    inputs: tuple[IdRule, ...]
    ignore: tuple[IdRule, ...]
    expected: tuple[ExpectedRule, ...]
    fresh: tuple[IdRule, ...] = ()

    def fresh_transaction(self, service: str, topic: str, type_: str) -> bool:
        """Whether records of this type carry a ``transactionId`` each side draws anew
        (expiry sweeps): not a pairing key, not compared."""
        return any(
            _is(r.service, service) and _is(r.topic, topic) and _among(type_, r.types)
            for r in self.fresh
        )

    def pairs_with(self, service: str, topic: str, ours: Doc) -> set[str]:
        """The types of upstream's a record of ours may pair with besides its own: those
        of a rule of class ``different`` whose conditions on our side it meets (ours
        refuses where upstream acts: the answer to the same command, another type)."""
        return {
            type_
            for rule in self.expected
            if rule.pairs_with
            and rule.klass == "different"
            and _is(rule.service, service)
            and _is(rule.topic, topic)
            and _among(ours.get("$type", ""), rule.types)
            and _holds(ours, rule.ours)
            and (not rule.ours_matches or _matches(ours, rule.ours_matches))
            for type_ in rule.pairs_with
        }

    def sequences(self, service: str) -> dict[str, str]:
        """Where ours draws each numbered kind of id of ``service`` (a rule's
        ``sequence``): a tenant counter's name, or ``app_label.Model`` for a table's id."""
        return {r.kind: r.sequence for r in self.ids if r.service == service and r.sequence}

    def id_rules(self, service: str, topic: str) -> list[IdRule]:
        return [r for r in self.ids if _is(r.service, service) and _is(r.topic, topic)]

    def input_rules(self, service: str, topic: str, type_: str) -> list[IdRule]:
        return [
            r
            for r in self.inputs
            if _is(r.service, service) and _is(r.topic, topic) and _among(type_, r.types)
        ]

    def ignored(self, service: str, topic: str, types: set[str]) -> list[str]:
        return [
            path
            for r in self.ignore
            if _is(r.service, service)
            and _is(r.topic, topic)
            and any(_among(t, r.types) for t in types)
            for path in r.paths
        ]

    def explain(
        self,
        klass: str,
        service: str,
        topic: str,
        ours: Doc | None,
        theirs: Doc | None,
        diff_paths: list[str] = (),
        evidence: Evidence | None = None,
    ) -> str | None:
        """The name of the first rule that expects this outcome, or ``None``. A rule
        with ``follows`` holds only when ``evidence`` finds the record it names."""
        types = {d.get("$type", "") for d in (ours, theirs) if d is not None}
        for rule in self.expected:
            if rule.klass != klass or not _is(rule.service, service) or not _is(rule.topic, topic):
                continue
            if not any(_among(t, rule.types) for t in types):
                continue
            if rule.ours and (ours is None or not _holds(ours, rule.ours)):
                continue
            if rule.upstream and (theirs is None or not _holds(theirs, rule.upstream)):
                continue
            if rule.ours_matches and (ours is None or not _matches(ours, rule.ours_matches)):
                continue
            if diff_paths and not all(covers(rule.paths, p) for p in diff_paths):
                continue
            if rule.follows is not None and (evidence is None or not evidence(rule.follows)):
                continue
            return rule.name
        return None


def _is(pattern: str, value: str) -> bool:
    return pattern == "*" or pattern == value


def _among(value: str, patterns: frozenset[str] | tuple[str, ...]) -> bool:
    return "*" in patterns or value in patterns


def _holds(doc: Doc, wanted: dict) -> bool:
    return all(doc.get(path) == value for path, value in wanted.items())


def _matches(doc: Doc, wanted: dict) -> bool:
    return all(re.search(rx, str(doc.get(path, ""))) for path, rx in wanted.items())


@functools.cache
def _pattern(path: str) -> re.Pattern:
    if path == "**":
        return re.compile(".*")
    escaped = re.escape(path).replace(r"\[\]", r"\[\d+\]").replace(r"\*", r"[^.\[]+")
    return re.compile(escaped + "$")


def covers(patterns: tuple[str, ...] | list[str], path: str) -> bool:
    """Whether one of ``patterns`` names ``path`` (a concrete path of ``flatten``)."""
    return any(_pattern(p).match(path) for p in patterns)


def load(path: Path | str | None = None) -> Rules:
    """The rules of ``path`` (default ``SHADOW_RULES_FILE``), topic tokens resolved."""
    data = json.loads(Path(path or settings.SHADOW_RULES_FILE).read_text())

    def topic(token: str) -> str:
        return "*" if token == "*" else wire.topic_name(token)

    def id_rule(item: dict) -> IdRule:
        return IdRule(
            service=item["service"],
            kind=item.get("kind", ""),
            topic=topic(item["topic"]),
            paths=tuple(item["paths"]),
            creates=frozenset(item.get("creates", ())),
            types=frozenset(item.get("types", ("*",))),
            sequence=item.get("sequence", ""),
        )

    def follows(item: dict | None) -> Follows | None:
        if item is None:
            return None
        return Follows(
            types=frozenset(item.get("types", ("*",))),
            same=tuple(item.get("same", ())),
            differ=tuple(item.get("differ", ())),
            within_seconds=float(item.get("within_seconds", 600)),
        )

    return Rules(
        fresh=tuple(
            id_rule({**i, "paths": ["transactionId"]}) for i in data.get("fresh_transactions", ())
        ),
        ids=tuple(id_rule(i) for i in data.get("ids", ())),
        inputs=tuple(id_rule(i) for i in data.get("inputs", ())),
        ignore=tuple(id_rule(i) for i in data.get("ignore", ())),
        expected=tuple(
            ExpectedRule(
                name=item["name"],
                service=item["service"],
                topic=topic(item["topic"]),
                klass=item["class"],
                types=frozenset(item.get("types", ("*",))),
                paths=tuple(item.get("paths", ())),
                ours=item.get("ours", {}),
                upstream=item.get("upstream", {}),
                ours_matches=item.get("ours_matches", {}),
                pairs_with=frozenset(item.get("pairs_with", ())),
                follows=follows(item.get("follows")),
                compatibility=item.get("compatibility", ""),
            )
            for item in data.get("expected", ())
        ),
    )


@functools.cache
def current() -> Rules:
    """The configured rules, read once per process."""
    return load()


def key_text(key: bytes | None) -> str:
    """A Kafka key as compared: upstream's ``CreateKey`` ids as their number, text as
    itself, anything else in hex."""
    if key is None:
        return ""
    key = bytes(key)
    if len(key) == 8 and key[4:] == b"\0\0\0\0":
        return str(int.from_bytes(key[:4], "little"))
    try:
        text = key.decode("ascii")
    except UnicodeDecodeError:
        return key.hex()
    return text if text.isprintable() else key.hex()


def flatten(value: Any, key: bytes | None = None) -> Doc:
    """A record as ``{path: scalar}``, with ``$key`` and ``$type``; empty objects and
    lists are kept as values so that their absence is seen."""
    doc: Doc = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict) and node:
            for name, child in node.items():
                walk(child, f"{path}.{name}" if path else name)
        elif isinstance(node, list) and node:
            for index, child in enumerate(node):
                walk(child, f"{path}[{index}]")
        else:
            doc[path] = node

    if isinstance(value, dict):
        walk({k: v for k, v in value.items() if k != "type"}, "")
        doc["$type"] = value.get("type", "")
    else:
        doc[""] = value
        doc["$type"] = ""
    doc["$key"] = key_text(key)
    return doc
