"""Matching a reply to its customer and message (issue 20, DESIGN §11), on real SQLite and PostgreSQL:
tag first, then In-Reply-To, then References, then the sender's address; a bounce by the Message-ID
it reports; an SMS by the number; an address or number several customers share matches none."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.outreach.reply_tag import reply_address, reply_tag
from bot.replies.matching import Match, match
from bot.replies.model import DeliveryReport, Reply
from tests.integration.reply_world import C1_EMAIL, C1_PHONE, DOMAIN, SHARED, key_of, seed

SECRET = "tag-secret"


@pytest.fixture
def sent(engine: Engine, tmp_path: Path) -> dict[str, int]:
    return seed(engine)


def _match(engine: Engine, reply: Reply, secret: str = SECRET) -> Match:
    with engine.connect() as connection:
        return match(connection, reply, secret=secret)


def _tagged(engine: Engine, message: int, secret: str = SECRET) -> str:
    return reply_address(f"replies@{DOMAIN}", reply_tag(secret, message, key_of(engine, message)))


def test_the_tag_wins_then_in_reply_to_then_references_then_the_sender(
    engine: Engine, sent: dict[str, int]
) -> None:
    """Each way of matching names a different customer here, so the order is visible: the tag (C2's
    e-mail), In-Reply-To (C1's), References (C2's), the sender's address (C1, any case)."""
    m1, m2 = sent["m1"], sent["m2"]
    everything = Reply(
        channel="email",
        sender=C1_EMAIL,
        recipients=(f"replies@{DOMAIN}", _tagged(engine, m2)),
        in_reply_to=key_of(engine, m1),
        references=(key_of(engine, m2),),
    )
    assert _match(engine, everything) == Match("C2", m2, "tag", (), ("H-1",))
    no_tag = replace(everything, recipients=(f"replies@{DOMAIN}",))
    assert _match(engine, no_tag) == Match("C1", m1, "in-reply-to", (), ("I-1", "I-2"))
    # References: the newest (last) that is ours; In-Reply-To naming someone else's mail is skipped.
    references = Reply(
        channel="email",
        sender=C1_EMAIL,
        in_reply_to="<theirs@customer.example>",
        references=(key_of(engine, m1), key_of(engine, m2), "<theirs@customer.example>"),
    )
    assert _match(engine, references).message == m2
    assert _match(engine, references).matched_by == "references"
    by_sender = Reply(channel="email", sender="ap@harbour.example")  # stored as AP@Harbour.example
    assert _match(engine, by_sender) == Match("C2", None, "sender")


def test_a_tag_that_fails_its_check_is_ignored(engine: Engine, sent: dict[str, int]) -> None:
    """A tag made with another secret, or naming another message's id with this one's check, does not
    match by tag: the next way (here the sender) decides."""
    m1, m2 = sent["m1"], sent["m2"]
    forged = _tagged(engine, m2).replace(f"+r{m2}-", f"+r{m1}-")  # m2's check on m1's id
    for address in (_tagged(engine, m1, secret="old secret"), forged):
        found = _match(engine, Reply(channel="email", sender="ap@harbour.example", recipients=(address,)))
        assert found == Match("C2", None, "sender"), address


def test_a_bounce_is_matched_by_the_message_it_reports_else_by_the_failed_address(
    engine: Engine, sent: dict[str, int]
) -> None:
    """A DSN comes from a mailer daemon: the original Message-ID in its report decides; without one,
    the failed recipient's address (never the daemon's)."""
    report = DeliveryReport(key_of(engine, sent["m1"]), C1_EMAIL, "failed", "5.1.1")
    dsn = Reply(channel="email", sender=f"mailer-daemon@mx.{DOMAIN}", delivery_reports=(report,))
    assert _match(engine, dsn) == Match("C1", sent["m1"], "dsn", (), ("I-1", "I-2"))
    unnamed = DeliveryReport(None, "ap@harbour.example", "failed", "5.1.1")
    dsn = Reply(channel="email", sender=f"mailer-daemon@mx.{DOMAIN}", delivery_reports=(unnamed,))
    assert _match(engine, dsn) == Match("C2", None, "dsn-recipient")
    stranger = DeliveryReport(None, "nobody@nowhere.example", "failed", "5.1.1")
    assert (
        _match(engine, Reply(channel="email", sender=C1_EMAIL, delivery_reports=(stranger,))).customer is None
    )


def test_an_sms_is_matched_by_the_number_and_a_shared_one_by_nobody(
    engine: Engine, sent: dict[str, int]
) -> None:
    """The sender's E.164 number names C1; a number S1 and S2 share names neither, both candidates;
    so does a shared e-mail address; an unknown number matches nothing."""
    assert _match(engine, Reply(channel="sms", sender=C1_PHONE)) == Match("C1", None, "phone")
    shared = _match(engine, Reply(channel="sms", sender="+8613900000000"))
    assert shared == Match(None, None, None, ("S1", "S2")) and shared.ambiguous
    assert _match(engine, Reply(channel="email", sender=SHARED)).candidates == ("S1", "S2")
    unknown = _match(engine, Reply(channel="sms", sender="+8613111111111"))
    assert unknown == Match(None) and not unknown.ambiguous
