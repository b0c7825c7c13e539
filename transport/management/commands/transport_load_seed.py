"""Load the shipped route configuration (transport/seed/) for one tenant."""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from project.tenancy import TenantKey
from project.tenancy.rows import tenant_row
from transport import clock, config, services


class Command(BaseCommand):
    help = "Load transport/seed/ (12 routes, 6 vessels, 12 instance routes) for a tenant."

    def add_arguments(self, parser) -> None:
        parser.add_argument("tenant_id", type=uuid.UUID)
        parser.add_argument("--region", default="GMS")
        parser.add_argument("--major", type=int, default=83)
        parser.add_argument("--minor", type=int, default=1)

    def handle(self, *args, **options) -> None:
        key = TenantKey(options["tenant_id"], options["region"], options["major"], options["minor"])
        try:
            services.seed_configuration_load(tenant=tenant_row(key), now=clock.now())
        except config.ConfigError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"loaded the seed route configuration for {key}")
