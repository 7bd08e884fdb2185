"""`dunbot reassign` and the console's reassign form: a manager gives a customer to another collector.

The ledger's ``account_manager`` stays as imported (an import would overwrite anything written
there); the reassignment is ``customer.assigned_to``, and whoever works a customer is
``coalesce(assigned_to, account_manager)`` (:func:`bot.reporting.visibility.works_customer`).
Reassigning to nobody (``None`` or an empty name) hands the customer back to the ledger's account
manager.

In one transaction: the column is set, the customer's open tasks a collector works move to the new
assignee, and a ``customer_reassigned`` event records who moved it, from whom, to whom, why and
which tasks moved. The mailroom's letters and legal's hand-offs stay where they are: they are not a
collector's work. Tasks raised later follow the assignment (:mod:`bot.outreach.recording`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.errors import InputError
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.store import tables
from bot.store.engine import require_schema

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]
user_t = tables.WebUser.__table__  # type: ignore[attr-defined]

# Who may be given a customer: a console user who works tasks.
ASSIGNABLE_ROLES = ("collector", "manager")
# Task kinds that belong to another desk than the customer's collector: they do not move.
STAYING_KINDS = ("letter", "legal")
# Where the moved tasks go when the customer has nobody (no assignee, no account manager).
COLLECTORS = "collector"


@dataclass(frozen=True, slots=True)
class Reassignment:
    """What a reassignment did."""

    customer: str
    previous: str | None  # who worked the customer before (assigned_to, else account_manager)
    assignee: str | None  # who works it now (None: the ledger's account manager again)
    works: str | None  # coalesce(assignee, account_manager): who works it from now on
    tasks: tuple[int, ...]  # the open tasks that moved


def reassign_customer(
    engine: Engine,
    customer_id: str,
    assignee: str | None,
    *,
    actor: str,
    now: datetime,
    reason: str,
) -> Reassignment:
    """Give ``customer_id`` to ``assignee`` (an enabled collector or manager of the console), or
    back to the ledger's account manager with ``None``/``""``; moves its open tasks; one event."""
    require_schema(engine)
    wanted = (assignee or "").strip() or None
    if not reason.strip():
        raise InputError("a reason is required: it goes into the evidence log")
    with Session(engine) as session:
        connection = session.connection()
        customer = connection.execute(
            sa.select(customer_t.c.id, customer_t.c.account_manager, customer_t.c.assigned_to).where(
                customer_t.c.id == customer_id
            )
        ).first()
        if customer is None:
            raise InputError(f"no customer {customer_id!r}")
        if wanted is not None:
            _check_assignee(connection, wanted)
        previous = customer.assigned_to or customer.account_manager or None
        works = wanted or customer.account_manager or None
        if customer.assigned_to == wanted:
            raise InputError(
                f"customer {customer_id} is already worked by {previous or 'the collectors'}; nothing changed"
            )
        connection.execute(
            sa.update(customer_t).where(customer_t.c.id == customer_id).values(assigned_to=wanted)
        )
        moving = tuple(
            int(task_id)
            for task_id in connection.execute(
                sa.select(task_t.c.id)
                .where(
                    task_t.c.customer_id == customer_id,
                    task_t.c.status == "open",
                    task_t.c.kind.not_in(STAYING_KINDS),
                )
                .order_by(task_t.c.id)
            ).scalars()
        )
        if moving:
            connection.execute(
                sa.update(task_t).where(task_t.c.id.in_(moving)).values(assignee=works or COLLECTORS)
            )
        append_events(
            session,
            now,
            [
                NewEvent(
                    kind=EventKind.CUSTOMER_REASSIGNED,
                    actor=actor,
                    customer=customer_id,
                    data={
                        "from": previous,
                        "to": works,
                        "assigned_to": wanted,
                        "reason": reason.strip(),
                        "tasks": list(moving),
                    },
                )
            ],
        )
        session.commit()
    return Reassignment(customer_id, previous, wanted, works, moving)


def _check_assignee(connection: sa.Connection, name: str) -> None:
    user = connection.execute(
        sa.select(user_t.c.role, user_t.c.disabled).where(user_t.c.name == name)
    ).first()
    if user is None:
        raise InputError(f"{name!r} is not a console user: add them with `dunbot user add`")
    if user.disabled:
        raise InputError(f"{name!r} is disabled: choose an active collector")
    if user.role not in ASSIGNABLE_ROLES:
        raise InputError(f"{name!r} is {user.role}, not a collector or manager: they cannot work a customer")
