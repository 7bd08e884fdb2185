"""Who may see which customer (DESIGN §10): the one rule every console read model applies.

A *collector* sees the customers whose ``account_manager`` equals their name, and the tasks of those
customers; a *manager* and *legal* see every customer; an *admin* manages users and sees no customer
data at all (every read model answers as if the ledger were empty: nothing is "forbidden", it is
"not found", so neither a page nor a count can tell that a hidden customer exists).

A task assigned to a collector on a customer they do not manage is not shown to them either: the
task would show that customer's name and debts. A manager reassigns the customer instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from bot.store import tables

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]


class Role(StrEnum):
    """What a console user is (DESIGN §10)."""

    COLLECTOR = "collector"  # works the tasks of the customers they manage
    MANAGER = "manager"  # sees everyone's, approves legal steps, reassigns
    LEGAL = "legal"  # reads everything, exports and verifies evidence packs
    ADMIN = "admin"  # manages users; sees no customer data


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person a read model answers for: their user name (a collector's is the ledger's
    ``account_manager`` value, e.g. an e-mail) and role."""

    name: str
    role: Role


def works_customer() -> sa.ColumnElement[str | None]:
    """Who works a customer: a manager's reassignment (``assigned_to``) when there is one, else the
    ledger's ``account_manager``."""
    return sa.func.coalesce(customer_t.c.assigned_to, customer_t.c.account_manager)


def visible_customers(viewer: Viewer) -> sa.ColumnElement[bool]:
    """A condition on the ``customer`` table: true for the rows ``viewer`` may see.

    Every read model joins the customer table and applies this, so a customer the viewer may not
    see is absent from pages and counts alike.
    """
    if viewer.role in (Role.MANAGER, Role.LEGAL):
        return sa.true()
    if viewer.role is Role.COLLECTOR and viewer.name:
        condition: sa.ColumnElement[bool] = works_customer() == viewer.name
        return condition
    return sa.false()
