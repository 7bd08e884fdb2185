"""`dunbot plan --json` over a big ledger: customer slices planned side by side in worker processes.

Planning is per customer and independent, so the customers (in id order) are cut into slices
(``[planning] slice_customers``, 5,000 by default: about 270,000 decisions, 90 MB of JSON, on a
fresh ledger of ten invoices a customer). Slices that big keep what every slice costs small: its
queries, and on PostgreSQL a hash join that reads the whole payment table once per slice; twenty
of them for 100,000 customers still keep both workers busy to the end.

Each worker, a forked process with its own connection to the same database snapshot, takes the
next unplanned slice, reads and plans it, encodes its decisions and writes them straight to the
output's file descriptor when their turn comes: slices appear in customer-id order. A slice whose
turn has not come yet is kept while the worker plans its next one (waiting would leave a core
idle), so each worker holds at most two slices' text: memory is bounded by the slice size whatever
the ledger.

The parent opens the snapshot (``exported_snapshot``), lists the customer ids, writes the opening
bracket, starts the workers and writes the closing one. A worker that fails stops the others and
its exception is raised in the parent.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import wait
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.config import Settings
from bot.domain.calendar import is_business_day
from bot.domain.decisions import CustomerPlan
from bot.domain.ladder import plan_customer
from bot.domain.policy import PlanningPolicy
from bot.outreach.plan_json import (
    CLOSING_AFTER_OBJECTS,
    CLOSING_EMPTY,
    FIRST,
    OPENING,
    SEPARATOR,
    PlanJsonEncoder,
)
from bot.store.engine import exported_snapshot, joined_snapshot
from bot.store.queries import CustomerRange, customer_t, driver_rows, iter_planning_inputs

# A worker waiting for its turn looks up this often whether another one failed.
_POLL_SECONDS = 1.0


def worker_count(setting: int) -> int:
    """Worker processes for a ``[planning] workers`` setting (0 = one per CPU core available)."""
    if setting:
        return setting
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Workers are forked: they inherit the output and the settings without pickling anything."""
    return "fork" in multiprocessing.get_all_start_methods()


def slice_sizes(customers: int, size: int, workers: int) -> list[int]:
    """How many customers each slice takes: ``size`` while plenty remain, then fewer.

    Guided self-scheduling: a slice takes at most a 1/(2 × workers) share of the customers left,
    but never fewer than ``size`` // 4, so the last slices are small and the workers finish nearly
    together instead of one waiting on the other's last full slice.
    """
    floor = max(1, size // 4)
    sizes: list[int] = []
    remaining = customers
    while remaining > 0:
        take = min(size, remaining, max(floor, -(-remaining // (2 * workers))))
        sizes.append(take)
        remaining -= take
    return sizes


def read_customers(connection: Connection) -> tuple[list[str], list[str | None]]:
    """Every customer id in id order (the database's order), and the countries they are in.

    Two reads: the ids alone come from the primary key's index, the countries from one scan (one
    read of both made SQLite visit the table once per id, slower than the two together). The ids
    come from the driver's cursor: 100,000 of them as Core rows took 0.16 s of a plan's serial start.
    """
    ids = [row[0] for row in driver_rows(connection, sa.select(customer_t.c.id).order_by(customer_t.c.id))]
    countries = list(connection.execute(sa.select(customer_t.c.country).distinct()).scalars())
    return ids, countries


def customer_slices(ids: Sequence[str], size: int, workers: int = 1) -> list[CustomerRange]:
    """The customers ``ids`` (in id order) cut into ranges (see ``slice_sizes``)."""
    slices: list[CustomerRange] = []
    start = 0
    for take in slice_sizes(len(ids), size, workers):
        slices.append((ids[start], ids[start + take - 1]))
        start += take
    return slices


def _warm_calendars(countries: Iterable[str | None], policy: PlanningPolicy, as_of: date) -> None:
    # A country's holiday calendar takes a tenth of a second to build: build each one here, once,
    # and the forked workers inherit it instead of every worker building its own.
    for country in countries:
        is_business_day(country or policy.default_country, as_of)


def plan_slice(
    connection: Connection, policy: PlanningPolicy, as_of: date, customers: CustomerRange | None
) -> Iterator[CustomerPlan]:
    """Every plan of one slice of the customers (all of them with None), in id order."""
    for ledger, executions, contacts, sent in iter_planning_inputs(
        connection, as_of, customer_range=customers
    ):
        yield plan_customer(as_of, ledger, executions, contacts, policy, sent)


@dataclass
class _Shared:
    """What the workers coordinate through (all in shared memory, made before the fork)."""

    next_slice: Any  # multiprocessing.Value("l"): the next slice nobody has taken
    turn: Any  # multiprocessing.Value("l"): the slice whose text is written next
    written: Any  # multiprocessing.Value("q"): decisions written so far
    failed: Any  # multiprocessing.Value("b"): a worker failed; everyone stops
    condition: Any  # multiprocessing.Condition guarding turn, written and failed
    errors: Any  # multiprocessing.SimpleQueue of (exception or None, traceback text)


_IOV_MAX = 512  # buffers per writev call; POSIX guarantees at least 16, Linux allows 1024


def _write_all(fd: int, chunks: list[bytes]) -> None:
    # Many small buffers through writev, never one big joined one: on this kind of virtual machine
    # a fresh buffer the size of a slice costs more in page faults than encoding its contents.
    for start in range(0, len(chunks), _IOV_MAX):
        batch = chunks[start : start + _IOV_MAX]
        written = os.writev(fd, batch)
        if written < sum(len(chunk) for chunk in batch):  # a short write (a pipe, a signal)
            rest = memoryview(b"".join(batch))[written:]
            while rest:
                rest = rest[os.write(fd, rest) :]


class _Abandoned(Exception):
    """Another worker failed; this one stops without writing more."""


@dataclass
class _Encoded:
    """One planned slice's text, waiting for its turn to be written."""

    index: int
    chunks: list[bytes]
    decisions: int


def _write_in_turn(encoded: _Encoded, fd: int, first: bytes, shared: _Shared, *, wait: bool) -> bool:
    """Write a slice's text when every slice before it is written; True once written.

    With ``wait`` False it returns False at once when the turn has not come. Raises ``_Abandoned``
    when another worker failed: the output is given up, and that worker reports why. The text is
    written outside the lock (holding the turn is what makes the write exclusive): a worker killed
    while writing leaves no lock held, so the parent and the other workers still learn of it.
    """
    with shared.condition:
        while shared.turn.value != encoded.index and not shared.failed.value:
            if not wait:
                return False
            shared.condition.wait(_POLL_SECONDS)
        if shared.failed.value:
            raise _Abandoned
        opening = not shared.written.value
    if encoded.decisions:
        if opening:
            encoded.chunks[0] = first
        _write_all(fd, encoded.chunks)
    with shared.condition:
        shared.written.value += encoded.decisions
        shared.turn.value = encoded.index + 1
        shared.condition.notify_all()
    return True


def _work(
    url: str,
    token: str | None,
    policy: PlanningPolicy,
    as_of: date,
    slices: Sequence[CustomerRange],
    fd: int,
    encoding: str,
    shared: _Shared,
) -> None:
    # What the parent had (imports, settings) is never garbage: keep the collector from walking it
    # over and over while a slice allocates millions of short-lived objects. Those die by reference
    # counting (planning makes no cycles), so the collector runs once per slice instead of every 700
    # allocations: 1 % of a worker's instructions.
    gc.freeze()
    gc.disable()
    try:
        encoder = PlanJsonEncoder()
        separator, first = SEPARATOR.encode(encoding), FIRST.encode(encoding)
        waiting: _Encoded | None = None  # planned, its turn not come yet
        with joined_snapshot(url, token) as connection:
            while True:
                with shared.next_slice.get_lock():
                    mine = shared.next_slice.value
                    shared.next_slice.value += 1
                if mine >= len(slices):
                    if waiting is not None:
                        _write_in_turn(waiting, fd, first, shared, wait=True)
                    return
                # Each customer's objects, encoded, with the separators between them as chunks.
                chunks: list[bytes] = []
                count = 0
                for plan in plan_slice(connection, policy, as_of, slices[mine]):
                    text, decisions = encoder.encode(plan)
                    if decisions:
                        chunks.append(separator)
                        chunks.append(text.encode(encoding))
                        count += decisions
                encoded = _Encoded(mine, chunks, count)
                gc.collect()
                if waiting is not None:  # an earlier slice: it goes out first
                    _write_in_turn(waiting, fd, first, shared, wait=True)
                waiting = None if _write_in_turn(encoded, fd, first, shared, wait=False) else encoded
    except _Abandoned:
        return
    except BaseException as exc:
        with shared.condition:
            shared.failed.value = 1
            shared.condition.notify_all()
        try:
            shared.errors.put((exc, traceback.format_exc()))
        except Exception:  # an exception that does not pickle: its text still tells what happened
            shared.errors.put((None, traceback.format_exc()))
        raise SystemExit(1) from None


def _wait_for(processes: list[Any], shared: _Shared) -> None:
    # A worker killed outright (OOM killer, SIGKILL) reports nothing, and the others would wait for
    # its turn for ever: when one ends badly, tell the rest to stop.
    running = {process.sentinel: process for process in processes}
    while running:
        for sentinel in wait(list(running)):
            process = running.pop(sentinel)
            process.join()
            if process.exitcode != 0:
                with shared.condition:
                    shared.failed.value = 1
                    shared.condition.notify_all()


def write_in_parallel(
    engine: Engine,
    settings: Settings,
    as_of: date,
    out: TextIO,
    *,
    workers: int,
    slice_customers: int,
    serial: Callable[[Connection], int],
) -> int:
    """Write the `plan --json` array of ``as_of`` to ``out`` with ``workers`` processes.

    ``out`` must have a file descriptor. With a single slice (or one worker) the parent plans it
    itself through ``serial``, inside the same snapshot. Returns how many decisions were written.
    """
    policy = settings.planning_policy()
    with exported_snapshot(engine) as (connection, token):
        ids, countries = read_customers(connection)
        slices = customer_slices(ids, slice_customers, workers)
        workers = min(workers, len(slices))
        if workers <= 1:
            return serial(connection)
        _warm_calendars(countries, policy, as_of)
        fd = out.fileno()
        encoding = getattr(out, "encoding", None) or "utf-8"
        out.write(OPENING)
        out.flush()
        context = multiprocessing.get_context("fork")
        shared = _Shared(
            next_slice=context.Value("l", 0),
            turn=context.Value("l", 0, lock=False),
            written=context.Value("q", 0, lock=False),
            failed=context.Value("b", 0, lock=False),
            condition=context.Condition(),
            errors=context.SimpleQueue(),
        )
        url = engine.url.render_as_string(hide_password=False)
        processes = [
            context.Process(
                target=_work,
                args=(url, token, policy, as_of, slices, fd, encoding, shared),
                name=f"dunbot-plan-{n}",
                daemon=True,
            )
            for n in range(workers)
        ]
        try:
            for process in processes:
                process.start()
            _wait_for(processes, shared)
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
                    process.join()
        if not shared.errors.empty():
            exc, text = shared.errors.get()
            if exc is None:
                raise RuntimeError(f"a planning worker failed:\n{text}")
            exc.add_note(f"in a planning worker:\n{text}")
            raise exc
        failed = [p.name for p in processes if p.exitcode != 0]
        if failed:
            raise RuntimeError(f"planning worker(s) {', '.join(failed)} stopped without finishing")
        written = int(shared.written.value)
    out.write(CLOSING_AFTER_OBJECTS if written else CLOSING_EMPTY)
    return written
