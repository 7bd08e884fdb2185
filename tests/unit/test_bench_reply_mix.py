"""The replies bench's generator (bench/reply_mix.py) makes what it says: each reply parses, comes from
the customer it names (a stranger's from no customer's address), and is classified as its kind with
a confidence at or above the default ``[inbound] confirm_below``, with the promised date, in both
languages, in the mix's proportions."""

from __future__ import annotations

from collections import Counter
from datetime import date

from bench.reply_mix import PATTERN, PROMISE_DATE, Customer, mixed_replies
from bot.config.sections import InboundSettings
from bot.replies.classify import classify
from bot.replies.parse import parse_email

TODAY = date(2026, 12, 8)
CUSTOMERS = [Customer(f"C{n}", f"客户{n}有限公司", f"ap{n}@c{n}.com.cn", f"I{n}-00") for n in range(7)]


def test_every_reply_is_classified_as_its_kind_surely_and_from_its_customer() -> None:
    """Two rounds of the pattern: kinds, languages, senders and promised dates are what the mix claims."""
    replies = mixed_replies(CUSTOMERS, 2 * len(PATTERN), tag="unit")
    emails = {c.id: c.email for c in CUSTOMERS}
    assert Counter(r.kind for r in replies) == Counter(PATTERN * 2)
    assert Counter(r.language for r in replies) == {"zh": len(PATTERN), "en": len(PATTERN)}
    for kind in set(PATTERN):  # each kind in both languages
        assert {r.language for r in replies if r.kind == kind} == {"zh", "en"}, kind
    for index, mixed in enumerate(replies):
        reply = parse_email(mixed.raw)
        found = classify(reply, today=TODAY, timezone="Asia/Shanghai")
        if mixed.kind == "stranger":
            assert mixed.customer is None and reply.sender not in emails.values()  # nobody matches
            continue
        assert reply.sender == emails[str(mixed.customer)] == CUSTOMERS[index % len(CUSTOMERS)].email
        assert found.kind.value == mixed.kind, (index, reply.text)
        assert found.confidence >= InboundSettings().confirm_below, (index, found)
        assert found.promise_date == (PROMISE_DATE if mixed.kind == "promise" else None)
        if mixed.invoice is not None and mixed.kind in ("promise", "dispute", "paid"):
            assert mixed.invoice in reply.text
