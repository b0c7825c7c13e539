"""The operators' admin: messengers with their seats, characters with their messenger, close."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from messengers import services
from messengers.models import Character, Member, Messenger
from tests.messengers.support import FIRST, STATUS, looked
from tests.support import new_tenant, values

pytestmark = pytest.mark.django_db


@pytest.fixture
def seated():
    """1000000000: 1001 (seat 0), 1003 (seat 2); 1002 left seat 1. 1000000001: 1004."""
    tenant = new_tenant()
    tx = uuid.uuid4()
    services.messenger_create(
        tenant=tenant, transaction_id=tx, actor_id=1001, looked_up=looked(1001)
    )
    for actor in (1002, 1003):
        services.messenger_join(
            tenant=tenant,
            transaction_id=tx,
            actor_id=actor,
            messenger_id=FIRST,
            looked_up=looked(actor),
        )
    services.messenger_leave(
        tenant=tenant, transaction_id=tx, actor_id=1002, messenger_id=FIRST, looked_up={}
    )
    services.messenger_create(
        tenant=tenant, transaction_id=tx, actor_id=1004, looked_up=looked(1004)
    )
    return tenant


def test_messengers_are_listed_with_their_seats_and_searchable_by_member(admin_client, seated):
    url = reverse("admin:messengers_messenger_changelist")

    listing = admin_client.get(url)
    by_member = admin_client.get(url, {"q": "1003"})

    assert listing.status_code == 200
    assert b"1001 | \xe2\x80\x94 | 1003" in listing.content
    assert b"1004 | \xe2\x80\x94 | \xe2\x80\x94" in listing.content
    assert list(by_member.context["cl"].result_list) == [
        Messenger.objects.get(tenant=seated, messenger_id=FIRST)
    ]
    detail = admin_client.get(
        reverse(
            "admin:messengers_messenger_change",
            args=[Messenger.objects.get(tenant=seated, messenger_id=FIRST).pk],
        )
    )
    assert detail.status_code == 200
    assert b"Charlie" in detail.content


def test_characters_are_listed_with_their_messenger(admin_client, seated):
    listing = admin_client.get(reverse("admin:messengers_character_changelist"))
    assert listing.status_code == 200
    assert b"1000000000 (seat 2)" in listing.content
    assert b"Bravo" in listing.content
    by_name = admin_client.get(reverse("admin:messengers_character_changelist"), {"q": "Bravo"})
    assert [c.character_id for c in by_name.context["cl"].result_list] == [1002]
    # a word is no error for the id searches of the messenger list
    words = admin_client.get(reverse("admin:messengers_messenger_changelist"), {"q": "abc"})
    assert words.status_code == 200


def test_the_admin_is_read_only(admin_client, seated):
    messenger = Messenger.objects.get(tenant=seated, messenger_id=FIRST)
    assert admin_client.get(reverse("admin:messengers_messenger_add")).status_code == 403
    admin_client.post(
        reverse("admin:messengers_messenger_delete", args=[messenger.pk]), {"post": "yes"}
    )
    assert Messenger.objects.filter(pk=messenger.pk).exists()
    character = Character.objects.get(tenant=seated, character_id=1001)
    admin_client.post(
        reverse("admin:messengers_character_change", args=[character.pk]), {"name": "X"}
    )
    character.refresh_from_db()
    assert character.name == "Alpha"


def test_closing_a_messenger_lets_its_members_leave(admin_client, seated):
    messenger = Messenger.objects.get(tenant=seated, messenger_id=FIRST)

    response = admin_client.post(
        reverse("admin:messengers_messenger_changelist"),
        {"action": "close", ACTION_CHECKBOX_NAME: [messenger.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert b"Closed 1 messenger" in response.content
    assert not Messenger.objects.filter(pk=messenger.pk).exists()
    assert list(Member.objects.filter(tenant=seated).values_list("character_id", flat=True)) == [
        1004
    ]
    left = [
        (v["actorId"], v["body"]["slot"]) for v in values(STATUS, seated) if v["type"] == "LEFT"
    ]
    assert left[-2:] == [(1001, 0), (1003, 2)]
