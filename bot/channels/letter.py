"""The ``letter`` channel: a print queue for the mailroom.

Each letter is a folder entry ``<reference>.pdf`` (the signed notice when the step has one, else a
``.txt`` of the letter body until the notice exists) and one line appended to ``manifest.jsonl``: the
reference, recipient block, file name, SHA-256 and the customer and invoices. The mailroom prints,
posts by registered mail and records the tracking number with ``dunbot task done``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from bot.channels.base import Outgoing, Receipt
from bot.channels.file import _write_new
from bot.domain.ledger import Channel
from bot.errors import PermanentChannelError, TransientChannelError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class LetterQueueSender:
    """Places letters in ``queue_dir`` with a manifest line each."""

    channel = Channel.LETTER

    def __init__(self, queue_dir: Path) -> None:
        self.queue_dir = queue_dir

    async def send(self, message: Outgoing) -> Receipt:
        reference = message.metadata.get("reference") or message.key
        stem = _UNSAFE.sub("_", reference)
        pdf = next((a for a in message.attachments if a.content_type == "application/pdf"), None)
        name, data = (f"{stem}.pdf", pdf.data) if pdf else (f"{stem}.txt", message.text.encode("utf-8"))
        digest = hashlib.sha256(data).hexdigest()
        entry = {
            "reference": reference,
            "key": message.key,
            "file": name,
            "sha256": digest,
            "recipient": message.recipient,
            "customer": message.customer,
            "step": message.step,
            "invoices": list(message.invoices),
            "signed": pdf is not None,
        }
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        try:
            self.queue_dir.mkdir(parents=True, exist_ok=True)
            _write_new(self.queue_dir / name, data)
            descriptor = os.open(
                self.queue_dir / "manifest.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
            )
            try:
                os.write(descriptor, line)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except FileExistsError:
            raise PermanentChannelError(
                f"letter {name} is already in the print queue; not queuing it twice"
            ) from None
        except OSError as exc:
            raise TransientChannelError(
                f"cannot write to the print queue {self.queue_dir}: {exc.strerror}"
            ) from None
        return Receipt(
            provider_id=name,
            provider_status="queued",
            artifacts={name: data, "manifest-entry.json": line},
        )

    async def aclose(self) -> None:
        return None
