"""Builders of domain snapshots for the unit tests: sensible defaults, override what matters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from bot.domain.ladder import default_ladders
from bot.domain.ledger import (
    Channel,
    Contract,
    Customer,
    CustomerLedger,
    Invoice,
    InvoiceStatus,
    Language,
    Payment,
    Promise,
    Tier,
)
from bot.domain.policy import CompliancePolicy, PlanningPolicy

# A plain Tuesday in China: no holiday, no make-up working day nearby.
TUESDAY = date(2026, 3, 10)


def make_customer(**overrides: Any) -> Customer:
    """A reachable Chinese customer on 30-day terms."""
    fields: dict[str, Any] = {
        "id": "C1",
        "name": "Acme Trading",
        "country": "CN",
        "timezone": "Asia/Shanghai",
        "language": Language.ZH_CN,
        "email": "ap@acme.example",
        "phone": "+8613800000000",
        "address": "1 Nanjing Road, Shanghai",
    }
    fields.update(overrides)
    return Customer(**fields)


def make_invoice(
    number: str,
    due: date,
    amount: str = "1000.00",
    *,
    issued: date | None = None,
    payments: tuple[tuple[str, date], ...] = (),
    status: InvoiceStatus = InvoiceStatus.OPEN,
    promise: Promise | None = None,
    contract_ref: str | None = None,
    currency: str = "CNY",
    customer_id: str = "C1",
    paused_until: date | None = None,
) -> Invoice:
    """An invoice issued 30 days before ``due``; ``payments`` are (amount, paid_on) pairs."""
    return Invoice(
        number=number,
        customer_id=customer_id,
        currency=currency,
        amount=Decimal(amount),
        issue_date=issued if issued is not None else due - timedelta(days=30),
        due_date=due,
        status=status,
        contract_ref=contract_ref,
        payments=tuple(
            Payment(f"{number}-P{i}", number, Decimal(paid), paid_on)
            for i, (paid, paid_on) in enumerate(payments)
        ),
        promise=promise,
        paused_until=paused_until,
    )


def make_ledger(
    *invoices: Invoice,
    customer: Customer | None = None,
    contracts: Mapping[str, Contract] | None = None,
) -> CustomerLedger:
    """A ledger of the default customer unless one is given."""
    return CustomerLedger(
        customer=customer if customer is not None else make_customer(),
        invoices=invoices,
        contracts=dict(contracts or {}),
    )


def make_policy(max_messages_per_7d: int = 4) -> PlanningPolicy:
    """The default ladders and terms with the given weekly cap."""
    return PlanningPolicy(
        ladders=default_ladders(),
        compliance=CompliancePolicy(max_messages_per_7d=max_messages_per_7d),
    )


def customer_at(tier: Tier, **overrides: Any) -> Customer:
    """A customer whose tier is fixed by override, so the tactic is known."""
    return make_customer(tier_override=tier, **overrides)


def due_for(days_overdue: int, as_of: date = TUESDAY) -> date:
    """The due date that makes an invoice ``days_overdue`` days overdue on ``as_of``."""
    return as_of - timedelta(days=days_overdue)


ALL_CHANNELS = tuple(Channel)
