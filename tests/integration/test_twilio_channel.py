"""The Twilio channel through the official client against a local Twilio-compatible server."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest

from bot.channels.base import Outgoing, Receipt, Sender
from bot.channels.twilio import REQUEST_KEY_HEADER, TwilioSmsSender, TwilioVoiceSender
from bot.domain.ledger import Channel
from bot.errors import (
    AmbiguousChannelError,
    ChannelError,
    PermanentChannelError,
    RecipientOptedOut,
    TransientChannelError,
)
from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioServer

FROM = "+14155550100"
TO = "+8613800138000"
CALLBACK = "https://dunbot.example.com/twilio/status"
SERVICE_SID = "MG" + "a" * 32

_T = TypeVar("_T")


def sms(
    key: str = "sms-key-0001", text: str = "Invoice INV-1001 is 15 days overdue.", **extra: Any
) -> Outgoing:
    return Outgoing(key=key, channel=Channel.SMS, recipient=TO, subject="", text=text, language="en", **extra)


def call(text: str, language: str, key: str = "voice-key-0001") -> Outgoing:
    return Outgoing(key=key, channel=Channel.VOICE, recipient=TO, subject="", text=text, language=language)


def sms_sender(server: TwilioServer, **overrides: Any) -> TwilioSmsSender:
    options: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": FROM,
        "status_callback_url": CALLBACK,
        "api_base_url": server.url,
        "timeout": 5.0,
    }
    options.update(overrides)
    return TwilioSmsSender(**options)


def voice_sender(server: TwilioServer, **overrides: Any) -> TwilioVoiceSender:
    options: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": FROM,
        "status_callback_url": CALLBACK,
        "api_base_url": server.url,
        "timeout": 5.0,
    }
    options.update(overrides)
    return TwilioVoiceSender(**options)


def run(sender: Sender, work: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``work`` and close the sender's connections afterwards, in one event loop."""

    async def main() -> _T:
        try:
            return await work()
        finally:
            await sender.aclose()

    return asyncio.run(main())


def send(sender: Sender, message: Outgoing) -> Receipt:
    return run(sender, lambda: sender.send(message))


def fail(sender: Sender, message: Outgoing) -> ChannelError:
    async def attempt() -> ChannelError:
        try:
            await sender.send(message)
        except ChannelError as exc:
            return exc
        raise AssertionError("send succeeded")

    return run(sender, attempt)


def artifacts_of(artifacts: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    assert set(artifacts) == {"request.json", "response.json"}
    return json.loads(artifacts["request.json"]), json.loads(artifacts["response.json"])


# --- SMS -----------------------------------------------------------------------------------------------


def test_sms_goes_through_the_real_client_with_exact_form_and_request_key(
    twilio_server: TwilioServer,
) -> None:
    sender = sms_sender(twilio_server)
    assert isinstance(sender, Sender)
    receipt = send(sender, sms(key="<dunbot-42-20260610@host>"))

    [seen] = twilio_server.requests
    assert seen.accepted
    assert seen.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert seen.form == {
        "To": TO,
        "From": FROM,
        "Body": "Invoice INV-1001 is 15 days overdue.",
        "StatusCallback": CALLBACK + "?key=%3Cdunbot-42-20260610%40host%3E",
    }
    assert parse_qs(urlsplit(seen.form["StatusCallback"]).query) == {"key": ["<dunbot-42-20260610@host>"]}
    assert seen.key == "<dunbot-42-20260610@host>"
    assert seen.headers[REQUEST_KEY_HEADER] == "<dunbot-42-20260610@host>"

    assert re.fullmatch(r"SM[0-9a-f]{32}", receipt.provider_id)
    assert receipt.provider_id == seen.sid
    assert receipt.provider_status == "queued"
    assert receipt.detail == {"segments": 1, "encoding": "GSM-7"}

    request, response = artifacts_of(receipt.artifacts)
    assert request["method"] == "POST"
    assert request["url"] == f"{twilio_server.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["form"] == seen.form
    assert request["headers"][REQUEST_KEY_HEADER] == "<dunbot-42-20260610@host>"
    assert not any(name.lower() == "authorization" for name in request["headers"])
    assert AUTH_TOKEN not in receipt.artifacts["request.json"].decode()
    assert response["status"] == 201
    assert json.loads(response["body"])["sid"] == receipt.provider_id


def test_sms_segments_prefer_num_segments_from_the_response(twilio_server: TwilioServer) -> None:
    twilio_server.num_segments_override = "3"
    receipt = send(sms_sender(twilio_server), sms(text="您好" * 40))  # 80 UCS-2 units: we count 2
    assert receipt.detail == {"segments": 3, "encoding": "UCS-2"}


def test_sms_long_chinese_text_counts_ucs2_segments(twilio_server: TwilioServer) -> None:
    receipt = send(sms_sender(twilio_server), sms(text="欠" * 71))
    assert receipt.detail == {"segments": 2, "encoding": "UCS-2"}
    assert twilio_server.accepted[0].form["Body"] == "欠" * 71


def test_messaging_service_sid_replaces_from(twilio_server: TwilioServer) -> None:
    sender = sms_sender(twilio_server, messaging_service_sid=SERVICE_SID, status_callback_url=None)
    receipt = send(sender, sms(text="a" * 161))

    [seen] = twilio_server.requests
    assert seen.form == {"To": TO, "MessagingServiceSid": SERVICE_SID, "Body": "a" * 161}
    # Twilio reports num_segments "0" until a service picks a sender: the computed count stands.
    assert receipt.detail == {"segments": 2, "encoding": "GSM-7"}
    assert receipt.provider_status == "accepted"


def test_status_callback_with_a_query_gets_the_key_appended(twilio_server: TwilioServer) -> None:
    sender = sms_sender(twilio_server, status_callback_url=CALLBACK + "?tenant=acme")
    send(sender, sms(key="k 1&2"))
    assert twilio_server.requests[0].form["StatusCallback"] == CALLBACK + "?tenant=acme&key=k+1%262"


# --- voice ---------------------------------------------------------------------------------------------


def test_voice_call_speaks_escaped_chinese_twiml(twilio_server: TwilioServer) -> None:
    text = '您好，发票 <INV-1001> & "逾期" 金额 ¥1,200'
    receipt = send(voice_sender(twilio_server), call(text, "zh-CN"))

    [seen] = twilio_server.requests
    assert seen.accepted and seen.resource == "Calls"
    assert seen.key == "voice-key-0001"
    assert set(seen.form) == {"To", "From", "Twiml", "StatusCallback"}
    assert seen.form["To"] == TO and seen.form["From"] == FROM
    assert seen.form["StatusCallback"] == CALLBACK + "?key=voice-key-0001"
    assert "&lt;INV-1001&gt; &amp;" in seen.form["Twiml"]

    root = ElementTree.fromstring(seen.form["Twiml"])
    assert root.tag == "Response"
    [say] = list(root)
    assert say.tag == "Say"
    assert say.attrib == {"language": "cmn-CN", "voice": "Polly.Zhiyu"}
    assert say.text == text

    assert re.fullmatch(r"CA[0-9a-f]{32}", receipt.provider_id)
    assert receipt.provider_status == "queued"
    assert receipt.detail == {"language": "cmn-CN", "voice": "Polly.Zhiyu"}
    request, response = artifacts_of(receipt.artifacts)
    assert request["form"]["Twiml"] == seen.form["Twiml"]
    assert response["status"] == 201


def test_voice_call_in_english(twilio_server: TwilioServer) -> None:
    send(voice_sender(twilio_server), call("Please pay invoice INV-1001.", "en"))
    say = ElementTree.fromstring(twilio_server.requests[0].form["Twiml"])[0]
    assert say.attrib == {"language": "en-US", "voice": "Polly.Joanna"}
    assert say.text == "Please pay invoice INV-1001."


# --- errors --------------------------------------------------------------------------------------------


def test_500_is_transient_and_the_retry_carries_the_same_key(twilio_server: TwilioServer) -> None:
    twilio_server.push(("status", 500))
    sender = sms_sender(twilio_server)
    message = sms(key="retry-key")

    async def twice() -> tuple[ChannelError, Receipt]:
        try:
            await sender.send(message)
        except ChannelError as exc:
            return exc, await sender.send(message)
        raise AssertionError("first send succeeded")

    error, receipt = run(sender, twice)
    assert type(error) is TransientChannelError
    assert error.code == "20500"
    request, response = artifacts_of(error.artifacts)
    assert request["headers"][REQUEST_KEY_HEADER] == "retry-key"
    assert response["status"] == 500
    assert json.loads(response["body"])["code"] == 20500

    seen = twilio_server.requests
    assert [r.key for r in seen] == ["retry-key", "retry-key"]
    assert [r.accepted for r in seen] == [False, True]
    assert receipt.provider_id == seen[1].sid


def test_21610_means_the_recipient_opted_out(twilio_server: TwilioServer) -> None:
    twilio_server.push(("twilio_error", 21610))
    error = fail(sms_sender(twilio_server), sms())
    assert isinstance(error, RecipientOptedOut)
    assert error.code == "21610"
    _, response = artifacts_of(error.artifacts)
    assert response["status"] == 400
    assert json.loads(response["body"]) == {
        "code": 21610,
        "message": "Attempt to send to unsubscribed recipient",
        "more_info": "https://www.twilio.com/docs/errors/21610",
        "status": 400,
    }


@pytest.mark.parametrize("code", [21211, 21614])
def test_invalid_number_is_permanent(twilio_server: TwilioServer, code: int) -> None:
    twilio_server.push(("twilio_error", code))
    error = fail(sms_sender(twilio_server), sms())
    assert type(error) is PermanentChannelError
    assert error.code == str(code)
    assert artifacts_of(error.artifacts)[1]["status"] == 400


def test_a_number_twilio_rejects_is_permanent_without_a_fault(twilio_server: TwilioServer) -> None:
    bad = Outgoing(key="k", channel=Channel.SMS, recipient="12345", subject="", text="hi", language="en")
    error = fail(sms_sender(twilio_server), bad)
    assert type(error) is PermanentChannelError
    assert error.code == "21211"


def test_20429_is_transient(twilio_server: TwilioServer) -> None:
    twilio_server.push(("twilio_error", 20429))
    error = fail(sms_sender(twilio_server), sms())
    assert type(error) is TransientChannelError
    assert error.code == "20429"
    assert artifacts_of(error.artifacts)[1]["status"] == 429


def test_plain_http_429_is_transient(twilio_server: TwilioServer) -> None:
    twilio_server.push(("status", 429))
    error = fail(voice_sender(twilio_server), call("hi", "en"))
    assert type(error) is TransientChannelError


def test_dropped_connection_is_ambiguous(twilio_server: TwilioServer) -> None:
    twilio_server.push(("drop",))
    error = fail(sms_sender(twilio_server), sms(key="dropped"))
    assert type(error) is AmbiguousChannelError
    request, response = artifacts_of(error.artifacts)
    assert request["headers"][REQUEST_KEY_HEADER] == "dropped"
    assert response["status"] is None and response["error"]
    assert [r.outcome for r in twilio_server.requests] == ["drop"]


def test_read_timeout_after_sending_is_ambiguous(twilio_server: TwilioServer) -> None:
    twilio_server.push(("delay", 1.5))
    error = fail(sms_sender(twilio_server, timeout=0.3), sms(key="slow"))
    assert type(error) is AmbiguousChannelError
    assert "ReadTimeout" in str(error)


def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM,
        api_base_url=f"http://127.0.0.1:{port}",
        timeout=2.0,
    )
    error = fail(sender, sms(key="refused"))
    assert type(error) is TransientChannelError
    request, response = artifacts_of(error.artifacts)
    assert request["headers"][REQUEST_KEY_HEADER] == "refused"
    assert response["status"] is None


def test_wrong_auth_token_is_permanent(twilio_server: TwilioServer) -> None:
    error = fail(sms_sender(twilio_server, auth_token="wrong-token"), sms())
    assert type(error) is PermanentChannelError
    assert error.code == "20003"
    assert artifacts_of(error.artifacts)[1]["status"] == 401
    assert [r.outcome for r in twilio_server.requests] == ["unauthorized"]
    assert "wrong-token" not in error.artifacts["request.json"].decode()


# --- concurrency ---------------------------------------------------------------------------------------


def test_thirty_concurrent_sends_are_each_recorded_once_with_their_own_key(
    twilio_server: TwilioServer,
) -> None:
    sender = sms_sender(twilio_server, connections=8)
    messages = [sms(key=f"key-{n:02d}", text=f"message {n:02d}") for n in range(30)]

    async def all_at_once() -> list[Receipt]:
        return list(await asyncio.gather(*(sender.send(m) for m in messages)))

    receipts = run(sender, all_at_once)

    seen = twilio_server.requests
    assert len(seen) == 30 and all(r.accepted for r in seen)
    assert sorted(r.key or "" for r in seen) == [m.key for m in messages]
    for request in seen:  # each request carried its own message's key, never a neighbour's
        assert request.form["Body"] == f"message {request.key[-2:]}"  # type: ignore[index]
        assert request.form["StatusCallback"].endswith(f"?key={request.key}")
    sid_by_key = {r.key: r.sid for r in seen}
    for message, receipt in zip(messages, receipts, strict=True):
        assert receipt.provider_id == sid_by_key[message.key]
        request, _ = artifacts_of(receipt.artifacts)
        assert request["headers"][REQUEST_KEY_HEADER] == message.key
        assert request["form"]["Body"] == message.text
