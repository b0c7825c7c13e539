"""Typed readers for environment variables, so settings say once how each is parsed."""

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ImproperlyConfigured


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


def database(url: str, sqlite_default: Path) -> dict:
    """Turn ``DATABASE_URL`` into a Django ``DATABASES`` entry.

    SQLite runs in WAL mode with IMMEDIATE transactions: a transaction takes the
    write lock when it starts, so concurrent workers queue instead of failing with
    "database is locked" half-way through, and per-key ordering holds because
    handling transactions are serialised.
    """
    if not url:
        url = f"sqlite:///{sqlite_default}"
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
        if not parsed.path.lstrip("/"):
            raise ImproperlyConfigured(
                "DATABASE_URL names no database; expected postgres://user:password@host:port/name"
            )
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": unquote(parsed.hostname or ""),
            "PORT": str(port or ""),
            "CONN_MAX_AGE": 60,
            # A health check is a SELECT 1 round trip before the first query of every
            # task and every bridge batch. Without it a connection the server dropped
            # fails its next query once (a transient failure: retried) and is replaced.
            "CONN_HEALTH_CHECKS": False,
        }
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parsed.scheme!r} is not supported; use "
        "postgres://user:password@host:port/name (or postgresql://) or sqlite:////absolute/path"
    )


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
