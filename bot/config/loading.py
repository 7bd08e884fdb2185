"""Reading the config: the file's path, TOML -> validated ``Settings`` with every problem listed, and
secrets from the environment variables the file names."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config.hooks import FileChecks, checks_context
from bot.config.ladder import document_ladder, indexed, ladder_problems
from bot.config.paths import DEFAULT_CONFIG
from bot.config.problems import problem_count, repaired, schema_problems
from bot.config.settings import Settings
from bot.domain.ledger import Tactic
from bot.errors import ConfigError


def parse_settings(
    document: Mapping[str, Any], file: str, base_dir: Path, checks: FileChecks | None = None
) -> Settings:
    """Validate a parsed TOML document; raises ConfigError listing every problem.

    ``checks`` are the checks that need more than the file (the cron expression, the templates; see
    :mod:`bot.config.hooks`); without them those are left to the caller.

    A ConfigError's ``partial`` holds the settings with the rejected keys left out, when that gives
    valid settings, so that ``check-config`` can also run the checks that come later.
    """
    problems: list[str] = []
    if "base_dir" in document:
        problems.append(f"{file}:base_dir: unknown key")
        document = {k: v for k, v in document.items() if k != "base_dir"}
    try:
        settings = Settings.model_validate({**document, "base_dir": base_dir}, context=checks_context(checks))
    except ValidationError as exc:
        problems += schema_problems(exc, file)
        partial = repaired(document, base_dir, checks)
        ladder = document_ladder(document, indexed(partial.ladder) if partial is not None else {})
        problems += ladder_problems(ladder, file, checks)
        if partial is not None and "ladder" in document:
            # The later checks see the steps the user wrote that passed, never the default ladder
            # in place of a rejected one (its signed steps would ask for a certificate).
            kept = {tactic: tuple(step for _, step in ladder.get(tactic, ())) for tactic in Tactic}
            partial = partial.model_copy(update={"ladder": kept})
        raise ConfigError(problem_count(file, problems), problems, partial=partial) from None
    problems += ladder_problems(indexed(settings.ladder), file, checks)
    if problems:
        raise ConfigError(problem_count(file, problems), problems, partial=settings)
    return settings


def config_path(explicit: str | None) -> Path:
    """--config, else $DUNBOT_CONFIG, else ./dunbot.toml."""
    return Path(explicit or os.environ.get("DUNBOT_CONFIG") or DEFAULT_CONFIG)


def load_settings(path: Path, checks: FileChecks | None = None) -> Settings:
    """Read and validate the config file (``checks`` as for :func:`parse_settings`)."""
    if not path.exists():
        raise ConfigError(
            f"no config file at {path}: run `dunbot init` to create one, or pass --config / set DUNBOT_CONFIG"
        )
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, ValueError) as exc:  # ValueError: an integer of thousands of digits
        raise ConfigError(f"{path}: not valid TOML", [f"{path}: {exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config must be UTF-8", [f"{path}: not valid UTF-8"]) from None
    return parse_settings(document, str(path), path.resolve().parent, checks)


def secret(env_name: str | None, key: str) -> str:
    """Read a secret from the environment variable named in the config."""
    if not env_name:
        raise ConfigError(f"{key} is not set: name the environment variable holding the secret")
    value = os.environ.get(env_name)
    if value is None:
        raise ConfigError(f"environment variable {env_name} (from {key}) is not set")
    return value
