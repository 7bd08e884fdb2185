"""Canonical JSON: the exact bytes that are hashed (sorted keys, UTF-8, no whitespace)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

ZERO_HASH = bytes(32)


def to_jsonable(value: Any) -> Any:
    """Turn domain values into JSON-native ones: Decimal and dates become strings, never floats."""
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        raise TypeError("floats are not allowed in evidence; use Decimal")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    raise TypeError(f"cannot put {type(value).__name__} into evidence")


def format_instant(instant: datetime) -> str:
    """An aware instant as ISO 8601 UTC with microseconds and a trailing Z."""
    if instant.tzinfo is None:
        raise ValueError("evidence instants must be timezone-aware")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """The canonical encoding of a JSON document."""
    return json.dumps(
        to_jsonable(document), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def chain_hash(previous_chain_hash: bytes, content_hash: bytes) -> bytes:
    """SHA-256(prev chain_hash ‖ content_hash); the genesis predecessor is 32 zero bytes."""
    return hashlib.sha256(previous_chain_hash + content_hash).digest()
