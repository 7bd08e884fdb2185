"""The reply mailbox over IMAP (``[inbound]``), through imapclient: the one module that speaks IMAP.

It logs in over TLS ("tls": TLS from the first byte; "starttls": plain, upgraded before the login,
never a login in clear), reads the folder's UIDs, fetches raw messages without marking them seen
(``BODY.PEEK[]``), and moves them to the processed folder — with MOVE (RFC 6851) where the server has
it, else COPY, ``\\Deleted`` and EXPUNGE (UID EXPUNGE with UIDPLUS, so that only those messages go).
The processed folder is created when missing.

imapclient's and the socket's errors are translated here, once: a refused login is a
:class:`~bot.errors.ConfigError` naming the settings; anything else that keeps the mailbox from being
read is a :class:`~bot.errors.MailboxError`. Nothing else imports imapclient.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from bot.config.sections import InboundSettings
from bot.errors import ConfigError, MailboxError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchedMessage:
    """One message as the server holds it."""

    uid: int
    raw: bytes
    internal_date: datetime | None  # when the server received it (IMAP INTERNALDATE), aware


class ImapMailbox:
    """A logged-in connection with ``folder`` selected; made by :func:`open_mailbox`."""

    def __init__(self, client: IMAPClient, settings: InboundSettings, uidvalidity: int) -> None:
        self._client = client
        self._settings = settings
        self.uidvalidity = uidvalidity
        self._capabilities = {bytes(c).upper() for c in client.capabilities()}

    @property
    def can_move(self) -> bool:
        return b"MOVE" in self._capabilities

    def source_key(self, uid: int) -> str:
        """The message's unique key: server, user, folder, UIDVALIDITY and UID."""
        s = self._settings
        return f"imap:{s.imap_host}/{s.username}/{s.folder}:{self.uidvalidity}:{uid}"

    def uids(self) -> list[int]:
        """The UIDs now in the folder, oldest first."""
        with _translated(self._settings, "listing the messages in inbound.folder"):
            return sorted(int(uid) for uid in self._client.search("ALL"))

    def fetch(self, uids: Sequence[int]) -> list[FetchedMessage]:
        """The raw bytes of these messages, unread flags untouched; ones gone meanwhile are left out."""
        if not uids:
            return []
        with _translated(self._settings, "fetching messages"):
            answer = self._client.fetch(list(uids), [b"BODY.PEEK[]", b"INTERNALDATE"])
        fetched = []
        for uid in sorted(answer):
            item = answer[uid]
            raw = item.get(b"BODY[]")
            if raw is None:  # expunged by another instance between SEARCH and FETCH
                continue
            internal = item.get(b"INTERNALDATE")
            fetched.append(
                FetchedMessage(
                    uid=int(uid),
                    raw=bytes(raw),
                    internal_date=internal if isinstance(internal, datetime) and internal.tzinfo else None,
                )
            )
        return fetched

    def move_to_processed(self, uids: Sequence[int], *, use_move: bool | None = None) -> None:
        """Move these messages to the processed folder; UIDs already gone are no error.

        ``use_move`` forces the MOVE (True) or the COPY + EXPUNGE (False) way; by default MOVE when
        the server announces it.
        """
        if not uids:
            return
        target = self._settings.processed_folder
        move = self.can_move if use_move is None else use_move
        remaining = list(uids)
        with _translated(self._settings, f"moving messages to inbound.processed_folder {target!r}"):
            for _ in range(3):
                try:
                    self._move_or_copy(remaining, target, move=move)
                    return
                except IMAPClientError as exc:
                    # Another instance moved some of them meanwhile: move the ones still here.
                    if b"EXPUNGEISSUED" not in str(exc).encode().upper():
                        raise
                remaining = [int(uid) for uid in self._client.search(["UID", _uid_set(remaining)])]
                if not remaining:
                    return
            self._move_or_copy(remaining, target, move=move)

    def _move_or_copy(self, uids: list[int], target: str, *, move: bool) -> None:
        if move:
            self._client.move(uids, target)
            return
        self._client.copy(uids, target)
        self._client.add_flags(uids, [b"\\Deleted"], silent=True)
        if b"UIDPLUS" in self._capabilities:
            self._client.expunge(uids)
        else:  # without UIDPLUS, EXPUNGE removes every \Deleted message of the folder
            self._client.expunge()

    def processed_folder_exists(self) -> bool:
        """True when the processed folder is there already (the first poll creates it otherwise)."""
        target = self._settings.processed_folder
        with _translated(self._settings, f"looking for inbound.processed_folder {target!r}"):
            return bool(self._client.folder_exists(target))

    def ensure_processed_folder(self) -> None:
        """Create the processed folder when it does not exist (another instance may create it too)."""
        target = self._settings.processed_folder
        with _translated(self._settings, f"creating inbound.processed_folder {target!r}"):
            if self._client.folder_exists(target):
                return
            try:
                self._client.create_folder(target)
            except IMAPClientError:
                if not self._client.folder_exists(target):
                    raise
            log.info("created the IMAP folder %s for processed replies", target)


@contextmanager
def open_mailbox(settings: InboundSettings, password: str, ca_file: Path | None) -> Iterator[ImapMailbox]:
    """Connect, secure, log in and select ``[inbound] folder``; log out afterwards."""
    host = settings.imap_host or ""
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"inbound.ca_file: cannot read {ca_file} as a CA certificate: {exc}") from None
    where = f"{host}:{settings.imap_port}"
    with _translated(settings, f"connecting to the IMAP server {where}"):
        client = IMAPClient(
            host,
            port=settings.imap_port,
            ssl=settings.security == "tls",
            ssl_context=context,
            timeout=settings.timeout_seconds,
        )
    try:
        client.normalise_times = False  # INTERNALDATE with its offset, not naive local time
        with _translated(settings, f"securing the connection to {where} with STARTTLS"):
            if settings.security == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise MailboxError(
                        f"the IMAP server {where} does not offer STARTTLS (inbound.security = "
                        f'"starttls"): use security = "tls" on its TLS port, never a login in clear'
                    )
                client.starttls(context)
        try:
            client.login(settings.username or "", password)
        except LoginError as exc:
            raise ConfigError(
                f"the IMAP server {where} refused the login of inbound.username {settings.username!r} "
                f"with the password from inbound.password_env ({settings.password_env}): {_text(exc)}"
            ) from None
        with _translated(settings, f"opening inbound.folder {settings.folder!r}"):
            if not client.folder_exists(settings.folder):
                raise MailboxError(
                    f"inbound.folder: the IMAP server {where} has no folder {settings.folder!r} for "
                    f"{settings.username!r}"
                )
            selected = client.select_folder(settings.folder)
        mailbox = ImapMailbox(client, settings, int(selected[b"UIDVALIDITY"]))
        yield mailbox
    finally:
        try:
            client.logout()
        except (IMAPClientError, OSError):
            with contextlib.suppress(OSError):
                client.shutdown()


def _uid_set(uids: Sequence[int]) -> str:
    return ",".join(str(uid) for uid in uids)


def _text(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return text or type(exc).__name__


@contextmanager
def _translated(settings: InboundSettings, doing: str) -> Iterator[None]:
    # The vendor's and the socket's errors, once, as dunbot's: what failed, where, what to check.
    where = f"{settings.imap_host}:{settings.imap_port}"
    try:
        yield
    except ssl.SSLCertVerificationError as exc:
        raise MailboxError(
            f"{doing}: the certificate of {where} is not trusted ({exc.verify_message}); "
            "set inbound.ca_file to the CA that signed it"
        ) from None
    except ssl.SSLError as exc:
        raise MailboxError(
            f"{doing}: TLS with {where} failed ({exc.reason or exc}); check inbound.security "
            '("tls" on port 993, "starttls" on 143) and inbound.imap_port'
        ) from None
    except TimeoutError:
        raise MailboxError(
            f"{doing}: {where} did not answer within inbound.timeout_seconds "
            f"({settings.timeout_seconds} s); the next poll tries again"
        ) from None
    except OSError as exc:
        raise MailboxError(
            f"{doing}: cannot reach {where} ({exc.strerror or exc}); check inbound.imap_host and "
            "inbound.imap_port; the next poll tries again"
        ) from None
    except IMAPClientError as exc:
        raise MailboxError(f"{doing} on {where}: the server said {_text(exc)}") from None
