"""Contact gates: reachability, banned phrases, caps."""

from __future__ import annotations

from datetime import timedelta

from domain_factories import TUESDAY, make_customer

from bot.domain.compliance import banned_phrase_hits, fits_caps, reachable_channels
from bot.domain.decisions import ContactRecord
from bot.domain.ledger import Channel
from bot.domain.policy import CompliancePolicy

E, S, V, L, T = Channel.EMAIL, Channel.SMS, Channel.VOICE, Channel.LETTER, Channel.TASK
POLICY = CompliancePolicy()


def test_reachable_channels_need_the_matching_contact_detail() -> None:
    nobody = make_customer(email=None, phone="", address=None)
    kept, dropped = reachable_channels(nobody, (E, S, V, L, T))
    assert kept == (T,)
    assert dropped == (
        (E, "email: no e-mail address"),
        (S, "sms: no phone number"),
        (V, "voice: no phone number"),
        (L, "letter: no postal address"),
    )


def test_opt_out_drops_a_channel_but_never_the_task() -> None:
    customer = make_customer(opted_out=frozenset({E, T}))
    kept, dropped = reachable_channels(customer, (T, E, S))
    assert kept == (T, S)
    assert dropped == ((E, "email: the customer opted out"),)


def test_banned_phrases_match_case_width_and_whitespace_insensitively() -> None:
    phrases = ["Police will arrest you", "坐牢", "unused"]
    assert banned_phrase_hits("the POLICE  will\narrest you tomorrow", phrases) == ["Police will arrest you"]
    assert banned_phrase_hits("否则你会 坐 牢", phrases) == ["坐牢"]
    assert banned_phrase_hits("ｐｏｌｉｃｅ will arrest\u200b you", phrases) == ["Police will arrest you"]
    # Every invisible character: zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen.
    for invisible in "\u200b\u200c\u200d\u2060\ufeff\u00ad":
        assert banned_phrase_hits(f"否则你会坐{invisible}牢", phrases) == ["坐牢"], repr(invisible)
    assert banned_phrase_hits("please pay by Friday", phrases) == []


def test_banned_phrases_reported_once_in_the_configured_order_and_blank_ignored() -> None:
    assert banned_phrase_hits("b a b a", ["a", "", "  ", "b", "a"]) == ["a", "b"]


def test_fits_caps_per_channel_per_day() -> None:
    contacts = [ContactRecord(S, TUESDAY)]
    assert fits_caps((E,), contacts, TUESDAY, POLICY) == (True, "within the contact caps")
    fits, reason = fits_caps((E, S), contacts, TUESDAY, POLICY)
    assert not fits
    assert "sms already used today" in reason


def test_fits_caps_rolling_seven_days() -> None:
    contacts = [ContactRecord(E, TUESDAY - timedelta(days=n)) for n in (1, 3, 6)]
    assert fits_caps((S,), contacts, TUESDAY, POLICY)[0]
    fits, reason = fits_caps((S, L), contacts, TUESDAY, POLICY)
    assert not fits
    assert "5 automated messages" in reason
    # A message seven days back has left the window.
    older = [ContactRecord(E, TUESDAY - timedelta(days=n)) for n in (1, 3, 7)]
    assert fits_caps((S, L), older, TUESDAY, POLICY)[0]


def test_fits_caps_counts_later_dated_outbox_rows() -> None:
    # Re-planning an earlier date must not overfill a window that reaches into later days.
    contacts = [ContactRecord(E, TUESDAY + timedelta(days=n)) for n in (1, 2, 3, 4)]
    assert not fits_caps((S,), contacts, TUESDAY, POLICY)[0]


def test_tasks_are_not_capped() -> None:
    contacts = [ContactRecord(T, TUESDAY)] + [ContactRecord(E, TUESDAY - timedelta(days=n)) for n in range(4)]
    assert fits_caps((T,), contacts, TUESDAY, POLICY)[0]
