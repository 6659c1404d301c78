"""Who uses a SQLite database file: a lock file beside it (`passerelle.db.lock`).

The running bot and the command-line commands that open the database hold a shared lock on
it for as long as they have the database open; `restore` takes it exclusively for the moment
it swaps the files, and refuses when it cannot. An advisory lock (flock) rather than a pid
file: the kernel drops it when its process ends, however it ends (SIGKILL, a power cut), so
a crash never leaves a stale "running" mark, and a pid reused by another program is never
mistaken for the bot. The file itself only names the last process that took it (for the
message); it is never deleted. Nothing here opens the database.

On systems without flock (Windows), the lock is not taken and `restore` cannot tell: it says
so.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# A restore holds the exclusive lock for the moment of two renames: a bot starting meanwhile
# waits this long for it (a lock held longer is not a restore: something else is wrong).
WAIT_FOR_RESTORE = 30.0
POLL = 0.05

LOCKS = fcntl is not None


class DatabaseInUse(Exception):
    """Another process has the database open (the bot, or a command); one line for the admin."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class Holding:
    """A lock held on a database's lock file, until `release()` (or the process ends)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops its flock
            self._fd = None

    def __enter__(self) -> Holding:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()


def _open(database: Path) -> int:
    return os.open(lock_path(database), os.O_RDWR | os.O_CREAT, 0o644)


def _note(fd: int, what: str) -> None:
    """Name this process in the file (for the refusal's message); best effort."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {what}\n".encode(), 0)
    except OSError:
        pass


def _try(fd: int, mode: int) -> bool:
    assert fcntl is not None
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def holder(database: Path) -> str:
    """Who took the lock last, as the file says: "pid 1234, the bot" (or "")."""
    try:
        pid, _, what = lock_path(database).read_text(encoding="utf-8").strip().partition(" ")
    except (OSError, UnicodeDecodeError):
        return ""
    return f"pid {pid}, {what}" if pid.isdigit() else ""


def share_now(database: Path, what: str, wait: float = WAIT_FOR_RESTORE) -> Holding:
    """The shared lock, for a command that opens the database (waits out a restore)."""
    if fcntl is None:
        return Holding(None)
    fd = _open(database)
    deadline = time.monotonic() + wait
    while not _try(fd, fcntl.LOCK_SH):
        if time.monotonic() >= deadline:
            os.close(fd)
            raise DatabaseInUse(f"{database}: locked by a restore for more than {wait:g} s")
        time.sleep(POLL)
    _note(fd, what)
    return Holding(fd)


async def share(database: Path, what: str, wait: float = WAIT_FOR_RESTORE) -> Holding:
    """The shared lock, for the running bot: taken before it opens the database, kept until
    it closed it. A restore under way is waited for (without stalling the loop)."""
    if fcntl is None:
        return Holding(None)
    fd = _open(database)
    deadline = time.monotonic() + wait
    while not _try(fd, fcntl.LOCK_SH):
        if time.monotonic() >= deadline:
            os.close(fd)
            raise DatabaseInUse(f"{database}: locked by a restore for more than {wait:g} s")
        await asyncio.sleep(POLL)
    _note(fd, what)
    return Holding(fd)


def exclusive(database: Path, what: str) -> Holding:
    """The exclusive lock, at once, or DatabaseInUse naming who holds it."""
    if fcntl is None:
        return Holding(None)
    fd = _open(database)
    if not _try(fd, fcntl.LOCK_EX):
        os.close(fd)
        who = holder(database)
        raise DatabaseInUse(
            f"{database}: in use by a running bot or command"
            + (f" ({who})" if who else "")
            + ": stop it first"
        )
    _note(fd, what)
    return Holding(fd)
