"""TOML config -> validated, frozen settings; secrets only from environment variables.

Every problem is reported at once as ``FILE:section.key: message`` (``dunbot check-config``).
Unknown keys are errors. Relative paths in the file are relative to the file's own folder.

This package reads the file and nothing else of the world: it imports only ``bot.domain`` and
``bot.errors``. The checks that need the scheduler, the templates, the certificate or the database
live with the code that has them (:mod:`bot.cli.config_checks`, :mod:`bot.outreach.preflight`) and come
in through :class:`FileChecks`.

- :mod:`bot.config.paths`: files that ship with dunbot, the config's default name
- :mod:`bot.config.fields`: the base model and field types every section shares
- :mod:`bot.config.company`, :mod:`bot.config.sections`, :mod:`bot.config.ladder`: the sections
- :mod:`bot.config.settings`: ``Settings``, the whole configuration
- :mod:`bot.config.hooks`: the checks the caller passes in
- :mod:`bot.config.problems`: pydantic's errors as lines, and the settings with rejected keys left out
- :mod:`bot.config.loading`: reading the file, secrets
"""

from bot.config.company import CompanyInLanguage, CompanySettings
from bot.config.fields import ExactDecimal
from bot.config.hooks import FileChecks
from bot.config.ladder import IndexedLadder, LadderStepSettings
from bot.config.loading import config_path, load_settings, parse_settings, secret
from bot.config.paths import DEFAULT_CONFIG, EXAMPLE_CONFIG, installed_path
from bot.config.sections import (
    DEFAULT_BANNED_PHRASES,
    DEFAULT_INDUSTRY_RISK,
    DEFAULT_OPT_OUT_TEXT,
    ComplianceSettings,
    DatabaseSettings,
    EmailSettings,
    EvidenceSettings,
    FeeSettings,
    LetterSettings,
    LoggingSettings,
    OutreachSettings,
    PlanningSettings,
    ScheduleSettings,
    ScorecardSettings,
    SigningSettings,
    SmsSettings,
    SourceSettings,
    VoiceSettings,
    WebSettings,
    parse_window,
)
from bot.config.settings import Settings

__all__ = [
    "DEFAULT_BANNED_PHRASES",
    "DEFAULT_CONFIG",
    "DEFAULT_INDUSTRY_RISK",
    "DEFAULT_OPT_OUT_TEXT",
    "EXAMPLE_CONFIG",
    "CompanyInLanguage",
    "CompanySettings",
    "ComplianceSettings",
    "DatabaseSettings",
    "EmailSettings",
    "EvidenceSettings",
    "ExactDecimal",
    "FeeSettings",
    "FileChecks",
    "IndexedLadder",
    "LadderStepSettings",
    "LetterSettings",
    "LoggingSettings",
    "OutreachSettings",
    "PlanningSettings",
    "ScheduleSettings",
    "ScorecardSettings",
    "Settings",
    "SigningSettings",
    "SmsSettings",
    "SourceSettings",
    "VoiceSettings",
    "WebSettings",
    "config_path",
    "installed_path",
    "load_settings",
    "parse_settings",
    "parse_window",
    "secret",
]
