"""The demo's closing hints name the dunbot that ran it, wherever it is installed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bot.cli.demo_run import dunbot_command


def _script(root: Path) -> Path:
    script = root / ".venv" / "bin" / "dunbot"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    return script


def test_a_demo_beside_the_checkout_venv_gets_the_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    monkeypatch.setenv("PATH", "/nonexistent")
    assert dunbot_command(tmp_path / "demo") == "../.venv/bin/dunbot"


def test_a_demo_in_its_own_folder_gets_the_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script(tmp_path / "install")
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    monkeypatch.setenv("PATH", "/nonexistent")
    assert dunbot_command(tmp_path / "elsewhere" / "acme") == str(script.resolve())


def test_the_dunbot_on_path_is_called_by_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = _script(tmp_path / "install")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    monkeypatch.setenv("PATH", str(script.parent))
    assert dunbot_command(tmp_path / "acme") == "dunbot"
