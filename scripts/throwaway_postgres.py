#!/usr/bin/env python3
"""Run a command against a throwaway PostgreSQL cluster, then remove the cluster.

    python scripts/throwaway_postgres.py [--] command [args...]

Creates a cluster in a temporary directory with the installed PostgreSQL binaries
(``ATLAS_PG_BIN``, else /usr/lib/postgresql/15/bin, else the newest
/usr/lib/postgresql/*/bin, else PATH), starts it on a free port of 127.0.0.1 with
trust authentication, creates the database ``atlas``, runs the command with
``DATABASE_URL=postgres://postgres@127.0.0.1:PORT/atlas`` and always stops and
deletes the cluster afterwards. The command's exit code is returned.

PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres``
system user and its server programs run through ``runuser -u postgres``.
Durability is switched off (fsync, synchronous_commit): the data is thrown away.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

DATABASE = "atlas"
SUPERUSER = "postgres"


def pg_bin() -> Path:
    override = os.environ.get("ATLAS_PG_BIN")
    if override:
        return Path(override)
    preferred = Path("/usr/lib/postgresql/15/bin")
    if (preferred / "initdb").exists():
        return preferred
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise SystemExit("throwaway_postgres: no PostgreSQL server binaries (initdb) found")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    def __init__(self) -> None:
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="atlas-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.started = False

    @property
    def url(self) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def server_command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin / program), *args]
        return ["runuser", "-u", "postgres", "--", *command] if self.as_root else command

    def run(self, command: list[str]) -> None:
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )

    def start(self) -> None:
        self.run(
            self.server_command(
                "initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust",
                "-E", "UTF8", "--locale=C", "--no-sync",
            )
        )  # fmt: skip
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.root}",
                "-c listen_addresses=127.0.0.1",
                "-c max_connections=200",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        self.started = True
        self.run(
            self.server_command(
                "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                "-o", options, "-w", "-t", "60", "start",
            )
        )  # fmt: skip
        self.run(
            [
                str(self.bin / "createdb"),
                "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, DATABASE,
            ]
        )  # fmt: skip

    def remove(self) -> None:
        try:
            if self.started:
                stop = ["pg_ctl", "-D", str(self.data), "-w", "-t", "20", "-m", "fast", "stop"]
                try:
                    self.run(self.server_command(*stop))
                except RuntimeError:
                    stop[stop.index("fast")] = "immediate"
                    with contextlib.suppress(RuntimeError):
                        self.run(self.server_command(*stop))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    cluster = Cluster()
    child: subprocess.Popen | None = None

    def forward(signum: int, frame: object) -> None:
        if child is not None and child.poll() is None:
            child.send_signal(signum)
        else:
            raise KeyboardInterrupt

    def ignore(signum: int, frame: object) -> None:
        """Ctrl-C reaches the command directly (same process group); let it clean up.

        A handler, not SIG_IGN: an ignored signal would stay ignored in the command.
        """

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, ignore)
    try:
        cluster.start()
        print(f"throwaway_postgres: {cluster.url} ({cluster.bin})", file=sys.stderr, flush=True)
        child = subprocess.Popen(argv, env={**os.environ, "DATABASE_URL": cluster.url})
        code = child.wait()
        return code if code >= 0 else 128 - code  # killed by a signal: the shell's 128+N
    except KeyboardInterrupt:
        return 130
    finally:
        if child is not None and child.poll() is None:
            child.wait()
        cluster.remove()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
