"""A collector's notes and call outcomes against real SQLite and PostgreSQL: each one transaction,
one or more evidence events whose actor is the collector, nothing written on bad input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.errors import InputError
from bot.evidence import chronology_text
from bot.outreach.collector import PromiseTerms, log_call
from bot.outreach.notes import NOTE_LIMIT, add_note
from bot.outreach.tasks import finish_task, list_task
from bot.store import tables

AS_OF = date(2026, 6, 10)
NOON = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)
TOLERANCE = Decimal("1.00")
LI = "user:li.na@xinghe.com.cn"


@pytest.fixture
def desk(engine: Engine) -> dict[str, int]:
    """C1 owes I-7 and I-15, C2 owes I-C2; open call tasks: one on I-7, one on I-7 and I-15; a
    review task (not of a message) on I-15."""
    with Session(engine) as session:
        for customer in ("C1", "C2"):
            session.add(
                tables.Customer(
                    id=customer,
                    name=f"客户 {customer}",
                    country="CN",
                    timezone="Asia/Shanghai",
                    language="zh-CN",
                )
            )
        session.flush()
        for number, customer, days in (("I-7", "C1", 7), ("I-15", "C1", 15), ("I-C2", "C2", 7)):
            session.add(
                tables.Invoice(
                    number=number,
                    customer_id=customer,
                    currency="CNY",
                    amount=Decimal("5000.00"),
                    issue_date=date(2026, 4, 1),
                    due_date=AS_OF - timedelta(days=days),
                )
            )
        session.flush()
        ids: dict[str, int] = {}
        for name, kind, invoices, key in (
            ("call", "call", ["I-7"], "call:C1:collection_call"),
            ("both", "call", ["I-7", "I-15"], "call:C1:care_call"),
            ("review", "review", ["I-15"], "review:C1"),
        ):
            task = tables.Task(
                kind=kind,
                customer_id="C1",
                invoices=json.dumps(invoices),
                step="collection_call" if kind == "call" else None,
                assignee="collector",
                title=f"{name} for C1",
                dedupe_key=key,
                created_at=NOON,
            )
            session.add(task)
            session.flush()
            assert task.id is not None
            ids[name] = task.id
        session.commit()
    return ids


def _events(engine: Engine, kind: str | None = None) -> list[dict[str, Any]]:
    query = "SELECT body FROM evidence_event" + (" WHERE kind = :kind" if kind else "") + " ORDER BY seq"
    with engine.connect() as connection:
        return [json.loads(b) for b in connection.execute(sa.text(query), {"kind": kind}).scalars()]


def _row(engine: Engine, table: str, key: str, value: object) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.text(f"SELECT * FROM {table} WHERE {key} = :v"), {"v": value}).one()


def test_a_note_is_an_event_of_its_author(engine: Engine, desk: dict[str, int]) -> None:
    seq = add_note(engine, "C1", "  财务经理下周休假  ", invoices=("I-7", "I-15", "I-7"), actor=LI, now=NOON)
    (note,) = _events(engine, "note")
    assert note["seq"] == seq and note["actor"] == LI and note["customer"] == "C1"
    assert note["invoices"] == ["I-15", "I-7"] and note["data"] == {"text": "财务经理下周休假"}
    add_note(engine, "C1", "客户要求改为月结", actor=LI, now=NOON)
    assert _events(engine, "note")[-1]["invoices"] == []
    assert chronology_text.what("note", chronology_text.ZH) == "催收备注"
    assert chronology_text.outcome("note", note["data"], "", chronology_text.EN) == "note: 财务经理下周休假"


@pytest.mark.parametrize(
    "customer, text, invoices, message",
    [
        ("C1", "   ", (), "--text is required"),
        ("C1", "x" * (NOTE_LIMIT + 1), (), f"at most {NOTE_LIMIT}"),
        ("C9", "x", (), "no customer 'C9'"),
        ("C1", "x", ("I-C2",), "no invoice 'I-C2' of customer C1"),
        ("C1", "x", ("I-404",), "no invoice 'I-404' of customer C1"),
    ],
)
def test_a_bad_note_writes_nothing(
    engine: Engine, desk: dict[str, int], customer: str, text: str, invoices: tuple[str, ...], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        add_note(engine, customer, text, invoices=invoices, actor=LI, now=NOON)
    assert _events(engine) == []


def test_a_call_without_a_promise_is_closed_with_its_outcome(engine: Engine, desk: dict[str, int]) -> None:
    changes = log_call(
        engine, desk["call"], "no-answer", "无人接听", LI, NOON, made_on=AS_OF, tolerance=TOLERANCE
    )
    assert [(c.task, c.closed) for c in changes] == [(desk["call"], True)]
    done = list_task(engine, desk["call"])
    assert (done.status, done.outcome, done.note) == ("done", "no-answer", "无人接听")
    (event,) = _events(engine)
    assert event["kind"] == "task_done" and event["actor"] == LI
    assert event["data"]["outcome"] == "no-answer"
    assert "无人接听" in chronology_text.outcome("task_done", event["data"], "", chronology_text.ZH)
    assert "call: no answer" in chronology_text.outcome("task_done", event["data"], "", chronology_text.EN)
    # `dunbot task done ID --note` still finishes any task without an outcome, and finish_task
    # takes the call outcomes other than a promise too.
    finish_task(engine, desk["both"], "两张发票都已沟通", LI, NOON, outcome="reached")
    assert list_task(engine, desk["both"]).outcome == "reached"


def test_a_call_that_ends_in_a_promise_records_it_in_one_go(engine: Engine, desk: dict[str, int]) -> None:
    terms = PromiseTerms("I-7", AS_OF + timedelta(days=10), Decimal("3000.00"))
    changes = log_call(
        engine,
        desk["call"],
        "promised",
        "王经理承诺 20 日付 3000",
        LI,
        NOON,
        promise=terms,
        made_on=AS_OF,
        tolerance=TOLERANCE,
    )
    # this call, closed with the collector's note; the other call drops I-7 and stays open for I-15
    assert [(c.task, c.closed, c.remaining) for c in changes] == [
        (desk["call"], True, ()),
        (desk["both"], False, ("I-15",)),
    ]
    done = list_task(engine, desk["call"])
    assert (done.status, done.outcome, done.note) == ("done", "promised", "王经理承诺 20 日付 3000")
    invoice = _row(engine, "invoice", "number", "I-7")
    assert str(invoice.promise_date) == "2026-06-20" and Decimal(invoice.promise_amount) == Decimal("3000")
    kinds = [(e["kind"], e["actor"]) for e in _events(engine)]
    assert kinds == [("promise", LI), ("task_done", LI), ("task_updated", LI)]
    assert list_task(engine, desk["both"]).invoices == ("I-15",)


@pytest.mark.parametrize(
    "outcome, terms, message",
    [
        ("promised", None, "needs the promise: give --promise-date"),
        ("reached", PromiseTerms("I-7", AS_OF, None), "goes with the outcome promised"),
        ("maybe", None, "--outcome must be one of reached"),
        ("promised", PromiseTerms("I-7", AS_OF - timedelta(days=1), None), "is in the past"),
        ("promised", PromiseTerms("I-7", AS_OF, Decimal("5000.01")), "more than invoice I-7 still owes"),
        ("promised", PromiseTerms("I-C2", AS_OF, None), "not C1's"),
    ],
)
def test_a_bad_call_log_writes_nothing(
    engine: Engine, desk: dict[str, int], outcome: str, terms: PromiseTerms | None, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        log_call(
            engine, desk["call"], outcome, "x", LI, NOON, promise=terms, made_on=AS_OF, tolerance=TOLERANCE
        )
    assert _events(engine) == []
    assert list_task(engine, desk["call"]).status == "open"
    assert _row(engine, "invoice", "number", "I-7").promise_date is None


def test_call_outcomes_are_for_calls_only(engine: Engine, desk: dict[str, int]) -> None:
    with pytest.raises(InputError, match=r"is for calls; task \d+ is a review task"):
        finish_task(engine, desk["review"], "x", LI, NOON, outcome="no-answer")
    with pytest.raises(InputError, match="is for calls"):
        log_call(engine, desk["review"], "reached", "x", LI, NOON, made_on=AS_OF, tolerance=TOLERANCE)
    with pytest.raises(InputError, match="logged with the promise"):
        finish_task(engine, desk["call"], "x", LI, NOON, outcome="promised")
    assert _events(engine) == []
