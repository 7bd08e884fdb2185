"""Files that ship with dunbot (``config.example.toml``, the templates) and the config's default name."""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_CONFIG = "dunbot.toml"


def installed_path(relative: str) -> Path:
    """A file that ships with dunbot: beside ``bot/`` in a checkout, else under <prefix>/share/dunbot."""
    beside = Path(__file__).resolve().parents[2] / relative
    if beside.exists():
        return beside
    for prefix in (sys.prefix, sys.base_prefix):
        shared = Path(prefix) / "share" / "dunbot" / relative
        if shared.exists():
            return shared
    return beside


EXAMPLE_CONFIG = installed_path("config.example.toml")
