"""Console users: add, list, disable, authenticate (DESIGN §10).

Each user has a unique name (the ledger's ``account_manager`` value, e.g. an e-mail), a role, a
language and an argon2 hash of the password. Adding and disabling are evidence events whose actor is
who did it; the password never appears in them, in logs or in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.access.passwords import Lockout, burn_time, hash_password, verify_password
from bot.errors import InputError, UsageError
from bot.evidence.log import EventKind, NewEvent, append_event
from bot.store import tables
from bot.store.engine import require_schema

user_t = tables.WebUser.__table__  # type: ignore[attr-defined]
session_t = tables.WebSession.__table__  # type: ignore[attr-defined]

ROLES = ("collector", "manager", "legal", "admin")
LANGUAGES = ("zh-CN", "en")


class LoginRefused(InputError):
    """Wrong name or password, a locked account or a disabled user; one message for all."""


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as the console and the CLI show them; never the password hash."""

    id: int
    name: str
    role: str
    language: str
    disabled: bool
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None


def _view(row: sa.Row[tuple[object, ...]]) -> UserView:
    m = row._mapping
    return UserView(
        id=m["id"],
        name=m["name"],
        role=m["role"],
        language=m["language"],
        disabled=m["disabled"],
        locked_until=m["locked_until"],
        created_at=m["created_at"],
        last_login_at=m["last_login_at"],
    )


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    return role


def add_user(
    engine: Engine,
    name: str,
    role: str,
    password: str,
    *,
    actor: str,
    now: datetime,
    language: str = "zh-CN",
) -> UserView:
    """Create a user; the name must be new and the password not empty."""
    require_schema(engine)
    name = name.strip()
    check_role(role)
    if not name:
        raise UsageError("a user needs a name (the ledger's account_manager value, e.g. an e-mail)")
    if language not in LANGUAGES:
        raise UsageError(f"unknown language {language!r}: choose one of {', '.join(LANGUAGES)}")
    if not password:
        raise InputError("the password is empty")
    password_hash = hash_password(password)
    with Session(engine) as session, session.begin():
        exists = session.execute(sa.select(user_t.c.id).where(user_t.c.name == name)).first()
        if exists:
            raise InputError(f"a user named {name!r} already exists")
        session.execute(
            user_t.insert().values(
                name=name,
                role=role,
                password_hash=password_hash,
                language=language,
                disabled=False,
                failed_logins=0,
                created_at=now,
            )
        )
        append_event(
            session,
            now,
            NewEvent(EventKind.USER_ADDED, actor, {"user": name, "role": role, "language": language}),
        )
    return find_user(engine, name)


def find_user(engine: Engine, name: str) -> UserView:
    with engine.connect() as connection:
        row = connection.execute(sa.select(user_t).where(user_t.c.name == name)).first()
    if row is None:
        raise InputError(f"no user named {name!r}")
    return _view(row)


def user_by_id(engine: Engine, user_id: int) -> UserView | None:
    with engine.connect() as connection:
        row = connection.execute(sa.select(user_t).where(user_t.c.id == user_id)).first()
    return _view(row) if row is not None else None


def list_users(engine: Engine) -> list[UserView]:
    """Every user, by name."""
    require_schema(engine)
    with engine.connect() as connection:
        return [_view(r) for r in connection.execute(sa.select(user_t).order_by(user_t.c.name))]


def disable_user(engine: Engine, name: str, *, actor: str, now: datetime) -> UserView:
    """Disable a user and end their sessions; disabling twice is a no-op without a second event."""
    require_schema(engine)
    with Session(engine) as session, session.begin():
        row = session.execute(sa.select(user_t.c.id, user_t.c.disabled).where(user_t.c.name == name)).first()
        if row is None:
            raise InputError(f"no user named {name!r}")
        if not row.disabled:
            session.execute(user_t.update().where(user_t.c.id == row.id).values(disabled=True))
            session.execute(
                session_t.update()
                .where(session_t.c.user_id == row.id, session_t.c.ended_at.is_(None))
                .values(ended_at=now)
            )
            append_event(session, now, NewEvent(EventKind.USER_DISABLED, actor, {"user": name}))
    return find_user(engine, name)


def authenticate(engine: Engine, name: str, password: str, *, now: datetime, lockout: timedelta) -> UserView:
    """The user whose name and password these are, or :class:`LoginRefused`.

    Six wrong passwords in a row lock the account for ``lockout``; while locked even the right
    password is refused. A success resets the count and records the login time.
    """
    refused = LoginRefused("wrong name or password, or the account is locked or disabled")
    with engine.begin() as connection:
        row = connection.execute(
            sa.select(user_t).where(user_t.c.name == name.strip()).with_for_update()
        ).first()
        if row is None:
            burn_time(password)
            raise refused
        state = Lockout(row.failed_logins, row.locked_until)
        if row.disabled or state.locked(now):
            burn_time(password)
            raise refused
        if not verify_password(row.password_hash, password):
            after = state.after_failure(now, lockout)
            connection.execute(
                user_t.update()
                .where(user_t.c.id == row.id)
                .values(failed_logins=after.failed_logins, locked_until=after.locked_until)
            )
        else:
            connection.execute(
                user_t.update()
                .where(user_t.c.id == row.id)
                .values(failed_logins=0, locked_until=None, last_login_at=now)
            )
            return _view(connection.execute(sa.select(user_t).where(user_t.c.id == row.id)).one())
    raise refused
