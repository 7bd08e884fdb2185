"""`plan --json` in worker processes writes exactly what planning in one process writes (issue 2).

On SQLite and PostgreSQL: the demo ledger (seven countries, three credit profiles, promises and
disputes) with a day already recorded, so that step executions and outbox contacts are read per
slice too, planned in slices of a few customers by two workers.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

import bot.outreach.plan_workers as plan_workers
from bot.config import Settings
from bot.ingest.demo_ledger import generate_demo_ledger
from bot.ingest.service import ImportDefaults, import_file
from bot.outreach.planning import preview_plan, record_plan, write_plan_json

AS_OF = date(2026, 11, 23)  # a Monday, a working day in China
RECORDED_DAY = date(2026, 11, 20)  # the Friday before: recorded, so the plan reads executions
NOW = datetime(
    2026, 11, 23, 1, 0, tzinfo=UTC
)  # 09:00 in Shanghai on AS_OF: the ledger holds payments up to the day before


@pytest.fixture
def demo_engine(engine: Engine, tmp_path: Path) -> Engine:
    files = generate_demo_ledger(tmp_path / "ledger", AS_OF)
    defaults = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")
    for entity in ("contracts", "customers", "invoices", "payments"):
        import_file(engine, entity, getattr(files, entity), defaults=defaults, now=NOW)
    record_plan(engine, Settings(), RECORDED_DAY, NOW)
    return engine


def _written(engine: Engine, path: Path, **options: int) -> tuple[bytes, int]:
    with path.open("w", encoding="utf-8") as out:
        count = write_plan_json(engine, Settings(), AS_OF, out, **options)
    return path.read_bytes(), count


def test_workers_write_the_bytes_one_process_writes(demo_engine: Engine, tmp_path: Path) -> None:
    alone, alone_count = _written(demo_engine, tmp_path / "alone.json", workers=1)
    together, together_count = _written(demo_engine, tmp_path / "together.json", workers=2, slice_customers=7)
    assert together == alone
    assert together_count == alone_count
    decisions = json.loads(together)
    assert len(decisions) == together_count
    # No demand went out (nothing was sent on the recorded day), so no legal step is placed yet: the
    # invoices that reached one wait for their first demand (issue 16), deferred.
    assert {d["status"] for d in decisions} >= {"planned", "superseded", "deferred"}
    assert "awaiting_approval" not in {d["status"] for d in decisions}
    # And both are what the decisions themselves say, customers in id order.
    preview = preview_plan(demo_engine, Settings(), AS_OF)
    assert decisions == [d.as_json() for d in preview.decisions]
    customers = [d["customer"] for d in decisions]
    assert customers == sorted(customers)


def test_more_workers_than_slices_and_a_slice_per_customer(demo_engine: Engine, tmp_path: Path) -> None:
    alone, _ = _written(demo_engine, tmp_path / "alone.json", workers=1)
    assert _written(demo_engine, tmp_path / "one_each.json", workers=3, slice_customers=1)[0] == alone
    assert _written(demo_engine, tmp_path / "one_slice.json", workers=4, slice_customers=10_000)[0] == alone


def test_a_worker_plans_ahead_while_its_slice_waits_for_its_turn(
    demo_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slice 0 is held back until slice 2's planning has started: the other worker finishes slice 1,
    # cannot write it before slice 0, and must go on planning slice 2 instead of idling.
    alone, _ = _written(demo_engine, tmp_path / "alone.json", workers=1)
    with demo_engine.connect() as connection:
        slices = plan_workers.customer_slices(plan_workers.read_customers(connection)[0], 7, 2)
    assert len(slices) >= 4
    context = multiprocessing.get_context("fork")
    slice_2_started, slice_0_saw_it = context.Event(), context.Value("b", 0)
    real = plan_workers.plan_slice

    def held_back(connection, policy, as_of, customers):  # type: ignore[no-untyped-def]
        if customers == slices[2]:
            slice_2_started.set()
        elif customers == slices[0]:
            slice_0_saw_it.value = slice_2_started.wait(30)
        return real(connection, policy, as_of, customers)

    monkeypatch.setattr(plan_workers, "plan_slice", held_back)
    together, _ = _written(demo_engine, tmp_path / "ahead.json", workers=2, slice_customers=7)
    assert slice_0_saw_it.value == 1
    assert together == alone


def test_an_output_without_a_file_descriptor_is_written_in_this_process(
    demo_engine: Engine, tmp_path: Path
) -> None:
    alone, count = _written(demo_engine, tmp_path / "alone.json", workers=1)
    out = io.StringIO()
    assert write_plan_json(demo_engine, Settings(), AS_OF, out, workers=2, slice_customers=7) == count
    assert out.getvalue().encode("utf-8") == alone


def test_an_empty_day_is_an_empty_array(engine: Engine, tmp_path: Path) -> None:
    assert _written(engine, tmp_path / "empty.json", workers=2, slice_customers=1) == (b"[]\n", 0)


def test_a_failing_worker_fails_the_command(
    demo_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = plan_workers.plan_customer

    def fails_for_one_customer(as_of, ledger, *inputs):  # type: ignore[no-untyped-def]
        if ledger.customer.id == "C-0030":
            raise ValueError("planning C-0030 broke")
        return real(as_of, ledger, *inputs)

    # Workers are forked, so they plan with the patched function.
    monkeypatch.setattr(plan_workers, "plan_customer", fails_for_one_customer)
    with pytest.raises(ValueError, match="planning C-0030 broke") as raised:
        _written(demo_engine, tmp_path / "broken.json", workers=2, slice_customers=5)
    assert any("in a planning worker" in note for note in raised.value.__notes__)


def test_a_short_write_is_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_writev = plan_workers.os.writev

    def short_writev(fd: int, buffers: list[bytes]) -> int:
        return real_writev(fd, [buffers[0][:3]])  # as a pipe interrupted by a signal may

    monkeypatch.setattr(plan_workers.os, "writev", short_writev)
    path = tmp_path / "out.bin"
    chunks = [b"first chunk", b", ", b"second", *([b"x" * 100] * 600)]
    with path.open("wb") as out:
        plan_workers._write_all(out.fileno(), chunks)
    assert path.read_bytes() == b"".join(chunks)


def test_a_worker_killed_outright_fails_the_command_instead_of_hanging(
    demo_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = plan_workers.plan_customer

    def dies_at_one_customer(as_of, ledger, *inputs):  # type: ignore[no-untyped-def]
        if ledger.customer.id == "C-0012":
            os._exit(9)  # as the OOM killer would: no exception, no report
        return real(as_of, ledger, *inputs)

    monkeypatch.setattr(plan_workers, "plan_customer", dies_at_one_customer)
    with pytest.raises(RuntimeError, match="stopped without finishing"):
        _written(demo_engine, tmp_path / "killed.json", workers=2, slice_customers=5)


def test_a_worker_killed_while_writing_fails_the_command_instead_of_hanging(
    demo_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer holds no lock while it writes: the parent and the other worker still find out.
    context = multiprocessing.get_context("fork")
    writes = context.Value("i", 0)
    real = plan_workers._write_all

    def dies_on_the_second_write(fd: int, chunks: list[bytes]) -> None:
        with writes.get_lock():
            writes.value += 1
            second = writes.value == 2
        if second:
            os._exit(9)
        real(fd, chunks)

    def hung(signum: int, frame: object) -> None:
        raise AssertionError("the command hung after a worker was killed while writing")

    monkeypatch.setattr(plan_workers, "_write_all", dies_on_the_second_write)
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        with pytest.raises(RuntimeError, match="stopped without finishing"):
            _written(demo_engine, tmp_path / "killed.json", workers=2, slice_customers=5)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert writes.value >= 2
