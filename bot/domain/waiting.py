"""Why a planned outbox message has not gone yet, and from when it can (`dunbot message show`).

The gates are the outbox's (DESIGN §4 rules 3 and 5, §5): its business date in the recipient's
time zone, a pause, an approval, an address that bounced hard, a retry's backoff, the contact
window, one message per channel per local day, and the rolling 7-day cap. Each gate that holds the
message back is a :class:`Wait` naming until when; ``explain_wait`` walks them forward from ``now``
until every one is open, so the answer is the earliest instant the outbox would send it (a cycle at
or after that instant does).
The window and the two caps are asked of :func:`bot.domain.holds.contact_hold`, as the outbox asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.calendar import next_window_opening
from bot.domain.holds import ContactGate, contact_hold
from bot.domain.ledger import AUTOMATED_CHANNELS, Channel
from bot.domain.policy import CompliancePolicy

_Hold = Callable[["WaitReason", datetime | None, str], None]
_MAX_STEPS = 64  # each step moves the instant forward; a week of sends is passed in far fewer


class WaitReason(StrEnum):
    """What holds a planned message back."""

    BUSINESS_DATE = "business_date"  # its business date has not begun where the recipient is
    PAUSED = "paused"  # a collector paused the invoice(s) or the customer
    APPROVAL = "approval"  # the step waits for `dunbot approve`
    UNDELIVERABLE = "undeliverable"  # the address bounced hard: it waits for a new one (an import)
    RETRY = "retry"  # a transient failure: the next attempt waits for its backoff
    HELD = "held"  # the outbox set its next attempt later, for a reason no longer visible
    CONTACT_WINDOW = "contact_window"  # outside the recipient's contact window
    SAME_CHANNEL_TODAY = "same_channel_today"  # this channel already reached the customer that day
    WEEKLY_CAP = "weekly_cap"  # max_messages_per_7d automated messages in the last 7 days


@dataclass(frozen=True, slots=True)
class Wait:
    """One gate: until when it holds (None: until a person acts) and why, for people."""

    reason: WaitReason
    until: datetime | None
    detail: str


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """The facts of one planned message that the gates look at."""

    channel: Channel
    business_date: date
    timezone: str  # the recipient's IANA zone
    attempts: int = 0
    next_attempt_at: datetime | None = None  # set by the outbox when it held or will retry it
    last_error: str | None = None
    # automated messages that reached (or may have reached) the customer: (channel, when), UTC
    recent: tuple[tuple[Channel, datetime], ...] = ()
    paused_until: date | None = None  # the last paused day (the customer's or all its invoices')
    pause_reason: str | None = None
    approval_task: int | None = None
    undeliverable: str | None = None  # why the customer's current address cannot be used, if so


@dataclass(frozen=True, slots=True)
class WaitExplanation:
    """Every gate that holds a message back, in the order they open, and when it can go."""

    waits: tuple[Wait, ...]
    goes_at: datetime | None  # None while it waits for a person (an approval, a new address)


def explain_wait(message: PendingMessage, policy: CompliancePolicy, now: datetime) -> WaitExplanation:
    """Why ``message`` has not gone at ``now`` (UTC, aware) and the earliest instant it can go."""
    zone = ZoneInfo(message.timezone)
    found: dict[WaitReason, Wait] = {}

    def hold(reason: WaitReason, until: datetime | None, detail: str) -> None:
        found[reason] = Wait(reason, until, detail)

    at = now.astimezone(UTC)
    if message.approval_task is not None:
        hold(
            WaitReason.APPROVAL,
            None,
            f"the step waits for approval: `dunbot approve {message.approval_task}` "
            f"(or reject {message.approval_task})",
        )
    if message.undeliverable is not None:
        hold(WaitReason.UNDELIVERABLE, None, message.undeliverable)
    day_starts = _local_midnight(message.business_date, zone)
    if day_starts > at:
        hold(
            WaitReason.BUSINESS_DATE,
            day_starts,
            f"planned for {message.business_date}, which has not begun in {message.timezone}",
        )
        at = day_starts
    if message.paused_until is not None and message.paused_until >= at.astimezone(zone).date():
        resumes = _local_midnight(message.paused_until + timedelta(days=1), zone)
        reason = f": {message.pause_reason}" if message.pause_reason else ""
        hold(WaitReason.PAUSED, resumes, f"paused until {message.paused_until}{reason}")
        at = max(at, resumes)
    held = message.next_attempt_at
    if held is not None and held > at and message.attempts and message.last_error:
        hold(
            WaitReason.RETRY,
            held,
            f"attempt {message.attempts} failed ({message.last_error}); the next waits for its backoff",
        )
        at = held
    if message.channel in AUTOMATED_CHANNELS:
        at = _contact_gates(message, policy, zone, at, hold)
    if held is not None and held > at:
        # The outbox will not claim it before then, for a reason the gates above no longer see
        # (a send since cancelled, a changed window): its own word is the last.
        hold(WaitReason.HELD, held, "held by the outbox until its next attempt")
        at = (
            _contact_gates(message, policy, zone, held, hold)
            if message.channel in AUTOMATED_CHANNELS
            else held
        )
    waits = tuple(sorted(found.values(), key=lambda w: (w.until is None, w.until or at)))
    for_person = message.approval_task is not None or message.undeliverable is not None
    goes_at = None if for_person else at
    return WaitExplanation(tuple(w for w in waits if w.until is None or w.until > now), goes_at)


def _contact_gates(
    message: PendingMessage,
    policy: CompliancePolicy,
    zone: ZoneInfo,
    at: datetime,
    hold: _Hold,
) -> datetime:
    """Move ``at`` forward until the window is open and neither cap holds; returns that instant."""
    for _ in range(_MAX_STEPS):
        held = contact_hold(at, message.channel, message.timezone, message.recent, policy)
        if held is None:
            return at
        if held.gate is ContactGate.CONTACT_WINDOW:
            at = held.until
            hold(
                WaitReason.CONTACT_WINDOW,
                at,
                f"outside the contact window {policy.window_start:%H:%M}-{policy.window_end:%H:%M} "
                f"{message.timezone}",
            )
        elif held.gate is ContactGate.SAME_CHANNEL_TODAY:
            local_day = at.astimezone(zone).date()
            # Named as the next day's window start, as `message show` always has. The outbox retries
            # at the next local midnight (``held.until``), which differs only for a window open at
            # midnight (one crossing it, or open all day): it sends then, earlier than named here.
            tomorrow = datetime.combine(local_day + timedelta(days=1), policy.window_start, tzinfo=zone)
            at = next_window_opening(tomorrow.astimezone(UTC), message.timezone, policy)
            hold(
                WaitReason.SAME_CHANNEL_TODAY,
                at,
                f"one {message.channel.value} per day: the customer already had one on {local_day}",
            )
        else:
            at = held.until
            hold(
                WaitReason.WEEKLY_CAP,
                at,
                f"{held.in_week} automated message(s) in the 7 days before; at most "
                f"{policy.max_messages_per_7d}",
            )
    return at


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
