"""Keeping the local directory current from character status events.

What atlas-character and atlas-maps would know: login and logout, channel and
map changes, level, job, GM and name changes, deletion. A character first seen
in an event gets a row with what the event says (an operator can complete it in
the admin). Upstream has no such table; these writes serve only the local
stand-in for the outside services.
"""

from __future__ import annotations

import uuid

from django.db import transaction

from project.directory.models import Character
from project.tenancy.models import Tenant


def _character(tenant: Tenant, character_id: int, world_id: int) -> Character:
    character, _ = Character.objects.select_for_update().get_or_create(
        tenant=tenant, character_id=character_id, defaults={"world_id": world_id}
    )
    return character


def character_logged_in(
    *, tenant: Tenant, character_id: int, world_id: int, channel_id: int, map_id: int,
    instance: uuid.UUID,
) -> None:  # fmt: skip
    _set(
        tenant,
        character_id,
        world_id,
        world_id=world_id,
        channel_id=channel_id,
        map_id=map_id,
        instance=instance,
        online=True,
    )


def character_logged_out(*, tenant: Tenant, character_id: int, world_id: int) -> None:
    _set(tenant, character_id, world_id, online=False)


def character_changed_channel(
    *, tenant: Tenant, character_id: int, world_id: int, channel_id: int
) -> None:
    _set(tenant, character_id, world_id, channel_id=channel_id)


def character_changed_map(
    *, tenant: Tenant, character_id: int, world_id: int, channel_id: int, target_map_id: int,
    target_instance: uuid.UUID,
) -> None:  # fmt: skip
    _set(
        tenant,
        character_id,
        world_id,
        channel_id=channel_id,
        map_id=target_map_id,
        instance=target_instance,
    )


def character_changed_level(*, tenant: Tenant, character_id: int, world_id: int, current: int):
    _set(tenant, character_id, world_id, level=current)


def character_changed_job(*, tenant: Tenant, character_id: int, world_id: int, job_id: int):
    _set(tenant, character_id, world_id, job_id=job_id)


def character_changed_gm(*, tenant: Tenant, character_id: int, world_id: int, new_gm: bool):
    """The event says only whether the character is a GM; 1 stands for "some GM level"."""
    _set(tenant, character_id, world_id, gm=1 if new_gm else 0)


def character_renamed(*, tenant: Tenant, character_id: int, world_id: int, new_name: str):
    _set(tenant, character_id, world_id, name=new_name[:64])


def character_deleted(*, tenant: Tenant, character_id: int) -> None:
    with transaction.atomic():
        Character.objects.filter(tenant=tenant, character_id=character_id).delete()


def _set(tenant: Tenant, character_id: int, world_id: int, **values: object) -> None:
    """Change these fields of the character's entry (made, in ``world_id``, if missing)."""
    with transaction.atomic():
        character = _character(tenant, character_id, world_id)
        for name, value in values.items():
            setattr(character, name, value)
        character.save(update_fields=[*values, "updated_at"])
