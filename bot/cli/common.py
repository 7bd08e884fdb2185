"""What every command of the CLI shares: the global ``--config`` option, the settings it selects,
the clock, dunbot's errors turned into a message and an exit code, and the small parsers and
printers each command uses.

Exit codes: 0 ok, 1 bad input or a failed check, 2 usage or configuration error.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape

from bot.cli.config_checks import load_settings
from bot.cli.views.tables import err as err  # the CLI's stderr console, re-exported
from bot.config import Settings, config_path
from bot.errors import ConfigError, DunbotError, ImportValidationError

# The metavar of an option that takes no value: Typer would show "<bool>", as if it wanted one.
SWITCH = ""

P = ParamSpec("P")
R = TypeVar("R")


class State:
    """Options shared by every command."""

    config: str | None = None


state = State()


def options(
    config: Annotated[
        str | None,
        typer.Option(
            "--config", metavar="PATH", help="Config file (default: $DUNBOT_CONFIG or ./dunbot.toml)."
        ),
    ] = None,
) -> None:
    state.config = config


def say_verbatim(text: str, style: str | None = None) -> None:
    """One line on stderr exactly as written: no markup, emoji codes or highlighting, and never
    folded by Rich, so a long path stays whole for copying and for grep."""
    err.print(text, style=style, markup=False, emoji=False, highlight=False, soft_wrap=True)


def say_error(message: str) -> None:
    """``error: message`` on stderr, the message as written."""
    err.print(f"[red]error:[/] {escape(message)}", emoji=False, highlight=False, soft_wrap=True)


def handled(func: Callable[P, R]) -> Callable[P, R]:
    """Turn dunbot's own errors into a clear message and the right exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ImportValidationError, ConfigError) as exc:
            for problem in exc.problems:
                say_verbatim(problem)
            say_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except DunbotError as exc:
            say_error(str(exc))
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def config_file() -> Path:
    """The config file ``--config`` (or $DUNBOT_CONFIG, or the default) names."""
    return config_path(state.config)


def settings_from_config() -> Settings:
    return load_settings(config_file())


def clock() -> datetime:
    # The one place the command line reads the clock; everything below gets it passed in.
    return datetime.now(UTC)


def company_today(settings: Settings, now: datetime) -> date:
    return now.astimezone(ZoneInfo(settings.company.timezone)).date()


def parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD", param_hint=option) from None


# JSON escapes C0 controls itself; these it would print raw although a terminal acts on them (C1
# controls, DEL) or shows text out of order (bidi overrides and isolates): written as \uXXXX.
_JSON_UNSAFE = {
    c: f"\\u{c:04x}" for c in [0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
}


def print_json(document: Any) -> None:
    """``document`` as indented JSON on stdout (UTF-8 text; nothing in it can drive the terminal)."""
    text = json.dumps(document, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(text.translate(_JSON_UNSAFE) + "\n")


def actor() -> str:
    """Who the evidence log says acted: the login running the command."""
    try:
        return f"user:{getpass.getuser()}"
    except OSError:
        return "user:unknown"


def me() -> str:
    """The assignee `--mine` means: $DUNBOT_USER, else the login name."""
    return os.environ.get("DUNBOT_USER") or getpass.getuser()
