"""Which apps this deployment runs, said once for every process that asks.

``ATLAS_SERVICES`` names the services (of the five) that run here; every other app,
the platform's own (the local directory) and extra apps, always runs. The bridge's
consumers, the before-serving work and the inbox sweeper follow it; so do beat's
schedules and the REST routes (in settings and urls, which name the services).
"""

from django.conf import settings


def runs(app: str) -> bool:
    """Whether the app labelled ``app`` runs in this deployment."""
    return app in settings.ATLAS_SERVICES or app not in settings.DOMAIN_APPS
