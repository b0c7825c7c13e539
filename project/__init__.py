"""The platform every Atlas app in this repository stands on."""

from project.celery import app as celery_app

__all__ = ["celery_app"]
