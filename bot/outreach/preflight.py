"""What a cycle needs before it plans: the secrets, the signing certificate, templates that render.

A cycle writes the day's plan before it sends; one that finds a secret missing at the first e-mail,
or a certificate that does not open at the first notice, would leave a recorded plan (step
executions, messages, events) that nothing went out for. ``require_ready`` finds those problems
first, so that a cycle that cannot work writes nothing at all. It runs the checks ``dunbot
check-config`` runs after reading the file (:func:`bot.config.environment_problems`): the secrets,
the signing material, and every template rendered once (:mod:`bot.render.template_check`).
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.config import Settings, environment_problems
from bot.errors import ConfigError, UsageError


def require_ready(settings: Settings, file: str) -> None:
    """Raise :class:`ConfigError` listing every reason a cycle with ``settings`` would fail once it
    has started (what ``dunbot check-config`` checks beyond the file itself), when there are any."""
    problems = environment_problems(settings, file)
    if problems:
        raise ConfigError(
            f"{file}: the cycle did not start: {len(problems)} problem(s); nothing was planned, "
            "recorded or sent. Fix them (`dunbot check-config` lists them too) and run the cycle again",
            problems,
        )


# A real cycle sends what is due on its date. Up to a day ahead covers a customer whose local date
# is already tomorrow; anything later would send notices and start legal clocks before their day.
DAYS_AHEAD_ALLOWED = 1


def require_sendable_date(as_of: date, today: date) -> None:
    """Refuse a real cycle for ``as_of`` more than :data:`DAYS_AHEAD_ALLOWED` after ``today`` (the
    company's date); a dry run may look at any date."""
    if as_of > today + timedelta(days=DAYS_AHEAD_ALLOWED):
        raise UsageError(
            f"--as-of {as_of} is {(as_of - today).days} days after today ({today}, company time): a "
            "real cycle sends what is due on its date, so it runs at most one day ahead. To see what "
            f"that day would send, run `dunbot cycle --as-of {as_of} --dry-run`"
        )
