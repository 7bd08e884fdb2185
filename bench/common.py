"""What every bench needs besides its data: peak memory and CPU of a measurement, a fresh child
process to take it in, a free port, and PostgreSQL connection strings.

Not a bench itself; the scripts beside it import it as ``bench.common``.
"""

from __future__ import annotations

import cProfile
import io
import multiprocessing
import os
import pstats
import resource
import socket
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import Any

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_url() -> str:
    """The PostgreSQL the benches use: ``DUNBOT_TEST_POSTGRES_URL``, else the local test database."""
    return os.environ.get("DUNBOT_TEST_POSTGRES_URL", DEFAULT_PG_URL)


def peak_mb() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries that across fork and exec, so a
    child started by a big parent would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds of this process and of the children it has waited for (worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def workers_peak_mb() -> float:
    """The largest waited-for child's peak RSS (ru_maxrss of RUSAGE_CHILDREN), 0 with none."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def libpq(url: str, schema: str) -> str:
    """A libpq connection string for the SQLAlchemy ``url`` with ``search_path`` set to ``schema``."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options = f"options=-csearch_path%3D{schema}"
    return f"postgresql://{parsed.username or 'postgres'}@{parsed.host or '127.0.0.1'}:{parsed.port or 5432}/{parsed.database}?{options}"


def use_schema(schema: str | None) -> None:
    """Point this process's PostgreSQL connections at ``schema`` (None: the default search path)."""
    if schema is None:
        os.environ.pop("PGOPTIONS", None)
    else:
        os.environ["PGOPTIONS"] = f"-csearch_path={schema}"


def reset_schema(url: str, schema: str) -> None:
    """Drop ``schema`` with everything in it and create it empty."""
    import sqlalchemy as sa

    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def profiled(profile: bool, call: Callable[[], Any]) -> Any:
    """``call()``, under cProfile when ``profile`` (the top 18 functions by own time go to stderr)."""
    if not profile:
        return call()
    profiler = cProfile.Profile()
    result = profiler.runcall(call)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    print(out.getvalue(), file=sys.stderr, flush=True)
    return result


def _guarded(target: Any, *args: Any) -> None:
    queue = args[-1]
    try:
        target(*args[:-1], _Reply(queue))
    except BaseException:
        queue.put(("error", traceback.format_exc()))
        raise


class _Reply:
    """What a measurement puts its result in: the queue, wrapped so that errors travel apart."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def put(self, value: Any) -> None:
        self.queue.put(("ok", value))


def child(target: Any, *args: Any) -> Any:
    """Run ``target(*args, result)`` in a fresh (spawned) process and return what it ``result.put``.

    A fresh process, so that peak memory (VmHWM) and CPU time are the measurement's own; an error
    in it is raised here with its traceback, and a child that dies without answering is noticed.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_guarded, args=(target, *args, queue))
    process.start()
    while True:
        try:
            status, outcome = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(f"{target.__name__} died (exit code {process.exitcode})") from None
    process.join()
    if status == "error":
        raise RuntimeError(f"{target.__name__} failed:\n{outcome}")
    return outcome
