"""Running dunbot as a service (issue 6): deploy files, health and metrics, status, check-config
--connect against real servers, JSON logs that never carry a secret."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.smtp_server import PASSWORD, USERNAME, SmtpServer
from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioServer

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SIGNING_SECRET = "signing-secret-do-not-log"

CUSTOMERS = """id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact
C1,上海恒通机电设备有限公司,91310000X,cautious,CN,Asia/Shanghai,zh-CN,finance@hengtong.example.cn,+8613800138000,上海市浦东新区世纪大道1号,,30,,manufacturing,,0,false
"""
INVOICES = """number,customer_id,currency,amount,issue_date,due_date,contract_ref,status
INV-1,C1,CNY,100000.00,2026-04-01,2026-06-17,,open
"""
AS_OF = "2026-06-10"  # INV-1 is 7 days from due: the preservation ladder's reminder by e-mail and SMS


def _env(folder: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(folder),
        "COLUMNS": "200",
        "DUNBOT_SMTP_PASSWORD": PASSWORD,
        "DUNBOT_TWILIO_TOKEN": AUTH_TOKEN,
        "DUNBOT_SIGNING_PASSWORD": SIGNING_SECRET,
    }


def dunbot(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=folder,
        env=_env(folder),
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def smtp() -> Any:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def twilio() -> Any:
    server = TwilioServer().start()
    yield server
    server.stop()


def _configure(
    folder: Path, smtp: SmtpServer, twilio: TwilioServer, *, password_env: str = "DUNBOT_SMTP_PASSWORD"
) -> None:
    assert dunbot(folder, "init").returncode == 0
    config = folder / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    replacements = {
        'transport = "file"                      # "smtp" sends': 'transport = "smtp"                      # "smtp" sends',
        'host = "localhost"': 'host = "127.0.0.1"',
        "port = 587": f"port = {smtp.port}",
        '# username = "dunbot"': f'username = "{USERNAME}"',
        '# password_env = "DUNBOT_SMTP_PASSWORD"': f'password_env = "{password_env}"',
        '# ca_file = "company-ca.pem"': f'ca_file = "{smtp.cert_path}"',
        'window = "08:00-20:00"': 'window = "00:00-23:59"',
        'format = "text"': 'format = "json"',
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    sms_start, sms_end = text.index("[sms]"), text.index("[voice]")
    text = (
        text[:sms_start]
        + f'[sms]\ntransport = "twilio"\naccount_sid = "{ACCOUNT_SID}"\nauth_token_env = "DUNBOT_TWILIO_TOKEN"\n'
        + f'from_number = "+15005550006"\napi_base_url = "{twilio.url}"\n\n'
        + text[sms_end:]
    )
    config.write_text(text, encoding="utf-8")


# --- deploy files -----------------------------------------------------------------------------------


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here")
    unit = (DEPLOY / "dunbot.service").read_text(encoding="utf-8")
    for needed in ("User=dunbot", "ProtectSystem=strict", "StateDirectory=dunbot", "Restart=on-failure",
                   "KillSignal=SIGTERM", "EnvironmentFile=/etc/dunbot/dunbot.env", "ExecStartPre=", "NoNewPrivileges=yes"):  # fmt: skip
        assert needed in unit, needed
    # systemd-analyze checks that the programs exist: point them at this checkout's dunbot.
    local = tmp_path / "dunbot.service"
    local.write_text(
        unit.replace("/opt/dunbot/.venv/bin/dunbot", str(Path(sys.executable).with_name("dunbot")))
    )
    result = subprocess.run([tool, "verify", str(local)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(local.read_text().replace("Restart=on-failure", "Restart=sometimes"))
    result = subprocess.run([tool, "verify", str(broken)], capture_output=True, text=True, check=False)
    assert "sometimes" in result.stderr  # the check can fail


def test_the_compose_file_parses(tmp_path: Path) -> None:
    compose = shutil.which("docker-compose")
    if compose is not None:
        result = subprocess.run(
            [compose, "-f", str(DEPLOY / "compose.yaml"), "config"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    yaml = pytest.importorskip("yaml")
    document = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = document["services"]
    assert {"postgres", "mail", "dunbot-a", "dunbot-b"} <= set(services)
    for name in ("dunbot-a", "dunbot-b"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert services[name]["stop_signal"] == "SIGTERM"
    config = (DEPLOY / "compose" / "dunbot.toml").read_text(encoding="utf-8")
    assert "postgresql+psycopg://" in config and 'host = "mail"' in config
    # The compose config is a valid dunbot config.
    import tomllib

    from bot.cli.config_checks import parse_settings

    settings = parse_settings(tomllib.loads(config), "deploy/compose/dunbot.toml", tmp_path)
    assert settings.web.listen == "0.0.0.0:8080" and settings.logging.format == "json"


def test_the_dockerfile_runs_the_daemon_as_a_user_with_the_cjk_font() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "fonts-wqy-zenhei" in dockerfile and "USER dunbot" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile and "exec dunbot run" in dockerfile
    env = (DEPLOY / "dunbot.env.example").read_text(encoding="utf-8")
    assert {"DUNBOT_SMTP_PASSWORD", "DUNBOT_TWILIO_AUTH_TOKEN", "DUNBOT_SIGNING_PASSWORD"} <= {
        line.split("=")[0] for line in env.splitlines() if "=" in line and not line.startswith("#")
    }


# --- check-config --connect -------------------------------------------------------------------------


def test_check_config_connect_tries_every_party(
    tmp_path: Path, smtp: SmtpServer, twilio: TwilioServer
) -> None:
    _configure(tmp_path, smtp, twilio)
    result = dunbot(tmp_path, "check-config", "--connect", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["connections"]}
    assert set(checks) == {"database", "smtp", "twilio"} and all(c["ok"] for c in checks.values())
    assert "STARTTLS" in checks["smtp"]["detail"] and USERNAME in checks["smtp"]["detail"]
    assert ACCOUNT_SID in checks["twilio"]["detail"]
    people = dunbot(tmp_path, "check-config", "--connect")
    assert "smtp" in people.stdout and "ok" in people.stdout


def test_check_config_connect_names_what_failed(
    tmp_path: Path, smtp: SmtpServer, twilio: TwilioServer
) -> None:
    _configure(tmp_path, smtp, twilio, password_env="DUNBOT_TWILIO_TOKEN")  # the wrong password for SMTP
    twilio.auth_token = "not-the-token"  # and the Twilio credentials refused
    result = dunbot(tmp_path, "check-config", "--connect", "--json")
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["connections"]}
    assert checks["database"]["ok"] and not checks["smtp"]["ok"] and not checks["twilio"]["ok"]
    assert "refused the login" in checks["smtp"]["detail"]
    assert "20003" in checks["twilio"]["detail"]
    for secret in (PASSWORD, AUTH_TOKEN):
        assert secret not in result.stdout + result.stderr


def test_check_config_connect_tries_the_tsa(tmp_path: Path, tsa_server: Any) -> None:
    assert dunbot(tmp_path, "init").returncode == 0
    config = tmp_path / "dunbot.toml"
    text = config.read_text(encoding="utf-8").replace(
        '# tsa_url = "http://timestamp.example.com"', f'tsa_url = "{tsa_server.url}"'
    )
    config.write_text(text, encoding="utf-8")
    result = dunbot(tmp_path, "check-config", "--connect", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["connections"]}
    assert checks["timestamp authority"]["ok"] and "token" in checks["timestamp authority"]["detail"]
    tsa_server.failing = True
    failed = dunbot(tmp_path, "check-config", "--connect", "--json")
    assert failed.returncode == 1
    assert not {c["name"]: c for c in json.loads(failed.stdout)["connections"]}["timestamp authority"]["ok"]


# --- a cycle: status, JSON logs, no secrets anywhere ------------------------------------------------


def test_a_cycle_logs_json_leaves_no_secret_and_status_shows_it(
    tmp_path: Path, smtp: SmtpServer, twilio: TwilioServer
) -> None:
    _configure(tmp_path, smtp, twilio)
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    for entity in ("customers", "invoices"):
        assert dunbot(tmp_path, "import", entity, f"{entity}.csv").returncode == 0
    twilio.push(("status", 500))  # a transient failure, retried: something worth logging
    result = dunbot(tmp_path, "cycle", "--as-of", AS_OF, "--json")
    assert result.returncode == 0, result.stderr
    log_lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
    assert log_lines, result.stderr
    records = [json.loads(line) for line in log_lines]
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
    retried = [r for r in records if r["level"] == "WARNING" and "will be retried" in r["message"]]
    assert len(retried) == 1 and retried[0]["will_retry"] is True, records
    summary = [r for r in records if r["logger"] == "bot.cycle"]
    assert len(summary) == 1 and summary[0]["sent"] == 2, records

    status = dunbot(tmp_path, "status", "--json")
    assert status.returncode == 0, status.stderr
    snapshot = json.loads(status.stdout)
    sent = {(m["channel"], m["state"]): m["count"] for m in snapshot["messages"]}
    assert sent[("email", "sent")] == 1 and sent[("sms", "sent")] == 1
    assert (
        snapshot["last_cycle"]["ok"] is True
        and snapshot["checkpoint"]["tree_size"] == snapshot["evidence_events"]
    )
    assert "last cycle" in dunbot(tmp_path, "status").stdout

    secrets = [PASSWORD.encode(), AUTH_TOKEN.encode(), SIGNING_SECRET.encode()]
    leaks = []
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".toml":
            data = path.read_bytes()
            leaks += [f"{path}: {s!r}" for s in secrets if s in data]
    with sqlite3.connect(tmp_path / "dunbot.db") as connection:
        for table in ("evidence_event", "message", "task", "checkpoint", "cycle_run"):
            for row in connection.execute(f"SELECT * FROM {table}"):
                text = " ".join(str(value) for value in row).encode()
                leaks += [f"{table}: {s!r}" for s in secrets if s in text]
    output = (result.stdout + result.stderr + status.stdout).encode()
    leaks += [f"output: {s!r}" for s in secrets if s in output]
    assert leaks == []
    assert twilio.requests and all(PASSWORD not in json.dumps(r.headers) for r in twilio.requests)


def test_the_redactor_removes_secrets_from_messages_extras_and_tracebacks() -> None:
    import io
    import logging

    from bot.logs import JsonFormatter, Redactor

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redactor(["hunter2-secret"]))
    logger = logging.getLogger("dunbot.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("login with %s failed", "hunter2-secret", extra={"detail": "password=hunter2-secret"})
        try:
            raise RuntimeError("server said: bad password hunter2-secret")
        except RuntimeError:
            logger.exception("send failed")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert "hunter2-secret" not in stream.getvalue()
    assert lines[0]["message"] == "login with *** failed" and lines[0]["detail"] == "password=***"
    assert "RuntimeError: server said: bad password ***" in lines[1]["exception"]
