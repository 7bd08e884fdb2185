"""Signed notices in the outbox: one per step and day, shared by e-mail and letter, never skipped."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels.file import FileSender
from bot.channels.letter import LetterQueueSender
from bot.config import (
    ComplianceSettings,
    EmailSettings,
    EvidenceSettings,
    OutreachSettings,
    Settings,
    SigningSettings,
    SmsSettings,
)
from bot.domain.ledger import Channel
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.verify import verify_log
from bot.outreach.cycle import dry_run_cycle, run_cycle
from bot.render.verification import verify_notice_bytes
from bot.store import tables
from tests.conftest import require_cjk_font

AS_OF = date(2026, 6, 10)  # a Wednesday, a working day in China
NOON_SHANGHAI = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)


def _settings(tmp_path: Path, **signing: Any) -> Settings:
    return Settings(
        email=EmailSettings(transport="file", drop_dir="outbox/email", from_address="ar@xinghe.com.cn"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        compliance=ComplianceSettings(window="08:00-20:00"),
        outreach=OutreachSettings(retry_backoff_seconds=60),
        signing=SigningSettings(**signing),
        base_dir=tmp_path,
    )


def _seed(engine: Engine, language: str = "zh-CN") -> None:
    """C1 (cooperative) with I-15 at its formal notice today: an e-mail and a letter, both signed."""
    with Session(engine) as session:
        session.add(
            tables.Customer(
                id="C1",
                name="杭州远航贸易有限公司" if language == "zh-CN" else "Harbour Trading Ltd.",
                tier_override="cooperative",
                country="CN",
                timezone="Asia/Shanghai",
                language=language,
                email="ap@yuanhang.com.cn",
                phone="+8613800138000",
                address="杭州市西湖区文三路 1 号",
            )
        )
        session.flush()
        session.add(
            tables.Invoice(
                number="I-15",
                customer_id="C1",
                currency="CNY",
                amount=Decimal("20000.00"),
                issue_date=date(2026, 4, 1),
                due_date=AS_OF - timedelta(days=15),
            )
        )
        session.commit()


def _cycle(engine: Engine, settings: Settings, now: datetime) -> Any:
    senders: dict[Channel, Any] = {
        Channel.EMAIL: FileSender(
            Channel.EMAIL, settings.path("outbox/email"), from_address="ar@xinghe.com.cn"
        ),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
        Channel.LETTER: LetterQueueSender(settings.path("outbox/letters")),
    }
    return asyncio.run(run_cycle(engine, settings, AS_OF, clock=lambda: now, exclusive=True, senders=senders))


def _states(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT step, channel, state FROM message")).all()
    return {f"{r.step}/{r.channel}": r.state for r in rows}


def _events(engine: Engine, kind: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        bodies = connection.execute(
            sa.text("SELECT body FROM evidence_event WHERE kind = :kind ORDER BY seq"), {"kind": kind}
        ).scalars()
        return [json.loads(body) for body in bodies]


def test_the_email_and_the_letter_carry_one_signed_notice(
    engine: Engine, tmp_path: Path, trial_certificate: Any
) -> None:
    require_cjk_font()
    settings = _settings(tmp_path, pkcs12=str(trial_certificate.pkcs12))
    _seed(engine)
    _cycle(engine, settings, NOON_SHANGHAI)
    assert _states(engine) == {"formal_notice/email": "sent", "formal_notice/letter": "sent"}
    (rendered,) = _events(engine, "notice_rendered")
    digest = rendered["data"]["notice_sha256"]
    sent = _events(engine, "message_sent")
    assert [s["data"]["notice_sha256"] for s in sent] == [digest, digest]
    assert {s["data"]["reference"] for s in sent} == {rendered["data"]["reference"]}
    pdf = ArtifactStore(settings.path("artifacts")).get(digest)
    assert verify_notice_bytes(pdf, "notice.pdf").ok
    letter = settings.path("outbox/letters") / f"{rendered['data']['reference']}.pdf"
    assert letter.read_bytes() == pdf

    _cycle(engine, settings, NOON_SHANGHAI + timedelta(hours=1))  # the same day again
    assert len(_events(engine, "notice_rendered")) == 1  # never rendered or signed twice
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM notice")).scalar_one() == 1
        report = verify_log(connection, ArtifactStore(settings.path("artifacts")))
    assert report.ok, report.problems


def test_without_a_certificate_nothing_is_sent_and_a_person_is_told(engine: Engine, tmp_path: Path) -> None:
    settings = _settings(tmp_path)  # no [signing] pkcs12
    _seed(engine)
    _cycle(engine, settings, NOON_SHANGHAI)
    assert _states(engine) == {"formal_notice/email": "failed", "formal_notice/letter": "failed"}
    assert not settings.path("outbox/email").exists() and not settings.path("outbox/letters").exists()
    failed = _events(engine, "message_failed")
    assert all("[signing] pkcs12" in f["data"]["reason"] for f in failed)
    with engine.connect() as connection:
        reviews = connection.execute(sa.text("SELECT title FROM task WHERE kind = 'review'")).scalars().all()
    assert len(reviews) == 2 and all("signed notice" in title for title in reviews)


def test_a_missing_font_fails_the_message_with_the_setting_named(
    engine: Engine, tmp_path: Path, trial_certificate: Any
) -> None:
    from bot.render.fonts import BUNDLED_LATIN

    settings = _settings(tmp_path, pkcs12=str(trial_certificate.pkcs12), cjk_font=str(BUNDLED_LATIN))
    _seed(engine)
    _cycle(engine, settings, NOON_SHANGHAI)
    assert set(_states(engine).values()) == {"failed"}
    reasons = [f["data"]["reason"] for f in _events(engine, "message_failed")]
    assert all("no glyph for" in r and "cjk_font" in r for r in reasons), reasons


def test_a_tsa_outage_holds_the_message_and_it_goes_out_later(
    engine: Engine, tmp_path: Path, trial_certificate: Any, tsa_server: Any
) -> None:
    require_cjk_font()
    settings = _settings(tmp_path, pkcs12=str(trial_certificate.pkcs12), tsa_url=tsa_server.url)
    _seed(engine)
    tsa_server.failing = True
    _cycle(engine, settings, NOON_SHANGHAI)
    assert _states(engine) == {"formal_notice/email": "planned", "formal_notice/letter": "planned"}
    with engine.connect() as connection:
        errors = connection.execute(sa.text("SELECT last_error FROM message")).scalars().all()
    assert all("timestamp authority" in e for e in errors), errors
    assert _events(engine, "message_failed") == [] and _events(engine, "notice_rendered") == []

    tsa_server.failing = False
    _cycle(engine, settings, NOON_SHANGHAI + timedelta(minutes=2))  # after the backoff
    assert _states(engine) == {"formal_notice/email": "sent", "formal_notice/letter": "sent"}
    (rendered,) = _events(engine, "notice_rendered")
    assert rendered["data"]["timestamped"] is True


def test_a_dry_run_renders_the_notices_and_reports_a_broken_font(
    engine: Engine, tmp_path: Path, trial_certificate: Any
) -> None:
    from bot.render.fonts import BUNDLED_LATIN

    _seed(engine)
    require_cjk_font()
    good = _settings(tmp_path, pkcs12=str(trial_certificate.pkcs12))
    messages, _ = dry_run_cycle(engine, good, AS_OF)
    assert {(m.channel, m.blocked) for m in messages} == {("email", ""), ("letter", "")}
    broken = _settings(tmp_path, pkcs12=str(trial_certificate.pkcs12), cjk_font=str(BUNDLED_LATIN))
    messages, _ = dry_run_cycle(engine, broken, AS_OF)
    assert all("no glyph for" in m.blocked for m in messages) and len(messages) == 2
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM notice")).scalar_one() == 0
        assert connection.execute(sa.text("SELECT count(*) FROM message")).scalar_one() == 0
