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
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.domain.ledger import TACTIC_OF_TIER, Tier
from bot.domain.reports import aging_bucket
from bot.reporting.visibility import Viewer, visible_customers
from bot.store import tables
from bot.store.engine import require_schema

task_t = tables.Task.__table__  # type: ignore[attr-defined]
customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]
payment_t = tables.Payment.__table__  # type: ignore[attr-defined]

MAX_PAGE_SIZE = 200
_CHUNK = 500
# The value a facet shows for an item without one (a task about no invoice has no aging bucket;
# a customer the planner never tiered has no tier or tactic yet).
NONE = "-"


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
        rows = connection.execute(_tasks(viewer, query.state)).all()
        listed = [tuple(json.loads(row.invoices)) for row in rows]
        facts = _invoice_facts(connection, sorted({n for invoices in listed for n in invoices}), as_of)
    items = [_item(row, invoices, facts, as_of) for row, invoices in zip(rows, listed, strict=True)]
    values = [tuple(item.facet(name) for name in FACETS) for item in items]
    chosen = _chosen(query)
    counts = {name: _counts(values, chosen, position) for position, name in enumerate(FACETS)}
    matching = sorted((i for i, v in zip(items, values, strict=True) if _matches(v, chosen)), key=_rank)
    total = len(matching)
    start = (query.page - 1) * query.page_size
    return WorklistPage(
        as_of=as_of,
        query=query,
        items=tuple(matching[start : start + query.page_size]),
        total=total,
        pages=max(1, -(-total // query.page_size)),
        counts=counts,
    )


def _tasks(viewer: Viewer, state: TaskState) -> sa.Select[tuple[object, ...]]:
    statement = (
        sa.select(
            task_t,
            customer_t.c.name.label("customer_name"),
            sa.func.coalesce(customer_t.c.current_tier, customer_t.c.tier_override).label("tier"),
        )
        .join(customer_t, customer_t.c.id == task_t.c.customer_id)
        .where(visible_customers(viewer))
    )
    if state is not TaskState.ALL:
        statement = statement.where(task_t.c.status == state.value)
    return statement


def _invoice_facts(
    connection: Connection, numbers: Sequence[str], as_of: date
) -> dict[str, tuple[str, Decimal, date]]:
    """number -> (currency, outstanding on as_of, due date); payments after as_of are not counted."""
    facts: dict[str, tuple[str, Decimal, date]] = {}
    for start in range(0, len(numbers), _CHUNK):
        chunk = numbers[start : start + _CHUNK]
        paid = (
            sa.select(payment_t.c.invoice_number, sa.func.sum(payment_t.c.amount).label("paid"))
            .where(payment_t.c.invoice_number.in_(chunk), payment_t.c.paid_on <= as_of)
            .group_by(payment_t.c.invoice_number)
            .subquery()
        )
        statement = (
            sa.select(
                invoice_t.c.number,
                invoice_t.c.currency,
                invoice_t.c.amount,
                invoice_t.c.due_date,
                paid.c.paid,
            )
            .outerjoin(paid, paid.c.invoice_number == invoice_t.c.number)
            .where(invoice_t.c.number.in_(chunk))
        )
        for row in connection.execute(statement):
            outstanding = max(Decimal(row.amount) - Decimal(row.paid or 0), Decimal(0))
            facts[row.number] = (row.currency, outstanding, row.due_date)
    return facts


def _item(
    row: sa.Row[tuple[object, ...]],
    invoices: tuple[str, ...],
    facts: dict[str, tuple[str, Decimal, date]],
    as_of: date,
) -> WorklistItem:
    m = row._mapping
    known = [facts[n] for n in invoices if n in facts]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, outstanding, _ in known:
        totals[currency] += outstanding
    due = min((d for _, _, d in known), default=None)
    overdue = (as_of - due).days if due is not None else None
    tier = str(m["tier"]) if m["tier"] else NONE
    created: datetime = m["created_at"]
    return WorklistItem(
        task=int(m["id"]),
        kind=str(m["kind"]),
        is_approval=m["kind"] == "approval",
        customer=str(m["customer_id"]),
        customer_name=str(m["customer_name"]),
        tier=tier,
        tactic=TACTIC_OF_TIER[Tier(tier)].value if tier in Tier.__members__.values() else NONE,
        step=str(m["step"] or NONE),
        assignee=str(m["assignee"]),
        title=str(m["title"]),
        status=str(m["status"]),
        outcome=m["outcome"],
        invoices=invoices,
        created_at=created,
        done_at=m["done_at"],
        outstanding=tuple(sorted(totals.items())),
        at_risk=max(totals.values(), default=Decimal(0)),
        due_date=due,
        days_overdue=overdue,
        days_open=(as_of - created.date()).days,
        bucket=aging_bucket(overdue) if overdue is not None else NONE,
    )


def _rank(item: WorklistItem) -> tuple[Decimal, int, int, int]:
    # Most at risk first, then the longest overdue, then the oldest task; the id breaks ties.
    overdue = item.days_overdue if item.days_overdue is not None else -(10**6)
    return (-item.at_risk, -overdue, -item.days_open, item.task)


def _chosen(query: WorklistQuery) -> tuple[str | None, ...]:
    """The query's filter values in FACETS order (None: not filtered)."""
    return tuple(None if getattr(query, name) is None else str(getattr(query, name)) for name in FACETS)


def _matches(values: tuple[str, ...], chosen: tuple[str | None, ...], skip: int = -1) -> bool:
    return all(want is None or at == skip or values[at] == want for at, want in enumerate(chosen))


def _counts(
    values: list[tuple[str, ...]], chosen: tuple[str | None, ...], position: int
) -> tuple[tuple[str, int], ...]:
    counter: Counter[str] = Counter(v[position] for v in values if _matches(v, chosen, skip=position))
    return tuple(sorted(counter.items()))
