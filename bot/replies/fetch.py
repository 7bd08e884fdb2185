"""The fetch pass: every message waiting in the reply mailbox recorded once, then moved out of it.

The mailbox is the IMAP folder of ``[inbound]`` (``imap_host`` set) or, for the demo, the ``.eml``
files of ``inbox_dir``. Per batch of ``batch_size`` messages: fetch the raw bytes, record them
(:func:`bot.replies.arrivals.record_arrivals`: artifact, then ``inbound_message`` rows, committed),
then move them to the processed folder. The order is what makes it crash-safe: a message is only
moved once its row is committed, and one fetched again after a crash (or by a second instance) is a
no-op that is then moved. What the messages say is the handle pass's business, not this one's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import Engine

from bot.config import Settings, secret
from bot.errors import ConfigError
from bot.evidence.artifacts import ArtifactStore
from bot.replies import inbox_dir
from bot.replies.arrivals import ArrivalOutcome, RecordedArrival, email_arrival, record_arrivals
from bot.replies.mailbox import open_mailbox

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class FetchReport:
    """What one fetch pass did."""

    source: str  # "imaps://host:port/folder" or the inbox folder
    arrivals: tuple[RecordedArrival, ...]  # each message seen, in the order fetched
    moved: int  # messages moved to the processed folder
    stopped: bool = False  # the pass stopped early (the daemon is shutting down)

    @property
    def recorded(self) -> int:
        """How many messages are new (rows in state "received")."""
        return sum(1 for item in self.arrivals if item.outcome is ArrivalOutcome.RECORDED)

    def as_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "recorded": self.recorded,
            "skipped": len(self.arrivals) - self.recorded,
            "moved": self.moved,
            "stopped": self.stopped,
            "messages": [
                {
                    "inbound_id": item.inbound_id,
                    "outcome": item.outcome.value,
                    "channel": item.arrival.channel,
                    "source_key": item.arrival.source_key,
                    "sender": item.arrival.sender,
                    "subject": item.arrival.subject,
                    "message_id": item.arrival.header_message_id,
                    "received_at": item.arrival.received_at.astimezone(UTC).isoformat(),
                    "raw_sha256": item.arrival.raw_sha256,
                }
                for item in self.arrivals
            ],
        }


def inbound_configured(settings: Settings) -> bool:
    """True when there is a mailbox to poll: ``[inbound] imap_host`` or ``inbox_dir``."""
    return bool(settings.inbound.imap_host or settings.inbound.inbox_dir)


def fetch_pass(
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    use_move: bool | None = None,
) -> FetchReport:
    """Record and move every message waiting in the configured mailbox (one pass).

    ``now`` is when the rows are written. ``should_stop`` is asked between batches (the daemon's
    SIGTERM): what is recorded is moved, the rest waits for the next pass. ``use_move`` forces MOVE
    or COPY + EXPUNGE on IMAP (tests); by default the server's capabilities decide.
    Raises :class:`ConfigError` when nothing is configured, a secret is missing or the login is refused,
    :class:`~bot.errors.MailboxError` when the mailbox cannot be reached or read.
    """
    artifacts = ArtifactStore(settings.path(settings.evidence.artifact_dir))
    inbound = settings.inbound
    if inbound.imap_host:
        return _fetch_imap(engine, settings, artifacts, now, should_stop, use_move)
    if inbound.inbox_dir:
        return _fetch_folder(
            engine, settings.path(inbound.inbox_dir), inbound.batch_size, artifacts, now, should_stop
        )
    raise ConfigError("[inbound] has no mailbox: set imap_host (with username and password_env) or inbox_dir")


def check_mailbox(settings: Settings) -> str:
    """`dunbot check-config --connect`: log in and look, changing nothing; what was found, in words.

    Raises like :func:`fetch_pass` when the mailbox cannot be read.
    """
    inbound = settings.inbound
    if not inbound.imap_host:
        folder = settings.path(inbound.inbox_dir or ".")
        return f"{folder}: {len(inbox_dir.pending_files(folder))} .eml files waiting"
    password = secret(inbound.password_env, "inbound.password_env")
    ca_file = settings.path(inbound.ca_file) if inbound.ca_file else None
    with open_mailbox(inbound, password, ca_file) as mailbox:
        waiting = len(mailbox.uids())
        processed = "present" if mailbox.processed_folder_exists() else "absent (the first poll creates it)"
    return (
        f"{inbound.imap_host}:{inbound.imap_port} ({inbound.security}) as {inbound.username}: "
        f"{waiting} messages waiting in {inbound.folder!r}; {inbound.processed_folder!r} {processed}"
    )


def _fetch_imap(
    engine: Engine,
    settings: Settings,
    artifacts: ArtifactStore,
    now: datetime,
    should_stop: Callable[[], bool],
    use_move: bool | None,
) -> FetchReport:
    inbound = settings.inbound
    password = secret(inbound.password_env, "inbound.password_env")
    ca_file = settings.path(inbound.ca_file) if inbound.ca_file else None
    scheme = "imaps" if inbound.security == "tls" else "imap+starttls"
    source = f"{scheme}://{inbound.imap_host}:{inbound.imap_port}/{inbound.folder}"
    seen: list[RecordedArrival] = []
    moved = 0
    stopped = False
    with open_mailbox(inbound, password, ca_file) as mailbox:
        mailbox.ensure_processed_folder()
        for batch in _batches(mailbox.uids(), inbound.batch_size):
            if should_stop():
                stopped = True
                break
            fetched = mailbox.fetch(batch)
            arrivals = [
                email_arrival(
                    mailbox.source_key(message.uid),
                    message.raw,
                    (message.internal_date or now).astimezone(UTC),
                )
                for message in fetched
            ]
            seen += record_arrivals(engine, artifacts, arrivals, now)  # committed before the move
            mailbox.move_to_processed([message.uid for message in fetched], use_move=use_move)
            moved += len(fetched)
    report = FetchReport(source, tuple(seen), moved, stopped)
    _log(report)
    return report


def _fetch_folder(
    engine: Engine,
    folder: Path,
    batch_size: int,
    artifacts: ArtifactStore,
    now: datetime,
    should_stop: Callable[[], bool],
) -> FetchReport:
    seen: list[RecordedArrival] = []
    moved = 0
    stopped = False
    for batch in _batches(inbox_dir.pending_files(folder), batch_size):
        if should_stop():
            stopped = True
            break
        dropped = inbox_dir.read_files(batch)
        arrivals = [email_arrival(message.source_key, message.raw, now) for message in dropped]
        seen += record_arrivals(engine, artifacts, arrivals, now)  # committed before the move
        for message in dropped:
            if inbox_dir.move_to_processed(message.path) is not None:
                moved += 1
    report = FetchReport(str(folder), tuple(seen), moved, stopped)
    _log(report)
    return report


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _log(report: FetchReport) -> None:
    if report.arrivals or report.stopped:
        log.info(
            "inbound fetch from %s: %s new, %s seen before, %s moved%s",
            report.source,
            report.recorded,
            len(report.arrivals) - report.recorded,
            report.moved,
            " (stopped early)" if report.stopped else "",
            extra={"source": report.source, "recorded": report.recorded, "moved": report.moved},
        )
