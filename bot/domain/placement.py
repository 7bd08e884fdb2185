"""Placing a due step: what becomes of the step an invoice reached today (DESIGN §4).

A step that can go out is placed on the channels that reach the customer, within the contact caps
(``place_due_step``, remembered across customers). A legal step (one that needs approval) waits for
the first signed demand (rule 2): one stands in for it (``first_demand_instead``), it waits for the
lead time (``legal_step_waiting``), or, when no demand went out nor can, collectors have the invoice
(``no_demand_placement``). ``manual_placement`` and ``rejected_placement`` hand an invoice to the
collectors. Every placement is a ``StepPlacement``; none touches the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta

from bot.domain.compliance import ContactCaps, reachable_channels
from bot.domain.decisions import DecisionStatus, ExecutionStatus, StepPlacement
from bot.domain.ledger import Channel, Customer
from bot.domain.policy import LadderStep
from bot.domain.step_finder import StepFinder


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

DO_NOT_CONTACT_REASON = (
    "do_not_contact: nothing is sent to this customer; a collector handles the invoice by hand"
)


def first_demand_sent(sent: Mapping[str, date | None] | None, signed_names: frozenset[str]) -> date | None:
    """The day the invoice's first signed demand went out, if one did."""
    if not sent:
        return None
    return min((on for step, on in sent.items() if on is not None and step in signed_names), default=None)


def demand_in_flight(sent: Mapping[str, date | None] | None, signed_names: frozenset[str]) -> bool:
    """Whether a signed step's e-mail or letter of the invoice is still in the outbox (may yet go)."""
    return sent is not None and any(on is None and step in signed_names for step, on in sent.items())


def _remembered(
    finder: StepFinder, key: tuple[object, ...], make: Callable[[], StepPlacement]
) -> StepPlacement:
    """A placement that is no caps decision (a first demand, a waiting or a manual step), made once
    per ladder like ``place_due_step``'s."""
    derived = finder.derived.get(key)
    if derived is None:
        if len(finder.derived) >= _MAX_PLACEMENTS:
            finder.derived.clear()
        derived = finder.derived[key] = make()
    return derived


def first_demand_instead(finder: StepFinder, legal_index: int, placement: StepPlacement) -> StepPlacement:
    """``placement`` of a signed step, placed instead of the legal step at ``legal_index`` (rule 2)."""

    def make() -> StepPlacement:
        reason = f"first demand before {finder.names[legal_index]}: {placement.reason}"
        return StepPlacement(placement.step_index, placement.status, placement.channels, reason, legal_index)

    return _remembered(finder, ("first_demand", legal_index, placement), make)


def legal_step_waiting(
    finder: StepFinder, legal_index: int, first_sent: date | None, lead_days: int
) -> StepPlacement:
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


def no_demand_placement(finder: StepFinder, legal_index: int) -> StepPlacement:
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


def manual_placement(finder: StepFinder, index: int, reason: str) -> StepPlacement:
    """The step at ``index`` is not placed: collectors handle the invoice, for ``reason``."""
    return _remembered(
        finder, ("manual", index, reason), lambda: StepPlacement(index, DecisionStatus.MANUAL, (), reason)
    )


def rejected_placement(
    finder: StepFinder, due_index: int, done: Mapping[str, ExecutionStatus]
) -> StepPlacement:
    """The invoice is left to the collectors since a legal step of it was rejected (rule 2)."""
    step = next(name for name, status in done.items() if status is ExecutionStatus.REJECTED)
    index = finder.names.index(step) if step in finder.names else due_index
    reason = f"{step} was rejected: the invoice is left to the collectors, and nothing more is sent"
    return manual_placement(finder, index, reason)


def place_due_step(
    as_of: date,
    customer: Customer,
    finder: StepFinder,
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
