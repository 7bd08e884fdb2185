"""``dunbot user add|list|disable``: the console's users (DESIGN §8, §10); thin over bot.access.users."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from bot.access.users import ROLES, add_user, check_role, disable_user, list_users
from bot.cli.common import SWITCH, actor, clock, handled, print_json, say_error, settings_from_config
from bot.cli.views.tables import Table, out
from bot.errors import InputError
from bot.store.engine import make_engine

app = typer.Typer(help="Console users: add, list, disable.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
    else:
        password = typer.prompt(
            "Password", hide_input=True, confirmation_prompt=True, default="", show_default=False
        )
    if not password:
        raise InputError("the password is empty")
    return password


@app.command("add")
@handled
def add(
    name: Annotated[str, typer.Argument(help="The ledger's account_manager value, e.g. an e-mail.")],
    role: Annotated[str, typer.Option("--role", metavar="R", help=f"One of {', '.join(ROLES)}.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", metavar=SWITCH, help="Read the password from one line of stdin."),
    ] = False,
    language: Annotated[str, typer.Option("--language", metavar="LANG", help="zh-CN or en.")] = "zh-CN",
) -> None:
    """Add a console user; the password is asked twice (or read from stdin) and stored as an argon2 hash."""
    check_role(role)  # before the prompt: a typo in the role should not cost a password
    settings = settings_from_config()
    password = _read_password(password_stdin)
    user = add_user(
        make_engine(settings.database_url),
        name,
        role,
        password,
        actor=actor(),
        now=clock(),
        language=language,
    )
    out.print(f"added {user.name} ({user.role})", markup=False, highlight=False)


@app.command("list")
@handled
def list_(
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
) -> None:
    """The console's users, their roles and state."""
    settings = settings_from_config()
    users = list_users(make_engine(settings.database_url))
    if as_json:
        print_json(
            [
                {
                    "name": u.name,
                    "role": u.role,
                    "language": u.language,
                    "disabled": u.disabled,
                    "locked_until": u.locked_until.isoformat() if u.locked_until else None,
                    "created_at": u.created_at.isoformat(),
                    "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
                }
                for u in users
            ]
        )
        return
    if not users:
        say_error("no users yet: add one with `dunbot user add NAME --role R`")
        return
    table = Table("Name", "Role", "Language", "State", "Last login")
    now = clock()
    for u in users:
        state = (
            "disabled" if u.disabled else "locked" if u.locked_until and u.locked_until > now else "active"
        )
        last = u.last_login_at.isoformat(timespec="minutes") if u.last_login_at else "never"
        table.add_row(u.name, u.role, u.language, state, last)
    out.print(table)


@app.command("disable")
@handled
def disable(name: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Disable a user: they can no longer log in, and their open sessions end."""
    settings = settings_from_config()
    user = disable_user(make_engine(settings.database_url), name, actor=actor(), now=clock())
    out.print(f"disabled {user.name}", markup=False, highlight=False)
