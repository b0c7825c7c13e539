"""Load the local directory's seed characters for a tenant (idempotent)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from project.directory.models import Character
from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row

SEED = Path(__file__).resolve().parents[2] / "fixtures" / "seed.json"
# The tenant the embedded stack seeds unless told otherwise (a fixed id, so an
# operator's client can be pointed at it: GMS v83.1).
DEFAULT_TENANT = "083839c6-c47c-42a6-9585-76492795d123"


class Command(BaseCommand):
    help = "Create or update the seed characters of the local directory for one tenant."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", default=DEFAULT_TENANT, help="tenant UUID")
        parser.add_argument("--region", default="GMS")
        parser.add_argument("--major", type=int, default=83)
        parser.add_argument("--minor", type=int, default=1)
        parser.add_argument("--file", default=str(SEED), help="seed JSON file")

    def handle(self, *args, **options) -> None:
        key = TenantKey(uuid.UUID(options["tenant"]), options["region"], options["major"],
                        options["minor"])  # fmt: skip
        seed = json.loads(Path(options["file"]).read_text())
        tenant = tenant_row(key)
        with transaction.atomic():
            for entry in seed["characters"]:
                values = dict(entry)
                character_id = values.pop("character_id")
                Character.objects.update_or_create(
                    tenant=tenant, character_id=character_id, defaults=values
                )
        self.stdout.write(f"local directory: {len(seed['characters'])} characters for {key}")
