"""The dependency rules of DESIGN §1, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((BOT / folder).rglob("*.py"))


def test_nothing_imports_the_cli() -> None:
    cli = BOT / "cli"
    offenders = [
        str(p.relative_to(BOT))
        for p in BOT.rglob("*.py")
        if p.name != "__main__.py"
        and not p.is_relative_to(cli)
        and any(m == "bot.cli" or m.startswith("bot.cli.") for m in _imports(p))
    ]
    assert offenders == []


def test_domain_imports_only_itself_and_pure_libraries() -> None:
    for path in _modules("domain"):
        project = {m for m in _imports(path) if m == "bot" or m.startswith("bot.")}
        assert all(m.startswith("bot.domain") for m in project), (path, project)


def test_channels_never_import_the_store() -> None:
    for path in _modules("channels"):
        assert not any(m.startswith("bot.store") for m in _imports(path)), path


def test_only_the_scheduler_imports_apscheduler() -> None:
    offenders = [
        str(p.relative_to(BOT))
        for p in BOT.rglob("*.py")
        if p.name != "scheduler.py" and any(m.startswith("apscheduler") for m in _imports(p))
    ]
    assert offenders == []
