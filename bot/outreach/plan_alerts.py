"""A customer's assessment and alerts as evidence: the tier change (with the customer's current tier
updated), early warnings, the overdue trend and broken promises, each event once (dedupe keys).
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.domain.decisions import CustomerPlan
from bot.evidence.log import EventKind, NewEvent
from bot.outreach.plan_recording import ACTOR
from bot.store.queries import customer_t


def record_assessment(connection: Connection, plan: CustomerPlan, current: str | None) -> list[NewEvent]:
    """The tier change of ``plan``'s customer when its tier moved from ``current``: recorded, an event."""
    assessment = plan.assessment
    if assessment is None or current == assessment.tier.value:
        return []
    connection.execute(
        sa.update(customer_t)
        .where(customer_t.c.id == plan.customer)
        .values(current_tier=assessment.tier.value)
    )
    return [
        NewEvent(
            kind=EventKind.TIER_CHANGE,
            actor=ACTOR,
            customer=plan.customer,
            data={
                "as_of": plan.as_of,
                "from": current,
                "to": assessment.tier,
                "score": assessment.score,
                "scored_tier": assessment.scored_tier,
                "overridden": assessment.overridden,
                "trend_overdue": assessment.trend_overdue,
                "components": dict(assessment.components),
                "reason": assessment.reason,
            },
            dedupe_key=f"tier:{plan.customer}:{plan.as_of}:{current}->{assessment.tier.value}",
        )
    ]


def alert_events(plan: CustomerPlan) -> list[NewEvent]:
    """The events of ``plan``'s early warnings, overdue trend and broken promises."""
    events = [
        NewEvent(
            kind=EventKind.ALERT,
            actor=ACTOR,
            customer=w.customer,
            invoices=(w.invoice,),
            data={
                "alert": "early_warning",
                "as_of": plan.as_of,
                "days_overdue": w.days_overdue,
                "threshold_days": w.threshold_days,
                "recommend_credit_hold": w.recommend_credit_hold,
            },
            dedupe_key=f"early_warning:{w.invoice}",
        )
        for w in plan.early_warnings
    ]
    assessment = plan.assessment
    if assessment is not None and assessment.trend_invoices:
        # DESIGN §3: the trend is an evidence event of its own, also when the tier does not move
        # (an override, or already the lowest tier). Once per pair of invoices: the same two late
        # invoices are not news tomorrow; a later pair is.
        events.append(
            NewEvent(
                kind=EventKind.ALERT,
                actor=ACTOR,
                customer=plan.customer,
                invoices=assessment.trend_invoices,
                data={
                    "alert": "trend_overdue",
                    "as_of": plan.as_of,
                    "tier": assessment.tier,
                    "scored_tier": assessment.scored_tier,
                    "overridden": assessment.overridden,
                    "reason": assessment.reason,
                },
                # invoice numbers are unique and may hold any character: a JSON list names the pair
                dedupe_key="trend_overdue:" + json.dumps(assessment.trend_invoices, ensure_ascii=False),
            )
        )
    events += [
        NewEvent(
            kind=EventKind.BROKEN_PROMISE,
            actor=ACTOR,
            customer=b.customer,
            invoices=(b.invoice,),
            data={
                "as_of": plan.as_of,
                "promised_on": b.promised_on,
                "promised_amount": b.promised_amount,
                "outstanding": b.outstanding,
            },
            dedupe_key=f"broken_promise:{b.invoice}:{b.promised_on}",
        )
        for b in plan.broken_promises
    ]
    return events
