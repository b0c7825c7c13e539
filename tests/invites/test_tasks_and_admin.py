"""The expiry task (beat entry ``invites-expire``) and the read-only admin."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from invites import services
from invites.models import Invite
from invites.tasks import expire_invites_task
from project import celery_app
from tests.invites.support import create, events
from tests.support import new_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    """Run re-queued tasks inline, so a task's follow-ups happen within the test."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def test_the_task_requeues_itself_until_the_backlog_is_gone(eager_celery, settings):
    # given more expired invites than one batch holds, and one young invite
    settings.INVITE_TIMEOUT_SECONDS = 180
    tenant = new_tenant()
    old = timezone.now() - dt.timedelta(seconds=200)
    backlog = services.EXPIRY_BATCH_SIZE * 2 + 1
    Invite.objects.bulk_create(
        Invite(
            tenant=tenant,
            invite_id=2_000_000_000 + n,  # outside the sequence
            invite_type="TRADE",
            reference_id=n,
            originator_id=1001,
            target_id=2001,
            world_id=0,
            created_at=old,
        )
        for n in range(backlog)
    )
    young = create(tenant, reference_id=backlog + 1)

    # when beat runs the task once
    expire_invites_task.apply()

    # then the first run and its re-queued follow-ups rejected the whole backlog
    assert list(Invite.objects.values_list("pk", flat=True)) == [young.pk]
    rejected = [row.value for row in events(tenant) if row.value["type"] == "REJECTED"]
    assert len(rejected) == backlog
    assert len({row["referenceId"] for row in rejected}) == backlog


def test_the_task_with_nothing_to_do_does_nothing():
    # when the task runs with no invites
    result = expire_invites_task.apply()

    # then it rejects nothing
    assert result.get() == 0
    assert events() == []


def test_the_beat_entry_names_the_task(settings):
    assert settings.CELERY_BEAT_SCHEDULE["invites-expire"]["task"] == expire_invites_task.name


# --- admin --------------------------------------------------------------------------


def test_the_admin_lists_and_searches_invites_by_character(admin_client):
    # given invites to 2001 and 2002 in two tenants
    tenant, other = new_tenant(), new_tenant()
    create(tenant, originator_id=1001, target_id=2001, transaction_id=uuid.uuid4())
    create(other, originator_id=1005, target_id=2002)
    url = reverse("admin:invites_invite_changelist")

    # when the list is opened, searched by target, by originator, with a word, filtered
    listing = admin_client.get(url)
    by_target = admin_client.get(url, {"q": "2002"})
    by_originator = admin_client.get(url, {"q": "1001"})
    by_word = admin_client.get(url, {"q": "party"})
    by_tenant = admin_client.get(url, {"tenant__id__exact": tenant.id})

    # then each shows the matching invites with their age
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 2
    assert "Age (s)" in listing.content.decode()
    assert [i.target_id for i in by_target.context["cl"].result_list] == [2002]
    assert [i.originator_id for i in by_originator.context["cl"].result_list] == [1001]
    assert by_word.status_code == 200
    assert by_word.context["cl"].result_count == 0
    assert [i.tenant_id for i in by_tenant.context["cl"].result_list] == [tenant.id]


def test_the_admin_is_read_only(admin_client):
    # given an invite
    invite = create(new_tenant())

    # when an operator tries to add, change or delete
    add = admin_client.get(reverse("admin:invites_invite_add"))
    delete = admin_client.post(
        reverse("admin:invites_invite_delete", args=[invite.pk]), {"post": "yes"}
    )
    view = admin_client.get(reverse("admin:invites_invite_change", args=[invite.pk]))

    # then adding and deleting are refused; the invite can only be viewed
    assert add.status_code == 403
    assert delete.status_code == 403
    assert view.status_code == 200
    assert Invite.objects.filter(pk=invite.pk).exists()
