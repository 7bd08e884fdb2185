"""Password hashing and the lockout rule, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.access.passwords import MAX_FAILED_LOGINS, Lockout, hash_password, verify_password

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
FIFTEEN = timedelta(minutes=15)


def test_hash_is_salted_argon2id_and_never_the_password() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("$argon2id$")
    assert "correct horse" not in first
    assert first != second  # a fresh salt each time
    assert verify_password(first, "correct horse")
    assert verify_password(second, "correct horse")


def test_wrong_password_and_malformed_hash_are_mismatches() -> None:
    stored = hash_password("correct horse")
    assert not verify_password(stored, "correct horse ")
    assert not verify_password(stored, "")
    assert not verify_password("not a hash", "correct horse")


def test_the_sixth_wrong_password_in_a_row_locks() -> None:
    state = Lockout(0, None)
    for expected in range(1, MAX_FAILED_LOGINS):
        state = state.after_failure(NOW, FIFTEEN)
        assert state == Lockout(expected, None)
        assert not state.locked(NOW)
    state = state.after_failure(NOW, FIFTEEN)
    assert MAX_FAILED_LOGINS == 6
    assert state.locked_until == NOW + FIFTEEN
    assert state.locked(NOW + FIFTEEN - timedelta(seconds=1))
    assert not state.locked(NOW + FIFTEEN)


def test_a_success_resets_the_count() -> None:
    state = Lockout(5, None)
    assert Lockout.after_success() == Lockout(0, None)
    assert state.after_failure(NOW, FIFTEEN).locked(NOW)
    assert not Lockout.after_success().after_failure(NOW, FIFTEEN).locked(NOW)
