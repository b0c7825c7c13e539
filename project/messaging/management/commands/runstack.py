"""``manage.py runstack``: the whole project on one machine, one command (see project/stack.py)."""

import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from project.stack import Stack, StackConfig


def ensure_admin(password: str) -> bool:
    """Create the superuser ``admin`` if the database has no user at all."""
    try:
        user_model = get_user_model()
        if user_model.objects.exists():
            return False
        user_model.objects.create_superuser(username="admin", email="", password=password)
        return True
    finally:
        connections.close_all()


class Command(BaseCommand):
    help = (
        "Start Kafka (unless BOOTSTRAP_SERVERS is set; Tansu, or Apache Kafka with "
        "--kafka), Redis (unless REDIS_URL is set), "
        "migrate, then bridge, worker, beat, relay, web (admin) and Flower; "
        "Ctrl-C or SIGTERM stops them all."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        for option, default, what, env, usual in (
            ("--kafka-port", settings.STACK_KAFKA_PORT, "embedded Kafka broker port",
             "ATLAS_KAFKA_PORT", 9092),
            ("--redis-port", settings.STACK_REDIS_PORT, "embedded Redis port",
             "ATLAS_REDIS_PORT", 6379),
            ("--web-port", settings.STACK_WEB_PORT, "REST and admin port", "REST_PORT", 8080),
            ("--flower-port", settings.STACK_FLOWER_PORT, "Flower port", "ATLAS_FLOWER_PORT", 5555),
        ):  # fmt: skip
            parser.add_argument(
                option, type=int, default=default, help=f"{what} (env {env}, default {usual})"
            )
        parser.add_argument(
            "--kafka",
            action="store_const",
            const="kafka",
            dest="broker",
            default="tansu",
            help=(
                "run a local Apache Kafka (jars fetched by Maven once; Java 17) with its "
                "data under the data directory, instead of the embedded memory-only Tansu"
            ),
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.STACK_WORKER_CONCURRENCY,
            help="Celery worker concurrency (env ATLAS_WORKERS, default 2)",
        )

    def handle(self, *args: object, **options) -> None:
        _check_database()
        config = StackConfig(
            base_dir=Path(settings.BASE_DIR),
            data_dir=Path(settings.DATA_DIR).resolve(),
            kafka_port=options["kafka_port"],
            redis_port=options["redis_port"],
            web_port=options["web_port"],
            flower_port=options["flower_port"],
            workers=options["workers"],
            admin_password=settings.STACK_ADMIN_PASSWORD,
            broker=options["broker"],
            max_connections=settings.DB_MAX_OPEN_CONNS,
            services=tuple(settings.ATLAS_SERVICES),
        )
        code = Stack(config, ensure_admin=ensure_admin).run()
        if code:
            sys.exit(code)


def _check_database() -> None:
    """Before starting anything: the database must answer (one line if it does not)."""
    from django.db import OperationalError, connection

    try:
        connection.ensure_connection()
    except OperationalError as exc:
        db = settings.DATABASES["default"]
        where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"
        if "sqlite" in db["ENGINE"]:
            where = db["NAME"]
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CommandError(
            f"cannot reach the database {where} ({first}); start it or fix DATABASE_URL"
        ) from None
    finally:
        connection.close()
