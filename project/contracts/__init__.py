"""Wire contracts several apps share: one definition each, imported by every app.

- ``character_status``: the character status topic (produced by atlas-character
  and atlas-maps), consumed by all five services.
- ``invites``: the invite CREATE command (sent by parties and messengers) and the
  invite status events (consumed by them), owned by the invites app.
"""
