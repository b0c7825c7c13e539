"""Pairing our held records with upstream's and classifying each (docs/shadow.md).

Each held outbox row of a shadowed service is paired with an unpaired record the
Go service published on the same topic, for the same tenant, within
``SHADOW_WINDOW_SECONDS`` of it: by ``transactionId`` when the record has one
that is not nil (the type may then differ: that is a difference), else by type and
key (a key that is an assigned id compared through the id map). Among several
candidates the one with the fewest differences wins. A pair is *matched* when
nothing differs after ids are mapped and the ignored fields left out, *expected*
when a rule explains every difference, else *different* with the field-level
difference. A row of ours left alone past the window is *missing upstream*; a
record of upstream's, *missing here*; either may be *expected* by a rule. What a
consumed record naming an entity the shadow never saw created causes is *no
baseline*, and so is an upstream record about such an entity: both are left out of
the counts.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from project.messaging import wire
from project.messaging.models import OutboxMessage, load_headers
from project.observability import metrics
from project.shadow import rules as rules_module
from project.shadow.models import IdPair, Result, UnknownInput, UpstreamMessage

logger = logging.getLogger(__name__)

Class = Result.Class
NIL_UUID = str(uuid.UUID(int=0))
_ZERO = {None, "", 0, "0", NIL_UUID}


def _value(raw: bytes | memoryview | None) -> object:
    try:
        return json.loads(bytes(raw or b""))
    except ValueError:
        return bytes(raw or b"").decode("utf-8", errors="replace")


def transaction_id(value: object) -> str:
    """The record's ``transactionId``, or "" (absent, nil: no pairing by it)."""
    tx = value.get("transactionId") if isinstance(value, dict) else None
    return "" if tx in (None, "", NIL_UUID) else str(tx)


def tenant_of(headers: list[tuple[str, bytes]]) -> str:
    raw = wire.header(headers, "TENANT_ID")
    return raw.decode("ascii", errors="replace") if raw else ""


@dataclass
class Side:
    """One record as compared: its flattened document and where it came from."""

    service: str
    topic: str
    tenant: str
    doc: dict
    at: datetime
    tx: str
    row: object = None

    @property
    def type(self) -> str:
        return self.doc.get("$type", "")


def ours_side(row: OutboxMessage) -> Side:
    value = _value(row.value)
    return Side(
        service=row.app,
        topic=row.topic,
        tenant=tenant_of(load_headers(row.headers)),
        doc=rules_module.flatten(value, row.key),
        at=row.created_at,
        tx=transaction_id(value),
        row=row,
    )


def theirs_side(message: UpstreamMessage) -> Side:
    value = _value(message.value)
    return Side(
        service=message.service,
        topic=message.topic,
        tenant=message.tenant,
        doc=rules_module.flatten(value, message.key),
        at=message.timestamp,
        tx=message.transaction_id,
        row=message,
    )


@dataclass
class Comparison:
    diff: list[dict] = field(default_factory=list)
    learn: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, ours, theirs)


class IdMap:
    """The learnt id pairs of one comparison run, read from and written to ``IdPair``."""

    def __init__(self) -> None:
        self.ours: dict[tuple[str, str, str], str] = {}
        self.theirs: dict[tuple[str, str, str], str] = {}
        for pair in IdPair.objects.all().only("tenant", "kind", "ours", "theirs"):
            self.ours[(pair.tenant, pair.kind, pair.ours)] = pair.theirs
            self.theirs[(pair.tenant, pair.kind, pair.theirs)] = pair.ours

    def learn(self, service: str, tenant: str, kind: str, ours: str, theirs: str) -> None:
        if (tenant, kind, ours) in self.ours or (tenant, kind, theirs) in self.theirs:
            return
        self.ours[(tenant, kind, ours)] = theirs
        self.theirs[(tenant, kind, theirs)] = ours
        IdPair.objects.get_or_create(
            tenant=tenant, kind=kind, ours=ours, defaults={"theirs": theirs, "service": service}
        )

    def knows_theirs(self, tenant: str, kind: str, theirs: str) -> bool:
        return (tenant, kind, theirs) in self.theirs


def compare(rules: rules_module.Rules, ids: IdMap, ours: Side, theirs: Side) -> Comparison:
    """The field-level difference of a pair, ids mapped and ignored fields left out."""
    result = Comparison()
    ignored = rules.ignored(ours.service, ours.topic, {ours.type, theirs.type})
    if any(rules.fresh_transaction(ours.service, ours.topic, t) for t in (ours.type, theirs.type)):
        ignored.append("transactionId")
    id_paths: dict[str, str] = {}
    for rule in rules.id_rules(ours.service, ours.topic):
        for pattern in rule.paths:
            for path in set(ours.doc) | set(theirs.doc):
                if rules_module.covers([pattern], path):
                    id_paths[path] = rule.kind
    for path in sorted(set(ours.doc) | set(theirs.doc)):
        if rules_module.covers(ignored, path):
            continue
        mine, upstream = ours.doc.get(path, _MISSING), theirs.doc.get(path, _MISSING)
        kind = id_paths.get(path)
        if kind and mine is not _MISSING and upstream is not _MISSING:
            if _same_id(ids, ours.tenant, kind, mine, upstream, result):
                continue
        elif mine == upstream:
            continue
        result.diff.append({"path": path, "ours": _shown(mine), "upstream": _shown(upstream)})
    return result


_MISSING = object()


def _shown(value: object) -> object:
    return "(absent)" if value is _MISSING else value


def _same_id(ids: IdMap, tenant: str, kind: str, mine, upstream, result: Comparison) -> bool:
    if mine in _ZERO or upstream in _ZERO:
        return mine == upstream or str(mine) == str(upstream)
    mine, upstream = str(mine), str(upstream)
    known = ids.ours.get((tenant, kind, mine))
    if known is not None:
        return known == upstream
    if (tenant, kind, upstream) in ids.theirs:
        return False  # upstream's id belongs to another of ours
    result.learn.append((kind, mine, upstream))
    return True


def _candidates(
    rules: rules_module.Rules, ours: Side, window: timedelta
) -> tuple[list[UpstreamMessage], bool]:
    """Upstream's records ``ours`` may pair with, and whether by transaction id.

    By ``transactionId`` when ours has one; else (or when no record has it and the
    type's are drawn anew by each side, a rule's ``fresh_transactions``) by type and
    key: ours' type with a nil transaction id (any, when fresh), and the types a
    rule lets ours pair with (``pairs_with``: our refusal of upstream's action)."""
    query = UpstreamMessage.objects.filter(
        paired=False,
        topic=ours.topic,
        tenant=ours.tenant,
        timestamp__gte=ours.at - window,
        timestamp__lte=ours.at + window,
    ).order_by("timestamp", "id")
    fresh = rules.fresh_transaction(ours.service, ours.topic, ours.type)
    if ours.tx:
        found = list(query.filter(transaction_id=ours.tx)[:20])
        if found or not fresh:
            return found, True
    own = Q(message_type=ours.type) if fresh else Q(message_type=ours.type, transaction_id="")
    other = rules.pairs_with(ours.service, ours.topic, ours.doc) - {ours.type}
    return list(query.filter(own | Q(message_type__in=other))[:20]), False


def _key_fits(rules: rules_module.Rules, ids: IdMap, ours: Side, theirs: Side) -> bool:
    """Without a transaction id, a pair must have the same key, or a key that is an
    assigned id not known to belong to another."""
    if ours.doc["$key"] == theirs.doc["$key"]:
        return True
    for rule in rules.id_rules(ours.service, ours.topic):
        if "$key" in rule.paths:
            mine, upstream = ours.doc["$key"], theirs.doc["$key"]
            return _same_id(ids, ours.tenant, rule.kind, mine, upstream, Comparison())
    return False


@dataclass
class Outcome:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, result: Result) -> None:
        self.counts[result.klass] = self.counts.get(result.klass, 0) + 1


def run_once(*, now: datetime | None = None, apps: list[str] | None = None) -> dict[str, int]:
    """One pass: pair and classify what can be, and what waited past the window.

    Returns the count of results made, per class."""
    now = now or timezone.now()
    apps = apps if apps is not None else list(settings.ATLAS_SHADOW)
    window = timedelta(seconds=settings.SHADOW_WINDOW_SECONDS)
    rules = rules_module.current()
    outcome = Outcome()
    made: list[Result] = []
    with transaction.atomic():
        ids = IdMap()
        unknown = set(UnknownInput.objects.values_list("inbox_id", flat=True))
        rows = list(
            OutboxMessage.objects.filter(
                app__in=apps,
                shadow__in=[OutboxMessage.Shadow.HELD, OutboxMessage.Shadow.UPSTREAM],
                shadow_result__isnull=True,
            ).order_by("id")[:2000]
        )
        for row in rows:
            ours = ours_side(row)
            no_baseline = row.cause_id is not None and row.cause_id in unknown
            pair = _best(rules, ids, ours, *_candidates(rules, ours, window))
            if pair is not None:
                theirs, comparison = pair
                result = _classify_pair(rules, ids, ours, theirs, comparison, no_baseline)
            elif now - ours.at > window:
                klass = Class.NO_BASELINE if no_baseline else Class.MISSING_UPSTREAM
                rule = None
                if klass == Class.MISSING_UPSTREAM:
                    rule = rules.explain(
                        klass, ours.service, ours.topic, ours.doc, None,
                        evidence=functools.partial(_follows, ours),
                    )  # fmt: skip
                result = _result(ours, None, Class.EXPECTED if rule else klass, rule or "")
            else:
                continue
            made.append(result)
        for message in UpstreamMessage.objects.filter(
            paired=False, service__in=apps, received_at__lt=now - window
        ).filter(Q(timestamp__lt=now - window))[:2000]:
            theirs = theirs_side(message)
            klass = Class.NO_BASELINE if _unseen_entity(rules, ids, theirs) else Class.MISSING_HERE
            rule = None
            if klass == Class.MISSING_HERE:
                rule = rules.explain(
                    klass, theirs.service, theirs.topic, None, theirs.doc,
                    evidence=functools.partial(_follows, theirs),
                )  # fmt: skip
            message.paired = True
            message.save(update_fields=["paired"])
            made.append(_result(None, theirs, Class.EXPECTED if rule else klass, rule or ""))
        for result in made:
            outcome.add(result)
        transaction.on_commit(lambda: _count(made))
    return outcome.counts


def _best(
    rules: rules_module.Rules,
    ids: IdMap,
    ours: Side,
    candidates: list[UpstreamMessage],
    by_tx: bool,
) -> tuple[Side, Comparison] | None:
    best = None
    for message in candidates:
        theirs = theirs_side(message)
        if not by_tx and not _key_fits(rules, ids, ours, theirs):
            continue
        comparison = compare(rules, ids, ours, theirs)
        score = (theirs.type != ours.type, len(comparison.diff))
        if best is None or score < best[0]:
            best = (score, theirs, comparison)
    return None if best is None else (best[1], best[2])


def _classify_pair(
    rules: rules_module.Rules,
    ids: IdMap,
    ours: Side,
    theirs: Side,
    comparison: Comparison,
    no_baseline: bool,
) -> Result:
    if ours.type == theirs.type:  # the first pair of a type-for-type answer teaches its ids
        for kind, mine, upstream in comparison.learn:
            ids.learn(ours.service, ours.tenant, kind, mine, upstream)
    theirs.row.paired = True
    theirs.row.save(update_fields=["paired"])
    if no_baseline:
        return _result(ours, theirs, Class.NO_BASELINE, "", comparison.diff)
    if not comparison.diff:
        return _result(ours, theirs, Class.MATCHED, "")
    paths = [d["path"] for d in comparison.diff]
    rule = rules.explain(Class.DIFFERENT, ours.service, ours.topic, ours.doc, theirs.doc, paths)
    klass = Class.EXPECTED if rule else Class.DIFFERENT
    return _result(ours, theirs, klass, rule or "", comparison.diff)


def _follows(side: Side, follows: rules_module.Follows) -> bool:
    """Whether upstream published, before ``side`` (within the rule's time), a record
    of ``follows.types`` on its topic and tenant with the same fields at
    ``follows.same`` and others at ``follows.differ`` (a rule's evidence)."""
    query = UpstreamMessage.objects.filter(
        topic=side.topic,
        tenant=side.tenant,
        timestamp__gte=side.at - timedelta(seconds=follows.within_seconds),
        timestamp__lte=side.at,
    )
    if "*" not in follows.types:
        query = query.filter(message_type__in=follows.types)
    if isinstance(side.row, UpstreamMessage):
        query = query.exclude(id=side.row.id)
    for message in query.order_by("-timestamp", "-id")[:200]:
        earlier = theirs_side(message).doc
        if all(_same_at(pattern, side.doc, earlier) for pattern in follows.same) and all(
            not _same_at(pattern, side.doc, earlier) for pattern in follows.differ
        ):
            return True
    return False


def _same_at(pattern: str, one: dict, other: dict) -> bool:
    """Whether two flattened records hold the same values at every path ``pattern`` names."""
    paths = [p for p in set(one) | set(other) if rules_module.covers([pattern], p)]
    return bool(paths) and all(one.get(p, _MISSING) == other.get(p, _MISSING) for p in paths)


def _unseen_entity(rules: rules_module.Rules, ids: IdMap, theirs: Side) -> bool:
    """Whether an upstream record is about an entity the shadow never saw created."""
    for rule in rules.id_rules(theirs.service, theirs.topic):
        if theirs.type in rule.creates:
            continue
        for pattern in rule.paths:
            for path, value in theirs.doc.items():
                if value in _ZERO or not rules_module.covers([pattern], path):
                    continue
                if not ids.knows_theirs(theirs.tenant, rule.kind, str(value)):
                    return True
    return False


def _result(
    ours: Side | None, theirs: Side | None, klass: str, rule: str, diff: list | None = None
) -> Result:
    side = ours or theirs
    return Result.objects.create(
        service=side.service,
        topic=side.topic,
        message_type=side.type,
        klass=klass,
        rule=rule,
        diff=diff or [],
        tenant=side.tenant,
        ours=ours.row if ours else None,
        theirs=theirs.row if theirs else None,
    )


def _count(results: list[Result]) -> None:
    for result in results:
        metrics.SHADOW_RESULTS.labels(
            result.service, result.topic, result.message_type, result.klass
        ).inc()
