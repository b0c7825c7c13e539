"""The parties admin: parties with their members, the character cache, operator actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from parties import services
from parties.models import Character, Party
from tests.parties.support import cache, statuses
from tests.support import new_tenant

pytestmark = pytest.mark.django_db

P1 = 1_000_000_000


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tenant():
    tenant = new_tenant()
    cache(tenant, 1001, name="Ann", level=50)
    cache(tenant, 1002, name="Bob", level=20)
    cache(tenant, 1003, name="Cid")
    services.party_create(tenant=tenant, actor_id=1001)
    services.party_join(tenant=tenant, character_id=1002, party_id=P1)
    services.character_login(tenant=tenant, character_id=1002, channel_id=3)
    return tenant


def url(model: str, view: str = "changelist", *args) -> str:
    return reverse(f"admin:parties_{model}_{view}", args=args)


def test_parties_list_leader_and_members(admin_client, tenant):
    response = admin_client.get(url("party"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Ann (1001)" in page
    assert "Ann, Bob" in page


def test_a_party_page_shows_each_member_with_level_job_online_channel_map(admin_client, tenant):
    party = Party.objects.get(tenant=tenant)

    page = admin_client.get(url("party", "change", party.pk)).content.decode()

    assert "<td>1002</td><td>Bob</td><td>20</td><td>110</td><td>yes</td><td>3</td><td>0</td>" in (
        page
    )


@pytest.mark.parametrize(("query", "found"), [("Bob", True), ("1002", True), ("Cid", False)])
def test_parties_are_searchable_by_member_name_and_id(admin_client, tenant, query, found):
    page = admin_client.get(url("party"), {"q": query}).content.decode()
    assert ("Ann (1001)" in page) is found


@pytest.mark.parametrize(("query", "shown"), [("Cid", "1003"), ("1001", "1001")])
def test_characters_are_searchable_by_name_and_id(admin_client, tenant, query, shown):
    response = admin_client.get(url("character"), {"q": query})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list.values_list("character_id", flat=True)) == [
        int(shown)
    ]


def test_characters_show_their_party(admin_client, tenant):
    page = admin_client.get(url("character")).content.decode()
    assert str(P1) in page


def test_the_disband_action_emits_disband_as_the_leader_leaving(admin_client, tenant):
    party = Party.objects.get(tenant=tenant)

    response = admin_client.post(
        url("party"), {"action": "disband", "_selected_action": [party.pk]}, follow=True
    )

    assert response.status_code == 200
    assert not Party.objects.filter(tenant=tenant).exists()
    assert statuses(tenant)[-1]["type"] == "DISBAND"
    assert statuses(tenant)[-1]["body"] == {"members": [1001, 1002]}


def test_the_expel_action_emits_expel_and_spares_a_leader_with_members(admin_client, tenant):
    bob = Character.objects.get(tenant=tenant, character_id=1002)
    ann = Character.objects.get(tenant=tenant, character_id=1001)
    before = len(statuses(tenant))

    admin_client.post(url("character"), {"action": "expel", "_selected_action": [ann.pk, bob.pk]})

    events = statuses(tenant)[before:]
    assert [(e["type"], e["actorId"], e["body"]) for e in events] == [
        ("EXPEL", 1001, {"characterId": 1002})
    ]
    assert Party.objects.get(tenant=tenant).leader_id == 1001


def test_nothing_can_be_edited_by_hand(admin_client, tenant):
    party = Party.objects.get(tenant=tenant)
    assert admin_client.get(url("party", "add")).status_code == 403
    assert admin_client.get(url("party", "delete", party.pk)).status_code == 403
