"""The collection ladder: which step each invoice is at today, and what goes out (DESIGN §4).

``plan_customer`` is pure: the ledger, the step executions already recorded and the messages already
in the outbox go in; decisions come out. Writing them (insert-if-absent on unique keys) is the
store's job, so planning twice for the same day never sends twice.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from operator import attrgetter

from bot.domain.calendar import is_business_day
from bot.domain.compliance import ContactCaps, reachable_channels
from bot.domain.decisions import (
    BrokenPromise,
    ContactRecord,
    CustomerPlan,
    DecisionStatus,
    ExecutionStatus,
    PlanDecision,
    TierAssessment,
)
from bot.domain.fees import late_fee, terms_for
from bot.domain.ledger import TACTIC_OF_TIER, Channel, CustomerLedger, Invoice, InvoiceStatus, Tactic
from bot.domain.policy import Assignee, LadderStep, PlanningPolicy, StepAction
from bot.domain.tiers import assess, early_warnings

Executions = Mapping[str, Mapping[str, ExecutionStatus]]

_NO_EXECUTIONS: Mapping[str, ExecutionStatus] = {}
_DECISION_ORDER = attrgetter("invoice", "step_index")

_E, _S, _L, _T = Channel.EMAIL, Channel.SMS, Channel.LETTER, Channel.TASK


def default_ladders() -> Mapping[Tactic, tuple[LadderStep, ...]]:
    """The default ladder of each tactic, exactly the table of DESIGN §4 (config.example.toml too)."""
    legal = Assignee.LEGAL
    pack = StepAction.LEGAL_PACK
    return {
        Tactic.CONSULTATIVE: (
            LadderStep("pre_due_reminder", -7, (_E,)),
            LadderStep("due_statement", 0, (_E,), signed=True, action=StepAction.STATEMENT),
            LadderStep("care_call", 7, (_T, _E), assignee=Assignee.ACCOUNT_MANAGER),
            LadderStep("formal_notice", 15, (_E,), signed=True),
            LadderStep(
                "account_review",
                30,
                (_T,),
                action=StepAction.RECOMMEND_CREDIT_HOLD,
                assignee=Assignee.FINANCE,
            ),
            LadderStep("final_demand", 60, (_E, _L), signed=True, approval=True),
            LadderStep("legal_referral", 90, (_T,), approval=True, action=pack, assignee=legal),
        ),
        Tactic.PROCEDURAL: (
            LadderStep("pre_due_reminder", -7, (_E,)),
            LadderStep("due_statement", 0, (_E,), signed=True, action=StepAction.STATEMENT),
            LadderStep("overdue_sms", 3, (_S,)),
            LadderStep("collection_call", 7, (_T, _S), assignee=Assignee.COLLECTOR),
            LadderStep("formal_notice", 15, (_E, _L), signed=True),
            LadderStep("credit_hold", 30, (_E, _S), signed=True, action=StepAction.CREDIT_HOLD),
            LadderStep("lawyer_letter", 45, (_E, _L), signed=True, approval=True),
            LadderStep("payment_order_pack", 60, (_T,), approval=True, action=pack, assignee=legal),
            LadderStep("litigation_referral", 90, (_T,), approval=True, action=pack, assignee=legal),
        ),
        Tactic.PRESERVATION: (
            LadderStep("pre_due_reminder", -7, (_E, _S)),
            LadderStep("due_statement", 0, (_E, _S), signed=True, action=StepAction.STATEMENT),
            LadderStep("formal_notice", 3, (_E, _S, _L), signed=True),
            LadderStep("credit_hold", 7, (_E, _S), signed=True, action=StepAction.CREDIT_HOLD),
            LadderStep("lawyer_letter", 15, (_E, _L), signed=True, approval=True),
            LadderStep("preservation_pack", 30, (_T,), approval=True, action=pack, assignee=legal),
        ),
    }


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
) -> CustomerPlan:
    """Decide every (invoice, step) of one customer on plan date ``as_of``.

    ``executions`` maps invoice number -> step name -> status of a recorded step_execution;
    ``contacts`` are the customer's messages already in the outbox (they count against the caps).
    On a day that is not a business day in the customer's country nothing at all is decided.
    """
    customer = ledger.customer
    country = customer.country or policy.default_country
    if not is_business_day(country, as_of):
        return CustomerPlan(customer=customer.id, as_of=as_of, business_day=False, assessment=None)

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
        outstanding = invoice.outstanding_as_of(as_of)
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
    return CustomerPlan(
        customer=customer.id,
        as_of=as_of,
        business_day=True,
        assessment=assessment,
        decisions=tuple(decisions),
        early_warnings=early_warnings(as_of, ledger, policy.scorecard, tolerance),
        broken_promises=tuple(broken_promises),
    )


def plan_day(
    as_of: date,
    ledgers: Iterable[CustomerLedger],
    executions_for: Callable[[str], Executions],
    contacts_for: Callable[[str], Sequence[ContactRecord]],
    policy: PlanningPolicy,
) -> Iterator[CustomerPlan]:
    """Plan every customer on ``as_of``, lazily, one ``CustomerPlan`` per ledger.

    ``executions_for`` and ``contacts_for`` take a customer id; they are called once per customer.
    """
    for ledger in ledgers:
        customer_id = ledger.customer.id
        yield plan_customer(as_of, ledger, executions_for(customer_id), contacts_for(customer_id), policy)
