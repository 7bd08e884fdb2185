"""The checks of the file that need more than the file: whether APScheduler accepts the cron
expression, whether the templates a ladder step names exist. ``bot.config`` knows neither the
scheduler nor the templates; the caller that does passes a :class:`FileChecks` to
:func:`bot.config.parse_settings` (``bot.cli.config_checks`` does, for ``check-config`` and the CLI),
and each problem it finds is reported where the file's own problems are, in the same order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import ValidationInfo

from bot.domain.policy import LadderStep

# The key of pydantic's validation context that carries the FileChecks.
_CHECKS = "file_checks"


class FileChecks(Protocol):
    """What the file's validation asks of the world outside it."""

    def cron_problem(self, expression: str) -> str | None:
        """Why ``expression`` is not a usable cron expression, or None."""

    def missing_templates(self, step: LadderStep) -> list[str]:
        """The template files ``step`` needs that do not exist (``sms/en/name.j2``), in the order
        to report them."""


def checks_context(checks: FileChecks | None) -> dict[str, Any] | None:
    """Pydantic's validation context that hands ``checks`` to the validators."""
    return {_CHECKS: checks} if checks is not None else None


def file_checks(info: ValidationInfo) -> FileChecks | None:
    """The FileChecks the validation was given, if any."""
    context = info.context
    if not isinstance(context, Mapping):
        return None
    checks: FileChecks | None = context.get(_CHECKS)
    return checks
