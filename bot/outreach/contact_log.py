"""The contact log: every evidence event about one customer or invoice, in order (`dunbot log`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.errors import InputError
from bot.store import tables
from bot.store.engine import require_schema

event_t = tables.EvidenceEvent.__table__  # type: ignore[attr-defined]
customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]

LATEST = 200


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One event: its columns and the canonical body it was hashed from."""

    seq: int
    at: datetime
    kind: str
    actor: str
    customer: str | None
    invoices: tuple[str, ...]
    body: dict[str, Any]

    @property
    def summary(self) -> str:
        """One line a collector can read."""
        data = self.body.get("data", {})
        if self.kind.startswith("message_") or self.kind == "opt_out":
            # the message's number, for `dunbot message show ID`
            number = f"message {data['message']}:" if data.get("message") is not None else None
            parts = [number, data.get("channel"), data.get("step"), data.get("recipient")]
            tail = (
                data.get("provider_status") or data.get("status") or data.get("error") or data.get("reason")
            )
            return " ".join(str(p) for p in (*parts, tail) if p)
        if self.kind == "pause":
            return f"{data.get('scope')} paused until {data.get('until')}: {data.get('reason')}"
        if self.kind == "task_updated":
            dropped, left = ", ".join(data.get("dropped", [])), ", ".join(data.get("remaining", []))
            return f"{data.get('kind')} task {data.get('task')}: {dropped} dropped, open for {left}"
        if self.kind in ("task_created", "task_done"):
            return " ".join(str(p) for p in (data.get("kind"), data.get("title"), data.get("note")) if p)
        if self.kind == "reply_received":
            parts = [
                f"reply {data.get('inbound')}: {data.get('channel')} from {data.get('sender')}",
                f"{data.get('kind')} ({data.get('confidence')})",
                "acknowledges the debt" if data.get("acknowledges_debt") else "",
                f"to confirm: {data.get('why_confirm')}" if data.get("state") == "confirm" else "",
                f"raw {str(data.get('raw_sha256', ''))[:12]}",
            ]
            return ", ".join(p for p in parts if p)
        if self.kind == "reply_acted":
            who = f" (confirmed by {data.get('confirmed_by')})" if data.get("confirmed") else ""
            return f"reply {data.get('inbound')}: {data.get('action')}{who}"
        if self.kind == "payment":
            amount = f"{data.get('currency')} {data.get('amount')}"
            return f"{data.get('reference')} {amount} on {data.get('paid_on')}"
        interesting = {k: v for k, v in data.items() if isinstance(v, str | int) and k not in ("sha256",)}
        return ", ".join(f"{k}={v}" for k, v in list(interesting.items())[:5])


def contact_log(engine: Engine, *, customer: str | None = None, invoice: str | None = None) -> list[LogEntry]:
    """Events for ``customer`` or ``invoice`` (or the latest overall), oldest first."""
    require_schema(engine)
    query = sa.select(event_t)
    with engine.connect() as connection:
        if customer is not None:
            if (
                connection.execute(sa.select(customer_t.c.id).where(customer_t.c.id == customer)).first()
                is None
            ):
                raise InputError(f"no customer {customer!r}: check the id (customers.csv `id` column)")
            query = query.where(event_t.c.customer == customer)
        if invoice is not None:
            if (
                connection.execute(sa.select(invoice_t.c.number).where(invoice_t.c.number == invoice)).first()
                is None
            ):
                raise InputError(f"no invoice {invoice!r}: check the number (invoices.csv `number` column)")
            # invoices is a canonical JSON array: match the quoted number as an element
            query = query.where(event_t.c.invoices.contains(json.dumps(invoice, ensure_ascii=False)))
        if customer is None and invoice is None:
            latest = sa.select(event_t.c.seq).order_by(event_t.c.seq.desc()).limit(LATEST).subquery()
            query = query.where(event_t.c.seq.in_(sa.select(latest.c.seq)))
        rows = connection.execute(query.order_by(event_t.c.seq)).all()
    entries = []
    for row in rows:
        invoices = tuple(json.loads(row.invoices))
        if invoice is not None and invoice not in invoices:
            continue
        entries.append(
            LogEntry(row.seq, row.at, row.kind, row.actor, row.customer, invoices, json.loads(row.body))
        )
    return entries
