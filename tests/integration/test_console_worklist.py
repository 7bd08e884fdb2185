"""Reassigning a customer (DESIGN §10) on a real database: the service the console's form and
`dunbot reassign` call, what it moves, who sees the customer afterwards, where later tasks go, its
evidence event, and the refusals that write nothing.

The ledger is the read models' test ledger (tests/integration/test_console_read_models.py), imported
and run through the real cycle.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.access.users import add_user, disable_user
from bot.channels.file import FileSender
from bot.cli import app
from bot.config import EmailSettings, EvidenceSettings, Settings, SigningSettings, SmsSettings
from bot.domain.ledger import Channel
from bot.errors import InputError
from bot.evidence import chronology_text
from bot.evidence.service import verify_database
from bot.ingest.service import import_rows
from bot.outreach.assignment import reassign_customer
from bot.outreach.cycle import run_cycle
from bot.reporting.customer_page import customer_page
from bot.reporting.visibility import Role, Viewer
from bot.reporting.worklist import WorklistQuery, worklist
from tests.integration.test_console_read_models import (
    ALICE,
    AS_OF,
    BOB,
    DEFAULTS,
    MANAGER,
    NOON,
    _customer,
    _invoice,
)

CAROL = Viewer("carol@xinghe.cn", Role.COLLECTOR)
LATER = NOON + timedelta(hours=1)


@pytest.fixture
def settings(tmp_path: Path, trial_certificate: Any) -> Settings:
    return Settings(
        signing=SigningSettings(pkcs12=str(trial_certificate.pkcs12)),
        email=EmailSettings(transport="file", drop_dir="outbox/email"),
        sms=SmsSettings(transport="file", drop_dir="outbox/sms"),
        evidence=EvidenceSettings(artifact_dir="artifacts"),
        base_dir=tmp_path,
    )


@pytest.fixture
def imported(engine: Engine) -> Engine:
    """Alice manages A1 and A2, Bob B1; Carol is a collector without customers; the console has a
    manager, a legal user, an admin and a disabled collector too. Nothing has run yet."""
    customers = [
        _customer("A1", "cooperative", ALICE.name),
        _customer("A2", "strategic", ALICE.name),
        _customer("B1", "cooperative", BOB.name),
    ]
    invoices = [
        _invoice("INV-A1-CALL", "A1", "8000.00", 7),  # collection_call (the collectors' step)
        _invoice("INV-A1-LAW", "A1", "3000.00", 46, currency="USD"),  # lawyer_letter: an approval
        _invoice("INV-A2-CARE", "A2", "5000.00", 7),  # care_call (the account manager's step)
        _invoice("INV-B1-CALL", "B1", "20000.00", 7),
    ]
    import_rows(
        engine, "customers", "customers.csv", list(enumerate(customers, 2)), defaults=DEFAULTS, now=NOON
    )
    import_rows(engine, "invoices", "invoices.csv", list(enumerate(invoices, 2)), defaults=DEFAULTS, now=NOON)
    for name, role in (
        (ALICE.name, "collector"),
        (BOB.name, "collector"),
        (CAROL.name, "collector"),
        ("gone@xinghe.cn", "collector"),
        (MANAGER.name, "manager"),
        ("lawyer", "legal"),
        ("root", "admin"),
    ):
        add_user(engine, name, role, "pw-" + name, actor="user:ops", now=NOON)
    disable_user(engine, "gone@xinghe.cn", actor="user:ops", now=NOON)
    return engine


def _cycle(engine: Engine, settings: Settings) -> None:
    """The read models' two cycles, nine days apart: the first demands, then the calls and approvals."""
    senders = {
        Channel.EMAIL: FileSender(Channel.EMAIL, settings.path("outbox/email")),
        Channel.SMS: FileSender(Channel.SMS, settings.path("outbox/sms")),
    }
    for day in (AS_OF - timedelta(days=9), AS_OF):
        at = NOON - (AS_OF - day)
        asyncio.run(
            run_cycle(engine, settings, day, clock=lambda at=at: at, exclusive=True, senders=dict(senders))
        )


def _open_tasks(engine: Engine, customer: str) -> dict[str, str]:
    """kind -> assignee of the customer's open tasks."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT kind, assignee FROM task WHERE customer_id = :c AND status = 'open' ORDER BY id"),
            {"c": customer},
        ).all()
    return {row.kind: row.assignee for row in rows}


def _events(engine: Engine, kind: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        bodies = connection.execute(
            sa.text("SELECT body FROM evidence_event WHERE kind = :k ORDER BY seq"), {"k": kind}
        ).scalars()
        return [json.loads(body) for body in bodies]


def _customers(engine: Engine, viewer: Viewer) -> set[str]:
    return {i.customer for i in worklist(engine, viewer, WorklistQuery(), AS_OF).items}


def _assigned_to(engine: Engine, customer: str) -> str | None:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT assigned_to FROM customer WHERE id = :c"), {"c": customer}
        ).scalar()


def test_reassigning_moves_the_open_tasks_and_who_sees_the_customer(
    imported: Engine, settings: Settings
) -> None:
    _cycle(imported, settings)
    assert _open_tasks(imported, "A1") == {"call": "collector", "approval": "collector"}
    assert (_customers(imported, ALICE), _customers(imported, BOB)) == ({"A1", "A2"}, {"B1"})

    done = reassign_customer(
        imported, "A1", BOB.name, actor="user:mgr", now=LATER, reason="Alice is on leave"
    )

    assert (done.previous, done.assignee, done.works, len(done.tasks)) == (ALICE.name, BOB.name, BOB.name, 2)
    assert _assigned_to(imported, "A1") == BOB.name
    assert _open_tasks(imported, "A1") == {"call": BOB.name, "approval": BOB.name}
    assert (_customers(imported, ALICE), _customers(imported, BOB)) == ({"A2"}, {"A1", "B1"})
    # the customer page follows: Alice's is gone (None: the console answers 404), Bob's is there
    assert customer_page(imported, settings, ALICE, "A1", AS_OF, LATER) is None
    assert customer_page(imported, settings, BOB, "A1", AS_OF, LATER) is not None
    # the ledger's account manager is kept as imported
    with imported.connect() as connection:
        assert connection.execute(
            sa.text("SELECT account_manager FROM customer WHERE id = 'A1'")
        ).scalar() == (ALICE.name)
    # the evidence: who, from whom, to whom, why and which tasks; the chain still verifies
    (event,) = _events(imported, "customer_reassigned")
    assert (event["actor"], event["customer"]) == ("user:mgr", "A1")
    assert event["data"] == {
        "from": ALICE.name,
        "to": BOB.name,
        "assigned_to": BOB.name,
        "reason": "Alice is on leave",
        "tasks": list(done.tasks),
    }
    assert verify_database(imported, None).ok
    # the chronology words it in both languages
    assert chronology_text.what("customer_reassigned", chronology_text.ZH) == "客户改派"
    assert chronology_text.outcome("customer_reassigned", event["data"], "", chronology_text.EN) == (
        f"from {ALICE.name} to {BOB.name}, 2 open task(s) moved, reason: Alice is on leave"
    )
    assert "改派给 bob@xinghe.cn" in chronology_text.outcome(
        "customer_reassigned", event["data"], "", chronology_text.ZH
    )


def test_back_to_the_ledger_s_account_manager(imported: Engine, settings: Settings) -> None:
    _cycle(imported, settings)
    reassign_customer(imported, "A1", CAROL.name, actor="user:mgr", now=LATER, reason="cover")
    assert _customers(imported, CAROL) == {"A1"}
    back = reassign_customer(imported, "A1", "", actor="user:mgr", now=LATER, reason="Alice is back")
    assert (back.previous, back.assignee, back.works) == (CAROL.name, None, ALICE.name)
    assert _assigned_to(imported, "A1") is None
    assert _open_tasks(imported, "A1") == {"call": ALICE.name, "approval": ALICE.name}
    assert (_customers(imported, CAROL), _customers(imported, ALICE)) == (set(), {"A1", "A2"})
    assert [e["data"]["to"] for e in _events(imported, "customer_reassigned")] == [CAROL.name, ALICE.name]


def test_tasks_raised_later_go_to_the_new_assignee(imported: Engine, settings: Settings) -> None:
    # before any cycle: A2's care call is the account manager's step, B1's collection call the team's
    reassign_customer(imported, "A2", CAROL.name, actor="user:mgr", now=NOON, reason="new owner")
    reassign_customer(imported, "B1", CAROL.name, actor="user:mgr", now=NOON, reason="new owner")
    _cycle(imported, settings)
    assert _open_tasks(imported, "A2") == {"call": CAROL.name}
    assert _open_tasks(imported, "B1") == {"call": CAROL.name}
    # A1, not reassigned, keeps the team's assignee for the collectors' step
    assert _open_tasks(imported, "A1")["call"] == "collector"
    assert _customers(imported, CAROL) == {"A2", "B1"}


@pytest.mark.parametrize(
    ("customer", "assignee", "reason", "problem"),
    [
        ("A1", "nobody@xinghe.cn", "x", "is not a console user"),
        ("A1", "gone@xinghe.cn", "x", "is disabled"),
        ("A1", "lawyer", "x", "is legal, not a collector or manager"),
        ("A1", "root", "x", "is admin, not a collector or manager"),
        ("A1", BOB.name, "  ", "a reason is required"),
        ("NOPE", BOB.name, "x", "no customer 'NOPE'"),
        ("A1", None, "x", "already worked by alice@xinghe.cn"),
    ],
)
def test_a_bad_reassignment_is_refused_and_writes_nothing(
    imported: Engine, settings: Settings, customer: str, assignee: str | None, reason: str, problem: str
) -> None:
    _cycle(imported, settings)
    before = (_open_tasks(imported, "A1"), len(_events(imported, "customer_reassigned")))
    with pytest.raises(InputError, match=problem):
        reassign_customer(imported, customer, assignee, actor="user:mgr", now=LATER, reason=reason)
    assert (_open_tasks(imported, "A1"), len(_events(imported, "customer_reassigned"))) == before
    assert _assigned_to(imported, "A1") is None


def test_dunbot_reassign(imported: Engine, settings: Settings, tmp_path: Path) -> None:
    _cycle(imported, settings)
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    url = imported.url.render_as_string(hide_password=False)
    config = tmp_path / "dunbot.toml"
    config.write_text(example.read_text().replace('url = "sqlite:///dunbot.db"', f'url = "{url}"', 1))
    runner = CliRunner()

    moved = runner.invoke(
        app, ["--config", str(config), "reassign", "A1", "--to", BOB.name, "--reason", "leave"]
    )
    assert moved.exit_code == 0, moved.output
    said = " ".join(moved.output.split())  # Rich folds long lines to the runner's 80 columns
    assert "customer A1 is worked by bob@xinghe.cn now (was alice@xinghe.cn); 2 open task(s) moved" in said
    assert _open_tasks(imported, "A1") == {"call": BOB.name, "approval": BOB.name}
    (event,) = _events(imported, "customer_reassigned")
    assert event["actor"].startswith("user:") and event["data"]["reason"] == "leave"

    refused = runner.invoke(
        app, ["--config", str(config), "reassign", "A1", "--to", "lawyer", "--reason", "x"]
    )
    assert refused.exit_code == 1
    assert "'lawyer' is legal, not a collector or manager" in " ".join(refused.output.split())
    assert len(_events(imported, "customer_reassigned")) == 1

    back = runner.invoke(app, ["--config", str(config), "reassign", "A1", "--to", "", "--reason", "back"])
    assert back.exit_code == 0, back.output
    assert _assigned_to(imported, "A1") is None and _open_tasks(imported, "A1")["call"] == ALICE.name
