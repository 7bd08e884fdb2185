"""`dunbot message show` for people and for scripts: one outbox message, read back."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from bot.cli.views.tables import Column, out, print_fitted


def _instant(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _file_json(stored: Any) -> dict[str, Any] | None:
    if stored is None:
        return None
    return {
        "name": stored.name,
        "content_type": stored.content_type or None,
        "size": stored.size,
        "sha256": stored.sha256,
        "path": str(stored.path) if stored.path else None,
    }


def message_json(detail: Any) -> dict[str, Any]:
    """`dunbot message show --json`."""
    content = detail.content
    waiting = detail.waiting
    return {
        "id": detail.id,
        "customer": detail.customer,
        "customer_name": detail.customer_name,
        "step": detail.step,
        "channel": detail.channel,
        "business_date": detail.business_date.isoformat(),
        "invoices": list(detail.invoices),
        "recipient": detail.recipient,
        "state": detail.state,
        "attempts": detail.attempts,
        "key": detail.key,
        "provider_id": detail.provider_id,
        "provider_status": detail.provider_status,
        "last_error": detail.last_error,
        "sent_at": _instant(detail.sent_at),
        "next_attempt_at": _instant(detail.next_attempt_at),
        "task": detail.task,
        "content": (
            {
                "subject": content.subject,
                "text": content.text,
                "headers": dict(content.headers),
                "source": _file_json(content.source),
            }
            if content is not None
            else None
        ),
        "content_note": detail.content_note or None,
        "attachments": [_file_json(a) for a in detail.attachments],
        "signed_pdf": _file_json(detail.signed_pdf),
        "history": [
            {"at": _instant(h.at), "seq": h.seq, "state": h.state, "actor": h.actor, "detail": h.detail}
            for h in detail.history
        ],
        "will_cancel": detail.will_cancel,
        "waiting": (
            {
                "goes_at": _instant(waiting.goes_at),
                "waits": [
                    {"reason": w.reason.value, "until": _instant(w.until), "detail": w.detail}
                    for w in waiting.waits
                ],
            }
            if waiting is not None
            else None
        ),
    }


def _say(text: str, style: str | None = None) -> None:
    """A line as written: stored content is never read as markup."""
    out.print(text, style=style, markup=False, emoji=False, highlight=False, soft_wrap=True)


def print_message(detail: Any) -> None:
    """`dunbot message show` for a person: what it said, what went with it, what happened, why it waits."""
    out.print(
        f"[bold]message {detail.id}[/]: {escape(detail.step)} by {detail.channel} to "
        f"{escape(detail.customer)} ({escape(detail.customer_name)}), business date {detail.business_date}",
        highlight=False,
    )
    _say(f"invoices: {', '.join(detail.invoices) or '-'}")
    _say(
        f"state: {detail.state}, {detail.attempts} attempt(s)"
        + (f"; last error: {detail.last_error}" if detail.last_error else "")
    )
    if detail.recipient:
        _say(f"recipient: {' / '.join(line for line in detail.recipient.splitlines() if line.strip())}")
    if detail.provider_id:
        _say(f"provider id: {detail.provider_id} ({detail.provider_status or '-'})")
    if detail.task is not None:
        _say(f"task: {detail.task} (`dunbot tasks --all`)")
    out.print()
    content = detail.content
    if content is not None:
        out.print("[bold]content as sent[/]", highlight=False)
        for name, value in content.headers:
            _say(f"{name}: {value}")
        if content.subject:
            _say(f"Subject: {content.subject}")
        out.print()
        _say(content.text.rstrip("\n"))
        out.print()
        if content.source is not None:
            _say(
                f"(read from {content.source.name} {content.source.sha256}, {content.source.path})",
                style="dim",
            )
    if detail.content_note:
        _say(detail.content_note, style="dim")
    if detail.attachments:
        print_fitted(
            "attachments",
            [
                Column("name", whole=True),
                Column("type", whole=True, drop=2),
                Column("bytes", justify="right", whole=True),
                Column("SHA-256", whole=True, drop=1),
            ],
            [
                [a.name, a.content_type or "", "-" if a.size is None else f"{a.size:,}", a.sha256]
                for a in detail.attachments
            ],
        )
    pdf = detail.signed_pdf
    if pdf is not None:
        where = str(pdf.path) if pdf.path else "MISSING from the artifact store"
        _say(f"signed PDF: {pdf.name} (SHA-256 {pdf.sha256}) at {where}")
        if pdf.path:
            _say(f"check it: dunbot notice verify {pdf.path}", style="dim")
    out.print()
    print_fitted(
        "history",
        [
            Column("at (UTC)", whole=True),
            Column("event", justify="right", whole=True, drop=2),
            Column("state", whole=True),
            Column("by", whole=True, drop=1),
            Column("what"),
        ],
        [
            [f"{h.at:%Y-%m-%d %H:%M:%S}", "" if h.seq is None else str(h.seq), h.state, h.actor, h.detail]
            for h in detail.history
        ],
    )
    waiting = detail.waiting
    if waiting is None:
        return
    out.print()
    if detail.will_cancel:
        _say(f"it will not be sent: the outbox cancels it when it re-checks it ({detail.will_cancel})")
        return
    if not waiting.waits:
        _say("not waiting: the next cycle sends it")
        return
    out.print("[bold]why it waits[/]", highlight=False)
    for wait in waiting.waits:
        until = f" until {wait.until:%Y-%m-%d %H:%M} UTC" if wait.until is not None else ""
        _say(f"- {wait.reason.value}{until}: {wait.detail}")
    if any(wait.reason.value == "undeliverable" for wait in waiting.waits):
        _say("it goes with the first cycle after the customer's contact changes (`dunbot import customers`)")
    elif waiting.goes_at is None:
        _say("it goes once a collector decides (then with the next cycle)")
    else:
        _say(
            f"it can go from {waiting.goes_at:%Y-%m-%d %H:%M} UTC: the first cycle at or after then sends it"
        )
