"""bot.domain stays pure: no database, network, clock or filesystem (DESIGN §1, STYLE 1)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"
MODULES = sorted(DOMAIN.rglob("*.py"))

# Standard-library modules that reach the outside world or the clock.
IMPURE_STDLIB = {
    "asyncio", "ftplib", "glob", "http", "io", "os", "pathlib", "random", "secrets", "shutil", "smtplib",
    "socket", "sqlite3", "ssl", "subprocess", "tempfile", "threading", "time", "urllib",
}  # fmt: skip
ALLOWED_THIRD_PARTY = {"holidays"}
# Calls that read the clock: date.today(), datetime.now() and friends on any receiver; the time module.
CLOCK_METHODS = {"now", "utcnow", "today"}
TIME_MODULE_CALLS = {"time", "time_ns", "monotonic", "perf_counter", "localtime", "gmtime"}
FORBIDDEN_BUILTINS = {"open", "input", "print", "exec", "eval", "__import__"}


def imported_modules(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # Relative imports stay inside the package.
            found.append("bot.domain" if node.level else node.module or "")
    return found


def module_is_allowed(name: str) -> bool:
    root = name.split(".")[0]
    if name == "bot.domain" or name.startswith("bot.domain."):
        return True
    if root in IMPURE_STDLIB:
        return False
    return root in sys.stdlib_module_names or root in ALLOWED_THIRD_PARTY


def test_there_are_domain_modules() -> None:
    assert {p.name for p in MODULES} >= {"ladder.py", "tiers.py", "fees.py", "calendar.py", "money.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_domain_imports_only_stdlib_holidays_and_itself(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    offenders = [name for name in imported_modules(tree) if not module_is_allowed(name)]
    assert offenders == [], f"{path.name} imports {offenders}"


def clock_and_io_calls(tree: ast.AST) -> list[str]:
    calls: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_BUILTINS:
            calls.append((node.lineno, f"{func.id}()"))
        if isinstance(func, ast.Attribute) and (
            func.attr in CLOCK_METHODS
            or (
                isinstance(func.value, ast.Name)
                and func.value.id == "time"
                and func.attr in TIME_MODULE_CALLS
            )
        ):
            calls.append((node.lineno, f".{func.attr}()"))
    return [f"{call} at line {line}" for line, call in sorted(calls)]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_domain_never_reads_the_clock_or_files(path: Path) -> None:
    offenders = clock_and_io_calls(ast.parse(path.read_text(encoding="utf-8")))
    assert offenders == [], f"{path.name}: {offenders}"


def test_the_checker_catches_what_it_should() -> None:
    bad = ast.parse("import sqlalchemy\nfrom sqlmodel import Session\nimport os\nfrom . import ledger\n")
    assert [m for m in imported_modules(bad) if not module_is_allowed(m)] == ["sqlalchemy", "sqlmodel", "os"]
    clocky = ast.parse("d = date.today()\nt = datetime.now(UTC).time()\nopen('x')\nx = time.time()\n")
    assert clock_and_io_calls(clocky) == [
        ".today() at line 1",
        ".now() at line 2",
        "open() at line 3",
        ".time() at line 4",
    ]
