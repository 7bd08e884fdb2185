"""``Settings``: the whole configuration, and the domain's view of it (:class:`PlanningPolicy`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasPath, Field, field_validator, model_validator

from bot.config.company import CompanySettings
from bot.config.fields import Section
from bot.config.ladder import LADDER_OPTIONS, LadderStepSettings, default_ladder
from bot.config.sections import (
    ComplianceSettings,
    DatabaseSettings,
    EmailSettings,
    EvidenceSettings,
    FeeSettings,
    InboundSettings,
    LetterSettings,
    LoggingSettings,
    OutreachSettings,
    PlanningSettings,
    ScheduleSettings,
    ScorecardSettings,
    SigningSettings,
    SmsSettings,
    SourceSettings,
    VoiceSettings,
    WebSettings,
    parse_window,
)
from bot.domain.ledger import Tactic
from bot.domain.policy import CompliancePolicy, FeeTerms, PlanningPolicy, ScorecardPolicy


class Settings(Section):
    """The whole configuration."""

    company: CompanySettings = CompanySettings()
    database: DatabaseSettings = DatabaseSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    email: EmailSettings = EmailSettings()
    sms: SmsSettings = SmsSettings()
    voice: VoiceSettings = VoiceSettings()
    letter: LetterSettings = LetterSettings()
    signing: SigningSettings = SigningSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    compliance: ComplianceSettings = ComplianceSettings()
    outreach: OutreachSettings = OutreachSettings()
    planning: PlanningSettings = PlanningSettings()
    fees: FeeSettings = FeeSettings()
    scorecard: ScorecardSettings = ScorecardSettings()
    web: WebSettings = WebSettings()
    inbound: InboundSettings = InboundSettings()
    logging: LoggingSettings = LoggingSettings()
    source: SourceSettings = SourceSettings()
    ladder: dict[Tactic, tuple[LadderStepSettings, ...]] = Field(default_factory=default_ladder)
    # `[ladder] demand_lead_days`: a legal step (one that needs approval) only when a signed demand
    # went out at least this many days before (DESIGN §4 rule 2). It sits in [ladder] beside the
    # tactics' step arrays, so it is read from there and left out of the ladders themselves.
    demand_lead_days: int = Field(
        default=7, ge=0, le=365, validation_alias=AliasPath("ladder", "demand_lead_days")
    )

    # Where the file was read from; relative paths are resolved against its folder.
    base_dir: Path = Path(".")

    @field_validator("ladder", mode="before")
    @classmethod
    def _without_options(cls, value: Any) -> Any:
        if isinstance(value, dict) and LADDER_OPTIONS & value.keys():
            steps = {name: steps for name, steps in value.items() if name not in LADDER_OPTIONS}
            # A [ladder] that only sets an option keeps the default steps.
            return steps or default_ladder()
        return value

    @model_validator(mode="after")
    def _ladder_complete(self) -> Settings:
        missing = [t.value for t in Tactic if t not in self.ladder]
        if missing:
            raise ValueError(f"[ladder] needs a ladder for every tactic; missing: {', '.join(missing)}")
        return self

    def path(self, value: str) -> Path:
        """A path from the config, resolved against the config file's folder."""
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else (self.base_dir / candidate)

    @property
    def database_url(self) -> str:
        """The database URL, with a relative SQLite path resolved against the config's folder."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
            rest = url[len(prefix) :]
            if rest and rest != ":memory:":
                return prefix + str(self.path(rest).resolve())
        return url

    @property
    def witness_dir(self) -> Path:
        """Where signed checkpoints are witnessed: ``[evidence] witness_dir``, or ``witness/`` beside
        the SQLite database (beside the config file for a server database)."""
        if self.evidence.witness_dir:
            return self.path(self.evidence.witness_dir)
        url = self.database_url
        if url.startswith("sqlite:///") and url not in ("sqlite:///:memory:",):
            return Path(url.removeprefix("sqlite:///")).parent / "witness"
        return self.base_dir / "witness"

    def fee_terms(self) -> FeeTerms:
        """The default late-fee terms (contracts override them field by field)."""
        return FeeTerms(
            grace_days=self.fees.grace_days,
            daily_rate=self.fees.daily_rate,
            penalty_rate=self.fees.penalty_rate,
            penalty_after_days=self.fees.penalty_after_days,
        )

    def planning_policy(self) -> PlanningPolicy:
        """The domain's view of these settings."""
        start, end = parse_window(self.compliance.window)
        sc = self.scorecard
        return PlanningPolicy(
            ladders={t: tuple(s.to_domain() for s in steps) for t, steps in self.ladder.items()},
            fees=self.fee_terms(),
            compliance=CompliancePolicy(
                window_start=start,
                window_end=end,
                max_messages_per_7d=self.compliance.max_messages_per_7d,
                tolerance=self.compliance.tolerance,
                banned_phrases=self.compliance.banned_phrases,
            ),
            scorecard=ScorecardPolicy(
                history_weight=sc.history_weight,
                lateness_weight=sc.lateness_weight,
                scale_weight=sc.scale_weight,
                industry_weight=sc.industry_weight,
                legal_weight=sc.legal_weight,
                revenue_large=sc.revenue_large,
                revenue_medium=sc.revenue_medium,
                strategic_from=sc.strategic_from,
                cooperative_from=sc.cooperative_from,
                early_warning_factor=sc.early_warning_factor,
                industry_risk={k.lower(): v for k, v in sc.industry_risk.items()},
            ),
            default_country=self.company.country,
            demand_lead_days=self.demand_lead_days,
        )
