"""The background of the evidence bench: every other customer's events, drawn from a fixed mix of
kinds per cycle (seeded per day by the loader), their artifacts unique per message as in
production, or drawn from a pool of 1,000.

Not a script: ``bench/evidence.py`` runs it (``.venv/bin/python bench/evidence.py --events 50000`` is a
quick run; see its docstring and bench/README.md).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

from bench.evidence_render import (
    FIRST_DAY,
    ORIGIN,
    SIGNED_STEPS,
    UNSIGNED_STEPS,
    WORKER,
    Blobs,
    Renderer,
    callback_form,
    sms_exchange,
)
from bot.evidence.log import EventKind, NewEvent

BACKGROUND_MIX = (
    # kind, weight per 100 events
    ("step_planned", 18),
    ("step_superseded", 4),
    ("approval_requested", 1),
    ("approval", 1),
    ("notice_rendered", 5),
    ("email", 14),
    ("sms", 10),
    ("message_delivered", 18),
    ("letter", 1),
    ("task_created", 8),
    ("task_done", 5),
    ("payment", 8),
    ("promise", 2),
    ("broken_promise", 1),
    ("alert", 2),
    ("tier_change", 1),
    ("dispute", 1),
)
POOL_SIZE = 1000


class Background:
    """Events of the other customers, generated as the cycles go, their artifacts written as they are named.

    With ``unique`` artifacts every message gets its own raw bytes, as in production (an e-mail of a few
    KB, an SMS request and response, each callback); with ``pooled`` they are drawn from 1,000 blobs.
    Signed notices of the background are 20 real signed PDFs shared by all its notice events (signing
    one per event would take the generation hours).
    """

    def __init__(
        self, customers: int, blobs: Blobs, renderer: Renderer, unique: bool, days: list[date]
    ) -> None:
        self.customers = customers
        self.blobs = blobs
        self.unique = unique
        self.days = days
        self.kinds = [k for k, _ in BACKGROUND_MIX]
        self.weights = [w for _, w in BACKGROUND_MIX]
        self.message = 10_000_000
        self.task = 10_000_000
        self.reference = 10_000_000
        self.notices: list[str] = []
        for n in range(20):
            step, day = SIGNED_STEPS[n % 4]
            context = renderer.context(
                ("C0000001", "宁波海川机电有限公司"),
                step,
                day,
                FIRST_DAY,
                f"XH-BG-{n:04d}",
                ("NB-0001", "NB-0002")[: 1 + n % 2],
                True,
            )
            self.notices.append(blobs.put(renderer.notice(context, step)[0]))
        self.emails = []
        for n, (step, day) in enumerate(UNSIGNED_STEPS + SIGNED_STEPS):
            invoices = ("NB-0001", "NB-0002", "NB-0003")[: 1 + n % 3]
            context = renderer.context(
                ("CXXXXXXX", "宁波海川机电有限公司"),
                step,
                day,
                FIRST_DAY,
                "XH-BG-XXXXXXXXXXXX",
                invoices,
                False,
            )
            key = "<dunbot-XXXXXXXXXXXX@xinghe.example>"
            self.emails.append(
                renderer.email(
                    context, step, key, "ap@haichuan.example", None, datetime(2026, 1, 5, 1, tzinfo=UTC)
                )
            )
        self.sms_text = renderer.sms(
            renderer.context(
                ("CXXXXXXX", "宁波海川机电有限公司"),
                "overdue_sms",
                3,
                FIRST_DAY,
                "XH-BG",
                ("NB-0001",),
                False,
            ),
            "overdue_sms",
        )
        self.pool: list[str] = []
        if not unique:
            self.pool = [self._email_bytes(n, "C0000001") for n in range(POOL_SIZE)]
            self.pool = [blobs.put(data) for data in self.pool]

    def _email_bytes(self, n: int, customer: str) -> bytes:
        template = self.emails[n % len(self.emails)]
        return template.replace(b"XXXXXXXXXXXX", f"{n:012d}".encode()).replace(b"CXXXXXXX", customer.encode())

    def _put(self, make: Callable[[], bytes]) -> str:
        if self.unique:
            return self.blobs.put(make())
        return self.pool[self.message % POOL_SIZE]

    def events(self, rng: random.Random, count: int, as_of: date) -> Iterator[NewEvent]:
        kinds = rng.choices(self.kinds, cum_weights=None, weights=self.weights, k=count)
        iso = as_of.isoformat()
        for kind in kinds:
            c = rng.randrange(1, self.customers)
            customer = f"C{c:07d}"
            invoices = tuple(f"I{c:07d}-{rng.randrange(100):03d}" for _ in range(1 + (rng.random() < 0.3)))
            yield self._event(rng, kind, customer, invoices, as_of, iso)

    def _event(
        self, rng: random.Random, kind: str, customer: str, invoices: tuple[str, ...], as_of: date, iso: str
    ) -> NewEvent:
        step, day = rng.choice(SIGNED_STEPS + UNSIGNED_STEPS)
        if kind in ("email", "sms", "letter", "message_delivered"):
            self.message += 1
        m = self.message
        if kind == "email":
            key = f"<dunbot-{m}-{as_of:%Y%m%d}@xinghe.example>"
            digest = self._put(lambda: self._email_bytes(m, customer))
            data = {
                "message": m,
                "channel": "email",
                "step": step,
                "recipient": f"ap@{customer.lower()}.example",
                "key": key,
                "reference": f"XH-{as_of:%Y%m%d}-{m}",
                "attempt": 1,
                "provider_id": key,
                "provider_status": "250 2.0.0 Ok: queued",
                "detail": {"reply": "250 2.0.0 Ok: queued"},
                "artifacts": {"message.eml": digest},
                "notice_sha256": rng.choice(self.notices) if step in dict(SIGNED_STEPS) else None,
            }
            return NewEvent(EventKind.MESSAGE_SENT, WORKER, data, customer, invoices, f"message_sent:{m}")
        if kind == "sms":
            sid = f"SM{m:032x}"
            phone = f"+86139{m % 10**8:08d}"
            if self.unique:
                exchange = sms_exchange(sid, phone, self.sms_text, f"sms-{m}", iso)
                artifacts = {name: self.blobs.put(data) for name, data in sorted(exchange.items())}
            else:
                artifacts = {
                    "request.json": self.pool[m % POOL_SIZE],
                    "response.json": self.pool[(m + 1) % POOL_SIZE],
                }
            data = {
                "message": m,
                "channel": "sms",
                "step": step,
                "recipient": phone,
                "key": f"sms-{m}",
                "reference": f"XH-{as_of:%Y%m%d}-{m}",
                "attempt": 1,
                "provider_id": sid,
                "provider_status": "queued",
                "detail": {"segments": 2, "encoding": "UCS-2"},
                "artifacts": artifacts,
                "notice_sha256": None,
            }
            return NewEvent(EventKind.MESSAGE_SENT, WORKER, data, customer, invoices, f"message_sent:{m}")
        if kind == "message_delivered":
            sid = f"SM{m - 1:032x}"
            status = rng.choice(("sent", "delivered", "delivered", "undelivered"))
            digest = self._put(lambda: callback_form(sid, f"+86139{m % 10**8:08d}", status))
            data = {
                "message": m - 1,
                "channel": "sms",
                "provider_id": sid,
                "status": status,
                "state": "delivered" if status == "delivered" else status,
                "error_code": None,
                "callback_sha256": digest,
                "resolved_unknown": False,
            }
            return NewEvent(
                EventKind.MESSAGE_DELIVERED, "twilio", data, customer, invoices, f"callback:{sid}:{status}"
            )
        if kind == "letter":
            notice = rng.choice(self.notices)
            name = f"XH-{as_of:%Y%m%d}-{m}.pdf"
            line = (
                json.dumps(
                    {
                        "file": name,
                        "sha256": notice,
                        "customer": customer,
                        "step": step,
                        "invoices": list(invoices),
                        "signed": True,
                        "key": f"letter-{m}",
                    },
                    ensure_ascii=False,
                    sort_keys=True,
                ).encode()
                + b"\n"
            )
            data = {
                "message": m,
                "channel": "letter",
                "step": step,
                "recipient": "宁波市鄞州区 1 号",
                "key": f"letter-{m}",
                "reference": name[:-4],
                "attempt": 1,
                "provider_id": name,
                "provider_status": "queued",
                "detail": {},
                "artifacts": {name: notice, "manifest-entry.json": self._put(lambda: line)},
                "notice_sha256": notice,
            }
            return NewEvent(EventKind.MESSAGE_SENT, WORKER, data, customer, invoices, f"message_sent:{m}")
        if kind == "notice_rendered":
            self.reference += 1
            n = self.reference
            data = {
                "notice": n,
                "reference": f"XH-{as_of:%Y%m%d}-N{n}",
                "step": step,
                "as_of": as_of,
                "language": "zh-CN",
                "pages": 2,
                "signer": f"{ORIGIN} (TRIAL)",
                "timestamped": False,
                "notice_sha256": rng.choice(self.notices),
            }
            return NewEvent(
                EventKind.NOTICE_RENDERED, WORKER, data, customer, invoices, f"notice_rendered:{n}"
            )
        if kind in ("step_planned", "step_superseded", "approval_requested"):
            status = {
                "step_planned": "planned",
                "step_superseded": "superseded",
                "approval_requested": "awaiting_approval",
            }
            data = {
                "as_of": as_of,
                "step": step,
                "tactic": "procedural",
                "tier": "cooperative",
                "channels": ["email", "sms"],
                "reason": f"{day} days overdue: {step} is due",
                "late_fees": {n: f"{rng.randrange(10_000)}.00" for n in invoices},
            }
            if kind == "step_planned":
                data["messages"] = [self.message + 1, self.message + 2]
            elif kind == "approval_requested":
                self.task += 1
                data["task"] = self.task
            return NewEvent(
                EventKind(kind),
                "planner",
                data,
                customer,
                invoices,
                f"step:{customer}:{step}:{status[kind]}:{','.join(invoices)}:{as_of}:{rng.random()}",
            )
        if kind in ("task_created", "task_done", "approval"):
            self.task += 1
            t = self.task
            if kind == "approval":
                data = {
                    "task": t,
                    "step": "lawyer_letter",
                    "decision": "approved",
                    "reason": "ok",
                    "messages": [m + 1],
                    "business_date": as_of,
                }
                return NewEvent(EventKind.APPROVAL, "wang.fang", data, customer, invoices, f"approval:{t}")
            title = f"电话催收：客户 {customer}，发票 {', '.join(invoices)}"
            if kind == "task_created":
                data = {
                    "task": t,
                    "message": m,
                    "kind": "call",
                    "step": "collection_call",
                    "assignee": "li.wei@xinghe.example",
                    "title": title,
                }
                return NewEvent(
                    EventKind.TASK_CREATED, WORKER, data, customer, invoices, f"task_created:message:{t}"
                )
            data = {
                "task": t,
                "kind": "call",
                "step": "collection_call",
                "title": title,
                "note": "客户确认下周付款",
                "tracking": None,
            }
            return NewEvent(EventKind.TASK_DONE, "li.wei", data, customer, invoices, f"task_done:{t}")
        if kind == "payment":
            self.reference += 1
            ref = f"BANK-{as_of:%Y%m%d}-B{self.reference}"
            data = {
                "reference": ref,
                "amount": f"{rng.randrange(1_000, 200_000)}.00",
                "currency": "CNY",
                "paid_on": iso,
            }
            return NewEvent(
                EventKind.PAYMENT, "import:payments.csv", data, customer, invoices[:1], f"payment:{ref}"
            )
        if kind == "promise":
            data = {"promised_on": as_of + timedelta(days=rng.randrange(3, 30)), "amount": None}
            return NewEvent(EventKind.PROMISE, "wang.fang", data, customer, invoices[:1])
        if kind == "broken_promise":
            data = {
                "as_of": as_of,
                "promised_on": as_of - timedelta(days=1),
                "promised_amount": None,
                "outstanding": f"{rng.randrange(1_000, 200_000)}.00",
            }
            return NewEvent(
                EventKind.BROKEN_PROMISE,
                "planner",
                data,
                customer,
                invoices[:1],
                f"broken_promise:{invoices[0]}:{as_of}:{rng.random()}",
            )
        if kind == "alert":
            data = {
                "alert": "early_warning",
                "as_of": as_of,
                "days_overdue": 50,
                "threshold_days": 45,
                "recommend_credit_hold": True,
            }
            return NewEvent(
                EventKind.ALERT,
                "planner",
                data,
                customer,
                invoices[:1],
                f"early_warning:{invoices[0]}:{rng.random()}",
            )
        if kind == "tier_change":
            data = {
                "as_of": as_of,
                "from": "cooperative",
                "to": "cautious",
                "score": 44,
                "scored_tier": "cautious",
                "overridden": False,
                "trend_overdue": False,
                "components": {"history": 12, "lateness": 4, "scale": 10, "industry": 8, "legal": 10},
                "reason": "scorecard 44: cautious",
            }
            return NewEvent(EventKind.TIER_CHANGE, "planner", data, customer, ())
        data = {"action": rng.choice(("open", "close")), "reason": "数量争议"}
        return NewEvent(EventKind.DISPUTE, "wang.fang", data, customer, invoices[:1])
