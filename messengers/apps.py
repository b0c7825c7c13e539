from django.apps import AppConfig


class MessengersConfig(AppConfig):
    name = "messengers"
