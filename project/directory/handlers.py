"""The local directory's own consumer of the character status topic.

Registered only when some lookups are local (no character or maps service URL),
under a group of its own (``Atlas Local Directory``), so it reads every character
event whatever the apps' groups do, and costs nothing when real services answer.
"""

from __future__ import annotations

from project.contracts import character_status as cs
from project.directory import http, services
from project.messaging import registry

if not (http.configured("CHARACTERS") and http.configured("MAPS")):
    consumer = registry.consumer("directory", group="Atlas Local Directory")
    topic = cs.EVENT_TOPIC_CHARACTER_STATUS
    for type_, service in [
        (cs.LOGIN, services.character_logged_in),
        (cs.LOGOUT, services.character_logged_out),
        (cs.CHANNEL_CHANGED, services.character_changed_channel),
        (cs.MAP_CHANGED, services.character_changed_map),
        (cs.LEVEL_CHANGED, services.character_changed_level),
        (cs.JOB_CHANGED, services.character_changed_job),
        (cs.GM_CHANGED, services.character_changed_gm),
        (cs.NAME_CHANGED, services.character_renamed),
        (cs.DELETED, services.character_deleted),
    ]:
        consumer.event(topic, type_, cs.SCHEMAS[type_], service=service)
