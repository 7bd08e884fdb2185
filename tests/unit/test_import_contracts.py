"""The import contracts in pyproject.toml (``[tool.importlinter]``) hold, and catch what they name.

``make test`` runs ``lint-imports`` on the tree; these tests show that each contract would fail on
the crossing it exists for, by adding that one import to a copy of ``bot/`` and linting the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "200"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "bot", tmp_path / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(tree: Path, module: str, line: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = tree / module.replace(".", "/") / "__init__.py"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


CROSSINGS = {
    "the domain reaches into the store": (
        "bot.domain.money",
        "import bot.store.tables",
        "bot.domain.money -> bot.store.tables",
    ),
    "settings reach into an adapter to check": (
        "bot.config.loading",
        "def _late() -> None:\n    import bot.render.fonts",
        "bot.config.loading -> bot.render.fonts",
    ),
    "a channel reads the database": (
        "bot.channels.file",
        "import bot.store.engine",
        "bot.channels.file -> bot.store.engine",
    ),
    "a lower layer imports the CLI": (
        "bot.outreach.cycle",
        "def _late() -> None:\n    import bot.cli",
        "bot.outreach.cycle -> bot.cli",
    ),
    "APScheduler outside the scheduler": (
        "bot.outreach.cycle",
        "import apscheduler.triggers.cron",
        "Only the scheduler imports APScheduler BROKEN",
    ),
    "two modules of one layer import each other": (
        "bot.evidence.canonical",
        "def _late() -> None:\n    import bot.evidence.log",
        "No import cycle between the modules of bot/ BROKEN",
    ),
}


@pytest.mark.parametrize("case", sorted(CROSSINGS))
def test_a_crossing_breaks_the_contract(tree: Path, case: str) -> None:
    module, line, expected = CROSSINGS[case]
    _append(tree, module, line)
    result = _lint(tree)
    assert result.returncode != 0
    assert expected in result.stdout, result.stdout


def test_a_new_module_outside_the_layers_is_refused(tree: Path) -> None:
    (tree / "bot" / "helpers.py").write_text('"""Where nothing should go."""\n', encoding="utf-8")
    result = _lint(tree)
    assert result.returncode != 0
    assert "bot.helpers" in result.stdout, result.stdout
