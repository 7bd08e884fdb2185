"""Planning a day against a real database: preview writes nothing; recording is idempotent."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config import Settings
from bot.domain.decisions import DecisionStatus
from bot.outreach.planning import preview_plan, record_plan
from bot.store import tables

AS_OF = date(2026, 6, 10)  # a Wednesday, a working day in China
NOW = datetime(2026, 6, 10, 1, 0, tzinfo=UTC)


def _customer(cid: str, tier: str | None, **kw: object) -> tables.Customer:
    fields: dict[str, object] = {
        "id": cid,
        "name": f"客户{cid}",
        "tier_override": tier,
        "country": "CN",
        "timezone": "Asia/Shanghai",
        "language": "zh-CN",
        "email": f"{cid.lower()}@example.cn",
        "phone": "+8613800138000",
        "address": "上海市浦东新区世纪大道1号",
    }
    fields.update(kw)
    return tables.Customer(**fields)  # type: ignore[arg-type]


def _invoice(number: str, customer: str, due: date, **kw: object) -> tables.Invoice:
    fields: dict[str, object] = {
        "number": number,
        "customer_id": customer,
        "currency": "CNY",
        "amount": Decimal("100000.00"),
        "issue_date": date(2026, 1, 1),
        "due_date": due,
    }
    fields.update(kw)
    return tables.Invoice(**fields)  # type: ignore[arg-type]


def _seed(engine: Engine) -> None:
    with Session(engine) as session:
        session.add_all(
            [
                _customer("C1", "cooperative"),
                _customer("C2", "cautious"),
                _customer("C3", "cooperative", do_not_contact=True),
                _customer("C4", "cooperative"),
            ]
        )
        session.flush()
        session.add_all(
            [
                _invoice("I1", "C1", date(2026, 5, 26)),  # d = 15: formal_notice
                _invoice("I2", "C1", date(2026, 5, 26)),  # same step: grouped with I1
                _invoice("I3", "C1", date(2026, 6, 7)),  # d = 3: overdue_sms
                _invoice("I4", "C2", date(2026, 5, 11)),  # d = 30: preservation_pack (approval)
                _invoice("I5", "C4", date(2026, 5, 1), promise_date=date(2026, 6, 1)),  # broken promise
                _invoice("I6", "C3", date(2026, 5, 26)),  # do not contact: nothing
            ]
        )
        session.commit()


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in ("step_execution", "message", "message_invoice", "task", "evidence_event", "customer")
        }


def test_preview_writes_nothing(engine: Engine) -> None:
    _seed(engine)
    before = _counts(engine)
    preview = preview_plan(engine, Settings(), AS_OF)
    assert _counts(engine) == before
    by_invoice = {(d.invoice, d.step): d for d in preview.decisions}
    assert by_invoice[("I1", "formal_notice")].status is DecisionStatus.PLANNED
    assert by_invoice[("I3", "overdue_sms")].status is DecisionStatus.PLANNED
    assert by_invoice[("I4", "preservation_pack")].status is DecisionStatus.AWAITING_APPROVAL
    assert by_invoice[("I5", "credit_hold")].status is DecisionStatus.PLANNED
    assert not any(d.invoice == "I6" for d in preview.decisions)


def test_record_plan_writes_once(engine: Engine) -> None:
    _seed(engine)
    first = record_plan(engine, Settings(), AS_OF, NOW)
    after_first = _counts(engine)
    assert first.executions > 0 and first.messages > 0 and first.events > 0
    second = record_plan(engine, Settings(), AS_OF, NOW)
    assert (second.executions, second.messages, second.tasks, second.events) == (0, 0, 0, 0)
    assert _counts(engine) == after_first

    with engine.connect() as connection:
        messages = connection.execute(
            sa.text("SELECT customer_id, step, channel FROM message ORDER BY customer_id, step, channel")
        ).all()
        grouped = connection.execute(
            sa.text(
                "SELECT m.channel, mi.invoice_number FROM message m "
                "JOIN message_invoice mi ON mi.message_id = m.id WHERE m.step = 'formal_notice' "
                "ORDER BY m.channel, mi.invoice_number"
            )
        ).all()
        kinds = [
            row[0] for row in connection.execute(sa.text("SELECT kind FROM evidence_event ORDER BY seq"))
        ]
        tasks = connection.execute(sa.text("SELECT kind, customer_id, step, invoices FROM task")).all()
        superseded = connection.execute(
            sa.text("SELECT step FROM step_execution WHERE invoice_number = 'I4' AND status = 'superseded'")
        ).scalars()
        tiers = {
            r.id: r.current_tier for r in connection.execute(sa.text("SELECT id, current_tier FROM customer"))
        }

    # I1 and I2 share one formal notice per channel.
    assert [tuple(r) for r in grouped] == [
        ("email", "I1"),
        ("email", "I2"),
        ("letter", "I1"),
        ("letter", "I2"),
    ]
    assert ("C2", "preservation_pack", "task") not in [
        tuple(m) for m in messages
    ]  # awaiting approval: no message
    assert [tuple(t) for t in tasks] == [("approval", "C2", "preservation_pack", json.dumps(["I4"]))]
    assert sorted(superseded) == sorted(
        ["pre_due_reminder", "due_statement", "formal_notice", "credit_hold", "lawyer_letter"]
    )
    assert kinds.count("broken_promise") == 1
    assert kinds.count("tier_change") == 4  # first assessment of each customer
    assert "step_superseded" in kinds and "step_planned" in kinds and "approval_requested" in kinds
    assert tiers == {"C1": "cooperative", "C2": "cautious", "C3": "cooperative", "C4": "cooperative"}


def test_next_day_does_not_repeat_steps(engine: Engine) -> None:
    _seed(engine)
    record_plan(engine, Settings(), AS_OF, NOW)
    next_day = preview_plan(engine, Settings(), date(2026, 6, 11))
    planned_steps = {(d.invoice, d.step) for d in next_day.decisions}
    assert ("I1", "formal_notice") not in planned_steps
    assert ("I3", "overdue_sms") not in planned_steps


def _alerts(engine: Engine) -> list[tuple[str, list[str], dict[str, object]]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT customer, invoices, body FROM evidence_event WHERE kind = 'alert' ORDER BY seq")
        ).all()
    return [(row.customer, json.loads(row.invoices), json.loads(row.body)["data"]) for row in rows]


def test_alerts_are_evidence_events_once_per_fact(engine: Engine) -> None:
    with Session(engine) as session:
        session.add_all([_customer("C1", "strategic"), _customer("C2", None, industry="construction")])
        session.flush()
        session.add_all(
            [
                _invoice("A1", "C1", date(2026, 4, 1)),  # 70 days overdue, over 1.5 × 30: early warning
                _invoice("A2", "C1", date(2026, 5, 20)),  # with A1, the two latest both overdue: trend
                _invoice("B1", "C2", date(2026, 6, 1)),
                _invoice("B2", "C2", date(2026, 6, 5)),  # scored, already cautious: the tier cannot move
            ]
        )
        session.commit()
    record_plan(engine, Settings(), AS_OF, NOW)
    first = _alerts(engine)
    assert sorted((customer, invoices, data["alert"]) for customer, invoices, data in first) == [
        ("C1", ["A1"], "early_warning"),
        ("C1", ["A1", "A2"], "trend_overdue"),
        ("C2", ["B1", "B2"], "trend_overdue"),
    ]
    trend = {customer: data for customer, _, data in first if data["alert"] == "trend_overdue"}
    # an override is never moved, but the alert is raised
    assert (trend["C1"]["tier"], trend["C1"]["overridden"]) == ("strategic", True)
    # the lowest tier has nowhere to go, so no tier change says it: the alert does
    assert (trend["C2"]["tier"], trend["C2"]["scored_tier"], trend["C2"]["overridden"]) == (
        "cautious",
        "cautious",
        False,
    )
    assert "trend overdue" in str(trend["C2"]["reason"])

    # The next day the facts are the same: nothing is raised again.
    record_plan(engine, Settings(), date(2026, 6, 11), NOW + timedelta(days=1))
    assert _alerts(engine) == first

    # A third late invoice makes a new latest pair: one new alert, for that pair.
    with Session(engine) as session:
        session.add(_invoice("B3", "C2", date(2026, 6, 9)))
        session.commit()
    record_plan(engine, Settings(), date(2026, 6, 12), NOW + timedelta(days=2))
    raised = _alerts(engine)[len(first) :]
    assert [(customer, invoices, data["alert"]) for customer, invoices, data in raised] == [
        ("C2", ["B2", "B3"], "trend_overdue")
    ]
