"""The sections of the config apart from ``[company]`` and ``[ladder]``: database, schedule, channels,
signing, evidence, compliance, fees, scorecard, web, logging and the source database, each a frozen
model that refuses unknown keys. Checks that need more than the file (a cron expression APScheduler
accepts, templates that exist) are the caller's (:mod:`bot.config.hooks`)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import time
from decimal import Decimal
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from bot.config.fields import ExactDecimal, Section, check_timezone
from bot.config.hooks import file_checks
from bot.domain.ledger import Language


class DatabaseSettings(Section):
    """Where the ledger, outbox and evidence live."""

    url: str = "sqlite:///dunbot.db"


class ScheduleSettings(Section):
    """When the daemon runs a cycle."""

    cron: str = "0 9 * * 1-5"
    timezone: str | None = None  # the company timezone when unset

    _tz = field_validator("timezone")(check_timezone)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str, info: ValidationInfo) -> str:
        # Only the scheduler knows which expressions APScheduler takes: the caller's checks ask it.
        checks = file_checks(info)
        problem = checks.cron_problem(value) if checks is not None else None
        if problem:
            raise ValueError(problem)
        return value


class EmailSettings(Section):
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

    @field_validator("from_name")
    @classmethod
    def _from_name(cls, value: str | None) -> str | None:
        # A tab or another control character in the display name is folded or dropped by mail readers.
        if value is not None and any(unicodedata.category(char) == "Cc" for char in value):
            raise ValueError("from_name may not contain a tab, a line break or another control character")
        return value

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


class SmsSettings(Section):
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


class VoiceSettings(Section):
    """Automated calls through the [sms] Twilio account."""

    transport: Literal["twilio", "file"] = "file"
    from_number: str | None = None
    drop_dir: str = "outbox/voice"


class OutreachSettings(Section):
    """How the outbox sends: retries, leases and concurrency."""

    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_backoff_seconds: int = Field(default=60, ge=1)
    lease_seconds: int = Field(default=300, ge=5)
    batch_size: int = Field(default=50, ge=1, le=10_000)
    concurrency: int = Field(default=8, ge=1, le=256)
    review_assignee: str = "collector"


class PlanningSettings(Section):
    """How `dunbot plan --json` spreads its work."""

    # Worker processes that plan slices of the customers side by side; 0 = one per CPU core,
    # 1 = plan in the command's own process. Small ledgers are always planned in one process.
    workers: int = Field(default=0, ge=0, le=64)
    # Customers per slice a worker takes at a time; its memory holds one slice's decisions (about
    # 90 MB of JSON for 5,000 customers of ten invoices on a fresh ledger).
    slice_customers: int = Field(default=5000, ge=1)


class LetterSettings(Section):
    """Where signed letters wait for the mailroom."""

    queue_dir: str = "outbox/letters"


class SigningSettings(Section):
    """The company certificate and seal for signed notices."""

    pkcs12: str | None = None
    password_env: str | None = None
    seal_image: str | None = None
    tsa_url: str | None = None
    cjk_font: str | None = None
    latin_font: str | None = None  # for English notices; DejaVu Serif or ReportLab's Vera when unset
    location: str = ""  # the signature's /Location, e.g. "Shanghai"
    timeout_seconds: int = Field(default=30, ge=1)  # a signature (with its TSA round trip) takes at most
    # The CA certificate(s) (PEM) a checkpoint's RFC 3161 timestamp authority must chain to for its
    # time to count as verified (DESIGN §6); `evidence verify --tsa-trust` overrides it.
    tsa_trust: str | None = None

    @field_validator("tsa_url")
    @classmethod
    def _tsa(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError('tsa_url is an http(s) URL, e.g. "http://timestamp.example.com/tsa"')
        return value


class EvidenceSettings(Section):
    """Where artifacts (PDFs, raw e-mails, provider responses) are stored by hash, and where every
    signed checkpoint is witnessed outside the database (DESIGN §6, "Against an insider")."""

    artifact_dir: str = "artifacts"
    # An append-only folder, meant for another volume or a WORM bucket mount; unset: `witness/`
    # beside the database (beside the config for a server database). See Settings.witness_dir.
    witness_dir: str | None = None
    # When set, every signed checkpoint is also mailed here through the configured [email] transport.
    witness_email: str | None = None


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


class ComplianceSettings(Section):
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


class FeeSettings(Section):
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


class ScorecardSettings(Section):
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


class WebSettings(Section):
    """The daemon's HTTP listener (Twilio callbacks, health)."""

    listen: str = "127.0.0.1:8080"
    # Where people reach dunbot's web endpoints, e.g. "https://dunbot.example.com": when it is https,
    # e-mails carry a one-click List-Unsubscribe link (RFC 8058) under it, signed with the secret.
    public_url: str | None = None
    session_secret_env: str | None = None  # the environment variable holding the signing secret
    # /readyz fails when no cycle succeeded for this long; the default covers a weekend between the
    # default schedule's weekday runs.
    ready_after_hours: int = Field(default=80, ge=1)
    # The console (DESIGN §10): six wrong passwords in a row lock an account for lockout_minutes; a
    # session left alone for idle_minutes ends.
    lockout_minutes: int = Field(default=15, ge=1)
    idle_minutes: int = Field(default=30, ge=1)

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


class InboundSettings(Section):
    """Replies (DESIGN §11): the mailbox dunbot polls over IMAP, or a drop folder for the demo, and how
    replies steer the ladder. Inbound e-mail is on when imap_host (or inbox_dir) is set."""

    imap_host: str | None = None
    imap_port: int = Field(default=993, ge=1, le=65535)
    # "tls": TLS from the first byte (port 993); "starttls": plain, then STARTTLS (port 143).
    security: Literal["tls", "starttls"] = "tls"
    ca_file: str | None = None  # a private CA to trust; the system's CAs otherwise
    username: str | None = None
    password_env: str | None = None
    folder: str = "INBOX"
    processed_folder: str = "dunbot-processed"  # each fetched message is moved here
    # The demo's mailbox: a folder of .eml files, each read once and moved to processed/ beside them.
    inbox_dir: str | None = None
    poll_seconds: int = Field(default=60, ge=5)
    batch_size: int = Field(default=200, ge=1, le=10_000)
    timeout_seconds: int = Field(default=30, ge=1)
    paid_claim_days: int = Field(default=5, ge=1, le=90)
    # A classification below this goes to a collector to confirm, never acted on silently.
    confirm_below: ExactDecimal = Field(default=Decimal("0.90"), ge=0, le=1)

    @model_validator(mode="after")
    def _imap_needs(self) -> InboundSettings:
        if self.imap_host and not self.username:
            raise ValueError("imap_host is set but username is not: name the mailbox's user")
        if self.processed_folder == self.folder:
            # Each poll would find the moved messages again, for ever.
            raise ValueError(
                f"processed_folder is folder ({self.folder!r}): name another folder to move replies to"
            )
        return self


class LoggingSettings(Section):
    """How the daemon logs: human-readable lines or one JSON object a line."""

    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class SourceSettings(Section):
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
