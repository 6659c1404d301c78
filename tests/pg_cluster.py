"""Throw-away PostgreSQL clusters for the failover test: a primary and a streaming standby made
with the server's own tools (initdb, pg_basebackup -R, pg_ctl), in a temporary directory, on
free ports. Run as the `postgres` user when the tests run as root (initdb refuses root)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN = Path(os.environ.get("PASSERELLE_PG_BIN", "/usr/lib/postgresql/15/bin"))
TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
STANDBY_NAME = "standby1"


def missing() -> str | None:
    """Why clusters cannot be made here (None: they can)."""
    for tool in TOOLS:
        if not (BIN / tool).is_file():
            return f"PostgreSQL server binaries not found: {BIN / tool} (PASSERELLE_PG_BIN)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no `postgres` user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root and no runuser to run initdb as `postgres`"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Clusters:
    """A primary on one port and a synchronous streaming standby on another."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="passerelle-failover-"))
        self._owner: str | None = None
        if os.geteuid() == 0:
            self._owner = "postgres"
            shutil.chown(self.root, self._owner)
        self.primary = self.root / "primary"
        self.standby = self.root / "standby"
        self.primary_port = free_port()
        self.standby_port = free_port()

    def _run(self, *args: str, timeout: float = 60) -> str:
        command = [str(BIN / args[0]), *args[1:]]
        if self._owner is not None:
            command = ["runuser", "-u", self._owner, "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.root, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {done.stdout}\n{done.stderr}")
        return done.stdout

    def _append(self, conf: Path, lines: list[str]) -> None:
        # as the cluster's owner would: the file stays theirs
        with conf.open("a") as out:
            out.write("\n".join(lines) + "\n")

    def _start(self, data: Path, port: int) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(self.root / f"{data.name}.log"),
            "-o",
            f"-p {port} -k {self.root}",
            "-w",
            "-t",
            "30",
            "start",
        )

    def start(self) -> None:
        """Make and start both. Commits on the primary wait until the standby has them
        (synchronous_commit = on, the standby named in synchronous_standby_names): what the
        primary acknowledged is on the standby."""
        self._run("initdb", "-D", str(self.primary), "-A", "trust", "-U", "postgres", "--no-sync")
        self._append(
            self.primary / "postgresql.conf",
            [
                "listen_addresses = '127.0.0.1'",
                "wal_level = replica",
                "max_wal_senders = 4",
                f"synchronous_standby_names = '{STANDBY_NAME}'",
                "synchronous_commit = on",
                "fsync = off",  # a test: the stop is a process's, not the machine's
                "max_connections = 40",
            ],
        )
        self._start(self.primary, self.primary_port)
        self._run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary_port),
            "-U",
            "postgres",
            "-D",
            str(self.standby),
            "-R",
            "-X",
            "stream",
            "--no-sync",
        )
        self._append(
            self.standby / "postgresql.auto.conf",
            [
                f"primary_conninfo = 'host=127.0.0.1 port={self.primary_port} user=postgres"
                f" application_name={STANDBY_NAME}'",
                # pg_basebackup copied the primary's settings: promoted, this server has no
                # standby of its own to wait for (a failover manager resets this too)
                "synchronous_standby_names = ''",
            ],
        )
        self._start(self.standby, self.standby_port)

    def stop_primary(self) -> None:
        """As a crash: no shutdown checkpoint, the connections cut."""
        self._run("pg_ctl", "-D", str(self.primary), "-m", "immediate", "-w", "stop")

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.standby), "-w", "-t", "30", "promote")

    def url(self, database: str) -> str:
        """Both servers; the client takes the one that accepts writes."""
        return (
            f"postgresql://postgres@127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}"
            f"/{database}?target_session_attrs=read-write"
        )

    def url_of(self, port: int, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{database}"

    def remove(self) -> None:
        for data in (self.standby, self.primary):
            if (data / "postmaster.pid").exists():
                with contextlib.suppress(Exception):
                    self._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
