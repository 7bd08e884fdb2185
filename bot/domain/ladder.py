"""The collection ladder: which step each invoice is at today, and what goes out (DESIGN §4).

``plan_customer`` is pure: the ledger, the step executions already recorded, the signed notices
already sent and the messages already in the outbox go in; decisions come out. Writing them
(insert-if-absent on unique keys) is the store's job, so planning twice for the same day never sends
twice.

First demand before any legal step (rule 2): a step that needs approval is placed only when a signed
demand for the invoice went out ``demand_lead_days`` before; until then the most severe signed step
before it that has not run is placed in its stead, or, when every one has, the legal step waits
(``deferred``) for the lead time. When none has run that could still go out (its notice was
cancelled, failed or bounced, or it never had an e-mail or letter) and no signed notice of the
invoice is still in the outbox, the invoice goes to the collectors (``manual``) rather than waiting
for ever.

This module owns the planning pass over a customer's invoices (``plan_customer``, ``plan_day``).
The default ladders are in ``bot.domain.default_ladders``, finding an invoice's due step in
``bot.domain.step_finder``, and how a due step is placed in ``bot.domain.placement``; the names
other code imports from here are re-exported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter

from bot.domain.calendar import is_business_day
from bot.domain.compliance import ContactCaps
from bot.domain.decisions import (
    BrokenPromise,
    ContactRecord,
    CustomerPlan,
    EarlyWarning,
    ExecutionStatus,
    InvoicePlan,
    StepPlacement,
)
from bot.domain.default_ladders import default_ladders
from bot.domain.fees import AccrualRates, accrual_rates, late_fee, terms_for
from bot.domain.ledger import TACTIC_OF_TIER, CustomerLedger, Invoice, InvoiceStatus
from bot.domain.money import MINOR_UNIT_OF
from bot.domain.placement import (
    DO_NOT_CONTACT_REASON,
    NO_DEMAND_SENT,
    demand_in_flight,
    first_demand_instead,
    first_demand_sent,
    lacks_demand,
    legal_step_waiting,
    manual_placement,
    no_demand_placement,
    no_demand_reason,
    place_due_step,
    rejected_placement,
)
from bot.domain.policy import FeeTerms, PlanningPolicy
from bot.domain.step_finder import due_step_index, finder_for
from bot.domain.tiers import assess, early_warning_threshold

__all__ = [
    "NO_DEMAND_SENT",
    "Executions",
    "NoticesSent",
    "default_ladders",
    "due_step_index",
    "lacks_demand",
    "no_demand_reason",
    "plan_customer",
    "plan_day",
]

Executions = Mapping[str, Mapping[str, ExecutionStatus]]
# invoice number -> step name -> the date (the customer's) its first e-mail or letter left, or None
# when none has left yet but one is still in flight in the outbox (planned, claimed, sending)
NoticesSent = Mapping[str, Mapping[str, date | None]]

_BY_NUMBER = itemgetter(0)

# What the invoice loop keeps of a due invoice until its step is placed: number, currency,
# outstanding, days overdue, late fee, superseded step indices; the placement is appended, and the
# list becomes the InvoicePlan.
_DueInvoice = list[object]

_MAX_DAYS = 4096


def _late_fee(
    ledger: CustomerLedger, invoice: Invoice, outstanding: Decimal, days_overdue: int, defaults: FeeTerms
) -> Decimal:
    """The invoice's late fee (the hot loop of plan_customer inlines this)."""
    contract = ledger.contracts.get(invoice.contract_ref) if invoice.contract_ref else None
    return late_fee(outstanding, days_overdue, terms_for(contract, defaults), invoice.currency)


def plan_customer(
    as_of: date,
    ledger: CustomerLedger,
    executions: Executions,
    contacts: Sequence[ContactRecord],
    policy: PlanningPolicy,
    sent: NoticesSent | None = None,
) -> CustomerPlan:
    """Decide every (invoice, step) of one customer on plan date ``as_of``.

    ``executions`` maps invoice number -> step name -> status of a recorded step_execution;
    ``contacts`` are the customer's messages already in the outbox (they count against the caps);
    ``sent`` maps invoice number -> step name -> the day its first e-mail or letter left (a signed
    step's e-mail or letter carries its signed notice: a demand sent, for rule 2), or None while
    none has left but one is still in flight in the outbox.
    On a day that is not a business day in the customer's country nothing at all is decided.
    The decisions are kept compactly (``CustomerPlan.invoices``); ``CustomerPlan.decisions`` spells
    them out.
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
    finder = finder_for(ladder)
    names, everything_before, find = finder.names, finder.everything_before, finder.find
    index_by_days = finder.index_by_days
    default_terms = policy.fees
    # The late fee of fees.late_fee, inlined: the day's accrual rate of the invoice's terms, times the
    # outstanding (above the tolerance, never negative: so positive here), rounded to the currency's unit.
    default_rates = accrual_rates(default_terms)
    contract_rates: dict[str, AccrualRates] = {}
    unit_of = MINOR_UNIT_OF
    open_status = InvoiceStatus.OPEN
    do_not_contact = customer.do_not_contact
    customer_paused = customer.paused_until is not None and customer.paused_until >= as_of
    customer_id = customer.id
    new_tuple = tuple.__new__

    # The early warnings of tiers.early_warnings, found in this same pass over the invoices.
    warning_threshold, warning_days = early_warning_threshold(customer, policy.scorecard)
    warnings: list[EarlyWarning] = []
    broken_promises: list[BrokenPromise] = []
    groups: dict[int, list[_DueInvoice]] = {}
    # First demands placed instead of a legal step: (placed step, legal step) -> invoices.
    stand_ins: dict[tuple[int, int], list[_DueInvoice]] = {}
    # Invoices whose decision is no placement of a step today (manual, or a legal step that waits).
    unplaced: list[tuple[Invoice, Decimal, int, tuple[int, ...], StepPlacement]] = []
    legal, first_demands, rejected = finder.legal, finder.first_demands, ExecutionStatus.REJECTED
    fresh_first_demand, signed_names = finder.fresh_first_demand, finder.signed_names
    lead_days = policy.demand_lead_days
    demand_by = as_of - timedelta(days=lead_days)  # a first demand sent on or before this day will do
    # The hot loop of a first run after import (a million invoices): nothing in it is done per
    # superseded step that can be done once per invoice, or once per ladder.
    for invoice in ledger.invoices:
        # Unpacked once: a NamedTuple's fields by name are generic attribute lookups, a dozen per
        # invoice; unpacking is one instruction.
        (
            number,
            _,
            currency,
            amount,
            issue_date,
            due_date,
            status,
            contract_ref,
            payments,
            promise,
            paused_until,
        ) = invoice
        # Invoices issued after the plan date do not exist yet; disputed and written-off ones are
        # not dunned.
        if issue_date > as_of or status is not open_status:
            continue
        # Most invoices have no payment: their outstanding is their amount (outstanding_as_of
        # would subtract nothing; a negative amount is under the tolerance either way).
        outstanding = invoice.outstanding_as_of(as_of) if payments else amount
        if outstanding <= tolerance:
            continue
        days_overdue = (as_of - due_date).days
        if days_overdue > warning_days:
            # EarlyWarning's fields in order, by tuple.__new__ like InvoicePlan below: on a ledger long
            # overdue most invoices raise one.
            warnings.append(
                new_tuple(EarlyWarning, (customer_id, number, days_overdue, warning_threshold, True))
            )
        if promise is not None:
            if promise.date >= as_of:
                continue
            broken_promises.append(
                BrokenPromise(
                    customer=customer.id,
                    invoice=number,
                    promised_on=promise.date,
                    promised_amount=promise.amount,
                    outstanding=outstanding,
                )
            )
        # Rule 1: a pause holds the ladder like a live promise (after the broken promise is noted).
        if customer_paused or (paused_until is not None and paused_until >= as_of):
            continue
        index = index_by_days.get(days_overdue, -1)
        if index == -1:
            if len(index_by_days) >= _MAX_DAYS:
                index_by_days.clear()
            index = index_by_days[days_overdue] = find(days_overdue)
        if index is None:
            continue
        if do_not_contact:
            # Nothing is sent, but an overdue invoice is never silently dropped: collectors have it.
            if days_overdue > 0:
                placement = manual_placement(finder, index, DO_NOT_CONTACT_REASON)
                unplaced.append((invoice, outstanding, days_overdue, (), placement))
            continue
        done = executions.get(number) if executions else None
        if not done:
            superseded = everything_before[index]
        else:
            if rejected in done.values():
                placement = rejected_placement(finder, index, done)
                unplaced.append((invoice, outstanding, days_overdue, (), placement))
                continue
            if names[index] in done:
                continue
            superseded = tuple(earlier for earlier in range(index) if names[earlier] not in done)
        stands_in_for = -1
        if legal[index]:
            invoice_sent = sent.get(number) if sent else None
            first_sent = first_demand_sent(invoice_sent, signed_names) if invoice_sent else None
            if first_sent is None or first_sent > demand_by:
                if not done:  # the common case (a first run after an import): worked out per ladder
                    stand_in, without = fresh_first_demand[index]
                else:
                    stand_in = next((k for k in first_demands[index] if names[k] not in done), None)
                    without = tuple(k for k in superseded if k != stand_in)
                if stand_in is None:  # a first demand has run: the legal step waits for the lead time
                    if first_sent is None and not demand_in_flight(invoice_sent, signed_names):
                        placement = no_demand_placement(finder, index)  # ... unless none can ever go out
                    else:
                        placement = legal_step_waiting(finder, index, first_sent, lead_days)
                    unplaced.append((invoice, outstanding, days_overdue, superseded, placement))
                    continue
                superseded = without
                stands_in_for, index = index, stand_in
        rates = default_rates
        if contract_ref:
            cached = contract_rates.get(contract_ref)
            if cached is None:
                cached = contract_rates[contract_ref] = accrual_rates(
                    terms_for(ledger.contracts.get(contract_ref), default_terms)
                )
            rates = cached
        fee = (outstanding * rates[days_overdue]).quantize(unit_of[currency], ROUND_HALF_UP)
        entry = [number, currency, outstanding, days_overdue, fee, superseded]
        if stands_in_for >= 0:
            first_demands_due = stand_ins.get((index, stands_in_for))
            if first_demands_due is None:
                stand_ins[index, stands_in_for] = [entry]
            else:
                first_demands_due.append(entry)
            continue
        group = groups.get(index)
        if group is None:
            groups[index] = [entry]
        else:
            group.append(entry)

    plans: list[InvoicePlan] = []
    if groups or stand_ins:
        caps = ContactCaps(contacts, compliance)
        # Most severe first: when the caps allow only some steps, the later rung of the ladder wins.
        # A first demand placed instead of a legal step goes with the invoices due at that step:
        # one message per channel lists them all (rule 4).
        by_step: dict[int, list[tuple[int, list[_DueInvoice]]]] = {}
        for (index, legal_index), entries in stand_ins.items():
            by_step.setdefault(index, []).append((legal_index, entries))
        for index in sorted(groups.keys() | by_step.keys(), reverse=True):
            group = groups.get(index, [])
            instead_of = by_step.get(index, ())
            count = len(group) + sum(len(entries) for _, entries in instead_of)
            placement = place_due_step(as_of, customer, finder, index, count, caps)
            for entry in group:
                entry.append(placement)
                # InvoicePlan's fields in order; tuple.__new__ is InvoicePlan._make without its
                # Python frame (a million invoices on a first run).
                plans.append(new_tuple(InvoicePlan, entry))
            for legal_index, entries in instead_of:
                first_demand = first_demand_instead(finder, legal_index, placement)
                for entry in entries:
                    entry.append(first_demand)
                    plans.append(new_tuple(InvoicePlan, entry))
    for invoice, outstanding, days_overdue, superseded, placement in unplaced:
        plans.append(
            InvoicePlan(
                invoice.number,
                invoice.currency,
                outstanding,
                days_overdue,
                _late_fee(ledger, invoice, outstanding, days_overdue, default_terms),
                superseded,
                placement,
            )
        )
    if plans:
        plans.sort(key=_BY_NUMBER)
    return CustomerPlan(
        customer=customer.id,
        as_of=as_of,
        business_day=True,
        assessment=assessment,
        tactic=tactic,
        ladder=tuple(ladder),
        invoices=tuple(plans),
        early_warnings=tuple(warnings),
        broken_promises=tuple(broken_promises),
        do_not_contact=do_not_contact,
    )


def plan_day(
    as_of: date,
    ledgers: Iterable[CustomerLedger],
    executions_for: Callable[[str], Executions],
    contacts_for: Callable[[str], Sequence[ContactRecord]],
    policy: PlanningPolicy,
    sent_for: Callable[[str], NoticesSent] | None = None,
) -> Iterator[CustomerPlan]:
    """Plan every customer on ``as_of``, lazily, one ``CustomerPlan`` per ledger.

    ``executions_for``, ``contacts_for`` and ``sent_for`` take a customer id; they are called once
    per customer.
    """
    for ledger in ledgers:
        customer_id = ledger.customer.id
        sent = sent_for(customer_id) if sent_for is not None else None
        yield plan_customer(
            as_of, ledger, executions_for(customer_id), contacts_for(customer_id), policy, sent
        )
