"""The contact gates that hold an automated message back at one instant (DESIGN §4 rules 3 and 5).

The one source of the hold rules: the outbox's re-check at send time
(:mod:`bot.outreach.preparation`) and ``dunbot message show``'s "why it waits"
(:mod:`bot.domain.waiting`) both ask :func:`contact_hold`. The gates, in the order they are asked:

1. the recipient's contact window is closed;
2. this channel already reached (or may have reached) the customer on the recipient's local day;
3. ``max_messages_per_7d`` automated messages in the 7 × 24 hours before.

Each answer says until when that gate alone holds; what the caller does then (retry the message,
walk forward to the next gate) is the caller's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.calendar import in_contact_window, next_window_opening
from bot.domain.policy import CompliancePolicy

WEEK = timedelta(days=7)


class ContactGate(StrEnum):
    """A contact gate that holds an automated message back."""

    CONTACT_WINDOW = "contact_window"  # outside the recipient's contact window
    SAME_CHANNEL_TODAY = "same_channel_today"  # this channel already reached the customer that day
    WEEKLY_CAP = "weekly_cap"  # max_messages_per_7d automated messages in the last 7 days


@dataclass(frozen=True, slots=True)
class ContactHold:
    """The first gate that holds a message at an instant, and until when that gate alone holds."""

    gate: ContactGate
    until: datetime  # UTC; the window's opening, the next local midnight, or when the cap frees
    in_week: int  # automated messages in the 7 days before the instant asked about


def contact_hold(
    at: datetime,
    channel: str,
    timezone: str,
    recent: Collection[tuple[str, datetime]],
    policy: CompliancePolicy,
) -> ContactHold | None:
    """The first contact gate that holds a ``channel`` message to a recipient at ``timezone`` at ``at``.

    ``recent`` lists the automated messages that reached (or may have reached) the customer, as
    (channel, when) pairs in aware instants. None when every gate is open at ``at`` (UTC, aware).
    """
    zone = ZoneInfo(timezone)
    local_day = at.astimezone(zone).date()
    sent = sorted(when for _, when in recent if when > at - WEEK)
    if not in_contact_window(at, timezone, policy):
        return ContactHold(ContactGate.CONTACT_WINDOW, next_window_opening(at, timezone, policy), len(sent))
    if any(c == channel and when.astimezone(zone).date() == local_day for c, when in recent):
        tomorrow = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        return ContactHold(ContactGate.SAME_CHANNEL_TODAY, tomorrow, len(sent))
    if len(sent) >= policy.max_messages_per_7d:
        # The send that must fall out of the 7 days before the cap leaves room for one more.
        frees = sent[len(sent) - policy.max_messages_per_7d] + WEEK
        return ContactHold(ContactGate.WEEKLY_CAP, frees, len(sent))
    return None
