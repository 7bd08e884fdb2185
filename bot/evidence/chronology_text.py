"""The words of the chronology in the pack's language: what each event is, and one sentence of what
it records, built from the event's facts.

An event's data holds facts (amounts, dates, channels, statuses, hashes) and sometimes a sentence
that code wrote in English for operators (a planner's reason, a task's title). A zh-CN chronology
shows the facts under Chinese labels and leaves those English sentences out; the full event, every
word of it, is in the pack's ``events/`` folder, which the table says. Nothing is cut: a fact too
long for its cell wraps.

Values that are the case's own data stay as recorded: invoice numbers, amounts, addresses, a
provider's reply, a collector's note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ZH, EN = 0, 1  # index into each (Chinese, English) pair

KINDS: dict[str, tuple[str, str]] = {
    "import": ("数据导入", "Ledger import"),
    "payment": ("收到付款", "Payment"),
    "tier_change": ("信用等级评定", "Credit tier"),
    "alert": ("风险预警", "Alert"),
    "broken_promise": ("付款承诺未兑现", "Broken promise"),
    "step_superseded": ("催收步骤跳过", "Step skipped"),
    "step_planned": ("催收步骤安排", "Step planned"),
    "approval_requested": ("提交审批", "Approval requested"),
    "approval": ("审批决定", "Approval decision"),
    "notice_rendered": ("生成签章文书", "Signed notice made"),
    "message_sent": ("发出", "Sent"),
    "message_failed": ("发送失败", "Sending failed"),
    "message_unknown": ("发送结果不明", "Outcome unknown"),
    "message_delivered": ("送达回执", "Delivery report"),
    "message_cancelled": ("取消发送", "Cancelled"),
    "message_resolved": ("人工核实发送结果", "Outcome resolved"),
    "message_undeliverable": ("无法送达", "Undeliverable"),
    "opt_out": ("退订", "Opt-out"),
    "task_created": ("创建催收任务", "Task created"),
    "task_done": ("完成催收任务", "Task done"),
    "task_updated": ("调整催收任务", "Task updated"),
    "pause": ("暂停催收", "Collection paused"),
    "note": ("催收备注", "Note"),
    "dispute": ("异议", "Dispute"),
    "promise": ("付款承诺", "Promise to pay"),
    "credit_hold": ("暂停赊销", "Credit hold"),
    "export": ("导出证据包", "Evidence pack exported"),
    "user_added": ("新增控制台用户", "Console user added"),
    "user_disabled": ("停用控制台用户", "Console user disabled"),
    "customer_reassigned": ("客户改派", "Customer reassigned"),
    "reply_received": ("收到客户回复", "Reply received"),
    "reply_acted": ("处理客户回复", "Reply acted on"),
}
OTHER_KIND = ("其他记录", "Other record")

CHANNELS = {
    "email": ("电子邮件", "E-mail"),
    "sms": ("短信", "SMS"),
    "voice": ("语音电话", "Voice call"),
    "letter": ("信函", "Letter"),
    "task": ("催收任务", "Task"),
}

STEPS = {
    "pre_due_reminder": ("到期前提醒", "Pre-due reminder"),
    "due_statement": ("到期对账单", "Statement at due date"),
    "care_call": ("关怀电话", "Care call"),
    "formal_notice": ("正式催款函", "Formal notice"),
    "account_review": ("账户复核", "Account review"),
    "final_demand": ("最后催告函", "Final demand"),
    "legal_referral": ("移交法务", "Legal referral"),
    "overdue_sms": ("逾期短信提醒", "Overdue SMS"),
    "collection_call": ("催收电话", "Collection call"),
    "credit_hold": ("暂停赊销通知", "Credit hold"),
    "lawyer_letter": ("律师函", "Lawyer's letter"),
    "payment_order_pack": ("支付令申请材料", "Payment order pack"),
    "litigation_referral": ("移交诉讼", "Litigation referral"),
    "preservation_pack": ("财产保全材料", "Preservation pack"),
}

TIERS = {
    "strategic": ("战略级", "strategic"),
    "cooperative": ("合作级", "cooperative"),
    "cautious": ("谨慎级", "cautious"),
}
TACTICS = {
    "consultative": ("顾问式", "consultative"),
    "procedural": ("程序式", "procedural"),
    "preservation": ("保全式", "preservation"),
}
# Provider and delivery statuses (SMTP, Twilio, the file and letter channels) and a collector's
# resolution of an unknown message.
STATUSES = {
    "accepted": ("服务商已受理", "accepted by the provider"),
    "queued": ("已排队", "queued"),
    "sending": ("发送中", "sending"),
    "sent": ("已发出", "sent"),
    "delivered": ("已送达", "delivered"),
    "undelivered": ("未送达", "undelivered"),
    "not-delivered": ("未送达", "not delivered"),
    "failed": ("失败", "failed"),
    "read": ("已读", "read"),
    "written": ("已写入投递目录", "written to the drop folder"),
    "canceled": ("已取消", "cancelled"),
}
TASK_KINDS = {
    "letter": ("打印并以挂号信寄出", "print and post by registered mail"),
    "review": ("人工复核", "review"),
    "approval": ("审批", "approval"),
    "call": ("电话沟通", "call"),
    "legal": ("移交法务", "legal hand-off"),
}
# What a call came to (bot.outreach.tasks.CALL_OUTCOMES) and what closed a call task for it.
CALL_RESULTS = {
    "reached": ("已接通", "reached"),
    "promised": ("客户承诺付款", "promised to pay"),
    "no-answer": ("无人接听", "no answer"),
    "voicemail": ("已留言", "left a voicemail"),
    "wrong-number": ("号码错误", "wrong number"),
    "refused": ("客户拒绝付款", "refused to pay"),
    "disputed": ("客户提出异议", "disputed"),
}
ALERTS = {
    "early_warning": ("逾期预警，建议暂停赊销", "early warning, credit hold recommended"),
    "trend_overdue": ("连续逾期", "trend overdue"),
}


def label(table: Mapping[str, tuple[str, str]], value: Any, language: int) -> str:
    """``value``'s label; a value the table does not know is shown as recorded (it is data)."""
    if value is None or value == "":
        return ""
    pair = table.get(str(value))
    return pair[language] if pair else str(value)


def what(kind: str, language: int) -> str:
    """The event kind's name."""
    return KINDS.get(kind, OTHER_KIND)[language]


def outcome(kind: str, data: Mapping[str, Any], report: str, language: int) -> str:
    """One sentence of what the event records. ``report`` is a sent message's delivery proofs
    (the mail server's reply, the status callbacks, a letter's tracking number), already in words."""
    zh = language == ZH
    text = _SENTENCES.get(kind)
    if text is None:
        return "完整记录见证据包 events/ 目录" if zh else "the full record is in the pack's events/ folder"
    return text(data, report, language)


def _join(parts: list[str], language: int) -> str:
    return ("，" if language == ZH else ", ").join(part for part in parts if part)


def join(parts: list[str], language: int) -> str:
    """Several facts in one cell, in the language's list punctuation."""
    return ("；" if language == ZH else "; ").join(part for part in parts if part)


def smtp_reply(reply: str, file: str, language: int) -> str:
    """The mail server's final reply to an e-mail, quoted as it came, and the file holding it."""
    if language == ZH:
        return f"邮件服务器答复“{reply}”" + (f"（{file}）" if file else "")
    return f'mail server replied "{reply}"' + (f" ({file})" if file else "")


def callback(status: str, when: str, file: str, language: int) -> str:
    """One status callback of an SMS or a call: the status, when it came, the file holding it."""
    if language == ZH:
        return f"送达回执：{status}（{when} UTC" + (f"，{file}" if file else "") + "）"
    return f"delivery report: {status} ({when} UTC" + (f", {file}" if file else "") + ")"


def tracking(number: str, when: str, file: str, language: int) -> str:
    """A posted letter's registered-mail number, when it was recorded, the file holding it."""
    if language == ZH:
        return f"挂号信单号 {number}（{when} UTC 登记" + (f"，{file}" if file else "") + "）"
    return f"registered mail no. {number} (recorded {when} UTC" + (f", {file}" if file else "") + ")"


def _payment(data: Mapping[str, Any], report: str, language: int) -> str:
    money = f"{data.get('currency', '')} {data.get('amount', '')}".strip()
    if language == ZH:
        return _join(
            [f"金额 {money}", f"付款日 {data.get('paid_on', '')}", f"凭证号 {data.get('reference', '')}"],
            language,
        )
    return _join(
        [money, f"paid on {data.get('paid_on', '')}", f"reference {data.get('reference', '')}"], language
    )


def _tier_change(data: Mapping[str, Any], report: str, language: int) -> str:
    tier, was = label(TIERS, data.get("to"), language), label(TIERS, data.get("from"), language)
    score = data.get("score")
    if language == ZH:
        return _join(
            [
                f"评定为{tier}" + (f"（评分 {score}）" if score is not None else ""),
                f"原为{was}" if was else "",
                "客户等级由人工指定" if data.get("overridden") else "",
                "连续逾期，下调一级" if data.get("trend_overdue") else "",
            ],
            language,
        )
    return _join(
        [
            f"tier {tier}" + (f" (score {score})" if score is not None else ""),
            f"was {was}" if was else "",
            "set by hand" if data.get("overridden") else "",
            "trend overdue: one tier down" if data.get("trend_overdue") else "",
        ],
        language,
    )


def _alert(data: Mapping[str, Any], report: str, language: int) -> str:
    alert = label(ALERTS, data.get("alert"), language)
    days = data.get("days_overdue")
    if language == ZH:
        return _join(
            [alert, f"逾期 {days} 天（阈值 {data.get('threshold_days')} 天）" if days else ""], language
        )
    return _join(
        [alert, f"{days} days overdue (threshold {data.get('threshold_days')})" if days else ""], language
    )


def _broken_promise(data: Mapping[str, Any], report: str, language: int) -> str:
    if language == ZH:
        return _join(
            [
                f"承诺付款日 {data.get('promised_on', '')}",
                f"承诺金额 {data.get('promised_amount') or '未约定'}",
                f"尚欠 {data.get('outstanding', '')}",
            ],
            language,
        )
    return _join(
        [
            f"promised for {data.get('promised_on', '')}",
            f"amount {data.get('promised_amount') or 'not stated'}",
            f"outstanding {data.get('outstanding', '')}",
        ],
        language,
    )


def _channels(data: Mapping[str, Any], language: int) -> str:
    names = [label(CHANNELS, channel, language) for channel in data.get("channels") or ()]
    return ("、" if language == ZH else ", ").join(names)


def _step_superseded(data: Mapping[str, Any], report: str, language: int) -> str:
    if language == ZH:
        return "未发送：更晚的催收步骤已到期，错过的步骤不补发"
    return "not sent: a later step was already due, and missed steps are not sent"


def _step_planned(data: Mapping[str, Any], report: str, language: int) -> str:
    channels, tactic = _channels(data, language), label(TACTICS, data.get("tactic"), language)
    tier = label(TIERS, data.get("tier"), language)
    if language == ZH:
        return _join(
            [f"渠道：{channels}" if channels else "", f"{tier}客户，{tactic}策略" if tier else ""], language
        )
    return _join(
        [f"by {channels}" if channels else "", f"{tier} customer, {tactic} tactic" if tier else ""], language
    )


def _approval_requested(data: Mapping[str, Any], report: str, language: int) -> str:
    return "须经人工审批后方可发出" if language == ZH else "nothing leaves before a collector approves"


def _approval(data: Mapping[str, Any], report: str, language: int) -> str:
    decision = str(data.get("decision", ""))
    approved = decision.startswith("approve")
    reason = str(data.get("reason") or "")
    if language == ZH:
        return _join(["批准" if approved else "驳回", f"理由：{reason}" if reason else ""], language)
    return _join(["approved" if approved else "rejected", f"reason: {reason}" if reason else ""], language)


def _notice_rendered(data: Mapping[str, Any], report: str, language: int) -> str:
    if language == ZH:
        return _join(
            [
                f"文书编号 {data.get('reference', '')}",
                f"共 {data.get('pages', '')} 页",
                f"签署人 {data.get('signer', '')}",
                "含可信时间戳" if data.get("timestamped") else "",
            ],
            language,
        )
    return _join(
        [
            f"reference {data.get('reference', '')}",
            f"{data.get('pages', '')} page(s)",
            f"signed by {data.get('signer', '')}",
            "timestamped" if data.get("timestamped") else "",
        ],
        language,
    )


def _message_sent(data: Mapping[str, Any], report: str, language: int) -> str:
    status = label(STATUSES, data.get("provider_status"), language)
    reference = data.get("reference") or ""
    if language == ZH:
        return _join([f"编号 {reference}" if reference else "", f"服务商答复：{status}", report], language)
    return _join([f"reference {reference}" if reference else "", f"provider: {status}", report], language)


def _message_failed(data: Mapping[str, Any], report: str, language: int) -> str:
    # The provider's own words (an SMTP reply, a Twilio error) are evidence: quoted as they came.
    error = str(data.get("error") or data.get("reason") or "")
    code = data.get("code")
    if language == ZH:
        return _join([f"错误码 {code}" if code else "", f"服务商答复：{error}" if error else ""], language)
    return _join([f"code {code}" if code else "", f"provider said: {error}" if error else ""], language)


def _message_unknown(data: Mapping[str, Any], report: str, language: int) -> str:
    if language == ZH:
        return "发送中断，是否送出无法确定；不会自动重发，已交人工核实"
    return (
        "interrupted while sending, it may or may not have gone; never resent automatically, a person checks"
    )


def _message_delivered(data: Mapping[str, Any], report: str, language: int) -> str:
    status = label(STATUSES, data.get("status"), language)
    code = data.get("error_code")
    if language == ZH:
        return _join([status, f"错误码 {code}" if code else ""], language)
    return _join([status, f"error code {code}" if code else ""], language)


def _message_cancelled(data: Mapping[str, Any], report: str, language: int) -> str:
    if language == ZH:
        return "发送前复核：发票已付款、有异议、有付款承诺或已暂停催收，不再发送"
    return "checked before sending: paid, disputed, promised or paused since planning, so not sent"


def _message_resolved(data: Mapping[str, Any], report: str, language: int) -> str:
    resolved = label(STATUSES, data.get("outcome"), language)
    note = str(data.get("note") or "")
    if language == ZH:
        return _join([f"核实结果：{resolved}", f"备注：{note}" if note else ""], language)
    return _join([f"found: {resolved}", f"note: {note}" if note else ""], language)


def _message_undeliverable(data: Mapping[str, Any], report: str, language: int) -> str:
    recipient, reason = str(data.get("recipient") or ""), str(data.get("reason") or "")
    if language == ZH:
        hard = "地址无效，更正前不再发送" if data.get("hard") else "本次未送达"
        return _join([f"{recipient} {hard}", f"原因：{reason}" if reason else ""], language)
    hard = (
        "the address is bad: nothing more goes to it until corrected" if data.get("hard") else "not delivered"
    )
    return _join([f"{recipient}: {hard}", f"reason: {reason}" if reason else ""], language)


# What a reply was classified as (bot.replies.model.ReplyKind values).
REPLY_KINDS = {
    "bounce": ("退信", "bounce"),
    "auto-reply": ("自动回复", "auto-reply"),
    "opt-out": ("退订", "opt-out"),
    "paid": ("称已付款", "says it has paid"),
    "dispute": ("提出异议", "dispute"),
    "promise": ("承诺付款", "promise to pay"),
    "other": ("其他", "other"),
}


def _opt_out(data: Mapping[str, Any], report: str, language: int) -> str:
    channel = label(CHANNELS, data.get("channel"), language)
    code, reason = data.get("code"), str(data.get("reason") or "")
    if language == ZH:
        return _join(
            [
                f"收件人退订{channel}",
                f"服务商代码 {code}" if code else "",
                f"理由：{reason}" if reason else "",
            ],
            language,
        )
    return _join(
        [
            f"the recipient opted out of {channel}",
            f"provider code {code}" if code else "",
            f"reason: {reason}" if reason else "",
        ],
        language,
    )


def _task_updated(data: Mapping[str, Any], report: str, language: int) -> str:
    dropped = ", ".join(str(n) for n in data.get("dropped") or ())
    remaining = ", ".join(str(n) for n in data.get("remaining") or ())
    if language == ZH:
        return _join(
            [f"任务编号 {data.get('task', '')}", f"不再包括 {dropped}", f"仍包括 {remaining}"], language
        )
    return _join(
        [f"task {data.get('task', '')}", f"no longer covers {dropped}", f"still covers {remaining}"], language
    )


def _pause(data: Mapping[str, Any], report: str, language: int) -> str:
    until, reason = data.get("until", ""), str(data.get("reason") or "")
    whole = data.get("scope") == "customer"
    if language == ZH:
        scope = "该客户全部发票" if whole else "该发票"
        return _join([f"{scope}暂停催收至 {until}（含）", f"理由：{reason}" if reason else ""], language)
    scope = "every invoice of the customer" if whole else "the invoice"
    return _join(
        [f"{scope} paused until {until} (inclusive)", f"reason: {reason}" if reason else ""], language
    )


def _task_created(data: Mapping[str, Any], report: str, language: int) -> str:
    kind = label(TASK_KINDS, data.get("kind"), language)
    if language == ZH:  # the title is written by code or a template, maybe in English: the kind says it
        return _join([kind, f"任务编号 {data.get('task', '')}"], language)
    return _join([str(data.get("title") or kind), f"task {data.get('task', '')}"], language)


def _task_done(data: Mapping[str, Any], report: str, language: int) -> str:
    note, tracking = str(data.get("note") or ""), str(data.get("tracking") or "")
    result = label(CALL_RESULTS, data.get("outcome"), language) if data.get("outcome") in CALL_RESULTS else ""
    if language == ZH:
        return _join(
            [
                f"任务编号 {data.get('task', '')}",
                f"通话结果：{result}" if result else "",
                f"备注：{note}" if note else "",
                f"挂号信单号 {tracking}" if tracking else "",
            ],
            language,
        )
    return _join(
        [
            f"task {data.get('task', '')}",
            f"call: {result}" if result else "",
            f"note: {note}" if note else "",
            f"tracking number {tracking}" if tracking else "",
        ],
        language,
    )


def _note(data: Mapping[str, Any], report: str, language: int) -> str:
    text = str(data.get("text") or "")  # the collector's own words, as written
    return f"备注：{text}" if language == ZH else f"note: {text}"


def _dispute(data: Mapping[str, Any], report: str, language: int) -> str:
    opened = data.get("action", "open") == "open"
    reason = str(data.get("reason") or "")
    if language == ZH:
        return _join(["提出异议" if opened else "异议已解决", f"理由：{reason}" if reason else ""], language)
    return _join(["opened" if opened else "closed", f"reason: {reason}" if reason else ""], language)


def _promise(data: Mapping[str, Any], report: str, language: int) -> str:
    amount = data.get("amount")
    if language == ZH:
        return _join(
            [f"承诺于 {data.get('promised_on', '')} 付款", f"金额 {amount}" if amount else ""], language
        )
    return _join([f"to pay by {data.get('promised_on', '')}", f"amount {amount}" if amount else ""], language)


def _credit_hold(data: Mapping[str, Any], report: str, language: int) -> str:
    return "暂停赊销供货" if language == ZH else "credit put on hold"


def _import(data: Mapping[str, Any], report: str, language: int) -> str:
    source = str(data.get("source") or "")
    counts = (data.get("inserted", 0), data.get("updated", 0))
    if language == ZH:
        return _join(
            [f"来源 {source}" if source else "", f"新增 {counts[0]} 条，更新 {counts[1]} 条"], language
        )
    return _join([f"from {source}" if source else "", f"{counts[0]} added, {counts[1]} updated"], language)


def _export(data: Mapping[str, Any], report: str, language: int) -> str:
    file = str(data.get("file") or "")
    return (f"文件 {file}" if language == ZH else f"file {file}") if file else ""


def _user(data: Mapping[str, Any], report: str, language: int) -> str:
    role = str(data.get("role") or "")
    return _join(
        [f"用户 {data.get('user', '')}" if language == ZH else f"user {data.get('user', '')}", role], language
    )


def _customer_reassigned(data: Mapping[str, Any], report: str, language: int) -> str:
    before, after = (
        data.get("from") or "",
        data.get("to") or ("催收组" if language == ZH else "the collectors"),
    )
    reason, tasks = str(data.get("reason") or ""), len(data.get("tasks") or ())
    if language == ZH:
        return _join(
            [
                f"由 {before} 改派给 {after}" if before else f"改派给 {after}",
                f"转移 {tasks} 项未完成任务" if tasks else "",
                f"理由：{reason}" if reason else "",
            ],
            language,
        )
    return _join(
        [
            f"from {before} to {after}" if before else f"to {after}",
            f"{tasks} open task(s) moved" if tasks else "",
            f"reason: {reason}" if reason else "",
        ],
        language,
    )


def _reply_received(data: Mapping[str, Any], report: str, language: int) -> str:
    kind = REPLY_KINDS.get(str(data.get("kind") or ""), (str(data.get("kind") or ""),) * 2)[language]
    sender, channel = str(data.get("sender") or ""), CHANNELS.get(str(data.get("channel") or ""))
    acknowledged = bool(data.get("acknowledges_debt"))
    confirm = data.get("state") == "confirm"
    if language == ZH:
        return _join(
            [
                f"{channel[ZH] if channel else ''}来自 {sender}",
                f"分类：{kind}",
                "客户承认债务" if acknowledged else "",
                "待人工确认" if confirm else "",
            ],
            language,
        )
    return _join(
        [
            f"{channel[EN] if channel else 'reply'} from {sender}",
            f"classified: {kind}",
            "the customer acknowledges the debt" if acknowledged else "",
            "awaits a collector's confirmation" if confirm else "",
        ],
        language,
    )


def _reply_acted(data: Mapping[str, Any], report: str, language: int) -> str:
    kind = REPLY_KINDS.get(str(data.get("kind") or ""), ("", ""))[language]
    if language == ZH:
        return _join(
            [f"按{kind}处理" if kind else "不予处理", "经人工确认" if data.get("confirmed") else ""], ZH
        )
    return _join(
        [str(data.get("action") or ""), "confirmed by a collector" if data.get("confirmed") else ""], EN
    )


_SENTENCES = {
    "payment": _payment,
    "tier_change": _tier_change,
    "alert": _alert,
    "broken_promise": _broken_promise,
    "step_superseded": _step_superseded,
    "step_planned": _step_planned,
    "approval_requested": _approval_requested,
    "approval": _approval,
    "notice_rendered": _notice_rendered,
    "message_sent": _message_sent,
    "message_failed": _message_failed,
    "message_unknown": _message_unknown,
    "message_delivered": _message_delivered,
    "message_cancelled": _message_cancelled,
    "message_resolved": _message_resolved,
    "message_undeliverable": _message_undeliverable,
    "opt_out": _opt_out,
    "task_created": _task_created,
    "task_done": _task_done,
    "task_updated": _task_updated,
    "pause": _pause,
    "note": _note,
    "dispute": _dispute,
    "promise": _promise,
    "credit_hold": _credit_hold,
    "import": _import,
    "export": _export,
    "user_added": _user,
    "user_disabled": _user,
    "customer_reassigned": _customer_reassigned,
    "reply_received": _reply_received,
    "reply_acted": _reply_acted,
}
