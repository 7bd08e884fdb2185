"""The planner as it was before issue 2, kept as a test oracle, with the rules amended since.

``plan_customer`` here is the old one (one PlanDecision object per decision), over the old domain
rules in ``reference_domain``; it returns the old CustomerPlan's contents. The properties in
``test_plan_output.py`` check the new planner, and the fast ``plan --json`` writer, against it.

Issue 16 amended DESIGN §4; the amendments are written here from the DESIGN text, not from the
planner's code (``_first_demand_instead``, ``_manual``, and the pauses of rule 1):

- rule 2, first demand before any legal step: a step that needs approval is placed only when a
  signed demand for the invoice went out ``demand_lead_days`` or more days before D; otherwise the
  most severe signed non-legal step that has not run goes in its stead (``planned``, its reason
  beginning "first demand before <legal step>"), or, when each of those has run, the legal step
  waits (``deferred``) until the lead time has passed — but only while a signed demand went out or
  may still go out: when none went out and no signed step's e-mail or letter is still in the outbox
  (it was cancelled, failed, bounced, or never made for want of an e-mail or postal address), the
  invoice is left to the collectors (``manual``) instead of waiting for ever;
- a rejected legal step leaves the invoice to the collectors: ``manual``, nothing more is sent;
- a do_not_contact customer's overdue invoices are ``manual`` (collectors handle them by hand);
- rule 1: an invoice is skipped while it, or its customer, is paused (paused_until ≥ D).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
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
# invoice -> step -> the day the step's first e-mail or letter left (what carries a signed notice),
# or None when none has left and one is still in the outbox (it may yet go)
Sent = Mapping[str, Mapping[str, date | None]]

_NO_EXECUTIONS: Mapping[str, ExecutionStatus] = {}
_NOTHING_SENT: Mapping[str, date | None] = {}
DO_NOT_CONTACT = "do_not_contact: nothing is sent to this customer; a collector handles the invoice by hand"
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
    # The legal step due by the calendar when a first demand is placed instead (rule 2).
    instead_of: LadderStep | None = None


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
    return [
        factory.make(
            due,
            step,
            step_index,
            status,
            channels,
            reason if due.instead_of is None else f"first demand before {due.instead_of.name}: {reason}",
        )
        for due in group
    ]


def _signed_demand_sent_on(sent: Mapping[str, date | None], ladder: Sequence[LadderStep]) -> date | None:
    """The first day a signed step of the invoice went out (by e-mail or letter, with its notice)."""
    days = [day for step in ladder if step.signed and (day := sent.get(step.name)) is not None]
    return min(days) if days else None


def _signed_demand_may_still_go(sent: Mapping[str, date | None], ladder: Sequence[LadderStep]) -> bool:
    """Whether a signed step's e-mail or letter of the invoice is still in the outbox, unsent."""
    return any(step.signed and step.name in sent and sent[step.name] is None for step in ladder)


def _no_demand_reason(legal: LadderStep) -> str:
    return (
        f"first demand before {legal.name}: the signed demand placed for this invoice did not go out "
        "(cancelled, failed, bounced, or no e-mail or postal address); collectors send it by hand "
        "or decide"
    )


def _first_demand_instead(
    ladder: Sequence[LadderStep], legal_index: int, done: Mapping[str, ExecutionStatus]
) -> int | None:
    """Rule 2: the most severe signed step that is no legal step and has not run, before the legal one."""
    candidates = [
        index
        for index in range(legal_index)
        if ladder[index].signed and not ladder[index].approval and ladder[index].name not in done
    ]
    return max(candidates) if candidates else None


def _waiting_reason(legal: LadderStep, first_sent: date | None, lead_days: int) -> str:
    if first_sent is None:
        return (
            f"first demand before {legal.name}: no signed demand for this invoice has gone out yet; "
            f"{legal.name} waits until one has been out {lead_days} days"
        )
    return (
        f"first demand before {legal.name}: the first signed demand went out on {first_sent}; "
        f"{legal.name} waits until {first_sent + timedelta(days=lead_days)}"
    )


def _is_paused(paused_until: date | None, as_of: date) -> bool:
    return paused_until is not None and paused_until >= as_of


def plan_customer(
    as_of: date,
    ledger: CustomerLedger,
    executions: Executions,
    contacts: Sequence[ContactRecord],
    policy: PlanningPolicy,
    sent: Sent | None = None,
) -> OldPlan:
    """Decide every (invoice, step) of one customer on plan date ``as_of``.

    ``executions`` maps invoice number -> step name -> status of a recorded step_execution;
    ``contacts`` are the customer's messages already in the outbox (they count against the caps);
    ``sent`` maps invoice number -> step name -> the day its first e-mail or letter left.
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
    customer_paused = _is_paused(customer.paused_until, as_of)

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
        # Rule 1 as amended: a pause holds the ladder like a live promise.
        if customer_paused or _is_paused(invoice.paused_until, as_of):
            continue
        days_overdue = (as_of - invoice.due_date).days
        index = step_finder.find(days_overdue)
        if index is None:
            continue
        contract = ledger.contracts.get(invoice.contract_ref) if invoice.contract_ref else None
        fee = late_fee(outstanding, days_overdue, terms_for(contract, policy.fees), invoice.currency)
        due = _DueInvoice(invoice, days_overdue, outstanding, fee)
        due_step = ladder[index]
        if customer.do_not_contact:
            # Overdue and never to be contacted: collectors handle it, and the plan says so.
            if days_overdue > 0:
                decisions.append(
                    factory.make(due, due_step, index, DecisionStatus.MANUAL, (), DO_NOT_CONTACT)
                )
            continue
        done = executions.get(invoice.number, _NO_EXECUTIONS)
        rejected = [name for name, status in done.items() if status is ExecutionStatus.REJECTED]
        if rejected:
            # A rejected legal step leaves the invoice to the collectors, for good.
            names = [step.name for step in ladder]
            at = names.index(rejected[0]) if rejected[0] in names else index
            reason = (
                f"{rejected[0]} was rejected: the invoice is left to the collectors, and nothing more is sent"
            )
            decisions.append(factory.make(due, ladder[at], at, DecisionStatus.MANUAL, (), reason))
            continue
        if due_step.name in done:
            continue
        placed_index: int | None = index
        if due_step.approval:
            notices = (sent or {}).get(invoice.number, _NOTHING_SENT)
            first_sent = _signed_demand_sent_on(notices, ladder)
            if first_sent is None or first_sent + timedelta(days=policy.demand_lead_days) > as_of:
                instead = _first_demand_instead(ladder, index, done)
                if (
                    instead is None
                    and first_sent is None
                    and not _signed_demand_may_still_go(notices, ladder)
                ):
                    # No demand went out and none can: never forgotten, the collectors have it.
                    reason = _no_demand_reason(due_step)
                    decisions.append(factory.make(due, due_step, index, DecisionStatus.MANUAL, (), reason))
                    placed_index = None
                elif instead is None:
                    # Every first demand has run: the legal step waits for the lead time.
                    waiting = _waiting_reason(due_step, first_sent, policy.demand_lead_days)
                    decisions.append(factory.make(due, due_step, index, DecisionStatus.DEFERRED, (), waiting))
                    placed_index = None
                else:
                    placed_index = instead
                    due.instead_of = due_step
        for earlier_index in range(index):
            earlier = ladder[earlier_index]
            if earlier.name in done or earlier_index == placed_index:
                continue
            reason = supersede_reasons.get((earlier_index, index))
            if reason is None:
                reason = (
                    f"{earlier.name} (day {earlier.day}) never ran and {due_step.name} "
                    f"(day {due_step.day}) is due now; missed steps are not sent"
                )
                supersede_reasons[(earlier_index, index)] = reason
            decisions.append(factory.make(due, earlier, earlier_index, DecisionStatus.SUPERSEDED, (), reason))
        if placed_index is not None:
            groups.setdefault(placed_index, []).append(due)

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
