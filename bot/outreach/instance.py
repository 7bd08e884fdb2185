"""Who may run: on SQLite one dunbot at a time (a lock file beside the database); on PostgreSQL many.

The lock is an advisory ``flock`` held for the life of the process: the kernel drops it when the
process dies, even by SIGKILL, so a crashed instance never blocks the next one. Holding it also tells
the outbox that no other instance is alive, so every claim and ``sending`` row left behind is stale.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.errors import StoreError
from bot.store.engine import is_sqlite_in_memory


class AlreadyRunning(StoreError):
    """Another dunbot holds the SQLite database."""


@contextmanager
def instance_guard(engine: Engine) -> Iterator[bool]:
    """Yield True when this process is the only instance (SQLite), False when others may run."""
    if engine.dialect.name != "sqlite" or is_sqlite_in_memory(engine):
        yield False
        return
    lock_path = Path(f"{engine.url.database}.lock")
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise AlreadyRunning(
                f"another dunbot (pid {holder}) is running on {engine.url.database}; on SQLite only one "
                "instance may run at a time: wait for it, stop it, or move to PostgreSQL to run several"
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        yield True
    finally:
        os.close(descriptor)  # releases the lock
