"""The console's worklist (DESIGN §10): open tasks and pending approvals, ranked, filtered, paged.

An item is a collector task (``call``, ``review``, ``letter``, ``manual``, ...) or an approval task
(a ladder step in ``awaiting_approval``, raised with the ``approval_requested`` event; `dunbot
approve` decides it). It is ranked by **amount at risk** — the outstanding of the invoices it covers
on ``as_of`` — then by **age** (days overdue of its earliest due invoice, then days since it was
created), with its id as the last tie-breaker so pages never overlap or skip.

Currencies: dunbot keeps no exchange rates, so amounts are never converted or added across
currencies. Each item shows its outstanding per currency; it ranks by its largest single-currency
amount (a CNY 50,000 item ranks above a USD 10,000 one). Callers that serve one currency see exact
order.

Filters are faceted: the counts of each filter's values are taken over the items that match every
*other* filter, so the filter UI shows what choosing that value would give. Everything is limited
to the customers the viewer may see (:mod:`bot.reporting.visibility`) before anything is counted.

Speed (bench/worklist.py): every visible task must be ranked and counted, because the counts and the
aging bucket depend on its invoices, so the database returns only what that needs — a few columns
per task and, in one query that unnests each task's JSON list of invoices, the invoices with their
payments. Amounts stay exact Decimals in Python (SQLite keeps money as text, and its SUM would go
through floats); only the page's tasks are read in full.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from bot.domain.ledger import TACTIC_OF_TIER
from bot.domain.reports import aging_bucket
from bot.reporting.visibility import Viewer, visible_customers
from bot.store import tables
from bot.store.engine import require_schema

task_t = tables.Task.__table__  # type: ignore[attr-defined]
customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]
payment_t = tables.Payment.__table__  # type: ignore[attr-defined]

MAX_PAGE_SIZE = 200
# The value a facet shows for an item without one (a task about no invoice has no aging bucket;
# a customer the planner never tiered has no tier or tactic yet).
NONE = "-"


# An invoice as a task's amounts need it: currency, outstanding on as_of, due date.
_Invoice = tuple[str, Decimal, date]


class TaskState(StrEnum):
    """Which tasks the worklist shows."""

    OPEN = "open"  # still to do (the default)
    DONE = "done"  # finished or decided
    ALL = "all"  # both


FACETS = ("tier", "tactic", "step", "bucket", "assignee", "kind")


@dataclass(frozen=True, slots=True)
class WorklistQuery:
    """What the viewer asked for; ``None`` leaves a filter off. ``page`` counts from 1."""

    state: TaskState = TaskState.OPEN
    tier: str | None = None
    tactic: str | None = None
    step: str | None = None
    bucket: str | None = None  # an aging bucket of `dunbot report aging`: current, 1-30, ..., 90+
    assignee: str | None = None
    kind: str | None = None  # "approval" for the approvals alone
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True, slots=True)
class WorklistItem:
    """One task as the worklist shows it."""

    task: int
    kind: str
    is_approval: bool
    customer: str
    customer_name: str
    tier: str  # the tier the planner last recorded (NONE before the first plan)
    tactic: str
    step: str  # NONE for a task of no ladder step
    assignee: str
    title: str
    status: str
    outcome: str | None
    invoices: tuple[str, ...]
    created_at: datetime
    done_at: datetime | None
    outstanding: tuple[tuple[str, Decimal], ...]  # per currency, sorted by currency
    at_risk: Decimal  # the largest single-currency outstanding: the ranking amount
    due_date: date | None  # the earliest due date among its invoices
    days_overdue: int | None
    days_open: int  # days since it was created, on as_of
    bucket: str  # aging bucket of days_overdue (NONE without invoices)

    def facet(self, name: str) -> str:
        """The item's value for filter ``name`` (one of FACETS)."""
        return str(getattr(self, name))


@dataclass(frozen=True, slots=True)
class WorklistPage:
    """One page of the ranked worklist, with the counts the filter UI shows."""

    as_of: date
    query: WorklistQuery
    items: tuple[WorklistItem, ...]
    total: int  # items matching every filter
    pages: int
    # facet -> ((value, count), ...) sorted by value, over the items matching the other filters
    counts: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)

    @property
    def has_next(self) -> bool:
        """Whether a later page exists."""
        return self.query.page < self.pages


def worklist(engine: Engine, viewer: Viewer, query: WorklistQuery, as_of: date) -> WorklistPage:
    """The viewer's worklist on ``as_of``: ranked, filtered, counted and paged."""
    require_schema(engine)
    if query.page < 1 or not 1 <= query.page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page from 1 and page_size 1..{MAX_PAGE_SIZE}, not {query.page}/{query.page_size}")
    with engine.connect() as connection:
        rows = connection.execute(_ranking_columns(viewer, query.state)).all()
        invoices = _invoice_facts(connection, viewer, query.state, as_of)
        # Every visible task is ranked and counted (the facet counts and the aging bucket need each
        # one's invoices); only the page's tasks are read in full and become WorklistItems.
        ranked, total, counts = _rank_and_count(rows, invoices, _chosen(query), as_of)
        start = (query.page - 1) * query.page_size
        shown = ranked[start : start + query.page_size]
        details = _details(connection, [task[0] for task in shown])
    return WorklistPage(
        as_of=as_of,
        query=query,
        items=tuple(_item(task, details[task[0]]) for task in shown),
        total=total,
        pages=max(1, -(-total // query.page_size)),
        counts=counts,
    )


def _visible_tasks(viewer: Viewer, state: TaskState) -> list[sa.ColumnElement[bool]]:
    conditions = [visible_customers(viewer)]
    if state is not TaskState.ALL:
        conditions.append(task_t.c.status == state.value)
    return conditions


def _ranking_columns(viewer: Viewer, state: TaskState) -> sa.Select[tuple[object, ...]]:
    """What ranking and counting need of every visible task, and nothing more."""
    return (
        sa.select(
            task_t.c.id,
            task_t.c.created_at,
            task_t.c.kind,
            task_t.c.step,
            task_t.c.assignee,
            sa.func.coalesce(customer_t.c.current_tier, customer_t.c.tier_override),
            task_t.c.invoices,
        )
        .join(customer_t, customer_t.c.id == task_t.c.customer_id)
        .where(*_visible_tasks(viewer, state))
    )


def _details(connection: Connection, ids: list[int]) -> dict[int, Any]:
    """The rest of the page's tasks: what the page shows but ranking does not need."""
    if not ids:
        return {}
    statement = sa.select(
        task_t.c.id,
        task_t.c.customer_id,
        customer_t.c.name,
        task_t.c.title,
        task_t.c.created_at,
        task_t.c.status,
        task_t.c.outcome,
        task_t.c.done_at,
    ).join(customer_t, customer_t.c.id == task_t.c.customer_id)
    return {int(row.id): row for row in connection.execute(statement.where(task_t.c.id.in_(ids)))}


def _task_invoices(dialect: str) -> sa.TableValuedAlias:
    """The invoice numbers of a task's JSON array, as rows (a function in FROM, per task row)."""
    if dialect == "postgresql":
        elements = sa.func.json_array_elements_text(sa.cast(task_t.c.invoices, postgresql.JSON))
    else:
        elements = sa.func.json_each(task_t.c.invoices)
    return elements.table_valued("value", joins_implicitly=True).alias("task_invoice")


def _invoice_facts(
    connection: Connection, viewer: Viewer, state: TaskState, as_of: date
) -> dict[str, _Invoice]:
    """number -> (currency, outstanding on as_of, due date) of every invoice the viewer's tasks
    name, in one query (payments after as_of are not counted)."""
    listed = _task_invoices(connection.dialect.name)
    numbers = (
        sa.select(listed.c.value.label("number"))
        .select_from(task_t.join(customer_t, customer_t.c.id == task_t.c.customer_id).join(listed, sa.true()))
        .where(*_visible_tasks(viewer, state))
        .distinct()
        .subquery()
    )
    paid = (
        sa.select(sa.func.sum(payment_t.c.amount))
        .where(payment_t.c.invoice_number == invoice_t.c.number, payment_t.c.paid_on <= as_of)
        .scalar_subquery()
    )
    statement = sa.select(
        invoice_t.c.number, invoice_t.c.currency, invoice_t.c.amount, invoice_t.c.due_date, paid
    ).join(numbers, numbers.c.number == invoice_t.c.number)
    facts: dict[str, _Invoice] = {}
    for number, currency, amount, due, paid_sum in connection.execute(statement):
        outstanding = amount - Decimal(paid_sum) if paid_sum else amount
        facts[number] = (currency, outstanding if outstanding > _ZERO else _ZERO, due)
    return facts


_ZERO = Decimal(0)
_NO_DUE = -(10**6)  # ranks a task without invoices after every overdue one
_TACTICS = {tier.value: tactic.value for tier, tactic in TACTIC_OF_TIER.items()}
# A ranked task: (rank key, facet values in FACETS order, invoices, outstanding per currency,
# at risk, due date, days overdue, days open), paired with the task's id.
_Ranked = tuple[
    tuple[Decimal, int, int, int],
    tuple[str, ...],
    tuple[str, ...],
    tuple[tuple[str, Decimal], ...],
    Decimal,
    date | None,
    int | None,
    int,
]


def _rank_and_count(
    rows: Sequence[Any],  # rows of _ranking_columns
    invoices: dict[str, _Invoice],
    chosen: tuple[str | None, ...],
    as_of: date,
) -> tuple[list[tuple[int, _Ranked]], int, dict[str, tuple[tuple[str, int], ...]]]:
    """The tasks matching every filter, ranked; their number; each facet's counts over the tasks
    matching every *other* filter (a task missing one filter counts for that filter only)."""
    filtered = [(at, want) for at, want in enumerate(chosen) if want is not None]
    counters: list[Counter[str]] = [Counter() for _ in FACETS]
    matching: list[tuple[int, _Ranked]] = []
    for task_id, created, kind, step, assignee, tier, listed in rows:
        numbers = tuple(json.loads(listed))
        totals: dict[str, Decimal] = {}
        due: date | None = None
        for number in numbers:
            known = invoices.get(number)
            if known is None:
                continue
            currency, outstanding, due_date = known
            totals[currency] = totals.get(currency, _ZERO) + outstanding
            if due is None or due_date < due:
                due = due_date
        overdue = (as_of - due).days if due is not None else None
        tier_value = str(tier) if tier else NONE
        values = (
            tier_value,
            _TACTICS.get(tier_value, NONE),
            str(step or NONE),
            aging_bucket(overdue) if overdue is not None else NONE,
            str(assignee),
            str(kind),
        )
        missed = [at for at, want in filtered if values[at] != want]
        if missed:
            if len(missed) == 1:  # choosing that filter's value instead would find it
                counters[missed[0]][values[missed[0]]] += 1
            continue
        for at, value in enumerate(values):
            counters[at][value] += 1
        at_risk = max(totals.values(), default=_ZERO)
        days_open = (as_of - created.date()).days
        # Most at risk first, then the longest overdue, then the oldest task; the id breaks ties.
        key = (-at_risk, -(overdue if overdue is not None else _NO_DUE), -days_open, int(task_id))
        outstanding_by_currency = tuple(sorted(totals.items()))
        matching.append(
            (int(task_id), (key, values, numbers, outstanding_by_currency, at_risk, due, overdue, days_open))
        )
    matching.sort(key=lambda task: task[1][0])
    counts = {name: tuple(sorted(counters[at].items())) for at, name in enumerate(FACETS)}
    return matching, len(matching), counts


def _item(task: tuple[int, _Ranked], row: Any) -> WorklistItem:
    task_id, (_, values, invoices, outstanding, at_risk, due, overdue, days_open) = task
    tier, tactic, step, bucket, assignee, kind = values
    return WorklistItem(
        task=task_id,
        kind=kind,
        is_approval=kind == "approval",
        customer=str(row.customer_id),
        customer_name=str(row.name),
        tier=tier,
        tactic=tactic,
        step=step,
        assignee=assignee,
        title=str(row.title),
        status=str(row.status),
        outcome=row.outcome,
        invoices=invoices,
        created_at=row.created_at,
        done_at=row.done_at,
        outstanding=outstanding,
        at_risk=at_risk,
        due_date=due,
        days_overdue=overdue,
        days_open=days_open,
        bucket=bucket,
    )


def _chosen(query: WorklistQuery) -> tuple[str | None, ...]:
    """The query's filter values in FACETS order (None: not filtered)."""
    return tuple(None if getattr(query, name) is None else str(getattr(query, name)) for name in FACETS)
