"""Who a message comes from and how to stop it, as the servers receive it (issue 16, deliverables 3, 10).

English customers see the company as ``[company.en]`` writes it; e-mails carry a display name,
Reply-To and List-Unsubscribe (one-click under an https ``[web] public_url``); every SMS ends with the
opt-out hint of its language, and an English one stays GSM-7. Real cycles against the aiosmtpd server
(STARTTLS, AUTH) and the Twilio-compatible server, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.channels.gsm import sms_segments
from bot.config import (
    CompanyInLanguage,
    CompanySettings,
    ComplianceSettings,
    EmailSettings,
    EvidenceSettings,
    Settings,
    SigningSettings,
    SmsSettings,
    WebSettings,
)
from bot.domain.ledger import Channel
from bot.outreach.cycle import run_cycle
from bot.outreach.reply_tag import reply_tag, tagged_message
from bot.outreach.unsubscribe import token_matches
from bot.store import tables
from tests.integration.test_outbox import (
    AS_OF,
    NOON_SHANGHAI,
    RunningClock,
    _messages,
    _seed,
    _smtp_settings,
    _twilio_settings,
)

SECRET_ENV = "DUNBOT_TEST_SESSION_SECRET"
SECRET = "a-session-secret-for-the-test"
PUBLIC_URL = "https://dunbot.xinghe.example"
ENGLISH = CompanyInLanguage(
    name="Xinghe Precision",
    legal_name="Shanghai Xinghe Precision Machinery Co., Ltd.",
    address="88 Zhangjiang Road, Pudong, Shanghai",
    bank_account="ICBC Zhangjiang Branch, A/C 1001 2345 6789 0123, SWIFT ICBKCNBJSHI",
)
HARBOUR = {
    "name": "Harbour Trading Ltd.",
    "country": "GB",
    "timezone": "Europe/London",
    "language": "en",
    "email": "ap@harbour.example.co.uk",
    "phone": "+447700900123",
    "address": "1 Dock Street, London E1 8JN",
}


@pytest.fixture
def settings(tmp_path: Path, trial_certificate: Any, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return Settings(
        company=CompanySettings(en=ENGLISH),
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(
            transport="file",
            drop_dir="outbox/email",
            from_address="ar@xinghe.com.cn",
            reply_to="replies@xinghe.com.cn",
        ),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        web=WebSettings(public_url=PUBLIC_URL, session_secret_env=SECRET_ENV),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        compliance=ComplianceSettings(window="00:00-23:59"),  # London is asleep at noon in Shanghai
        base_dir=tmp_path,
    )


def _email_cycle(engine: Engine, settings: Settings, smtp_server: Any) -> Any:
    quick, senders = _smtp_settings(settings, smtp_server)

    async def cycle() -> None:
        try:
            await run_cycle(
                engine, quick, AS_OF, clock=RunningClock(NOON_SHANGHAI), exclusive=True, senders=senders
            )  # type: ignore[arg-type]
        finally:
            await senders[Channel.EMAIL].aclose()  # type: ignore[attr-defined]

    asyncio.run(cycle())
    assert _messages(engine)["due_statement/email"] == ("sent", 1)
    (received,) = smtp_server.received
    return received


def _message_rows(engine: Engine) -> list[Any]:
    """The e-mails in the outbox."""
    message_t = tables.Message.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return list(connection.execute(sa.select(message_t).where(message_t.c.channel == "email")).all())


def _raw_header(raw: bytes, name: str) -> str:
    """A header as it came over the wire, unfolded, before any parser decoded it."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ")
    (line,) = [line for line in unfolded.split("\r\n") if line.lower().startswith(name.lower() + ":")]
    return line.split(":", 1)[1].strip()


def test_an_english_customer_gets_the_english_company_and_every_header(
    engine: Engine, settings: Settings, smtp_server: Any
) -> None:
    _seed(engine, **HARBOUR)
    received = _email_cycle(engine, settings, smtp_server)
    message = received.parsed
    assert received.sender == "ar@xinghe.com.cn"  # the envelope keeps the bare address
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Xinghe Precision", "ar@xinghe.com.cn")
    assert _raw_header(received.raw, "From") == "Xinghe Precision <ar@xinghe.com.cn>"
    # Replies go to this message's tagged address (issue 20), and so does the unsubscribe mailto:.
    (row,) = _message_rows(engine)
    tagged = f"replies+{reply_tag(SECRET, row.id, received.message_id)}@xinghe.com.cn"
    assert str(message["Reply-To"]) == tagged
    assert tagged_message(tagged) is not None
    links = [link.strip().strip("<>") for link in _raw_header(received.raw, "List-Unsubscribe").split(",")]
    https, mailto = links
    assert mailto == f"mailto:{tagged}?subject=unsubscribe"
    parts = urlsplit(https)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "dunbot.xinghe.example", "/unsubscribe")
    query = parse_qs(parts.query)
    assert unquote(query["m"][0]) == received.message_id.strip("<>")
    assert token_matches(SECRET, received.message_id, query["t"][0])
    assert not token_matches("another secret", received.message_id, query["t"][0])
    assert _raw_header(received.raw, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    assert ENGLISH.bank_account in text and "Xinghe Precision" in text
    assert "示例" not in text and "中国工商银行" not in text  # nothing of the Chinese [company]


def test_a_chinese_customer_gets_the_chinese_name_rfc2047_encoded(
    engine: Engine, settings: Settings, smtp_server: Any
) -> None:
    plain = settings.model_copy(
        update={"web": WebSettings(), "email": settings.email.model_copy(update={"reply_to": None})}
    )
    _seed(engine)
    received = _email_cycle(engine, plain, smtp_server)
    raw_from = _raw_header(received.raw, "From")
    assert raw_from.startswith("=?utf-8?b?") and raw_from.endswith(" <ar@xinghe.com.cn>")
    assert str(make_header(decode_header(raw_from))) == "示例贸易有限公司 <ar@xinghe.com.cn>"
    # Without [email] reply_to, replies go to the sender's address, tagged for this message.
    (row,) = _message_rows(engine)
    tagged = f"ar+{reply_tag('', row.id, received.message_id)}@xinghe.com.cn"
    assert str(received.parsed["Reply-To"]) == tagged
    # Without an https public_url: a mailto: to that address, and no one-click promise.
    assert _raw_header(received.raw, "List-Unsubscribe") == f"<mailto:{tagged}?subject=unsubscribe>"
    assert received.parsed["List-Unsubscribe-Post"] is None


def test_a_configured_from_name_is_used_for_every_language(
    engine: Engine, settings: Settings, smtp_server: Any
) -> None:
    named = settings.model_copy(
        update={"email": settings.email.model_copy(update={"from_name": "Xinghe AR, Accounts"})}
    )
    _seed(engine, **HARBOUR)
    received = _email_cycle(engine, named, smtp_server)
    assert _raw_header(received.raw, "From") == '"Xinghe AR, Accounts" <ar@xinghe.com.cn>'


def _sms_body(engine: Engine, settings: Settings, twilio_server: Any) -> str:
    quick, senders = _twilio_settings(settings, twilio_server)
    asyncio.run(
        run_cycle(engine, quick, AS_OF, clock=RunningClock(NOON_SHANGHAI), exclusive=True, senders=senders)
    )  # type: ignore[arg-type]
    (request,) = twilio_server.requests
    assert request.accepted
    return str(request.form["Body"])


def test_an_english_sms_names_the_english_company_ends_with_stop_and_stays_gsm7(
    engine: Engine, settings: Settings, twilio_server: Any
) -> None:
    # Typography pasted into the config (a curly apostrophe, an en dash) must not make it UCS-2.
    curly = ENGLISH.model_copy(update={"name": "Xinghe’s Precision – AR"})
    typographic = settings.model_copy(update={"company": CompanySettings(en=curly)})
    _seed(engine, **HARBOUR)
    body = _sms_body(engine, typographic, twilio_server)
    assert body.startswith("Xinghe's Precision - AR: ")
    assert ENGLISH.bank_account in body and "示例" not in body
    assert body.endswith(". Reply STOP to opt out")
    segments, encoding = sms_segments(body)
    assert encoding == "GSM-7" and segments <= 2, body


def test_without_company_en_an_english_sms_carries_the_chinese_company(
    engine: Engine, settings: Settings, twilio_server: Any
) -> None:
    # What [company.en] fixes: the Chinese name and bank account force UCS-2 (check-config warns).
    bare = settings.model_copy(update={"company": CompanySettings()})
    _seed(engine, **HARBOUR)
    body = _sms_body(engine, bare, twilio_server)
    assert body.startswith("示例贸易有限公司: ") and sms_segments(body)[1] == "UCS-2"


def test_a_chinese_sms_ends_with_its_own_hint_and_the_hint_can_be_turned_off(
    engine: Engine, settings: Settings, twilio_server: Any
) -> None:
    _seed(engine)
    body = _sms_body(engine, settings, twilio_server)
    assert body.startswith("【示例贸易有限公司】") and body.endswith("咨询+86 21 5555 0100。回复TD退订")


def test_no_hint_when_opt_out_hint_is_off(engine: Engine, settings: Settings, twilio_server: Any) -> None:
    silent = settings.model_copy(update={"sms": SmsSettings(transport="file", opt_out_hint=False)})
    _seed(engine, **HARBOUR)
    body = _sms_body(engine, silent, twilio_server)
    assert "STOP" not in body and body.endswith("Call +86 21 5555 0100")
