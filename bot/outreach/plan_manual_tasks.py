"""The collector tasks a plan raises for invoices the bot must not or cannot dun (``manual``):
one per do_not_contact customer (``record_manual_handling``), one per invoice whose first demand
never went out (``record_demands_not_sent``, rule 2).

Both raise their task with :func:`bot.outreach.recording.raise_task` (insert-if-absent on the
task's dedupe key, then a ``task_created`` event), as the outbox and an approval's rejection do.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.domain.decisions import CustomerPlan, DecisionStatus
from bot.domain.ladder import lacks_demand
from bot.evidence.log import NewEvent
from bot.outreach.plan_recording import ACTOR, RecordedPlan, task_t
from bot.outreach.recording import raise_task

# Who handles what the bot must not send (the collections team, like review tasks).
MANUAL_ASSIGNEE = "collector"


def record_manual_handling(
    connection: Connection, plan: CustomerPlan, now: datetime, recorded: RecordedPlan
) -> list[NewEvent]:
    """A do_not_contact customer with overdue invoices gets ONE open collector task, not one a day.

    The task is raised the first day the plan decides its invoices ``manual``; while it is open no
    other is, and once a collector closed it, another comes only for an invoice that none of the
    customer's earlier tasks named (one that fell overdue since). The plan keeps showing them all,
    with why. A rejected legal step raises its own task when it is rejected (``approval.decide``).
    """
    if not plan.do_not_contact:
        return []
    manual = [d for d in plan.decisions if d.status is DecisionStatus.MANUAL]
    if not manual:
        return []
    invoices = tuple(d.invoice for d in manual)
    first_key = f"manual:do_not_contact:{plan.customer}"
    earlier = connection.execute(
        sa.select(task_t.c.status, task_t.c.invoices).where(
            task_t.c.customer_id == plan.customer,
            sa.or_(
                task_t.c.dedupe_key == first_key,
                sa.func.substr(task_t.c.dedupe_key, 1, len(first_key) + 1) == f"{first_key}:",
            ),
        )
    ).all()
    if any(row.status == "open" for row in earlier):
        return []
    covered = {number for row in earlier for number in json.loads(row.invoices)}
    fresh = [number for number in invoices if number not in covered]
    if not fresh:
        return []
    # The first task keeps the customer's own key; a later one is named by an invoice no task named.
    dedupe_key = f"{first_key}:{fresh[0]}" if earlier else first_key
    lines = [
        f"{d.invoice}: {d.outstanding} {d.currency} outstanding, {d.days_overdue} days overdue"
        for d in manual
    ]
    title = (
        f"Handle {plan.customer} by hand: do_not_contact, {len(manual)} overdue invoice(s) "
        f"({', '.join(invoices)})"
    )[:500]
    body = (
        f"{plan.customer} is marked do_not_contact, so dunbot sends it nothing. Decide how to collect "
        "these invoices (or clear do_not_contact in the customer file):\n" + "\n".join(lines)
    )
    events: list[NewEvent] = []
    task = raise_task(
        connection,
        events,
        kind="manual",
        customer=plan.customer,
        invoices=invoices,
        step=None,
        assignee=MANUAL_ASSIGNEE,
        title=title,
        body=body,
        dedupe_key=dedupe_key,
        actor=ACTOR,
        now=now,
        event_data={"reason": "do_not_contact"},
    )
    if task is not None:
        recorded.tasks += 1
    return events


def record_demands_not_sent(
    connection: Connection, plan: CustomerPlan, now: datetime, recorded: RecordedPlan
) -> list[NewEvent]:
    """An invoice whose legal step is due while the signed demand placed for it never went out (and
    none is still in the outbox) is ``manual`` (rule 2): ONE collector task per invoice, raised the
    first day and never again (the plan keeps showing it, with why)."""
    if plan.do_not_contact:
        return []  # its customer's one task covers it
    manual = DecisionStatus.MANUAL
    events: list[NewEvent] = []
    for invoice in plan.invoices:
        placement = invoice.placement
        if placement.status is not manual or not lacks_demand(placement):
            continue
        number = invoice.invoice
        step = plan.ladder[placement.step_index].name
        title = f"Send the first demand for {number} by hand, or decide: {step} is due"[:500]
        body = (
            f"{number} of {plan.customer}: {invoice.outstanding} {invoice.currency} outstanding, "
            f"{invoice.days_overdue} days overdue. {placement.reason}. {step} needs a signed demand "
            "sent first; once one has gone out, it is placed again after the lead time."
        )
        dedupe = f"manual:no_demand:{number}"
        task = raise_task(
            connection,
            events,
            kind="manual",
            customer=plan.customer,
            invoices=(number,),
            step=step,
            assignee=MANUAL_ASSIGNEE,
            title=title,
            body=body,
            dedupe_key=dedupe,
            actor=ACTOR,
            now=now,
            event_data={"reason": "no_demand"},
        )
        if task is not None:
            recorded.tasks += 1
    return events
