"""Handling the replies that arrived (DESIGN §11): each ``inbound_message`` row in state ``received`` is
read from its raw artifact, parsed, matched, classified and acted on, once.

A row moves ``received`` -> ``handled`` (acted on) | ``confirm`` (a collector decides) | ``failed``
(it could not be read after :data:`MAX_ATTEMPTS` tries). The guarantees come from the order of
commits, as in the outbox (:mod:`bot.outreach.outbox`):

* a pass leases a batch of rows (``lease_owner``, ``lease_until``, ``attempts`` + 1), with
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two instances take different rows;
* the action and the row's move out of ``received`` are ONE transaction (a group of up to
  :data:`SETTLE_GROUP` replies shares it: one commit for many), and each reply's part begins with
  the conditional update (``state = 'received' AND lease_owner = <this owner>``): a crash before the
  commit leaves the rows ``received`` with nothing done (the leases expire and they are handled
  again), and of two owners racing for a row whose lease expired only the first to commit acts;
* a row that cannot be read or acted on keeps its lease until it expires, with ``last_error``, and
  is tried again by a later pass.

Reading the artifact, parsing and classifying happen before that transaction, holding no lock.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config import Settings
from bot.errors import InputError
from bot.evidence.artifacts import ArtifactStore
from bot.evidence.log import NewEvent, append_events
from bot.outreach.reply_tag import tag_secret
from bot.replies.acting import Understood, act, ask_confirmation, details_of
from bot.replies.classify import classify
from bot.replies.matching import Match, match
from bot.replies.model import Classification, Reply
from bot.replies.records import InboundState, acted_event, read_reply, received_event, store_attachments
from bot.store import tables
from bot.store.engine import require_schema

log = logging.getLogger(__name__)

inbound_t = tables.InboundMessage.__table__  # type: ignore[attr-defined]
customer_t = tables.Customer.__table__  # type: ignore[attr-defined]

MAX_ATTEMPTS = 5  # a reply that fails this often is set aside (``failed``) for a person to look at
# Replies settled in one transaction: one commit for many (a commit is most of a reply's cost on
# SQLite), short enough that the rows and invoices it locks are soon free again.
SETTLE_GROUP = 50


@dataclass
class HandleSummary:
    """What one pass did."""

    handled: int = 0
    confirm: int = 0
    retried: int = 0  # an error; tried again when the lease expires
    failed: int = 0
    lost: int = 0  # another instance handled the row first
    kinds: Counter[str] = field(default_factory=Counter)  # handled or to confirm, by ReplyKind value

    @property
    def total(self) -> int:
        return self.handled + self.confirm + self.retried + self.failed + self.lost

    def as_json(self) -> dict[str, object]:
        """The pass for `dunbot inbound poll --json`."""
        return {
            "acted_on": self.handled,
            "to_confirm": self.confirm,
            "to_retry": self.retried,
            "failed": self.failed,
            "by_another_instance": self.lost,
            "kinds": dict(sorted(self.kinds.items())),
        }

    def add(self, state: InboundState | None, understood: Understood | None) -> None:
        """Count one reply's outcome (None: another instance handled it first)."""
        if state is InboundState.HANDLED:
            self.handled += 1
        elif state is InboundState.CONFIRM:
            self.confirm += 1
        elif state is InboundState.FAILED:
            self.failed += 1
        elif state is InboundState.RECEIVED:
            self.retried += 1
        else:
            self.lost += 1
        if understood is not None and state in (InboundState.HANDLED, InboundState.CONFIRM):
            self.kinds[understood.classification.kind.value] += 1


class Classifier(Protocol):
    """What :func:`bot.replies.classify.classify` is: a reply into a classification."""

    def __call__(self, reply: Reply, *, today: date, timezone: str) -> Classification: ...


def handle_pending(
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    owner: str,
    limit: int | None = None,
    classifier: Classifier = classify,
) -> HandleSummary:
    """Handle the replies waiting in state ``received`` (up to ``limit``), as ``owner`` (this
    instance's name, also the actor of the events); safe with several instances at once.

    The events deliberately carry no dedupe key: the row's conditional move out of ``received`` is
    what keeps a reply from being acted on twice, and a second event would show it if it did not.
    ``classifier`` is :func:`~bot.replies.classify.classify` but in tests that label replies
    themselves."""
    require_schema(engine)
    handler = _Handler(engine, settings, now, owner, classifier)
    summary = HandleSummary()
    batch = settings.inbound.batch_size
    while limit is None or summary.total < limit:
        wanted = batch if limit is None else min(batch, limit - summary.total)
        leased = handler.lease(wanted)
        if not leased:
            break
        handler.handle(leased, summary)
    return summary


class _Handler:
    def __init__(
        self, engine: Engine, settings: Settings, now: datetime, owner: str, classifier: Classifier
    ) -> None:
        self.engine = engine
        self.classifier = classifier
        self.settings = settings
        self.now = now
        self.owner = owner
        self.store = ArtifactStore(settings.path(settings.evidence.artifact_dir))
        self.secret = tag_secret(settings)
        self.lease_for = timedelta(seconds=settings.outreach.lease_seconds)

    def lease(self, limit: int) -> list[int]:
        """Lease up to ``limit`` rows waiting in ``received`` whose lease (if any) expired."""
        free = sa.or_(inbound_t.c.lease_until.is_(None), inbound_t.c.lease_until <= self.now)
        waiting = (
            sa.select(inbound_t.c.id)
            .where(inbound_t.c.state == InboundState.RECEIVED.value, free)
            .order_by(inbound_t.c.id)
            .limit(limit)
        )
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                waiting = waiting.with_for_update(skip_locked=True)
            ids = list(connection.execute(waiting).scalars())
            if not ids:
                return []
            leased = connection.execute(
                sa.update(inbound_t)
                .where(inbound_t.c.id.in_(ids), inbound_t.c.state == InboundState.RECEIVED.value, free)
                .values(
                    lease_owner=self.owner,
                    lease_until=self.now + self.lease_for,
                    attempts=inbound_t.c.attempts + 1,
                    updated_at=self.now,
                )
                .returning(inbound_t.c.id)
            ).scalars()
            return sorted(int(i) for i in leased)

    def handle(self, leased: list[int], summary: HandleSummary) -> None:
        understood: list[Understood] = []
        for read in self.read_and_match(leased, summary):
            try:
                understood.append(self.classify(*read))
            except Exception as exc:  # one reply the classifier chokes on must not stop the others
                log.exception("reply %s could not be classified", read[0], extra={"inbound": read[0]})
                summary.add(self.record_error(read[0], exc), None)
        for start in range(0, len(understood), SETTLE_GROUP):
            group = understood[start : start + SETTLE_GROUP]
            try:
                settled = self.settle(group)
            except Exception:
                # Something the database refused (a deadlock victim, a constraint): each reply
                # alone, so one that cannot be recorded holds back none of the others.
                log.warning(
                    "a group of %s replies failed; settling them one by one", len(group), exc_info=True
                )
                settled = []
                for one in group:
                    try:
                        settled.extend(self.settle([one]))
                    except Exception as exc:
                        log.exception(
                            "reply %s could not be handled", one.inbound, extra={"inbound": one.inbound}
                        )
                        summary.add(self.record_error(one.inbound, exc), None)
            for one, state in settled:
                summary.add(state, one)

    def read_and_match(
        self, leased: list[int], summary: HandleSummary
    ) -> list[tuple[int, str, Reply, Match, str]]:
        """Parse each leased reply, then match them all in one short read transaction (on SQLite every
        transaction holds the write lock: none is open while parsing or classifying).
        Returns (row id, raw SHA-256, reply, match, timezone) for each that could be read."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(inbound_t).where(inbound_t.c.id.in_(leased))).all()
        parsed: list[tuple[int, str, Reply]] = []
        for row in sorted(rows, key=lambda r: int(r.id)):
            try:
                reply = read_reply(self.store.get(row.raw_sha256), row.channel, row.sender, row.received_at)
            except Exception as exc:  # one unreadable reply must not stop the others
                log.exception("reply %s could not be read", row.id, extra={"inbound": row.id})
                summary.add(self.record_error(int(row.id), exc), None)
                continue
            parsed.append((int(row.id), str(row.raw_sha256), reply))
        matched = []
        with self.engine.connect() as connection:
            for inbound, digest, reply in parsed:
                found = match(connection, reply, secret=self.secret)
                zone = self.settings.company.timezone
                if found.customer is not None:
                    zone = connection.execute(
                        sa.select(customer_t.c.timezone).where(customer_t.c.id == found.customer)
                    ).scalar_one()
                matched.append((inbound, digest, reply, found, str(zone)))
        return matched

    def classify(self, inbound: int, digest: str, reply: Reply, found: Match, zone: str) -> Understood:
        """Classify a matched reply on the customer's date (its attachments go into the artifact store)."""
        today = self.now.astimezone(ZoneInfo(zone)).date()
        attachments = store_attachments(self.store, reply)
        classification = self.classifier(reply, today=today, timezone=zone)
        return Understood(inbound, digest, reply, found, classification, attachments, today)

    def why_confirm(self, understood: Understood) -> str | None:
        """Why a collector must confirm the reply before anything is done; None: act on it."""
        found, matched = understood.classification, understood.match
        if matched.ambiguous:
            return f"several customers share {understood.reply.sender}: {', '.join(matched.candidates)}"
        if matched.customer is None:
            return f"no customer matched {understood.reply.sender or 'the sender'}"
        threshold = self.settings.inbound.confirm_below
        if found.confidence < threshold:
            return f"classified {found.kind.value} with confidence {found.confidence}, below {threshold}"
        return None

    def settle(self, group: list[Understood]) -> list[tuple[Understood, InboundState | None]]:
        """Act on each reply of ``group`` (or ask a collector) in ONE transaction with the rows' moves
        out of ``received``: a commit per group, not per reply. A reply that cannot be done as
        classified (a promise for a day already past) is undone to its savepoint and given to a
        collector instead. A state of None: another owner moved the row first."""
        settled: list[tuple[Understood, InboundState | None]] = []
        events: list[NewEvent] = []
        with Session(self.engine) as session:
            for understood in group:
                settled.append((understood, self._settle_one(session, understood, events)))
            append_events(session, self.now, events)
            session.commit()
        for understood, state in settled:
            log.info(
                "reply %s from %s: %s, %s",
                understood.inbound,
                understood.reply.sender,
                understood.classification.kind.value,
                state.value if state else "handled by another instance",
                extra={"inbound": understood.inbound, "customer": understood.match.customer},
            )
        return settled

    def _settle_one(
        self, session: Session, understood: Understood, events: list[NewEvent]
    ) -> InboundState | None:
        why = self.why_confirm(understood)
        if why is None:
            savepoint = session.begin_nested()
            try:
                state, acted = self._record(session, understood, None)
                session.flush()
            except InputError as exc:
                # Nothing of the attempt is kept; a collector is asked instead.
                savepoint.rollback()
                why = str(exc)
            else:
                savepoint.commit()
                events.extend(acted)
                return state
        state, asked = self._record(session, understood, why)
        events.extend(asked)
        return state

    def _record(
        self, session: Session, understood: Understood, why: str | None
    ) -> tuple[InboundState | None, list[NewEvent]]:
        """Move the row and act on the reply (``why`` None) or ask a collector; the events to append."""
        state = InboundState.CONFIRM if why else InboundState.HANDLED
        if not self._move(session, understood, state, why):
            return None, []
        events = [received_event(understood, state, why, actor=self.owner)]
        if why is not None:
            events.extend(ask_confirmation(session, understood, why, actor=self.owner, now=self.now))
            action = f"waits for a collector: {why}"
        else:
            acted = act(session, self.settings, understood, actor=self.owner, now=self.now)
            events.extend(acted.events)
            events.append(acted_event(understood, acted, actor=self.owner, confirmed_by=None))
            action = acted.action
        session.connection().execute(
            sa.update(inbound_t).where(inbound_t.c.id == understood.inbound).values(action=action[:2000])
        )
        return state, events

    def _move(self, session: Session, understood: Understood, state: InboundState, why: str | None) -> bool:
        # First in the transaction: on PostgreSQL it locks the row, so a second owner waits here and
        # then finds it no longer ``received``; on SQLite the transaction holds the write lock.
        found, matched = understood.classification, understood.match
        moved = (
            session.connection()
            .execute(
                sa.update(inbound_t)
                .where(
                    inbound_t.c.id == understood.inbound,
                    inbound_t.c.state == InboundState.RECEIVED.value,
                    inbound_t.c.lease_owner == self.owner,
                )
                .values(
                    state=state.value,
                    customer_id=matched.customer,
                    message_id=matched.message,
                    matched_by=matched.matched_by,
                    kind=found.kind.value,
                    confidence=found.confidence,
                    details=details_of(understood, why),
                    lease_owner=None,
                    lease_until=None,
                    last_error=None,
                    updated_at=self.now,
                )
            )
            .rowcount
        )
        return bool(moved)

    def record_error(self, inbound: int, exc: Exception) -> InboundState | None:
        """Keep the lease (tried again once it expires) and say why; after MAX_ATTEMPTS, ``failed``."""
        with self.engine.begin() as connection:
            attempts = connection.execute(
                sa.select(inbound_t.c.attempts).where(
                    inbound_t.c.id == inbound,
                    inbound_t.c.state == InboundState.RECEIVED.value,
                    inbound_t.c.lease_owner == self.owner,
                )
            ).scalar()
            if attempts is None:
                return None
            final = attempts >= MAX_ATTEMPTS
            values: dict[str, Any] = {
                "last_error": f"{type(exc).__name__}: {exc}"[:2000],
                "updated_at": self.now,
            }
            if final:
                values.update(state=InboundState.FAILED.value, lease_owner=None, lease_until=None)
            connection.execute(sa.update(inbound_t).where(inbound_t.c.id == inbound).values(**values))
        return InboundState.FAILED if final else InboundState.RECEIVED
