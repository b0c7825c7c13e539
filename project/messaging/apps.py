from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class MessagingConfig(AppConfig):
    name = "project.messaging"
    label = "messaging"
    verbose_name = "Messaging (inbox, outbox)"

    def ready(self) -> None:
        # Every app's handlers.py registers its subscriptions with the registry.
        autodiscover_modules("handlers")
