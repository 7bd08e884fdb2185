"""Settings the domain decides with: the ladder, fees, compliance limits and the scorecard.

``bot.config`` builds these from the TOML file; the domain never reads the file itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from enum import StrEnum

from bot.domain.ledger import Channel, Tactic


class Assignee(StrEnum):
    """Who a task step goes to."""

    ACCOUNT_MANAGER = "account_manager"  # the customer's account manager (falls back to collectors)
    COLLECTOR = "collector"  # the collections team
    FINANCE = "finance"  # finance together with the account manager
    LEGAL = "legal"  # the legal department


class StepAction(StrEnum):
    """A side effect a step has besides its messages."""

    NONE = "none"  # messages only
    STATEMENT = "statement"  # the notice lists every open invoice of the customer
    CREDIT_HOLD = "credit_hold"  # sets the customer's credit hold
    RECOMMEND_CREDIT_HOLD = "recommend_credit_hold"  # the task recommends a credit hold
    LEGAL_PACK = "legal_pack"  # an evidence pack goes to legal with the task


@dataclass(frozen=True, slots=True)
class LadderStep:
    """One rung of a tactic's ladder (DESIGN §4)."""

    name: str
    day: int
    channels: tuple[Channel, ...]
    signed: bool = False
    approval: bool = False
    template: str = ""
    action: StepAction = StepAction.NONE
    assignee: Assignee = Assignee.COLLECTOR

    @property
    def template_name(self) -> str:
        """Template base name; defaults to the step name."""
        return self.template or self.name


@dataclass(frozen=True, slots=True)
class FeeTerms:
    """Late-fee terms: the defaults, or a contract's."""

    grace_days: int = 15
    daily_rate: Decimal = Decimal("0.001")
    penalty_rate: Decimal = Decimal("0.02")
    penalty_after_days: int = 30


@dataclass(frozen=True, slots=True)
class CompliancePolicy:
    """Limits on contact.

    The contact window is [window_start, window_end) in the recipient's local time. An end before
    the start crosses midnight (22:00-06:00); an end equal to the start is open all day (the
    config's "00:00-24:00": 24:00 is written ``time(0)``).
    """

    window_start: time = time(8, 0)
    window_end: time = time(20, 0)
    max_messages_per_7d: int = 4
    tolerance: Decimal = Decimal("1.00")
    banned_phrases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # The planner counts on it: an invoice it dunns owes more than the tolerance, so a positive
        # amount (the config rejects a negative tolerance with its file and key first).
        if self.tolerance < 0:
            raise ValueError(f"tolerance cannot be negative: {self.tolerance}")


@dataclass(frozen=True, slots=True)
class ScorecardPolicy:
    """Weights and thresholds of the credit scorecard (DESIGN §3)."""

    history_weight: Decimal = Decimal(40)
    lateness_weight: Decimal = Decimal(20)
    scale_weight: Decimal = Decimal(15)
    industry_weight: Decimal = Decimal(15)
    legal_weight: Decimal = Decimal(10)
    lateness_horizon_days: int = 60
    revenue_large: Decimal = Decimal(100_000_000)
    revenue_medium: Decimal = Decimal(10_000_000)
    strategic_from: Decimal = Decimal(75)
    cooperative_from: Decimal = Decimal(50)
    min_paid_invoices: int = 3
    lookback_days: int = 365
    early_warning_factor: Decimal = Decimal("1.5")
    # industry name (lower case) -> "low" | "medium" | "high"; unknown industries count as medium
    industry_risk: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlanningPolicy:
    """Everything the planner needs besides the ledger and the date."""

    ladders: Mapping[Tactic, tuple[LadderStep, ...]]
    fees: FeeTerms = FeeTerms()
    compliance: CompliancePolicy = CompliancePolicy()
    scorecard: ScorecardPolicy = ScorecardPolicy()
    default_country: str = "CN"
    # A legal step only when a signed demand went out at least this many days before (§4 rule 2).
    demand_lead_days: int = 7
