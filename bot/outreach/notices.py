"""The signed notice of a message: found if it exists, else rendered, signed, stored and recorded.

One notice per (customer, step, date, invoice set): the e-mail and the letter of a step carry the
same signed file. The first message prepared renders it, stores the PDF in the artifact store
(durably, before the event naming it is committed), inserts the ``notice`` row (insert-if-absent:
a concurrent worker's row wins and its file is used) and records a ``notice_rendered`` event with
the PDF's SHA-256. Later messages read the bytes back from the artifact store, checked against the
hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from bot.config import Settings, secret
from bot.domain.ledger import Contract, Customer, Invoice
from bot.domain.policy import LadderStep
from bot.errors import NoticeUnavailable
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import EventKind, NewEvent
from bot.outreach.compose import message_context
from bot.render.fonts import font_choice
from bot.render.notice import NoticeRenderer, SignedNotice
from bot.store import tables

if TYPE_CHECKING:
    pass

notice_t = tables.Notice.__table__  # type: ignore[attr-defined]


def notice_renderer(settings: Settings) -> NoticeRenderer:
    """A renderer for ``[signing]``; the certificate is loaded when the first notice is signed.

    Raises :class:`NoticeUnavailable` when no certificate is configured.
    """
    from bot.render.signing import company_signer

    if not settings.signing.pkcs12:
        raise NoticeUnavailable(
            "signed notices need the company certificate: set [signing] pkcs12 (and password_env), "
            "or run `dunbot init --self-signed` for a trial certificate that is not for production"
        )
    if settings.signing.password_env:
        secret(settings.signing.password_env, "signing.password_env")  # a missing password fails here, early
    seal = settings.path(settings.signing.seal_image) if settings.signing.seal_image else None
    return NoticeRenderer(lambda: company_signer(settings), font_choice(settings), seal)


def invoices_key(numbers: Sequence[str]) -> str:
    """The SHA-256 of the sorted invoice numbers: part of the notice's unique key."""
    return hashlib.sha256(json.dumps(sorted(numbers), ensure_ascii=False).encode("utf-8")).hexdigest()


class NoticeService:
    """Finds or makes the notices of one worker; the renderer (and certificate) is loaded once."""

    def __init__(self, settings: Settings, artifacts: ArtifactStore, *, worker: str) -> None:
        self.settings = settings
        self.artifacts = artifacts
        self.worker = worker
        self._renderer: NoticeRenderer | None = None

    def renderer(self) -> NoticeRenderer:
        """The renderer, made on first use."""
        if self._renderer is None:
            self._renderer = notice_renderer(self.settings)
        return self._renderer

    def close(self) -> None:
        """Release the signer."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def notice_for(
        self,
        connection: Connection,
        *,
        customer: Customer,
        step: LadderStep,
        invoices: Sequence[Invoice],
        contracts: Mapping[str, Contract],
        as_of: date,
        reference: str,
        now: datetime,
        events: list[NewEvent],
    ) -> SignedNotice:
        """The notice for these invoices today, rendering and recording it if it does not exist yet."""
        numbers = sorted(invoice.number for invoice in invoices)
        key = invoices_key(numbers)
        existing = self._existing(connection, customer.id, step.name, as_of, key)
        if existing is not None:
            return existing
        context = message_context(
            self.settings, customer, step, invoices, contracts, as_of, reference, notice_attached=True
        )
        notice = self.renderer().render(
            customer.language.value, step.template_name, context, customer.address or ""
        )
        self.artifacts.put(notice.pdf)  # durable before the row and the event that name it
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        notice_id = connection.execute(
            insert(notice_t)
            .values(
                customer_id=customer.id,
                step=step.name,
                business_date=as_of,
                invoices=json.dumps(numbers, ensure_ascii=False),
                invoices_key=key,
                reference=notice.reference,
                language=customer.language.value,
                sha256=notice.sha256,
                pages=notice.pages,
                signer=notice.signer,
                timestamped=notice.timestamped,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(notice_t.c.id)
        ).scalar()
        if notice_id is None:  # another worker recorded this notice first: send theirs, not ours
            theirs = self._existing(connection, customer.id, step.name, as_of, key)
            if theirs is None:
                raise NoticeUnavailable(f"notice {notice.reference} could neither be recorded nor found")
            return theirs
        events.append(
            NewEvent(
                kind=EventKind.NOTICE_RENDERED,
                actor=self.worker,
                customer=customer.id,
                invoices=tuple(numbers),
                data={
                    "notice": notice_id,
                    "reference": notice.reference,
                    "step": step.name,
                    "as_of": as_of,
                    "language": customer.language.value,
                    "pages": notice.pages,
                    "signer": notice.signer,
                    "timestamped": notice.timestamped,
                    "notice_sha256": notice.sha256,
                },
                dedupe_key=f"notice_rendered:{notice_id}",
            )
        )
        return notice

    def _existing(
        self, connection: Connection, customer: str, step: str, as_of: date, key: str
    ) -> SignedNotice | None:
        row: Any = connection.execute(
            sa.select(notice_t).where(
                notice_t.c.customer_id == customer,
                notice_t.c.step == step,
                notice_t.c.business_date == as_of,
                notice_t.c.invoices_key == key,
            )
        ).first()
        if row is None:
            return None
        pdf = self.artifacts.get(row.sha256)  # raises EvidenceError if the file was lost or altered
        return SignedNotice(
            reference=row.reference,
            pdf=pdf,
            sha256=row.sha256,
            pages=row.pages,
            signer=row.signer,
            timestamped=row.timestamped,
        )
