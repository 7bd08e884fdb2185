"""The console's read models on a real database: the worklist and the customer page (DESIGN §10).

The ledger is imported and planned through the real services (import, plan, cycle, collector
commands); visibility is checked as a matrix of roles against what each page and count shows.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.channels.file import FileSender
from bot.config import EmailSettings, EvidenceSettings, Settings, SigningSettings, SmsSettings
from bot.domain.ledger import Channel
from bot.domain.waiting import WaitReason
from bot.evidence import chronology_text
from bot.ingest.demo_ledger import CUSTOMER_HEADER
from bot.ingest.schema import ImportDefaults
from bot.ingest.service import import_rows
from bot.outreach.approval import decide
from bot.outreach.collector import pause, record_promise
from bot.outreach.cycle import run_cycle
from bot.outreach.message_detail import show_message
from bot.outreach.tasks import finish_task
from bot.reporting.customer_page import CustomerPage, customer_page
from bot.reporting.visibility import Role, Viewer
from bot.reporting.worklist import TaskState, WorklistItem, WorklistQuery, worklist

AS_OF = date(2026, 6, 10)
NOON = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)  # noon in Shanghai
DEFAULTS = ImportDefaults(country="CN", timezone="Asia/Shanghai", language="zh-CN")
ALICE = Viewer("alice@xinghe.cn", Role.COLLECTOR)
BOB = Viewer("bob@xinghe.cn", Role.COLLECTOR)
MANAGER = Viewer("mgr", Role.MANAGER)
LEGAL = Viewer("lawyer", Role.LEGAL)
ADMIN = Viewer("root", Role.ADMIN)

_CUSTOMER = dict.fromkeys(CUSTOMER_HEADER, "")


def _customer(id: str, tier: str, manager: str, **cells: str) -> dict[str, str]:
    return {
        **_CUSTOMER,
        "id": id,
        "name": f"Customer {id}",
        "tier": tier,
        "email": f"ap@{id.lower()}.example.cn",
        "phone": "+8613800138000",
        "address": "上海市浦东新区世纪大道 100 号",
        "account_manager": manager,
        **cells,
    }


def _invoice(
    number: str, customer: str, amount: str, days_overdue: int, currency: str = "CNY"
) -> dict[str, str]:
    due = AS_OF - timedelta(days=days_overdue)
    return {
        "number": number,
        "customer_id": customer,
        "currency": currency,
        "amount": amount,
        "issue_date": (due - timedelta(days=30)).isoformat(),
        "due_date": due.isoformat(),
        "contract_ref": "",
        "status": "",
    }


@pytest.fixture
def settings(tmp_path: Path, trial_certificate: Any) -> Settings:
    return Settings(
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        base_dir=tmp_path,
    )


@pytest.fixture
def ledger(engine: Engine, settings: Settings) -> Engine:
    """Alice manages A1 and A2, Bob B1 and S1; nobody Z1. Two cycles, nine days apart, send the
    first demands and then raise calls and approvals. No letter channel is configured: Z1's letter
    ends in state unknown with a review task (logged as an error), one more kind of work item."""
    customers = [
        _customer("A1", "cooperative", ALICE.name, credit_limit="50000.00"),
        _customer("A2", "strategic", ALICE.name),
        _customer("B1", "cooperative", BOB.name),
        _customer("Z1", "cautious", ""),
        _customer("S1", "", BOB.name),  # scored: no override, no invoices yet
    ]
    invoices = [
        _invoice("INV-A1-CALL", "A1", "8000.00", 7),  # collection_call (procedural, day 7)
        _invoice("INV-A1-LAW", "A1", "3000.00", 46, currency="USD"),  # lawyer_letter: approval
        _invoice("INV-A2-CARE", "A2", "5000.00", 7),  # care_call for the account manager
        _invoice("INV-B1-CALL", "B1", "20000.00", 7),  # collection_call
        _invoice("INV-Z1-LAW", "Z1", "1000.00", 15),  # lawyer_letter (preservation, day 15): approval
    ]
    import_rows(
        engine, "customers", "customers.csv", list(enumerate(customers, 2)), defaults=DEFAULTS, now=NOON
    )
    import_rows(engine, "invoices", "invoices.csv", list(enumerate(invoices, 2)), defaults=DEFAULTS, now=NOON)
    senders = {
        Channel.EMAIL: FileSender(Channel.EMAIL, settings.path("outbox/email")),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
    }
    for day in (AS_OF - timedelta(days=9), AS_OF):
        at = NOON - (AS_OF - day)
        asyncio.run(
            run_cycle(engine, settings, day, clock=lambda at=at: at, exclusive=True, senders=dict(senders))
        )
    return engine


def _items(engine: Engine, viewer: Viewer, **query: Any) -> list[WorklistItem]:
    return list(worklist(engine, viewer, WorklistQuery(**query), AS_OF).items)


def _tasks(engine: Engine, viewer: Viewer, **query: Any) -> list[int]:
    return [i.task for i in _items(engine, viewer, **query)]


def _task_of(engine: Engine, customer: str, kind: str) -> int:
    return next(i.task for i in _items(engine, MANAGER) if i.customer == customer and i.kind == kind)


# The tasks the two cycles raise, by what they are about: B1's call (CNY 20,000, 7 days), A1's call
# (CNY 8,000, 7 days), A2's care call (CNY 5,000, 7 days), A1's lawyer's letter to approve (USD
# 3,000, 46 days), Z1's review of a letter of unknown fate (CNY 1,000, 15 days, 9 days old) and
# Z1's lawyer's letter to approve (CNY 1,000, 15 days, new).
RANKED = [
    ("B1", "call"),
    ("A1", "call"),
    ("A2", "call"),
    ("A1", "approval"),
    ("Z1", "review"),
    ("Z1", "approval"),
]


def test_the_worklist_ranks_by_amount_at_risk_then_age(ledger: Engine) -> None:
    page = worklist(ledger, MANAGER, WorklistQuery(), AS_OF)
    assert [(i.customer, i.kind) for i in page.items] == RANKED
    assert page.total == 6 and page.pages == 1 and not page.has_next
    b1, _, _, law, review, _ = page.items
    assert (b1.outstanding, b1.at_risk, b1.days_overdue, b1.bucket) == (
        (("CNY", Decimal("20000.00")),),
        Decimal("20000.00"),
        7,
        "1-30",
    )
    # another currency is never converted: the USD item ranks by its USD amount
    assert (law.outstanding, law.is_approval, law.step, law.bucket) == (
        (("USD", Decimal("3000.00")),),
        True,
        "lawyer_letter",
        "31-60",
    )
    # equal amounts and days overdue: the older task first
    assert (review.days_open, page.items[5].days_open) == (9, 0)


def test_a_payment_lowers_the_amount_at_risk_and_ties_fall_back_to_the_task_id(ledger: Engine) -> None:
    payment = {
        "reference": "PAY-1",
        "invoice_number": "INV-B1-CALL",
        "amount": "15000.00",
        "paid_on": "2026-06-09",
    }
    import_rows(ledger, "payments", "payments.csv", [(2, payment)], defaults=DEFAULTS, now=NOON)
    items = _items(ledger, MANAGER)
    assert [(i.customer, i.at_risk) for i in items[:2]] == [
        ("A1", Decimal("8000.00")),
        ("A2", Decimal("5000.00")),
    ]
    a2, b1 = items[1], items[2]
    assert (b1.customer, b1.at_risk, b1.days_overdue, b1.days_open) == ("B1", Decimal("5000.00"), 7, 0)
    assert a2.task < b1.task  # everything else equal: the lower id first, so pages are stable
    # a payment dated after the worklist's day does not count yet
    before = worklist(ledger, MANAGER, WorklistQuery(), date(2026, 6, 8)).items
    assert next(i.at_risk for i in before if i.customer == "B1") == Decimal("20000.00")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"tier": "cautious"}, [("Z1", "review"), ("Z1", "approval")]),
        ({"tactic": "consultative"}, [("A2", "call")]),
        ({"step": "lawyer_letter"}, [("A1", "approval"), ("Z1", "approval")]),
        ({"bucket": "31-60"}, [("A1", "approval")]),
        ({"bucket": "90+"}, []),
        ({"assignee": "alice@xinghe.cn"}, [("A2", "call")]),
        ({"kind": "approval"}, [("A1", "approval"), ("Z1", "approval")]),
        ({"tier": "cooperative", "kind": "call"}, [("B1", "call"), ("A1", "call")]),
    ],
)
def test_each_filter(ledger: Engine, query: dict[str, str], expected: list[tuple[str, str]]) -> None:
    page = worklist(ledger, MANAGER, WorklistQuery(**query), AS_OF)  # type: ignore[arg-type]
    assert [(i.customer, i.kind) for i in page.items] == expected
    assert page.total == len(expected)


def test_counts_are_faceted_over_the_other_filters(ledger: Engine) -> None:
    page = worklist(ledger, MANAGER, WorklistQuery(tier="cautious"), AS_OF)
    # the tier facet ignores the tier filter itself: it says what choosing another tier gives
    assert page.counts["tier"] == (("cautious", 2), ("cooperative", 3), ("strategic", 1))
    # the others count only the cautious items
    assert page.counts["step"] == (("formal_notice", 1), ("lawyer_letter", 1))
    assert page.counts["bucket"] == (("1-30", 2),)
    assert page.counts["assignee"] == (("collector", 2),)
    everything = worklist(ledger, MANAGER, WorklistQuery(), AS_OF).counts
    assert everything["tactic"] == (("consultative", 1), ("preservation", 2), ("procedural", 3))
    assert everything["kind"] == (("approval", 2), ("call", 3), ("review", 1))
    assert sum(n for _, n in everything["bucket"]) == 6


def test_the_state_filter(ledger: Engine) -> None:
    call = _task_of(ledger, "B1", "call")
    finish_task(ledger, call, "spoke to AP, pays Friday", "user:mgr", NOON)
    assert call not in _tasks(ledger, MANAGER)
    done = worklist(ledger, MANAGER, WorklistQuery(state=TaskState.DONE), AS_OF)
    assert [(i.task, i.status, i.outcome) for i in done.items] == [(call, "done", "done")]
    assert done.items[0].done_at == NOON
    assert len(_tasks(ledger, MANAGER, state=TaskState.ALL)) == 6
    assert worklist(ledger, MANAGER, WorklistQuery(), AS_OF).total == 5


def test_paging_is_stable_and_bounded(ledger: Engine) -> None:
    ranked = _tasks(ledger, MANAGER)
    pages = [worklist(ledger, MANAGER, WorklistQuery(page=n, page_size=4), AS_OF) for n in (1, 2, 3)]
    assert [len(p.items) for p in pages] == [4, 2, 0]
    assert [p.pages for p in pages] == [2, 2, 2] and [p.has_next for p in pages] == [True, False, False]
    assert [i.task for p in pages for i in p.items] == ranked
    one_by_one = [_tasks(ledger, MANAGER, page=n, page_size=1) for n in range(1, 7)]
    assert [t for page in one_by_one for t in page] == ranked
    assert all(p.total == 6 for p in pages)
    for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 201}):
        with pytest.raises(ValueError, match="page"):
            worklist(ledger, MANAGER, WorklistQuery(**bad), AS_OF)  # type: ignore[arg-type]


def test_who_sees_what(ledger: Engine, settings: Settings) -> None:
    customers = {v: {i.customer for i in _items(ledger, v)} for v in (ALICE, BOB, MANAGER, LEGAL, ADMIN)}
    assert customers == {
        ALICE: {"A1", "A2"},
        BOB: {"B1"},
        MANAGER: {"A1", "A2", "B1", "Z1"},
        LEGAL: {"A1", "A2", "B1", "Z1"},
        ADMIN: set(),
    }
    # nothing of Bob's customer shows in Alice's counts either
    alice = worklist(ledger, ALICE, WorklistQuery(), AS_OF)
    assert alice.total == 3
    assert alice.counts["assignee"] == (("alice@xinghe.cn", 1), ("collector", 2))
    assert alice.counts["tier"] == (("cooperative", 2), ("strategic", 1))
    admin = worklist(ledger, ADMIN, WorklistQuery(), AS_OF)
    assert (admin.total, admin.items, all(c == () for c in admin.counts.values())) == (0, (), True)
    # filtering for another collector's customer's assignee finds nothing
    assert _tasks(ledger, BOB, assignee="alice@xinghe.cn") == []
    # a collector without a name sees nothing (no customer has an empty account manager by match)
    assert _items(ledger, Viewer("", Role.COLLECTOR)) == []

    def page(viewer: Viewer, customer: str) -> bool:
        return customer_page(ledger, settings, viewer, customer, AS_OF, NOON) is not None

    matrix = {
        (v.name, c): page(v, c)
        for v in (ALICE, BOB, MANAGER, LEGAL, ADMIN)
        for c in ("A1", "B1", "Z1", "NOPE")
    }
    assert {key for key, seen in matrix.items() if seen} == {
        (ALICE.name, "A1"),
        (BOB.name, "B1"),
        (MANAGER.name, "A1"),
        (MANAGER.name, "B1"),
        (MANAGER.name, "Z1"),
        (LEGAL.name, "A1"),
        (LEGAL.name, "B1"),
        (LEGAL.name, "Z1"),
    }


def _page(engine: Engine, settings: Settings, customer: str, **kwargs: Any) -> CustomerPage:
    page = customer_page(engine, settings, MANAGER, customer, AS_OF, kwargs.pop("now", NOON), **kwargs)
    assert page is not None
    return page


def test_the_customer_page_shows_the_tier_the_aging_and_the_open_invoices_with_fees(
    ledger: Engine, settings: Settings
) -> None:
    page = _page(ledger, settings, "A1")
    assert (page.name, page.account_manager, page.tier, page.tactic, page.tier_overridden) == (
        "Customer A1",
        ALICE.name,
        "cooperative",
        "procedural",
        True,
    )
    assert page.tier_reason.startswith("tier set by override to cooperative; trend overdue noted")
    assert page.credit_limit == Decimal("50000.00") and page.recorded_tier == "cooperative"
    assert [(a.currency, dict(a.amounts), a.total) for a in page.aging] == [
        ("CNY", {**dict.fromkeys(("current", "31-60", "61-90", "90+"), 0), "1-30": Decimal("8000.00")}, 8000),
        ("USD", {**dict.fromkeys(("current", "1-30", "61-90", "90+"), 0), "31-60": Decimal("3000.00")}, 3000),
    ]
    law, call = page.open_invoices  # oldest due first
    assert (law.number, law.days_overdue, law.bucket, call.number, call.days_overdue) == (
        "INV-A1-LAW",
        46,
        "31-60",
        "INV-A1-CALL",
        7,
    )
    # the late fees are the ones the planner recorded for the same day
    recorded: dict[str, str] = {}
    for event in page.timeline.events:
        if event.at == NOON and "late_fees" in event.data:
            recorded.update(event.data["late_fees"])
    assert {i.number: str(i.late_fee) for i in page.open_invoices} == recorded
    assert law.late_fee > 0

    scored = _page(ledger, settings, "S1")
    assert not scored.tier_overridden and scored.score is not None
    assert scored.tier_reason.startswith(f"score {scored.score} (") and scored.tier == "cooperative"
    assert [name for name, _ in scored.score_components] == [
        "history",
        "lateness",
        "scale",
        "industry",
        "legal",
    ]
    assert (scored.aging, scored.open_invoices, scored.waiting) == ((), (), ())


def _worked(engine: Engine, settings: Settings) -> None:
    """A collector takes a promise on A1's call invoice; a manager approves its lawyer's letter."""
    approval = _task_of(engine, "A1", "approval")
    decide(
        engine, settings, approval, approve=True, reason="", actor="user:mgr", now=NOON, business_date=AS_OF
    )
    record_promise(
        engine,
        "INV-A1-CALL",
        date(2026, 6, 20),
        None,
        "user:alice",
        NOON + timedelta(minutes=5),
        made_on=AS_OF,
        tolerance=Decimal("1.00"),
    )


def test_the_timeline_is_the_customers_evidence_newest_first_in_both_languages(
    ledger: Engine, settings: Settings
) -> None:
    _worked(ledger, settings)
    timeline = _page(ledger, settings, "A1", limit=500).timeline
    events = timeline.events
    with ledger.connect() as connection:
        own = connection.execute(
            sa.text("SELECT seq FROM evidence_event WHERE customer = 'A1' ORDER BY seq DESC")
        )
        assert [e.seq for e in events] == list(own.scalars())
    assert timeline.older is None
    assert [e.kind for e in events[:3]] == ["task_done", "promise", "approval"]
    assert events[-1].kind == "tier_change"
    assert {
        "step_planned",
        "step_superseded",
        "alert",
        "approval_requested",
        "task_created",
        "message_sent",
    } <= {e.kind for e in events}
    assert [e.actor for e in events[:3]] == ["user:alice", "user:alice", "user:mgr"]
    for event in events:
        assert event.label == {
            "zh-CN": chronology_text.what(event.kind, chronology_text.ZH),
            "en": chronology_text.what(event.kind, chronology_text.EN),
        }
        assert event.summary["zh-CN"] and event.summary["en"]
    promise = events[1]
    assert (promise.summary["en"], promise.summary["zh-CN"], promise.invoices) == (
        "to pay by 2026-06-20",
        "承诺于 2026-06-20 付款",
        ("INV-A1-CALL",),
    )
    sent = [e for e in events if e.kind == "message_sent"]
    assert sent and all(e.message is not None and e.message.state == "sent" for e in sent)
    assert all(e.message is not None and e.message.channel == e.channel for e in sent)
    sms = next(e.message for e in sent if e.channel == "sms" and e.step == "collection_call")
    assert sms is not None and sms.sent_at == NOON
    # the id is the one `dunbot message show` and the page's detail view read back
    assert show_message(ledger, settings, sms.id, NOON).step == "collection_call"


def test_the_timeline_pages_to_older_events(ledger: Engine, settings: Settings) -> None:
    _worked(ledger, settings)
    everything = [e.seq for e in _page(ledger, settings, "A1", limit=500).timeline.events]
    seen: list[int] = []
    before = None
    pages = 0
    while True:
        timeline = _page(ledger, settings, "A1", limit=4, before=before).timeline
        pages += 1
        assert len(timeline.events) <= 4
        seen.extend(e.seq for e in timeline.events)
        if timeline.older is None:
            break
        assert timeline.older == timeline.events[-1].seq
        before = timeline.older
    assert seen == everything and pages == -(-len(everything) // 4)
    # exactly a page's worth left: the last full page says there is nothing older
    last = _page(ledger, settings, "A1", limit=4, before=everything[-4]).timeline
    assert [e.seq for e in last.events] == everything[-3:] and last.older is None
    assert _page(ledger, settings, "A1", before=everything[-1]).timeline.events == ()
    with pytest.raises(ValueError, match="limit"):
        _page(ledger, settings, "A1", limit=0)


def test_waiting_messages_say_why_and_until_when(ledger: Engine, settings: Settings) -> None:
    _worked(ledger, settings)  # the approved lawyer's letter: an e-mail and a letter, planned
    evening = datetime(2026, 6, 10, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai: outside the window
    page = _page(ledger, settings, "A1", now=evening)
    assert [(w.message.channel, w.message.step, w.message.state) for w in page.waiting] == [
        ("email", "lawyer_letter", "planned"),
        ("letter", "lawyer_letter", "planned"),
    ]
    email = page.waiting[0]
    assert email.invoices == ("INV-A1-LAW",) and email.will_cancel is None
    assert email.waiting is not None and email.waiting.goes_at is not None and email.waiting.goes_at > evening
    assert WaitReason.CONTACT_WINDOW in {w.reason for w in email.waiting.waits}
    # the same explanation `dunbot message show` gives
    assert email.waiting == show_message(ledger, settings, email.message.id, evening).waiting
    # at noon nothing holds it
    noon = _page(ledger, settings, "A1").waiting[0].waiting
    assert noon is not None and (noon.waits, noon.goes_at) == ((), NOON)
    # a customer paused through the send date: the re-check will cancel it, and says so
    pause(
        ledger,
        invoice=None,
        customer="A1",
        until=date(2026, 6, 15),
        reason="talks with the CFO",
        actor="user:mgr",
        now=NOON,
        today=AS_OF,
    )
    paused = _page(ledger, settings, "A1").waiting[0]
    assert paused.will_cancel is not None and paused.will_cancel.startswith(
        "paused until 2026-06-15: talks with the CFO"
    )
    assert _page(ledger, settings, "A1").timeline.events[0].kind == "pause"
