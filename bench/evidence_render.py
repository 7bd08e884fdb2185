"""What the evidence bench's events are made of: the creditor and the case's customer, the business
days the cycles run on, artifacts written where an ``ArtifactStore`` keeps them (:class:`Blobs`), the raw
Twilio exchanges and status callbacks, and real dunbot messages (:class:`Renderer`: templates, notice
layout, PAdES signature, RFC 5322 bytes).

Not a script: ``bench/evidence.py`` runs it (``.venv/bin/python bench/evidence.py --events 50000`` is a
quick run; see its docstring and bench/README.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ORIGIN = "上海星河精密机械有限公司"  # the creditor: the example context's company
CASE = "C0000000"
CASE_NAME = "杭州远航贸易有限公司"
CASE_EMAIL = "ap@yuanhang.example"
CASE_PHONE = "+8613800000000"
CASE_ADDRESS = "浙江省杭州市滨江区江南大道 1888 号\n杭州远航贸易有限公司 财务部"
FIRST_DAY = date(2026, 1, 5)  # a Monday; cycles run on the following business days
CYCLE_HOUR_UTC = 1  # the default cron "0 9 * * 1-5" in Asia/Shanghai
TWILIO = "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
WORKER = "cycle@dunbot-1"


def business_days(count: int) -> list[date]:
    days, day = [], FIRST_DAY
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


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


def sms_exchange(sid: str, to: str, text: str, key: str, created: str) -> dict[str, bytes]:
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


def callback_form(sid: str, to: str, status: str) -> bytes:
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
