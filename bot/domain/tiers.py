"""Credit scorecard, tiers and dynamic monitoring (DESIGN §3).

The ledger is read as of the plan date: invoices issued later and payments dated later do not exist.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import lru_cache
from operator import attrgetter

from bot.domain.decisions import EarlyWarning, TierAssessment
from bot.domain.ledger import Customer, CustomerLedger, Invoice, InvoiceStatus, Tier
from bot.domain.policy import ScorecardPolicy

_ZERO = Decimal(0)
_CENT = Decimal("0.01")
_TWO = Decimal(2)
_TREND_INVOICES = 2
_RECENCY = attrgetter("due_date", "issue_date", "number")
_DUE_DATE = attrgetter("due_date")
# The scorecard's 15 / 10 / 5 and 15 / 8 / 0 steps, as fractions of the configured weight.
_SCALE_MEDIUM = Decimal(2) / Decimal(3)
_SCALE_SMALL = Decimal(1) / Decimal(3)
_INDUSTRY_MEDIUM = Decimal(8) / Decimal(15)


def _points(value: Decimal) -> Decimal:
    # Components are rounded to cents before summing so the reported score is exactly what the
    # thresholds were compared with.
    return value.quantize(_CENT, ROUND_HALF_UP)  # by position: see money.quantize


def visible_invoices(ledger: CustomerLedger, as_of: date) -> tuple[Invoice, ...]:
    """The customer's invoices that exist on ``as_of`` (issued on or before it)."""
    return tuple([invoice for invoice in ledger.invoices if invoice.issue_date <= as_of])


@lru_cache(maxsize=256)
def _half_marks(
    history_weight: Decimal, lateness_weight: Decimal, lookback_days: int, min_paid: int, paid: int
) -> tuple[Decimal, Decimal, str]:
    # The same for every new customer with this scorecard: computed once, not per customer.
    return (
        _points(history_weight / _TWO),
        _points(lateness_weight / _TWO),
        f"{paid} invoice(s) paid in the last {lookback_days} days, "
        f"fewer than {min_paid}: half marks for history and lateness",
    )


def _history_and_lateness(
    invoices: tuple[Invoice, ...], as_of: date, scorecard: ScorecardPolicy, tolerance: Decimal
) -> tuple[Decimal, Decimal, str]:
    window_start = as_of - timedelta(days=scorecard.lookback_days - 1)
    days_late: list[int] = []
    for invoice in invoices:
        if not invoice.payments:  # most open invoices; settled_on would say None
            continue
        paid_on = invoice.settled_on(tolerance, as_of)
        if paid_on is not None and paid_on >= window_start:
            days_late.append(max(0, (paid_on - invoice.due_date).days))
    if len(days_late) < scorecard.min_paid_invoices:
        return _half_marks(
            scorecard.history_weight,
            scorecard.lateness_weight,
            scorecard.lookback_days,
            scorecard.min_paid_invoices,
            len(days_late),
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


def _profile_points(customer: Customer, scorecard: ScorecardPolicy) -> tuple[Decimal, Decimal, Decimal]:
    """Scale, industry and legal points: what the customer is, not how they paid."""
    risk = scorecard.industry_risk.get((customer.industry or "").strip().lower(), "medium")
    return _profile_points_of(
        customer.annual_revenue,
        risk,
        customer.open_lawsuits == 0,
        scorecard.scale_weight,
        scorecard.industry_weight,
        scorecard.legal_weight,
        scorecard.revenue_large,
        scorecard.revenue_medium,
    )


@lru_cache(maxsize=1024)
def _profile_points_of(
    annual_revenue: Decimal | None,
    risk: str,
    no_lawsuits: bool,
    scale_weight: Decimal,
    industry_weight: Decimal,
    legal_weight: Decimal,
    revenue_large: Decimal,
    revenue_medium: Decimal,
) -> tuple[Decimal, Decimal, Decimal]:
    # Few customers differ in these: computed once per kind of customer, not per customer.
    if annual_revenue is not None and annual_revenue >= revenue_large:
        scale = _points(scale_weight)
    elif annual_revenue is not None and annual_revenue >= revenue_medium:
        scale = _points(scale_weight * _SCALE_MEDIUM)
    else:
        scale = _points(scale_weight * _SCALE_SMALL)
    if risk == "low":
        industry = _points(industry_weight)
    elif risk == "high":
        industry = _ZERO
    else:
        industry = _points(industry_weight * _INDUSTRY_MEDIUM)
    return scale, industry, _points(legal_weight) if no_lawsuits else _ZERO


def _tier_of(score: Decimal, strategic_from: Decimal, cooperative_from: Decimal) -> Tier:
    if score >= strategic_from:
        return Tier.STRATEGIC
    if score >= cooperative_from:
        return Tier.COOPERATIVE
    return Tier.CAUTIOUS


def _is_late(invoice: Invoice, as_of: date, tolerance: Decimal) -> bool:
    paid_on = invoice.settled_on(tolerance, as_of)
    # Unpaid and already past due (the caller picks invoices due before as_of) is late too.
    return paid_on is None or paid_on > invoice.due_date


def trend_overdue_invoices(invoices: tuple[Invoice, ...], as_of: date, tolerance: Decimal) -> tuple[str, ...]:
    """The numbers of the two most recent invoices due before ``as_of`` (the latest last) when both
    were paid late or are unpaid; else ``()``.

    Disputed invoices do not count: a contested bill says nothing about paying habits.
    """
    disputed = InvoiceStatus.DISPUTED
    due_before = [
        invoice for invoice in invoices if invoice.due_date < as_of and invoice.status is not disputed
    ]
    if len(due_before) < _TREND_INVOICES:
        return ()
    # Sorted by due date alone (no key tuples to build and compare); only when due dates tie at the
    # top does the full recency order decide which two are the latest.
    due_before.sort(key=_DUE_DATE)
    second_due = due_before[-2].due_date
    if due_before[-1].due_date == second_due or (
        len(due_before) > 2 and due_before[-3].due_date == second_due
    ):
        due_before = sorted((i for i in due_before if i.due_date >= second_due), key=_RECENCY)
    second_latest, latest = due_before[-_TREND_INVOICES:]
    if _is_late(second_latest, as_of, tolerance) and _is_late(latest, as_of, tolerance):
        return (second_latest.number, latest.number)
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
    trend_invoices = trend_overdue_invoices(invoices, as_of, tolerance)
    trend = bool(trend_invoices)  # the cached sentence below is keyed by it
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
    scale, industry, legal = _profile_points(customer, scorecard)
    components = {
        "history": history,
        "lateness": lateness,
        "scale": scale,
        "industry": industry,
        "legal": legal,
    }
    score = sum(components.values(), _ZERO)
    scored_tier, tier, reason = _tier_and_reason(
        str(score), history_note, trend, scorecard.strategic_from, scorecard.cooperative_from
    )
    # TierAssessment's fields in order, by tuple.__new__ (see ledger.Customer).
    return tuple.__new__(
        TierAssessment,
        (customer.id, tier, score, scored_tier, False, trend_invoices, components, reason),
    )


@lru_cache(maxsize=1024)
def _tier_and_reason(
    score: str, history_note: str, trend: bool, strategic_from: Decimal, cooperative_from: Decimal
) -> tuple[Tier, Tier, str]:
    # The same few hundred scores and notes come back customer after customer: the tiers and the
    # sentence are worked out once for each. Keyed by the score's text, which the sentence shows
    # (equal Decimals can print differently).
    scored_tier = _tier_of(Decimal(score), strategic_from, cooperative_from)
    reason = f"score {score} ({history_note}) -> {scored_tier.value}"
    tier = scored_tier
    if trend:
        tier = scored_tier.lower()
        if tier is scored_tier:
            reason += "; trend overdue: the two latest invoices due were late, already the lowest tier"
        else:
            reason += f"; trend overdue: the two latest invoices due were late, moved down to {tier.value}"
    return scored_tier, tier, reason


def early_warning_threshold(customer: Customer, scorecard: ScorecardPolicy) -> tuple[Decimal, int]:
    """The customer's early-warning threshold in days, and the whole days an invoice may be overdue.

    More than the threshold means more than its floor for whole days, so callers compare ints.
    """
    return _warning_threshold(scorecard.early_warning_factor, customer.payment_terms_days)


@lru_cache(maxsize=256)
def _warning_threshold(factor: Decimal, payment_terms_days: int) -> tuple[Decimal, int]:
    threshold = factor * payment_terms_days
    return threshold, int(threshold.to_integral_value(rounding=ROUND_FLOOR))


def early_warnings(
    as_of: date, ledger: CustomerLedger, scorecard: ScorecardPolicy, tolerance: Decimal
) -> tuple[EarlyWarning, ...]:
    """Open invoices more than ``early_warning_factor`` × payment terms overdue on ``as_of``.

    Each recommends a credit hold; raised for override tiers too. (The planner finds the same ones
    in its own pass over the invoices.)
    """
    customer = ledger.customer
    threshold, limit = early_warning_threshold(customer, scorecard)
    warnings: list[EarlyWarning] = []
    for invoice in ledger.invoices:
        if invoice.issue_date > as_of or invoice.status is not InvoiceStatus.OPEN:
            continue
        days_overdue = (as_of - invoice.due_date).days
        if days_overdue > limit and invoice.outstanding_as_of(as_of) > tolerance:
            warnings.append(EarlyWarning(customer.id, invoice.number, days_overdue, threshold))
    return tuple(warnings)
