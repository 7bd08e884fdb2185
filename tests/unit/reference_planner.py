"""The planner as it was before issue 2, kept verbatim as a test oracle.

``plan_customer`` here is the old one (one PlanDecision object per decision), over the old domain
rules in ``reference_domain``; it returns the old CustomerPlan's contents. The properties in
``test_plan_output.py`` check the new planner, and the fast ``plan --json`` writer, against it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple

from reference_domain import (
    ContactCaps,
    assess,
    early_warnings,
    late_fee,
    outstanding_as_of,
    reachable_channels,
    terms_for,
)

from bot.domain.calendar import is_business_day
from bot.domain.decisions import (
    BrokenPromise,
    ContactRecord,
    DecisionStatus,
    EarlyWarning,
    ExecutionStatus,
    PlanDecision,
    TierAssessment,
)
from bot.domain.ledger import TACTIC_OF_TIER, Channel, CustomerLedger, Invoice, InvoiceStatus, Tactic
from bot.domain.policy import LadderStep, PlanningPolicy

Executions = Mapping[str, Mapping[str, ExecutionStatus]]

_NO_EXECUTIONS: Mapping[str, ExecutionStatus] = {}
_DECISION_ORDER = attrgetter("invoice", "step_index")


class OldPlan(NamedTuple):
    """What the old CustomerPlan held."""

    business_day: bool
    assessment: TierAssessment | None
    decisions: tuple[PlanDecision, ...]
    early_warnings: tuple[EarlyWarning, ...]
    broken_promises: tuple[BrokenPromise, ...]


def due_step_index(ladder: Sequence[LadderStep], days_overdue: int) -> int | None:
    """Index of the step with the largest ``day`` ≤ ``days_overdue``; None before the first step.

    Ties go to the later step. Ladders are normally in ascending ``day`` order (the config checks);
    an unordered ladder still gets the right step, only slower.
    """
    return _StepFinder(ladder).find(days_overdue)


class _StepFinder:
    """Finds due steps of one ladder; built once per customer, not once per invoice."""

    __slots__ = ("_days", "_ladder", "_ordered")

    def __init__(self, ladder: Sequence[LadderStep]) -> None:
        self._ladder = ladder
        self._days = [step.day for step in ladder]
        self._ordered = all(a <= b for a, b in zip(self._days, self._days[1:], strict=False))

    def find(self, days_overdue: int) -> int | None:
        if self._ordered:
            index = bisect_right(self._days, days_overdue) - 1
            return index if index >= 0 else None
        best: int | None = None
        for index, day in enumerate(self._days):
            if day <= days_overdue and (best is None or day >= self._days[best]):
                best = index
        return best


@dataclass(slots=True)
class _DueInvoice:
    """An invoice whose due step is to be placed today."""

    invoice: Invoice
    days_overdue: int
    outstanding: Decimal
    fee: Decimal


def _channel_list(channels: Iterable[Channel]) -> str:
    return ", ".join(channel.value for channel in channels)


class _DecisionFactory:
    """Fills in the fields every decision of one customer on one day shares."""

    __slots__ = ("customer_id", "tactic", "tier")

    def __init__(self, customer_id: str, assessment: TierAssessment, tactic: Tactic) -> None:
        self.customer_id = customer_id
        self.tier = assessment.tier
        self.tactic = tactic

    def make(
        self,
        due: _DueInvoice,
        step: LadderStep,
        step_index: int,
        status: DecisionStatus,
        channels: tuple[Channel, ...],
        reason: str,
    ) -> PlanDecision:
        invoice = due.invoice
        # Positional: a million decisions on a first run after import; keywords cost a third more.
        return PlanDecision(
            invoice.number,
            self.customer_id,
            self.tier,
            self.tactic,
            step.name,
            step_index,
            due.days_overdue,
            channels,
            due.fee,
            invoice.currency,
            due.outstanding,
            status,
            reason,
            step.signed,
            step.approval,
        )


def _place_group(
    as_of: date,
    ledger: CustomerLedger,
    step: LadderStep,
    step_index: int,
    group: list[_DueInvoice],
    caps: ContactCaps,
    factory: _DecisionFactory,
) -> list[PlanDecision]:
    together = f"; one message for {len(group)} invoices" if len(group) > 1 else ""
    if step.approval:
        reason = f"{step.name} waits for a collector's approval before anything is sent{together}"
        return [
            factory.make(due, step, step_index, DecisionStatus.AWAITING_APPROVAL, (), reason) for due in group
        ]

    channels, dropped = reachable_channels(ledger.customer, step.channels)
    notes = [f"dropped {why}" for _, why in dropped]
    if not channels:
        channels = (Channel.TASK,)
        notes.append("no channel reaches the customer, so a collector gets a task instead")
    fits, why = caps.check(channels, as_of)
    if fits:
        caps.add(channels, as_of)
        status = DecisionStatus.PLANNED
        reason = f"{step.name} (day {step.day}) by {_channel_list(channels)}{together}"
    else:
        status = DecisionStatus.DEFERRED
        reason = f"{step.name} deferred whole to the next business day: {why}"
    if notes:
        reason += "; " + "; ".join(notes)
    return [factory.make(due, step, step_index, status, channels, reason) for due in group]


def plan_customer(
    as_of: date,
    ledger: CustomerLedger,
    executions: Executions,
    contacts: Sequence[ContactRecord],
    policy: PlanningPolicy,
) -> OldPlan:
    """Decide every (invoice, step) of one customer on plan date ``as_of``.

    ``executions`` maps invoice number -> step name -> status of a recorded step_execution;
    ``contacts`` are the customer's messages already in the outbox (they count against the caps).
    On a day that is not a business day in the customer's country nothing at all is decided.
    """
    customer = ledger.customer
    country = customer.country or policy.default_country
    if not is_business_day(country, as_of):
        return OldPlan(False, None, (), (), ())

    compliance = policy.compliance
    tolerance = compliance.tolerance
    assessment = assess(as_of, ledger, policy.scorecard, tolerance)
    tactic = TACTIC_OF_TIER[assessment.tier]
    ladder = policy.ladders[tactic]
    factory = _DecisionFactory(customer.id, assessment, tactic)

    decisions: list[PlanDecision] = []
    broken_promises: list[BrokenPromise] = []
    groups: dict[int, list[_DueInvoice]] = {}
    # After downtime most invoices supersede the same steps; build each sentence once.
    supersede_reasons: dict[tuple[int, int], str] = {}
    step_finder = _StepFinder(ladder)
    for invoice in ledger.invoices:
        # Invoices issued after the plan date do not exist yet; disputed and written-off ones are
        # not dunned.
        if invoice.issue_date > as_of or invoice.status is not InvoiceStatus.OPEN:
            continue
        outstanding = outstanding_as_of(invoice, as_of)
        if outstanding <= tolerance:
            continue
        promise = invoice.promise
        if promise is not None:
            if promise.date >= as_of:
                continue
            broken_promises.append(
                BrokenPromise(
                    customer=customer.id,
                    invoice=invoice.number,
                    promised_on=promise.date,
                    promised_amount=promise.amount,
                    outstanding=outstanding,
                )
            )
        if customer.do_not_contact:
            continue
        days_overdue = (as_of - invoice.due_date).days
        index = step_finder.find(days_overdue)
        if index is None:
            continue
        done = executions.get(invoice.number, _NO_EXECUTIONS)
        due_step = ladder[index]
        if due_step.name in done:
            continue
        contract = ledger.contracts.get(invoice.contract_ref) if invoice.contract_ref else None
        fee = late_fee(outstanding, days_overdue, terms_for(contract, policy.fees), invoice.currency)
        due = _DueInvoice(invoice, days_overdue, outstanding, fee)
        for earlier_index in range(index):
            earlier = ladder[earlier_index]
            if earlier.name in done:
                continue
            reason = supersede_reasons.get((earlier_index, index))
            if reason is None:
                reason = (
                    f"{earlier.name} (day {earlier.day}) never ran and {due_step.name} "
                    f"(day {due_step.day}) is due now; missed steps are not sent"
                )
                supersede_reasons[(earlier_index, index)] = reason
            decisions.append(factory.make(due, earlier, earlier_index, DecisionStatus.SUPERSEDED, (), reason))
        groups.setdefault(index, []).append(due)

    caps = ContactCaps(contacts, compliance)
    # Most severe first: when the caps allow only some steps, the later rung of the ladder wins.
    for index in sorted(groups, reverse=True):
        decisions.extend(_place_group(as_of, ledger, ladder[index], index, groups[index], caps, factory))

    decisions.sort(key=_DECISION_ORDER)
    return OldPlan(
        True,
        assessment,
        tuple(decisions),
        early_warnings(as_of, ledger, policy.scorecard, tolerance),
        tuple(broken_promises),
    )
