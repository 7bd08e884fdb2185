"""TOML config -> validated, frozen settings; secrets only from environment variables.

Every problem is reported at once as ``FILE:section.key: message`` (``dunbot check-config``).
Unknown keys are errors. Relative paths in the file are relative to the file's own folder.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import (
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.domain.ledger import Channel, Language, Tactic
from bot.domain.policy import (
    Assignee,
    CompliancePolicy,
    FeeTerms,
    LadderStep,
    PlanningPolicy,
    ScorecardPolicy,
    StepAction,
)
from bot.errors import ConfigError

DEFAULT_CONFIG = "dunbot.toml"


def installed_path(relative: str) -> Path:
    """A file that ships with dunbot: beside ``bot/`` in a checkout, else under <prefix>/share/dunbot."""
    import sys

    beside = Path(__file__).resolve().parent.parent / relative
    if beside.exists():
        return beside
    for prefix in (sys.prefix, sys.base_prefix):
        shared = Path(prefix) / "share" / "dunbot" / relative
        if shared.exists():
            return shared
    return beside


EXAMPLE_CONFIG = installed_path("config.example.toml")


# No rate, weight or amount in the config needs a digit beyond this many places either side of the
# point; an exponent of millions would overflow the first sum made with it.
_DECIMAL_DIGITS = 30


def _exact_decimal(value: Any) -> Any:
    # TOML floats would carry binary rounding into money: insist on strings or integers.
    if isinstance(value, float):
        raise ValueError(f'write decimals as strings, e.g. "{value}", so they stay exact')
    if isinstance(value, str):
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
        if not parsed.is_finite():
            raise ValueError(f"{value!r} is not a finite number")
        if parsed and not -_DECIMAL_DIGITS <= parsed.adjusted() <= _DECIMAL_DIGITS:
            raise ValueError(f"{value!r} is out of range")
        return parsed
    return value


ExactDecimal = Annotated[Decimal, BeforeValidator(_exact_decimal)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_timezone(value: str | None) -> str | None:
    if value is not None and value not in available_timezones():
        raise ValueError(f"unknown IANA timezone {value!r} (e.g. Asia/Shanghai, Europe/Berlin)")
    return value


class CompanyInLanguage(_Section):
    """The company as customers of another language see it (``[company.en]``): the name, address and
    bank details their letters, e-mails and SMS show instead of those in ``[company]``."""

    name: str = Field(min_length=1)
    legal_name: str | None = Field(default=None, min_length=1)  # the name, when unset
    address: str = Field(min_length=1)
    bank_account: str = Field(min_length=1)


class CompanySettings(_Section):
    """Who is writing: letterhead, sender, defaults for customers."""

    name: str = "示例贸易有限公司"
    legal_name: str = "示例贸易有限公司"
    address: str = "上海市浦东新区世纪大道100号"
    country: str = "CN"
    timezone: str = "Asia/Shanghai"
    language: Language = Language.ZH_CN
    phone: str = "+86 21 5555 0100"
    email: str = "ar@example.com"
    bank_account: str = "中国工商银行上海分行 1001 2345 6789 0000"
    contact_person: str = ""  # named in notices as the person to contact; "" names only phone and e-mail
    en: CompanyInLanguage | None = None  # [company.en]: the company for English customers

    _tz = field_validator("timezone")(_check_timezone)

    def for_language(self, language: Language) -> CompanySettings:
        """The company as a customer writing ``language`` sees it: for English, ``[company.en]`` in
        place of the name, legal name, address and bank account (``[company]`` as written when it is
        not set, or when the company itself writes English)."""
        if language is not Language.EN or self.en is None or self.language is Language.EN:
            return self
        return self.model_copy(
            update={
                "name": self.en.name,
                "legal_name": self.en.legal_name or self.en.name,
                "address": self.en.address,
                "bank_account": self.en.bank_account,
            }
        )

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("country is an ISO 3166 alpha-2 code such as CN or DE")
        return value


class DatabaseSettings(_Section):
    """Where the ledger, outbox and evidence live."""

    url: str = "sqlite:///dunbot.db"


class ScheduleSettings(_Section):
    """When the daemon runs a cycle."""

    cron: str = "0 9 * * 1-5"
    timezone: str | None = None  # the company timezone when unset

    _tz = field_validator("timezone")(_check_timezone)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from bot.scheduler import cron_problem  # the one module that knows APScheduler

        problem = cron_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class EmailSettings(_Section):
    """E-mail transport."""

    transport: Literal["smtp", "file"] = "file"
    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None
    from_address: str = "ar@example.com"
    # The display name in From; unset, the company's name in the customer's language.
    from_name: str | None = Field(default=None, min_length=1)
    reply_to: str | None = None  # where replies go (Reply-To); unset, they go to from_address
    drop_dir: str = "outbox/email"
    timeout_seconds: int = Field(default=30, ge=1)
    ca_file: str | None = None  # a private CA to trust for STARTTLS; the system's CAs otherwise

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        # One bare address: it is written into Reply-To and the List-Unsubscribe mailto: as it is.
        if value is not None and not re.fullmatch(r"[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+", value):
            raise ValueError('reply_to is one e-mail address, e.g. "ar-replies@example.com"')
        return value


# What an SMS ends with: the reply keywords carriers and dunbot's reply handling treat as opt-out.
DEFAULT_OPT_OUT_TEXT: Mapping[Language, str] = {
    Language.ZH_CN: "回复TD退订",
    Language.EN: "Reply STOP to opt out",
}


class SmsSettings(_Section):
    """SMS transport (Twilio, or a drop folder)."""

    transport: Literal["twilio", "file"] = "file"
    account_sid: str | None = None
    auth_token_env: str | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    api_base_url: str | None = None
    status_callback_url: str | None = None
    drop_dir: str = "outbox/sms"
    opt_out_hint: bool = True  # every SMS ends with how to opt out, in its language
    opt_out_text: dict[Language, str] = Field(default_factory=lambda: dict(DEFAULT_OPT_OUT_TEXT))

    @field_validator("opt_out_text")
    @classmethod
    def _opt_out_text(cls, value: dict[Language, str]) -> dict[Language, str]:
        if any(not text.strip() for text in value.values()):
            raise ValueError("an opt-out text cannot be empty; set opt_out_hint = false for none")
        return value

    def opt_out_for(self, language: Language) -> str:
        """The opt-out hint an SMS in ``language`` ends with; "" when hints are off."""
        if not self.opt_out_hint:
            return ""
        return self.opt_out_text.get(language) or DEFAULT_OPT_OUT_TEXT[language]


class VoiceSettings(_Section):
    """Automated calls through the [sms] Twilio account."""

    transport: Literal["twilio", "file"] = "file"
    from_number: str | None = None
    drop_dir: str = "outbox/voice"


class OutreachSettings(_Section):
    """How the outbox sends: retries, leases and concurrency."""

    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_backoff_seconds: int = Field(default=60, ge=1)
    lease_seconds: int = Field(default=300, ge=5)
    batch_size: int = Field(default=50, ge=1, le=10_000)
    concurrency: int = Field(default=8, ge=1, le=256)
    review_assignee: str = "collector"


class PlanningSettings(_Section):
    """How `dunbot plan --json` spreads its work."""

    # Worker processes that plan slices of the customers side by side; 0 = one per CPU core,
    # 1 = plan in the command's own process. Small ledgers are always planned in one process.
    workers: int = Field(default=0, ge=0, le=64)
    # Customers per slice a worker takes at a time; its memory holds one slice's decisions (about
    # 90 MB of JSON for 5,000 customers of ten invoices on a fresh ledger).
    slice_customers: int = Field(default=5000, ge=1)


class LetterSettings(_Section):
    """Where signed letters wait for the mailroom."""

    queue_dir: str = "outbox/letters"


class SigningSettings(_Section):
    """The company certificate and seal for signed notices."""

    pkcs12: str | None = None
    password_env: str | None = None
    seal_image: str | None = None
    tsa_url: str | None = None
    cjk_font: str | None = None
    latin_font: str | None = None  # for English notices; DejaVu Serif or ReportLab's Vera when unset
    location: str = ""  # the signature's /Location, e.g. "Shanghai"
    timeout_seconds: int = Field(default=30, ge=1)  # a signature (with its TSA round trip) takes at most

    @field_validator("tsa_url")
    @classmethod
    def _tsa(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError('tsa_url is an http(s) URL, e.g. "http://timestamp.example.com/tsa"')
        return value


class EvidenceSettings(_Section):
    """Where artifacts (PDFs, raw e-mails, provider responses) are stored by hash."""

    artifact_dir: str = "artifacts"


# Industry (as written in customers.csv) -> risk band of the scorecard; unknown industries are medium.
DEFAULT_INDUSTRY_RISK: Mapping[str, Literal["low", "medium", "high"]] = {
    "utilities": "low",
    "government": "low",
    "telecommunications": "low",
    "manufacturing": "medium",
    "retail": "medium",
    "logistics": "medium",
    "construction": "high",
    "real_estate": "high",
    "hospitality": "high",
}

DEFAULT_BANNED_PHRASES = (
    "arrest",
    "jail",
    "police",
    "criminal record",
    "逮捕",
    "坐牢",
    "公安",
    "黑名单",
    "拘留",
)


class ComplianceSettings(_Section):
    """Contact window, caps, tolerance and phrases that must never be sent."""

    window: str = "08:00-20:00"
    max_messages_per_7d: int = Field(default=4, ge=1)
    tolerance: ExactDecimal = Decimal("1.00")
    banned_phrases: tuple[str, ...] = DEFAULT_BANNED_PHRASES

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, value: Decimal) -> Decimal:
        if value < 0:
            raise ValueError("tolerance cannot be negative")
        return value


def parse_window(value: str) -> tuple[time, time]:
    """Parse "HH:MM-HH:MM" into the domain's (start, end).

    24:00 may end a window (end of the day; it becomes ``time(0)``); "00:00-24:00" is all day, which
    the domain writes as start == end. An end before the start crosses midnight ("22:00-06:00").
    A window that starts and ends at the same minute would be empty and is refused.
    """
    match = re.fullmatch(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})", value.strip())
    if not match:
        raise ValueError('window is "HH:MM-HH:MM", e.g. "08:00-20:00" ("00:00-24:00" for all day)')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if (h1, m1) == (24, 0):
        raise ValueError(f"{value!r}: a window cannot start at 24:00; write 00:00")
    end_of_day = (h2, m2) == (24, 0)
    if end_of_day:
        h2 = 0
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid time range (00:00 to 24:00)") from None
    if start == end and not end_of_day:
        raise ValueError(f'{value!r} is empty: it starts and ends at the same time; "00:00-24:00" is all day')
    return start, end


class FeeSettings(_Section):
    """Default late-fee terms; a contract's terms override them."""

    grace_days: int = Field(default=15, ge=0)
    daily_rate: ExactDecimal = Decimal("0.001")
    penalty_rate: ExactDecimal = Decimal("0.02")
    penalty_after_days: int = Field(default=30, ge=0)

    @field_validator("daily_rate", "penalty_rate")
    @classmethod
    def _rate(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value <= Decimal(1):
            raise ValueError("a rate is a fraction between 0 and 1 (0.001 = 0.1 %)")
        return value


class ScorecardSettings(_Section):
    """Weights and thresholds of the credit scorecard (DESIGN §3)."""

    history_weight: ExactDecimal = Decimal(40)
    lateness_weight: ExactDecimal = Decimal(20)
    scale_weight: ExactDecimal = Decimal(15)
    industry_weight: ExactDecimal = Decimal(15)
    legal_weight: ExactDecimal = Decimal(10)
    revenue_large: ExactDecimal = Decimal(100_000_000)
    revenue_medium: ExactDecimal = Decimal(10_000_000)
    strategic_from: ExactDecimal = Decimal(75)
    cooperative_from: ExactDecimal = Decimal(50)
    early_warning_factor: ExactDecimal = Decimal("1.5")
    industry_risk: dict[str, Literal["low", "medium", "high"]] = Field(
        default_factory=lambda: dict(DEFAULT_INDUSTRY_RISK)
    )

    @model_validator(mode="after")
    def _weights_sum(self) -> ScorecardSettings:
        total = (
            self.history_weight
            + self.lateness_weight
            + self.scale_weight
            + self.industry_weight
            + self.legal_weight
        )
        if total != 100:
            raise ValueError(f"the five weights must add up to 100, they add up to {total}")
        if self.cooperative_from >= self.strategic_from:
            raise ValueError("cooperative_from must be below strategic_from")
        return self


class WebSettings(_Section):
    """The daemon's HTTP listener (Twilio callbacks, health)."""

    listen: str = "127.0.0.1:8080"
    # Where people reach dunbot's web endpoints, e.g. "https://dunbot.example.com": when it is https,
    # e-mails carry a one-click List-Unsubscribe link (RFC 8058) under it, signed with the secret.
    public_url: str | None = None
    session_secret_env: str | None = None  # the environment variable holding the signing secret
    # /readyz fails when no cycle succeeded for this long; the default covers a weekend between the
    # default schedule's weekday runs.
    ready_after_hours: int = Field(default=80, ge=1)

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError('public_url is an http(s) URL without query, e.g. "https://dunbot.example.com"')
        return value.rstrip("/") if value is not None else None

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError('listen is "HOST:PORT", e.g. "127.0.0.1:8080"')
        return value


class LoggingSettings(_Section):
    """How the daemon logs: human-readable lines or one JSON object a line."""

    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class SourceSettings(_Section):
    """A SQL database to pull the ledger from (`dunbot sync`)."""

    url: str | None = None
    customers: str | None = None
    invoices: str | None = None
    payments: str | None = None
    contracts: str | None = None

    def queries(self) -> dict[str, str]:
        """The configured query per entity."""
        named = {
            "contracts": self.contracts,
            "customers": self.customers,
            "invoices": self.invoices,
            "payments": self.payments,
        }
        return {entity: query for entity, query in named.items() if query}


class LadderStepSettings(_Section):
    """One step of a ladder, as written in [[ladder.<tactic>]]."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    day: int = Field(ge=-365, le=3650)
    channels: tuple[Channel, ...] = Field(min_length=1)
    signed: bool = False
    approval: bool = False
    template: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")
    action: StepAction = StepAction.NONE
    assignee: Assignee = Assignee.COLLECTOR

    def to_domain(self) -> LadderStep:
        """The domain's LadderStep."""
        return LadderStep(
            name=self.name,
            day=self.day,
            channels=self.channels,
            signed=self.signed,
            approval=self.approval,
            template=self.template or "",
            action=self.action,
            assignee=self.assignee,
        )


# Keys of [ladder] that are settings, not a tactic's steps.
_LADDER_OPTIONS = frozenset({"demand_lead_days"})


def _default_ladder() -> dict[Tactic, tuple[LadderStepSettings, ...]]:
    from bot.domain.ladder import default_ladders

    return {
        tactic: tuple(
            LadderStepSettings(
                name=s.name,
                day=s.day,
                channels=s.channels,
                signed=s.signed,
                approval=s.approval,
                template=s.template or None,
                action=s.action,
                assignee=s.assignee,
            )
            for s in steps
        )
        for tactic, steps in default_ladders().items()
    }


class Settings(_Section):
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
    logging: LoggingSettings = LoggingSettings()
    source: SourceSettings = SourceSettings()
    ladder: dict[Tactic, tuple[LadderStepSettings, ...]] = Field(default_factory=_default_ladder)
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
        if isinstance(value, dict) and _LADDER_OPTIONS & value.keys():
            steps = {name: steps for name, steps in value.items() if name not in _LADDER_OPTIONS}
            # A [ladder] that only sets an option keeps the default steps.
            return steps or _default_ladder()
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


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# A tactic's steps that passed the schema, each with its index in the file (a step the schema
# rejected is left out, so the others keep the index that names them in the file).
IndexedLadder = Mapping[Tactic, list[tuple[int, LadderStepSettings]]]


def _ladder_problems(ladder: IndexedLadder, file: str) -> list[str]:
    """Semantic checks pydantic cannot express: order, unique names, templates that exist."""
    from bot.render.environment import TemplateKind, missing_templates

    kinds_for_channel: Mapping[Channel, tuple[TemplateKind, ...]] = {
        Channel.EMAIL: (TemplateKind.EMAIL,),
        Channel.SMS: (TemplateKind.SMS,),
        Channel.VOICE: (TemplateKind.SMS,),  # a call reads the SMS text
        Channel.TASK: (TemplateKind.TASK,),
        Channel.LETTER: (TemplateKind.LETTER,),
    }
    problems: list[str] = []
    for tactic, steps in ladder.items():
        seen: dict[str, int] = {}
        previous_day: int | None = None
        for index, step in steps:
            where = f"{file}:ladder.{tactic.value}[{index}]"
            if step.name in seen:
                problems.append(
                    f"{where}.name: step {step.name!r} appears twice (also at [{seen[step.name]}])"
                )
            seen[step.name] = index
            if previous_day is not None and step.day <= previous_day:
                problems.append(
                    f"{where}.day: days must increase along the ladder ({step.day} after {previous_day})"
                )
            previous_day = step.day
            kinds = {kind for channel in step.channels for kind in kinds_for_channel[channel]}
            if step.signed:
                kinds.add(TemplateKind.LETTER)
            name = step.template or step.name
            for kind in sorted(kinds, key=lambda k: k.value):
                for language in Language:
                    for missing in missing_templates(kind, language.value, name):
                        field = "template" if step.template else "name"
                        problems.append(f"{where}.{field}: no template {missing} for {name!r}")
    return problems


def _secret_problems(settings: Settings, file: str) -> list[str]:
    needed: list[tuple[str, str | None]] = []
    if settings.email.transport == "smtp" and settings.email.username:
        needed.append(("email.password_env", settings.email.password_env))
    if settings.sms.transport == "twilio" or settings.voice.transport == "twilio":
        needed.append(("sms.auth_token_env", settings.sms.auth_token_env))
    if settings.web.public_url:
        # The unsubscribe links under it are signed: without the secret anyone could opt anyone out.
        needed.append(("web.session_secret_env", settings.web.session_secret_env))
    if settings.signing.pkcs12 and settings.signing.password_env:
        # A PKCS#12 without a password (the trial one) needs none; a wrong guess shows when it is opened.
        needed.append(("signing.password_env", settings.signing.password_env))
    problems = []
    for key, env_name in needed:
        if not env_name:
            problems.append(f"{file}:{key}: name the environment variable that holds the secret")
        elif env_name not in os.environ:
            problems.append(f"{file}:{key}: environment variable {env_name} is not set")
    return problems


def _schema_problems(exc: ValidationError, file: str) -> list[str]:
    """Pydantic's errors as ``file:key: message`` lines."""
    problems = []
    errors = exc.errors()
    # A table under a name that is not allowed (a [ladder.<tactic>] that is no tactic) is named once,
    # for its name, not again for what it holds.
    bad_names = {error["loc"][:-1] for error in errors if error["loc"][-1:] == ("[key]",)}
    holders = {error["loc"][:end] for error in errors for end in range(len(error["loc"]))}
    for error in errors:
        loc = error["loc"]
        if error["type"] == "too_short" and loc in holders:
            continue  # "at least 1 item" only because the item itself was invalid: say that once
        if loc[-1:] != ("[key]",) and any(loc[: len(name)] == name for name in bad_names):
            continue
        key = _location(loc[:-1] if loc[-1:] == ("[key]",) else loc) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            section = _location(loc[:-1]) or "the top level"
            message = f"unknown key in [{section}]" if loc[:-1] else "unknown section or key"
        message = message.removeprefix("Value error, ")
        problems.append(f"{file}:{key}: {message}")
    return problems


def _rejected(document: Mapping[str, Any], loc: tuple[int | str, ...]) -> tuple[int | str, ...] | None:
    """The path of what to leave out of ``document`` for the error at ``loc``: the key, or the list
    item that holds it (a ladder step with one bad field is left out whole); a required key that is
    missing takes the table that lacks it. None when there is nothing to leave out."""
    if not loc:  # the document's own check: the ladder's completeness is the only one
        return ("ladder",) if "ladder" in document else None
    node: Any = document
    for depth, part in enumerate(loc):
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            return loc[: depth + 1]
        if not isinstance(node, dict) or part not in node:
            return loc[:depth] if depth > 0 else None
        node = node[part]
        if not isinstance(node, dict | list):
            return loc[: depth + 1]
    return loc


def _path_order(path: tuple[int | str, ...]) -> tuple[tuple[int, int, str], ...]:
    return tuple((1, part, "") if isinstance(part, int) else (0, 0, part) for part in path)


def _leave_out(document: dict[str, Any], path: tuple[int | str, ...]) -> None:
    node: Any = document
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]


# Leaving out what a pass rejects can reveal a problem it hid (a list left empty, a table's own
# check): a few passes settle any document.
_REPAIR_PASSES = 8


def _repaired(document: Mapping[str, Any], base_dir: Path) -> Settings | None:
    """The settings with every rejected key left out (its default in its place), for the checks
    that come after the schema; None when that does not give valid settings."""
    repaired: dict[str, Any] = copy.deepcopy(dict(document))
    for _ in range(_REPAIR_PASSES):
        try:
            return Settings.model_validate({**repaired, "base_dir": base_dir})
        except ValidationError as exc:
            paths = {path for error in exc.errors() if (path := _rejected(repaired, error["loc"]))}
            if not paths:
                return None
            # The deepest and the last first, so that leaving out a list item never moves another
            # still to be left out, and a table goes after what was left out inside it.
            for path in sorted(paths, key=_path_order, reverse=True):
                _leave_out(repaired, path)
    return None


_TACTIC_NAMES = frozenset(tactic.value for tactic in Tactic)


def _document_ladder(document: Mapping[str, Any], settings: Settings | None) -> IndexedLadder:
    """The ladder steps of ``document`` that pass the schema on their own, by their index in it."""
    if "ladder" not in document:
        return _indexed(settings) if settings is not None else {}
    written = document["ladder"]
    if not isinstance(written, dict):
        return {}
    ladder: dict[Tactic, list[tuple[int, LadderStepSettings]]] = {}
    for name, steps in written.items():
        if name not in _TACTIC_NAMES or not isinstance(steps, list):
            continue
        ladder[Tactic(name)] = kept = []
        for index, step in enumerate(steps):
            try:
                kept.append((index, LadderStepSettings.model_validate(step)))
            except ValidationError:
                continue
    return ladder


def parse_settings(document: Mapping[str, Any], file: str, base_dir: Path) -> Settings:
    """Validate a parsed TOML document; raises ConfigError listing every problem.

    A ConfigError's ``partial`` holds the settings with the rejected keys left out, when that gives
    valid settings, so that ``check-config`` can also run the checks that come later.
    """
    problems: list[str] = []
    if "base_dir" in document:
        problems.append(f"{file}:base_dir: unknown key")
        document = {k: v for k, v in document.items() if k != "base_dir"}
    try:
        settings = Settings.model_validate({**document, "base_dir": base_dir})
    except ValidationError as exc:
        problems += _schema_problems(exc, file)
        partial = _repaired(document, base_dir)
        ladder = _document_ladder(document, partial)
        problems += _ladder_problems(ladder, file)
        if partial is not None and "ladder" in document:
            # The later checks see the steps the user wrote that passed, never the default ladder
            # in place of a rejected one (its signed steps would ask for a certificate).
            kept = {tactic: tuple(step for _, step in ladder.get(tactic, ())) for tactic in Tactic}
            partial = partial.model_copy(update={"ladder": kept})
        raise ConfigError(_problem_count(file, problems), problems, partial=partial) from None
    problems += _ladder_problems(_indexed(settings), file)
    if problems:
        raise ConfigError(_problem_count(file, problems), problems, partial=settings)
    return settings


def _problem_count(file: str, problems: list[str]) -> str:
    return f"{file}: {len(problems)} problem(s) in the config"


def _indexed(settings: Settings) -> IndexedLadder:
    return {tactic: list(enumerate(steps)) for tactic, steps in settings.ladder.items()}


def config_path(explicit: str | None) -> Path:
    """--config, else $DUNBOT_CONFIG, else ./dunbot.toml."""
    return Path(explicit or os.environ.get("DUNBOT_CONFIG") or DEFAULT_CONFIG)


def load_settings(path: Path) -> Settings:
    """Read and validate the config file."""
    if not path.exists():
        raise ConfigError(
            f"no config file at {path}: run `dunbot init` to create one, or pass --config / set DUNBOT_CONFIG"
        )
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, ValueError) as exc:  # ValueError: an integer of thousands of digits
        raise ConfigError(f"{path}: not valid TOML", [f"{path}: {exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config must be UTF-8", [f"{path}: not valid UTF-8"]) from None
    return parse_settings(document, str(path), path.resolve().parent)


def _signing_problems(settings: Settings, file: str, warnings: list[str] | None = None) -> list[str]:
    """Signed steps and letters need a certificate that opens and is valid now, fonts and a seal
    that exist. A certificate that expires soon goes to ``warnings``."""
    signing = settings.signing
    needs_notice = any(
        step.signed or Channel.LETTER in step.channels for steps in settings.ladder.values() for step in steps
    )
    problems: list[str] = []
    for key, value in (("cjk_font", signing.cjk_font), ("latin_font", signing.latin_font)):
        if value and not settings.path(value).is_file():
            problems.append(f"{file}:signing.{key}: {settings.path(value)} does not exist")
    if signing.seal_image and not settings.path(signing.seal_image).is_file():
        problems.append(f"{file}:signing.seal_image: {settings.path(signing.seal_image)} does not exist")
    if not needs_notice:
        return problems
    if not signing.pkcs12:
        problems.append(
            f"{file}:signing.pkcs12: the ladder has signed steps or letters, which need the company "
            "certificate; set it, or run `dunbot init --self-signed` for a trial one"
        )
    elif not settings.path(signing.pkcs12).is_file():
        problems.append(f"{file}:signing.pkcs12: {settings.path(signing.pkcs12)} does not exist")
    elif not signing.password_env or signing.password_env in os.environ:
        from bot.render.signing import certificate_validity, load_pkcs12, validity_note

        password = os.environ.get(signing.password_env or "") if signing.password_env else None
        passphrase = password.encode("utf-8") if password else None
        try:
            signer = load_pkcs12(settings.path(signing.pkcs12), passphrase)
        except ConfigError as exc:
            problems.append(f"{file}:{str(exc).replace('[signing] ', 'signing.')}")
        else:
            from bot.render.certificate import not_for_production

            trial = not_for_production(signer)
            if trial is not None and warnings is not None:
                warnings.append(f"{file}:signing.pkcs12: {settings.path(signing.pkcs12)} {trial}")
            validity = certificate_validity(signer)
            note = validity_note(*validity, datetime.now(UTC)) if validity else None
            if note is not None:
                fatal, text = note
                text = f"{file}:signing.pkcs12: {text.replace('[signing] ', 'signing.')}"
                if fatal:
                    problems.append(text)
                elif warnings is not None:
                    warnings.append(text)
    if settings.company.language is Language.ZH_CN and not signing.cjk_font:
        from bot.render.fonts import find_cjk_font

        if find_cjk_font() is None:
            problems.append(
                f"{file}:signing.cjk_font: no TrueType CJK font found on this system, so zh-CN notices "
                "cannot be rendered; install one (apt install fonts-wqy-zenhei) or set this key"
            )
    return problems


def environment_problems(settings: Settings, file: str, warnings: list[str] | None = None) -> list[str]:
    """What valid settings still need from the machine: the secrets in the environment, a signing
    certificate that opens and is valid now, the fonts and seal the notices use, templates that
    render. ``check-config`` reports them, and every cycle checks them before it plans
    (:mod:`bot.outreach.preflight`)."""
    from bot.render.template_check import template_render_problems

    ladders = {tactic: tuple(step.to_domain() for step in steps) for tactic, steps in settings.ladder.items()}
    return (
        _secret_problems(settings, file)
        + _signing_problems(settings, file, warnings)
        + template_render_problems(ladders, file)
    )


def check_settings(path: Path) -> list[str]:
    """Every problem with the config, including secrets and signing material the ladder needs."""
    return inspect_settings(path)[0]


def inspect_settings(path: Path) -> tuple[list[str], list[str]]:
    """Every problem with the config (as ``check_settings``), and what works now but must not go out
    like this, each naming file and key: the example's placeholder company data, a TRIAL or
    self-signed certificate, a signing certificate that expires within EXPIRY_WARNING_DAYS."""
    problems: list[str] = []
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        if not isinstance(exc.partial, Settings):
            return exc.problems or [str(exc)], []
        # Go on with the rest of the file: the secrets and signing checks see every key but those
        # already named, so that one run lists every problem.
        settings, problems = exc.partial, list(exc.problems)
    file = str(path)
    named = {_problem_key(problem, file) for problem in problems}
    warnings = placeholder_warnings(path, EXAMPLE_CONFIG)
    later = environment_problems(settings, file, warnings)
    problems += [p for p in later if not _named_already(_problem_key(p, file), named)]
    warnings += _company_language_warnings(settings, file)
    return problems, warnings


# What the example's [company] says that is a setting, not a placeholder: the same in a real config.
_COMPANY_SETTINGS = frozenset({"country", "timezone", "language"})


def placeholder_warnings(path: Path, example: Path) -> list[str]:
    """A warning for each text of ``[company]`` (and its tables, e.g. ``[company.en]``) that is still
    the value ``example`` ships: letters and messages would carry a made-up name, address or bank
    account. Empty values are not placeholders (the example leaves optional ones empty)."""
    try:
        ours = tomllib.loads(path.read_text(encoding="utf-8")).get("company")
        shipped = tomllib.loads(example.read_text(encoding="utf-8")).get("company")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError):
        return []  # no example to compare with (or the config's own errors are reported elsewhere)
    return [
        f"{path}:{key}: {value!r} is the placeholder from config.example.toml; put in the company's "
        "real value before anything is sent"
        for key, value in _same_texts(ours, shipped, "company")
    ]


def _same_texts(ours: Any, shipped: Any, prefix: str) -> list[tuple[str, str]]:
    if not isinstance(ours, Mapping) or not isinstance(shipped, Mapping):
        return []
    same: list[tuple[str, str]] = []
    for key, value in ours.items():
        dotted = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            same += _same_texts(value, shipped.get(key), dotted)
        elif (
            isinstance(value, str)
            and value.strip()
            and key not in _COMPANY_SETTINGS
            and value.strip() == str(shipped.get(key, "")).strip()
        ):
            same.append((dotted, value))
    return same


def _company_language_warnings(settings: Settings, file: str) -> list[str]:
    """English customers in the database and no ``[company.en]``: their documents would show the
    company's name, address and bank account as ``[company]`` writes them."""
    company = settings.company
    if company.en is not None or company.language is Language.EN:
        return []
    from bot.store.census import customers_by_language

    english = customers_by_language(settings.database_url).get(Language.EN.value, 0)
    if not english:
        return []
    return [
        f"{file}:company: the database has {english} English customer(s), and there is no [company.en]: "
        "their letters, e-mails and SMS show the company's name, address and bank account as [company] "
        "writes them; add [company.en] with name, legal_name, address and bank_account"
    ]


def _problem_key(problem: str, file: str) -> str:
    return problem.removeprefix(f"{file}:").partition(": ")[0]


def _named_already(key: str, named: set[str]) -> bool:
    """Whether ``key`` or a table that holds it already has a problem (say nothing twice)."""
    parts = key.split(".")
    return any(".".join(parts[:end]) in named for end in range(1, len(parts) + 1))


def secret(env_name: str | None, key: str) -> str:
    """Read a secret from the environment variable named in the config."""
    if not env_name:
        raise ConfigError(f"{key} is not set: name the environment variable holding the secret")
    value = os.environ.get(env_name)
    if value is None:
        raise ConfigError(f"environment variable {env_name} (from {key}) is not set")
    return value
