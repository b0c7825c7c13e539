"""A real HTTP server standing in for Atlas' character, maps, data and tenants services.

Runs in a thread of the test process on a free port. Tests put JSON:API documents
at paths, per tenant (``TENANT_ID`` header) or for any tenant, optionally slow or
failing; every request is recorded with its headers. Point a process at it with
``CHARACTERS_SERVICE_URL=<url>/api/`` and the like (``env()``).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from project.messaging import wire
from project.tenancy import TenantKey


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    # Answers consumed first, one per request (e.g. two 503s, then the document).
    before: list[Answer] = field(default_factory=list)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class FakeServices:
    def __init__(self) -> None:
        self.answers: dict[tuple[str | None, str], Answer] = {}
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._serve(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict[str, str]:
        return {
            f"{domain}_SERVICE_URL": self.url
            for domain in ("CHARACTERS", "MAPS", "DATA", "TENANTS")
        }

    # --- what the services answer ---------------------------------------------------------

    def put(
        self,
        path: str,
        document: dict | None = None,
        *,
        tenant: TenantKey | None = None,
        status: int = 200,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        before: list[Answer] | None = None,
    ) -> None:
        """Answer GET ``/api/<path>`` (query ignored) with ``document``."""
        body = wire.dumps(document) if document is not None else b""
        key = (str(tenant.id) if tenant else None, "/api/" + path.lstrip("/"))
        with self.lock:
            self.answers[key] = Answer(status, body, delay, headers or {}, list(before or []))

    def character(
        self,
        tenant: TenantKey,
        character_id: int,
        *,
        name: str = "",
        world_id: int = 0,
        level: int = 1,
        job_id: int = 0,
        gm: int = 0,
        channel_id: int = 0,
        map_id: int = 0,
        delay: float = 0.0,
    ) -> None:
        """The character service's document of a character, and its location (maps)."""
        self.put(
            f"characters/{character_id}",
            {
                "data": {
                    "type": "characters",
                    "id": str(character_id),
                    "attributes": {
                        "accountId": 1,
                        "worldId": world_id,
                        "name": name,
                        "level": level,
                        "jobId": job_id,
                        "gm": gm,
                        "experience": 0,
                    },
                }
            },
            tenant=tenant,
            delay=delay,
        )
        self.put(
            f"characters/{character_id}/location",
            {
                "data": {
                    "type": "character-locations",
                    "id": str(character_id),
                    "attributes": {
                        "worldId": world_id,
                        "channelId": channel_id,
                        "mapId": map_id,
                        "instance": str(uuid.UUID(int=0)),
                    },
                }
            },
            tenant=tenant,
        )

    def requests_to(self, path: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path == "/api/" + path.lstrip("/")]

    def reset(self) -> None:
        with self.lock:
            self.answers.clear()
            self.requests.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- serving -----------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        headers = {name.upper(): value for name, value in handler.headers.items()}
        seen = Seen("GET", parts.path, parse_qs(parts.query), headers)
        with self.lock:
            self.requests.append(seen)
            answer = self.answers.get((headers.get("TENANT_ID"), parts.path)) or self.answers.get(
                (None, parts.path)
            )
            if answer is not None and answer.before:
                answer = answer.before.pop(0)
        if answer is None:
            answer = Answer(404)
        if answer.delay:
            time.sleep(answer.delay)
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test)
