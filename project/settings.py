"""Django settings: every value comes from an environment variable, read here once.

Upstream variable names are kept (``BOOTSTRAP_SERVERS``, ``REDIS_URL``,
``KAFKA_CONSUMER_GROUP``, ``ATLAS_ENVIRONMENT`` …); see README.md for the list.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from project import env

BASE_DIR = Path(__file__).resolve().parent.parent
# Absolute, so that every process (and the SQLite URL built from it) agrees on it
# whatever its working directory; empty means the default.
DATA_DIR = Path(env.text("ATLAS_DATA_DIR") or BASE_DIR / ".run").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# No fallback: a process started without it refuses in one line. bin/stack and the
# tests set a development key explicitly, as they name their database.
SECRET_KEY = env.text("DJANGO_SECRET_KEY").strip()
if not SECRET_KEY:
    raise SystemExit(
        "atlas: configuration error: DJANGO_SECRET_KEY is not set: give every process "
        'the same long random value (e.g. from a Secret; python -c "import secrets; '
        'print(secrets.token_urlsafe(50))")'
    )
DEBUG = env.flag("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env.items("DJANGO_ALLOWED_HOSTS") or ["localhost", "127.0.0.1", "[::1]"]

# --- Behind TLS (deploy/README.md) ----------------------------------------------
# TLS ends at the ingress; pods and in-cluster callers (other Atlas services, probes)
# speak plain HTTP to gunicorn. The session and CSRF cookies are marked Secure when
# DJANGO_SECURE_COOKIES is set (the manifests set it: the admin is reached over the
# ingress's HTTPS, or a port-forward to localhost, which browsers treat as secure).
SECURE_COOKIES = env.flag("DJANGO_SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
# The ingress's X-Forwarded-Proto tells Django a request came over HTTPS.
if env.flag("DJANGO_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.integer("DJANGO_SECURE_HSTS_SECONDS", 0)
# Silenced for `manage.py check --deploy`, each justified in deploy/README.md:
# W004 (HSTS): Strict-Transport-Security is the TLS terminator's header (the ingress);
#   Django sees only plain HTTP. DJANGO_SECURE_HSTS_SECONDS sets it here if wanted.
# W008 (SSL redirect): in-cluster callers and the kubelet's probes use plain HTTP, as
#   upstream's services do; a redirect to HTTPS would break them.
SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008"]

DOMAIN_APPS = ["invites", "parties", "messengers", "transport", "notes"]
# The services this deployment runs (unset: all five), so an operator can replace
# upstream's Go services one at a time: the others' topics are not consumed, their
# schedules do not run, their REST routes are not served and their events are not
# published here. Every app stays installed (models, admin, migrations).
ATLAS_SERVICES = env.items("ATLAS_SERVICES") or list(DOMAIN_APPS)
if unknown_services := sorted(set(ATLAS_SERVICES) - set(DOMAIN_APPS)):
    raise SystemExit(
        f"atlas: configuration error: ATLAS_SERVICES names {', '.join(unknown_services)}; "
        f"the services are {', '.join(DOMAIN_APPS)}"
    )

# Shadow mode (docs/shadow.md): these running services consume and handle every
# record into their own database, under consumer groups of their own, but publish
# nothing and refuse REST writes; their outgoing records are compared with what the
# Go service published (manage.py shadow_compare) until manage.py shadow_switch
# turns them live. A shadowed service must also be running; an unknown name is refused.
ATLAS_SHADOW = env.items("ATLAS_SHADOW")
if unknown_shadow := sorted(set(ATLAS_SHADOW) - set(ATLAS_SERVICES)):
    raise SystemExit(
        f"atlas: configuration error: ATLAS_SHADOW names {', '.join(unknown_shadow)}, which "
        f"{'is' if len(unknown_shadow) == 1 else 'are'} not among the services this "
        f"deployment runs ({', '.join(ATLAS_SERVICES)}); the services are {', '.join(DOMAIN_APPS)}"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "project.tenancy",
    "project.messaging",
    "project.directory",
    "project.shadow",
    *DOMAIN_APPS,
    # Extra apps, e.g. the test-only ``tests.echo`` subscription used by the
    # platform tests and the benchmark.
    *env.items("ATLAS_EXTRA_APPS"),
]
EXTRA_APPS = env.items("ATLAS_EXTRA_APPS")

MIDDLEWARE = [
    # /api/ answers whatever the Host (probes send the pod IP); the admin checks it.
    "project.web.ApiHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The admin's static files, served by the application server itself.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A shadowed service's REST writes are refused (project/shadow/web.py).
    "project.shadow.web.ShadowWriteGuard",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# DATABASE_URL, else upstream's DB_* variables; neither: the process refuses to start
# (in one line, from every process: bridge, workers, beat, relay, web, manage.py).
try:
    DATABASES = {"default": env.database_from_environment()}
except (ImproperlyConfigured, ValueError) as error:
    raise SystemExit(f"atlas: configuration error: {error}") from None
# Each thread holds one connection: the lookups worker runs at most this many threads.
DB_MAX_OPEN_CONNS = env.integer("DB_MAX_OPEN_CONNS", 10)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
# ``collectstatic`` (run by runstack before the web server starts) gathers the
# admin's files here; WhiteNoise serves them with DEBUG off, and falls back to the
# apps' own folders (finders) when they were not collected.
# ATLAS_STATIC_ROOT: elsewhere (the container collects them into its image at build time).
STATIC_ROOT = Path(env.text("ATLAS_STATIC_ROOT") or DATA_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- REST ----------------------------------------------
# The HTTP port of the REST API and the admin (one gunicorn server, see gunicorn.conf.py).
REST_PORT = env.integer("REST_PORT", 8080)
# A request body must arrive within this many seconds (upstream's ReadTimeout is 5 s)
# or the request is answered 408 and its connection closed (project/web.py).
WEB_BODY_READ_TIMEOUT = env.number("WEB_BODY_READ_TIMEOUT", 5.0)
# The largest REST request body: the largest record the producer takes (no bigger
# body could become a publishable record); larger is a 413 (project/web.py).
REST_MAX_BODY_BYTES = 1024 * 1024

# --- Observability (project/observability) ------------------------------------
# Upstream's variables: spans go over OTLP gRPC to TRACE_ENDPOINT (unset: no tracing
# at all), sampled parent-based at TRACE_SAMPLING_RATIO; SERVICE_NAME names them.
TRACE_ENDPOINT = env.text("TRACE_ENDPOINT")
TRACE_SAMPLING_RATIO = env.number("TRACE_SAMPLING_RATIO", 1.0)
TRACE_SERVICE_NAME = env.text("SERVICE_NAME", "atlas-social")
# Metrics of every process of a machine meet in this directory (prometheus-client's
# multiprocess mode, read by prometheus-client itself from the environment; runstack
# sets it to $ATLAS_DATA_DIR/metrics). Unset: each process counts for itself.
PROMETHEUS_MULTIPROC_DIR = env.text("PROMETHEUS_MULTIPROC_DIR")
if PROMETHEUS_MULTIPROC_DIR:  # prometheus-client fails on the first count without it
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
# "json": one JSON object per log line (time, level, logger, message, extra fields).
LOG_FORMAT = env.text("LOG_FORMAT", "plain").lower()
# Periodic tasks send no task events: Flower lists the work, not every idle sweep.
CELERY_TASK_ANNOTATIONS = ["project.observability.flower.QuietPeriodicEvents"]

KAFKA_LOG_LEVEL = env.text("KAFKA_LOG_LEVEL").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "project.observability.logs.JsonFormatter"},
    },
    # Beat's, and the worker's, line per run of an idle periodic task: dropped.
    "filters": {"quiet_periodic": {"()": "project.observability.logs.QuietPeriodicTasks"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["quiet_periodic"],
        }
    },
    "root": {"handlers": ["console"], "level": env.text("LOG_LEVEL", "INFO").upper()},
    # kafka-python's connection layer logs every failed reconnect (several a second
    # while a broker is away); the bridge and relay say "Kafka cannot be reached"
    # themselves, once a minute. KAFKA_LOG_LEVEL, when set, applies to all of it.
    "loggers": {
        "kafka": {"level": KAFKA_LOG_LEVEL or "WARNING"},
        "kafka.net": {"level": KAFKA_LOG_LEVEL or "CRITICAL"},
        # It also says "Topic … not found" ten times a second while a producer waits
        # for a missing topic; ensure_topics names such a topic once, with its setting.
        "kafka.cluster": {"level": KAFKA_LOG_LEVEL or "CRITICAL"},
    },
}

# --- Kafka -------------------------------------------------------------------
BOOTSTRAP_SERVERS = env.items("BOOTSTRAP_SERVERS") or ["127.0.0.1:9092"]
# Upstream's KAFKA_CONSUMER_GROUP names one service's group (each Go Deployment sets
# its own); here it names the group of the one service ATLAS_SERVICES runs. Each
# app's own KAFKA_CONSUMER_GROUP_<APP> (e.g. KAFKA_CONSUMER_GROUP_NOTES, or _DIRECTORY
# for the local directory's) names its group whatever runs beside it. Unset:
# upstream's group names ("Notes Service" …).
# Two apps never share a group (registry.check_groups refuses it): several apps
# read the same topics, and each must receive every record.
KAFKA_CONSUMER_GROUP = env.text("KAFKA_CONSUMER_GROUP").strip()
if KAFKA_CONSUMER_GROUP and len(ATLAS_SERVICES) != 1:
    raise SystemExit(
        "atlas: configuration error: KAFKA_CONSUMER_GROUP names one service's consumer "
        f"group, but {len(ATLAS_SERVICES)} services run ({', '.join(ATLAS_SERVICES)}): "
        "set ATLAS_SERVICES to that one service, or name each service's group with "
        "KAFKA_CONSUMER_GROUP_<SERVICE> (e.g. KAFKA_CONSUMER_GROUP_NOTES)"
    )
KAFKA_CONSUMER_GROUPS = {
    app: group
    for app in [*DOMAIN_APPS, "directory", *(name.rsplit(".", 1)[-1] for name in EXTRA_APPS)]
    if (group := env.text(f"KAFKA_CONSUMER_GROUP_{app.upper()}").strip())
}
# In shadow mode the Go service still consumes under its group, so upstream's
# KAFKA_CONSUMER_GROUP names *its* group (where shadow_switch reads the boundary),
# and the shadow consumes under a group of its own (registry.Consumer.group).
SHADOW_UPSTREAM_GROUPS: dict[str, str] = {}
if KAFKA_CONSUMER_GROUP and ATLAS_SERVICES[0] in ATLAS_SHADOW:
    SHADOW_UPSTREAM_GROUPS[ATLAS_SERVICES[0]] = KAFKA_CONSUMER_GROUP
elif KAFKA_CONSUMER_GROUP:  # the one service's, unless its own setting names one
    KAFKA_CONSUMER_GROUPS.setdefault(ATLAS_SERVICES[0], KAFKA_CONSUMER_GROUP)
# Partition count for topics this project creates (upstream pre-creates 1).
KAFKA_TOPIC_PARTITIONS = env.integer("KAFKA_TOPIC_PARTITIONS", 1)
# Their replication factor: 1 suits one broker; a cluster wants 3 (with the
# broker's min.insync.replicas 2, a send is acknowledged by two replicas).
KAFKA_TOPIC_REPLICATION_FACTOR = env.integer("KAFKA_TOPIC_REPLICATION_FACTOR", 1)
# Tansu completes a group join only after about half the session timeout, so a
# short timeout keeps start-up quick; real Kafka is fine with it too.
KAFKA_SESSION_TIMEOUT_MS = env.integer("KAFKA_SESSION_TIMEOUT_MS", 6000)
KAFKA_HEARTBEAT_INTERVAL_MS = env.integer("KAFKA_HEARTBEAT_INTERVAL_MS", 1000)
# The bridge commits its consumers' offsets at most this often while records flow
# (and when they stop); the inbox recognises records read again after a restart.
KAFKA_COMMIT_INTERVAL_MS = env.integer("KAFKA_COMMIT_INTERVAL_MS", 1000)
# How long a fetch may wait for records. Tansu (the embedded broker) answers a
# fetch only when this wait is over, even when records came meanwhile, so it is
# also the latency each consumer hop adds (half of it on average); a real Kafka
# answers as soon as records come. The first wait applies while records flow,
# the second to a consumer idle for 2 s (an idle poll costs CPU in the bridge and
# the broker). See README "Latency and the cost of a message".
KAFKA_FETCH_MAX_WAIT_MS = env.integer("KAFKA_FETCH_MAX_WAIT_MS", 10)
KAFKA_FETCH_IDLE_WAIT_MS = env.integer("KAFKA_FETCH_IDLE_WAIT_MS", 100)
# While records flow, a fetch asks Apache Kafka (which otherwise answers as soon as
# one record is there) to gather this many bytes, a few records, for up to the
# fetch wait: fewer, larger fetches, batches and transactions, less CPU and a
# shorter tail on a busy machine. An idle consumer asks for 1 byte. Tansu ignores it.
KAFKA_FETCH_MIN_BYTES = env.integer("KAFKA_FETCH_MIN_BYTES", 1024)
# After a poll that brought few records while records flow, the bridge waits up
# to this long for the fetch already on its way and stores its records with
# them: every batch costs a transaction, a task, a worker and a relay wake-up
# whatever its size (bridge.Linger). 0: each poll is stored at once.
KAFKA_BRIDGE_LINGER_MS = env.integer("KAFKA_BRIDGE_LINGER_MS", 20)
ATLAS_ENVIRONMENT = env.text("ATLAS_ENVIRONMENT")

# --- Inbox / outbox ----------------------------------------------------------
INBOX_MAX_ATTEMPTS = env.integer("INBOX_MAX_ATTEMPTS", 5)
# Rows of one key handled per transaction (each in its own savepoint).
INBOX_BATCH = env.integer("INBOX_BATCH", 50)
# Ordering keys drained by one Celery task (fewer messages per burst; keys of
# different tasks still run in parallel).
INBOX_KEYS_PER_TASK = env.integer("INBOX_KEYS_PER_TASK", 8)
INBOX_RETRY_BASE_SECONDS = env.number("INBOX_RETRY_BASE_SECONDS", 0.5)
INBOX_RETRY_MAX_SECONDS = env.number("INBOX_RETRY_MAX_SECONDS", 30.0)
# A pending row older than this is presumed lost (worker killed, queue flushed)
# and is enqueued again by the sweeper.
INBOX_STALE_SECONDS = env.number("INBOX_STALE_SECONDS", 10.0)
INBOX_SWEEP_SECONDS = env.number("INBOX_SWEEP_SECONDS", 5.0)
OUTBOX_SWEEP_SECONDS = env.number("OUTBOX_SWEEP_SECONDS", 5.0)
OUTBOX_RELAY_POLL_SECONDS = env.number("OUTBOX_RELAY_POLL_SECONDS", 1.0)
OUTBOX_RELAY_BATCH = env.integer("OUTBOX_RELAY_BATCH", 500)
# After a wake-up the relay waits this long for more commits before reading.
OUTBOX_RELAY_LINGER_SECONDS = env.number("OUTBOX_RELAY_LINGER_SECONDS", 0.005)
OUTBOX_RETENTION_DAYS = env.integer("OUTBOX_RETENTION_DAYS", 7)
INBOX_RETENTION_DAYS = env.integer("INBOX_RETENTION_DAYS", 7)

# --- Shadow mode (project/shadow, docs/shadow.md) ------------------------------
# An outgoing record of ours and one the Go service published are paired only if
# they were written within this many seconds of each other; one left unpaired
# longer is missing on the other side.
SHADOW_WINDOW_SECONDS = env.number("SHADOW_WINDOW_SECONDS", 10.0)
# The comparer's consumer group (it reads the shadowed services' output topics).
SHADOW_COMPARER_GROUP = env.text("SHADOW_COMPARER_GROUP", "Atlas Shadow Comparer")
# The known differences (data, beside docs/compatibility.md).
SHADOW_RULES_FILE = Path(env.text("SHADOW_RULES_FILE") or BASE_DIR / "docs" / "shadow-rules.json")

# --- Invites -----------------------------------------------------------------
INVITE_TIMEOUT_SECONDS = env.number("INVITE_TIMEOUT_SECONDS", 180.0)
INVITE_SWEEP_SECONDS = env.number("INVITE_SWEEP_SECONDS", 5.0)

# --- Outside services (project/directory) ---------------------------------------
# Upstream's variables: <DOMAIN>_SERVICE_URL, else BASE_SERVICE_URL (each ends with
# "/api/"); neither set → the local directory in the database answers.
BASE_SERVICE_URL = env.text("BASE_SERVICE_URL")
SERVICE_URLS = {
    domain: env.text(f"{domain}_SERVICE_URL") or BASE_SERVICE_URL
    for domain in ("CHARACTERS", "MAPS", "DATA", "TENANTS")
}
# Per-attempt timeout of outgoing calls (a Go duration, as upstream: "10s").
HTTP_CLIENT_TIMEOUT = env.duration("HTTP_CLIENT_TIMEOUT", 10.0)

# --- Parties (parties/) ----------------------------------------------------

# --- Messengers (messengers/) -------------------------------------------------

# --- Notes (notes/) -------------------------------------------------------------

# --- Transport (transport/) -----------------------------------------------------
# Beat period of the tick (upstream: 1 s).
TRANSPORT_TICK_SECONDS = env.number("TRANSPORT_TICK_SECONDS", 1.0)
# After an outage (stopped beat, restart), missed boundaries up to this far back are
# replayed in order; older ones are skipped and the route jumps to its current state.
TRANSPORT_CATCH_UP_SECONDS = env.number("TRANSPORT_CATCH_UP_SECONDS", 3600.0)
# The tick's lease (one tick at a time); a crashed tick frees it after this long.
TRANSPORT_LEASE_SECONDS = env.number("TRANSPORT_LEASE_SECONDS", 30.0)
# With a tenants service: how often the tick re-reads the tenant list for new tenants.
TRANSPORT_TENANT_REFRESH_SECONDS = env.number("TRANSPORT_TENANT_REFRESH_SECONDS", 60.0)
# Without one: tenants seen on the wire get the shipped seed configuration.
TRANSPORT_SEED_NEW_TENANTS = env.flag("TRANSPORT_SEED_NEW_TENANTS", True)


# --- Embedded stack (manage.py runstack) ---------------------------------------
# Ports of the processes runstack starts on 127.0.0.1; Kafka and Redis only when
# BOOTSTRAP_SERVERS / REDIS_URL are unset. Two stacks side by side need different
# ports and different ATLAS_DATA_DIRs.
STACK_KAFKA_PORT = env.integer("ATLAS_KAFKA_PORT", 9092)
STACK_REDIS_PORT = env.integer("ATLAS_REDIS_PORT", 6379)
STACK_WEB_PORT = REST_PORT
STACK_FLOWER_PORT = env.integer("ATLAS_FLOWER_PORT", 5555)
STACK_WORKER_CONCURRENCY = env.integer("ATLAS_WORKERS", 2)
# Password of the ``admin`` superuser runstack (the embedded stack, one machine) creates
# when the database has no user; it says so, with the password. Nothing else creates a
# user: a deployment runs ``manage.py createsuperuser``.
STACK_ADMIN_PASSWORD = env.text("ATLAS_ADMIN_PASSWORD", "admin")

# --- Celery ------------------------------------------------------------------
REDIS_URL = env.redis_url(env.text("REDIS_URL"))
if env.text("REDIS_PASSWORD") and "@" not in REDIS_URL:
    REDIS_URL = REDIS_URL.replace("://", f"://:{env.text('REDIS_PASSWORD')}@", 1)
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# A task is acknowledged only after it ran; a killed worker's task is redelivered
# (and, regardless, the inbox sweeper re-enqueues rows that stay pending).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.integer("CELERY_WORKER_PREFETCH_MULTIPLIER", 4)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A Redis outage of any length is ridden out: the worker reconnects for as long as
# it takes (Celery's default gives up after 100 attempts, about 50 min), and kombu's
# Redis transport is used with the fix of project.redis_transport (a lost connection
# noticed while tasks were unacknowledged ended the worker with an AttributeError),
# which also keeps one publishing client per channel (TLS and sockets: kombu's own).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
if REDIS_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "project.redis_transport:Transport"
# Tasks running when the connection is lost run to the end: their inbox transaction
# commits, and the acknowledgement that can no longer be sent does not matter (a
# redelivered task finds its rows done). Explicit, as Celery 6 is to change it.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A task still running after this raises SoftTimeLimitExceeded inside it; after the
# hard limit its process is ended (prefork). See project.celery.AtlasTask.
CELERY_TASK_SOFT_TIME_LIMIT = env.number("CELERY_TASK_SOFT_TIME_LIMIT", 60.0)
CELERY_TASK_TIME_LIMIT = env.number("CELERY_TASK_TIME_LIMIT", 90.0)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Flower shows tasks as they run; each event costs the worker a Redis publish
# (buffered, sent in batches). The "sent" event would cost the bridge a publish of
# its own per task, unbuffered: off unless CELERY_TASK_SENT_EVENTS is set.
CELERY_WORKER_SEND_TASK_EVENTS = env.flag("CELERY_TASK_EVENTS", True)
CELERY_TASK_SEND_SENT_EVENT = CELERY_WORKER_SEND_TASK_EVENTS and env.flag(
    "CELERY_TASK_SENT_EVENTS", False
)
# Lookups of other services (a handler's prepare step) wait on the network: their
# own queue, served by a thread-pool worker (runstack's "lookups").
CELERY_TASK_ROUTES = {"project.messaging.tasks.prepare_inbox_task": {"queue": "lookups"}}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

CELERY_BEAT_SCHEDULE = {
    # Re-enqueue inbox rows that were written but never handled (lost task, killed worker).
    "inbox-sweep": {
        "task": "project.messaging.tasks.sweep_inbox_task",
        "schedule": INBOX_SWEEP_SECONDS,
    },
    # Wake the relay for unsent outbox rows and purge old sent rows.
    "outbox-sweep": {
        "task": "project.messaging.tasks.sweep_outbox_task",
        "schedule": OUTBOX_SWEEP_SECONDS,
    },
}
# The services' own schedules, for the services this deployment runs.
if "invites" in ATLAS_SERVICES:
    # Reject invites older than INVITE_TIMEOUT_SECONDS (upstream: 180 s, every 5 s).
    CELERY_BEAT_SCHEDULE["invites-expire"] = {
        "task": "invites.tasks.expire_invites_task",
        "schedule": INVITE_SWEEP_SECONDS,
    }
if "transport" in ATLAS_SERVICES:
    # Scheduled-route transitions and instance-route timers; a tick not started within
    # its period is dropped (the next one catches up).
    CELERY_BEAT_SCHEDULE["transport-tick"] = {
        "task": "transport.tasks.tick_task",
        "schedule": TRANSPORT_TICK_SECONDS,
        "options": {"expires": TRANSPORT_TICK_SECONDS},
    }
