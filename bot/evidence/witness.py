"""The witness: every signed checkpoint, published outside the database (DESIGN §6, "Against an insider").

Someone who can write to the database but does not hold the signing key can rewrite events, recompute
every hash and delete the checkpoints that would show it. What they cannot change is a copy of each
checkpoint kept elsewhere: the **witness folder** (``[evidence] witness_dir``, meant for another volume
or a WORM bucket mount) and, when ``[evidence] witness_email`` is set, a mailbox.

Each checkpoint is three or four files named by its id and tree size, each created once (``O_EXCL``),
fsync'd and left read-only::

    00000012-1234.pem              the signer's certificate
    00000012-1234.p7s              the detached CMS signature (DER) over the statement
    00000012-1234.tst              the RFC 3161 token over SHA-256(statement), when there is one
    00000012-1234.statement.txt    the signed bytes ("dunbot evidence checkpoint v1", tree size, root)

The statement is written last: a checkpoint is in the witness once its statement is. Nothing is ever
replaced: a file already there with other content is an error, logged loudly. Each publish writes every
checkpoint of the database that the folder lacks (by id), so one that could not be written while the
folder was away is written by the next. A new checkpoint is signed only when the log is a consistent
extension of the newest witnessed one (:func:`witnessed_checkpoint`): a rewritten log gets no signature.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.channels.base import Attachment, Outgoing
from bot.channels.email_transport import email_sender
from bot.config import Settings
from bot.domain.ledger import Channel
from bot.errors import ChannelError, ConfigError, EvidenceError
from bot.evidence.checkpoint import (
    Checkpoint,
    TreeHead,
    checkpoint_by_id,
    checkpoint_t,
    create_checkpoint,
    parse_statement,
    require_extension,
)

if TYPE_CHECKING:
    from bot.render.signing import NoticeSigner

log = logging.getLogger(__name__)

_NAME = re.compile(r"\A(?P<id>\d{8,})-(?P<size>\d+)\.statement\.txt\Z")
_README = "README.txt"
_README_TEXT = """\
dunbot's evidence witness: every signed checkpoint of the evidence log, written once, never changed.

<id>-<tree_size>.statement.txt   the signed statement: the log's first tree_size events have this root
<id>-<tree_size>.p7s             the company's detached CMS signature over it (DER)
<id>-<tree_size>.pem             the signer's certificate
<id>-<tree_size>.tst             an RFC 3161 timestamp token over SHA-256(statement), when configured

Check one by hand:
   openssl cms -verify -binary -inform DER -in <id>-<size>.p7s -content <id>-<size>.statement.txt \\
       -CAfile <id>-<size>.pem -purpose any -out /dev/null
and the database against all of them: dunbot evidence verify --db --witness <this folder>
"""


class WitnessClash(EvidenceError):
    """A witness file is already there with other content: it is never replaced."""


@dataclass(frozen=True, slots=True)
class WitnessedCheckpoint:
    """One checkpoint as the witness folder holds it."""

    id: int
    tree_size: int
    root_hash: str
    statement: bytes
    signature: bytes
    certificate_pem: str
    timestamp: bytes | None
    path: Path  # the statement file

    @property
    def root(self) -> bytes:
        """The root hash as bytes."""
        return bytes.fromhex(self.root_hash)


@dataclass
class WitnessRead:
    """What a witness folder holds: the checkpoints that can be read, and what cannot."""

    folder: Path
    exists: bool
    checkpoints: list[WitnessedCheckpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class PublishReport:
    """What one publish wrote."""

    folder: Path
    written: list[int] = field(default_factory=list)  # checkpoint ids newly in the witness
    mailed: int | None = None  # the checkpoint mailed to [evidence] witness_email
    problems: list[str] = field(default_factory=list)


def file_stem(checkpoint_id: int, tree_size: int) -> str:
    """``00000012-1234``: the name every file of a checkpoint starts with."""
    return f"{checkpoint_id:08d}-{tree_size}"


def witness_files(checkpoint: Checkpoint) -> dict[str, bytes]:
    """The files of one checkpoint by name, the statement last."""
    stem = file_stem(checkpoint.id, checkpoint.tree_size)
    files = {
        f"{stem}.pem": checkpoint.certificate_pem.encode("ascii"),
        f"{stem}.p7s": checkpoint.signature,
    }
    if checkpoint.timestamp is not None:
        files[f"{stem}.tst"] = checkpoint.timestamp
    files[f"{stem}.statement.txt"] = checkpoint.statement
    return files


def _write_once(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data``, synced and read-only; False when it was there already, alike."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o444)
    except FileExistsError:
        existing = path.read_bytes()
        if existing == data:
            return False
        what = "a part of it (an interrupted write?)" if data.startswith(existing) else "other content"
        raise WitnessClash(
            f"{path} is already in the witness with {what}: it is never replaced; compare it with the "
            "database (`dunbot evidence verify --db`) and move it aside only if it is not the signed one"
        ) from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return True


def _sync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError as exc:  # some file systems (and WORM mounts) refuse fsync on a folder
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.EROFS):
            raise
    finally:
        os.close(descriptor)


def write_checkpoint(folder: Path, checkpoint: Checkpoint) -> bool:
    """Write one checkpoint's files into ``folder``; False when they were all there already."""
    written = False
    for name, data in witness_files(checkpoint).items():
        written = _write_once(folder / name, data) or written
    if written:
        _sync_folder(folder)
    return written


def _statement_names(folder: Path) -> Iterator[tuple[int, int, Path]]:
    """(id, tree size, statement file) of every statement in the folder."""
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _NAME.match(entry.name)
            if match is not None:
                yield int(match["id"]), int(match["size"]), Path(entry.path)


def publish(engine: Engine, folder: Path, *, create: bool = False) -> PublishReport:
    """Write every checkpoint of the database that ``folder`` lacks (compared by id).

    Never raises for the folder: what went wrong is in ``problems`` (and logged), and the next publish
    tries again. ``create`` makes a missing folder (the default one); a configured folder that is
    missing is reported instead, since a volume that is not mounted must not be replaced by a folder
    on the database's own disk.
    """
    report = PublishReport(folder)
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        elif not folder.is_dir():
            raise FileNotFoundError(errno.ENOENT, "it does not exist (create or mount it)", str(folder))
        held: dict[int, int] = {}
        for checkpoint_id, size, _ in _statement_names(folder):
            held.setdefault(checkpoint_id, size)
    except OSError as exc:
        report.problems.append(f"cannot use the witness folder {folder}: {exc.strerror or exc}")
        _log_problems(report)
        return report
    with engine.connect() as connection:
        rows = connection.execute(sa.select(checkpoint_t.c.id, checkpoint_t.c.tree_size)).all()
        missing = []
        for checkpoint_id, size in rows:
            if checkpoint_id not in held:
                missing.append(checkpoint_id)
            elif held[checkpoint_id] != size:
                report.problems.append(
                    f"the witness holds checkpoint {checkpoint_id} with {held[checkpoint_id]} events, the "
                    f"database one with {size}: one of them was changed; run `dunbot evidence verify --db`"
                )
        for checkpoint_id in sorted(missing):
            checkpoint = checkpoint_by_id(connection, checkpoint_id)
            if checkpoint is None:
                continue
            try:
                write_checkpoint(folder, checkpoint)
                report.written.append(checkpoint_id)
            except WitnessClash as exc:
                report.problems.append(str(exc))
            except OSError as exc:
                report.problems.append(
                    f"cannot write checkpoint {checkpoint_id} to the witness folder {folder}: "
                    f"{exc.strerror or exc}; the next checkpoint tries again"
                )
                break
    if report.written and not (folder / _README).exists():
        with contextlib.suppress(OSError, WitnessClash):  # a courtesy: the checkpoints are what counts
            _write_once(folder / _README, _README_TEXT.encode("utf-8"))
    _log_problems(report)
    return report


def _log_problems(report: PublishReport) -> None:
    for problem in report.problems:
        # A clash means a signed checkpoint and the database disagree: as loud as the log gets.
        (log.error if "never replaced" in problem or "was changed" in problem else log.warning)(
            "evidence witness: %s", problem, extra={"witness_dir": str(report.folder)}
        )


def read_witness(folder: Path) -> WitnessRead:
    """Every checkpoint the witness folder holds, by id; what cannot be read, named in ``problems``."""
    if not folder.is_dir():
        return WitnessRead(folder, exists=False)
    result = WitnessRead(folder, exists=True)
    try:
        names = sorted(_statement_names(folder))
    except OSError as exc:
        result.problems.append(f"cannot read the witness folder {folder}: {exc.strerror or exc}")
        return result
    for checkpoint_id, size, path in names:
        stem = path.parent / file_stem(checkpoint_id, size)
        try:
            statement = path.read_bytes()
            signature = stem.with_suffix(".p7s").read_bytes()
            certificate = stem.with_suffix(".pem").read_text("ascii")
            token_path = stem.with_suffix(".tst")
            timestamp = token_path.read_bytes() if token_path.exists() else None
        except (OSError, UnicodeDecodeError) as exc:
            result.problems.append(f"witnessed checkpoint {checkpoint_id} cannot be read ({path}): {exc}")
            continue
        fields = parse_statement(statement)
        if fields is None or fields["tree_size"] != size:
            result.problems.append(
                f"witnessed checkpoint {checkpoint_id}: {path.name} is not the statement of a checkpoint "
                f"of {size} events"
            )
            continue
        result.checkpoints.append(
            WitnessedCheckpoint(
                id=checkpoint_id,
                tree_size=size,
                root_hash=fields["root_hash"],
                statement=statement,
                signature=signature,
                certificate_pem=certificate,
                timestamp=timestamp,
                path=path,
            )
        )
    return result


def newest_head(folder: Path) -> TreeHead | None:
    """The newest witnessed checkpoint (the largest tree), read from its statement alone; None when
    the folder holds none. Its signature is not checked: it only ever stops a signature."""
    try:
        names = list(_statement_names(folder)) if folder.is_dir() else []
    except OSError:
        return None
    for checkpoint_id, size, path in sorted(names, key=lambda n: (n[1], n[0]), reverse=True):
        try:
            fields = parse_statement(path.read_bytes())
        except OSError:
            fields = None
        if fields is None or fields["tree_size"] != size:
            continue  # `verify --db` names it
        label = f"witnessed checkpoint {checkpoint_id} ({path})"
        return TreeHead(size, bytes.fromhex(fields["root_hash"]), label)
    return None


def require_extended(engine: Engine, folder: Path) -> None:
    """Raise :class:`EvidenceError` unless the log is a consistent extension of the newest checkpoint
    in the witness folder (what an export checks before it records or signs anything)."""
    head = newest_head(folder)
    if head is None:
        return
    require_extension(engine, head)


def witnessed_checkpoint(
    engine: Engine, signer: NoticeSigner, settings: Settings, now: datetime, reason: str
) -> Checkpoint | None:
    """Sign a checkpoint that extends the newest witnessed one, and publish it (and any the witness
    lacks) to the witness folder and, when set, ``[evidence] witness_email``."""
    folder = settings.witness_dir
    checkpoint = create_checkpoint(
        engine, signer, settings.company.legal_name, now, reason, extends=newest_head(folder)
    )
    if checkpoint is None:
        return None
    report = publish(engine, folder, create=not settings.evidence.witness_dir)
    if settings.evidence.witness_email and checkpoint.id in report.written:
        report.mailed = mail_checkpoint(settings, checkpoint)
    return checkpoint


def checkpoint_mail(settings: Settings, checkpoint: Checkpoint) -> Outgoing:
    """The e-mail that witnesses ``checkpoint``: the statement as the text, every file attached."""
    domain = settings.email.from_address.rpartition("@")[2] or "localhost"
    attachments = []
    for name, data in witness_files(checkpoint).items():
        if name.endswith(".statement.txt"):
            kind = "text/plain"
        elif name.endswith(".p7s"):
            kind = "application/pkcs7-signature"
        elif name.endswith(".pem"):
            kind = "application/x-pem-file"
        else:
            kind = "application/timestamp-token"
        attachments.append(Attachment(name, kind, data))
    statement = checkpoint.statement.decode("utf-8")
    return Outgoing(
        key=f"<dunbot-checkpoint-{checkpoint.id}-{checkpoint.tree_size}@{domain}>",
        channel=Channel.EMAIL,
        recipient=settings.evidence.witness_email or "",
        subject=f"dunbot evidence checkpoint {checkpoint.id}: {checkpoint.tree_size} events",
        text=(
            f"{statement}\n"
            "This is a signed checkpoint of dunbot's evidence log, sent to be kept outside its database.\n"
            "Keep this e-mail. The attachments check with openssl (see README.txt in the witness folder):\n"
            f"openssl cms -verify -binary -inform DER -in {file_stem(checkpoint.id, checkpoint.tree_size)}"
            f".p7s -content {file_stem(checkpoint.id, checkpoint.tree_size)}.statement.txt "
            f"-CAfile {file_stem(checkpoint.id, checkpoint.tree_size)}.pem -purpose any -out /dev/null\n"
        ),
        language="en",
        attachments=tuple(attachments),
        sender_name=settings.company.legal_name,
    )


def mail_checkpoint(settings: Settings, checkpoint: Checkpoint) -> int | None:
    """Mail ``checkpoint`` to ``[evidence] witness_email`` through the configured ``[email]`` transport;
    its id when sent, None (with a warning) when not: the next checkpoint, which commits to everything
    before it, is mailed in its turn."""

    async def send() -> None:
        sender = email_sender(settings)
        try:
            await sender.send(checkpoint_mail(settings, checkpoint))
        finally:
            await sender.aclose()

    try:
        _run(send())
    except (ChannelError, ConfigError, OSError) as exc:
        log.warning(
            "evidence witness: checkpoint %s was not mailed to %s: %s",
            checkpoint.id,
            settings.evidence.witness_email,
            exc,
            extra={"checkpoint": checkpoint.id},
        )
        return None
    return checkpoint.id


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` to the end, also from inside a running event loop (a cycle is async; the
    checkpoint at its end is signed synchronously): there, in a thread with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name="witness-mail")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
