"""The platform admin: tenants, inbox, dead letters (with replay) and outbox."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from project.messaging import wire
from project.messaging.models import InboxMessage, OutboxMessage, Replay, store_headers
from project.tenancy.models import Tenant
from tests.support import new_tenant

pytestmark = pytest.mark.django_db

State = InboxMessage.State


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """``admin_user`` hashes a password per test; the default hasher takes ~0.4 s."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def url(model: str, view: str = "changelist", *args) -> str:
    app = "tenancy" if model == "tenant" else "messaging"
    return reverse(f"admin:{app}_{model}_{view}", args=args)


def inbox_row(tenant: Tenant | None, offset: int, **fields) -> InboxMessage:
    values = {
        "app": "echo",
        "consumer_group": "Echo Service",
        "topic": "COMMAND_TOPIC_ECHO",
        "partition": 0,
        "offset": offset,
        "key": wire.key_u32(offset),
        "headers": store_headers(tenant.key.kafka_headers() if tenant else []),
        "value": b'{"type":"PING","body":{"id":1}}',
        "message_type": "PING",
        "tenant": tenant,
        "ordering_key": f"echo:{wire.key_u32(offset).hex()}",
        "enqueued_at": timezone.now(),
    }
    values.update(fields)
    return InboxMessage.objects.create(**values)


def outbox_row(tenant: Tenant, *, sent: bool, topic: str = "EVENT_TOPIC_ECHO") -> OutboxMessage:
    return OutboxMessage.objects.create(
        topic=topic,
        key=wire.key_u32(9),
        value=b'{"type":"PONG"}',
        headers=store_headers(tenant.key.kafka_headers()),
        message_type="PONG",
        tenant=tenant,
        sent_at=timezone.now() if sent else None,
    )


@pytest.fixture
def data():
    """A JMS v185 tenant (version bytes 00 b9: not UTF-8) with rows in every state."""
    jms = new_tenant(region="JMS", major=185, minor=1)
    gms = new_tenant()
    rows = {
        "pending": inbox_row(gms, 0),
        "done": inbox_row(jms, 1, state=State.DONE, handled_at=timezone.now()),
        "dead": inbox_row(
            jms,
            2,
            state=State.DEAD,
            value=b"\xff\xfe<script>alert(1)</script>\x00",
            message_type="",
            error="record value is not UTF-8: 'utf-8' codec can't decode byte 0xff\nmore",
            handled_at=timezone.now(),
            headers=store_headers(
                [*jms.key.kafka_headers(), ("X-BINARY", b"\x80\x81"), ("EMPTY", b"")]
            ),
        ),
        "dead_event": inbox_row(
            gms,
            3,
            topic="EVENT_TOPIC_ECHO_INPUT",
            state=State.DEAD,
            message_type="SEEN",
            error="invalid SEEN message: characterId: -1 is out of range for uint32",
            handled_at=timezone.now(),
        ),
        "sent": outbox_row(jms, sent=True),
        "unsent": outbox_row(gms, sent=False, topic="EVENT_TOPIC_OTHER"),
    }
    return {"jms": jms, "gms": gms, **rows}


def listed(response) -> set[int]:
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.mark.parametrize("model", ["tenant", "inboxmessage", "deadletter", "outboxmessage"])
def test_every_changelist_renders_with_rows(admin_client, data, model):
    response = admin_client.get(url(model))

    assert response.status_code == 200
    assert response.context["cl"].result_count > 0


@pytest.mark.parametrize("model", ["tenant", "inboxmessage", "deadletter", "outboxmessage"])
def test_every_changelist_renders_empty(admin_client, model):
    response = admin_client.get(url(model))

    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


def test_the_dead_letters_list_shows_only_dead_rows_with_the_first_line_of_the_reason(
    admin_client, data
):
    response = admin_client.get(url("deadletter"))

    assert listed(response) == {data["dead"].pk, data["dead_event"].pk}
    page = response.content.decode()
    assert "record value is not UTF-8: &#x27;utf-8&#x27; codec can&#x27;t decode byte 0xff" in page
    assert "more" not in page.split("record value is not UTF-8")[1].split("</td>")[0]


def test_the_dead_letter_page_shows_reason_payload_and_headers(admin_client, data):
    # when an operator opens the dead letter with a binary payload and binary headers
    response = admin_client.get(url("deadletter", "change", data["dead"].pk))

    # then it shows the whole reason, the payload as text, and every header readably
    assert response.status_code == 200
    page = response.content.decode()
    assert "codec can&#x27;t decode byte 0xff\nmore</pre>" in page
    assert "\ufffd\ufffd&lt;script&gt;alert(1)&lt;/script&gt;\x00</pre>" in page
    assert "<script>alert(1)" not in page
    jms = data["jms"]
    assert f"<tr><th>TENANT_ID</th><td>{jms.uuid}</td></tr>" in page
    assert "<tr><th>REGION</th><td>JMS</td></tr>" in page
    assert "<tr><th>MAJOR_VERSION</th><td>hex 00b9</td></tr>" in page
    assert "<tr><th>MINOR_VERSION</th><td>hex 0001</td></tr>" in page
    assert "<tr><th>X-BINARY</th><td>hex 8081</td></tr>" in page
    assert "<tr><th>EMPTY</th><td></td></tr>" in page
    assert "0200000000000000" in page  # the key, as hex


def test_the_inbox_and_outbox_pages_render_for_every_row(admin_client, data):
    for name in ("pending", "done", "dead", "dead_event"):
        response = admin_client.get(url("inboxmessage", "change", data[name].pk))
        assert response.status_code == 200, name
    for name in ("sent", "unsent"):
        response = admin_client.get(url("outboxmessage", "change", data[name].pk))
        assert response.status_code == 200, name
        assert "<tr><th>MINOR_VERSION</th><td>hex 0001</td></tr>" in response.content.decode()


def test_a_pending_row_is_not_a_dead_letter(admin_client, data):
    response = admin_client.get(url("deadletter", "change", data["pending"].pk))

    assert response.status_code == 302  # "does not exist", back to the admin index


def test_messages_are_read_only(admin_client, data):
    for model in ("inboxmessage", "deadletter", "outboxmessage"):
        assert admin_client.get(url(model, "add")).status_code == 403

    response = admin_client.post(
        url("inboxmessage", "change", data["pending"].pk), {"state": State.DONE}
    )

    assert response.status_code == 403
    assert InboxMessage.objects.get(pk=data["pending"].pk).state == State.PENDING


def test_tenants_and_messages_cannot_be_deleted(admin_client, data):
    # Processes cache tenant row ids; inbox rows are the redelivery dedupe record.
    tenant = Tenant.objects.first()
    response = admin_client.post(url("tenant", "delete", tenant.pk), {"post": "yes"})

    assert response.status_code == 403
    assert Tenant.objects.filter(pk=tenant.pk).exists()
    assert admin_client.get(url("inboxmessage", "delete", data["pending"].pk)).status_code == 403


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state__exact": "dead"}, {"dead", "dead_event"}),
        ({"state__exact": "pending"}, {"pending"}),
        ({"state__exact": "done"}, {"done"}),
        ({"topic": "EVENT_TOPIC_ECHO_INPUT"}, {"dead_event"}),
        ({"topic": "COMMAND_TOPIC_ECHO"}, {"pending", "done", "dead"}),
        ({"app": "echo"}, {"pending", "done", "dead", "dead_event"}),
        ({"app": "invites"}, set()),
        ({"tenant": "jms"}, {"done", "dead"}),
        ({"tenant": "gms"}, {"pending", "dead_event"}),
        ({"q": "out of range"}, {"dead_event"}),
    ],
)
def test_inbox_filters(admin_client, data, query, expected):
    if "tenant" in query:
        query = {"tenant__id__exact": data[query.pop("tenant")].pk}

    response = admin_client.get(url("inboxmessage"), query)

    assert listed(response) == {data[name].pk for name in expected}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"topic": "EVENT_TOPIC_ECHO_INPUT"}, {"dead_event"}),
        ({"app": "echo"}, {"dead", "dead_event"}),
        ({"tenant": "jms"}, {"dead"}),
    ],
)
def test_dead_letter_filters(admin_client, data, query, expected):
    if "tenant" in query:
        query = {"tenant__id__exact": data[query.pop("tenant")].pk}

    response = admin_client.get(url("deadletter"), query)

    assert listed(response) == {data[name].pk for name in expected}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"sent": "yes"}, {"sent"}),
        ({"sent": "no"}, {"unsent"}),
        ({}, {"sent", "unsent"}),
        ({"topic": "EVENT_TOPIC_OTHER"}, {"unsent"}),
        ({"tenant": "jms"}, {"sent"}),
    ],
)
def test_outbox_filters(admin_client, data, query, expected):
    if "tenant" in query:
        query = {"tenant__id__exact": data[query.pop("tenant")].pk}

    response = admin_client.get(url("outboxmessage"), query)

    assert listed(response) == {data[name].pk for name in expected}


def test_tenants_list_and_filter_by_region(admin_client, data):
    response = admin_client.get(url("tenant"), {"region": "JMS"})

    assert listed(response) == {data["jms"].pk}
    assert admin_client.get(url("tenant", "change", data["jms"].pk)).status_code == 200


def test_the_replay_action_puts_a_dead_letter_back_in_the_queue(
    admin_client, data, django_capture_on_commit_callbacks
):
    # given a dead letter that failed twice and was enqueued long ago
    dead = data["dead_event"]
    long_ago = timezone.now() - dt.timedelta(hours=1)
    InboxMessage.objects.filter(pk=dead.pk).update(attempts=2, enqueued_at=long_ago)

    # when the operator runs "replay" on it from the dead letters list
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            url("deadletter"),
            {"action": "replay", "_selected_action": [dead.pk], "index": 0},
            follow=True,
        )

    # then it is pending again with a fresh attempt count, and enqueued after commit
    assert response.status_code == 200
    assert "1 message(s) put back in the queue" in response.content.decode()
    dead.refresh_from_db()
    assert (dead.state, dead.attempts, dead.not_before) == (State.PENDING, 0, None)
    assert dead.enqueued_at > long_ago
    assert len(callbacks) == 1
    # and it has left the dead letters list; the other dead letter stayed
    assert listed(admin_client.get(url("deadletter"))) == {data["dead"].pk}


def test_the_replay_action_on_the_inbox_list_skips_rows_that_are_not_dead(admin_client, data):
    response = admin_client.post(
        url("inboxmessage"),
        {
            "action": "replay",
            "_selected_action": [data["pending"].pk, data["done"].pk, data["dead"].pk],
            "index": 0,
        },
        follow=True,
    )

    # the dead row's value is still not UTF-8: decoded again, it stays dead, and says so
    text = response.content.decode()
    assert "1 message(s) are still invalid and stay dead" in text
    assert "record value is not UTF-8" in text
    states = dict(InboxMessage.objects.values_list("pk", "state"))
    assert states[data["pending"].pk] == State.PENDING
    assert states[data["done"].pk] == State.DONE
    assert states[data["dead"].pk] == State.DEAD
    assert states[data["dead_event"].pk] == State.DEAD
    (replay,) = Replay.objects.all()
    assert (replay.message_id, replay.by, replay.outcome) == (
        data["dead"].pk,
        "admin",
        Replay.Outcome.STILL_INVALID,
    )


def test_the_replay_action_leaves_a_dead_letter_whose_failure_was_announced(
    admin_client, data, django_capture_on_commit_callbacks
):
    # given a dead letter whose failure event was sent (its handler's on_dead)
    dead = data["dead_event"]
    InboxMessage.objects.filter(pk=dead.pk).update(failure_announced_at=timezone.now())

    # when the operator runs "replay" on it
    with django_capture_on_commit_callbacks():
        response = admin_client.post(
            url("deadletter"),
            {"action": "replay", "_selected_action": [dead.pk], "index": 0},
            follow=True,
        )

    # then it stays dead, the admin says why, and the refusal is recorded
    text = response.content.decode()
    assert "1 message(s) stay dead: their failure was already announced" in text
    assert "put back in the queue" not in text
    assert "still invalid" not in text
    dead.refresh_from_db()
    assert dead.state == State.DEAD
    (replay,) = Replay.objects.all()
    assert (replay.message_id, replay.outcome) == (dead.pk, Replay.Outcome.ANNOUNCED)


def test_the_admin_needs_a_staff_login(client, data):
    response = client.get(url("deadletter"))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_uuid_search_finds_a_tenant(admin_client, data):
    response = admin_client.get(url("tenant"), {"q": str(data["gms"].uuid)})

    assert listed(response) == {data["gms"].pk}


def test_an_unknown_tenant_id_in_the_filter_lists_nothing(admin_client, data):
    response = admin_client.get(url("inboxmessage"), {"tenant__id__exact": 10**9})

    assert response.status_code == 200
    assert listed(response) == set()


# --- readable at 1400 px: short tenants, cut reasons ------------------------------------------


def results(response) -> str:
    """The change list's table of rows (not the filters beside it)."""
    assert response.status_code == 200
    return response.content.decode().split('id="result_list"')[1].split("</table>")[0]


def test_change_lists_show_the_tenant_short_and_the_whole_key_on_hover(admin_client, data):
    jms = data["jms"]
    for model in ("inboxmessage", "deadletter", "outboxmessage"):
        rows = results(admin_client.get(url(model)))
        # region, version and the id's first 8 hex digits; the whole key as the title
        assert f'<span title="{jms}">JMS 185.1 · {str(jms.uuid)[:8]}</span>' in rows, model
        assert str(jms.uuid) not in rows.replace(f'title="{jms}"', ""), model


def test_no_change_list_shows_a_whole_tenant_key():
    from django.contrib.admin import site

    listing_tenants = [
        model._meta.label
        for model, model_admin in site._registry.items()
        if "tenant" in model_admin.list_display
    ]
    assert listing_tenants == []


def test_a_long_reason_is_cut_in_the_list_and_whole_on_hover_and_on_its_page(admin_client):
    reason = "invalid PING message: body: id: " + "not a number, " * 20
    row = inbox_row(
        new_tenant(),
        7,
        state=State.DEAD,
        error=f"{reason}\nTraceback (most recent call last): …",
        handled_at=timezone.now(),
    )

    rows = results(admin_client.get(url("deadletter")))

    cell = rows.split('class="field-reason">')[1].split("</td>")[0]
    assert cell == f'<span title="{reason.strip()}">{reason[:80].rstrip()}…</span>'
    page = admin_client.get(url("deadletter", "change", row.pk)).content.decode()
    assert reason.strip() in page
