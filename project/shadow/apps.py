from django.apps import AppConfig


class ShadowConfig(AppConfig):
    name = "project.shadow"
    label = "shadow"
    verbose_name = "Shadow mode (comparison with the Go services)"
