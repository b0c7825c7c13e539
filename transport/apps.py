from django.apps import AppConfig


class TransportConfig(AppConfig):
    name = "transport"
    # Every tenant's routes are loaded before the bridge consumes and the web serves.
    before_serving = "transport.tick.configure_at_start"
