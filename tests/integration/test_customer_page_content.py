"""The customer page's messages as they were sent: the e-mail and SMS read back from the artifact
store, the signed notice each carried and its PDF for exactly the people who may see the customer,
on real SQLite and PostgreSQL, over a ledger the real planner and outbox worked
(tests/support/customer_story.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.evidence.artifacts import ArtifactStore
from bot.outreach.message_detail import show_message
from bot.outreach.tasks import list_tasks
from bot.render.verification import verify_notice_bytes
from bot.reporting.customer_messages import SentContent, message_visible, read_content, signed_notice
from bot.reporting.customer_page import CustomerPage, TimelineEvent, customer_page
from bot.reporting.visibility import Role, Viewer
from tests.conftest import require_cjk_font
from tests.support.customer_story import AS_OF, LI_NA, NOON, PROMISED_ON, WANG_WEI, story_settings, tell_story

MANAGER = Viewer("boss@xinghe.com.cn", Role.MANAGER)
LEGAL = Viewer("lawyer@xinghe.com.cn", Role.LEGAL)
ADMIN = Viewer("admin@xinghe.com.cn", Role.ADMIN)
LI = Viewer(LI_NA, Role.COLLECTOR)
WANG = Viewer(WANG_WEI, Role.COLLECTOR)


@pytest.fixture
def settings(tmp_path: Path, trial_certificate: Any) -> Settings:
    return story_settings(tmp_path, trial_certificate.pkcs12)


@pytest.fixture
def story(engine: Engine, settings: Settings) -> Engine:
    require_cjk_font()
    tell_story(engine, settings)
    return engine


def _page(engine: Engine, settings: Settings, customer: str = "C1", **kwargs: Any) -> CustomerPage:
    page = customer_page(engine, settings, MANAGER, customer, AS_OF, NOON, **kwargs)
    assert page is not None
    return page


def _sent(page: CustomerPage, channel: str) -> TimelineEvent:
    (event,) = [e for e in page.timeline.events if e.kind == "message_sent" and e.channel == channel]
    return event


def test_each_message_shows_what_it_said_and_the_notice_it_carried(story: Engine, settings: Settings) -> None:
    page = _page(story, settings, limit=500)
    sms = _sent(page, "sms")
    assert sms.step == "collection_call" and sms.notice is None and sms.content is not None
    # exactly the text the SMS channel wrote
    written = [json.loads(f.read_text()) for f in settings.path("outbox/sms").glob("*.json")]
    (dropped,) = [w for w in written if w["customer"] == "C1"]
    assert sms.content.text == dropped["body"] and "INV-C1-15" in sms.content.text
    assert dict(sms.content.headers) == {"To": "+8613800138000"}

    mail = _sent(page, "email")
    assert mail.step == "formal_notice" and mail.content is not None and mail.notice is not None
    assert mail.content.subject.startswith("正式催款函") and "INV-C1-15" in mail.content.text
    assert dict(mail.content.headers)["To"] == "ap@c1.example.cn"
    assert mail.content.attachments == (f"{mail.notice.reference}.pdf",)
    # the same content `dunbot message show` prints
    assert mail.message is not None
    shown = show_message(story, settings, mail.message.id, NOON)
    assert shown.content is not None
    assert (shown.content.subject, shown.content.text) == (mail.content.subject, mail.content.text)
    assert shown.signed_pdf is not None and shown.signed_pdf.sha256 == mail.notice.sha256

    letter = _sent(page, "letter")  # the letter is its PDF: the same signed notice, no text
    assert letter.content is None and letter.notice == mail.notice
    assert mail.notice.pages >= 1 and mail.notice.signer and mail.notice.language == "zh-CN"

    kinds = [e.kind for e in page.timeline.events]
    assert kinds[:3] == ["payment", "task_done", "promise"]
    promise = page.timeline.events[2]
    assert promise.summary["en"].startswith(f"to pay by {PROMISED_ON}")
    assert promise.summary["zh-CN"].startswith(f"承诺于 {PROMISED_ON} 付款")
    assert "2000.00" in page.timeline.events[0].summary["en"]
    for event in page.timeline.events:  # only C1's events, every one worded in both languages
        assert event.label["zh-CN"] and event.label["en"] and event.summary["zh-CN"] and event.summary["en"]
    (owed, soon) = page.open_invoices
    assert (owed.number, owed.promise_date, soon.number, str(soon.outstanding)) == (
        "INV-C1-15",
        PROMISED_ON,
        "INV-C1-NEXT",
        "3000.00",
    )
    assert (page.account_manager, page.assigned_to, str(page.credit_limit)) == (LI_NA, None, "80000.00")
    assert (page.tier, page.tier_overridden, page.score, page.scored_tier) == (
        "cooperative",
        True,
        None,
        None,
    )
    # a `before` past every event is the newest page; nothing is older than the first event
    assert _page(story, settings, before=10**17).timeline == _page(story, settings).timeline
    assert _page(story, settings, before=1).timeline.events == ()


def test_a_missing_artifact_leaves_the_page_standing(story: Engine, settings: Settings) -> None:
    sms = _sent(_page(story, settings, limit=500), "sms")
    (digest,) = sms.data["artifacts"].values()
    stored = settings.path("artifacts") / digest[:2] / digest[2:4] / digest
    stored.chmod(0o644)
    stored.unlink()
    again = _sent(_page(story, settings, limit=500), "sms")
    assert again.content is None and again.seq == sms.seq


def test_the_signed_pdf_only_for_a_visible_customers_own_message(story: Engine, settings: Settings) -> None:
    c1 = _sent(_page(story, settings, limit=500), "email")
    c2 = _sent(_page(story, settings, "C2", limit=500), "email")
    sms = _sent(_page(story, settings, limit=500), "sms")
    assert c1.message is not None and c2.message is not None and sms.message is not None and c1.notice
    for viewer in (LI, MANAGER, LEGAL):
        notice = signed_notice(story, settings, viewer, "C1", c1.message.id)
        assert notice is not None and notice.reference == c1.notice.reference
        assert notice.data.startswith(b"%PDF") and hashlib.sha256(notice.data).hexdigest() == c1.notice.sha256
        assert message_visible(story, viewer, "C1", c1.message.id)
    assert verify_notice_bytes(notice.data, "notice.pdf").ok
    # another collector's customer, an admin, another customer's message, a message without a notice
    assert signed_notice(story, settings, WANG, "C1", c1.message.id) is None
    assert signed_notice(story, settings, ADMIN, "C1", c1.message.id) is None
    assert signed_notice(story, settings, LI, "C1", c2.message.id) is None
    assert signed_notice(story, settings, LI, "C2", c2.message.id) is None
    assert signed_notice(story, settings, WANG, "C2", c2.message.id) is not None
    assert signed_notice(story, settings, LI, "C1", sms.message.id) is None
    assert signed_notice(story, settings, LI, "C1", 10_000) is None
    assert not message_visible(story, WANG, "C1", c1.message.id)
    assert not message_visible(story, LI, "C1", c2.message.id)


def test_reassignment_shows_and_tasks_are_the_customers_own(story: Engine, settings: Settings) -> None:
    with story.begin() as connection:
        connection.execute(
            sa.text("UPDATE customer SET assigned_to = :who WHERE id = 'C1'"), {"who": WANG_WEI}
        )
    page = _page(story, settings)
    assert (page.account_manager, page.assigned_to) == (LI_NA, WANG_WEI)
    everyone = list_tasks(story, as_of=AS_OF)
    mine = list_tasks(story, as_of=AS_OF, customer="C1")
    assert mine == [t for t in everyone if t.customer == "C1"] and mine
    assert {t.customer for t in everyone} > {"C1"}
    assert list_tasks(story, customer="nobody") == []


@contextmanager
def _counted(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_the_number_of_queries_does_not_grow_with_the_messages(story: Engine, settings: Settings) -> None:
    _page(story, settings)  # warm: the schema check runs once per engine
    with _counted(story) as few:
        small = _page(story, settings, limit=6)
    with _counted(story) as many:
        whole = _page(story, settings, limit=500)
    assert sum(1 for e in whole.timeline.events if e.content or e.notice) >= 3
    assert len(small.timeline.events) == 6 and any(e.notice for e in small.timeline.events)
    assert len(many) == len(few), many


def test_content_is_read_from_each_channels_artifact(tmp_path: Path) -> None:
    """The Twilio request of an SMS, the file channel's document, an e-mail; a damaged or absent
    artifact is no content (the page goes on)."""
    store = ArtifactStore(tmp_path)
    twilio = {"form": {"Body": "贵司发票INV-1逾期未付", "To": "+8613800138000", "From": "+1555"}}
    sms = read_content(store, {"request.json": store.put(json.dumps(twilio).encode())})
    assert sms == SentContent("", "贵司发票INV-1逾期未付", (("To", "+8613800138000"),), ())
    raw = (
        b"From: ar@xinghe.com.cn\r\nTo: ap@c1.example.cn\r\nSubject: Reminder\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nPlease pay INV-1.\r\n"
    )
    mail = read_content(store, {"message.eml": store.put(raw)})
    assert mail is not None and (mail.subject, mail.text.strip()) == ("Reminder", "Please pay INV-1.")
    assert read_content(store, {"message.json": store.put(b"not json")}) is None
    assert read_content(store, {"message.json": "0" * 64}) is None  # not in the store
    assert read_content(store, {"DN-1.pdf": store.put(b"%PDF-1.7")}) is None  # a letter is its PDF
