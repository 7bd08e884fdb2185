"""The demo's mailbox: a folder of ``.eml`` files (``[inbound] inbox_dir``), read like the IMAP one.

Each file is recorded once (``source_key`` "file:<sha256>" of its bytes) and, after the commit, moved
to ``processed/`` beside it. A crash between the two leaves the file where it was; the next pass finds
it recorded and only moves it. A name already taken in ``processed/`` gets a numbered one: no file is
overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import MailboxError

PROCESSED = "processed"


@dataclass(frozen=True)
class DroppedMessage:
    path: Path
    raw: bytes

    @property
    def source_key(self) -> str:
        return f"file:{hashlib.sha256(self.raw).hexdigest()}"


def pending_files(inbox: Path) -> list[Path]:
    """The ``.eml`` files waiting in the folder, by name."""
    if not inbox.is_dir():
        raise MailboxError(f"inbound.inbox_dir: {inbox} is not a folder")
    return sorted(path for path in inbox.iterdir() if path.suffix.lower() == ".eml" and path.is_file())


def read_files(paths: Sequence[Path]) -> list[DroppedMessage]:
    """Their bytes; a file another poller moved away meanwhile is left out."""
    read = []
    for path in paths:
        try:
            read.append(DroppedMessage(path, path.read_bytes()))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise MailboxError(f"inbound.inbox_dir: cannot read {path}: {exc.strerror or exc}") from None
    return read


def move_to_processed(path: Path) -> Path | None:
    """Move a recorded file into ``processed/`` beside it; None when it was gone already."""
    folder = path.parent / PROCESSED
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    number = 1
    while target.exists():
        target = folder / f"{path.stem}.{number}{path.suffix}"
        number += 1
    try:
        # link + unlink, not rename: a rename would silently replace a file another poller just moved.
        os.link(path, target)
    except FileExistsError:
        return move_to_processed(path)
    except FileNotFoundError:
        return None
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return target
