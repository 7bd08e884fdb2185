"""Pydantic's errors as ``FILE:section.key: message`` lines, and the settings with every rejected key
left out (its default in its place), so that ``check-config`` can run the checks that come after the
schema and list every problem at once."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config.hooks import FileChecks, checks_context
from bot.config.settings import Settings


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def schema_problems(exc: ValidationError, file: str) -> list[str]:
    """Pydantic's errors as ``file:key: message`` lines."""
    problems = []
    errors = exc.errors()
    # A table under a name that is not allowed (a [ladder.<tactic>] that is no tactic) is named once,
    # for its name, not again for what it holds.
    bad_names = {error["loc"][:-1] for error in errors if error["loc"][-1:] == ("[key]",)}
    holders = {error["loc"][:end] for error in errors for end in range(len(error["loc"]))}
    for error in errors:
        loc = error["loc"]
        if error["type"] == "too_short" and loc in holders:
            continue  # "at least 1 item" only because the item itself was invalid: say that once
        if loc[-1:] != ("[key]",) and any(loc[: len(name)] == name for name in bad_names):
            continue
        key = _location(loc[:-1] if loc[-1:] == ("[key]",) else loc) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            section = _location(loc[:-1]) or "the top level"
            message = f"unknown key in [{section}]" if loc[:-1] else "unknown section or key"
        message = message.removeprefix("Value error, ")
        problems.append(f"{file}:{key}: {message}")
    return problems


def _rejected(document: Mapping[str, Any], loc: tuple[int | str, ...]) -> tuple[int | str, ...] | None:
    """The path of what to leave out of ``document`` for the error at ``loc``: the key, or the list
    item that holds it (a ladder step with one bad field is left out whole); a required key that is
    missing takes the table that lacks it. None when there is nothing to leave out."""
    if not loc:  # the document's own check: the ladder's completeness is the only one
        return ("ladder",) if "ladder" in document else None
    node: Any = document
    for depth, part in enumerate(loc):
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            return loc[: depth + 1]
        if not isinstance(node, dict) or part not in node:
            return loc[:depth] if depth > 0 else None
        node = node[part]
        if not isinstance(node, dict | list):
            return loc[: depth + 1]
    return loc


def _path_order(path: tuple[int | str, ...]) -> tuple[tuple[int, int, str], ...]:
    return tuple((1, part, "") if isinstance(part, int) else (0, 0, part) for part in path)


def _leave_out(document: dict[str, Any], path: tuple[int | str, ...]) -> None:
    node: Any = document
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]


# Leaving out what a pass rejects can reveal a problem it hid (a list left empty, a table's own
# check): a few passes settle any document.
_REPAIR_PASSES = 8


def repaired(
    document: Mapping[str, Any], base_dir: Path, checks: FileChecks | None = None
) -> Settings | None:
    """The settings with every rejected key left out (its default in its place), for the checks
    that come after the schema; None when that does not give valid settings."""
    repaired: dict[str, Any] = copy.deepcopy(dict(document))
    for _ in range(_REPAIR_PASSES):
        try:
            return Settings.model_validate({**repaired, "base_dir": base_dir}, context=checks_context(checks))
        except ValidationError as exc:
            paths = {path for error in exc.errors() if (path := _rejected(repaired, error["loc"]))}
            if not paths:
                return None
            # The deepest and the last first, so that leaving out a list item never moves another
            # still to be left out, and a table goes after what was left out inside it.
            for path in sorted(paths, key=_path_order, reverse=True):
                _leave_out(repaired, path)
    return None


def problem_count(file: str, problems: list[str]) -> str:
    """The ConfigError's message for ``problems``."""
    return f"{file}: {len(problems)} problem(s) in the config"
