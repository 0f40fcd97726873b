"""A throwaway PostgreSQL server for the tests: Debian's server binaries (tests/tools.py links
them into .tools/bin), `initdb` into a temporary directory, `pg_ctl` on a free loopback port.
No running service is assumed and nothing is left behind.

initdb refuses to run as root, so as root (CI) the cluster belongs to the `postgres` user and
every server command runs under `runuser -u postgres --`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.tools import tool

SERVER_USER = "postgres"
ROLE = "osc"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self, *, durable: bool = False) -> None:
        """`durable`: fsync on, as in production (the benchmarks); tests need not wait for it."""
        self.root = Path(tempfile.mkdtemp(prefix="osc-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.durable = durable
        self.password = secrets.token_urlsafe(16)
        self._as_server_user = os.geteuid() == 0
        self._databases = 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    def init(self) -> PostgresServer:
        self.root.chmod(0o755)
        password_file = self.root / "password"
        password_file.write_text(self.password)
        if self._as_server_user:
            shutil.chown(self.root, SERVER_USER)
            shutil.chown(password_file, SERVER_USER)
        self._run(str(tool("initdb")), "-D", str(self.data), "-U", ROLE, "--auth=scram-sha-256",
                  f"--pwfile={password_file}", "-E", "UTF8", "--no-sync")
        password_file.unlink()
        return self.start()

    def start(self) -> PostgresServer:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
                   f" -c fsync={'on' if self.durable else 'off'} -c max_connections=200")
        self._run(str(tool("pg_ctl")), "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(tool("pg_ctl")), "-D", str(self.data), "-m", mode, "-w", "stop")

    def new_database(self) -> str:
        """A fresh, empty database's URL (each test gets its own)."""
        self._databases += 1
        name = f"t{self._databases}_{secrets.token_hex(3)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", SERVER_USER, "--"] if self._as_server_user else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{command[0]} failed: {result.stderr[-2000:]}\n{tail}")


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
