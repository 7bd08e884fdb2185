"""Watching the soak's daemon: its state, its RSS, ``/readyz`` and ``/metrics``, its log lines, and
the status callbacks the soak posts to it; also how the soak runs ``dunbot`` commands.

Not a script: ``bench/soak.py`` runs it (``.venv/bin/python bench/soak.py --minutes 2`` is a quick
run; see its docstring and bench/README.md).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator

from tests.support.smtp_server import PASSWORD, SmtpServer
from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN, TwilioServer

STOP_GRACE = 120.0  # TimeoutStopSec of deploy/dunbot.service, stop_grace_period of deploy/compose.yaml
FLAT_MB, FLAT_SHARE, FLAT_SLOPE = 15.0, 0.10, 0.5
SECRETS = {"DUNBOT_SMTP_PASSWORD": PASSWORD, "DUNBOT_TWILIO_TOKEN": AUTH_TOKEN}


@dataclass
class Sample:
    at: float  # seconds since the daemon started
    cycles: int  # cycles finished by then
    rss_kb: int
    processes: int
    ready: int | None  # HTTP status of /readyz (None: no answer)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Soak:
    folder: Path
    db_url: str
    web: str
    env: dict[str, str]
    smtp: SmtpServer
    twilio: TwilioServer
    samples: list[Sample] = field(default_factory=list)
    cycle_rss: list[tuple[int, int]] = field(default_factory=list)  # (cycle, RSS in kB right after it)
    cycle_ends: list[float] = field(default_factory=list)
    batches: list[tuple[int, str, float]] = field(default_factory=list)  # (batch, Shanghai date, seconds)
    import_failures: list[str] = field(default_factory=list)
    callbacks: Counter[int] = field(default_factory=Counter)  # HTTP status -> count
    posted: set[str] = field(default_factory=set)  # SMS SIDs that got their callback


def run_dunbot(soak: Soak, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=soak.folder,
        env=soak.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def must(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        raise SystemExit(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def callback_url(soak: Soak) -> str:
    return f"http://{soak.web}/twilio/status"


# --- watching --------------------------------------------------------------------------------------


def _rss(pid: int) -> tuple[int, int]:
    """VmRSS (kB) of ``pid`` and all its descendants, and how many processes that is."""
    total, count, todo = 0, 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        count += 1
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in (task / "children").read_text().split()]
    return total, count


def vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _get(url: str) -> tuple[int | None, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return None, str(exc)


def _metrics(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def sample(soak: Soak, pid: int, started: float) -> Sample:
    rss, processes = _rss(pid)
    ready, _ = _get(f"http://{soak.web}/readyz")
    status, text = _get(f"http://{soak.web}/metrics")
    metrics = _metrics(text) if status == 200 else {}
    point = Sample(time.monotonic() - started, len(soak.cycle_ends), rss, processes, ready, metrics)
    soak.samples.append(point)
    return point


class LogTail:
    """Reads the daemon's stderr as it grows: JSON records, and anything else it printed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.records: list[dict[str, Any]] = []
        self.other: list[str] = []

    def read(self) -> list[dict[str, Any]]:
        with self.path.open("rb") as stream:
            stream.seek(self.offset)
            data = stream.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        new = []
        for line in complete.decode("utf-8", "replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict) and "level" in record:
                new.append(record)
            elif line.strip():
                self.other.append(line)
        self.records += new
        return new


def cycle_finished(record: dict[str, Any]) -> bool:
    """A cycle ended: the scheduler's summary line, its failure line, or APScheduler's job error."""
    logger, message = str(record.get("logger", "")), str(record.get("message", ""))
    if logger == "bot.scheduler" and message.startswith("cycle "):
        return True
    return logger.startswith("apscheduler") and record.get("level") in ("ERROR", "CRITICAL")


def post_callbacks(soak: Soak) -> None:
    """A signed "delivered" report for every SMS the server accepted that has not had one."""
    url = callback_url(soak)
    validator = RequestValidator(AUTH_TOKEN)
    for request in soak.twilio.accepted:
        if request.resource != "Messages" or request.sid is None or request.sid in soak.posted:
            continue
        params = {
            "AccountSid": ACCOUNT_SID,
            "MessageSid": request.sid,
            "SmsSid": request.sid,
            "MessageStatus": "delivered",
            "SmsStatus": "delivered",
            "To": request.form.get("To", ""),
            "From": request.form.get("From", ""),
            "ApiVersion": "2010-04-01",
        }
        body = urllib.parse.urlencode(params).encode()
        post = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": validator.compute_signature(url, params),
            },
        )
        try:
            with urllib.request.urlopen(post, timeout=10) as response:
                soak.callbacks[response.status] += 1
        except urllib.error.HTTPError as exc:
            soak.callbacks[exc.code] += 1
        except OSError:
            soak.callbacks[0] += 1
        soak.posted.add(request.sid)
