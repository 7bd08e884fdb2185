"""What crosses the outbox's stages: message states, outcomes, and the values one stage hands on.

A message is claimed (:mod:`bot.outreach.claims`), re-checked and rendered
(:mod:`bot.outreach.preparation`) into a :class:`Ready`, marked ``sending`` and handed to its channel
in a turn (:mod:`bot.outreach.turns`), which returns a :class:`Result`; its outcome is recorded
(:mod:`bot.outreach.recording`) as a :class:`Done`. Also here: how a message is keyed and addressed,
which the cycle's preview shares.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from bot.channels.base import Outgoing, Receipt
from bot.config import Settings
from bot.domain.ledger import Channel, Customer
from bot.domain.policy import LadderStep
from bot.errors import ChannelError
from bot.store import tables

message_t = tables.Message.__table__  # type: ignore[attr-defined]
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]
execution_t = tables.StepExecution.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]

MAX_BACKOFF = timedelta(hours=6)


class MessageState(StrEnum):
    """States of an outbox message."""

    PLANNED = "planned"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


# States in which the customer may have been reached: they count against the caps.
CONTACTED = (
    MessageState.SENDING,
    MessageState.SENT,
    MessageState.DELIVERED,
    MessageState.UNDELIVERED,
    MessageState.UNKNOWN,
)


class Outcome(StrEnum):
    """What became of one claimed message in this pass."""

    SENT = "sent"
    RETRY = "retry"  # transient failure, planned again with backoff
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    HELD = "held"  # outside the contact window or over the caps: planned again for later
    BLOCKED = "blocked"  # banned phrase or a template error: failed, with a review task
    LOST = "lost"  # the lease was lost to another worker: not ours any more


@dataclass
class OutboxStats:
    """Counts of outcomes, overall and per (step, channel)."""

    outcomes: Counter[Outcome] = field(default_factory=Counter)
    by_step: Counter[tuple[str, str, Outcome]] = field(default_factory=Counter)
    recovered_unknown: int = 0
    released: int = 0

    def add(self, step: str, channel: str, outcome: Outcome) -> None:
        self.outcomes[outcome] += 1
        self.by_step[(step, channel, outcome)] += 1


@dataclass(frozen=True, slots=True)
class Ready:
    """A claimed message, re-checked and rendered, waiting for its ``sending`` commit."""

    id: int
    fence: int
    attempts: int  # including the attempt about to be made
    customer: str
    step: str
    channel: Channel
    outgoing: Outgoing
    business_date: date  # the business date it was planned for
    local_date: date  # the recipient's date when it was handed to the provider


@dataclass(frozen=True, slots=True)
class Result:
    """What the provider said: a receipt or a translated error."""

    ready: Ready
    receipt: Receipt | None
    error: ChannelError | None
    stored: dict[str, str]  # artifact name -> SHA-256, already in the artifact store


@dataclass(frozen=True, slots=True)
class Done:
    """The outcome of one message in this pass."""

    step: str
    channel: str
    outcome: Outcome


def message_key(message_id: int, business_date: date, channel: Channel, from_address: str) -> str:
    """The stable key of a message: its Message-ID for e-mail, a token for the other channels."""
    if channel is Channel.EMAIL:
        domain = from_address.rpartition("@")[2] or "dunbot.invalid"
        return f"<dunbot.{message_id}.{business_date:%Y%m%d}@{domain}>"
    return f"dunbot-{message_id}-{business_date:%Y%m%d}"


def needs_notice(step: LadderStep, channel: Channel) -> bool:
    """A letter is always the signed notice; an e-mail carries it when the step is ``signed``."""
    return channel is Channel.LETTER or (channel is Channel.EMAIL and step.signed)


def recipient_for(customer: Customer, channel: Channel, settings: Settings) -> str:
    """Where a message on ``channel`` goes for ``customer``."""
    if channel is Channel.EMAIL:
        return customer.email or ""
    if channel in (Channel.SMS, Channel.VOICE):
        return customer.phone or ""
    if channel is Channel.LETTER:
        return f"{customer.name}\n{customer.address or ''}"
    return customer.account_manager or settings.outreach.review_assignee


def reference_of(message_id: int, business_date: date) -> str:
    """The reference a message's content quotes (and a letter's mailroom task names)."""
    return f"DN-{business_date:%Y%m%d}-{message_id:06d}"
