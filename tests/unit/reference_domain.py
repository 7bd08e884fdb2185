"""The domain rules planning uses, as they were before issue 2, kept verbatim as a test oracle.

Copied from bot/domain (tiers.py, compliance.py, fees.py, and the Invoice methods and Tier.lower of
ledger.py) before they were made faster; the only edits make methods into functions. Together with
``reference_planner`` they say what the planner decided before, for the properties in
``test_plan_output.py``.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from bot.domain.decisions import ContactRecord, EarlyWarning, TierAssessment
from bot.domain.ledger import (
    AUTOMATED_CHANNELS,
    Channel,
    Contract,
    Customer,
    CustomerLedger,
    Invoice,
    InvoiceStatus,
    Tier,
)
from bot.domain.money import _exponent
from bot.domain.policy import CompliancePolicy, FeeTerms, ScorecardPolicy


def old_quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(_exponent(currency), rounding=ROUND_HALF_UP)


def lower_tier(tier: Tier) -> Tier:
    order = list(Tier)
    return order[min(order.index(tier) + 1, len(order) - 1)]


def paid_as_of(invoice: Invoice, as_of: date) -> Decimal:
    return sum((p.amount for p in invoice.payments if p.paid_on <= as_of), Decimal(0))


def outstanding_as_of(invoice: Invoice, as_of: date) -> Decimal:
    return max(invoice.amount - paid_as_of(invoice, as_of), Decimal(0))


def settled_on(invoice: Invoice, tolerance: Decimal, as_of: date) -> date | None:
    remaining = invoice.amount
    for payment in sorted(invoice.payments, key=lambda p: (p.paid_on, p.reference)):
        if payment.paid_on > as_of:
            break
        remaining -= payment.amount
        if remaining <= tolerance:
            return payment.paid_on
    return None


# --- tiers.py ---

_ZERO = Decimal(0)
_CENT = Decimal("0.01")
_TWO = Decimal(2)
_TREND_INVOICES = 2
# The scorecard's 15 / 10 / 5 and 15 / 8 / 0 steps, as fractions of the configured weight.
_SCALE_MEDIUM = Decimal(2) / Decimal(3)
_SCALE_SMALL = Decimal(1) / Decimal(3)
_INDUSTRY_MEDIUM = Decimal(8) / Decimal(15)


def _points(value: Decimal) -> Decimal:
    # Components are rounded to cents before summing so the reported score is exactly what the
    # thresholds were compared with.
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def visible_invoices(ledger: CustomerLedger, as_of: date) -> tuple[Invoice, ...]:
    """The customer's invoices that exist on ``as_of`` (issued on or before it)."""
    return tuple(invoice for invoice in ledger.invoices if invoice.issue_date <= as_of)


def _history_and_lateness(
    invoices: tuple[Invoice, ...], as_of: date, scorecard: ScorecardPolicy, tolerance: Decimal
) -> tuple[Decimal, Decimal, str]:
    window_start = as_of - timedelta(days=scorecard.lookback_days - 1)
    days_late: list[int] = []
    for invoice in invoices:
        paid_on = settled_on(invoice, tolerance, as_of)
        if paid_on is not None and paid_on >= window_start:
            days_late.append(max(0, (paid_on - invoice.due_date).days))
    if len(days_late) < scorecard.min_paid_invoices:
        return (
            _points(scorecard.history_weight / _TWO),
            _points(scorecard.lateness_weight / _TWO),
            f"{len(days_late)} invoice(s) paid in the last {scorecard.lookback_days} days, "
            f"fewer than {scorecard.min_paid_invoices}: half marks for history and lateness",
        )
    paid = Decimal(len(days_late))
    on_time = Decimal(sum(1 for late in days_late if late == 0))
    average_late = Decimal(sum(days_late)) / paid
    history = scorecard.history_weight * on_time / paid
    lateness = scorecard.lateness_weight * max(
        _ZERO, 1 - average_late / Decimal(scorecard.lateness_horizon_days)
    )
    return (
        _points(history),
        _points(lateness),
        f"{on_time}/{len(days_late)} paid on time, {_points(average_late)} days late on average",
    )


def _scale(annual_revenue: Decimal | None, scorecard: ScorecardPolicy) -> Decimal:
    if annual_revenue is not None and annual_revenue >= scorecard.revenue_large:
        return _points(scorecard.scale_weight)
    if annual_revenue is not None and annual_revenue >= scorecard.revenue_medium:
        return _points(scorecard.scale_weight * _SCALE_MEDIUM)
    return _points(scorecard.scale_weight * _SCALE_SMALL)


def _industry(industry: str | None, scorecard: ScorecardPolicy) -> Decimal:
    risk = scorecard.industry_risk.get((industry or "").strip().lower(), "medium")
    if risk == "low":
        return _points(scorecard.industry_weight)
    if risk == "high":
        return _ZERO
    return _points(scorecard.industry_weight * _INDUSTRY_MEDIUM)


def _tier_of(score: Decimal, scorecard: ScorecardPolicy) -> Tier:
    if score >= scorecard.strategic_from:
        return Tier.STRATEGIC
    if score >= scorecard.cooperative_from:
        return Tier.COOPERATIVE
    return Tier.CAUTIOUS


def _is_late(invoice: Invoice, as_of: date, tolerance: Decimal) -> bool:
    paid_on = settled_on(invoice, tolerance, as_of)
    # Unpaid and already past due (the caller picks invoices due before as_of) is late too.
    return paid_on is None or paid_on > invoice.due_date


def trend_overdue(invoices: tuple[Invoice, ...], as_of: date, tolerance: Decimal) -> tuple[str, ...]:
    """The two most recent invoices due before ``as_of`` (the latest last) when both were paid late
    or are unpaid; else ``()``.

    Disputed invoices do not count: a contested bill says nothing about paying habits.
    """
    due_before = [
        invoice
        for invoice in invoices
        if invoice.due_date < as_of and invoice.status is not InvoiceStatus.DISPUTED
    ]
    if len(due_before) < _TREND_INVOICES:
        return ()
    due_before.sort(key=lambda invoice: (invoice.due_date, invoice.issue_date, invoice.number))
    latest = due_before[-_TREND_INVOICES:]
    if all(_is_late(invoice, as_of, tolerance) for invoice in latest):
        return tuple(invoice.number for invoice in latest)
    return ()


def assess(
    as_of: date, ledger: CustomerLedger, scorecard: ScorecardPolicy, tolerance: Decimal
) -> TierAssessment:
    """The customer's tier on ``as_of``: the override when set, else the scorecard.

    A scored customer whose two most recent invoices due before ``as_of`` were both late moves down
    one tier (trend overdue). An override is never moved; the trend is still reported.
    """
    customer = ledger.customer
    invoices = visible_invoices(ledger, as_of)
    trend_invoices = trend_overdue(invoices, as_of, tolerance)
    trend = bool(trend_invoices)
    if customer.tier_override is not None:
        reason = f"tier set by override to {customer.tier_override.value}"
        if trend:
            reason += "; trend overdue noted but an override tier is never moved"
        return TierAssessment(
            customer=customer.id,
            tier=customer.tier_override,
            score=None,
            scored_tier=None,
            overridden=True,
            trend_invoices=trend_invoices,
            components={},
            reason=reason,
        )

    history, lateness, history_note = _history_and_lateness(invoices, as_of, scorecard, tolerance)
    components = {
        "history": history,
        "lateness": lateness,
        "scale": _scale(customer.annual_revenue, scorecard),
        "industry": _industry(customer.industry, scorecard),
        "legal": _points(scorecard.legal_weight) if customer.open_lawsuits == 0 else _ZERO,
    }
    score = sum(components.values(), _ZERO)
    scored_tier = _tier_of(score, scorecard)
    reason = f"score {score} ({history_note}) -> {scored_tier.value}"
    tier = scored_tier
    if trend:
        tier = lower_tier(scored_tier)
        if tier is scored_tier:
            reason += "; trend overdue: the two latest invoices due were late, already the lowest tier"
        else:
            reason += f"; trend overdue: the two latest invoices due were late, moved down to {tier.value}"
    return TierAssessment(
        customer=customer.id,
        tier=tier,
        score=score,
        scored_tier=scored_tier,
        overridden=False,
        trend_invoices=trend_invoices,
        components=components,
        reason=reason,
    )


def early_warnings(
    as_of: date, ledger: CustomerLedger, scorecard: ScorecardPolicy, tolerance: Decimal
) -> tuple[EarlyWarning, ...]:
    """Open invoices more than ``early_warning_factor`` × payment terms overdue on ``as_of``.

    Each recommends a credit hold; raised for override tiers too.
    """
    customer = ledger.customer
    threshold = scorecard.early_warning_factor * customer.payment_terms_days
    warnings: list[EarlyWarning] = []
    for invoice in visible_invoices(ledger, as_of):
        if invoice.status is not InvoiceStatus.OPEN:
            continue
        days_overdue = (as_of - invoice.due_date).days
        if days_overdue > threshold and outstanding_as_of(invoice, as_of) > tolerance:
            warnings.append(
                EarlyWarning(
                    customer=customer.id,
                    invoice=invoice.number,
                    days_overdue=days_overdue,
                    threshold_days=threshold,
                )
            )
    return tuple(warnings)


# --- compliance.py ---

_WINDOW_DAYS = 7
_AROUND = range(-(_WINDOW_DAYS - 1), _WINDOW_DAYS)

# Characters that render as nothing; stripped so "th\u200breat" cannot slip past the phrase check.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def _unreachable_because(customer: Customer, channel: Channel) -> str | None:
    if channel is Channel.TASK:
        return None
    if channel in customer.opted_out:
        return f"{channel.value}: the customer opted out"
    if channel is Channel.EMAIL and not customer.email:
        return "email: no e-mail address"
    if channel in (Channel.SMS, Channel.VOICE) and not customer.phone:
        return f"{channel.value}: no phone number"
    if channel is Channel.LETTER and not customer.address:
        return "letter: no postal address"
    return None


def reachable_channels(
    customer: Customer, channels: Iterable[Channel]
) -> tuple[tuple[Channel, ...], tuple[tuple[Channel, str], ...]]:
    """Split ``channels`` into those the customer can be reached on and those dropped, with why.

    E-mail needs an address, sms and voice a phone number, letter a postal address; an opted-out
    channel is dropped; a task reaches a collector, not the customer, so it is always kept.
    """
    kept: list[Channel] = []
    dropped: list[tuple[Channel, str]] = []
    for channel in channels:
        why = _unreachable_because(customer, channel)
        if why is None:
            kept.append(channel)
        else:
            dropped.append((channel, why))
    return tuple(kept), tuple(dropped)


def _squeeze(text: str) -> str:
    # NFKC folds full-width letters (ｔｈｒｅａｔ) onto ASCII; whitespace is removed entirely so
    # that spacing tricks, line breaks and spaced-out CJK characters still match.
    folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    return "".join(folded.split())


def banned_phrase_hits(text: str, phrases: Iterable[str]) -> list[str]:
    """The banned phrases found in ``text``, in the order given, each once.

    Matching ignores case, Unicode width and whitespace: "Legal  Action" and "legal\\naction"
    both hit "legal action". A false hit only raises a task for a person; a miss would send.
    """
    haystack = _squeeze(text)
    hits: list[str] = []
    for phrase in phrases:
        needle = _squeeze(phrase)
        if needle and needle in haystack and phrase not in hits:
            hits.append(phrase)
    return hits


class ContactCaps:
    """Messages of one customer counted per channel per day, for the caps check.

    The planner adds what it places so later steps of the same call see them.
    """

    __slots__ = ("_automated_by_day", "_by_channel_day", "_policy")

    def __init__(self, contacts: Iterable[ContactRecord], policy: CompliancePolicy) -> None:
        """Start from the messages already in the outbox."""
        self._policy = policy
        self._by_channel_day: set[tuple[Channel, date]] = set()
        self._automated_by_day: Counter[date] = Counter()
        for contact in contacts:
            self._count(contact.channel, contact.on)

    def _count(self, channel: Channel, on: date) -> None:
        self._by_channel_day.add((channel, on))
        if channel in AUTOMATED_CHANNELS:
            self._automated_by_day[on] += 1

    def check(self, channels: Sequence[Channel], on: date) -> tuple[bool, str]:
        """Whether a step with ``channels`` fits on ``on`` in full, and if not, why."""
        automated = [c for c in channels if c in AUTOMATED_CHANNELS]
        taken = [c.value for c in automated if (c, on) in self._by_channel_day]
        if taken:
            return False, f"{', '.join(taken)} already used today (one message per channel per day)"
        if not automated:
            return True, "tasks do not count against the caps"
        cap = self._policy.max_messages_per_7d
        # Every 7-day window that contains ``on``; outbox rows dated later than ``on`` (a re-run
        # for an earlier date) are counted too. Daily counts from on−6 to on+6, then slide.
        daily = [self._automated_by_day.get(on + timedelta(days=k), 0) for k in _AROUND]
        in_window = sum(daily[:_WINDOW_DAYS])
        for first in range(_WINDOW_DAYS):
            if first:
                in_window += daily[first + _WINDOW_DAYS - 1] - daily[first - 1]
            if in_window + len(automated) > cap:
                start = on - timedelta(days=_WINDOW_DAYS - 1 - first)
                end = start + timedelta(days=_WINDOW_DAYS - 1)
                return False, (
                    f"{len(automated)} more message(s) would make {in_window + len(automated)} "
                    f"automated messages from {start} to {end} (cap {cap} in 7 days)"
                )
        return True, "within the contact caps"

    def add(self, channels: Iterable[Channel], on: date) -> None:
        """Count messages placed on ``on``."""
        for channel in channels:
            self._count(channel, on)


def fits_caps(
    step_channels: Sequence[Channel],
    contacts: Iterable[ContactRecord],
    as_of: date,
    policy: CompliancePolicy,
) -> tuple[bool, str]:
    """Whether a step's messages fit the caps on ``as_of`` in full, with the reason.

    One message per automated channel per day per customer, and at most
    ``policy.max_messages_per_7d`` automated messages (email, sms, voice, letter; not tasks) in any
    rolling 7 days, normally the window [as_of − 6, as_of].
    """
    return ContactCaps(contacts, policy).check(step_channels, as_of)


# --- fees.py ---

_ZERO = Decimal(0)


def terms_for(contract: Contract | None, defaults: FeeTerms) -> FeeTerms:
    """The fee terms of ``contract``; every field it leaves unset (or no contract) takes ``defaults``."""
    if contract is None:
        return defaults
    return FeeTerms(
        grace_days=defaults.grace_days if contract.grace_days is None else contract.grace_days,
        daily_rate=defaults.daily_rate if contract.daily_rate is None else contract.daily_rate,
        penalty_rate=defaults.penalty_rate if contract.penalty_rate is None else contract.penalty_rate,
        penalty_after_days=(
            defaults.penalty_after_days
            if contract.penalty_after_days is None
            else contract.penalty_after_days
        ),
    )


def late_fee(outstanding: Decimal, days_overdue: int, terms: FeeTerms, currency: str) -> Decimal:
    """Fee accrued on ``outstanding`` after ``days_overdue`` days (negative = not yet due).

    Daily interest for every day past the grace period plus a one-off penalty from
    ``penalty_after_days`` on. The sum is rounded once, HALF_UP, so that per-part rounding never
    drifts from the contract's arithmetic: 100,000.00 at day 40 -> 2,500.00 + 2,000.00 = 4,500.00.
    """
    if outstanding <= _ZERO:
        return old_quantize(_ZERO, currency)
    interest_days = max(0, days_overdue - terms.grace_days)
    fee = outstanding * terms.daily_rate * interest_days
    if days_overdue >= terms.penalty_after_days:
        fee += outstanding * terms.penalty_rate
    return old_quantize(fee, currency)
