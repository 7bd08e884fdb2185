"""What the domain decides: plan decisions, tier assessments, alerts, broken promises."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from bot.domain.ledger import Channel, Tactic, Tier


class DecisionStatus(StrEnum):
    """Outcome of planning one (invoice, step) on one day."""

    PLANNED = "planned"  # goes out today (inside the contact window)
    SUPERSEDED = "superseded"  # an earlier step that never ran; recorded, never sent
    DEFERRED = "deferred"  # did not fit the caps in full; waits whole for the next business day
    AWAITING_APPROVAL = "awaiting_approval"  # waits for `dunbot approve`; takes no channel


class ExecutionStatus(StrEnum):
    """Status of a recorded step_execution row (one per invoice and step)."""

    PLANNED = "planned"  # messages written to the outbox
    SUPERSEDED = "superseded"  # skipped because a later step was already due
    AWAITING_APPROVAL = "awaiting_approval"  # an approval task is open
    APPROVED = "approved"  # approved; the outbox places it
    REJECTED = "rejected"  # a collector rejected it
    SENT = "sent"  # every message of it left
    CANCELLED = "cancelled"  # re-check before sending found it no longer due


@dataclass(frozen=True, slots=True)
class StepKey:
    """Identity of a step execution."""

    invoice: str
    step: str


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """A message already in the outbox for a customer (counts against the caps)."""

    channel: Channel
    on: date  # the business date it was planned for


@dataclass(frozen=True, slots=True)
class PlanDecision:
    """One (invoice, step) decision; serialised by `dunbot plan --json`."""

    invoice: str
    customer: str
    tier: Tier
    tactic: Tactic
    step: str
    step_index: int  # position in the tactic's ladder; higher is more severe
    days_overdue: int
    channels: tuple[Channel, ...]
    late_fee: Decimal
    currency: str
    outstanding: Decimal
    status: DecisionStatus
    reason: str
    signed: bool = False
    approval: bool = False

    def as_json(self) -> dict[str, object]:
        """The contract shape of DESIGN §4 (late_fee as a decimal string)."""
        return {
            "invoice": self.invoice,
            "customer": self.customer,
            "tier": self.tier.value,
            "tactic": self.tactic.value,
            "step": self.step,
            "days_overdue": self.days_overdue,
            "channels": [c.value for c in self.channels],
            "late_fee": str(self.late_fee),
            "status": self.status.value,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class TierAssessment:
    """A customer's tier on the plan date and how it was reached."""

    customer: str
    tier: Tier
    score: Decimal | None  # None when the tier is an override
    scored_tier: Tier | None
    overridden: bool
    trend_overdue: bool  # moved down one tier for two late/overdue invoices in a row
    components: Mapping[str, Decimal]
    reason: str


@dataclass(frozen=True, slots=True)
class EarlyWarning:
    """An open invoice more than early_warning_factor × payment terms overdue."""

    customer: str
    invoice: str
    days_overdue: int
    threshold_days: Decimal
    recommend_credit_hold: bool = True


@dataclass(frozen=True, slots=True)
class BrokenPromise:
    """A promise to pay whose date passed with the invoice still outstanding."""

    customer: str
    invoice: str
    promised_on: date
    promised_amount: Decimal | None
    outstanding: Decimal


@dataclass(frozen=True, slots=True)
class CustomerPlan:
    """Everything decided for one customer on one day."""

    customer: str
    as_of: date
    business_day: bool  # False: nothing at all was decided (weekend or public holiday)
    assessment: TierAssessment | None
    decisions: tuple[PlanDecision, ...] = ()
    early_warnings: tuple[EarlyWarning, ...] = ()
    broken_promises: tuple[BrokenPromise, ...] = ()
