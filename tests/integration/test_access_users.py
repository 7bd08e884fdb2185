"""Console users and sessions on real SQLite and PostgreSQL: add, list, disable, log in with lockout,
sessions with idle expiry and logout, and the evidence events that record who did what."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.access.sessions import end_session, resume_session, start_session, token_hash
from bot.access.users import LoginRefused, add_user, authenticate, disable_user, list_users
from bot.errors import InputError, UsageError
from bot.evidence.verify import verify_log

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LOCK = timedelta(minutes=15)
IDLE = timedelta(minutes=30)
PASSWORD = "s3cret-horse-battery"


def _events(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        bodies = connection.execute(sa.text("SELECT body FROM evidence_event ORDER BY seq")).scalars()
        return [json.loads(b) for b in bodies]


def _dump(engine: Engine) -> str:
    """Every value of the two tables as text, to look for secrets."""
    with engine.connect() as connection:
        rows = [
            *connection.execute(sa.text("SELECT * FROM web_user")),
            *connection.execute(sa.text("SELECT * FROM web_session")),
        ]
    return repr(rows) + json.dumps(_events(engine))


def test_add_list_and_the_events(engine: Engine) -> None:
    add_user(engine, "li.na@xinghe.com.cn", "collector", PASSWORD, actor="user:ops", now=NOW)
    add_user(engine, "boss@xinghe.com.cn", "manager", "other-pass", actor="user:ops", now=NOW, language="en")
    users = list_users(engine)
    assert [(u.name, u.role, u.language, u.disabled) for u in users] == [
        ("boss@xinghe.com.cn", "manager", "en", False),
        ("li.na@xinghe.com.cn", "collector", "zh-CN", False),
    ]
    events = _events(engine)
    assert [(e["kind"], e["actor"], e["data"]) for e in events] == [
        ("user_added", "user:ops", {"user": "li.na@xinghe.com.cn", "role": "collector", "language": "zh-CN"}),
        ("user_added", "user:ops", {"user": "boss@xinghe.com.cn", "role": "manager", "language": "en"}),
    ]
    assert PASSWORD not in _dump(engine)
    with engine.connect() as connection:
        assert verify_log(connection).ok


def test_bad_input_is_refused_with_a_message(engine: Engine) -> None:
    add_user(engine, "li.na", "collector", PASSWORD, actor="user:ops", now=NOW)
    with pytest.raises(InputError, match="already exists"):
        add_user(engine, "li.na", "manager", PASSWORD, actor="user:ops", now=NOW)
    with pytest.raises(UsageError, match="unknown role 'boss'"):
        add_user(engine, "x", "boss", PASSWORD, actor="user:ops", now=NOW)
    with pytest.raises(InputError, match="password is empty"):
        add_user(engine, "y", "legal", "", actor="user:ops", now=NOW)
    assert [u.name for u in list_users(engine)] == ["li.na"]


def test_login_lockout_and_reset(engine: Engine) -> None:
    add_user(engine, "li.na", "collector", PASSWORD, actor="user:ops", now=NOW)
    assert authenticate(engine, "li.na", PASSWORD, now=NOW, lockout=LOCK).last_login_at == NOW
    for _ in range(5):
        with pytest.raises(LoginRefused):
            authenticate(engine, "li.na", "wrong", now=NOW, lockout=LOCK)
    # five wrong, then right: the count starts again
    authenticate(engine, "li.na", PASSWORD, now=NOW, lockout=LOCK)
    for _ in range(6):
        with pytest.raises(LoginRefused):
            authenticate(engine, "li.na", "wrong", now=NOW, lockout=LOCK)
    with pytest.raises(LoginRefused):  # locked: even the right password is refused
        authenticate(engine, "li.na", PASSWORD, now=NOW + LOCK - timedelta(seconds=1), lockout=LOCK)
    assert list_users(engine)[0].locked_until == NOW + LOCK
    assert authenticate(engine, "li.na", PASSWORD, now=NOW + LOCK, lockout=LOCK).name == "li.na"
    with pytest.raises(LoginRefused):
        authenticate(engine, "nobody", PASSWORD, now=NOW, lockout=LOCK)


def test_sessions_expire_when_idle_and_end_at_logout(engine: Engine) -> None:
    user = add_user(engine, "li.na", "collector", PASSWORD, actor="user:ops", now=NOW)
    started = start_session(engine, user.id, now=NOW)
    current = resume_session(engine, started.token, now=NOW + timedelta(minutes=29), idle=IDLE)
    assert current is not None and current.user.name == "li.na" and current.csrf_token == started.csrf_token
    # each request moves the idle clock
    assert resume_session(engine, started.token, now=NOW + timedelta(minutes=58), idle=IDLE) is not None
    assert resume_session(engine, started.token, now=NOW + timedelta(minutes=89), idle=IDLE) is None
    # ended stays ended
    assert resume_session(engine, started.token, now=NOW + timedelta(minutes=90), idle=IDLE) is None
    second = start_session(engine, user.id, now=NOW)
    end_session(engine, second.token, now=NOW)
    assert resume_session(engine, second.token, now=NOW, idle=IDLE) is None
    assert resume_session(engine, "made-up", now=NOW, idle=IDLE) is None
    with engine.connect() as connection:
        stored = set(connection.execute(sa.text("SELECT token_hash FROM web_session")).scalars())
    assert stored == {token_hash(started.token), token_hash(second.token)}
    assert started.token not in _dump(engine)


def test_disabling_ends_sessions_and_refuses_login(engine: Engine) -> None:
    user = add_user(engine, "li.na", "collector", PASSWORD, actor="user:ops", now=NOW)
    started = start_session(engine, user.id, now=NOW)
    disable_user(engine, "li.na", actor="user:admin", now=NOW)
    disable_user(engine, "li.na", actor="user:admin", now=NOW)  # again: no second event
    assert resume_session(engine, started.token, now=NOW, idle=IDLE) is None
    with pytest.raises(LoginRefused):
        authenticate(engine, "li.na", PASSWORD, now=NOW, lockout=LOCK)
    assert [e["kind"] for e in _events(engine)] == ["user_added", "user_disabled"]
    assert _events(engine)[1]["actor"] == "user:admin"
    with pytest.raises(InputError, match="no user named 'ghost'"):
        disable_user(engine, "ghost", actor="user:admin", now=NOW)


def test_a_page_view_writes_the_session_at_most_once_a_minute(engine: Engine) -> None:
    user = add_user(engine, "li.na", "collector", PASSWORD, actor="user:ops", now=NOW)
    started = start_session(engine, user.id, now=NOW)

    def last_seen() -> object:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT last_seen_at FROM web_session")).scalar_one()

    first = last_seen()
    assert resume_session(engine, started.token, now=NOW + timedelta(seconds=59), idle=IDLE) is not None
    assert last_seen() == first  # read only
    assert resume_session(engine, started.token, now=NOW + timedelta(seconds=60), idle=IDLE) is not None
    assert last_seen() != first
    # the idle clock runs from the last write: 30 min after 0:01 is still live, 30 min 1 s is not
    assert resume_session(engine, started.token, now=NOW + timedelta(minutes=31), idle=IDLE) is not None
    assert (
        resume_session(engine, started.token, now=NOW + timedelta(minutes=62, seconds=1), idle=IDLE) is None
    )
