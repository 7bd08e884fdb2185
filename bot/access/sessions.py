"""Server-side console sessions: start at login, resume on each request, end at logout or when idle.

The browser holds a random token (in a signed cookie); the ``web_session`` row holds only its
SHA-256, so neither the database nor a log line opens a session. Each session has its own CSRF token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.access.users import UserView, session_t, user_by_id, user_t

# A session's last-seen time is written at most this often: a page view is then a read, and twenty
# people clicking do not queue for SQLite's write lock. Idle expiry is late by at most this much.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Started:
    """A new session: the token for the cookie (shown once, never stored) and its CSRF token."""

    token: str
    csrf_token: str


@dataclass(frozen=True, slots=True)
class Current:
    """A live session and its user."""

    user: UserView
    csrf_token: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(engine: Engine, user_id: int, *, now: datetime) -> Started:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with engine.begin() as connection:
        connection.execute(
            session_t.insert().values(
                token_hash=token_hash(token),
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
            )
        )
    return Started(token, csrf)


def resume_session(engine: Engine, token: str, *, now: datetime, idle: timedelta) -> Current | None:
    """The session of ``token`` if it is live, touched at ``now`` (when last touched
    :data:`TOUCH_EVERY` ago or more); a session idle longer than ``idle``, or whose user is
    disabled, ends here and is None."""
    with engine.begin() as connection:
        row = connection.execute(
            sa.select(session_t.c.id, session_t.c.user_id, session_t.c.csrf_token, session_t.c.last_seen_at)
            .join(user_t, user_t.c.id == session_t.c.user_id)
            .where(
                session_t.c.token_hash == token_hash(token),
                session_t.c.ended_at.is_(None),
                user_t.c.disabled.is_(False),
            )
        ).first()
        if row is None:
            return None
        if now - row.last_seen_at > idle:
            connection.execute(session_t.update().where(session_t.c.id == row.id).values(ended_at=now))
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            connection.execute(session_t.update().where(session_t.c.id == row.id).values(last_seen_at=now))
    user = user_by_id(engine, row.user_id)
    return Current(user, row.csrf_token) if user is not None else None


def end_session(engine: Engine, token: str, *, now: datetime) -> None:
    """Log out: the token opens nothing afterwards."""
    with engine.begin() as connection:
        connection.execute(
            session_t.update()
            .where(session_t.c.token_hash == token_hash(token), session_t.c.ended_at.is_(None))
            .values(ended_at=now)
        )
