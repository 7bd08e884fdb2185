"""The chronology of an evidence pack: a table in the pack's language, every value whole, dated and
signed when it was made (DESIGN §6; issue 16)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.ladder import default_ladders
from bot.domain.ledger import Channel
from bot.evidence import chronology_text
from bot.evidence.chronology import chronology_rows, render_chronology
from bot.evidence.log import EventKind
from bot.render.fonts import FontChoice
from bot.render.signing import NoticeSigner
from bot.render.verification import verify_notice_bytes
from tests.conftest import require_cjk_font, require_tool

SHA = "7a027c5ff02c720596dd06cac83c9515f662aae0c4a67912a0ae13de529f914b"
LONG_REASON = "客户称其中两批货物的验收单与发票数量不一致，要求我司提供送货签收记录并重新对账；" * 4
LONG_TITLE = (
    "Print and post DN-20261207-000042 by registered mail to Harbour Trading Ltd., "
    "Unit 1203, Tower Two, Lippo Centre, 89 Queensway, Admiralty, Hong Kong, and record the tracking number"
)
# What code writes into events in English for operators; never shown in a Chinese chronology.
ENGLISH_SENTENCES = (
    "score 17.92 (1/4 paid on time, 51.25 days late on average) -> cautious",
    "pre_due_reminder (day -7) never ran and formal_notice (day 3) is due now; missed steps are not sent",
    "formal_notice (day 3) by email, sms, letter",
    LONG_TITLE,
)


def _event(seq: int, event_kind: str, **data: Any) -> dict[str, Any]:
    at = datetime(2026, 12, 7, 2, 0, tzinfo=UTC) + timedelta(seconds=seq)
    return {"seq": seq, "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "kind": event_kind, "data": data}


def every_kind_of_event() -> list[dict[str, Any]]:
    """One event of each kind, with the facts the code records for it (and its English sentences)."""
    return [
        _event(1, "import", entity="payments", source="payments.csv", sha256=SHA, rows=3, inserted=2, updated=1),
        _event(2, "payment", amount="128767.00", currency="CNY", paid_on="2026-11-24", reference="PAY-00138"),
        _event(3, "tier_change", to="cautious", score="17.92", trend_overdue=True, reason=ENGLISH_SENTENCES[0],
               overridden=False, components={"history": "10.00"}),
        _event(4, "alert", alert="early_warning", days_overdue=50, threshold_days=45, reason=ENGLISH_SENTENCES[0]),
        _event(5, "broken_promise", promised_on="2026-11-30", promised_amount="5000.00", outstanding="20000.00"),
        _event(6, "step_superseded", step="pre_due_reminder", tactic="preservation", tier="cautious",
               channels=[], reason=ENGLISH_SENTENCES[1]),
        _event(7, "step_planned", step="formal_notice", tactic="preservation", tier="cautious",
               channels=["email", "sms", "letter"], reason=ENGLISH_SENTENCES[2]),
        _event(8, "approval_requested", step="lawyer_letter", task=50),
        _event(9, "approval", step="lawyer_letter", task=50, decision="approved", reason="合同与对账单齐全"),
        _event(10, "notice_rendered", step="formal_notice", reference="DN-20261207-000042", pages=2,
               signer="上海星河精密机械有限公司", notice_sha256=SHA, timestamped=True),
        _event(11, "message_sent", message=43, channel="email", step="formal_notice",
               recipient="ap@yuanhang.com.cn", reference="DN-20261207-000042", provider_status="accepted",
               artifacts={"message.eml": SHA}),
        _event(12, "message_delivered", message=43, channel="email", status="delivered"),
        _event(13, "message_failed", message=44, channel="sms", step="overdue_sms", recipient="+8613800138000",
               code=21211, error="The 'To' number +8613800138000 is not a valid phone number."),
        _event(14, "message_unknown", message=45, channel="sms", step="overdue_sms", recipient="+8613800138000"),
        _event(15, "message_cancelled", message=46, channel="email", step="credit_hold", reason="paid since planning"),
        _event(16, "message_resolved", message=45, channel="sms", step="overdue_sms", outcome="delivered", note="客户确认收到"),
        _event(17, "opt_out", channel="sms", recipient="+8613800138000", code=21610, message=47),
        _event(18, "task_created", kind="letter", message=48, task=49, title=LONG_TITLE),
        _event(19, "task_done", task=49, kind="letter", title=LONG_TITLE, note="已寄出", tracking="XA123456789CN"),
        _event(20, "dispute", action="open", reason=LONG_REASON),
        _event(21, "promise", promised_on="2026-12-20", amount="10000.00"),
        _event(22, "credit_hold"),
        _event(23, "export", case="customer C1", file="c1.zip"),
        _event(24, "a_kind_added_later", anything="at all"),
    ]  # fmt: skip


def _recorded(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _recorded(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _recorded(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def test_every_event_kind_channel_and_default_step_has_words_in_both_languages() -> None:
    assert set(chronology_text.KINDS) == {kind.value for kind in EventKind}
    assert set(chronology_text.CHANNELS) == {channel.value for channel in Channel}
    steps = {step.name for ladder in default_ladders().values() for step in ladder}
    assert steps <= set(chronology_text.STEPS)
    for table in (chronology_text.KINDS, chronology_text.CHANNELS, chronology_text.STEPS):
        for chinese, english in table.values():
            assert re.search(r"[\u4e00-\u9fff]", chinese) and not re.search(r"[A-Za-z]", chinese)
            assert not re.search(r"[\u4e00-\u9fff]", english)


def test_a_chinese_chronology_shows_no_english_but_what_was_recorded() -> None:
    bodies = every_kind_of_event()
    for body, row in zip(bodies, chronology_rows(bodies, "zh-CN"), strict=True):
        shown = " ".join((row.kind, row.channel, row.step, row.outcome))
        for sentence in ENGLISH_SENTENCES:
            assert sentence not in shown
        left = shown
        # Recorded values (identifiers, amounts, names, a provider's reply quoted as evidence) are
        # data, in whatever script they came; the English sentences code writes are not shown.
        for value in sorted(_recorded(body["data"]), key=len, reverse=True):
            left = left.replace(value, "")
        # The pack's folder as it is named, and UTC as the column header writes it: symbols, not English.
        left = left.replace("events/", "").replace("UTC", "")
        assert not re.search(r"[A-Za-z]", left), f"{body['kind']}: {shown!r}"
        assert "=" not in shown and "…" not in shown
        assert re.search(r"[\u4e00-\u9fff]", row.kind)
    rows = {body["kind"]: row for body, row in zip(bodies, chronology_rows(bodies, "zh-CN"), strict=True)}
    assert rows["message_sent"].outcome.endswith("送达回执：已送达（2026-12-07 02:00:12 UTC）")
    assert (rows["message_sent"].kind, rows["message_sent"].channel) == ("发出", "电子邮件")
    assert (
        rows["step_planned"].step == "正式催款函" and "电子邮件、短信、信函" in rows["step_planned"].outcome
    )
    assert rows["dispute"].outcome == f"提出异议，理由：{LONG_REASON}"  # whole, however long
    assert rows["message_failed"].outcome.endswith(
        "The 'To' number +8613800138000 is not a valid phone number."
    )


def test_an_english_chronology_speaks_english() -> None:
    bodies = every_kind_of_event()
    rows = {body["kind"]: row for body, row in zip(bodies, chronology_rows(bodies, "en"), strict=True)}
    for body in bodies:
        row = rows[body["kind"]]
        shown = re.sub(r"[\u4e00-\u9fff，；]+", "", " ".join((row.kind, row.channel, row.step, row.outcome)))
        assert "_" not in shown.replace("a_kind_added_later", ""), shown  # no identifiers as words
    assert rows["task_created"].outcome == f"{LONG_TITLE}, task 49"
    assert rows["payment"].outcome == "CNY 128767.00, paid on 2026-11-24, reference PAY-00138"
    assert rows["a_kind_added_later"].kind == "Other record"


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_chronology_pdf_is_a_table_with_nothing_cut(
    trial_certificate: Any, language: str, tmp_path: Path
) -> None:
    require_cjk_font()
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    signer = NoticeSigner.from_pkcs12(trial_certificate.pkcs12, None, clock=lambda: at)
    try:
        pdf = render_chronology(
            chronology_rows(every_kind_of_event(), language),
            case="客户 C1（杭州远航贸易有限公司）"
            if language == "zh-CN"
            else "customer C1 — Harbour Trading Ltd.",
            origin="上海星河精密机械有限公司",
            exported_at="2026-12-07 04:00:00",
            language=language,
            signer=signer,
            fonts=FontChoice(),
        )
    finally:
        signer.close()
    path = tmp_path / "chronology.pdf"
    path.write_bytes(pdf)
    shown = subprocess.run(
        [require_tool("pdftotext"), "-raw", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", "", shown)
    assert "…" not in shown and "=" not in shown
    if language == "zh-CN":
        for words in ("联络与事实时序表", "序号", "记录内容", "出具方：", "收到付款", "正式催款函"):
            assert words in flat, words
        assert re.sub(r"\s+", "", LONG_REASON) in flat  # four lines of a cell, every character
        assert "message_sent" not in shown and "formal_notice" not in shown
    else:
        for words in ("Chronology of contacts and facts", "Record", "Formal notice", "Sending failed"):
            assert re.sub(r"\s+", "", words) in flat, words
        assert re.sub(r"\s+", "", LONG_TITLE) in flat
    info = subprocess.run(
        [require_tool("pdfinfo"), "-isodates", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert (
        f"CreationDate:    {at:%Y-%m-%dT%H:%M:%S}Z" in info
        and f"ModDate:         {at:%Y-%m-%dT%H:%M:%S}Z" in info
    )
    assert verify_notice_bytes(pdf, "chronology.pdf").ok
    sig = subprocess.run(
        [require_tool("pdfsig"), str(path)], capture_output=True, text=True, check=False
    ).stdout
    assert "Signature Validation: Signature is Valid." in sig, sig
