from django.apps import AppConfig


class EchoConfig(AppConfig):
    """A test-only subscription that exercises the platform without any game rules."""

    name = "tests.echo"
    label = "echo"
    before_serving = "tests.echo.startup.before_serving"

    def ready(self) -> None:
        from tests.echo import faults

        faults.install()  # inert unless a test sets the fault in a process's environment
