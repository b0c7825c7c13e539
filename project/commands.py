"""What several management commands share: the ``--apps`` choice, and writing a
generated document (``openapi``, ``asyncapi``)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser


def app_list(text: str) -> list[str]:
    """``--apps invites, parties``: the labels named, blanks dropped (none: the default)."""
    return [label.strip() for label in text.split(",") if label.strip()]


def add_apps_argument(parser: CommandParser, what: str) -> None:
    """``--apps``: the apps the command does ``what`` for (a list, empty: its default)."""
    parser.add_argument(
        "--apps",
        default=[],
        type=app_list,
        help=f"comma-separated app labels to {what} (default: every app ATLAS_SERVICES "
        "runs, and the platform's own)",
    )


class DocumentCommand(BaseCommand):
    """``manage.py <document> [--running] [--output FILE]``: write a document the code
    generates, of every service (as committed in docs/) or of this deployment's."""

    running_help = "this deployment's services"

    def document(self, *, running: bool) -> str:
        raise NotImplementedError

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--running", action="store_true", help=self.running_help)
        parser.add_argument("--output", help="write to this file instead of standard output")

    def handle(self, *args: object, running: bool, output: str | None, **options: object) -> None:
        text = self.document(running=running)
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
