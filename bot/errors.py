"""One exception tree for dunbot; every message says what to do next.

::

    DunbotError                      base; never raised itself
    ├── ConfigError                  the config file is missing or invalid (exit 2)
    ├── UsageError                   a command was asked for what it must not do (exit 2)
    ├── InputError                   a user-supplied file or argument is wrong (exit 1)
    │   ├── ImportValidationError    a CSV file or SQL source failed validation; carries every problem
    │   └── NoticeError              a signed notice cannot be produced as configured
    │       ├── NoticeUnavailable    no company certificate is configured ([signing] pkcs12; exit 2)
    │       ├── FontUnavailable      no usable font for the notice's language ([signing] cjk_font)
    │       ├── MissingGlyphs        the font lacks characters the notice must show
    │       └── SigningFailed        pyHanko or the timestamp authority failed (``transient`` if the TSA)
    ├── StoreError                   the database cannot be used as asked
    │   ├── DatabaseNotInitialised   no schema yet: run `dunbot init`
    │   └── AppendOnlyViolation      something tried to change or delete an evidence event
    ├── EvidenceError                the evidence log or an artifact failed verification
    ├── MailboxError                 the reply mailbox cannot be reached or read (exit 1; next poll retries)
    └── ChannelError                 a transport failed (translated once, at the channel's edge)
        ├── TransientChannelError    try again later (SMTP 4xx, Twilio 5xx/20429, timeouts before sending)
        ├── PermanentChannelError    never retry (SMTP 5xx, Twilio 21211/21614)
        │   └── RecipientOptedOut    the recipient unsubscribed (Twilio 21610): record it, stop the channel
        └── AmbiguousChannelError    may or may not have been delivered: never resent automatically
"""

from __future__ import annotations


class DunbotError(Exception):
    """Base of every error dunbot raises on purpose."""

    exit_code = 1


class ConfigError(DunbotError):
    """The configuration is missing or invalid; ``problems`` lists each as ``file:key: message``.

    ``partial``, when set, is the config's settings with the rejected keys left out (the checks that
    come after the schema run on it, so that one run of ``check-config`` lists every problem).
    """

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None, partial: object = None) -> None:
        super().__init__(message)
        self.problems = problems or []
        self.partial = partial


class UsageError(DunbotError):
    """A command was asked for something it must not do (a real cycle for a date far ahead)."""

    exit_code = 2


class InputError(DunbotError):
    """A file or argument the user gave is wrong."""

    exit_code = 1


class ImportValidationError(InputError):
    """An import failed validation; ``problems`` holds every ``FILE:LINE: column: message``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: {len(problems)} problem(s); nothing was written")
        self.source = source
        self.problems = problems


class NoticeError(InputError):
    """A signed notice cannot be produced; the message names the setting or the cause."""


class NoticeUnavailable(NoticeError):
    """Signed notices need the company certificate, and none is configured (a configuration error)."""

    exit_code = 2


class FontUnavailable(NoticeError):
    """No usable font for a notice: the message names the setting to change."""


class MissingGlyphs(NoticeError):
    """The chosen font cannot draw some characters of the notice; ``characters`` lists them."""

    def __init__(self, message: str, characters: list[str]) -> None:
        super().__init__(message)
        self.characters = characters


class SigningFailed(NoticeError):
    """A notice could not be signed; ``transient`` when the timestamp authority was the problem."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class StoreError(DunbotError):
    """The database cannot be used as asked."""

    exit_code = 2


class DatabaseNotInitialised(StoreError):
    """The database has no dunbot schema yet."""


class AppendOnlyViolation(StoreError):
    """An UPDATE or DELETE on the append-only evidence log was attempted."""


class EvidenceError(DunbotError):
    """Verification of the evidence log or an artifact failed."""

    exit_code = 1


class MailboxError(DunbotError):
    """The reply mailbox ([inbound]) cannot be reached or read: the server is down, TLS failed, a folder
    is missing. Nothing was lost: what was not recorded stays in the mailbox for the next poll. A
    refused login is a :class:`ConfigError` (the settings are wrong, not the server)."""

    exit_code = 1


class ChannelError(DunbotError):
    """A transport failed; subclasses say whether a retry is safe.

    ``code`` is the provider's own code ("550", "21610"); ``artifacts`` the raw exchange (request and
    response bytes, by file name) kept as evidence of the failed attempt.
    """

    def __init__(
        self, message: str, *, code: str | None = None, artifacts: dict[str, bytes] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.artifacts = artifacts or {}


class TransientChannelError(ChannelError):
    """The send did not happen and may be retried with backoff."""


class PermanentChannelError(ChannelError):
    """The send did not happen and must not be retried."""


class RecipientOptedOut(PermanentChannelError):
    """The provider says the recipient unsubscribed (Twilio 21610): record the opt-out, stop the channel."""


class AmbiguousChannelError(ChannelError):
    """The send may have happened: the message goes to ``unknown`` and a collector decides."""
