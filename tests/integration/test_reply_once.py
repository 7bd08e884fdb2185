"""Each reply is acted on exactly once (issue 20), on real SQLite and PostgreSQL: two instances at once,
an instance whose lease expired while it was still working, a failure inside the transaction after
the action was done (nothing of it is kept), and a reply that cannot be read."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.config.sections import InboundSettings
from bot.replies.handling import MAX_ATTEMPTS, HandleSummary, handle_pending
from bot.replies.model import Classification, Reply, ReplyKind
from tests.integration.reply_world import (
    AS_OF,
    C1_EMAIL,
    NOW,
    Labels,
    arrive,
    email_bytes,
    events,
    inbound_row,
    invoice,
    reply_settings,
    seed,
)

SURE = Decimal("0.97")
REPLIES = 40


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Small batches, so two instances interleave over the rows many times.
    return reply_settings(tmp_path).model_copy(update={"inbound": InboundSettings(batch_size=3)})


def _labels() -> Labels:
    promise = Classification(ReplyKind.PROMISE, SURE, promise_date=AS_OF + timedelta(days=7))
    labels = {f"we will pay, ref {n}": promise for n in range(REPLIES)}
    labels.update({f"question {n}": Classification(ReplyKind.OTHER, SURE) for n in range(REPLIES)})
    return Labels(labels)


def _arrive_many(engine: Engine, settings: Settings) -> list[int]:
    texts = [f"we will pay, ref {n}" if n % 2 else f"question {n}" for n in range(REPLIES)]
    return [arrive(engine, settings, email_bytes(C1_EMAIL, text)) for text in texts]


def _acted_once(engine: Engine, inbound: list[int]) -> None:
    received = Counter(e["data"]["inbound"] for e in events(engine, "reply_received"))
    acted = Counter(e["data"]["inbound"] for e in events(engine, "reply_acted"))
    assert received == acted == Counter(inbound)  # every reply once, none twice
    assert len(events(engine, "promise")) == 2 * (REPLIES // 2)  # I-1 and I-2, once per promise
    created = [e for e in events(engine, "task_created") if e["data"]["kind"] == "reply"]
    assert len(created) == REPLIES // 2
    assert {inbound_row(engine, i).state for i in inbound} == {"handled"}


def test_two_instances_at_once_act_on_every_reply_exactly_once(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Two handle_pending calls race over 40 replies in batches of 3: together they handle all 40,
    and every reply has one reply_received, one reply_acted and its action once."""
    seed(engine)
    inbound = _arrive_many(engine, settings)
    start = threading.Barrier(2)
    summaries: dict[str, HandleSummary] = {}
    errors: list[BaseException] = []

    def run(owner: str) -> None:
        try:
            start.wait()
            summaries[owner] = handle_pending(engine, settings, NOW, owner=owner, classifier=_labels())
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(owner,)) for owner in ("worker-a", "worker-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert sum(s.handled for s in summaries.values()) == REPLIES
    _acted_once(engine, inbound)
    actors = Counter(e["actor"] for e in events(engine, "reply_acted"))
    assert sum(actors.values()) == REPLIES and set(actors) <= {"worker-a", "worker-b"}


def test_an_instance_whose_lease_expired_does_not_act_again(engine: Engine, settings: Settings) -> None:
    """Instance A leases replies and is slow: while it classifies the first, its lease expires and
    instance B handles them all. A then finds them handled and acts on none (lost)."""
    seed(engine)
    inbound = _arrive_many(engine, settings)
    later = NOW + timedelta(seconds=settings.outreach.lease_seconds + 1)
    inner: list[HandleSummary] = []

    class Slow(Labels):
        def __call__(self, reply: Reply, **kwargs: Any) -> Classification:
            if not inner:  # A's lease has expired by the time B runs
                inner.append(handle_pending(engine, settings, later, owner="worker-b", classifier=_labels()))
            return super().__call__(reply, **kwargs)

    slow = Slow(_labels().labels)
    first = handle_pending(engine, settings, NOW, owner="worker-a", classifier=slow)
    assert inner[0].handled == REPLIES
    assert first.handled == 0 and first.lost >= 1
    _acted_once(engine, inbound)


_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER fail_reply_acted BEFORE INSERT ON evidence_event WHEN NEW.kind = 'reply_acted' "
        "BEGIN SELECT RAISE(ABORT, 'simulated crash while recording the reply'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION fail_reply_acted() RETURNS trigger AS $$ BEGIN IF NEW.kind = 'reply_acted' THEN "
        "RAISE EXCEPTION 'simulated crash while recording the reply'; END IF; RETURN NEW; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER fail_reply_acted BEFORE INSERT ON evidence_event FOR EACH ROW "
        "EXECUTE FUNCTION fail_reply_acted()",
    ],
}


def test_a_failure_after_acting_keeps_nothing_and_the_reply_is_acted_on_once_later(
    engine: Engine, settings: Settings
) -> None:
    """The database refuses the last write of the handling transaction (the reply_acted event), after
    the dispute was written in it: nothing is kept (invoices open, no event), the reply stays
    "received" with the error; once the fault is gone and the lease expired, it is acted on once."""
    seed(engine)
    text = "货物有质量问题，拒绝付款"
    labels = Labels({text: Classification(ReplyKind.DISPUTE, SURE)})
    inbound = arrive(engine, settings, email_bytes(C1_EMAIL, text))
    with engine.begin() as connection:
        for statement in _TRIGGERS[engine.dialect.name]:
            connection.exec_driver_sql(statement)
    summary = handle_pending(engine, settings, NOW, owner="worker-a", classifier=labels)
    assert (summary.handled, summary.retried) == (0, 1)
    row = inbound_row(engine, inbound)
    assert (row.state, row.attempts) == ("received", 1) and "simulated crash" in row.last_error
    assert invoice(engine, "I-1").status == "open" and events(engine) == []
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "DROP TRIGGER fail_reply_acted"
            + (" ON evidence_event" if engine.dialect.name == "postgresql" else "")
        )
    # Still leased to the instance that failed: nobody takes it until the lease expires.
    assert handle_pending(engine, settings, NOW, owner="worker-b", classifier=labels).total == 0
    later = NOW + timedelta(seconds=settings.outreach.lease_seconds + 1)
    assert handle_pending(engine, settings, later, owner="worker-b", classifier=labels).handled == 1
    assert [invoice(engine, n).status for n in ("I-1", "I-2")] == ["disputed", "disputed"]
    assert [e["invoices"] for e in events(engine, "dispute")] == [["I-1"], ["I-2"]]
    assert len(events(engine, "reply_acted")) == 1


def test_a_reply_that_cannot_be_read_is_retried_then_set_aside(engine: Engine, settings: Settings) -> None:
    """A row whose raw artifact is missing is tried again after each lease, and after MAX_ATTEMPTS
    tries it is "failed", with the error; the other replies are handled meanwhile."""
    seed(engine)
    labels = Labels({"question 1": Classification(ReplyKind.OTHER, SURE)})
    good = arrive(engine, settings, email_bytes(C1_EMAIL, "question 1"))
    broken = arrive(engine, settings, b"From: x@y.example\r\n\r\nlost")
    with engine.begin() as connection:
        inbound_t = sa.table("inbound_message", sa.column("id"), sa.column("raw_sha256"))
        connection.execute(sa.update(inbound_t).where(inbound_t.c.id == broken).values(raw_sha256="0" * 64))
    step = timedelta(seconds=settings.outreach.lease_seconds + 1)
    outcomes = [
        handle_pending(engine, settings, NOW + step * n, owner="worker-a", classifier=labels)
        for n in range(MAX_ATTEMPTS + 1)
    ]
    assert inbound_row(engine, good).state == "handled" and outcomes[0].handled == 1
    assert [o.retried for o in outcomes] == [1] * (MAX_ATTEMPTS - 1) + [0, 0]
    assert [o.failed for o in outcomes] == [0] * (MAX_ATTEMPTS - 1) + [1, 0]
    row = inbound_row(engine, broken)
    assert (row.state, row.attempts) == ("failed", MAX_ATTEMPTS) and "missing" in row.last_error
