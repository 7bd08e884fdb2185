"""The case of the evidence bench: one customer's year of dunning, about five events a round —
e-mails with their raw bytes, signed PDF notices, letters, SMS with their Twilio exchange and delivery
callbacks, collector tasks, approvals, payments, promises, alerts, tier changes, credit holds,
disputes, superseded steps — every artifact written to the store.

Not a script: ``bench/evidence.py`` runs it (``.venv/bin/python bench/evidence.py --events 50000`` is a
quick run; see its docstring and bench/README.md).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.evidence_render import (
    CASE,
    CASE_ADDRESS,
    CASE_EMAIL,
    CASE_NAME,
    CASE_PHONE,
    CYCLE_HOUR_UTC,
    SIGNED_STEPS,
    UNSIGNED_STEPS,
    WORKER,
    Renderer,
    business_days,
    callback_form,
    sms_exchange,
)
from bot.evidence.log import EventKind, NewEvent


def case_rounds(count: int, cycles: int, store: Any, renderer: Renderer) -> list[tuple[int, list[NewEvent]]]:
    """The case's events, grouped by dunning round, each round with the cycle (day index) it runs in.

    Per 200 rounds (1,000 events): 200 e-mails, 50 of them with a signed notice (which 20 letters carry
    too), 80 SMS with two delivery callbacks each, 40 collector calls, 10 approvals, 120 payments, 20
    promises (5 broken), 10 early-warning alerts, 4 tier changes, 2 credit holds, 4 dispute events and
    5 superseded steps.
    """
    days = business_days(cycles)
    expected_rounds = max(1, round(count / 5))
    rounds: list[tuple[int, list[NewEvent]]] = []
    total = 0
    r = 0
    while total < count:
        day_index = min(r * cycles // expected_rounds, cycles - 1)
        as_of = days[day_index]
        at = datetime(as_of.year, as_of.month, as_of.day, CYCLE_HOUR_UTC, tzinfo=UTC)
        events = _case_round(r, as_of, at, store, renderer)
        events = events[: count - total]
        total += len(events)
        rounds.append((day_index, events))
        r += 1
    return rounds


def _case_round(r: int, as_of: date, at: datetime, store: Any, renderer: Renderer) -> list[NewEvent]:
    signed = r % 4 == 3
    step, day = SIGNED_STEPS[(r // 4) % 4] if signed else UNSIGNED_STEPS[r % 3]
    invoices = tuple(f"YH-2026-{r * 3 // 10 + k:04d}" for k in range(1 + r % 3))
    reference = f"XH-{as_of:%Y%m%d}-{r:06d}"
    tactic, tier = ("consultative", "strategic") if step == "care_call" else ("procedural", "cooperative")
    message = 1 + r * 10  # message ids of this round: message, +1 sms, +2 letter
    context = renderer.context((CASE, CASE_NAME), step, day, as_of, reference, invoices, signed)
    events: list[NewEvent] = []

    def add(
        kind: EventKind,
        data: dict[str, Any],
        dedupe: str | None = None,
        actor: str = WORKER,
        numbers: tuple[str, ...] = invoices,
    ) -> None:
        events.append(NewEvent(kind, actor, data, CASE, numbers, dedupe))

    channels = (
        ["email"]
        + (["sms"] if r % 5 in (0, 2) else [])
        + (["letter"] if signed and (r // 4) % 5 in (0, 2) else [])
    )
    add(
        EventKind.STEP_PLANNED,
        {
            "as_of": as_of,
            "step": step,
            "tactic": tactic,
            "tier": tier,
            "channels": channels,
            "reason": f"{abs(day)} days {'overdue' if day >= 0 else 'before due'}: {step} is due",
            "late_fees": {n: f"{(k + 1) * 137 * max(0, day - 15)}.00" for k, n in enumerate(invoices)},
            "messages": [message + i for i in range(len(channels))],
        },
        f"step:{CASE}:{step}:planned:{','.join(invoices)}:{r}",
    )
    pdf_sha = None
    pdf = None
    if signed:
        pdf, pages = renderer.notice(context, step)
        pdf_sha = store.put(pdf)
        add(
            EventKind.NOTICE_RENDERED,
            {
                "notice": r + 1,
                "reference": reference,
                "step": step,
                "as_of": as_of,
                "language": "zh-CN",
                "pages": pages,
                "signer": renderer.signer.signer_name,
                "timestamped": False,
                "notice_sha256": pdf_sha,
            },
            f"notice_rendered:{r + 1}",
        )
    key = f"<dunbot-{message}-{as_of:%Y%m%d}@xinghe.example>"
    eml = renderer.email(context, step, key, CASE_EMAIL, pdf, at)
    add(
        EventKind.MESSAGE_SENT,
        {
            "message": message,
            "channel": "email",
            "step": step,
            "recipient": CASE_EMAIL,
            "key": key,
            "reference": reference,
            "attempt": 1,
            "provider_id": key,
            "provider_status": "250 2.0.0 Ok: queued",
            "detail": {"reply": "250 2.0.0 Ok: queued as 4Qx7Tz1kKz"},
            "artifacts": {"message.eml": store.put(eml)},
            "notice_sha256": pdf_sha,
        },
        f"message_sent:{message}",
    )
    if "sms" in channels:
        sid = f"SM{hashlib.md5(f'case-{r}'.encode()).hexdigest()}"
        exchange = sms_exchange(
            sid, CASE_PHONE, renderer.sms(context, step), f"sms-{message + 1}", at.isoformat()
        )
        add(
            EventKind.MESSAGE_SENT,
            {
                "message": message + 1,
                "channel": "sms",
                "step": step,
                "recipient": CASE_PHONE,
                "key": f"sms-{message + 1}",
                "reference": reference,
                "attempt": 1,
                "provider_id": sid,
                "provider_status": "queued",
                "detail": {"segments": 2, "encoding": "UCS-2"},
                "artifacts": {name: store.put(data) for name, data in sorted(exchange.items())},
                "notice_sha256": None,
            },
            f"message_sent:{message + 1}",
        )
        for status in ("sent", "delivered"):
            add(
                EventKind.MESSAGE_DELIVERED,
                {
                    "message": message + 1,
                    "channel": "sms",
                    "provider_id": sid,
                    "status": status,
                    "state": "delivered" if status == "delivered" else "sent",
                    "error_code": None,
                    "callback_sha256": store.put(callback_form(sid, CASE_PHONE, status)),
                    "resolved_unknown": False,
                },
                f"callback:{sid}:{status}",
                actor="twilio",
            )
    if "letter" in channels:
        assert pdf is not None and pdf_sha is not None
        name = f"{reference}.pdf"
        entry = {
            "reference": reference,
            "key": f"letter-{message + 2}",
            "file": name,
            "sha256": pdf_sha,
            "recipient": CASE_ADDRESS,
            "customer": CASE,
            "step": step,
            "invoices": list(invoices),
            "signed": True,
        }
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        add(
            EventKind.MESSAGE_SENT,
            {
                "message": message + 2,
                "channel": "letter",
                "step": step,
                "recipient": CASE_ADDRESS,
                "key": f"letter-{message + 2}",
                "reference": reference,
                "attempt": 1,
                "provider_id": name,
                "provider_status": "queued",
                "detail": {},
                "artifacts": {name: pdf_sha, "manifest-entry.json": store.put(line)},
                "notice_sha256": pdf_sha,
            },
            f"message_sent:{message + 2}",
        )
        add(
            EventKind.TASK_CREATED,
            {
                "task": 10 * r + 1,
                "kind": "letter",
                "message": message + 2,
                "title": f"挂号信 {reference} 待寄出",
            },
            f"task_created:letter:{message + 2}",
        )
    if r % 5 == 4:
        title = f"电话催收：{CASE_NAME}，发票 {', '.join(invoices)}"
        add(
            EventKind.TASK_CREATED,
            {
                "task": 10 * r + 2,
                "message": message + 3,
                "kind": "call",
                "step": "collection_call",
                "assignee": "li.wei@xinghe.example",
                "title": title,
            },
            f"task_created:message:{message + 3}",
        )
        add(
            EventKind.TASK_DONE,
            {
                "task": 10 * r + 2,
                "kind": "call",
                "step": "collection_call",
                "title": title,
                "note": "已联系财务张女士，确认本月底前付款",
                "tracking": None,
            },
            f"task_done:{10 * r + 2}",
            actor="li.wei",
        )
    if r % 20 == 19:
        add(
            EventKind.APPROVAL_REQUESTED,
            {
                "as_of": as_of,
                "step": "lawyer_letter",
                "tactic": "procedural",
                "tier": "cooperative",
                "channels": ["email", "letter"],
                "reason": "45 days overdue: lawyer_letter needs approval",
                "late_fees": {n: "2070.00" for n in invoices},
                "task": 10 * r + 3,
            },
            f"step:{CASE}:lawyer_letter:awaiting_approval:{','.join(invoices)}:{r}",
        )
        add(
            EventKind.APPROVAL,
            {
                "task": 10 * r + 3,
                "step": "lawyer_letter",
                "decision": "approved",
                "reason": "法务已审核",
                "messages": [message + 4, message + 5],
                "business_date": as_of,
            },
            f"approval:{10 * r + 3}",
            actor="wang.fang",
        )
    if r % 5 in (1, 2, 3):
        add(
            EventKind.PAYMENT,
            {
                "reference": f"BANK-{as_of:%Y%m%d}-{r:05d}",
                "amount": f"{20_000 + 137 * r}.00",
                "currency": "CNY",
                "paid_on": as_of.isoformat(),
            },
            f"payment:BANK-{as_of:%Y%m%d}-{r:05d}",
            actor="import:payments.csv",
            numbers=invoices[:1],
        )
    if r % 10 == 6:
        add(
            EventKind.PROMISE,
            {"promised_on": as_of + timedelta(days=14), "amount": "50000.00"},
            None,
            actor="wang.fang",
            numbers=invoices[:1],
        )
    if r % 40 == 16:
        add(
            EventKind.BROKEN_PROMISE,
            {
                "as_of": as_of,
                "promised_on": as_of - timedelta(days=1),
                "promised_amount": "50000.00",
                "outstanding": "80000.00",
            },
            f"broken_promise:{invoices[0]}:{as_of - timedelta(days=1)}",
            numbers=invoices[:1],
        )
    if r % 20 == 8:
        add(
            EventKind.ALERT,
            {
                "alert": "early_warning",
                "as_of": as_of,
                "days_overdue": 48,
                "threshold_days": 45,
                "recommend_credit_hold": True,
            },
            f"early_warning:{invoices[0]}",
            numbers=invoices[:1],
        )
    if r % 50 == 25:
        up = (r // 50) % 2 == 0
        add(
            EventKind.TIER_CHANGE,
            {
                "as_of": as_of,
                "from": "cooperative" if up else "strategic",
                "to": "strategic" if up else "cooperative",
                "score": 76 if up else 71,
                "scored_tier": "strategic" if up else "cooperative",
                "overridden": False,
                "trend_overdue": not up,
                "components": {"history": 30, "lateness": 12, "scale": 15, "industry": 8, "legal": 10},
                "reason": "scorecard 76: strategic" if up else "trend overdue: moved down one tier",
            },
            None,
            numbers=(),
        )
    if r % 100 == 60:
        add(
            EventKind.CREDIT_HOLD,
            {"as_of": as_of, "step": "credit_hold", "on": True, "reason": "credit_hold step"},
            f"credit_hold:{CASE}:{as_of}",
        )
    if r % 50 == 10:
        action = "open" if (r // 50) % 2 == 0 else "close"
        add(
            EventKind.DISPUTE,
            {
                "action": action,
                "reason": "客户称第二批货物数量有误" if action == "open" else "已核对，数量无误",
            },
            None,
            actor="wang.fang",
            numbers=invoices[:1],
        )
    if r % 40 == 30:
        add(
            EventKind.STEP_SUPERSEDED,
            {
                "as_of": as_of,
                "step": "overdue_sms",
                "tactic": "procedural",
                "tier": "cooperative",
                "channels": ["sms"],
                "reason": "a later step is due",
                "late_fees": {},
            },
            f"step:{CASE}:overdue_sms:superseded:{','.join(invoices)}:{r}",
        )
    return events
