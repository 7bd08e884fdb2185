"""/healthz, /readyz and /metrics through a real HTTP server (uvicorn) on a real database."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from bot.evidence.artifacts import ArtifactStore
from bot.outreach.cycle import record_cycle_run
from bot.reporting.operations import readiness, snapshot
from bot.store import tables
from bot.web.app import make_app
from bot.web.health import DATABASE_UNAVAILABLE
from bot.web.server import bind, serve
from tests.conftest import postgres_url_or_skip

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Served:
    """The app on 127.0.0.1, from a background thread."""

    def __init__(self, engine: Engine, clock: Clock, tmp_path: Path) -> None:
        self.sock = bind("127.0.0.1:0")
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        app = make_app(
            engine,
            auth_token="t",
            public_url=None,
            artifacts=ArtifactStore(tmp_path / "artifacts"),
            clock=clock,
            max_cycle_age=timedelta(hours=10),
        )
        listen = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(
            target=self.loop.run_until_complete,
            args=(serve(app, listen, self.stop, sock=self.sock),),
            daemon=True,
        )
        self.thread.start()

    def get(self, path: str) -> tuple[int, bytes, str]:
        try:
            with urllib.request.urlopen(f"{self.base}{path}", timeout=10) as response:
                return int(response.status), response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            body = exc.read()
            exc.close()
            return int(exc.code), body, exc.headers.get("Content-Type", "")

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def served(engine: Engine, clock: Clock, tmp_path: Path) -> Iterator[Served]:
    server = Served(engine, clock, tmp_path)
    yield server
    server.close()


def _seed_messages(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(tables.Customer.__table__),  # type: ignore[attr-defined]
            {
                "id": "C1",
                "name": "n",
                "country": "CN",
                "timezone": "Asia/Shanghai",
                "language": "zh-CN",
                "opted_out": "",
            },
        )
        for index, (channel, state) in enumerate(
            [
                ("email", "sent"),
                ("email", "sent"),
                ("email", "planned"),
                ("sms", "unknown"),
                ("sms", "sending"),
            ]
        ):
            connection.execute(
                sa.insert(tables.Message.__table__),  # type: ignore[attr-defined]
                {
                    "customer_id": "C1",
                    "step": f"s{index}",
                    "channel": channel,
                    "business_date": date(2026, 11, 23),
                    "state": state,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            )


def test_healthz_is_liveness_only(served: Served) -> None:
    status, body, kind = served.get("/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"} and kind == "application/json"


def test_readyz_follows_the_last_successful_cycle(served: Served, engine: Engine, clock: Clock) -> None:
    status, body, _ = served.get("/readyz")
    assert status == 200 and json.loads(body)["status"] == "ready"  # just started: no cycle due yet
    clock.now = NOW + timedelta(hours=11)
    status, body, _ = served.get("/readyz")
    assert status == 503 and "no cycle has succeeded" in json.loads(body)["problems"][0]
    record_cycle_run(engine, "w1", date(2026, 11, 23), clock.now - timedelta(seconds=30), clock.now)
    status, body, _ = served.get("/readyz")
    assert status == 200 and json.loads(body)["last_successful_cycle"]
    record_cycle_run(engine, "w1", date(2026, 11, 23), clock.now, clock.now, error="RuntimeError: boom")
    clock.now += timedelta(hours=10, minutes=1)
    status, body, _ = served.get("/readyz")
    assert status == 503 and "last successful cycle finished 10.0 h ago" in json.loads(body)["problems"][0]


def test_metrics_are_prometheus_text_with_the_database_numbers(
    served: Served, engine: Engine, clock: Clock
) -> None:
    _seed_messages(engine)
    record_cycle_run(engine, "w1", date(2026, 11, 23), NOW - timedelta(seconds=42), NOW)
    status, body, kind = served.get("/metrics")
    assert status == 200 and kind.startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(body.decode())}
    messages = {
        (sample.labels["channel"], sample.labels["state"]): sample.value
        for sample in families["dunbot_messages"].samples
    }
    assert messages == {
        ("email", "planned"): 1,
        ("email", "sent"): 2,
        ("sms", "sending"): 1,
        ("sms", "unknown"): 1,
    }

    def value(name: str) -> float:
        return float(families[name].samples[0].value)

    assert value("dunbot_outbox_depth") == 2 and value("dunbot_messages_unknown") == 1
    assert value("dunbot_last_cycle_duration_seconds") == 42 and value("dunbot_last_cycle_ok") == 1
    assert value("dunbot_last_successful_cycle_timestamp_seconds") == NOW.timestamp()
    assert value("dunbot_evidence_events") == 0 and "dunbot_evidence_checkpoint_age_seconds" not in families


def test_readiness_and_snapshot_without_a_server(engine: Engine) -> None:
    current = snapshot(engine, NOW)
    assert current.last_cycle is None and readiness(current, timedelta(hours=1), NOW) == []
    assert readiness(current, timedelta(hours=1), NOW - timedelta(hours=2)) != []


def test_a_failed_cycle_is_recorded_and_counted(engine: Engine) -> None:
    record_cycle_run(engine, "w1", date(2026, 11, 23), NOW, NOW, error="ConfigError: bad")
    current = snapshot(engine, NOW + timedelta(minutes=1))
    assert current.last_cycle is not None and not current.last_cycle.ok and current.failed_cycles_24h == 1
    assert current.last_success is None


def test_metrics_report_a_database_that_is_gone(tmp_path: Path, clock: Clock) -> None:
    from bot.store.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/missing/nowhere.db")
    server = Served(engine, clock, tmp_path)
    try:
        status, body, _ = server.get("/readyz")
        assert status == 503 and json.loads(body)["problems"][0].startswith("database:")
        assert server.get("/metrics")[0] == 503
        assert server.get("/healthz")[0] == 200  # the process is still alive
    finally:
        server.close()


def _bodies(server: Served) -> tuple[bytes, bytes]:
    ready_status, ready, _ = server.get("/readyz")
    metrics_status, metrics, _ = server.get("/metrics")
    assert ready_status == 503 and json.loads(ready)["problems"] == [DATABASE_UNAVAILABLE]
    assert metrics_status == 503 and metrics == f"{DATABASE_UNAVAILABLE}\n".encode()
    return ready, metrics


def test_a_sqlite_file_that_cannot_be_read_is_not_named_to_the_probes(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.store.engine import make_engine

    folder = tmp_path / "ledger-of-acme-secret"
    folder.mkdir()
    (folder / "books.db").write_bytes(b"this is not a SQLite database, and its name is private" * 100)
    server = Served(make_engine(f"sqlite:///{folder}/books.db"), clock, tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.web.health"):
            for body in _bodies(server):
                assert b"acme" not in body and b"books" not in body and str(tmp_path).encode() not in body
    finally:
        server.close()
    assert any("/readyz: the database did not answer" in r.getMessage() for r in caplog.records)


@pytest.mark.postgres
@pytest.mark.parametrize("wrong", ["database", "host"])
def test_a_postgresql_host_and_database_are_not_named_to_the_probes(
    wrong: str, tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.store.engine import make_engine

    url = sa.engine.make_url(postgres_url_or_skip())
    if wrong == "database":
        url = url.set(database="acme_ledger_nowhere")
        secrets = [b"acme_ledger_nowhere", str(url.host).encode()]
    else:
        url = url.set(host="db-acme-internal.invalid", database="acme_ledger")
        secrets = [b"db-acme-internal", b"acme_ledger"]
    server = Served(make_engine(url.render_as_string(hide_password=False)), clock, tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.web.health"):
            for body in _bodies(server):
                for secret in secrets:
                    assert secret not in body
    finally:
        server.close()
    # The operator still learns why, from the log.
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert secrets[0].decode() in logged
