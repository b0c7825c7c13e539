from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "project.tenancy"
    label = "tenancy"
    verbose_name = "Tenants"
