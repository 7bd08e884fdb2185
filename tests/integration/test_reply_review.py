"""The replies' read model (`dunbot reply`, the console's Replies page) on SQLite and PostgreSQL: who
sees which reply, and what must hold before one is confirmed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.errors import InputError
from bot.evidence.artifacts import ArtifactStore
from bot.replies.model import ReplyKind
from bot.replies.review import check_confirmable, list_replies, show_reply
from bot.reporting.visibility import Role, Viewer
from bot.store import tables

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
ALICE = Viewer("alice@xinghe.cn", Role.COLLECTOR)


@pytest.fixture
def replies(engine: Engine, tmp_path: Path) -> ArtifactStore:
    """A1 is Alice's by the ledger, B1 Bob's but reassigned to Alice, C1 Bob's; one reply each and an
    unmatched one, all awaiting confirmation but C1's (handled)."""
    store = ArtifactStore(tmp_path / "artifacts")
    with Session(engine) as session:
        for customer, manager, assigned in (
            ("A1", "alice@xinghe.cn", None),
            ("B1", "bob@xinghe.cn", "alice@xinghe.cn"),
            ("C1", "bob@xinghe.cn", None),
        ):
            session.add(
                tables.Customer(
                    id=customer, name=customer, country="CN", timezone="Asia/Shanghai", language="zh-CN",
                    account_manager=manager, assigned_to=assigned,
                )
            )  # fmt: skip
        session.flush()
        for n, customer in enumerate(("A1", "B1", "C1", None), 1):
            session.add(
                tables.InboundMessage(
                    channel="sms", source_key=f"sms:SM{n}", raw_sha256=store.put(f"Body=reply+{n}".encode()),
                    sender="+8613800138000", subject="", received_at=NOW + timedelta(minutes=n),
                    state="handled" if customer == "C1" else "confirm", customer_id=customer,
                    kind=ReplyKind.PROMISE.value if customer else None, confidence="0.700",
                    created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
        session.commit()
    return store


def test_each_role_sees_its_replies(engine: Engine, replies: ArtifactStore) -> None:
    """A collector sees the replies of the customers they work (their own and those reassigned to
    them), newest first; a manager and legal see all, unmatched ones too; an admin none; the command
    line (no viewer) everything."""

    def ids(viewer: Viewer | None, state: str | None = "confirm") -> list[int]:
        return [r.id for r in list_replies(engine, viewer, state=state)]

    assert ids(ALICE) == [2, 1]
    assert ids(Viewer("bob@xinghe.cn", Role.COLLECTOR)) == []
    assert ids(Viewer("bob@xinghe.cn", Role.COLLECTOR), None) == [3]
    assert ids(Viewer("mgr", Role.MANAGER)) == ids(Viewer("law", Role.LEGAL)) == [4, 2, 1]
    assert ids(Viewer("root", Role.ADMIN), None) == []
    assert ids(None, None) == [4, 3, 2, 1]
    assert show_reply(engine, replies, 1, ALICE).text == "reply 1"
    with pytest.raises(InputError, match="no reply 3"):
        show_reply(engine, replies, 3, ALICE)


def test_what_may_be_confirmed(engine: Engine, replies: ArtifactStore) -> None:
    """Confirming needs a reply the viewer sees, awaiting confirmation, a real kind, and a kind at all
    for one the classifier left unclassified."""
    assert check_confirmable(engine, 1, None, ALICE) is ReplyKind.PROMISE  # as classified
    assert check_confirmable(engine, 2, "dispute", ALICE) is ReplyKind.DISPUTE
    with pytest.raises(InputError, match="no reply 3"):
        check_confirmable(engine, 3, None, ALICE)
    with pytest.raises(InputError, match="does not await confirmation"):
        check_confirmable(engine, 3, None, None)
    with pytest.raises(InputError, match="not a kind of reply"):
        check_confirmable(engine, 1, "maybe", ALICE)
    with pytest.raises(InputError, match="was not classified"):
        check_confirmable(engine, 4, None, None)
    assert check_confirmable(engine, 4, "other", None) is ReplyKind.OTHER
