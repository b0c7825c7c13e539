"""The outside services the apps look up, and the local directory standing in for them.

Parties, messengers and transport ask the character service (a character's name,
level, job, GM level), the maps service (where a character is, who is in a map)
and the data service (a map's portals). Each question has one function here
(``characters.fetch``, ``characters.location``, ``maps.characters_in_map``,
``data.portals``) that asks the service over HTTP when its URL is configured
(``<DOMAIN>_SERVICE_URL``, else ``BASE_SERVICE_URL``), and otherwise answers from
tables in the database (the *local directory*), kept current from the character
status events and editable in the admin, so the project runs alone.

Calls may wait on the network: they belong in a handler's ``prepare`` step, never
inside the inbox transaction (docs/design.md, "lookups").
"""

from project.directory.errors import BadRequest, LookupFailed, NotFound, Unavailable

__all__ = ["BadRequest", "LookupFailed", "NotFound", "Unavailable"]
