"""The real HTTP server (gunicorn, as runstack runs it) against the test database.

REST tests use ``transactional_db`` so the server's processes see committed rows,
and talk to it with ``RestClient``, which sends upstream's underscore tenant
headers as a Go client or the Atlas ingress does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from project import embedded
from project.tenancy import TenantKey
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


class RestServer:
    def __init__(
        self, database_url: str | None, log_dir: Path, env: dict[str, str] | None = None
    ) -> None:
        """``database_url=None`` starts it without DATABASE_URL (``env`` names the
        database another way, e.g. upstream's DB_* variables)."""
        self.port = embedded.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / "gunicorn.log"
        env = {
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "ATLAS_DATA_DIR": str(log_dir / "data"),
            "WEB_CONCURRENCY": "2",
            **(env or {}),
        }
        if database_url is not None:
            env["DATABASE_URL"] = database_url
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "project" / "gunicorn_conf.py"),
            "--bind",
            f"127.0.0.1:{self.port}",
            "project.wsgi:application",
        ]
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self._wait_listening()

    def _wait_listening(self, timeout: float = 30) -> None:
        def listening() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                httpx.get(f"{self.url}/api/", timeout=1)
            except httpx.TransportError:
                return False
            return True

        wait_until(listening, timeout=timeout, what="gunicorn to listen")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class RestClient:
    """An HTTP client of the server, sending a tenant's headers unless told otherwise."""

    def __init__(self, base_url: str, tenant: TenantKey) -> None:
        self.tenant = tenant
        self.http = httpx.Client(base_url=base_url, timeout=15, follow_redirects=False)

    def headers(self, extra: dict[str, str] | None = None, tenant: bool = True) -> dict[str, str]:
        headers = self.tenant.http_headers() if tenant else {}
        return {**headers, **(extra or {})}

    def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        tenant: bool = True,
    ) -> httpx.Response:
        return self.http.request(
            method, path, json=json, content=content, headers=self.headers(headers, tenant)
        )

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self.http.close()
