"""``dunbot check-config``: every problem with the config and what must not go out like this, and the
config as the CLI reads it, with the checks that need more than the file.

:mod:`bot.config` reads the file and nothing else. What needs the world is here: a cron expression
APScheduler takes (:mod:`bot.scheduler`), ladder templates that exist (:mod:`bot.render.environment`),
the machine's secrets, certificate, fonts and templates that render (the cycle's own preflight,
:func:`bot.outreach.preflight.environment_problems`), English customers in the database with no
``[company.en]`` (:mod:`bot.store.census`), and the example's placeholders still in ``[company]``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot import config
from bot.config import EXAMPLE_CONFIG, Settings
from bot.domain.ledger import Channel, Language
from bot.domain.policy import LadderStep
from bot.errors import ConfigError
from bot.outreach.preflight import environment_problems
from bot.render.environment import TemplateKind, missing_templates
from bot.scheduler import cron_problem
from bot.store.census import customers_by_language

_KINDS_FOR_CHANNEL: Mapping[Channel, tuple[TemplateKind, ...]] = {
    Channel.EMAIL: (TemplateKind.EMAIL,),
    Channel.SMS: (TemplateKind.SMS,),
    Channel.VOICE: (TemplateKind.SMS,),  # a call reads the SMS text
    Channel.TASK: (TemplateKind.TASK,),
    Channel.LETTER: (TemplateKind.LETTER,),
}


class AdapterChecks:
    """The :class:`bot.config.FileChecks` the CLI reads the config with: APScheduler for the cron
    expression, the template folders for the ladder's templates."""

    def cron_problem(self, expression: str) -> str | None:
        """Why APScheduler does not take ``expression``, or None."""
        return cron_problem(expression)

    def missing_templates(self, step: LadderStep) -> list[str]:
        """The templates ``step`` needs in each language that do not exist: its channels' kinds, and
        a letter for a signed step."""
        kinds = {kind for channel in step.channels for kind in _KINDS_FOR_CHANNEL[channel]}
        if step.signed:
            kinds.add(TemplateKind.LETTER)
        return [
            missing
            for kind in sorted(kinds, key=lambda k: k.value)
            for language in Language
            for missing in missing_templates(kind, language.value, step.template_name)
        ]


ADAPTER_CHECKS = AdapterChecks()


def parse_settings(document: Mapping[str, Any], file: str, base_dir: Path) -> Settings:
    """:func:`bot.config.parse_settings` with the cron expression and the templates checked too."""
    return config.parse_settings(document, file, base_dir, ADAPTER_CHECKS)


def load_settings(path: Path) -> Settings:
    """:func:`bot.config.load_settings` with the cron expression and the templates checked too: the
    config as every command reads it."""
    return config.load_settings(path, ADAPTER_CHECKS)


def check_settings(path: Path) -> list[str]:
    """Every problem with the config, including secrets and signing material the ladder needs."""
    return inspect_settings(path)[0]


def inspect_settings(path: Path) -> tuple[list[str], list[str]]:
    """Every problem with the config (as ``check_settings``), and what works now but must not go out
    like this, each naming file and key: the example's placeholder company data, a TRIAL or
    self-signed certificate, a signing certificate that expires within EXPIRY_WARNING_DAYS."""
    problems: list[str] = []
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        if not isinstance(exc.partial, Settings):
            return exc.problems or [str(exc)], []
        # Go on with the rest of the file: the secrets and signing checks see every key but those
        # already named, so that one run lists every problem.
        settings, problems = exc.partial, list(exc.problems)
    file = str(path)
    named = {_problem_key(problem, file) for problem in problems}
    warnings = placeholder_warnings(path, EXAMPLE_CONFIG)
    later = environment_problems(settings, file, warnings)
    problems += [p for p in later if not _named_already(_problem_key(p, file), named)]
    warnings += _company_language_warnings(settings, file)
    return problems, warnings


# What the example's [company] says that is a setting, not a placeholder: the same in a real config.
_COMPANY_SETTINGS = frozenset({"country", "timezone", "language"})


def placeholder_warnings(path: Path, example: Path) -> list[str]:
    """A warning for each text of ``[company]`` (and its tables, e.g. ``[company.en]``) that is still
    the value ``example`` ships: letters and messages would carry a made-up name, address or bank
    account. Empty values are not placeholders (the example leaves optional ones empty)."""
    try:
        ours = tomllib.loads(path.read_text(encoding="utf-8")).get("company")
        shipped = tomllib.loads(example.read_text(encoding="utf-8")).get("company")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError):
        return []  # no example to compare with (or the config's own errors are reported elsewhere)
    return [
        f"{path}:{key}: {value!r} is the placeholder from config.example.toml; put in the company's "
        "real value before anything is sent"
        for key, value in _same_texts(ours, shipped, "company")
    ]


def _same_texts(ours: Any, shipped: Any, prefix: str) -> list[tuple[str, str]]:
    if not isinstance(ours, Mapping) or not isinstance(shipped, Mapping):
        return []
    same: list[tuple[str, str]] = []
    for key, value in ours.items():
        dotted = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            same += _same_texts(value, shipped.get(key), dotted)
        elif (
            isinstance(value, str)
            and value.strip()
            and key not in _COMPANY_SETTINGS
            and value.strip() == str(shipped.get(key, "")).strip()
        ):
            same.append((dotted, value))
    return same


def _company_language_warnings(settings: Settings, file: str) -> list[str]:
    """English customers in the database and no ``[company.en]``: their documents would show the
    company's name, address and bank account as ``[company]`` writes them."""
    company = settings.company
    if company.en is not None or company.language is Language.EN:
        return []
    english = customers_by_language(settings.database_url).get(Language.EN.value, 0)
    if not english:
        return []
    return [
        f"{file}:company: the database has {english} English customer(s), and there is no [company.en]: "
        "their letters, e-mails and SMS show the company's name, address and bank account as [company] "
        "writes them; add [company.en] with name, legal_name, address and bank_account"
    ]


def _problem_key(problem: str, file: str) -> str:
    return problem.removeprefix(f"{file}:").partition(": ")[0]


def _named_already(key: str, named: set[str]) -> bool:
    """Whether ``key`` or a table that holds it already has a problem (say nothing twice)."""
    parts = key.split(".")
    return any(".".join(parts[:end]) in named for end in range(1, len(parts) + 1))
