"""What each kind of evidence event records, in words for a reader of a pack: the reference section
of a pack's README.txt (every :class:`~bot.evidence.log.EventKind`, with the fields of its data)."""

from __future__ import annotations

from bot.evidence.log import EventKind

# What each kind of event records: one line of meaning, then the fields of its body's "data".
EVENT_REFERENCE: dict[EventKind, tuple[str, str]] = {
    EventKind.IMPORT: (
        "a ledger file or source was imported and changed something",
        "entity (customers|invoices|payments|contracts), source (file name or source), sha256 (of "
        "the file or rows), rows, inserted, updated, unchanged, changes (per record: column -> "
        "[old, new]), kept (statuses people recorded in dunbot that the import did not overwrite)",
    ),
    EventKind.PAYMENT: ("a payment was recorded", "reference, amount (decimal string), currency, paid_on"),
    EventKind.TIER_CHANGE: (
        "the customer's credit tier differs from the last one recorded",
        "as_of, from, to, score, scored_tier, overridden, trend_overdue, components, reason",
    ),
    EventKind.ALERT: (
        "an early warning (credit hold recommended) or an overdue trend",
        "alert (early_warning|trend_overdue), as_of, days_overdue, threshold_days, "
        "recommend_credit_hold; for a trend: tier, scored_tier, overridden, reason",
    ),
    EventKind.BROKEN_PROMISE: (
        "a promise to pay passed unpaid",
        "as_of, promised_on, promised_amount, outstanding",
    ),
    EventKind.STEP_SUPERSEDED: (
        "a dunning step was skipped because a later one was already due",
        "as_of, step, tactic, tier, channels, reason, late_fees (invoice -> fee)",
    ),
    EventKind.STEP_PLANNED: (
        "a dunning step was planned for sending",
        "as_of, step, tactic, tier, channels, reason, late_fees, messages (the message ids)",
    ),
    EventKind.APPROVAL_REQUESTED: (
        "a step waits for a collector's approval",
        "as_of, step, tactic, tier, channels, reason, late_fees, task",
    ),
    EventKind.APPROVAL: (
        "a collector approved or rejected a step",
        "task, step, decision, reason, messages, business_date",
    ),
    EventKind.NOTICE_RENDERED: (
        "a signed PDF notice was produced",
        "notice, reference, step, as_of, language, pages, signer, timestamped, notice_sha256 (the PDF "
        "in artifacts/)",
    ),
    EventKind.MESSAGE_SENT: (
        "a provider accepted a message (e-mail, SMS, call, letter queue, task)",
        "message, channel, step, recipient, key (the e-mail's Message-ID), reference, attempt, "
        "provider_id, provider_status, detail (e-mail: reply = the SMTP server's final reply), "
        "artifacts (file name -> SHA-256: message.eml = the e-mail as sent, smtp_reply.json = the "
        "server's reply, request.json / response.json = the SMS or call request and the provider's "
        "answer), notice_sha256, business_date, recipient_date, days_late",
    ),
    EventKind.MESSAGE_FAILED: (
        "a send failed (or a message was found blocked before sending)",
        "message, channel, step, recipient, key, attempt, code, error (the provider's words), "
        "permanent, will_retry, artifacts; or business_date, reason, blocked",
    ),
    EventKind.MESSAGE_UNKNOWN: (
        "a send was interrupted: it may or may not have happened (never resent automatically)",
        "message, channel, step, recipient, key, attempt, reason, artifacts",
    ),
    EventKind.MESSAGE_DELIVERED: (
        "the provider reported delivery or non-delivery (a Twilio status callback)",
        "message, channel, provider_id, status, state, error_code, callback_sha256 (the callback's "
        "raw request body), resolved_unknown",
    ),
    EventKind.MESSAGE_CANCELLED: (
        "the check just before sending found the message no longer due",
        "message, channel, step, business_date, reason",
    ),
    EventKind.MESSAGE_RESOLVED: (
        "a collector said what became of a message whose outcome was unknown",
        "message, channel, step, key, outcome, state, note, task",
    ),
    EventKind.MESSAGE_UNDELIVERABLE: (
        "a bounce (RFC 3464 DSN) or a carrier report said the address or number did not take the "
        "message; when hard, nothing more goes to it until the customer's contact changes",
        "message, channel, recipient, hard, state, reason",
    ),
    EventKind.OPT_OUT: (
        "a recipient unsubscribed from a channel",
        "channel, recipient, code (provider's), message, reason",
    ),
    EventKind.TASK_CREATED: (
        "a collector work item was created (a call, a letter to post, a review)",
        "task, kind, message, step, title, and what raised it",
    ),
    EventKind.TASK_DONE: (
        "a collector finished a work item",
        "task, kind, step, title, note, outcome, tracking (a posted letter's registered-mail "
        "number), tracking_sha256 (the tracking record in artifacts/)",
    ),
    EventKind.TASK_UPDATED: (
        "an open work item no longer covers some of its invoices",
        "task, kind, step, title, note, dropped, remaining",
    ),
    EventKind.DISPUTE: ("a dispute was opened or closed", "action (open|close), reason"),
    EventKind.PROMISE: ("a promise to pay was recorded", "promised_on, amount"),
    EventKind.PAUSE: (
        "a collector paused an invoice or a customer until a date",
        "scope (invoice|customer), until, reason, previous_until",
    ),
    EventKind.NOTE: ("a collector's note", "text"),
    EventKind.CREDIT_HOLD: ("the customer's credit was put on hold", "(none)"),
    EventKind.EXPORT: (
        "an evidence pack was exported (this pack's own export is the last event)",
        "case, file, previous_checkpoint, previous_tree_size",
    ),
    EventKind.USER_ADDED: ("a console user was created (never the password)", "user, role, language"),
    EventKind.USER_DISABLED: ("a console user was disabled and their sessions ended", "user"),
    EventKind.CUSTOMER_REASSIGNED: (
        "a manager gave a customer to another collector",
        "from, to, assigned_to, reason, tasks",
    ),
    EventKind.REPLY_RECEIVED: (
        "a customer's e-mail or SMS arrived, was matched to a customer (and message) and classified",
        "inbound, channel, sender, subject, raw_sha256 (the reply as it arrived, in artifacts/), "
        "artifacts (the attachments: file name -> SHA-256), match (by: tag|in-reply-to|references|"
        "dsn|dsn-recipient|sender|phone, message, candidates), kind, confidence, language, "
        "acknowledges_debt (the customer acknowledged the debt: it matters for limitation periods), "
        "promise_date, promise_amount, "
        "remittance, reasons, text, state (handled|confirm), why_confirm",
    ),
    EventKind.REPLY_ACTED: (
        "what was done about a reply: by dunbot, or by the collector who confirmed it",
        "inbound, kind, action (in words), confirmed (by a collector), invoices, tasks, raw_sha256",
    ),
}
