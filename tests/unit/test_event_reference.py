"""The pack README's reference of event kinds names every kind there is, each with its fields."""

from __future__ import annotations

from bot.evidence.event_reference import EVENT_REFERENCE
from bot.evidence.log import EventKind


def test_every_event_kind_is_in_the_reference_and_nothing_else() -> None:
    assert set(EVENT_REFERENCE) == set(EventKind)
    for kind, (meaning, fields) in EVENT_REFERENCE.items():
        assert meaning.strip() and fields.strip(), kind
