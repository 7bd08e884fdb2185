"""Reliability drills of issue 3, with real processes, a real SMTP server and a Twilio-compatible one.

* Crash: `dunbot cycle` over 2,000 messages is SIGKILLed at random moments 20 times and restarted.
  No Message-ID and no Twilio request key may arrive twice; afterwards nothing is left `claimed` or
  `sending`, every message is `sent`, `failed` or `unknown`, and every `unknown` has a review task.
* Concurrency: four `dunbot cycle` processes at once on PostgreSQL over the same 2,000 messages:
  each message arrives exactly once.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.smtp_server import PASSWORD, USERNAME, SmtpServer
from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioServer

AS_OF = date(2026, 11, 24)  # a Tuesday, a working day in China
CUSTOMERS = 1000  # each gets one e-mail and one SMS: 2,000 messages


def _env(folder: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(folder),
        "DUNBOT_SMTP_PASSWORD": PASSWORD,
        "DUNBOT_TWILIO_TOKEN": AUTH_TOKEN,
    }


def _dunbot(folder: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=folder,
        env=_env(folder),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _prepare(
    folder: Path,
    smtp: SmtpServer,
    twilio: TwilioServer,
    database_url: str | None = None,
    customers: int = CUSTOMERS,
) -> None:
    assert _dunbot(folder, "init").returncode == 0
    config = folder / "dunbot.toml"
    text = config.read_text(encoding="utf-8")
    replacements = {
        'transport = "file"                      # "smtp" sends': 'transport = "smtp"                      # "smtp" sends',
        'host = "localhost"': 'host = "127.0.0.1"',
        "port = 587": f"port = {smtp.port}",
        '# username = "dunbot"': f'username = "{USERNAME}"',
        '# password_env = "DUNBOT_SMTP_PASSWORD"': 'password_env = "DUNBOT_SMTP_PASSWORD"',
        '# ca_file = "company-ca.pem"': f'ca_file = "{smtp.cert_path}"',
        'window = "08:00-20:00"': 'window = "00:00-23:59"',
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    sms_start = text.index("[sms]")
    sms_end = text.index("[voice]")
    text = (
        text[:sms_start]
        + f"""[sms]
transport = "twilio"
account_sid = "{ACCOUNT_SID}"
auth_token_env = "DUNBOT_TWILIO_TOKEN"
from_number = "+15005550006"
api_base_url = "{twilio.url}"

"""
        + text[sms_end:]
    )
    if database_url:
        text = text.replace('url = "sqlite:///dunbot.db"', f'url = "{database_url}"', 1)
    config.write_text(text, encoding="utf-8")
    if database_url:
        assert _dunbot(folder, "init").returncode == 0
    check = _dunbot(folder, "check-config")
    assert check.returncode == 0, check.stderr
    header = (
        "id,name,tax_id,tier,country,timezone,language,email,phone,address,account_manager,"
        "payment_terms_days,credit_limit,industry,annual_revenue,open_lawsuits,do_not_contact"
    )
    rows = [
        f"D{n:05d},客户{n:05d}贸易有限公司,,cautious,CN,Asia/Shanghai,zh-CN,ap{n}@c{n}.com.cn,+86131{n:08d},,,30,,,,0,false"
        for n in range(customers)
    ]
    (folder / "customers.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    due = AS_OF + timedelta(days=7)  # pre_due_reminder of the preservation ladder: e-mail and SMS
    issued = due - timedelta(days=30)
    invoices = [f"I{n:05d},D{n:05d},CNY,{1000 + n}.00,{issued},{due},,open" for n in range(customers)]
    (folder / "invoices.csv").write_text(
        "number,customer_id,currency,amount,issue_date,due_date,contract_ref,status\n"
        + "\n".join(invoices)
        + "\n",
        encoding="utf-8",
    )
    for entity in ("customers", "invoices"):
        result = _dunbot(folder, "import", entity, f"{entity}.csv")
        assert result.returncode == 0, result.stderr


def _assert_each_arrived_at_most_once(smtp: SmtpServer, twilio: TwilioServer) -> tuple[int, int]:
    message_ids = Counter(received.message_id for received in smtp.received)
    keys = Counter(request.key for request in twilio.requests if request.resource == "Messages")
    assert [m for m, n in message_ids.items() if n > 1] == []
    assert [k for k, n in keys.items() if n > 1] == []
    return len(message_ids), len(keys)


def _wait_for_progress(
    folder: Path, done_before: int, process: subprocess.Popen[bytes], limit: float = 60
) -> None:
    """Until this run has moved at least one more message on (or it ended, or ``limit`` passed)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with sqlite3.connect(folder / "dunbot.db", timeout=1) as connection:
                done = connection.execute(
                    "SELECT count(*) FROM message WHERE state IN ('sent', 'failed', 'unknown', 'sending')"
                ).fetchone()[0]
        except sqlite3.OperationalError:  # locked by the writer for a moment
            done = done_before
        if done > done_before:
            return
        time.sleep(0.05)


@pytest.fixture
def smtp() -> object:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def twilio() -> object:
    server = TwilioServer().start()
    yield server
    server.stop()


def test_sigkill_at_random_moments_never_sends_twice(
    tmp_path: Path, smtp: SmtpServer, twilio: TwilioServer
) -> None:
    _prepare(tmp_path, smtp, twilio)
    rng = random.Random(20261124)
    kills = mid_send = 0
    done_before = 0
    for _ in range(20):
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "cycle", "--as-of", AS_OF.isoformat(), "--json"],
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # A quarter of the kills land at a random moment of start-up or planning; the others at a
        # random moment after this run has started sending (waiting for that, however loaded the
        # machine is, so that most kills really interrupt sends in flight).
        if rng.random() < 0.25:
            time.sleep(rng.uniform(0.2, 2.0))
        else:
            _wait_for_progress(tmp_path, done_before, process)
            time.sleep(rng.uniform(0.0, 0.4))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
        with sqlite3.connect(tmp_path / "dunbot.db") as connection:
            done = connection.execute(
                "SELECT count(*) FROM message WHERE state IN ('sent', 'failed', 'unknown', 'sending')"
            ).fetchone()[0]
        if done_before < done < 2 * CUSTOMERS:
            mid_send += 1  # this run was killed while it was sending
        done_before = done
    final = _dunbot(tmp_path, "cycle", "--as-of", AS_OF.isoformat(), "--json")
    assert final.returncode == 0, final.stderr
    assert kills >= 10 and mid_send >= 3, (kills, mid_send)

    emails, sms = _assert_each_arrived_at_most_once(smtp, twilio)
    with sqlite3.connect(tmp_path / "dunbot.db") as connection:
        states = Counter(
            dict(connection.execute("SELECT state, count(*) FROM message GROUP BY state").fetchall())
        )
        unknown = [r[0] for r in connection.execute("SELECT id FROM message WHERE state = 'unknown'")]
        reviews = {
            r[0]
            for r in connection.execute(
                "SELECT dedupe_key FROM task WHERE kind = 'review' AND status = 'open'"
            )
        }
    assert sum(states.values()) == 2 * CUSTOMERS
    assert set(states) <= {"sent", "failed", "unknown"}, states
    assert all(f"review:message:{m}" in reviews for m in unknown)
    assert (
        states["sent"] + states["unknown"] >= emails + sms - states["unknown"]
    )  # everything that arrived is accounted
    assert states["sent"] <= emails + sms  # nothing is "sent" that did not arrive
    print(
        f"crash drill: {kills} kills, {mid_send} while sending; arrived {emails} e-mails and {sms} SMS; states {dict(states)}"
    )
    verify = _dunbot(tmp_path, "evidence", "verify", "--db")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_four_instances_on_postgresql_send_each_message_once(
    tmp_path: Path, smtp: SmtpServer, twilio: TwilioServer, postgres_schema_url: str
) -> None:
    _prepare(tmp_path, smtp, twilio, database_url=postgres_schema_url)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "cycle", "--as-of", AS_OF.isoformat(), "--json"],
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], [err for _, err in outputs]
    emails, sms = _assert_each_arrived_at_most_once(smtp, twilio)
    assert (emails, sms) == (CUSTOMERS, CUSTOMERS)
    engine = sa.create_engine(postgres_schema_url.replace("postgresql+psycopg", "postgresql+psycopg", 1))
    with engine.connect() as connection:
        states = dict(connection.execute(sa.text("SELECT state, count(*) FROM message GROUP BY state")).all())
        workers = connection.execute(
            sa.text("SELECT count(DISTINCT actor) FROM evidence_event WHERE kind = 'message_sent'")
        ).scalar_one()
    engine.dispose()
    assert states == {"sent": 2 * CUSTOMERS}
    assert workers >= 2, "the work must actually have been shared"
    print(f"concurrency drill: {workers} workers shared {2 * CUSTOMERS} messages")


def test_sigterm_lets_the_messages_in_flight_finish(
    tmp_path: Path, smtp: SmtpServer, twilio: TwilioServer
) -> None:
    _prepare(tmp_path, smtp, twilio, customers=40)
    smtp.push(*["slow"] * 40)  # every e-mail takes seconds to be acknowledged
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "cycle", "--as-of", AS_OF.isoformat(), "--json"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not smtp.received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert smtp.received, "sending never started"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    with sqlite3.connect(tmp_path / "dunbot.db") as connection:
        states = dict(
            connection.execute(
                "SELECT state, count(*) FROM message WHERE channel = 'email' GROUP BY state"
            ).fetchall()
        )
    assert "sending" not in states and "claimed" not in states and "unknown" not in states, states
    assert states.get("sent", 0) == len(smtp.received)  # what was in flight finished and was recorded
    assert states.get("planned", 0) > 0  # the rest waits for the next cycle
    resumed = _dunbot(tmp_path, "cycle", "--as-of", AS_OF.isoformat(), "--json")
    assert resumed.returncode == 0, resumed.stderr
    _assert_each_arrived_at_most_once(smtp, twilio)
