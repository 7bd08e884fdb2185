"""Turn one outbox message into words: the template context, the rendered text, the Outgoing.

Amounts are formatted here (templates never format numbers), late fees are computed as of the send
date under the invoice's contract terms, and the banned-phrase check runs on everything rendered:
a hit means the message is not sent (:class:`BlockedContent`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypedDict

from bot.channels.base import Attachment, Outgoing
from bot.channels.gsm import gsm_friendly
from bot.config import Settings
from bot.domain.compliance import banned_phrase_hits
from bot.domain.fees import late_fee, terms_for
from bot.domain.ledger import Channel, Contract, Customer, Invoice
from bot.domain.money import format_amount
from bot.domain.policy import FeeTerms, LadderStep
from bot.outreach.reply_tag import reply_address, reply_tag, tag_secret
from bot.outreach.unsubscribe import unsubscribe_mailto, unsubscribe_url
from bot.render.context import (
    CompanyContext,
    ContractTerms,
    CurrencyTotal,
    CustomerContext,
    InvoiceLine,
    MessageContext,
    StepContext,
)
from bot.render.environment import render_email, render_letter, render_sms, render_task
from bot.render.notice import SignedNotice


class BlockedContent(Exception):
    """The rendered text contains a banned phrase: it must not be sent."""

    def __init__(self, hits: Sequence[str]) -> None:
        super().__init__(f"banned phrase(s) in the rendered message: {', '.join(hits)}")
        self.hits = list(hits)


@dataclass(frozen=True, slots=True)
class Composed:
    """A rendered message and what it is about."""

    outgoing: Outgoing
    context: MessageContext


def invoice_lines(
    invoices: Sequence[Invoice], contracts: Mapping[str, Contract], fees: FeeTerms, as_of: date
) -> tuple[list[InvoiceLine], list[CurrencyTotal]]:
    """The invoice table and per-currency totals, formatted for people."""
    lines: list[InvoiceLine] = []
    sums: dict[str, tuple[Decimal, Decimal]] = {}
    for invoice in sorted(invoices, key=lambda i: (i.due_date, i.number)):
        outstanding = invoice.outstanding_as_of(as_of)
        days = (as_of - invoice.due_date).days
        contract = contracts.get(invoice.contract_ref) if invoice.contract_ref else None
        fee = late_fee(outstanding, days, terms_for(contract, fees), invoice.currency)
        lines.append(
            InvoiceLine(
                number=invoice.number,
                currency=invoice.currency,
                amount=format_amount(invoice.amount, invoice.currency),
                outstanding=format_amount(outstanding, invoice.currency),
                issue_date=invoice.issue_date.isoformat(),
                due_date=invoice.due_date.isoformat(),
                days_overdue=days,
                late_fee=format_amount(fee, invoice.currency),
            )
        )
        total, total_fee = sums.get(invoice.currency, (Decimal(0), Decimal(0)))
        sums[invoice.currency] = (total + outstanding, total_fee + fee)
    totals = [
        CurrencyTotal(
            currency=currency,
            outstanding=format_amount(total, currency),
            late_fee=format_amount(fee, currency),
        )
        for currency, (total, fee) in sums.items()
    ]
    return lines, totals


def percent(rate: Decimal) -> str:
    """A rate as people write it: 0.001 -> "0.1%", 0.02 -> "2%", 0.0005 -> "0.05%"."""
    value = (rate * 100).normalize()
    text = f"{value:f}"
    return f"{text}%"


def contract_terms(
    invoices: Sequence[Invoice], contracts: Mapping[str, Contract], fees: FeeTerms
) -> list[ContractTerms]:
    """The terms each invoice of the message falls under, grouped by contract (default terms last)."""
    groups: dict[str, list[str]] = {}
    for invoice in sorted(invoices, key=lambda i: (i.due_date, i.number)):
        ref = invoice.contract_ref if invoice.contract_ref in contracts else ""
        groups.setdefault(ref or "", []).append(invoice.number)
    ordered = sorted(groups, key=lambda ref: (ref == "", ref))
    terms: list[ContractTerms] = []
    for ref in ordered:
        contract = contracts.get(ref) if ref else None
        applied = terms_for(contract, fees)
        terms.append(
            ContractTerms(
                ref=ref,
                invoices=groups[ref],
                grace_days=applied.grace_days,
                daily_rate=percent(applied.daily_rate),
                penalty_rate=percent(applied.penalty_rate),
                penalty_after_days=applied.penalty_after_days,
                jurisdiction=(contract.jurisdiction or "") if contract else "",
            )
        )
    return terms


def message_context(
    settings: Settings,
    customer: Customer,
    step: LadderStep,
    invoices: Sequence[Invoice],
    contracts: Mapping[str, Contract],
    as_of: date,
    reference: str,
    *,
    notice_attached: bool = False,
) -> MessageContext:
    """Everything a template may use (``bot/render/context.py``)."""
    company = settings.company.for_language(customer.language)
    fees = settings.fee_terms()  # not the whole planning policy: this runs once per message
    lines, totals = invoice_lines(invoices, contracts, fees, as_of)
    return MessageContext(
        company=CompanyContext(
            name=company.name,
            legal_name=company.legal_name,
            address=company.address,
            phone=company.phone,
            email=company.email,
            bank_account=company.bank_account,
            contact_person=company.contact_person,
        ),
        customer=CustomerContext(
            id=customer.id, name=customer.name, account_manager=customer.account_manager or ""
        ),
        step=StepContext(name=step.name, day=step.day),
        as_of=as_of.isoformat(),
        reference=reference,
        notice_attached=notice_attached,
        invoices=lines,
        totals=totals,
        contracts=contract_terms(invoices, contracts, fees),
    )


def compose(
    settings: Settings,
    *,
    key: str,
    channel: Channel,
    recipient: str,
    customer: Customer,
    step: LadderStep,
    invoices: Sequence[Invoice],
    contracts: Mapping[str, Contract],
    as_of: date,
    reference: str,
    notice: SignedNotice | None = None,
    message_row: int | None = None,
) -> Composed:
    """Render ``step`` for ``channel``; raises :class:`BlockedContent` on a banned phrase.

    With ``notice`` the signed PDF is attached (e-mail) or is the letter itself (letter), and the
    message takes the notice's reference number. ``message_row`` (the outbox row's id) gives an e-mail
    its per-message reply address (:mod:`bot.outreach.reply_tag`); a dry run has none.
    """
    if notice is not None:
        reference = notice.reference
    context = message_context(
        settings, customer, step, invoices, contracts, as_of, reference, notice_attached=notice is not None
    )
    language = customer.language.value
    name = step.template_name
    subject, html = "", None
    if channel is Channel.EMAIL:
        email = render_email(language, name, context)
        subject, text, html = email.subject, email.text, email.html
    elif channel is Channel.SMS:
        text = sms_text(render_sms(language, name, context), settings.sms.opt_out_for(customer.language))
    elif channel is Channel.VOICE:
        text = render_sms(language, name, context)
    elif channel is Channel.TASK:
        task = render_task(language, name, context)
        subject, text = task.title, task.body
    else:
        subject, text = reference, render_letter(language, name, context)
    hits = banned_phrase_hits(
        "\n".join(part for part in (subject, text, html or "") if part), settings.compliance.banned_phrases
    )
    if hits:
        raise BlockedContent(hits)
    attachments: tuple[Attachment, ...] = ()
    metadata = {"reference": reference}
    if notice is not None:
        attachments = (Attachment(notice.filename, "application/pdf", notice.pdf),)
        metadata["notice_sha256"] = notice.sha256
    headers = (
        email_headers(settings, key, context["company"]["name"], message_row=message_row)
        if channel is Channel.EMAIL
        else EmailHeaders(sender_name="", reply_to="", unsubscribe=())
    )
    outgoing = Outgoing(
        key=key,
        channel=channel,
        recipient=recipient,
        subject=subject,
        text=text,
        html=html,
        language=language,
        customer=customer.id,
        step=step.name,
        invoices=tuple(line["number"] for line in context["invoices"]),
        attachments=attachments,
        metadata=metadata,
        **headers,
    )
    return Composed(outgoing=outgoing, context=context)


def sms_text(rendered: str, opt_out_hint: str) -> str:
    """The SMS as sent: the rendered text, then the opt-out hint of its language as a sentence of its
    own, written in the GSM-7 alphabet when typography is all that keeps it from it."""
    if opt_out_hint:
        chinese = any("\u4e00" <= char <= "\u9fff" for char in opt_out_hint)
        stop = "" if rendered.endswith((".", "!", "?", "。", "！", "？")) else ("。" if chinese else ".")
        rendered = f"{rendered}{stop}{'' if chinese else ' '}{opt_out_hint}"
    return gsm_friendly(rendered)


class EmailHeaders(TypedDict):
    """The e-mail's own header values in :class:`Outgoing`."""

    sender_name: str
    reply_to: str
    unsubscribe: tuple[str, ...]


def email_headers(
    settings: Settings, key: str, company_name: str, *, message_row: int | None = None
) -> EmailHeaders:
    """From's display name (``[email] from_name``, else the company's name as the customer sees it),
    Reply-To and the List-Unsubscribe URIs: a mailto: to where replies go, and with an https
    ``[web] public_url`` a signed one-click link first (RFC 8058).

    With ``message_row`` replies go to the tagged address of this message (``[email] reply_to``, else
    ``from_address``, with ``+<tag>``), and so does the unsubscribe mailto:, so a reply and an
    unsubscribe e-mail are both matched to the message and its customer."""
    email, web = settings.email, settings.web
    replies = email.reply_to or email.from_address
    if message_row is not None:
        replies = reply_address(replies, reply_tag(tag_secret(settings), message_row, key))
    links = [unsubscribe_mailto(replies)]
    if web.public_url and web.public_url.startswith("https://") and web.session_secret_env:
        secret_value = os.environ.get(web.session_secret_env)
        if secret_value:  # the cycle's preflight refuses to start without it
            links.insert(0, unsubscribe_url(web.public_url, secret_value, key))
    return EmailHeaders(
        sender_name=email.from_name or company_name,
        reply_to=replies if message_row is not None else (email.reply_to or ""),
        unsubscribe=tuple(links),
    )
