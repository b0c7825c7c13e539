"""Typed readers for environment variables, so settings say once how each is parsed."""

import os
import re
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

# Upstream's variables that mean nothing here, each with why (docs/configuration.md):
# a process started with one says so once, in a warning, rather than ignore it
# silently or refuse an environment an operator's manifests share.
UPSTREAM_UNUSED = {
    "ATLAS_ENV": (
        "upstream prefixes its Redis keys and leader leases with it to share one Redis "
        "between environments; give each environment a Redis database of its own here "
        "(REDIS_URL=redis://host:6379/N); leader leases live in the database"
    ),
    "ATLAS_REDIS_ENV": (
        "upstream's Redis key prefix; give each environment a Redis database of its own "
        "here (REDIS_URL=redis://host:6379/N)"
    ),
    "KAFKA_CONSUMER_ENGINE": "upstream's choice of Go consumer; the bridge has one",
    "PROJECTION_CATCHUP_TIMEOUT_S": "upstream's projection catch-up; nothing here projects",
    "ATLAS_SERVICE_NAME": "upstream's seeder service name; transport's seed is built in",
}


def unused_upstream_variables() -> dict[str, str]:
    """Upstream's variables set in this environment that this project does not use."""
    return {name: why for name, why in UPSTREAM_UNUSED.items() if os.environ.get(name)}


def text(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def integer(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def flag(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    return raw in {"1", "true", "yes", "on"}


def items(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


NO_DATABASE = (
    "no database configured: set DATABASE_URL (postgres://user:password@host:port/name) "
    "or upstream's DB_HOST with DB_PORT, DB_NAME, DB_USER and DB_PASSWORD; "
    "SQLite is used only when chosen: DATABASE_URL=sqlite:////absolute/path"
)


def database_from_environment() -> dict:
    """The ``default`` database: ``DATABASE_URL``, else upstream's ``DB_*`` variables.

    There is no fallback. A process that silently opened a SQLite file of its own
    would, in a pod, keep its state in a file that vanishes with the pod, one per
    replica; the embedded stack and the tests choose SQLite explicitly instead.
    Upstream's pool settings (``DB_MAX_OPEN_CONNS`` …) apply to either form; see
    ``connection_settings``.
    """
    url = text("DATABASE_URL").strip()
    if url:
        config = database(url)
    elif text("DB_HOST").strip():
        config = _postgres(
            host=text("DB_HOST").strip(),
            port=text("DB_PORT").strip() or "5432",
            name=text("DB_NAME").strip(),
            user=text("DB_USER"),
            password=text("DB_PASSWORD"),
            source="DB_NAME",
        )
    else:
        raise ImproperlyConfigured(NO_DATABASE)
    if config["ENGINE"] == "django.db.backends.postgresql":
        config.update(connection_settings())
    return config


def connection_settings() -> dict:
    """Upstream's connection-pool variables, mapped onto Django's connection handling.

    Every process here holds at most one connection per thread and keeps it
    between tasks and requests (Django's persistent connections), so:

    - ``DB_CONN_MAX_LIFETIME`` (a Go duration) is ``CONN_MAX_AGE``: a connection
      older than that is closed after the task or request that finds it so;
    - ``DB_MAX_IDLE_CONNS=0`` (keep no idle connection) closes it after every one;
    - ``DB_CONN_MAX_IDLE_TIME``: Go closes connections idle that long so that none
      is used after a server or proxy dropped it; Django's way to the same end is
      a health check of a reused connection (``CONN_HEALTH_CHECKS``), on when set
      (off by default: it is a round trip before the first query of every task
      and bridge batch, and a dropped connection fails one attempt, which is
      retried, then is replaced);
    - ``DB_MAX_OPEN_CONNS`` bounds the threads of a threaded process (the lookups
      worker, see ``settings.DB_MAX_OPEN_CONNS``), as each thread holds one.
    """
    max_age = duration("DB_CONN_MAX_LIFETIME", 60.0)
    if integer("DB_MAX_IDLE_CONNS", 1) == 0:
        max_age = 0
    return {
        "CONN_MAX_AGE": max_age,
        "CONN_HEALTH_CHECKS": duration("DB_CONN_MAX_IDLE_TIME", 0.0) > 0,
    }


def database(url: str) -> dict:
    """Turn ``DATABASE_URL`` into a Django ``DATABASES`` entry.

    SQLite runs in WAL mode with IMMEDIATE transactions: a transaction takes the
    write lock when it starts, so concurrent workers queue instead of failing with
    "database is locked" half-way through, and per-key ordering holds because
    handling transactions are serialised.
    """
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        name = unquote(parsed.path[1:] if parsed.path.startswith("//") else parsed.path)
        return {
            "ENGINE": "project.db.sqlite",
            "NAME": name,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 60,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=60000;"
                ),
            },
            "TEST": {"NAME": f"{name}.test"},
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        try:
            port = parsed.port
        except ValueError:
            raise ImproperlyConfigured(
                "DATABASE_URL has an invalid port; expected postgres://user:password@host:port/name"
            ) from None
        return _postgres(
            host=unquote(parsed.hostname or ""),
            port=str(port or ""),
            name=unquote(parsed.path.lstrip("/")),
            user=unquote(parsed.username or ""),
            password=unquote(parsed.password or ""),
            source="DATABASE_URL",
        )
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parsed.scheme!r} is not supported; use "
        "postgres://user:password@host:port/name (or postgresql://) or sqlite:////absolute/path"
    )


def _postgres(*, host: str, port: str, name: str, user: str, password: str, source: str) -> dict:
    if not name and source == "DATABASE_URL":
        raise ImproperlyConfigured(
            "DATABASE_URL names no database; expected postgres://user:password@host:port/name"
        )
    if not name:
        raise ImproperlyConfigured("DB_HOST is set but DB_NAME is not: name the database")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": user,
        "PASSWORD": password,
        "HOST": host,
        "PORT": port,
    }


def redis_url(raw: str) -> str:
    """Accept upstream's scheme-less ``host:port`` form as well as a full URL."""
    if not raw:
        return "redis://127.0.0.1:6379/0"
    return raw if "://" in raw else f"redis://{raw}/0"


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")


def duration(name: str, default: float) -> float:
    """A Go duration (``10s``, ``1m30s``, ``500ms``) in seconds; a bare number is seconds."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(raw)
    if not parts or "".join(n + u for n, u in parts) != raw:
        raise ValueError(f"{name}={raw!r} is not a duration such as 10s or 500ms")
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
