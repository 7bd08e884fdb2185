"""`dunbot demo`'s console: a user of each role with the printed demo passwords, who can log in, the
collector one of the demo ledger's account managers, and a config whose [web] session_secret_env
names the variable the printed instructions export (its value in the demo folder)."""

from __future__ import annotations

import csv
import shutil
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.access.users import authenticate, list_users
from bot.cli.config_checks import load_settings
from bot.cli.demo_run import (
    DEMO_SECRET_ENV,
    DEMO_SECRET_FILE,
    DEMO_USERS,
    create_demo_users,
    enable_demo_console,
)
from bot.config import EXAMPLE_CONFIG
from bot.ingest.demo_ledger import generate_demo_ledger
from bot.web.app import app_from_settings

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def test_the_demo_users_have_each_role_and_log_in_with_the_printed_passwords(engine: Engine) -> None:
    create_demo_users(engine, NOW)
    users = {user.name: user.role for user in list_users(engine)}
    assert users == {name: role for name, role, _, _ in DEMO_USERS}
    assert sorted(users.values()) == ["admin", "collector", "legal", "manager"]
    for name, role, password, language in DEMO_USERS:
        user = authenticate(engine, name, password, now=NOW, lockout=timedelta(minutes=15))
        assert (user.name, user.role, user.language) == (name, role, language)


def test_the_demo_collector_manages_customers_of_the_demo_ledger(tmp_path: Path) -> None:
    files = generate_demo_ledger(tmp_path / "ledger", date(2026, 12, 7))
    with files.customers.open(encoding="utf-8") as rows:
        managers = {row["account_manager"] for row in csv.DictReader(rows)}
    (collector,) = [name for name, role, _, _ in DEMO_USERS if role == "collector"]
    assert collector in managers


def test_the_demo_config_names_the_secret_and_the_console_starts_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "dunbot.toml"
    shutil.copyfile(EXAMPLE_CONFIG, config)
    value = enable_demo_console(config)
    settings = load_settings(config)
    assert settings.web.session_secret_env == DEMO_SECRET_ENV
    secret_file = tmp_path / DEMO_SECRET_FILE
    assert secret_file.read_text(encoding="utf-8").strip() == value and len(value) >= 40
    assert stat.S_IMODE(secret_file.stat().st_mode) & 0o077 == 0  # its owner's only
    # what the printed `export DUNBOT_SESSION_SECRET="$(cat session-secret)"` does
    monkeypatch.setenv(DEMO_SECRET_ENV, value)
    from bot.store.engine import make_engine

    app = app_from_settings(
        make_engine(f"sqlite:///{tmp_path / 'x.db'}"), settings, lambda: NOW, require_console=True
    )
    assert "/login" in {getattr(route, "path", "") for route in app.routes}
    # a second demo in the same folder gets a new secret
    assert enable_demo_console(config) != value
    assert load_settings(config).web.session_secret_env == DEMO_SECRET_ENV  # still one such line
