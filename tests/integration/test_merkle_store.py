"""The stored Merkle nodes and the parallel `verify --db`, on real SQLite and PostgreSQL.

Proofs answered from ``merkle_node`` (and the leaves near them) must be the proofs of the whole tree
in memory; a node missing from the table changes nothing, a wrong one is named by `verify --db`.
Checking the log in several processes must find exactly what one pass finds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.errors import EvidenceError
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.checkpoint import create_checkpoint
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.evidence.merkle import STORED_HEIGHT, CompactRange, MerkleTree
from bot.evidence.service import verify_database
from bot.evidence.tree_store import StoredTree, store_nodes
from bot.evidence.verify import verify_log
from bot.store.engine import make_engine
from bot.store.migrate import alembic_config, upgrade
from tests.conftest import bypass_triggers

AT = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)


def _append(engine: Engine, count: int, store: ArtifactStore | None = None) -> None:
    """``count`` events; with ``store``, every fifth names an artifact of its own and every
    seventh one shared artifact."""
    shared = store.put(b"shared artifact") if store else None
    with Session(engine) as session:
        events = []
        for i in range(count):
            data: dict[str, object] = {"n": i}
            if store is not None and i % 5 == 0:
                data["artifacts"] = {"raw.eml": store.put(f"artifact {i}".encode())}
            if shared is not None and i % 7 == 0:
                data["notice_sha256"] = shared
            events.append(
                NewEvent(kind=EventKind.MESSAGE_SENT, actor="test", data=data, customer=f"C{i % 3}")
            )
        append_events(session, AT, events)
        session.commit()


def _leaves(engine: Engine) -> bytes:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT leaf_hash FROM evidence_event ORDER BY seq")).all()
    return b"".join(bytes.fromhex(leaf) for (leaf,) in rows)


def _store_all_nodes(engine: Engine, leaves: bytes) -> int:
    compact, made = CompactRange(), []  # type: ignore[var-annotated]
    for i in range(0, len(leaves), 32):
        compact.append(leaves[i : i + 32], made)
    with engine.begin() as connection:
        store_nodes(connection, made)
    return len(made)


def test_proofs_from_stored_nodes_are_the_proofs_of_the_whole_tree(engine: Engine) -> None:
    _append(engine, 300)
    leaves = _leaves(engine)
    assert _store_all_nodes(engine, leaves) == 300 // 64 + 300 // 128 + 300 // 256  # heights 6, 7, 8
    whole = MerkleTree(leaves)
    with engine.connect() as connection:
        for size in (1, 63, 64, 65, 129, 256, 299, 300):
            tree = StoredTree(connection, size)
            assert tree.root() == whole.root(size)
            for index in {0, size // 2, size - 1}:
                assert tree.leaf(index) == whole.leaf(index)
                assert tree.inclusion_proof(index) == whole.inclusion_proof(index, size)
            for old in {1, size // 3, size - 1} - {0}:
                assert tree.consistency_proof(old) == whole.consistency_proof(old, size)
        # Nodes missing from the table are computed from the leaves: the same answers.
        connection.execute(sa.text("DELETE FROM merkle_node WHERE height = :h"), {"h": STORED_HEIGHT + 1})
        connection.commit()
        tree = StoredTree(connection, 300)
        tree.prefetch(range(0, 300, 37))  # the leaf blocks of these proofs, read together
        assert [tree.inclusion_proof(i) for i in range(0, 300, 37)] == [
            whole.inclusion_proof(i) for i in range(0, 300, 37)
        ]


def test_checkpoints_store_the_nodes_they_complete(engine: Engine, notice_signer: Any) -> None:
    _append(engine, 100)
    create_checkpoint(engine, notice_signer, "Test Co", AT, "cycle")
    _append(engine, 100)
    create_checkpoint(engine, notice_signer, "Test Co", AT, "cycle")
    whole = MerkleTree(_leaves(engine))
    with engine.connect() as connection:
        nodes = connection.execute(sa.text("SELECT height, ordinal, hash FROM merkle_node")).all()
    assert sorted((h, o) for h, o, _ in nodes) == [(6, 0), (6, 1), (6, 2), (7, 0)]
    for height, ordinal, value in nodes:
        assert whole.levels[height][ordinal * 32 : (ordinal + 1) * 32].hex() == value
    assert verify_database(engine, None).ok


def test_a_wrong_stored_node_is_named_and_a_gap_stops_the_tree(engine: Engine) -> None:
    _append(engine, 200)
    _store_all_nodes(engine, _leaves(engine))
    assert verify_database(engine, None).ok
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE merkle_node SET hash = :h WHERE height = 6 AND ordinal = 1"), {"h": "00" * 32}
        )
    problems = [(p.item, p.message) for p in verify_database(engine, None).all_problems]
    assert problems == [("merkle_node:6/1", "Merkle node 6/1 is not the hash of the events below it")]
    with engine.begin() as connection:
        bypass_triggers(connection)
        connection.execute(sa.text("DELETE FROM evidence_event WHERE seq = 150"))
    with engine.connect() as connection, pytest.raises(EvidenceError, match="199 of the 200 events"):
        StoredTree(connection, 200)


def test_the_migration_computes_the_nodes_of_an_existing_log(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        command.upgrade(alembic_config(engine), "0004")
        _append(engine, 260)
        upgrade(engine)
        whole = MerkleTree(_leaves(engine))
        with engine.connect() as connection:
            nodes = connection.execute(sa.text("SELECT height, ordinal, hash FROM merkle_node")).all()
        assert sorted((h, o) for h, o, _ in nodes) == [(6, 0), (6, 1), (6, 2), (6, 3), (7, 0), (7, 1), (8, 0)]
        assert all(whole.levels[h][o * 32 : (o + 1) * 32].hex() == v for h, o, v in nodes)
    finally:
        engine.dispose()


def test_verifying_in_several_processes_finds_what_one_pass_finds(engine: Engine, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    _append(engine, 400, store)
    assert verify_database(engine, store.root, workers=3).ok
    with engine.begin() as connection:
        bypass_triggers(connection)
        # seq 134 is the first of the second of three ranges (1–133, 134–266, 267–): remove it.
        connection.execute(sa.text("DELETE FROM evidence_event WHERE seq = 134"))
        body = connection.execute(sa.text("SELECT body FROM evidence_event WHERE seq = 300")).scalar_one()
        floated = body.replace('"n":299', '"n":2.99')
        connection.execute(sa.text("UPDATE evidence_event SET body = :b WHERE seq = 300"), {"b": floated})
        connection.execute(sa.text("UPDATE evidence_event SET actor = 'mallory' WHERE seq = 20"))
        # The row before the third range (267–) has a chain hash that is not hex.
        connection.execute(sa.text("UPDATE evidence_event SET chain_hash = 'nothex' WHERE seq = 266"))
    shared = store.put(b"shared artifact")
    store.path_of(shared).chmod(0o644)
    store.path_of(shared).write_bytes(b"altered")  # named by events in every range
    store.path_of(store.put(b"artifact 250")).unlink()

    one = verify_database(engine, store.root, workers=1)
    several = verify_database(engine, store.root, workers=3)
    assert several.log.events_checked == one.log.events_checked == 399
    assert several.log.artifacts_checked == one.log.artifacts_checked == 81  # 80 own + 1 shared
    assert several.log.head_seq == one.log.head_seq == 400
    found = sorted((p.seq or 0, p.item) for p in several.all_problems)
    assert found == sorted((p.seq or 0, p.item) for p in one.all_problems)
    assert {(135, "seq"), (20, "column:actor"), (300, "body"), (300, "content_hash")} <= set(found)
    assert (266, "chain_hash") in found and (267, "chain_hash") not in found
    assert (1, f"artifact:{shared}") in found and (251, f"artifact:{store.put(b'artifact 250')}") in found
    assert [item for _, item in found].count(f"artifact:{shared}") == 1
    floats = [p.message for p in several.all_problems if p.seq == 300 and p.item == "body"]
    assert floats == ["the body is not canonical evidence: the number 2.99 has a fraction or an exponent: "
                      "evidence holds no floats"]  # fmt: skip


def test_a_float_in_a_body_is_reported_not_a_crash(engine: Engine) -> None:
    _append(engine, 3)
    floated = _body(engine, 2).replace('"seq":2', '"seq":1.3')
    with engine.begin() as connection:
        bypass_triggers(connection)
        connection.execute(sa.text("UPDATE evidence_event SET body = :b WHERE seq = 2"), {"b": floated})
    with engine.connect() as connection:
        report = verify_log(connection)
    items = {(p.seq, p.item) for p in report.problems}
    assert (2, "body") in items and (2, "content_hash") in items and report.events_checked == 3
    body = json.loads(_body(engine, 2))
    assert body["seq"] == 1.3


def _body(engine: Engine, seq: int) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                sa.text("SELECT body FROM evidence_event WHERE seq = :s"), {"s": seq}
            ).scalar_one()
        )


def test_garbage_in_the_columns_is_named_not_a_crash(engine: Engine) -> None:
    _append(engine, 3)
    with engine.begin() as connection:
        bypass_triggers(connection)
        connection.execute(sa.text("UPDATE evidence_event SET invoices = 'not json' WHERE seq = 1"))
        if engine.dialect.name == "sqlite":  # a timestamptz column on PostgreSQL holds only instants
            connection.execute(sa.text("UPDATE evidence_event SET at = 'yesterday' WHERE seq = 2"))
    with engine.connect() as connection:
        report = verify_log(connection)
    problems = {(p.seq, p.item): p.message for p in report.problems}
    assert "'not json'" in problems[(1, "column:invoices")]
    if engine.dialect.name == "sqlite":
        assert "'yesterday'" in problems[(2, "column:at")]
    assert report.events_checked == 3


def test_an_event_before_the_first_is_named(engine: Engine) -> None:
    _append(engine, 5)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO evidence_event (seq, at, kind, actor, customer, invoices, body, content_hash, "
                "chain_hash, leaf_hash) SELECT 0, at, kind, actor, customer, invoices, body, content_hash, "
                "chain_hash, leaf_hash FROM evidence_event WHERE seq = 1"
            )
        )
    report = verify_database(engine, None)
    found = {(p.seq, p.item) for p in report.all_problems}
    assert {(0, "seq"), (0, "column:seq"), (1, "chain_hash")} <= found and report.log.events_checked == 6


def test_the_body_s_instant_must_be_written_exactly_as_dunbot_writes_it() -> None:
    from bot.evidence.verify import _instant_matches

    stored = "2026-06-10 04:00:00.000000"  # SQLite's text for the column
    assert _instant_matches("2026-06-10T04:00:00.000000Z", stored)
    assert _instant_matches("2026-06-10T04:00:00.000000Z", datetime(2026, 6, 10, 4, tzinfo=UTC))
    for other in ("2026-06-10T04:00:00,000000Z", "2026-W24-3T04:00:00.000000Z", "2026-06-10T04:00:00Z"):
        assert not _instant_matches(other, stored)
    assert not _instant_matches("2026-06-10T04:00:00.000000Z", "2026-06-10 04:00:00.000001")
