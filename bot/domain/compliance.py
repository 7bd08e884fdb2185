"""Contact gates: who can be reached on which channel, contact caps, banned phrases (DESIGN §4)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from functools import lru_cache

from bot.domain.decisions import ContactRecord
from bot.domain.ledger import AUTOMATED_CHANNELS, Channel, Customer
from bot.domain.policy import CompliancePolicy

_WINDOW_DAYS = 7
_AROUND = range(-(_WINDOW_DAYS - 1), _WINDOW_DAYS)

# Characters that render as nothing; stripped so "th\u200breat" cannot slip past the phrase check.
# Zero-width characters and the soft hyphen, removed before matching. A regular expression, not
# str.translate with a table: on Chinese text the table costs a dictionary lookup per character,
# fifteen times slower.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def _unreachable_because(
    channel: Channel, opted_out: frozenset[Channel], email: bool, phone: bool, address: bool
) -> str | None:
    if channel is Channel.TASK:
        return None
    if channel in opted_out:
        return f"{channel.value}: the customer opted out"
    if channel is Channel.EMAIL and not email:
        return "email: no e-mail address"
    if channel in (Channel.SMS, Channel.VOICE) and not phone:
        return f"{channel.value}: no phone number"
    if channel is Channel.LETTER and not address:
        return "letter: no postal address"
    return None


@lru_cache(maxsize=1024)
def _split_channels(
    channels: tuple[Channel, ...], opted_out: frozenset[Channel], email: bool, phone: bool, address: bool
) -> tuple[tuple[Channel, ...], tuple[tuple[Channel, str], ...]]:
    # Depends only on what the customer can be reached by, not on who they are: a planning run
    # asks the same few questions for every customer.
    kept: list[Channel] = []
    dropped: list[tuple[Channel, str]] = []
    for channel in channels:
        why = _unreachable_because(channel, opted_out, email, phone, address)
        if why is None:
            kept.append(channel)
        else:
            dropped.append((channel, why))
    return tuple(kept), tuple(dropped)


def reachable_channels(
    customer: Customer, channels: Iterable[Channel]
) -> tuple[tuple[Channel, ...], tuple[tuple[Channel, str], ...]]:
    """Split ``channels`` into those the customer can be reached on and those dropped, with why.

    E-mail needs an address, sms and voice a phone number, letter a postal address; an opted-out
    channel is dropped; a task reaches a collector, not the customer, so it is always kept.
    """
    return _split_channels(
        tuple(channels),
        customer.opted_out,
        bool(customer.email),
        bool(customer.phone),
        bool(customer.address),
    )


def _squeeze(text: str) -> str:
    # NFKC folds full-width letters (ｔｈｒｅａｔ) onto ASCII; whitespace is removed entirely so
    # that spacing tricks, line breaks and spaced-out CJK characters still match.
    folded = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold()
    return "".join(folded.split())


@lru_cache(maxsize=1024)
def _squeezed_phrase(phrase: str) -> str:
    # The configured phrases are the same for every message: squeezed once each.
    return _squeeze(phrase)


def banned_phrase_hits(text: str, phrases: Iterable[str]) -> list[str]:
    """The banned phrases found in ``text``, in the order given, each once.

    Matching ignores case, Unicode width and whitespace: "Legal  Action" and "legal\\naction"
    both hit "legal action". A false hit only raises a task for a person; a miss would send.
    """
    haystack = _squeeze(text)
    hits: list[str] = []
    for phrase in phrases:
        needle = _squeezed_phrase(phrase)
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
        self._automated_by_day: dict[date, int] = {}
        for contact in contacts:
            self._count(contact.channel, contact.on)

    def _count(self, channel: Channel, on: date) -> None:
        self._by_channel_day.add((channel, on))
        if channel in AUTOMATED_CHANNELS:
            self._automated_by_day[on] = self._automated_by_day.get(on, 0) + 1

    @property
    def cap(self) -> int:
        """At most this many automated messages in any rolling 7 days."""
        return self._policy.max_messages_per_7d

    def check(self, channels: Sequence[Channel], on: date) -> tuple[bool, str]:
        """Whether a step with ``channels`` fits on ``on`` in full, and if not, why."""
        automated = [c for c in channels if c in AUTOMATED_CHANNELS]
        taken = [c.value for c in automated if (c, on) in self._by_channel_day]
        if taken:
            return False, f"{', '.join(taken)} already used today (one message per channel per day)"
        if not automated:
            return True, "tasks do not count against the caps"
        cap = self._policy.max_messages_per_7d
        counted = self._automated_by_day
        if not counted or (len(counted) == 1 and on in counted):
            # Nothing counted but ``on`` itself (the usual case: what this plan placed today), so
            # every window holds the same count and the first one, [on − 6, on], speaks for all.
            if counted.get(on, 0) + len(automated) <= cap:
                return True, "within the contact caps"
            return False, self._over_cap(len(automated), counted.get(on, 0), on, 0, cap)
        # Every 7-day window that contains ``on``; outbox rows dated later than ``on`` (a re-run
        # for an earlier date) are counted too. Daily counts from on−6 to on+6, then slide.
        daily = [counted.get(on + timedelta(days=k), 0) for k in _AROUND]
        in_window = sum(daily[:_WINDOW_DAYS])
        for first in range(_WINDOW_DAYS):
            if first:
                in_window += daily[first + _WINDOW_DAYS - 1] - daily[first - 1]
            if in_window + len(automated) > cap:
                return False, self._over_cap(len(automated), in_window, on, first, cap)
        return True, "within the contact caps"

    @staticmethod
    def _over_cap(more: int, in_window: int, on: date, first: int, cap: int) -> str:
        start = on - timedelta(days=_WINDOW_DAYS - 1 - first)
        end = start + timedelta(days=_WINDOW_DAYS - 1)
        return (
            f"{more} more message(s) would make {in_window + more} "
            f"automated messages from {start} to {end} (cap {cap} in 7 days)"
        )

    def state_on(self, on: date) -> tuple[frozenset[tuple[Channel, date]], int] | None:
        """What ``check(..., on)`` depends on, as a key, when nothing is counted on other days.

        None when automated messages of other days are counted: then the rolling windows matter and
        a check must be done in full. Planners remember placements by this key.
        """
        counted = self._automated_by_day
        if counted and (len(counted) > 1 or on not in counted):
            return None
        return frozenset(self._by_channel_day), counted.get(on, 0)

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
