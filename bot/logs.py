"""Logging for the daemon and the cycle: text lines or JSON objects, and never a secret.

``[logging] format = "json"`` writes one JSON object a line (``time``, ``level``, ``logger``,
``message``, the record's ``extra`` fields and, for errors, ``exception``), which journald, Loki or
an ELK stack take as is. Whatever the format, every value of an environment variable the config names
as a secret (``*_env``) is replaced by ``***`` in everything logged — the message, its arguments, the
extras and tracebacks — so that a secret that slips into an error message from a library still never
reaches a log file.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings

REDACTED = "***"
# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def secret_values(settings: Settings) -> list[str]:
    """The values of the environment variables the config names as secrets (longest first)."""
    names = (
        settings.email.password_env,
        settings.sms.auth_token_env,
        settings.signing.password_env,
        settings.web.session_secret_env,
    )
    values = {os.environ[name] for name in names if name and os.environ.get(name)}
    return sorted((v for v in values if len(v) >= 4), key=len, reverse=True)


class Redactor(logging.Filter):
    """Replaces secret values wherever they appear in a record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                document[key] = (
                    value if isinstance(value, str | int | float | bool | type(None)) else str(value)
                )
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        return json.dumps(document, ensure_ascii=False)


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """Send the root logger to stderr (or ``stream``) as ``[logging]`` says, secrets redacted."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.logging.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redactor(secret_values(settings)))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.logging.level)
    # Alembic announces its dialect at INFO on every schema check; that is not news to an operator.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    return handler
