from django.db import models

from project.tenancy.models import Tenant


class Effect(models.Model):
    """One row per handled PING: the observable effect whose count must be exactly one."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    key_id = models.PositiveBigIntegerField()
    seq = models.PositiveBigIntegerField()
    inbox_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["key_id", "id"])]

    def __str__(self) -> str:
        return f"{self.key_id}#{self.seq}"
