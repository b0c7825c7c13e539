"""The operators' admin: notes per tenant, by owner or sender, read or unread; read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from notes import services
from notes.models import Note
from tests.notes.support import create, statuses
from tests.support import new_tenant

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:notes_note_changelist"


def listed(response) -> list[int]:
    return sorted(note.pk for note in response.context["cl"].result_list)


def test_the_admin_filters_by_tenant_and_searches_by_owner_or_sender(admin_client):
    tenant, other = new_tenant(), new_tenant()
    to_200 = create(tenant, character_id=200, sender_id=100)
    from_200 = create(tenant, character_id=300, sender_id=200)
    elsewhere = create(other, character_id=200, sender_id=100)
    url = reverse(CHANGELIST)

    assert admin_client.get(url).status_code == 200
    assert listed(admin_client.get(url)) == sorted([to_200.pk, from_200.pk, elsewhere.pk])
    by_tenant = admin_client.get(url, {"tenant_uuid": str(tenant.uuid)})
    assert listed(by_tenant) == sorted([to_200.pk, from_200.pk])
    assert listed(admin_client.get(url, {"tenant_uuid": str(tenant.uuid), "q": "200"})) == sorted(
        [to_200.pk, from_200.pk]
    )
    assert listed(admin_client.get(url, {"q": "300"})) == [from_200.pk]
    assert listed(admin_client.get(url, {"q": "100"})) == sorted([to_200.pk, elsewhere.pk])
    assert admin_client.get(url, {"q": "not a number"}).status_code == 200


def test_the_admin_filters_read_and_unread_notes(admin_client):
    tenant = new_tenant()
    unread = create(tenant)
    read = create(tenant)
    services.notes_discard(
        tenant=tenant, world_id=0, channel_id=0, character_id=200, note_ids=[read.pk]
    )
    url = reverse(CHANGELIST)

    assert listed(admin_client.get(url, {"read": "no"})) == [unread.pk]
    assert listed(admin_client.get(url, {"read": "yes"})) == [read.pk]
    assert listed(admin_client.get(url)) == sorted([unread.pk, read.pk])


def test_the_admin_is_read_only_and_its_delete_action_emits_deleted(admin_client):
    tenant = new_tenant()
    note = create(tenant, character_id=258)
    assert admin_client.get(reverse("admin:notes_note_add")).status_code == 403
    view = admin_client.get(reverse("admin:notes_note_change", args=[note.pk]))
    assert view.status_code == 200 and b"Save" not in view.content

    response = admin_client.post(
        reverse(CHANGELIST), {"action": "delete_notes", "_selected_action": [note.pk]}
    )

    assert response.status_code == 302
    assert Note.objects.get(pk=note.pk).deleted_at is not None
    assert statuses(tenant)[-1] == {
        "transactionId": "00000000-0000-0000-0000-000000000000",
        "characterId": 258,
        "type": "DELETED",
        "body": {"noteId": note.pk},
    }
