# PLACEHOLDER: replaced at merge
"""Acting on replies; the reply-handling helper writes this module. Only the signature the collector's
commands and console call is here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from bot.replies.model import ReplyKind


def confirm_reply(engine: Engine, inbound_id: int, kind: ReplyKind | None, by: str, now: datetime) -> None:
    """Act on reply ``inbound_id`` a collector confirmed, as ``kind`` (None: as classified)."""
    raise NotImplementedError("bot/replies/handling.py is a placeholder until the reply handling is merged")
