# PLACEHOLDER: replaced at merge
"""Minimal stand-in for the classifier another helper writes: enough for handling's tests to run."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot.replies.model import Classification, Reply, ReplyKind


def classify(reply: Reply, *, today: date, timezone: str) -> Classification:
    """A few unmistakable words; everything else is "other" with a low confidence."""
    if reply.delivery_reports:
        return Classification(ReplyKind.BOUNCE, Decimal("0.99"))
    words = reply.text.strip().lower()
    if words in ("stop", "unsubscribe", "退订", "td"):
        return Classification(ReplyKind.OPT_OUT, Decimal("0.99"))
    return Classification(ReplyKind.OTHER, Decimal("0.50"))
