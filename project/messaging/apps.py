import logging

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules

from project import env

logger = logging.getLogger("project.settings")


class MessagingConfig(AppConfig):
    name = "project.messaging"
    label = "messaging"
    verbose_name = "Messaging (inbox, outbox)"

    def ready(self) -> None:
        # Every app's handlers.py registers its subscriptions with the registry.
        autodiscover_modules("handlers")
        for name, why in env.unused_upstream_variables().items():
            logger.warning("%s is set but not used here: %s", name, why)
