from django.apps import AppConfig


class EchoConfig(AppConfig):
    """A test-only subscription that exercises the platform without any game rules."""

    name = "tests.echo"
    label = "echo"
    before_serving = "tests.echo.startup.before_serving"
