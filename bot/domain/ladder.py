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
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter

from bot.domain.calendar import is_business_day
from bot.domain.compliance import ContactCaps, reachable_channels
from bot.domain.decisions import (
    BrokenPromise,
    ContactRecord,
    CustomerPlan,
    DecisionStatus,
    EarlyWarning,
    ExecutionStatus,
    InvoicePlan,
    StepPlacement,
)
from bot.domain.fees import AccrualRates, accrual_rates, late_fee, terms_for
from bot.domain.ledger import (
    TACTIC_OF_TIER,
    Channel,
    Customer,
    CustomerLedger,
    Invoice,
    InvoiceStatus,
    Tactic,
)
from bot.domain.money import MINOR_UNIT_OF
from bot.domain.policy import Assignee, FeeTerms, LadderStep, PlanningPolicy, StepAction
from bot.domain.tiers import assess, early_warning_threshold

Executions = Mapping[str, Mapping[str, ExecutionStatus]]
# invoice number -> step name -> the date (the customer's) its first e-mail or letter left, or None
# when none has left yet but one is still in flight in the outbox (planned, claimed, sending)
NoticesSent = Mapping[str, Mapping[str, date | None]]

_BY_NUMBER = itemgetter(0)

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
    """Finds due steps of one ladder, with what every invoice of that ladder needs precomputed."""

    __slots__ = (
        "_days",
        "_ordered",
        "derived",
        "everything_before",
        "first_demands",
        "fresh_first_demand",
        "index_by_days",
        "ladder",
        "legal",
        "names",
        "placements",
        "signed_names",
    )

    def __init__(self, ladder: Sequence[LadderStep]) -> None:
        self.ladder = ladder
        # Placements of this ladder's steps already made, by what they depend on (see _placed).
        self.placements: dict[tuple[object, ...], StepPlacement] = {}
        # Placements made from others or from a fact (first demands, waiting and manual steps).
        self.derived: dict[tuple[object, ...], StepPlacement] = {}
        self.names = tuple(step.name for step in ladder)
        # Rule 2: legal steps are those that need approval; a signed demand is any signed step; the
        # first demands that may stand in for the legal step at i: the signed steps before it that
        # are not legal, most severe (latest) first.
        self.legal = tuple(step.approval for step in ladder)
        self.signed_names = frozenset(step.name for step in ladder if step.signed)
        self.first_demands = tuple(
            tuple(k for k in reversed(range(index)) if ladder[k].signed and not ladder[k].approval)
            for index in range(len(ladder))
        )
        # For an invoice with no step run yet: the first demand in place of the legal step at i (or
        # None) and what the legal step supersedes besides it.
        self.fresh_first_demand = tuple(
            (
                candidates[0] if candidates else None,
                tuple(k for k in range(index) if not candidates or k != candidates[0]),
            )
            for index, candidates in enumerate(self.first_demands)
        )
        # The steps an invoice at index i supersedes when none of them ran: all of those before it.
        self.everything_before = tuple(tuple(range(index)) for index in range(len(ladder)))
        self._days = [step.day for step in ladder]
        self._ordered = all(a <= b for a, b in zip(self._days, self._days[1:], strict=False))
        # find()'s answers so far: a few hundred distinct days overdue serve a million invoices.
        self.index_by_days: dict[int, int | None] = {}

    def find(self, days_overdue: int) -> int | None:
        if self._ordered:
            index = bisect_right(self._days, days_overdue) - 1
            return index if index >= 0 else None
        best: int | None = None
        for index, day in enumerate(self._days):
            if day <= days_overdue and (best is None or day >= self._days[best]):
                best = index
        return best


# One finder per ladder object, not per customer: the three ladders of a policy serve every customer.
_FINDERS: dict[int, _StepFinder] = {}
_MAX_FINDERS = 64


def _finder_for(ladder: Sequence[LadderStep]) -> _StepFinder:
    finder = _FINDERS.get(id(ladder))
    if finder is None or finder.ladder is not ladder:
        if len(_FINDERS) >= _MAX_FINDERS:
            _FINDERS.clear()
        finder = _FINDERS[id(ladder)] = _StepFinder(ladder)
    return finder


# What the invoice loop keeps of a due invoice until its step is placed: number, currency,
# outstanding, days overdue, late fee, superseded step indices; the placement is appended, and the
# list becomes the InvoicePlan.
_DueInvoice = list[object]


def _channel_list(channels: Iterable[Channel]) -> str:
    return ", ".join(channels)  # a StrEnum member is its value


def _place(
    as_of: date,
    customer: Customer,
    step: LadderStep,
    step_index: int,
    invoices: int,
    caps: ContactCaps,
) -> StepPlacement:
    """Place one due step for ``invoices`` invoices of a customer: one message per channel."""
    together = f"; one message for {invoices} invoices" if invoices > 1 else ""
    if step.approval:
        reason = f"{step.name} waits for a collector's approval before anything is sent{together}"
        return StepPlacement(step_index, DecisionStatus.AWAITING_APPROVAL, (), reason)

    channels, dropped = reachable_channels(customer, step.channels)
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
    return StepPlacement(step_index, status, channels, reason)


_MAX_PLACEMENTS = 4096
_MAX_DAYS = 4096

_DO_NOT_CONTACT = "do_not_contact: nothing is sent to this customer; a collector handles the invoice by hand"


def _first_demand_sent(sent: Mapping[str, date | None] | None, signed_names: frozenset[str]) -> date | None:
    """The day the invoice's first signed demand went out, if one did."""
    if not sent:
        return None
    return min((on for step, on in sent.items() if on is not None and step in signed_names), default=None)


def _demand_in_flight(sent: Mapping[str, date | None] | None, signed_names: frozenset[str]) -> bool:
    """Whether a signed step's e-mail or letter of the invoice is still in the outbox (may yet go)."""
    return sent is not None and any(on is None and step in signed_names for step, on in sent.items())


def _remembered(
    finder: _StepFinder, key: tuple[object, ...], make: Callable[[], StepPlacement]
) -> StepPlacement:
    """A placement that is no caps decision (a first demand, a waiting or a manual step), made once
    per ladder like ``_placed``'s."""
    derived = finder.derived.get(key)
    if derived is None:
        if len(finder.derived) >= _MAX_PLACEMENTS:
            finder.derived.clear()
        derived = finder.derived[key] = make()
    return derived


def _first_demand(finder: _StepFinder, legal_index: int, placement: StepPlacement) -> StepPlacement:
    """``placement`` of a signed step, placed instead of the legal step at ``legal_index`` (rule 2)."""

    def make() -> StepPlacement:
        reason = f"first demand before {finder.names[legal_index]}: {placement.reason}"
        return StepPlacement(placement.step_index, placement.status, placement.channels, reason, legal_index)

    return _remembered(finder, ("first_demand", legal_index, placement), make)


def _waiting(finder: _StepFinder, legal_index: int, first_sent: date | None, lead_days: int) -> StepPlacement:
    """The legal step at ``legal_index`` waits: its invoice's first signed demand (sent on
    ``first_sent``, or not yet) has not been out ``lead_days`` days (rule 2)."""

    def make() -> StepPlacement:
        legal = finder.names[legal_index]
        if first_sent is None:
            reason = (
                f"first demand before {legal}: no signed demand for this invoice has gone out yet; "
                f"{legal} waits until one has been out {lead_days} days"
            )
        else:
            until = first_sent + timedelta(days=lead_days)
            reason = (
                f"first demand before {legal}: the first signed demand went out on {first_sent}; "
                f"{legal} waits until {until}"
            )
        return StepPlacement(legal_index, DecisionStatus.DEFERRED, (), reason)

    return _remembered(finder, ("waiting", legal_index, first_sent, lead_days), make)


def _no_demand(finder: _StepFinder, legal_index: int) -> StepPlacement:
    """The legal step at ``legal_index`` is due, no signed demand went out, none can be placed and
    none is still in the outbox: collectors have the invoice, never left waiting for ever (rule 2)."""
    return _remembered(
        finder,
        ("no_demand", legal_index),
        lambda: StepPlacement(
            legal_index, DecisionStatus.MANUAL, (), no_demand_reason(finder.names[legal_index])
        ),
    )


NO_DEMAND_SENT = (
    "the signed demand placed for this invoice did not go out (cancelled, failed, bounced, or no "
    "e-mail or postal address); collectors send it by hand or decide"
)


def no_demand_reason(legal: str) -> str:
    """The reason of a ``manual`` decision for an invoice whose first demand did not go out."""
    return f"first demand before {legal}: {NO_DEMAND_SENT}"


def lacks_demand(placement: StepPlacement) -> bool:
    """Whether ``placement`` hands the invoice to the collectors since its first demand did not go out."""
    return placement.status is DecisionStatus.MANUAL and placement.reason.endswith(NO_DEMAND_SENT)


def _manual(finder: _StepFinder, index: int, reason: str) -> StepPlacement:
    """The step at ``index`` is not placed: collectors handle the invoice, for ``reason``."""
    return _remembered(
        finder, ("manual", index, reason), lambda: StepPlacement(index, DecisionStatus.MANUAL, (), reason)
    )


def _rejected_placement(
    finder: _StepFinder, due_index: int, done: Mapping[str, ExecutionStatus]
) -> StepPlacement:
    """The invoice is left to the collectors since a legal step of it was rejected (rule 2)."""
    step = next(name for name, status in done.items() if status is ExecutionStatus.REJECTED)
    index = finder.names.index(step) if step in finder.names else due_index
    reason = f"{step} was rejected: the invoice is left to the collectors, and nothing more is sent"
    return _manual(finder, index, reason)


def _late_fee(
    ledger: CustomerLedger, invoice: Invoice, outstanding: Decimal, days_overdue: int, defaults: FeeTerms
) -> Decimal:
    """The invoice's late fee (the hot loop of plan_customer inlines this)."""
    contract = ledger.contracts.get(invoice.contract_ref) if invoice.contract_ref else None
    return late_fee(outstanding, days_overdue, terms_for(contract, defaults), invoice.currency)


def _placed(
    as_of: date,
    customer: Customer,
    finder: _StepFinder,
    step_index: int,
    invoices: int,
    caps: ContactCaps,
) -> StepPlacement:
    """``_place``, remembered across customers: the same step placed for as many invoices on the same
    day, for a customer reachable on the same channels, with the caps in the same state, is placed
    the same way (same status, channels and reason). Most customers have nothing counted but what
    this plan placed today, so a planning run asks the same few questions over and over."""
    state = caps.state_on(as_of)
    if state is None:  # messages of other days count: the rolling windows decide
        return _place(as_of, customer, finder.ladder[step_index], step_index, invoices, caps)
    key = (
        step_index,
        invoices,
        as_of,
        caps.cap,
        customer.opted_out,
        not customer.email,
        not customer.phone,
        not customer.address,
        state,
    )
    placements = finder.placements
    placement = placements.get(key)
    if placement is None:
        if len(placements) >= _MAX_PLACEMENTS:
            placements.clear()
        placement = placements[key] = _place(
            as_of, customer, finder.ladder[step_index], step_index, invoices, caps
        )
    elif placement.status is DecisionStatus.PLANNED:
        caps.add(placement.channels, as_of)  # what _place did when it placed it
    return placement


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
    finder = _finder_for(ladder)
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
                placement = _manual(finder, index, _DO_NOT_CONTACT)
                unplaced.append((invoice, outstanding, days_overdue, (), placement))
            continue
        done = executions.get(number) if executions else None
        if not done:
            superseded = everything_before[index]
        else:
            if rejected in done.values():
                placement = _rejected_placement(finder, index, done)
                unplaced.append((invoice, outstanding, days_overdue, (), placement))
                continue
            if names[index] in done:
                continue
            superseded = tuple(earlier for earlier in range(index) if names[earlier] not in done)
        stands_in_for = -1
        if legal[index]:
            invoice_sent = sent.get(number) if sent else None
            first_sent = _first_demand_sent(invoice_sent, signed_names) if invoice_sent else None
            if first_sent is None or first_sent > demand_by:
                if not done:  # the common case (a first run after an import): worked out per ladder
                    stand_in, without = fresh_first_demand[index]
                else:
                    stand_in = next((k for k in first_demands[index] if names[k] not in done), None)
                    without = tuple(k for k in superseded if k != stand_in)
                if stand_in is None:  # a first demand has run: the legal step waits for the lead time
                    if first_sent is None and not _demand_in_flight(invoice_sent, signed_names):
                        placement = _no_demand(finder, index)  # ... unless none can ever go out
                    else:
                        placement = _waiting(finder, index, first_sent, lead_days)
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
            placement = _placed(as_of, customer, finder, index, count, caps)
            for entry in group:
                entry.append(placement)
                # InvoicePlan's fields in order; tuple.__new__ is InvoicePlan._make without its
                # Python frame (a million invoices on a first run).
                plans.append(new_tuple(InvoicePlan, entry))
            for legal_index, entries in instead_of:
                first_demand = _first_demand(finder, legal_index, placement)
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
