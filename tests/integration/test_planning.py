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
                # d = 30: preservation_pack is due, but no signed demand went out: credit_hold instead
                _invoice("I4", "C2", date(2026, 5, 11)),
                _invoice("I5", "C4", date(2026, 5, 1), promise_date=date(2026, 6, 1)),  # broken promise
                _invoice("I6", "C3", date(2026, 5, 26)),  # do not contact: manual, one task
                # d = 30 too, and its formal notice went out ten days ago: preservation_pack (approval)
                _invoice("I7", "C2", date(2026, 5, 11)),
            ]
        )
        session.flush()
        _sent_notice(session, "C2", "I7", "formal_notice", datetime(2026, 5, 31, 2, 0, tzinfo=UTC))
        session.commit()


def _sent_notice(session: Session, customer: str, invoice: str, step: str, at: datetime) -> None:
    """What a cycle leaves behind a signed step's e-mail that went out at ``at``."""
    session.add(
        tables.StepExecution(
            invoice_number=invoice,
            customer_id=customer,
            tactic="preservation",
            step=step,
            status="planned",
            business_date=at.date(),
            created_at=at,
            updated_at=at,
        )
    )
    message = tables.Message(
        customer_id=customer,
        step=step,
        channel="email",
        business_date=at.date(),
        state="sent",
        sent_at=at,
        created_at=at,
        updated_at=at,
    )
    session.add(message)
    session.flush()
    assert message.id is not None
    session.add(tables.MessageInvoice(message_id=message.id, invoice_number=invoice))


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
    # Issue 16 (DESIGN §4 rule 2): I4 had no signed demand, so its first is placed before any legal step.
    assert ("I4", "preservation_pack") not in by_invoice
    first_demand = by_invoice[("I4", "credit_hold")]
    assert first_demand.status is DecisionStatus.PLANNED
    assert first_demand.reason.startswith("first demand before preservation_pack: credit_hold (day 7)")
    assert by_invoice[("I7", "preservation_pack")].status is DecisionStatus.AWAITING_APPROVAL
    assert by_invoice[("I5", "credit_hold")].status is DecisionStatus.PLANNED
    [manual] = [d for d in preview.decisions if d.invoice == "I6"]
    assert (manual.status, manual.channels) == (DecisionStatus.MANUAL, ())
    assert manual.reason.startswith("do_not_contact:")


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
                "JOIN message_invoice mi ON mi.message_id = m.id WHERE m.step = 'formal_notice' AND m.customer_id = 'C1' "
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
    assert sorted(tuple(t) for t in tasks) == [
        ("approval", "C2", "preservation_pack", json.dumps(["I7"])),
        ("manual", "C3", None, json.dumps(["I6"])),
    ]
    assert ("C2", "credit_hold", "email") in [tuple(m) for m in messages]  # I4's first demand
    assert sorted(superseded) == sorted(
        ["pre_due_reminder", "due_statement", "formal_notice", "lawyer_letter"]
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


def test_a_do_not_contact_customer_gets_one_task_not_one_a_day(engine: Engine) -> None:
    _seed(engine)
    for offset in range(3):  # Wednesday to Friday
        record_plan(engine, Settings(), AS_OF + timedelta(days=offset), NOW + timedelta(days=offset))
        preview = preview_plan(engine, Settings(), AS_OF + timedelta(days=offset))
        assert [d.status for d in preview.decisions if d.invoice == "I6"] == [DecisionStatus.MANUAL]
    with engine.connect() as connection:
        tasks = connection.execute(
            sa.text("SELECT kind, status, title, body FROM task WHERE customer_id = 'C3'")
        ).all()
        executions = connection.execute(
            sa.text("SELECT count(*) FROM step_execution WHERE invoice_number = 'I6'")
        ).scalar_one()
    [(kind, status, title, body)] = tasks
    assert (kind, status) == ("manual", "open")
    assert "do_not_contact" in title and "I6" in title
    assert "I6: 100000.00 CNY outstanding, 15 days overdue" in body
    assert executions == 0  # a manual decision is no step run


def _decisions_of(engine: Engine, as_of: date, invoice: str) -> list[tuple[str, DecisionStatus]]:
    return [
        (d.step, d.status) for d in preview_plan(engine, Settings(), as_of).decisions if d.invoice == invoice
    ]


def test_paused_invoices_and_customers_are_skipped_until_the_day_after(engine: Engine) -> None:
    _seed(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE invoice SET paused_until = :until, pause_reason = 'paid, says the customer' WHERE number = 'I1'"
            ),
            {"until": AS_OF},
        )
        connection.execute(
            sa.text("UPDATE customer SET paused_until = :until, pause_reason = 'talks' WHERE id = 'C2'"),
            {"until": AS_OF + timedelta(days=1)},
        )
    assert _decisions_of(engine, AS_OF, "I1") == []
    assert _decisions_of(engine, AS_OF, "I2") != []  # its neighbour is not paused
    assert _decisions_of(engine, AS_OF, "I4") == [] and _decisions_of(engine, AS_OF, "I7") == []
    thursday = AS_OF + timedelta(days=1)
    assert ("formal_notice", DecisionStatus.PLANNED) in _decisions_of(engine, thursday, "I1")
    assert _decisions_of(engine, thursday, "I4") == []
    assert ("preservation_pack", DecisionStatus.AWAITING_APPROVAL) in _decisions_of(
        engine, AS_OF + timedelta(days=2), "I7"
    )


def test_a_demand_counts_from_the_day_it_went_out_where_the_customer_is(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(_customer("C2", "cautious"))
        session.flush()
        session.add_all([_invoice(n, "C2", date(2026, 5, 11)) for n in ("LOCAL", "BOUNCED", "BACKDATED")])
        session.flush()
        # A cycle run today for 20 May: it counts from its business date, not from today.
        _sent_notice(session, "C2", "BACKDATED", "credit_hold", datetime(2026, 5, 20, 2, 0, tzinfo=UTC))
        # 17:00 UTC on 3 June is 01:00 on 4 June in Shanghai: a week later is 11 June, not 10 June.
        _sent_notice(session, "C2", "LOCAL", "credit_hold", datetime(2026, 6, 3, 17, 0, tzinfo=UTC))
        # credit_hold was due then: the steps before it were superseded, so no first demand is left.
        session.add_all(
            tables.StepExecution(
                invoice_number="LOCAL",
                customer_id="C2",
                tactic="preservation",
                step=step,
                status="superseded",
                business_date=date(2026, 6, 3),
                created_at=NOW,
                updated_at=NOW,
            )
            for step in ("pre_due_reminder", "due_statement", "formal_notice")
        )
        _sent_notice(session, "C2", "BOUNCED", "formal_notice", datetime(2026, 5, 20, 2, 0, tzinfo=UTC))
        session.commit()
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE message SET state = 'undelivered' WHERE id IN "
                "(SELECT message_id FROM message_invoice WHERE invoice_number = 'BOUNCED')"
            )
        )
        message_t, link_t = tables.Message.__table__, tables.MessageInvoice.__table__  # type: ignore[attr-defined]
        connection.execute(
            sa.update(message_t)
            .where(
                message_t.c.id.in_(
                    sa.select(link_t.c.message_id).where(link_t.c.invoice_number == "BACKDATED")
                )
            )
            .values(sent_at=datetime(2026, 12, 7, 2, 0, tzinfo=UTC))
        )
    [(step, status)] = [
        (s, st) for s, st in _decisions_of(engine, AS_OF, "LOCAL") if st is not DecisionStatus.SUPERSEDED
    ]
    assert (step, status) == ("preservation_pack", DecisionStatus.DEFERRED)
    [waiting] = [
        d
        for d in preview_plan(engine, Settings(), AS_OF).decisions
        if d.invoice == "LOCAL" and d.status is DecisionStatus.DEFERRED
    ]
    assert waiting.reason.endswith("went out on 2026-06-04; preservation_pack waits until 2026-06-11")
    assert ("preservation_pack", DecisionStatus.AWAITING_APPROVAL) in _decisions_of(
        engine, AS_OF + timedelta(days=1), "LOCAL"
    )
    assert ("preservation_pack", DecisionStatus.AWAITING_APPROVAL) in _decisions_of(
        engine, AS_OF, "BACKDATED"
    )
    # A bounced e-mail demanded nothing: the bounced invoice gets its first demand, not a legal step.
    bounced = dict(_decisions_of(engine, AS_OF, "BOUNCED"))
    assert bounced["credit_hold"] is DecisionStatus.PLANNED
    assert "preservation_pack" not in bounced


def _set_states(engine: Engine, invoice: str, state: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE message SET state = :state WHERE id IN "
                "(SELECT message_id FROM message_invoice WHERE invoice_number = :invoice)"
            ),
            {"state": state, "invoice": invoice},
        )


def test_a_first_demand_that_never_went_out_leaves_the_invoice_manual_with_one_task(engine: Engine) -> None:
    # Rule 2, never silently forgotten: preservation_pack is due, credit_hold stands in for it; its
    # e-mail is then cancelled by the re-check (a promise recorded after planning, later broken).
    with Session(engine) as session:
        session.add(_customer("C2", "cautious"))
        session.flush()
        session.add(_invoice("STUCK", "C2", date(2026, 5, 11)))  # d = 30
        session.commit()
    assert ("credit_hold", DecisionStatus.PLANNED) in _decisions_of(engine, AS_OF, "STUCK")
    record_plan(engine, Settings(), AS_OF, NOW)
    thursday, friday = AS_OF + timedelta(days=1), AS_OF + timedelta(days=2)

    def live(as_of: date) -> list[tuple[str, DecisionStatus]]:
        return [
            (s, st) for s, st in _decisions_of(engine, as_of, "STUCK") if st is not DecisionStatus.SUPERSEDED
        ]

    # Still in the outbox (planned, claimed, sending, or planned again after a transient failure):
    # it may yet go, so the legal step waits.
    for state in ("planned", "claimed", "sending"):
        _set_states(engine, "STUCK", state)
        assert live(thursday) == [("preservation_pack", DecisionStatus.DEFERRED)], state
    for state in ("cancelled", "failed", "undelivered", "unknown"):
        _set_states(engine, "STUCK", state)
        assert live(thursday) == [("preservation_pack", DecisionStatus.MANUAL)], state
    _set_states(engine, "STUCK", "cancelled")
    for offset, day in enumerate((thursday, friday), start=1):
        record_plan(engine, Settings(), day, NOW + timedelta(days=offset))
        [manual] = [
            d
            for d in preview_plan(engine, Settings(), day).decisions
            if d.invoice == "STUCK" and d.status is DecisionStatus.MANUAL
        ]
        assert manual.reason.startswith("first demand before preservation_pack: the signed demand placed")
    with engine.connect() as connection:
        tasks = connection.execute(
            sa.text(
                "SELECT kind, status, step, invoices, dedupe_key, title FROM task WHERE customer_id = 'C2'"
            )
        ).all()
        raised = connection.execute(
            sa.text(
                "SELECT count(*) FROM evidence_event WHERE dedupe_key = 'task_created:manual:no_demand:STUCK'"
            )
        ).scalar_one()
    [(kind, status, step, invoices, dedupe_key, title)] = tasks
    assert (kind, status, step, json.loads(invoices), dedupe_key) == (
        "manual",
        "open",
        "preservation_pack",
        ["STUCK"],
        "manual:no_demand:STUCK",
    )
    assert "STUCK" in title
    assert raised == 1
    # Once a signed demand has gone out after all, the ladder goes on: no more manual.
    _set_states(engine, "STUCK", "sent")
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE message SET sent_at = :at"), {"at": NOW})
    assert live(AS_OF + timedelta(days=7)) == [("preservation_pack", DecisionStatus.AWAITING_APPROVAL)]
