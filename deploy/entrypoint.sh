#!/bin/sh
# The container's one entry point: `deploy/entrypoint.sh <kind> [arguments]`, one kind
# per process (README "Processes", deploy/README.md). Each kind is the plain command
# it runs; the image's PATH has the virtual environment first. Extra arguments go to
# that command.
set -eu
cd "$(dirname "$0")/.."

kind="${1:-}"
[ $# -gt 0 ] && shift

case "$kind" in
web)
    # REST and the admin. In a pod the network is the boundary: all interfaces,
    # unless GUNICORN_BIND says otherwise (outside the image gunicorn binds 127.0.0.1).
    GUNICORN_BIND="${GUNICORN_BIND:-0.0.0.0:${REST_PORT:-8080}}"
    export GUNICORN_BIND
    exec gunicorn -c project/gunicorn_conf.py "$@" project.wsgi:application
    ;;
bridge)
    exec python manage.py kafka_bridge "$@"
    ;;
worker)
    # Processes: WORKER_CONCURRENCY (Celery's default, the node's CPU count, ignores
    # the pod's limit).
    exec celery -A project worker -l "${CELERY_LOG_LEVEL:-info}" -c "${WORKER_CONCURRENCY:-2}" "$@"
    ;;
lookups)
    # Handlers' prepare steps (HTTP lookups), in threads, outside any transaction.
    exec celery -A project worker -l "${CELERY_LOG_LEVEL:-info}" -Q lookups -P threads \
        -c "${LOOKUPS_CONCURRENCY:-8}" -n "lookups@%h" "$@"
    ;;
beat)
    # Exactly one per deployment.
    exec celery -A project beat -l "${CELERY_LOG_LEVEL:-info}" "$@"
    ;;
relay)
    # One publishes; others wait as standbys (PostgreSQL advisory lock).
    exec python manage.py outbox_relay "$@"
    ;;
flower)
    # Refuses to listen beyond 127.0.0.1 without FLOWER_BASIC_AUTH (project/celery.py).
    FLOWER_ADDRESS="${FLOWER_ADDRESS:-0.0.0.0}"
    FLOWER_PORT="${FLOWER_PORT:-5555}"
    export FLOWER_ADDRESS FLOWER_PORT
    exec celery -A project flower "$@"
    ;;
migrate)
    # The Job before every rollout. It creates no user: `manage createsuperuser`.
    exec python manage.py migrate --noinput "$@"
    ;;
metrics)
    # The counters of the pod's other container (PROMETHEUS_MULTIPROC_DIR, shared).
    exec python -m project.observability.serve --port "${METRICS_PORT:-9400}" "$@"
    ;;
manage)
    # Any management command: createsuperuser, notes_import_upstream, check --deploy …
    exec python manage.py "$@"
    ;;
*)
    echo "usage: entrypoint.sh web|bridge|worker|lookups|beat|relay|flower|migrate|metrics|manage [arguments]" >&2
    exit 64
    ;;
esac
