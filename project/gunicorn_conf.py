"""gunicorn settings for the REST API and the admin (``gunicorn -c project/gunicorn_conf.py``).

Upstream's tenant headers have underscores (``TENANT_ID``, ``MAJOR_VERSION``);
gunicorn drops such headers unless ``header_map`` is ``dangerous``, which maps
them to the same WSGI keys as their dashed forms (a known pitfall;
Atlas' ingress sets ``underscores_in_headers on`` for the same reason).
Timeouts follow upstream's server: a request is answered within 10 s, idle
keep-alive connections are kept 120 s, a request body must arrive within 5 s
(``WEB_BODY_READ_TIMEOUT``, project/web.py; upstream's ``ReadTimeout``).

Workers are ``gthread``: each serves ``WEB_THREADS`` requests at once, and a
connection is handed to a thread only once it has data, so a slow or idle client
holds at most one thread, for at most the body deadline, never a whole worker
(with sync workers two clients that declare a body and stall stop a 2-worker API;
docs/design.md, "REST").
"""

import os

# Loopback unless told otherwise: the container's entry point binds all interfaces
# (GUNICORN_BIND=0.0.0.0:$REST_PORT), where the pod's network is the boundary.
bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('REST_PORT') or 8080}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
worker_class = "gthread"
# Each thread holds a database connection of its own: at most DB_MAX_OPEN_CONNS.
threads = int(
    os.environ.get("WEB_THREADS") or min(8, int(os.environ.get("DB_MAX_OPEN_CONNS") or 10))
)
header_map = "dangerous"
timeout = 10
keepalive = 120
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG") else None

# The settings are read once here, in the master: a configuration error (no
# database named, …) stops the server with its one line, where a worker failing
# to boot would be started again and again.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
from django.conf import settings  # noqa: E402

settings.DATABASES  # noqa: B018


def on_starting(server) -> None:
    """Before the server binds and its workers start: the apps' before-serving work
    (``project.startup``; transport loads every tenant's routes), so the first request
    finds it done. In a process of its own (``manage.py before_serving``), so this
    master forks its workers without a database connection or HTTP pool to share;
    stopped after ``BEFORE_SERVING_TIMEOUT`` seconds, and serving starts either way.
    """
    import subprocess
    import sys
    from pathlib import Path

    manage = Path(__file__).resolve().parent.parent / "manage.py"
    try:
        subprocess.run(
            [sys.executable, str(manage), "before_serving"],
            cwd=manage.parent,
            timeout=BEFORE_SERVING_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        server.log.warning("before-serving work stopped after %s s", BEFORE_SERVING_TIMEOUT)


# A hook bounds its own work (transport: 30 s, then the tick); this is the backstop.
BEFORE_SERVING_TIMEOUT = 120
