"""What a cycle needs before it plans: the secrets, the signing certificate, templates that render.

A cycle writes the day's plan before it sends; one that finds a secret missing at the first e-mail,
or a certificate that does not open at the first notice, would leave a recorded plan (step
executions, messages, events) that nothing went out for. ``require_ready`` finds those problems
first, so that a cycle that cannot work writes nothing at all. It reuses the checks
``dunbot check-config`` runs (:func:`bot.config.environment_problems`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from bot.config import Settings, environment_problems
from bot.domain.ledger import Channel, Language
from bot.errors import ConfigError, UsageError
from bot.render.context import example_context
from bot.render.environment import (
    TemplateRenderError,
    render_email,
    render_letter,
    render_sms,
    render_task,
)


def template_problems(settings: Settings, file: str) -> list[str]:
    """Every template the ladder uses, rendered once per language with the example context: a
    template that is missing, malformed or refers to an unknown name is a problem before the day's
    plan is recorded, not a blocked message after it."""
    renderers: dict[Channel, Callable[[str, str, Mapping[str, Any]], object]] = {
        Channel.EMAIL: render_email,
        Channel.SMS: render_sms,
        Channel.VOICE: render_sms,  # a call reads the SMS text
        Channel.TASK: render_task,
        Channel.LETTER: render_letter,
    }
    problems: list[str] = []
    tried: set[tuple[object, str, str]] = set()
    for tactic, steps in settings.planning_policy().ladders.items():
        for index, step in enumerate(steps):
            channels = set(step.channels) | ({Channel.LETTER} if step.signed else set())
            for render in dict.fromkeys(renderers[c] for c in sorted(channels, key=lambda c: c.value)):
                for language in Language:
                    attempt = (render, language.value, step.template_name)
                    if attempt in tried:
                        continue
                    tried.add(attempt)
                    try:
                        render(language.value, step.template_name, example_context(language.value))
                    except TemplateRenderError as exc:
                        problems.append(f"{file}:ladder.{tactic.value}[{index}]: {exc}")
    return problems


def cycle_problems(settings: Settings, file: str) -> list[str]:
    """Every reason a cycle with ``settings`` would fail once it has started, each as
    ``file:key: message``."""
    return environment_problems(settings, file) + template_problems(settings, file)


def require_ready(settings: Settings, file: str) -> None:
    """Raise :class:`ConfigError` listing :func:`cycle_problems`, when there are any."""
    problems = cycle_problems(settings, file)
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
