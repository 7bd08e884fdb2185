"""The ``file`` channel: a drop folder instead of a provider, for the demo, dry runs and trials.

E-mails are written as ``.eml`` (the same RFC 5322 bytes the SMTP channel would send), SMS and calls
as ``.json``. Files are named by the message key, written atomically and never overwritten, so a
repeat of the same message is visible as an error instead of silently replacing the first.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from bot.channels.base import Outgoing, Receipt
from bot.channels.mime import build_email
from bot.domain.ledger import Channel
from bot.errors import PermanentChannelError, TransientChannelError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileSender:
    """Writes each message into ``directory``; the Receipt names the file."""

    def __init__(self, channel: Channel, directory: Path, *, from_address: str = "dunbot@localhost") -> None:
        self.channel = channel
        self.directory = directory
        self.from_address = from_address

    async def send(self, message: Outgoing) -> Receipt:
        stem = _UNSAFE.sub("_", message.key.strip("<>")) or "message"
        if self.channel is Channel.EMAIL:
            name, data = f"{stem}.eml", build_email(message, self.from_address)
        else:
            document = {
                "key": message.key,
                "channel": self.channel.value,
                "to": message.recipient,
                "subject": message.subject,
                "body": message.text,
                "language": message.language,
                "customer": message.customer,
                "step": message.step,
                "invoices": list(message.invoices),
            }
            name = f"{stem}.json"
            data = (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")
        path = self.directory / name
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_new(path, data)
        except FileExistsError:
            raise PermanentChannelError(
                f"{path} already exists: this message was written before; not writing it twice"
            ) from None
        except OSError as exc:
            raise TransientChannelError(f"cannot write {path}: {exc.strerror}") from None
        artifact = "message.eml" if self.channel is Channel.EMAIL else "message.json"
        return Receipt(provider_id=str(path), provider_status="written", artifacts={artifact: data})

    async def aclose(self) -> None:
        return None


def _write_new(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, path)  # fails if the file exists: never overwrite
    finally:
        temporary.unlink()
