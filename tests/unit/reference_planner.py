"""The planner as it was before the compact plans of issue 2, kept verbatim as a test oracle.

``decisions_before_issue_2`` returns exactly the decisions the old ``plan_customer`` made, one
PlanDecision object each; the properties in ``test_plan_output.py`` check that the new planner's
decisions, and the fast ``plan --json`` writer's lines, are the same for any ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from operator import attrgetter

from bot.domain.calendar import is_business_day
from bot.domain.compliance import ContactCaps, reachable_channels
from bot.domain.decisions import ContactRecord, DecisionStatus, PlanDecision, TierAssessment
from bot.domain.fees import late_fee, terms_for
from bot.domain.ladder import Executions, due_step_index
from bot.domain.ledger import TACTIC_OF_TIER, Channel, CustomerLedger, Invoice, InvoiceStatus, Tactic
from bot.domain.policy import LadderStep, PlanningPolicy
from bot.domain.tiers import assess

_NO_EXECUTIONS: dict[str, object] = {}
_DECISION_ORDER = attrgetter("invoice", "step_index")


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


def decisions_before_issue_2(
    as_of: date,
    ledger: CustomerLedger,
    executions: Executions,
    contacts: Sequence[ContactRecord],
    policy: PlanningPolicy,
) -> tuple[PlanDecision, ...] | None:
    """The old plan_customer's decisions (None on a day that is not a business day)."""
    customer = ledger.customer
    country = customer.country or policy.default_country
    if not is_business_day(country, as_of):
        return None

    compliance = policy.compliance
    tolerance = compliance.tolerance
    assessment = assess(as_of, ledger, policy.scorecard, tolerance)
    tactic = TACTIC_OF_TIER[assessment.tier]
    ladder = policy.ladders[tactic]
    factory = _DecisionFactory(customer.id, assessment, tactic)

    decisions: list[PlanDecision] = []
    groups: dict[int, list[_DueInvoice]] = {}
    # After downtime most invoices supersede the same steps; build each sentence once.
    supersede_reasons: dict[tuple[int, int], str] = {}
    for invoice in ledger.invoices:
        # Invoices issued after the plan date do not exist yet; disputed and written-off ones are
        # not dunned.
        if invoice.issue_date > as_of or invoice.status is not InvoiceStatus.OPEN:
            continue
        outstanding = invoice.outstanding_as_of(as_of)
        if outstanding <= tolerance:
            continue
        promise = invoice.promise
        if promise is not None and promise.date >= as_of:
            continue
        if customer.do_not_contact:
            continue
        days_overdue = (as_of - invoice.due_date).days
        index = due_step_index(ladder, days_overdue)
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
    return tuple(decisions)
