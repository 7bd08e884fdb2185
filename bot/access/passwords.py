"""Password hashing (argon2id through argon2-cffi) and the lockout rule, both free of the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Six consecutive wrong passwords lock the account (DESIGN §10, issue 18).
MAX_FAILED_LOGINS = 6

_hasher = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 "low memory" parameters


def hash_password(password: str) -> str:
    """The PHC string of a fresh salted argon2id hash; the password itself is not kept."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; a malformed hash is a mismatch, never an exception."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """A hash checked when the name is unknown, so that a wrong name costs as long as a wrong password.
    Made on first use, not at import: every CLI command would otherwise pay one argon2 hash to start."""
    return _hasher.hash("not a password of anyone")


def burn_time(password: str) -> None:
    """Spend one verification's time on nothing (unknown user names)."""
    verify_password(_dummy_hash(), password)


@dataclass(frozen=True, slots=True)
class Lockout:
    """The lockout state of one account."""

    failed_logins: int
    locked_until: datetime | None

    def locked(self, now: datetime) -> bool:
        """Whether logins are refused at ``now``, even with the right password."""
        return self.locked_until is not None and now < self.locked_until

    def after_failure(self, now: datetime, duration: timedelta) -> Lockout:
        """The state after one more wrong password; the sixth in a row locks for ``duration``."""
        failed = self.failed_logins + 1
        if failed >= MAX_FAILED_LOGINS:
            return Lockout(0, now + duration)
        return Lockout(failed, self.locked_until)

    @staticmethod
    def after_success() -> Lockout:
        """A right password (while not locked) resets the count."""
        return Lockout(0, None)
