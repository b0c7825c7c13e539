"""After the switch: the group a switched service keeps, whatever the settings say
once ``ATLAS_SHADOW`` no longer names it."""

from __future__ import annotations

import threading

import pytest

from project.messaging import bridge, registry
from project.shadow import switch
from project.shadow.models import ShadowService

pytestmark = pytest.mark.django_db

SHADOW_GROUP = "Notes Service (atlas-social shadow)"


@pytest.fixture(autouse=True)
def _no_groups_kept():
    yield
    registry.pin_groups({})


@pytest.fixture
def redeployed_with_the_go_services_environment(settings):
    """The deployment after the switch: ``ATLAS_SHADOW`` cleared, and the Go service's
    ``KAFKA_CONSUMER_GROUP`` still set (settings.py makes it the one service's group)."""
    settings.ATLAS_SHADOW = []
    settings.SHADOW_UPSTREAM_GROUPS = {}
    settings.KAFKA_CONSUMER_GROUPS = {"notes": "Notes Service"}


def test_a_switched_service_consumes_under_its_shadow_group_once_shadow_mode_is_cleared(
    redeployed_with_the_go_services_environment, settings
):
    notes = registry.get("notes")
    assert notes.group == "Notes Service"  # what the settings alone would give: upstream's
    ShadowService.objects.create(app="notes", state="live", group=SHADOW_GROUP)
    assert switch.keep_groups() == {"notes": (SHADOW_GROUP, "Notes Service")}
    assert notes.group == SHADOW_GROUP
    # the bridge's consumer and its assignment watch join the kept group
    thread = bridge.AppBridge(notes, threading.Event())
    assert thread.spec.group == SHADOW_GROUP
    assert thread.assignment_watch.group == SHADOW_GROUP
    # settings naming the kept group (as shadow_switch says to): nothing to say
    settings.KAFKA_CONSUMER_GROUPS = {"notes": SHADOW_GROUP}
    assert switch.keep_groups() == {}
    assert notes.group == SHADOW_GROUP


def test_a_service_still_in_shadow_or_never_switched_keeps_no_group(
    redeployed_with_the_go_services_environment,
):
    ShadowService.objects.create(app="notes", state="shadow")
    assert switch.keep_groups() == {}
    assert registry.get("notes").group == "Notes Service"
