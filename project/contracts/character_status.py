"""``EVENT_TOPIC_CHARACTER_STATUS``: the envelope and the bodies the five services read.
Key: ``key_u32(characterId)``.

One schema per event type, each the whole envelope with that type's body, so a
subscription can register exactly the types it acts on; the rest are skipped.
"""

from __future__ import annotations

from project.messaging.schemas import I16, U8, U16, U32, UUID, Bool, GoSchema, Object, Str

EVENT_TOPIC_CHARACTER_STATUS = "EVENT_TOPIC_CHARACTER_STATUS"

LOGIN = "LOGIN"
LOGOUT = "LOGOUT"
CHANNEL_CHANGED = "CHANNEL_CHANGED"
MAP_CHANGED = "MAP_CHANGED"
DELETED = "DELETED"
LEVEL_CHANGED = "LEVEL_CHANGED"
JOB_CHANGED = "JOB_CHANGED"
GM_CHANGED = "GM_CHANGED"
NAME_CHANGED = "NAME_CHANGED"


class _Envelope(GoSchema):
    transactionId = UUID()
    worldId = U8()
    characterId = U32()
    type = Str()


class LocationBody(GoSchema):
    """LOGIN and LOGOUT."""

    channelId = U8()
    mapId = U32()
    instance = UUID()


class ChannelChangedBody(GoSchema):
    channelId = U8()
    oldChannelId = U8()
    mapId = U32()
    instance = UUID()


class MapChangedBody(GoSchema):
    channelId = U8()
    oldMapId = U32()
    oldInstance = UUID()
    targetMapId = U32()
    targetInstance = UUID()
    targetPortalId = U32()
    useTargetPosition = Bool()
    targetX = I16()
    targetY = I16()


class EmptyBody(GoSchema):
    """``DELETED`` has an empty body; it must still be an object, null or absent."""


class LevelChangedBody(GoSchema):
    channelId = U8()
    amount = U8()
    current = U8()


class JobChangedBody(GoSchema):
    channelId = U8()
    jobId = U16()


class GmChangedBody(GoSchema):
    oldGm = Bool()
    newGm = Bool()


class NameChangedBody(GoSchema):
    oldName = Str()
    newName = Str()


class LoginEvent(_Envelope):
    body = Object(LocationBody)


class LogoutEvent(_Envelope):
    body = Object(LocationBody)


class ChannelChangedEvent(_Envelope):
    body = Object(ChannelChangedBody)


class MapChangedEvent(_Envelope):
    body = Object(MapChangedBody)


class DeletedEvent(_Envelope):
    body = Object(EmptyBody)


class LevelChangedEvent(_Envelope):
    body = Object(LevelChangedBody)


class JobChangedEvent(_Envelope):
    body = Object(JobChangedBody)


class GmChangedEvent(_Envelope):
    body = Object(GmChangedBody)


class NameChangedEvent(_Envelope):
    body = Object(NameChangedBody)


SCHEMAS: dict[str, type[GoSchema]] = {
    LOGIN: LoginEvent,
    LOGOUT: LogoutEvent,
    CHANNEL_CHANGED: ChannelChangedEvent,
    MAP_CHANGED: MapChangedEvent,
    DELETED: DeletedEvent,
    LEVEL_CHANGED: LevelChangedEvent,
    JOB_CHANGED: JobChangedEvent,
    GM_CHANGED: GmChangedEvent,
    NAME_CHANGED: NameChangedEvent,
}
