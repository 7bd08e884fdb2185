"""Snapshots of the ledger the domain decides on: customers, invoices, payments, contracts.

The store builds these from its tables; the domain never sees a row or a session. Everything is
frozen; money is ``Decimal``; dates are ``date``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from types import MappingProxyType
from typing import NamedTuple


class Tier(StrEnum):
    """Credit tier of a customer (DESIGN §3)."""

    STRATEGIC = "strategic"  # A, 战略级: keep the relationship
    COOPERATIVE = "cooperative"  # B, 合作级: follow the contract
    CAUTIOUS = "cautious"  # C, 谨慎级: protect the claim fast

    def lower(self) -> Tier:
        """One tier down (cautious stays cautious)."""
        return _LOWER_TIER[self]


_LOWER_TIER: dict[Tier, Tier] = {
    Tier.STRATEGIC: Tier.COOPERATIVE,
    Tier.COOPERATIVE: Tier.CAUTIOUS,
    Tier.CAUTIOUS: Tier.CAUTIOUS,
}


class Tactic(StrEnum):
    """Collection tactic; one per tier."""

    CONSULTATIVE = "consultative"  # for strategic customers
    PROCEDURAL = "procedural"  # for cooperative customers
    PRESERVATION = "preservation"  # for cautious customers


TACTIC_OF_TIER: Mapping[Tier, Tactic] = {
    Tier.STRATEGIC: Tactic.CONSULTATIVE,
    Tier.COOPERATIVE: Tactic.PROCEDURAL,
    Tier.CAUTIOUS: Tactic.PRESERVATION,
}

# Names people use for tiers, in CSV files and on the command line.
TIER_ALIASES: Mapping[str, Tier] = {
    "strategic": Tier.STRATEGIC,
    "a": Tier.STRATEGIC,
    "战略级": Tier.STRATEGIC,
    "cooperative": Tier.COOPERATIVE,
    "b": Tier.COOPERATIVE,
    "合作级": Tier.COOPERATIVE,
    "cautious": Tier.CAUTIOUS,
    "c": Tier.CAUTIOUS,
    "谨慎级": Tier.CAUTIOUS,
}


class Channel(StrEnum):
    """A way to reach a customer."""

    EMAIL = "email"  # e-mail, optionally with a signed PDF notice attached
    SMS = "sms"  # text message through Twilio
    VOICE = "voice"  # automated call reading the reminder
    LETTER = "letter"  # signed PDF queued for print and registered mail
    TASK = "task"  # a collector work item; not an automated message


AUTOMATED_CHANNELS: frozenset[Channel] = frozenset(
    {Channel.EMAIL, Channel.SMS, Channel.VOICE, Channel.LETTER}
)


class InvoiceStatus(StrEnum):
    """Status of an invoice as the ledger records it."""

    OPEN = "open"  # collectable
    DISPUTED = "disputed"  # the customer contests it: no dunning until closed
    WRITTEN_OFF = "written_off"  # no longer collected


class Language(StrEnum):
    """Languages dunbot writes in."""

    ZH_CN = "zh-CN"  # default
    EN = "en"


class Customer(NamedTuple):
    """A customer as of the plan date.

    A NamedTuple, like Invoice and Payment below: a plan reads every customer, and a frozen
    dataclass of seventeen fields sets them one by one (4.8 µs here, a tuple a tenth of that).
    """

    id: str
    name: str
    country: str
    timezone: str
    language: Language
    payment_terms_days: int = 30
    tier_override: Tier | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    account_manager: str | None = None
    industry: str | None = None
    annual_revenue: Decimal | None = None
    open_lawsuits: int = 0
    do_not_contact: bool = False
    credit_hold: bool = False
    opted_out: frozenset[Channel] = frozenset()
    # `dunbot pause --customer`: no ladder step for any of its invoices until this day (inclusive)
    paused_until: date | None = None


@dataclass(frozen=True, slots=True)
class Contract:
    """Contract terms that set late fees; any field left None takes the configured default."""

    ref: str
    grace_days: int | None = None
    daily_rate: Decimal | None = None
    penalty_rate: Decimal | None = None
    penalty_after_days: int | None = None
    jurisdiction: str | None = None


class Payment(NamedTuple):
    """Money received against one invoice.

    Invoices, payments, customers and ledgers are NamedTuples, the other snapshots frozen
    dataclasses: a first plan after an import reads a million invoices, and a tuple is built about
    five times faster than a frozen dataclass sets its fields one by one. Both are immutable.
    """

    reference: str
    invoice_number: str
    amount: Decimal
    paid_on: date


@dataclass(frozen=True, slots=True)
class Promise:
    """A promise to pay recorded by a collector."""

    date: date
    amount: Decimal | None = None


_NOTHING_PAID = Decimal(0)
_NO_CONTRACTS: Mapping[str, Contract] = MappingProxyType({})
_PAYMENT_ORDER = attrgetter("paid_on", "reference")


class Invoice(NamedTuple):
    """An invoice with its payments (all of them; the domain filters by the plan date).

    A NamedTuple for speed, like Payment.
    """

    number: str
    customer_id: str
    currency: str
    amount: Decimal
    issue_date: date
    due_date: date
    status: InvoiceStatus = InvoiceStatus.OPEN
    contract_ref: str | None = None
    payments: tuple[Payment, ...] = ()
    promise: Promise | None = None
    # `dunbot pause`: no ladder step until this day (inclusive), like a promise to pay
    paused_until: date | None = None

    def paid_as_of(self, as_of: date) -> Decimal:
        """Sum of payments dated on or before ``as_of``."""
        if not self.payments:  # most invoices: skip building a generator per invoice
            return _NOTHING_PAID
        return sum((p.amount for p in self.payments if p.paid_on <= as_of), Decimal(0))

    def outstanding_as_of(self, as_of: date) -> Decimal:
        """What is still owed on ``as_of``; an overpayment leaves zero, never a negative."""
        owed = self.amount - (self.paid_as_of(as_of) if self.payments else _NOTHING_PAID)
        return _NOTHING_PAID if owed < _NOTHING_PAID else owed  # max(owed, 0), without a call

    def settled_on(self, tolerance: Decimal, as_of: date) -> date | None:
        """Date of the payment that brought the outstanding to ``tolerance`` or less, if by ``as_of``."""
        if not self.payments:
            return None
        remaining = self.amount
        payments = self.payments if len(self.payments) == 1 else sorted(self.payments, key=_PAYMENT_ORDER)
        for payment in payments:
            if payment.paid_on > as_of:
                break
            remaining -= payment.amount
            if remaining <= tolerance:
                return payment.paid_on
        return None


class CustomerLedger(NamedTuple):
    """One customer with every invoice of theirs; the unit the planner works on (a NamedTuple for
    speed, like Customer)."""

    customer: Customer
    invoices: tuple[Invoice, ...] = ()
    contracts: Mapping[str, Contract] = _NO_CONTRACTS
