"""The evidence log on SQLite and PostgreSQL: append-only, gapless, chained, and tamper-evident."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.evidence.artifacts import ArtifactStore
from bot.evidence.canonical import ZERO_HASH, chain_hash, sha256_hex
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.evidence.verify import verify_log
from tests.conftest import bypass_triggers

NOW = datetime(2026, 6, 10, 1, 0, tzinfo=UTC)


def _event(n: int, **changes: object) -> NewEvent:
    fields: dict[str, object] = {
        "kind": EventKind.PAYMENT,
        "actor": "import",
        "customer": f"C{n % 3}",
        "invoices": (f"INV-{n}",),
        "data": {"reference": f"P-{n}", "amount": "100.00", "currency": "CNY"},
    }
    fields.update(changes)
    return NewEvent(**fields)  # type: ignore[arg-type]


def _append(engine: Engine, events: list[NewEvent], at: datetime = NOW) -> None:
    with Session(engine) as session:
        append_events(session, at, events)
        session.commit()


def _rows(engine: Engine) -> list[sa.Row[tuple[object, ...]]]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text("SELECT * FROM evidence_event ORDER BY seq")))


def _verify(engine: Engine, artifacts: ArtifactStore | None = None) -> object:
    with engine.connect() as connection:
        return verify_log(connection, artifacts)


def test_seq_is_gapless_and_each_hash_extends_the_chain(engine: Engine) -> None:
    _append(engine, [_event(n) for n in range(5)])
    _append(engine, [_event(n) for n in range(5, 8)], NOW + timedelta(minutes=1))
    rows = _rows(engine)
    assert [r.seq for r in rows] == list(range(1, 9))
    previous = ZERO_HASH
    for row in rows:
        assert row.content_hash == sha256_hex(row.body.encode("utf-8"))
        previous = chain_hash(previous, bytes.fromhex(row.content_hash))
        assert row.chain_hash == previous.hex()
        body = json.loads(row.body)
        assert (body["seq"], body["kind"], body["customer"]) == (row.seq, row.kind, row.customer)
    report = _verify(engine)
    assert report.ok and report.events_checked == 8 and report.head_chain_hash == rows[-1].chain_hash  # type: ignore[attr-defined]


def test_a_fact_with_a_dedupe_key_is_recorded_once(engine: Engine) -> None:
    _append(engine, [_event(1, dedupe_key="payment:P-1"), _event(1, dedupe_key="payment:P-1")])
    _append(engine, [_event(1, dedupe_key="payment:P-1"), _event(2, dedupe_key="payment:P-2")])
    assert [r.dedupe_key for r in _rows(engine)] == ["payment:P-1", "payment:P-2"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE evidence_event SET actor = 'mallory' WHERE seq = 1",
        "UPDATE evidence_event SET body = '{}' WHERE seq = 2",
        "DELETE FROM evidence_event WHERE seq = 2",
        "DELETE FROM evidence_event",
    ],
)
def test_the_database_refuses_to_change_the_log(engine: Engine, statement: str) -> None:
    _append(engine, [_event(n) for n in range(3)])
    before = _rows(engine)
    with pytest.raises(sa.exc.DBAPIError, match=r"append-only|evidence"), engine.begin() as connection:
        connection.execute(sa.text(statement))
    assert _rows(engine) == before


def test_truncate_is_refused_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; DELETE without WHERE is covered above")
    _append(engine, [_event(1)])
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE evidence_event"))
    assert len(_rows(engine)) == 1


def test_concurrent_writers_keep_the_log_gapless(engine: Engine) -> None:
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for n in range(25):
                _append(engine, [_event(worker * 100 + n), _event(worker * 100 + n + 50)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = _rows(engine)
    assert [r.seq for r in rows] == list(range(1, 201))
    assert _verify(engine).ok  # type: ignore[attr-defined]


def _tamper(engine: Engine, statement: str) -> None:
    with engine.begin() as connection:
        bypass_triggers(connection)
        connection.execute(sa.text(statement))


TAMPERING = {
    "altered body": ("UPDATE evidence_event SET body = replace(body, '100.00', '900.00') WHERE seq = 3", 3),
    "column disagrees": ("UPDATE evidence_event SET kind = 'dispute' WHERE seq = 4", 4),
    "removed event": ("DELETE FROM evidence_event WHERE seq = 3", 4),  # "event(s) 3 missing before event 4"
    "altered chain": (
        "UPDATE evidence_event SET chain_hash = '" + "0" * 64 + "' WHERE seq = 2",
        2,
    ),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_detected_and_named(engine: Engine, case: str) -> None:
    _append(engine, [_event(n) for n in range(6)])
    statement, seq = TAMPERING[case]
    _tamper(engine, statement)
    report = _verify(engine)
    assert not report.ok  # type: ignore[attr-defined]
    assert any(p.seq == seq for p in report.problems), report.problems  # type: ignore[attr-defined]
    if case == "removed event":
        assert any("3 missing" in p.message for p in report.problems)  # type: ignore[attr-defined]


def test_reordered_events_are_detected(engine: Engine) -> None:
    _append(engine, [_event(n) for n in range(4)])
    rows = _rows(engine)
    second, third = rows[1], rows[2]
    with engine.begin() as connection:
        bypass_triggers(connection)
        for row, other in ((second, third), (third, second)):
            connection.execute(
                sa.text("UPDATE evidence_event SET body = :body, content_hash = :h WHERE seq = :seq"),
                {"body": other.body, "h": other.content_hash, "seq": row.seq},
            )
    report = _verify(engine)
    assert not report.ok  # type: ignore[attr-defined]
    assert {2, 3} & {p.seq for p in report.problems}  # type: ignore[attr-defined]


def test_artifacts_named_by_events_are_verified(engine: Engine, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    digest = store.put(b"From: ar@xinghe.com.cn\r\n\r\nraw e-mail")
    _append(engine, [_event(1, data={"artifacts": {"message.eml": digest}})])
    assert _verify(engine, store).ok  # type: ignore[attr-defined]
    path = store.path_of(digest)
    path.chmod(0o644)
    path.write_bytes(b"something else")
    report = _verify(engine, store)
    assert not report.ok and any(p.item == f"artifact:{digest}" for p in report.problems)  # type: ignore[attr-defined]
    path.unlink()
    report = _verify(engine, store)
    assert any("missing" in p.message for p in report.problems)  # type: ignore[attr-defined]


def test_many_artifacts_are_hashed_in_threads_and_reported_in_event_order(
    engine: Engine, tmp_path: Path
) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    digests = [store.put(f"raw e-mail {n}\r\n".encode() * 200) for n in range(300)]  # 5 batches of files
    # Events name them out of the store's order, some twice.
    _append(engine, [_event(n, data={"artifacts": {"message.eml": d}}) for n, d in enumerate(digests)])
    _append(engine, [_event(300, data={"artifacts": {"again.eml": digests[7]}})])
    report = _verify(engine, store)
    assert report.ok and report.artifacts_checked == 300  # type: ignore[attr-defined]
    for n in (250, 7, 120):
        path = store.path_of(digests[n])
        path.chmod(0o644)
        path.write_bytes(b"altered")
    store.path_of(digests[40]).unlink()
    report = _verify(engine, store)
    problems = [(p.seq, p.item, p.message.split(": ")[-1]) for p in report.problems]  # type: ignore[attr-defined]
    assert problems == [
        (8, f"artifact:{digests[7]}", "content does not match its SHA-256"),
        (41, f"artifact:{digests[40]}", "missing"),
        (121, f"artifact:{digests[120]}", "content does not match its SHA-256"),
        (251, f"artifact:{digests[250]}", "content does not match its SHA-256"),
    ]
    assert report.artifacts_checked == 300  # type: ignore[attr-defined]
