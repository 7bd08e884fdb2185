"""SQLModel tables for DESIGN §2. Uniqueness that prevents repeats lives here, in the schema."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.store.types import Money, UTCDateTime


def _money(nullable: bool = False) -> sa.Column[Decimal]:
    return sa.Column(Money(), nullable=nullable)


def _instant(nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(UTCDateTime(), nullable=nullable)


class Customer(SQLModel, table=True):
    """A customer (external key ``id``)."""

    __tablename__ = "customer"

    id: str = Field(primary_key=True, max_length=64)
    name: str
    tax_id: str | None = None
    tier_override: str | None = Field(default=None, max_length=16)
    country: str = Field(max_length=2)
    timezone: str = Field(max_length=64)
    language: str = Field(max_length=8)
    email: str | None = None
    phone: str | None = Field(default=None, max_length=20)
    address: str | None = None
    # the ledger's collector for this customer (a console user's name, e.g. an e-mail)
    account_manager: str | None = Field(default=None, index=True)
    # a manager's reassignment in the console: who works the customer instead of account_manager
    # (the ledger's value is kept; imports never touch this column)
    assigned_to: str | None = Field(default=None, index=True, max_length=254)
    payment_terms_days: int = 30
    credit_limit: Decimal | None = Field(default=None, sa_column=_money(nullable=True))
    industry: str | None = None
    annual_revenue: Decimal | None = Field(default=None, sa_column=_money(nullable=True))
    open_lawsuits: int = 0
    do_not_contact: bool = False
    credit_hold: bool = False
    credit_hold_since: datetime | None = Field(default=None, sa_column=_instant())
    # channels the customer opted out of, comma separated ("sms,voice")
    opted_out: str = ""
    # `dunbot pause --customer`: no ladder step for any of its invoices until this date, and why
    paused_until: date | None = None
    pause_reason: str | None = None
    # last tier the planner recorded, to notice changes
    current_tier: str | None = Field(default=None, max_length=16)


class Contract(SQLModel, table=True):
    """Contract terms for late fees (optional)."""

    __tablename__ = "contract"

    ref: str = Field(primary_key=True, max_length=64)
    grace_days: int | None = None
    daily_rate: Decimal | None = Field(default=None, sa_column=_money(nullable=True))
    penalty_rate: Decimal | None = Field(default=None, sa_column=_money(nullable=True))
    penalty_after_days: int | None = None
    jurisdiction: str | None = None


class Invoice(SQLModel, table=True):
    """An invoice; the outstanding amount is derived from its payments."""

    __tablename__ = "invoice"
    __table_args__ = (
        sa.Index("ix_invoice_customer_due", "customer_id", "due_date"),
        # Planning reads a slice of customers' invoices in (customer, number) order: no sort.
        sa.Index("ix_invoice_customer_number", "customer_id", "number"),
    )

    number: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(foreign_key="customer.id", max_length=64)
    contract_ref: str | None = Field(default=None, max_length=64)
    currency: str = Field(max_length=3)
    amount: Decimal = Field(sa_column=_money())
    issue_date: date
    due_date: date
    status: str = Field(default="open", max_length=16)
    promise_date: date | None = None
    promise_amount: Decimal | None = Field(default=None, sa_column=_money(nullable=True))
    # `dunbot pause`: no ladder step for this invoice until this date (inclusive), and why
    paused_until: date | None = None
    pause_reason: str | None = None
    # the status the source itself gave at the last import (an import changes `status` only when
    # this changes, so what people recorded in dunbot is never silently undone)
    source_status: str | None = Field(default=None, max_length=16)


class Payment(SQLModel, table=True):
    """Money received against an invoice."""

    __tablename__ = "payment"

    reference: str = Field(primary_key=True, max_length=64)
    invoice_number: str = Field(foreign_key="invoice.number", index=True, max_length=64)
    amount: Decimal = Field(sa_column=_money())
    paid_on: date


class StepExecution(SQLModel, table=True):
    """One row per (invoice, step): the database, not code, stops a step running twice."""

    __tablename__ = "step_execution"
    __table_args__ = (sa.UniqueConstraint("invoice_number", "step", name="uq_step_execution_invoice_step"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_number: str = Field(foreign_key="invoice.number", max_length=64)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=64)
    tactic: str = Field(max_length=16)
    step: str = Field(max_length=64)
    status: str = Field(max_length=24)
    business_date: date
    reason: str = ""
    created_at: datetime = Field(sa_column=_instant(nullable=False))
    updated_at: datetime = Field(sa_column=_instant(nullable=False))


class Message(SQLModel, table=True):
    """The outbox: one row per (customer, step, channel, business date)."""

    __tablename__ = "message"
    __table_args__ = (
        sa.UniqueConstraint(
            "customer_id", "step", "channel", "business_date", name="uq_message_once_per_day"
        ),
        sa.Index("ix_message_state", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=64)
    step: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    business_date: date
    recipient: str = ""
    state: str = Field(default="planned", max_length=24)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=_instant())
    lease_owner: str | None = None
    lease_until: datetime | None = Field(default=None, sa_column=_instant())
    fence: int = 0
    message_id: str | None = Field(
        default=None, index=True
    )  # stable RFC 5322 Message-ID, reused on every retry
    provider_id: str | None = None
    provider_status: str | None = None
    artifacts: str = "[]"  # JSON list of artifact SHA-256 hashes
    last_error: str | None = None
    sent_at: datetime | None = Field(default=None, sa_column=_instant())  # when the provider accepted it
    created_at: datetime = Field(sa_column=_instant(nullable=False))
    updated_at: datetime = Field(sa_column=_instant(nullable=False))


class MessageInvoice(SQLModel, table=True):
    """Which invoices a message is about (one message can list several)."""

    __tablename__ = "message_invoice"

    message_id: int = Field(foreign_key="message.id", primary_key=True)
    invoice_number: str = Field(foreign_key="invoice.number", primary_key=True, max_length=64)


class Task(SQLModel, table=True):
    """A collector work item: call, review, approval or legal hand-off."""

    __tablename__ = "task"
    # the console's worklist reads open tasks, oldest first
    __table_args__ = (sa.Index("ix_task_status_created_at", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=64)
    invoices: str = "[]"  # JSON list of invoice numbers
    step: str | None = Field(default=None, max_length=64)
    assignee: str = ""
    title: str = ""
    body: str = ""
    status: str = Field(default="open", max_length=16)
    outcome: str | None = None
    note: str | None = None
    dedupe_key: str | None = Field(default=None, unique=True)
    created_at: datetime = Field(sa_column=_instant(nullable=False))
    done_at: datetime | None = Field(default=None, sa_column=_instant())


class EvidenceEvent(SQLModel, table=True):
    """Append-only, hash-chained record of every fact that matters later (DESIGN §6).

    Database triggers reject UPDATE and DELETE. The columns besides ``body`` repeat fields of the
    canonical body for querying; verification checks that they agree.
    """

    __tablename__ = "evidence_event"
    # a customer's timeline, newest first, a page at a time
    __table_args__ = (sa.Index("ix_evidence_event_customer_seq", "customer", "seq"),)

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_column=_instant(nullable=False))
    kind: str = Field(max_length=32, index=True)
    actor: str
    customer: str | None = Field(default=None, index=True, max_length=64)
    invoices: str = "[]"  # JSON list of invoice numbers, as in the body
    body: str  # canonical JSON: sorted keys, UTF-8, no whitespace
    content_hash: str = Field(max_length=64)
    chain_hash: str = Field(max_length=64)
    # SHA-256(0x00 ‖ body): the event's Merkle leaf (RFC 9162), kept so checkpoints and packs need not
    # re-read every body; verification recomputes it
    leaf_hash: str | None = Field(default=None, max_length=64)
    # a fact that must be recorded once (e.g. "broken_promise:INV-1:2026-03-01") names itself here
    dedupe_key: str | None = Field(default=None, unique=True)


class Notice(SQLModel, table=True):
    """A signed PDF notice: one per (customer, step, business date, invoice set), shared by channels.

    The e-mail and the letter of one step carry the same signed file: whichever message is prepared
    first renders and signs it; the others find it here and attach the same bytes (by SHA-256 from
    the artifact store).
    """

    __tablename__ = "notice"
    __table_args__ = (
        sa.UniqueConstraint(
            "customer_id", "step", "business_date", "invoices_key", name="uq_notice_once_per_day"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=64)
    step: str = Field(max_length=64)
    business_date: date
    invoices: str = "[]"  # JSON list of the invoice numbers listed, sorted
    invoices_key: str = Field(max_length=64)  # SHA-256 of that list, for the unique key
    reference: str = Field(unique=True, max_length=64)
    language: str = Field(max_length=8)
    sha256: str = Field(max_length=64)
    pages: int = 1
    signer: str = ""
    timestamped: bool = False
    created_at: datetime = Field(sa_column=_instant(nullable=False))


class Checkpoint(SQLModel, table=True):
    """A signed statement of the evidence log's Merkle tree size and root (DESIGN §6).

    ``statement`` holds the exact bytes that were signed; ``signature`` the detached CMS (base64 DER)
    made with the company key; ``timestamp`` an RFC 3161 token over the statement (base64 DER) when
    a TSA is configured. ``compact_range`` (the right edge of the tree, JSON) lets the next checkpoint
    extend the tree without re-reading the whole log; verification never trusts it.
    """

    __tablename__ = "checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    tree_size: int = Field(unique=True)
    root_hash: str = Field(max_length=64)
    at: datetime = Field(sa_column=_instant(nullable=False))
    statement: str
    signature: str
    certificate: str  # the signer's certificate, PEM
    timestamp: str | None = None
    compact_range: str = "[]"
    reason: str = Field(default="", max_length=32)  # "cycle", "send", "hourly", "export"


class CycleRun(SQLModel, table=True):
    """One cycle of one worker: when it ran, how long it took, how it ended (health and metrics)."""

    __tablename__ = "cycle_run"

    id: int | None = Field(default=None, primary_key=True)
    worker: str
    as_of: date
    started_at: datetime = Field(sa_column=_instant(nullable=False))
    finished_at: datetime = Field(sa_column=_instant(nullable=False))
    ok: bool = True
    error: str | None = None
    messages_sent: int = 0
    messages_failed: int = 0
    messages_unknown: int = 0
    checkpoint_id: int | None = None


class MerkleNode(SQLModel, table=True):
    """A perfect subtree of the log's Merkle tree: MTH of leaves [ordinal·2^height, (ordinal+1)·2^height).

    Only heights from ``STORED_HEIGHT`` up are kept, written as checkpoints extend the tree. It is a
    cache for proofs, never trusted: a pack's proofs are checked against the signed root before they
    are written, and ``verify --db`` compares every row with the tree recomputed from the bodies.
    """

    __tablename__ = "merkle_node"

    height: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ordinal: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    hash: str = Field(max_length=64)


class WebUser(SQLModel, table=True):
    """A person who logs in to the console (DESIGN §10); ``name`` is the ledger's account_manager value."""

    __tablename__ = "web_user"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=254)
    role: str = Field(max_length=16)  # collector | manager | legal | admin
    password_hash: str  # argon2id, in the PHC string format; never the password
    language: str = Field(default="zh-CN", max_length=8)  # zh-CN | en
    disabled: bool = False
    failed_logins: int = 0  # consecutive wrong passwords; a success resets it
    locked_until: datetime | None = Field(default=None, sa_column=_instant())
    created_at: datetime = Field(sa_column=_instant(nullable=False))
    last_login_at: datetime | None = Field(default=None, sa_column=_instant())


class WebSession(SQLModel, table=True):
    """A console login, held on the server: the cookie carries a token, this row only its SHA-256."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)  # hex SHA-256 of the random token
    user_id: int = Field(foreign_key="web_user.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_instant(nullable=False))
    last_seen_at: datetime = Field(sa_column=_instant(nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=_instant())


class DashboardSnapshot(SQLModel, table=True):
    """The console's dashboard as computed after a cycle or an import: one row per computation, the
    page shows the newest. ``body`` is the dashboard as JSON (bot.reporting.dashboard)."""

    __tablename__ = "dashboard_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    as_of: date = Field(index=True)
    computed_at: datetime = Field(sa_column=_instant(nullable=False))
    body: str


# Indexes on expressions, made by migration 0011 and not described here (Alembic cannot compare them):
# a reply's sender is matched on lower(trim(customer.email | customer.phone)) (bot/replies/matching.py).
EXPRESSION_INDEXES = frozenset({"ix_customer_email_match", "ix_customer_phone_match"})


class InboundMessage(SQLModel, table=True):
    """A reply as it arrived (DESIGN §11): one row per e-mail or SMS, written once by whoever fetched it
    (``source_key`` is unique, so a second fetch of the same message is a no-op) and then handled once:
    matched, classified and acted on in the transaction that moves ``state`` on from "received".
    The raw bytes are an artifact (``raw_sha256``); the evidence is in ``evidence_event``."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        sa.Index("ix_inbound_message_state", "state"),
        # A message whose bytes already arrived under another key is not recorded again.
        sa.Index("ix_inbound_message_raw_sha256", "raw_sha256"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)  # "email" | "sms"
    # Where it came from, unique: "imap:<host>/<user>/<folder>:<uidvalidity>:<uid>",
    # "sms:<MessageSid>", "file:<sha256>".
    source_key: str = Field(unique=True, max_length=255)
    raw_sha256: str = Field(max_length=64)
    sender: str = Field(default="", max_length=320)
    subject: str = ""
    header_message_id: str | None = Field(default=None, max_length=998)
    received_at: datetime = Field(sa_column=_instant(nullable=False))
    # received -> handled | confirm (a collector decides) ; failed after too many attempts
    state: str = Field(default="received", max_length=16)
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: datetime | None = Field(default=None, sa_column=_instant())
    last_error: str | None = None
    customer_id: str | None = Field(default=None, index=True, max_length=64)
    message_id: int | None = Field(default=None)  # the outgoing message it answers, when known
    # tag | in-reply-to | references | sender | phone
    matched_by: str | None = Field(default=None, max_length=16)
    kind: str | None = Field(default=None, max_length=16)  # a ReplyKind value (bot.replies.model)
    confidence: Decimal | None = Field(default=None, sa_column=sa.Column(sa.Numeric(4, 3), nullable=True))
    action: str | None = None  # what was done, in words
    # JSON: what handling found and a collector confirming it needs (the classification's date,
    # amount and flags, the invoices, the candidate customers, the attachments' hashes, why it waits)
    details: str = Field(default="{}", sa_column_kwargs={"server_default": "{}"})  # fetchers need not set it
    created_at: datetime = Field(sa_column=_instant(nullable=False))
    updated_at: datetime = Field(sa_column=_instant(nullable=False))


class UndeliverableContact(SQLModel, table=True):
    """An address or number that bounced hard or was reported undeliverable: no further e-mail step goes
    to it until the customer's contact changes to another one (DESIGN §11)."""

    __tablename__ = "undeliverable_contact"

    channel: str = Field(primary_key=True, max_length=16)
    address: str = Field(primary_key=True, max_length=320)  # lower-cased e-mail address or E.164 number
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=64)
    message_id: int | None = Field(default=None)  # the message that bounced
    reason: str = ""
    at: datetime = Field(sa_column=_instant(nullable=False))
