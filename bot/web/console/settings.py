"""What the console is made with: the signing secret, the cookie's Secure flag, the timeouts, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings

# Paths that answer without a login: the probes, Twilio, the one-click unsubscribe (each checks its
# own signature), the login form itself and the CSS it needs.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/unsubscribe", "/login"})
PUBLIC_PREFIXES = ("/twilio/", "/static/")
# Of those, the machine endpoints: the console leaves their answers (and their POSTs) alone.
ENDPOINT_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/unsubscribe"})
ENDPOINT_PREFIXES = ("/twilio/",)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_endpoint(path: str) -> bool:
    return path in ENDPOINT_PATHS or path.startswith(ENDPOINT_PREFIXES)


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    """``secret`` signs the cookies (``[web] session_secret_env``); ``secure`` marks them Secure
    (``[web] public_url`` is https); ``timezone`` is the company's, for dates on the pages;
    ``settings`` are the daemon's, which the pages over the ledger need (a console made without them
    serves the login and user pages only, as some tests do)."""

    secret: str
    secure: bool
    clock: Callable[[], datetime]
    idle: timedelta = timedelta(minutes=30)
    lockout: timedelta = timedelta(minutes=15)
    timezone: str = "Asia/Shanghai"
    settings: Settings | None = None
