from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "project.directory"
    label = "directory"
    verbose_name = "Local directory (characters, portals)"
