"""What the domain decides: plan decisions, tier assessments, alerts, broken promises."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import NamedTuple

from bot.domain.ledger import Channel, Tactic, Tier
from bot.domain.policy import LadderStep


class DecisionStatus(StrEnum):
    """Outcome of planning one (invoice, step) on one day."""

    PLANNED = "planned"  # goes out today (inside the contact window)
    SUPERSEDED = "superseded"  # an earlier step that never ran; recorded, never sent
    DEFERRED = "deferred"  # did not fit the caps in full; waits whole for the next business day
    AWAITING_APPROVAL = "awaiting_approval"  # waits for `dunbot approve`; takes no channel
    # nothing is sent: collectors have it (do_not_contact, a rejected legal step, or one whose first
    # demand did not go out)
    MANUAL = "manual"


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


class TierAssessment(NamedTuple):
    """A customer's tier on the plan date and how it was reached (a NamedTuple: one per customer
    on every plan, built at a third of a frozen dataclass's cost)."""

    customer: str
    tier: Tier
    score: Decimal | None  # None when the tier is an override
    scored_tier: Tier | None
    overridden: bool
    # The two latest invoices due, both late or still overdue (the latest last): the trend that
    # moves a scored tier down one. () when there is none. Each pair raises one alert.
    trend_invoices: tuple[str, ...]
    components: Mapping[str, Decimal]
    reason: str

    @property
    def trend_overdue(self) -> bool:
        """Whether the two latest invoices due were both late (see ``trend_invoices``)."""
        return bool(self.trend_invoices)


class EarlyWarning(NamedTuple):
    """An open invoice more than early_warning_factor × payment terms overdue.

    A NamedTuple, like InvoicePlan: on a ledger long overdue most invoices raise one.
    """

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


def superseded_reason(earlier: LadderStep, due: LadderStep) -> str:
    """Why ``earlier`` is recorded superseded when ``due`` is the step due today."""
    return (
        f"{earlier.name} (day {earlier.day}) never ran and {due.name} (day {due.day}) is due now; "
        "missed steps are not sent"
    )


class StepPlacement(NamedTuple):
    """How one due step of one customer was placed today; every invoice due at it shares this."""

    step_index: int  # position in the tactic's ladder
    status: DecisionStatus  # planned, deferred, awaiting_approval or manual (never superseded)
    channels: tuple[Channel, ...]
    reason: str
    # The legal step that is due, when a first demand (the step at step_index) is placed in its
    # stead (DESIGN §4 rule 2); the superseded steps are those it supersedes. None otherwise.
    stands_in_for: int | None = None

    @property
    def due_index(self) -> int:
        """Ladder index of the step due today by the calendar (what earlier steps are superseded by)."""
        return self.step_index if self.stands_in_for is None else self.stands_in_for


class InvoicePlan(NamedTuple):
    """One invoice's decisions today, compactly: the earlier steps it supersedes, then its due step.

    A NamedTuple rather than a frozen dataclass: a first run after an import makes one per open
    invoice, a million of them, and a tuple is built about five times faster than a frozen
    dataclass sets its fields one by one. The superseded decisions are implied, not built.
    """

    invoice: str
    currency: str
    outstanding: Decimal
    days_overdue: int
    late_fee: Decimal
    # ladder indices of the earlier steps that never ran, ascending; all before the placed step,
    # except for a first demand placed instead of a legal step (they are before the legal step)
    superseded: tuple[int, ...]
    placement: StepPlacement


@dataclass(frozen=True)
class CustomerPlan:
    """Everything decided for one customer on one day.

    ``invoices`` holds the decisions compactly (in invoice-number order); ``decisions`` spells them
    out as one PlanDecision per (invoice, step), built on first use.
    """

    customer: str
    as_of: date
    business_day: bool  # False: nothing at all was decided (weekend or public holiday)
    assessment: TierAssessment | None
    tactic: Tactic | None = None
    ladder: tuple[LadderStep, ...] = ()  # the tactic's ladder the step indices point into
    invoices: tuple[InvoicePlan, ...] = ()
    early_warnings: tuple[EarlyWarning, ...] = ()
    broken_promises: tuple[BrokenPromise, ...] = ()
    # The customer must not be contacted: its overdue invoices are decided ``manual``.
    do_not_contact: bool = False

    @property
    def decision_count(self) -> int:
        """How many (invoice, step) decisions there are, without building them."""
        return sum(len(invoice.superseded) + 1 for invoice in self.invoices)

    def status_counts(self) -> dict[DecisionStatus, int]:
        """Decisions per status, without building them."""
        counts: dict[DecisionStatus, int] = {}
        superseded = 0
        for invoice in self.invoices:
            superseded += len(invoice.superseded)
            status = invoice.placement.status
            counts[status] = counts.get(status, 0) + 1
        if superseded:
            counts[DecisionStatus.SUPERSEDED] = superseded
        return counts

    @cached_property
    def decisions(self) -> tuple[PlanDecision, ...]:
        """Every (invoice, step) decision, by invoice number and then ladder position."""
        if not self.invoices:
            return ()
        assert self.assessment is not None and self.tactic is not None
        tier, tactic, ladder, customer = self.assessment.tier, self.tactic, self.ladder, self.customer
        superseded_status = DecisionStatus.SUPERSEDED
        decisions: list[PlanDecision] = []
        for invoice in self.invoices:
            number, currency, outstanding, days_overdue, fee, superseded, placement = invoice
            placed_index = placement.step_index
            placed = ladder[placed_index]
            due = ladder[placement.due_index]
            placed_decision: PlanDecision | None = PlanDecision(
                number,
                customer,
                tier,
                tactic,
                placed.name,
                placed_index,
                days_overdue,
                placement.channels,
                fee,
                currency,
                outstanding,
                placement.status,
                placement.reason,
                placed.signed,
                placed.approval,
            )
            # In ladder order: a first demand placed instead of a legal step sits among the steps
            # that legal step supersedes.
            for index in superseded:
                if placed_decision is not None and index > placed_index:
                    decisions.append(placed_decision)
                    placed_decision = None
                step = ladder[index]
                decisions.append(
                    PlanDecision(
                        number,
                        customer,
                        tier,
                        tactic,
                        step.name,
                        index,
                        days_overdue,
                        (),
                        fee,
                        currency,
                        outstanding,
                        superseded_status,
                        superseded_reason(step, due),
                        step.signed,
                        step.approval,
                    )
                )
            if placed_decision is not None:
                decisions.append(placed_decision)
        return tuple(decisions)
