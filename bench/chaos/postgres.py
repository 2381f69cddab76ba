"""A throwaway PostgreSQL instance: `initdb` in a temporary folder, on a free loopback port.

The chaos run stops and starts PostgreSQL under the worker, so it must own the instance: the
machine's own server (5432) is never touched. As root, initdb and postgres refuse to run, so the
instance runs as the `postgres` system user (or `nobody`) through setpriv.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from bench.harness import free_port

PG_BIN_DIRS = tuple(f"/usr/lib/postgresql/{v}/bin" for v in (15, 16, 17, 14))
DATABASE = "records"
USER = "postgres"


def pg_bin(name: str) -> str:
    """The path of a PostgreSQL server binary (initdb, pg_ctl), or raise saying what to install."""
    for folder in (os.environ.get("CSPFLOW_PG_BIN", ""), *PG_BIN_DIRS):
        if folder and (Path(folder) / name).is_file():
            return str(Path(folder) / name)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(
        f"{name} not found in {', '.join(PG_BIN_DIRS)} or PATH: install postgresql "
        "(apt-get install postgresql) or set CSPFLOW_PG_BIN to its bin folder"
    )


def _as_user() -> tuple[list[str], int, int] | None:
    """The setpriv prefix, uid and gid that run the server when we are root; None otherwise."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with suppress(KeyError):
            entry = pwd.getpwnam(name)
            prefix = [
                "setpriv",
                f"--reuid={entry.pw_uid}",
                f"--regid={entry.pw_gid}",
                "--clear-groups",
            ]
            return prefix, entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root with no 'postgres' or 'nobody' user to run PostgreSQL as")


@dataclass
class PostgresInstance:
    """One PostgreSQL server in `folder`, listening on 127.0.0.1:`port` only."""

    folder: Path
    port: int

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the records database (trust authentication on loopback)."""
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, command: Sequence[str], timeout: float = 60) -> None:
        owner = _as_user()
        full = [*(owner[0] if owner else []), *command]
        result = subprocess.run(
            full, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command[:2])} failed ({result.returncode}): "
                f"{result.stderr.strip()[-1500:]}\n{self.log_tail()}"
            )

    def log_tail(self) -> str:
        with suppress(OSError):
            return self.log.read_text(errors="replace")[-1500:]
        return ""

    def init(self) -> None:
        """initdb with trust authentication; the socket stays in the folder, not /var/run."""
        owner = _as_user()
        self.folder.mkdir(parents=True, exist_ok=True)
        if owner:
            os.chown(self.folder, owner[1], owner[2])
        self._run(
            [
                pg_bin("initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            timeout=120,
        )

    def start(self) -> None:
        """Start the server and wait (60 s at most) until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c max_connections=100"
        )
        self._run(
            [
                pg_bin("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            timeout=90,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: 'fast' disconnects every client, as a restart or failover does."""
        self._run(
            [pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"],
            timeout=90,
        )

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self) -> None:
        self._run(
            [pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, DATABASE]
        )


@asynccontextmanager
async def postgres_instance() -> AsyncIterator[PostgresInstance]:
    """initdb in a new temporary folder, start, create the records database; on exit stop the
    server and remove the folder, whatever happened.

    The folder is its own (not inside the caller's temporary folder), because when we are root
    the server runs as another user, who must own it and cannot enter a root-only parent.
    """
    instance = PostgresInstance(Path(tempfile.mkdtemp(prefix="cspflow-chaos-pg-")), free_port())
    started = time.monotonic()
    try:
        await asyncio.to_thread(instance.init)
        await asyncio.to_thread(instance.start)
        await asyncio.to_thread(instance.create_database)
        took = time.monotonic() - started
        print(f"PostgreSQL on 127.0.0.1:{instance.port} ready in {took:.1f} s", flush=True)
        yield instance
    finally:
        if instance.running():
            with suppress(Exception):
                await asyncio.to_thread(instance.stop, "immediate")
        shutil.rmtree(instance.folder, ignore_errors=True)
