"""Verifying a million-event evidence log and exporting one case's pack from it, in one run (issue 5).

    .venv/bin/python bench/evidence.py [--events 1000000] [--case-events 1000] [--small-events 10000]
                                       [--cycles 250] [--db sqlite|postgres|both] [--pg-url URL]
                                       [--background-artifacts unique|pooled] [--profile]
                                       [--keep DIR [--reuse]]

It generates two evidence logs that pass verification (canonical bodies, gapless seq, content, chain
and leaf hashes exactly as ``append_events`` computes them, bulk-inserted with the driver), each
signed by one checkpoint per daily cycle (``create_checkpoint``, a trial certificate), interleaved
with the inserts so that every checkpoint covers a prefix of the log:

* the **large** log: ``--events`` events of ``--events / 1000`` customers;
* the **small** log: ``--small-events`` events, the same cycles;

and in both the same **case**: one customer with exactly ``--case-events`` events — e-mails with their
raw RFC 5322 bytes, signed PDF notices (real ones, laid out and PAdES-signed by dunbot), letters,
SMS with their Twilio request/response and delivery callbacks, tasks, approvals, payments, promises,
disputes, alerts, tier changes — all artifacts in an ``ArtifactStore``. Then, after an untimed
``upgrade`` and ``ANALYZE``, each in a fresh child process so that peak memory (VmHWM) and CPU time
are the measurement's own:

* **verify --db**: ``verify_database`` on the large log, what `dunbot evidence verify --db` runs
  (every event, every artifact named, every checkpoint's signature and root, consistency);
* **export**: ``export_pack`` of the case on the large log, what `dunbot evidence export` runs;
* **verify pack**: ``verify_pack`` of that pack (must be ok), what `dunbot evidence verify pack.zip` runs;
* the same export and pack verification on the small log, for the pack-size ratio.

Targets (issue 5): verify --db ≤ 60 s on 1,000,000 events; the export of a 1,000-event case ≤ 5 s; that
pack's size within 10 % of the same case's pack from a 10,000-event log.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import multiprocessing
import os
import pstats
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from queue import Empty
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evidence.log import EventKind, NewEvent

ORIGIN = "上海星河精密机械有限公司"  # the creditor: the example context's company
CASE = "C0000000"
CASE_NAME = "杭州远航贸易有限公司"
CASE_EMAIL = "ap@yuanhang.example"
CASE_PHONE = "+8613800000000"
CASE_ADDRESS = "浙江省杭州市滨江区江南大道 1888 号\n杭州远航贸易有限公司 财务部"
FIRST_DAY = date(2026, 1, 5)  # a Monday; cycles run on the following business days
CYCLE_HOUR_UTC = 1  # the default cron "0 9 * * 1-5" in Asia/Shanghai
DAY_SPAN_US = 10 * 3600 * 1_000_000  # a day's events spread over ten hours after the cycle starts
SCHEMAS = {"large": "bench_evidence", "small": "bench_evidence_small"}
EVENT_COLUMNS = (
    "seq",
    "at",
    "kind",
    "actor",
    "customer",
    "invoices",
    "body",
    "content_hash",
    "chain_hash",
    "leaf_hash",
    "dedupe_key",
)
TWILIO = "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
WORKER = "cycle@dunbot-1"


def _peak_mb() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries that across fork and exec, so a
    child started by a big parent would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU of this process and of the children it has waited for (verify's worker processes)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _workers_peak_mb() -> float:
    """The largest waited-for child's peak RSS (ru_maxrss of RUSAGE_CHILDREN), 0 with none."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _business_days(count: int) -> list[date]:
    days, day = [], FIRST_DAY
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _settings(url: str, folder: Path, pkcs12: Path) -> Any:
    from bot.config import CompanySettings, DatabaseSettings, EvidenceSettings, Settings, SigningSettings

    return Settings(
        company=CompanySettings(name="星河精密", legal_name=ORIGIN),
        database=DatabaseSettings(url=url),
        evidence=EvidenceSettings(artifact_dir=str(folder / "artifacts")),
        signing=SigningSettings(pkcs12=str(pkcs12)),
        base_dir=folder,
    )


def _use_schema(schema: str | None) -> None:
    if schema is None:
        os.environ.pop("PGOPTIONS", None)
    else:
        os.environ["PGOPTIONS"] = f"-csearch_path={schema}"


# --- artifacts -------------------------------------------------------------------------------------


class Blobs:
    """Writes artifacts where an ``ArtifactStore`` keeps them (``root/ab/cd/<sha256>``, read-only).

    ``ArtifactStore.put`` fsyncs every file, right for evidence and far too slow for half a million
    generated ones; the layout and the bytes are the same, and the verifier reads them the same way.
    """

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self._folders: set[str] = set()
        self.written = 0
        self.bytes = 0

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        folder = os.path.join(self.root, digest[:2], digest[2:4])
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        try:
            handle = os.open(os.path.join(folder, digest), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileExistsError:
            return digest
        try:
            os.write(handle, data)
        finally:
            os.close(handle)
        self.written += 1
        self.bytes += len(data)
        return digest


def _json_bytes(value: Any) -> bytes:
    # As bot/channels/twilio.py stores a request or response.
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def _sms_exchange(sid: str, to: str, text: str, key: str, created: str) -> dict[str, bytes]:
    form = {
        "Body": text,
        "From": "+8610690000",
        "StatusCallback": f"https://dunbot.example/twilio/status?k={key}",
    }
    form["To"] = to
    body = urlencode(form)
    request = {
        "method": "POST",
        "url": TWILIO,
        "headers": {
            "User-Agent": "twilio-python/9.3.7 (Linux x86_64) Python/3.11.7",
            "Accept-Charset": "utf-8",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Content-Length": str(len(body)),
        },
        "body": body,
        "form": form,
    }
    resource_ = {
        "account_sid": "AC0123456789abcdef0123456789abcdef",
        "api_version": "2010-04-01",
        "body": text,
        "date_created": created,
        "date_sent": None,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": "+8610690000",
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "2",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/AC0123/Messages/{sid}/Media.json"},
        "to": to,
        "uri": f"/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/{sid}.json",
    }
    response = {
        "status": 201,
        "headers": {"Content-Type": "application/json; charset=utf-8", "Twilio-Request-Id": "RQ" + sid[2:]},
        "body": json.dumps(resource_, ensure_ascii=False),
    }
    return {"request.json": _json_bytes(request), "response.json": _json_bytes(response)}


def _callback(sid: str, to: str, status: str) -> bytes:
    # The raw form body Twilio POSTs to /twilio/status, stored as the callback artifact.
    return urlencode(
        {
            "AccountSid": "AC0123456789abcdef0123456789abcdef",
            "ApiVersion": "2010-04-01",
            "From": "+8610690000",
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": to,
        }
    ).encode()


# --- the case: one customer, a year of dunning --------------------------------------------------------

SIGNED_STEPS = (("due_statement", 0), ("formal_notice", 15), ("credit_hold", 30), ("lawyer_letter", 45))
UNSIGNED_STEPS = (("pre_due_reminder", -7), ("pre_due_reminder", -7), ("care_call", 7))
SMS_STEPS = {
    "collection_call",
    "credit_hold",
    "due_statement",
    "formal_notice",
    "overdue_sms",
    "pre_due_reminder",
}


class Renderer:
    """Real dunbot messages: templates, notice layout, PAdES signature, RFC 5322 bytes."""

    def __init__(self, signer: Any) -> None:
        from bot.render.fonts import FontChoice

        self.signer = signer
        self.fonts = FontChoice()

    def context(
        self,
        customer: tuple[str, str],
        step: str,
        day: int,
        as_of: date,
        reference: str,
        invoices: tuple[str, ...],
        signed: bool,
    ) -> Any:
        from bot.render.context import example_context

        context = example_context("zh-CN", invoice_count=len(invoices))
        context["customer"]["id"], context["customer"]["name"] = customer
        context["step"] = {"name": step, "day": day}
        context["as_of"] = as_of.isoformat()
        context["reference"] = reference
        context["notice_attached"] = signed
        for line, number in zip(context["invoices"], invoices, strict=True):
            line["number"] = number
            line["due_date"] = (as_of - timedelta(days=day)).isoformat()
            line["days_overdue"] = day
        for contract in context["contracts"]:
            contract["invoices"] = [invoices[0]] if contract["ref"] else list(invoices[1:])
        return context

    def notice(self, context: Any, step: str) -> tuple[bytes, int]:
        from bot.render.environment import render_letter
        from bot.render.letter import NoticeContent, lay_out_notice

        body = render_letter("zh-CN", step, context)
        signed_at = self.signer.signing_time()
        laid_out = lay_out_notice(
            NoticeContent("zh-CN", context, body, CASE_ADDRESS, signer_name=self.signer.signer_name),
            self.fonts,
            signed_at,
        )
        return self.signer.sign(laid_out.pdf, laid_out.signature, signed_at), laid_out.pages

    def email(self, context: Any, step: str, key: str, to: str, pdf: bytes | None, at: datetime) -> bytes:
        from bot.channels.base import Attachment, Channel, Outgoing
        from bot.channels.mime import build_email
        from bot.render.environment import render_email

        rendered = render_email("zh-CN", step, context)
        attachments = (Attachment(f"{context['reference']}.pdf", "application/pdf", pdf),) if pdf else ()
        outgoing = Outgoing(
            key=key,
            channel=Channel.EMAIL,
            recipient=to,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            language="zh-CN",
            attachments=attachments,
            customer=context["customer"]["id"],
            step=step,
            invoices=tuple(line["number"] for line in context["invoices"]),
        )
        return build_email(outgoing, "ar@xinghe.example", now=at)

    def sms(self, context: Any, step: str) -> str:
        from bot.render.environment import render_sms

        return render_sms("zh-CN", step if step in SMS_STEPS else "overdue_sms", context)


def _case_rounds(count: int, cycles: int, store: Any, renderer: Renderer) -> list[tuple[int, list[NewEvent]]]:
    """The case's events, grouped by dunning round, each round with the cycle (day index) it runs in.

    Per 200 rounds (1,000 events): 200 e-mails, 50 of them with a signed notice (which 20 letters carry
    too), 80 SMS with two delivery callbacks each, 40 collector calls, 10 approvals, 120 payments, 20
    promises (5 broken), 10 early-warning alerts, 4 tier changes, 2 credit holds, 4 dispute events and
    5 superseded steps.
    """
    days = _business_days(cycles)
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
        exchange = _sms_exchange(
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
                    "callback_sha256": store.put(_callback(sid, CASE_PHONE, status)),
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


# --- the background: every other customer ------------------------------------------------------------

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
                exchange = _sms_exchange(sid, phone, self.sms_text, f"sms-{m}", iso)
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
            digest = self._put(lambda: _callback(sid, f"+86139{m % 10**8:08d}", status))
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


# --- writing the log ----------------------------------------------------------------------------------


class LogWriter:
    """Bulk inserts of evidence rows with the driver: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, url: str, schema: str | None) -> None:
        self.postgres = schema is not None
        self.sql = f"INSERT INTO evidence_event ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
        if self.postgres:
            import psycopg

            self.connection: Any = psycopg.connect(_libpq(url, schema or ""))
        else:
            from sqlalchemy.dialects import sqlite as sqlite_dialect

            from bot.store.tables import EvidenceEvent

            column = EvidenceEvent.__table__.c.at  # type: ignore[attr-defined]
            # The exact text SQLAlchemy stores for an instant on SQLite (the type's own bind processor).
            self.instant = column.type.bind_processor(sqlite_dialect.dialect())
            self.connection = sqlite3.connect(url.removeprefix("sqlite:///"))

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        if self.postgres:
            copy_sql = f"COPY evidence_event ({', '.join(EVENT_COLUMNS)}) FROM STDIN"
            with self.connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            self.connection.commit()
        else:
            instant = self.instant
            self.connection.executemany(self.sql, [(r[0], instant(r[1]), *r[2:]) for r in rows])
            self.connection.commit()

    def close(self) -> None:
        self.connection.close()


def _libpq(url: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options = f"options=-csearch_path%3D{schema}"
    return f"postgresql://{parsed.username or 'postgres'}@{parsed.host or '127.0.0.1'}:{parsed.port or 5432}/{parsed.database}?{options}"


def _interleave(case: list[NewEvent], background: list[NewEvent]) -> list[NewEvent]:
    # The case's events spread evenly among the day's other events.
    keyed = [((j + 0.5) / len(background), 1, e) for j, e in enumerate(background)]
    keyed += [((k + 0.5) / len(case), 0, e) for k, e in enumerate(case)]
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [e for _, _, e in keyed]


def generate(
    url: str,
    schema: str | None,
    events: int,
    case_rounds: list[tuple[int, list[NewEvent]]],
    cycles: int,
    background: Background,
    settings: Any,
) -> dict[str, Any]:
    """Write the whole log, cycle by cycle, a signed checkpoint after each; returns counts and timings."""
    from sqlmodel import Session

    from bot.evidence.canonical import ZERO_HASH, canonical_bytes, chain_hash
    from bot.evidence.checkpoint import create_checkpoint
    from bot.evidence.log import event_body
    from bot.render.signing import company_signer
    from bot.store import tables
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    started = time.perf_counter()
    _use_schema(schema)
    engine = make_engine(url)
    upgrade(engine)
    customers = background.customers
    with Session(engine) as session:
        session.add(
            tables.Customer(
                id=CASE,
                name=CASE_NAME,
                country="CN",
                timezone="Asia/Shanghai",
                language="zh-CN",
                email=CASE_EMAIL,
                phone=CASE_PHONE,
                address=CASE_ADDRESS,
            )
        )
        session.add_all(
            tables.Customer(
                id=f"C{c:07d}",
                name=f"客户{c:07d}有限公司",
                country="CN",
                timezone="Asia/Shanghai",
                language="zh-CN",
                email=f"ap@c{c:07d}.example",
                phone=f"+86139{c:08d}",
            )
            for c in range(1, customers)
        )
        session.commit()
    by_day: dict[int, list[NewEvent]] = {}
    for day_index, round_events in case_rounds:
        by_day.setdefault(day_index, []).extend(round_events)
    case_total = sum(len(e) for _, e in case_rounds)
    background_total = events - case_total
    days = _business_days(cycles)
    writer = LogWriter(url, schema)
    signer = company_signer(settings)
    sha256 = hashlib.sha256
    seq, previous = 0, ZERO_HASH
    hashing_s = checkpoint_s = insert_s = 0.0
    try:
        for d, day in enumerate(days):
            rng = random.Random(1_000_003 * d + 7)
            count = background_total * (d + 1) // cycles - background_total * d // cycles
            t0 = time.perf_counter()
            merged = _interleave(by_day.get(d, []), list(background.events(rng, count, day)))
            cycle = datetime(day.year, day.month, day.day, CYCLE_HOUR_UTC, tzinfo=UTC)
            spacing = DAY_SPAN_US // max(1, len(merged))
            rows = []
            for i, event in enumerate(merged):
                seq += 1
                at = cycle + timedelta(microseconds=i * spacing)
                # Exactly what append_events computes and stores (bot/evidence/log.py).
                body = canonical_bytes(event_body(seq, at, event))
                content = sha256(body).digest()
                previous = chain_hash(previous, content)
                invoices = json.dumps(sorted(event.invoices), ensure_ascii=False, separators=(",", ":"))
                rows.append(
                    (
                        seq,
                        at,
                        event.kind.value,
                        event.actor,
                        event.customer,
                        invoices,
                        body.decode("utf-8"),
                        content.hex(),
                        previous.hex(),
                        sha256(b"\x00" + body).hexdigest(),
                        event.dedupe_key,
                    )
                )
            t1 = time.perf_counter()
            writer.write(rows)
            t2 = time.perf_counter()
            create_checkpoint(
                engine, signer, ORIGIN, cycle + timedelta(microseconds=DAY_SPAN_US + 1), "cycle"
            )
            t3 = time.perf_counter()
            hashing_s += t1 - t0
            insert_s += t2 - t1
            checkpoint_s += t3 - t2
    finally:
        signer.close()
        writer.close()
        engine.dispose()
    return {
        "events": seq,
        "case_events": case_total,
        "customers": customers,
        "checkpoints": cycles,
        "generate_s": time.perf_counter() - started,
        "events_s": hashing_s,
        "insert_s": insert_s,
        "checkpoint_s": checkpoint_s,
    }


# --- the measurements, each in its own process ---------------------------------------------------------


def _profiled(profile: bool, call: Callable[[], Any]) -> Any:
    if not profile:
        return call()
    profiler = cProfile.Profile()
    result = profiler.runcall(call)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    print(out.getvalue(), file=sys.stderr, flush=True)
    return result


def _verify_workers(events: int) -> int:
    from bot.evidence.service import PARALLEL_FROM

    return len(os.sched_getaffinity(0)) if events >= PARALLEL_FROM else 0


def _verify_db(url: str, schema: str | None, folder: str, pkcs12: str, profile: bool, result: Any) -> None:
    from bot.evidence.service import verify_database
    from bot.store.engine import make_engine

    _use_schema(schema)
    settings = _settings(url, Path(folder), Path(pkcs12))
    started = time.perf_counter()
    cpu = _cpu_s()
    # What `dunbot evidence verify --db` runs (bot/cli/evidence.py).
    report = _profiled(
        profile,
        lambda: verify_database(
            make_engine(settings.database_url), settings.path(settings.evidence.artifact_dir)
        ),
    )
    elapsed = time.perf_counter() - started
    problems = [f"{p.item}: {p.message}" for p in report.all_problems[:3]]
    result.put(
        {
            "s": elapsed,
            "ok": report.ok,
            "events": report.log.events_checked,
            "artifacts": report.log.artifacts_checked,
            "checkpoints": report.checkpoints_checked,
            "problems": problems,
            "cpu": _cpu_s() - cpu,
            # The parent and, for each worker process, the largest one's peak (an upper bound).
            "mb": _peak_mb() + _verify_workers(report.log.events_checked) * _workers_peak_mb(),
            "workers": _verify_workers(report.log.events_checked),
        }
    )


def _export(
    url: str, schema: str | None, folder: str, pkcs12: str, out: str, profile: bool, result: Any
) -> None:
    from bot.evidence.pack import export_pack
    from bot.store.engine import make_engine

    _use_schema(schema)
    settings = _settings(url, Path(folder), Path(pkcs12))
    now = datetime.combine(_business_days(1)[0], datetime.min.time(), UTC) + timedelta(days=400)
    started = time.perf_counter()
    cpu = _cpu_s()
    # What `dunbot evidence export --customer ID --out pack.zip` runs (bot/cli/evidence.py).
    report = _profiled(
        profile,
        lambda: export_pack(
            make_engine(settings.database_url),
            settings,
            customer=CASE,
            invoice=None,
            out=Path(out),
            actor="bench",
            now=now,
        ),
    )
    result.put(
        {
            "s": time.perf_counter() - started,
            "bytes": report.size,
            "events": report.events,
            "artifacts": report.artifacts,
            "tree_size": report.checkpoint.tree_size,
            "cpu": _cpu_s() - cpu,
            "mb": _peak_mb(),
        }
    )


def _verify_pack(out: str, profile: bool, result: Any) -> None:
    from bot.evidence.pack_verify import verify_pack
    from bot.render.verification import load_trust_anchors

    started = time.perf_counter()
    cpu = _cpu_s()
    # What `dunbot evidence verify pack.zip` runs (bot/cli/evidence.py).
    report = _profiled(profile, lambda: verify_pack(Path(out), load_trust_anchors([]), None))
    result.put(
        {
            "s": time.perf_counter() - started,
            "ok": report.ok,
            "failures": [f"{f.item}: {f.detail}" for f in report.failures[:3]],
            "pdfs": report.pdfs,
            "cpu": _cpu_s() - cpu,
            "mb": _peak_mb(),
        }
    )


def _guarded(target: Any, *args: Any) -> None:
    queue = args[-1]
    try:
        target(*args)
    except BaseException:
        queue.put({"error": traceback.format_exc()})
        raise


def _child(target: Any, *args: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_guarded, args=(target, *args, queue))
    process.start()
    while True:
        try:
            outcome = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(f"{target.__name__} died (exit code {process.exitcode})") from None
    process.join()
    if "error" in outcome:
        raise RuntimeError(f"{target.__name__} failed:\n{outcome['error']}")
    return outcome


def _migrated(url: str) -> None:
    """Bring the log to the state a running system has before it is measured (not timed).

    The schema: other work may add a migration while a long run goes on, and an operator runs
    `dunbot init` after upgrading. The statistics: a log that grew over a year has been vacuumed and
    analysed by then; one bulk-loaded a minute ago has not (on PostgreSQL the first scan would set
    the hint bits of every page and autovacuum would run during the measurement).
    """
    import sqlalchemy as sa

    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM (ANALYZE) evidence_event"))
            connection.execute(sa.text("VACUUM (ANALYZE) checkpoint"))
    else:
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
    engine.dispose()


def _pack_composition(path: Path) -> dict[str, int]:
    """Compressed bytes in the pack by part: artifacts, manifest (proofs), events, chronology, rest."""
    import zipfile

    parts = {"artifacts": 0, "manifest": 0, "events": 0, "chronology": 0, "other": 0}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename
            part = (
                "artifacts"
                if name.startswith("artifacts/")
                else "events"
                if name.startswith("events/")
                else "manifest"
                if name == "manifest.json"
                else "chronology"
                if name == "chronology.pdf"
                else "other"
            )
            parts[part] += info.compress_size
    return parts


def _prepare(case_cache: dict[str, Any], args: argparse.Namespace, blobs: Blobs, settings: Any) -> None:
    from bot.render.signing import company_signer

    signer = company_signer(settings)
    try:
        renderer = Renderer(signer)
        started = time.perf_counter()
        case_cache["rounds"] = _case_rounds(args.case_events, args.cycles, blobs, renderer)
        unique = args.background_artifacts == "unique"
        days = _business_days(args.cycles)
        case_cache["background"] = Background(max(2, args.events // 1000), blobs, renderer, unique, days)
        case_cache["render_s"] = time.perf_counter() - started
    finally:
        signer.close()


def _migrate_schema(url: str, schema: str, result: Any) -> None:
    _use_schema(schema)
    _migrated(url)
    result.put({})


def run(
    db: str, args: argparse.Namespace, folder: Path, trial: Any, case_cache: dict[str, Any]
) -> dict[str, Any]:
    postgres = db == "postgres"
    out: dict[str, Any] = {"db": db}
    artifacts = folder / "artifacts"
    blobs = case_cache.setdefault("blobs", Blobs(artifacts))
    for size_name, events in (("large", args.events), ("small", args.small_events)):
        if postgres:
            import sqlalchemy as sa

            schema: str | None = SCHEMAS[size_name]
            admin = sa.create_engine(args.pg_url)
            with admin.begin() as connection:
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
            admin.dispose()
            url = args.pg_url
        else:
            schema = None
            url = f"sqlite:///{folder / f'evidence-{size_name}.db'}"
        settings = _settings(url, folder, trial.pkcs12)
        pristine = folder / f"evidence-{size_name}.pristine.db"
        summary = folder / f"evidence-{size_name}.json"
        if not postgres:
            database = folder / f"evidence-{size_name}.db"
            for leftover in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
                leftover.unlink(missing_ok=True)
        if not postgres and args.reuse and pristine.exists() and summary.exists():
            shutil.copyfile(pristine, database)
            generated = json.loads(summary.read_text())
            generated["reused"] = True
        else:
            if "rounds" not in case_cache:
                _prepare(case_cache, args, blobs, settings)
            background: Background = case_cache["background"]
            background.customers = max(2, events // 1000)
            before_files, before_bytes = blobs.written, blobs.bytes
            generated = generate(url, schema, events, case_cache["rounds"], args.cycles, background, settings)
            generated["artifact_files"] = blobs.written - before_files
            generated["artifact_bytes"] = blobs.bytes - before_bytes
            if not postgres and args.keep:
                shutil.copyfile(database, pristine)
                summary.write_text(json.dumps(generated))
        out[f"{size_name}_gen"] = generated
        print(
            f"  [{db}] {size_name} log: {generated['events']:,} events ({generated['case_events']} of {CASE}), "
            f"{generated['customers']:,} customers, {generated['checkpoints']} checkpoints "
            + ("(reused) " if generated.get("reused") else "")
            + f"in {generated['generate_s']:.1f} s (events+hashes+artifacts {generated['events_s']:.1f} s, "
            f"insert {generated['insert_s']:.1f} s, checkpoints {generated['checkpoint_s']:.1f} s); "
            f"{generated['artifact_files']:,} artifact files written, "
            f"{generated['artifact_bytes'] / 2**20:,.0f} MB",
            flush=True,
        )
        if postgres:
            _child(_migrate_schema, url, schema)
        else:
            _migrated(url)
        common = (url, schema, str(folder), str(trial.pkcs12))
        if size_name == "large":
            out["verify"] = _child(_verify_db, *common, args.profile)
        pack = folder / f"pack-{db}-{size_name}.zip"
        pack.unlink(missing_ok=True)
        out[f"{size_name}_export"] = _child(_export, *common, str(pack), args.profile)
        out[f"{size_name}_pack"] = _child(_verify_pack, str(pack), args.profile)
        out[f"{size_name}_parts"] = _pack_composition(pack)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--case-events", type=int, default=1000)
    parser.add_argument("--small-events", type=int, default=10_000)
    parser.add_argument(
        "--cycles", type=int, default=250, help="daily cycles, one checkpoint each (default 250)"
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "DUNBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--background-artifacts", choices=("unique", "pooled"), default="unique")
    parser.add_argument("--profile", action="store_true", help="cProfile each measurement (stderr)")
    parser.add_argument(
        "--reuse", action="store_true", help="with --keep on SQLite: measure the logs generated before"
    )
    parser.add_argument(
        "--keep", type=Path, help="generate into this folder and keep it (default: a temporary one)"
    )
    args = parser.parse_args()
    if not args.case_events < args.small_events <= args.events:
        parser.error("need --case-events < --small-events <= --events")
    from bot.render.certificate import create_trial_certificate

    databases = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        trial = create_trial_certificate(folder / "certificate", ORIGIN, "CN", datetime.now(UTC))
        case_cache: dict[str, Any] = {}
        print(f"  load average at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        results = [run(db, args, folder, trial, case_cache) for db in databases]
        if "render_s" in case_cache:
            print(
                f"  case rendered in {case_cache['render_s']:.1f} s (real signed notices and e-mails)",
                flush=True,
            )
    print(f"  load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    print(
        f"\n{'db':<9}{'events':>10}{'verify s':>10}{'cpu s':>7}{'MB':>6}{'export s':>10}{'cpu s':>7}{'MB':>6}"
        f"{'pack MB':>9}{'small MB':>10}{'ratio':>7}{'vpack s':>9}"
        "  targets: verify ≤ 60 s, export ≤ 5 s, pack within 10 %"
    )
    for r in results:
        v, e, s = r["verify"], r["large_export"], r["small_export"]
        ratio = e["bytes"] / s["bytes"]
        verdicts = [
            "verify " + ("met" if v["ok"] and v["s"] <= 60 else "MISSED"),
            "export " + ("met" if e["s"] <= 5 else "MISSED"),
            "size " + ("met" if abs(ratio - 1) <= 0.10 else "MISSED"),
        ]
        print(
            f"{r['db']:<9}{v['events']:>10}{v['s']:>10.1f}{v['cpu']:>7.1f}{v['mb']:>6.0f}{e['s']:>10.2f}"
            f"{e['cpu']:>7.2f}{e['mb']:>6.0f}{e['bytes'] / 1e6:>9.2f}{s['bytes'] / 1e6:>10.2f}{ratio:>7.3f}"
            f"{r['large_pack']['s']:>9.2f}  {', '.join(verdicts)}"
            + ("" if v["events"] >= 1_000_000 else " (the targets are for a 1,000,000-event log)"),
            flush=True,
        )
        lp, sp = r["large_pack"], r["small_pack"]
        print(
            f"{'':9}verify --db: {'ok' if v['ok'] else 'FAILED ' + '; '.join(v['problems'])}, "
            f"{v['events']:,} events, {v['artifacts']:,} artifacts, {v['checkpoints']} checkpoints, "
            f"{v['workers'] or 'no'} worker processes",
            flush=True,
        )
        print(
            f"{'':9}packs: {e['events']} events, {e['artifacts']} artifacts; verify_pack "
            f"{'ok' if lp['ok'] else 'FAILED'} in {lp['s']:.2f} s (cpu {lp['cpu']:.2f} s, {lp['mb']:.0f} MB, "
            f"{lp['pdfs']} PDFs) / small {'ok' if sp['ok'] else 'FAILED'} in {sp['s']:.2f} s; "
            f"small-log export {s['s']:.2f} s (cpu {s['cpu']:.2f} s)",
            flush=True,
        )
        for size_name in ("large", "small"):
            parts = r[f"{size_name}_parts"]
            failures = r[f"{size_name}_pack"]["failures"]
            print(
                f"{'':9}{size_name} pack (compressed): "
                + ", ".join(f"{k} {b / 1e6:.2f} MB" for k, b in parts.items())
                + (f"; FAILURES: {'; '.join(failures)}" if failures else ""),
                flush=True,
            )


if __name__ == "__main__":
    main()
