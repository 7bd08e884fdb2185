"""Which customer (and which of our messages) a reply answers (DESIGN §11).

An e-mail, most certain first: the per-message tag of the address it was sent to
(:mod:`bot.outreach.reply_tag`, its check verified), then ``In-Reply-To``, then ``References`` (the
newest first), each against the Message-IDs of our e-mails; then the sender's address among the
customers' e-mail addresses. A bounce (RFC 3464) names the message that bounced: its reports'
original Message-ID comes first, then the headers as for any e-mail, then the address that failed
(never the sender: that is a mailer daemon). An SMS: the sender's number among the customers'.

An address or number that several customers share matches none of them: the candidates go to a
collector to choose (a reply is never acted on for the wrong customer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.domain.ledger import Channel
from bot.outreach.reply_tag import tag_matches, tagged_message
from bot.replies.model import Reply
from bot.store import tables

message_t = tables.Message.__table__  # type: ignore[attr-defined]
message_invoice_t = tables.MessageInvoice.__table__  # type: ignore[attr-defined]
customer_t = tables.Customer.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Match:
    """Whom a reply is from. ``customer`` is None when nobody matched, or several did (``candidates``)."""

    customer: str | None
    message: int | None = None  # the outbox message it answers (or that bounced)
    # tag | in-reply-to | references | dsn | dsn-recipient | sender | phone | collector; None: no match
    matched_by: str | None = None
    candidates: tuple[str, ...] = ()  # customers sharing the sender's address or number
    invoices: tuple[str, ...] = ()  # the invoices of ``message``, sorted

    @property
    def ambiguous(self) -> bool:
        """Several customers share the sender's address: a collector chooses."""
        return self.customer is None and len(self.candidates) > 1


NO_MATCH = Match(customer=None)


def match(connection: Connection, reply: Reply, *, secret: str) -> Match:
    """The customer and message ``reply`` answers; ``secret`` checks reply tags
    (:func:`bot.outreach.reply_tag.tag_secret`)."""
    if reply.channel == Channel.SMS.value:
        return _by_contact(connection, customer_t.c.phone, reply.sender, "phone")
    if reply.delivery_reports:
        originals = [r.original_message_id for r in reply.delivery_reports if r.original_message_id]
        found = _by_message_ids(connection, originals, "dsn")
        if found is not None:
            return found
    found = (
        _by_tag(connection, reply.recipients, secret)
        or _by_message_ids(connection, [reply.in_reply_to] if reply.in_reply_to else [], "in-reply-to")
        or _by_message_ids(connection, list(reversed(reply.references)), "references")
    )
    if found is not None:
        return found
    if reply.delivery_reports:
        for report in reply.delivery_reports:
            by_address = _by_contact(connection, customer_t.c.email, report.recipient, "dsn-recipient")
            if by_address.customer is not None or by_address.candidates:
                return by_address
        return NO_MATCH
    return _by_contact(connection, customer_t.c.email, reply.sender, "sender")


def _message_match(connection: Connection, row: sa.Row[tuple[object, ...]], matched_by: str) -> Match:
    invoices = connection.execute(
        sa.select(message_invoice_t.c.invoice_number)
        .where(message_invoice_t.c.message_id == row.id)
        .order_by(message_invoice_t.c.invoice_number)
    ).scalars()
    return Match(str(row.customer_id), int(str(row.id)), matched_by, (), tuple(str(i) for i in invoices))


def _by_tag(connection: Connection, recipients: Iterable[str], secret: str) -> Match | None:
    for address in recipients:
        tagged = tagged_message(address)
        if tagged is None:
            continue
        row = connection.execute(
            sa.select(message_t.c.id, message_t.c.customer_id, message_t.c.message_id).where(
                message_t.c.id == tagged[0], message_t.c.channel == Channel.EMAIL.value
            )
        ).first()
        # A tag whose check fails (mistyped, forged, or signed with a secret since changed) is
        # ignored: the headers and the sender are tried next.
        if row is not None and row.message_id and tag_matches(secret, str(row.message_id), tagged[1]):
            return _message_match(connection, row, "tag")
    return None


def _by_message_ids(connection: Connection, keys: list[str], matched_by: str) -> Match | None:
    for key in keys:
        wanted = key.strip()
        if not wanted:
            continue
        if not wanted.startswith("<"):
            wanted = f"<{wanted}>"
        row = connection.execute(
            sa.select(message_t.c.id, message_t.c.customer_id)
            .where(message_t.c.message_id == wanted, message_t.c.channel == Channel.EMAIL.value)
            .order_by(message_t.c.id)
            .limit(1)
        ).first()
        if row is not None:
            return _message_match(connection, row, matched_by)
    return None


def _by_contact(connection: Connection, column: sa.Column[str], address: str, matched_by: str) -> Match:
    wanted = address.strip().lower()
    if not wanted:
        return NO_MATCH
    ids = sorted(
        str(i)
        for i in connection.execute(
            sa.select(customer_t.c.id).where(sa.func.lower(sa.func.trim(column)) == wanted)
        ).scalars()
    )
    if len(ids) == 1:
        return Match(ids[0], None, matched_by)
    return Match(None, None, None, tuple(ids))
