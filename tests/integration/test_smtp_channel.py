"""The SMTP channel against a real aiosmtpd server on 127.0.0.1 with STARTTLS and AUTH."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.channels.base import Attachment, Outgoing
from bot.channels.smtp import SmtpSender
from bot.domain.ledger import Channel
from bot.errors import AmbiguousChannelError, PermanentChannelError, TransientChannelError
from tests.support.smtp_server import PASSWORD, USERNAME, SmtpServer

FROM = "ar@xinghe.com.cn"


def _message(n: int = 1, **changes: Any) -> Outgoing:
    fields: dict[str, Any] = {
        "key": f"<dunbot.{n}.20261123@xinghe.com.cn>",
        "channel": Channel.EMAIL,
        "recipient": f"ap{n}@yuanhang.com.cn",
        "subject": "正式催款函 — 发票 INV-2026-0001",
        "text": "杭州远航贸易有限公司:\n\n截至 2026-11-23,贵司仍有下列款项逾期未付。\n",
        "html": "<p>杭州远航贸易有限公司:</p><p>截至 2026-11-23,贵司仍有下列款项逾期未付。</p>",
        "language": "zh-CN",
        "customer": "C-0001",
        "step": "formal_notice",
        "invoices": ("INV-2026-0001",),
    }
    fields.update(changes)
    return Outgoing(**fields)


def _sender(server: SmtpServer, **changes: Any) -> SmtpSender:
    options: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "starttls": True,
        "username": USERNAME,
        "password": PASSWORD,
        "from_address": FROM,
        "timeout": 5.0,
        "tls_context": server.client_context(),
    }
    options.update(changes)
    return SmtpSender(**options)


def _send(sender: SmtpSender, *messages: Outgoing) -> list[Any]:
    async def run() -> list[Any]:
        try:
            return list(await asyncio.gather(*(sender.send(m) for m in messages), return_exceptions=True))
        finally:
            await sender.aclose()

    return asyncio.run(run())


def test_a_message_arrives_as_the_evidence_says(smtp_server: SmtpServer) -> None:
    pdf = Attachment("notice.pdf", "application/pdf", b"%PDF-1.7 demo bytes")
    (receipt,) = _send(_sender(smtp_server), _message(attachments=(pdf,)))
    assert receipt.provider_id == "<dunbot.1.20261123@xinghe.com.cn>"
    assert receipt.detail["reply"].startswith("250")
    # the server's own reply to the content, kept as the e-mail's delivery proof
    reply = json.loads(receipt.artifacts["smtp_reply.json"])
    assert reply["code"] == 250 and reply["text"] == "2.0.0 OK queued as 0001"
    assert reply["message_id"] == receipt.provider_id and reply["server"].endswith(f":{smtp_server.port}")
    assert receipt.detail["reply"] == f"250 {reply['text']}"
    (received,) = smtp_server.received
    assert received.raw == receipt.artifacts["message.eml"]  # byte for byte what the evidence holds
    parsed = received.parsed
    assert parsed["Message-ID"] == "<dunbot.1.20261123@xinghe.com.cn>"
    assert parsed["Subject"] == "正式催款函 — 发票 INV-2026-0001"
    assert parsed["X-Dunbot-Invoices"] == "INV-2026-0001"
    assert received.recipients == ["ap1@yuanhang.com.cn"] and received.sender == FROM
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None and "逾期未付" in text.get_content()
    assert html is not None and "<p>杭州远航贸易有限公司" in html.get_content()
    (attached,) = list(parsed.iter_attachments())
    assert attached.get_filename() == "notice.pdf" and attached.get_content() == pdf.data


def test_421_is_transient_and_the_retry_keeps_the_message_id(smtp_server: SmtpServer) -> None:
    smtp_server.push("421")
    sender = _sender(smtp_server)

    async def twice() -> list[Any]:
        results: list[Any] = []
        for _ in range(2):
            try:
                results.append(await sender.send(_message()))
            except TransientChannelError as exc:
                results.append(exc)
        await sender.aclose()
        return results

    first, second = asyncio.run(twice())
    assert isinstance(first, TransientChannelError) and first.code == "421"
    assert "message.eml" in first.artifacts
    assert second.provider_id == "<dunbot.1.20261123@xinghe.com.cn>"
    assert [r.message_id for r in smtp_server.received] == ["<dunbot.1.20261123@xinghe.com.cn>"]


def test_550_is_permanent_and_nothing_is_stored(smtp_server: SmtpServer) -> None:
    smtp_server.push("550")
    (error,) = _send(_sender(smtp_server), _message())
    assert isinstance(error, PermanentChannelError) and error.code == "550"
    assert smtp_server.received == []


def test_a_connection_dropped_after_data_is_ambiguous(smtp_server: SmtpServer) -> None:
    smtp_server.push("drop_after_data")
    (error,) = _send(_sender(smtp_server), _message())
    assert isinstance(error, AmbiguousChannelError)
    assert len(smtp_server.received) == 1  # the server did get it: exactly why it must not be resent


def test_a_wrong_password_is_permanent(smtp_server: SmtpServer) -> None:
    (error,) = _send(_sender(smtp_server, password="wrong"), _message())
    assert isinstance(error, PermanentChannelError) and error.code == "535"
    assert "refused the login" in str(error)


def test_a_server_that_is_down_is_transient(smtp_server: SmtpServer) -> None:
    sender = _sender(smtp_server)
    smtp_server.stop()
    (error,) = _send(sender, _message())
    assert isinstance(error, TransientChannelError)
    assert "cannot open an SMTP session" in str(error)


def test_starttls_required_but_not_offered_is_refused() -> None:
    plain = SmtpServer(require_tls=False).start()
    try:
        (error,) = _send(_sender(plain), _message())
    finally:
        plain.stop()
    assert isinstance(error, PermanentChannelError) and "does not offer STARTTLS" in str(error)
    assert plain.received == []


def test_an_untrusted_certificate_is_not_accepted(smtp_server: SmtpServer) -> None:
    (error,) = _send(_sender(smtp_server, tls_context=None), _message())
    assert isinstance(error, TransientChannelError)
    assert smtp_server.received == []


def test_many_concurrent_sends_each_arrive_once(smtp_server: SmtpServer) -> None:
    results = _send(_sender(smtp_server, connections=4), *(_message(n) for n in range(50)))
    assert all(not isinstance(r, BaseException) for r in results), results
    ids = [r.message_id for r in smtp_server.received]
    assert len(ids) == 50 and len(set(ids)) == 50


@pytest.mark.parametrize("fault", ["421", "550"])
def test_the_connection_is_reused_after_a_refusal(smtp_server: SmtpServer, fault: str) -> None:
    smtp_server.push(fault)
    results = _send(_sender(smtp_server), _message(1), _message(2))
    assert isinstance(results[0], TransientChannelError | PermanentChannelError)
    assert results[1].provider_id == "<dunbot.2.20261123@xinghe.com.cn>"


def _one_by_one(sender: SmtpSender, *messages: Outgoing) -> list[Any]:
    """Send in order over the same sender (and so the same kept-open connection)."""

    async def run() -> list[Any]:
        results: list[Any] = []
        try:
            for message in messages:
                try:
                    results.append(await sender.send(message))
                except Exception as exc:
                    results.append(exc)
        finally:
            await sender.aclose()
        return results

    return asyncio.run(run())


def test_a_reply_slower_than_the_timeout_after_data_is_ambiguous() -> None:
    server = SmtpServer(slow_seconds=1.5).start()
    try:
        server.push("slow")
        (error,) = _send(_sender(server, timeout=0.5), _message())
    finally:
        server.stop()
    assert isinstance(error, AmbiguousChannelError) and "may have accepted" in str(error)
    assert error.artifacts["message.eml"].startswith(b"Content-Type: multipart/alternative")
    assert [r.message_id for r in server.received] == ["<dunbot.1.20261123@xinghe.com.cn>"]


def test_a_connection_lost_before_354_is_transient(smtp_server: SmtpServer) -> None:
    smtp_server.push("drop_before_354")
    first, second = _one_by_one(_sender(smtp_server), _message(), _message())
    assert isinstance(first, TransientChannelError) and "before the message was sent" in str(first)
    assert "message.eml" in first.artifacts
    assert second.provider_id == "<dunbot.1.20261123@xinghe.com.cn>"
    assert [r.message_id for r in smtp_server.received] == ["<dunbot.1.20261123@xinghe.com.cn>"]


def test_a_kept_connection_found_dead_is_replaced_silently(smtp_server: SmtpServer) -> None:
    sender = _sender(smtp_server)

    async def run() -> list[Any]:
        results: list[Any] = [await sender.send(_message(1))]
        smtp_server.push("drop_at_mail")  # the kept-open connection dies at the next MAIL FROM
        results.append(await sender.send(_message(2)))
        await sender.aclose()
        return results

    first, second = asyncio.run(run())
    assert first.provider_id == "<dunbot.1.20261123@xinghe.com.cn>"
    assert second.provider_id == "<dunbot.2.20261123@xinghe.com.cn>"
    assert smtp_server.faults == []  # the fault did strike, on the kept-open connection
    assert len(smtp_server.received) == 2


def test_a_fresh_connection_lost_at_mail_is_transient(smtp_server: SmtpServer) -> None:
    smtp_server.push("drop_at_mail")  # no kept-open connection to blame: reported, not retried
    first, second = _one_by_one(_sender(smtp_server), _message(1), _message(2))
    assert isinstance(first, TransientChannelError) and "before the message was sent" in str(first)
    assert second.provider_id == "<dunbot.2.20261123@xinghe.com.cn>"
    assert [r.message_id for r in smtp_server.received] == ["<dunbot.2.20261123@xinghe.com.cn>"]


def test_the_next_message_after_an_ambiguous_drop_goes_over_a_new_connection(smtp_server: SmtpServer) -> None:
    smtp_server.push("drop_after_data")
    first, second = _one_by_one(_sender(smtp_server), _message(1), _message(2))
    assert isinstance(first, AmbiguousChannelError)
    assert second.provider_id == "<dunbot.2.20261123@xinghe.com.cn>"
    assert len(smtp_server.received) == 2


def test_a_bare_key_still_gives_one_stable_message_id(smtp_server: SmtpServer) -> None:
    smtp_server.push("421")
    first, second = _one_by_one(_sender(smtp_server), _message(key="dunbot-7"), _message(key="dunbot-7"))
    assert isinstance(first, TransientChannelError)
    assert b"Message-ID: <dunbot-7>\r\n" in first.artifacts["message.eml"]
    assert second.provider_id == "<dunbot-7>"
    assert [r.message_id for r in smtp_server.received] == ["<dunbot-7>"]


def test_lines_starting_with_a_dot_arrive_unchanged(smtp_server: SmtpServer) -> None:
    text = "Zeile eins\n.\n.. zwei Punkte\n.ende\n"
    (receipt,) = _send(_sender(smtp_server), _message(text=text, html=None, subject="Mahnung"))
    (received,) = smtp_server.received
    assert received.raw == receipt.artifacts["message.eml"]
    body = received.parsed.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == text
