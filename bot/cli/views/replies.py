"""`dunbot reply list|show` for people and for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape

from bot.cli.views.tables import Column, out, print_fitted


def _instant(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def reply_json(reply: Any) -> dict[str, Any]:
    """One reply of `dunbot reply list --json`."""
    return {
        "id": reply.id,
        "channel": reply.channel,
        "sender": reply.sender,
        "subject": reply.subject,
        "received_at": _instant(reply.received_at),
        "state": reply.state,
        "customer": reply.customer,
        "customer_name": reply.customer_name,
        "message": reply.message,
        "matched_by": reply.matched_by,
        "kind": reply.kind,
        "confidence": str(reply.confidence) if reply.confidence is not None else None,
        "action": reply.action,
    }


def detail_json(detail: Any) -> dict[str, Any]:
    """`dunbot reply show --json`."""
    return {
        **reply_json(detail.reply),
        "text": detail.text,
        "text_note": detail.text_note or None,
        "raw_sha256": detail.raw_sha256,
        "reasons": list(detail.reasons),
        "events": [
            {"seq": e.seq, "at": e.at, "kind": e.kind, "actor": e.actor, "data": e.data}
            for e in detail.events
        ],
    }


def _confidence(reply: Any) -> str:
    return f"{reply.confidence:.2f}" if reply.confidence is not None else "—"


def print_replies(replies: Sequence[Any], *, state: str | None) -> None:
    title = f"replies ({state})" if state else "replies"
    empty = "no reply awaits confirmation" if state == "confirm" else f"{title}: none"
    print_fitted(
        title,
        [
            Column("id", justify="right", whole=True),
            Column("received (UTC)", whole=True, drop=2),
            Column("channel", whole=True, drop=3),
            Column("sender", whole=True),
            Column("customer", whole=True),
            Column("kind", whole=True),
            Column("sure", justify="right", whole=True, drop=1),
            Column("state", whole=True),
            Column("subject / action"),
        ],
        [
            [
                str(r.id),
                f"{r.received_at:%Y-%m-%d %H:%M}",
                r.channel,
                r.sender,
                r.customer or "(unmatched)",
                r.kind or "—",
                _confidence(r),
                r.state,
                r.action or r.subject or "",
            ]
            for r in replies
        ],
        empty=empty,
    )


def print_reply(detail: Any) -> None:
    reply = detail.reply

    def say(label: str, value: object) -> None:
        out.print(f"[bold]{label}[/] {escape(str(value))}", highlight=False, soft_wrap=True)

    say("reply", f"{reply.id} ({reply.channel}), received {reply.received_at:%Y-%m-%d %H:%M} UTC")
    say("from", reply.sender)
    if reply.subject:
        say("subject", reply.subject)
    if reply.customer:
        matched = f", matched by {reply.matched_by}" if reply.matched_by else ""
        answers = f", answering message {reply.message}" if reply.message is not None else ""
        say("customer", f"{reply.customer} {reply.customer_name or ''}{matched}{answers}")
    else:
        say("customer", "not matched to a customer")
    say("classified", f"{reply.kind or 'not classified'} (confidence {_confidence(reply)})")
    if detail.reasons:
        say("because", "; ".join(detail.reasons))
    say("state", reply.state + (f": {reply.action}" if reply.action else ""))
    if reply.state == "confirm":
        out.print(
            f"it waits for a collector: `dunbot reply confirm {reply.id}` acts on it as classified, "
            f"`--as KIND` as another kind",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    out.print()
    out.print("[bold]text[/]", highlight=False)
    out.print(detail.text or "(empty)", markup=False, highlight=False, soft_wrap=True)
    if detail.text_note:
        out.print(f"({detail.text_note})", markup=False, highlight=False, soft_wrap=True)
    if detail.events:
        out.print()
        out.print("[bold]evidence[/]", highlight=False)
        for event in detail.events:
            out.print(
                f"#{event.seq} {event.at} {event.kind} by {event.actor}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
