"""Celery entry points of transport: the tick (beat entry ``transport-tick``) and reloads."""

from __future__ import annotations

from celery import shared_task

from project.tenancy.models import Tenant
from transport import clock, tick


@shared_task(ignore_result=True)
def tick_task() -> dict:
    """One tick: scheduled-route transitions and instance-route timers.

    Beat sends it every second; a tick that finds another one running returns at
    once (lease), and a late one catches up on what the previous ones left.
    """
    result = tick.run()
    return {"ran": result.ran, "transitions": result.transitions, "records": result.records}


@shared_task(ignore_result=True)
def reload_configuration_task(tenant_pk: int, scheduled: bool, instance: bool) -> bool:
    """Reload a tenant's configuration from the tenants service (a configuration
    status event): HTTP here, outside the inbox transaction that asked for it."""
    tenant = Tenant.objects.filter(pk=tenant_pk).first()
    if tenant is None:
        return False
    return tick.reload_from_tenants_service(
        tenant=tenant, now=clock.now(), scheduled=scheduled, instance=instance
    )
