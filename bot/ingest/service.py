"""Validate rows of one entity against the database and upsert them in one transaction.

The rules (DESIGN §2): every bad row is reported as ``FILE:LINE: column: message`` and then nothing is
written; re-importing the same data changes nothing and records nothing. Customers and contracts are
master data and are updated in place. An invoice's customer, currency, amount and issue date are
facts a dunning letter relies on, so a different value for an invoice already imported is an error
(correct it at the source with a credit note, not by rewriting history); its due date, contract and
status may change. Payments are facts and never change; each new one is an evidence event.

Imports never undo what people recorded in dunbot (a dispute opened or closed, DESIGN §2 and issue
16): ``invoice.source_status`` keeps the status the source itself gave at the last import. The
source's status changes dunbot's only when the source's own value changed since then; otherwise a
difference is a :class:`StatusConflict`, listed in the report, and dunbot's status stays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from bot.domain.money import format_amount, quantize
from bot.errors import ImportValidationError, InputError
from bot.evidence.canonical import to_jsonable
from bot.evidence.log import EventKind, NewEvent, append_events
from bot.ingest import schema
from bot.ingest.csvfile import read_csv
from bot.ingest.schema import ENTITIES, Entity, ImportDefaults, check_scale, clean_cells, parse_row
from bot.store.engine import require_schema
from bot.store.tables import Contract, Customer, Invoice, Payment

__all__ = [
    "ImportDefaults",
    "ImportReport",
    "StatusConflict",
    "import_file",
    "import_in_session",
    "import_rows",
]

IMPORT_ACTOR = "import"
_CHUNK = 500
_CLEANED_SHOWN = 20  # cells named in the warning about control characters; the event lists all
# The column a CSV header names, where the table calls it something else.
_TABLE_COLUMN = {"tier": "tier_override"}
_MODELS: Mapping[str, type[SQLModel]] = {
    "customers": Customer,
    "contracts": Contract,
    "invoices": Invoice,
    "payments": Payment,
}
_IMMUTABLE = {
    "invoices": ("customer_id", "currency", "amount", "issue_date"),
    "payments": ("invoice_number", "amount", "paid_on"),
}


@dataclass(frozen=True, slots=True)
class StatusConflict:
    """An invoice whose status in dunbot differs from the source's unchanged one: dunbot's stays."""

    source: str
    line: int
    invoice: str
    source_status: str  # what the source says, as it did at the last import
    dunbot_status: str  # what people recorded in dunbot, which the import keeps

    @property
    def message(self) -> str:
        return (
            f"{self.source}:{self.line}: status: invoice {self.invoice} stays {self.dunbot_status} as "
            f"recorded in dunbot; the source still says {self.source_status}, as at the last import"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "invoice": self.invoice,
            "column": "status",
            "source": self.source_status,
            "dunbot": self.dunbot_status,
            "message": self.message,
        }


@dataclass(slots=True)
class ImportReport:
    """What an import did (or, on a dry run, would do)."""

    entity: str
    source: str
    rows: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)
    conflicts: list[StatusConflict] = field(default_factory=list)
    # the invoices this import inserted or changed (invoices), or added payments to (payments)
    invoices: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated)

    def as_json(self, dry_run: bool = False) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "source": self.source,
            "dry_run": dry_run,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "invoices": self.invoices,
            "warnings": self.warnings,
            "conflicts": [conflict.as_json() for conflict in self.conflicts],
        }


def entity_named(name: str) -> Entity:
    try:
        return ENTITIES[name]
    except KeyError:
        raise InputError(f"cannot import {name!r}: choose one of {', '.join(ENTITIES)}") from None


def import_file(
    engine: Engine,
    entity: str,
    path: Path,
    *,
    defaults: ImportDefaults,
    now: datetime,
    encoding: str = "utf-8-sig",
    dry_run: bool = False,
    actor: str = IMPORT_ACTOR,
) -> ImportReport:
    """Import one CSV file of ``entity`` in one transaction."""
    kind = entity_named(entity)
    require_schema(engine)
    parsed = read_csv(path, kind.header, encoding)
    return import_rows(
        engine,
        kind.name,
        parsed.source,
        parsed.rows,
        defaults=defaults,
        now=now,
        digest=parsed.sha256,
        dry_run=dry_run,
        actor=actor,
    )


def import_rows(
    engine: Engine,
    entity: str,
    source: str,
    rows: Sequence[tuple[int, Mapping[str, str]]],
    *,
    defaults: ImportDefaults,
    now: datetime,
    digest: str | None = None,
    dry_run: bool = False,
    actor: str = IMPORT_ACTOR,
) -> ImportReport:
    """Validate ``(line, cells)`` rows and upsert them in one transaction (none on a dry run)."""
    require_schema(engine)
    with Session(engine, expire_on_commit=False) as session:
        try:
            report = import_in_session(
                session, entity, source, rows, defaults=defaults, now=now, digest=digest, actor=actor
            )
        except BaseException:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return report


def import_in_session(
    session: Session,
    entity: str,
    source: str,
    rows: Sequence[tuple[int, Mapping[str, str]]],
    *,
    defaults: ImportDefaults,
    now: datetime,
    digest: str | None = None,
    actor: str = IMPORT_ACTOR,
) -> ImportReport:
    """The import inside the caller's transaction; raises :class:`ImportValidationError` on any problem."""
    kind = entity_named(entity)
    today = now.astimezone(ZoneInfo(defaults.timezone)).date()  # the company's date
    problems: list[str] = []
    records: dict[str, tuple[int, dict[str, Any]]] = {}
    report = ImportReport(entity=kind.name, source=source, rows=len(rows))
    as_imported: list[dict[str, Any]] = []  # the cells that held control characters, as they came
    for line, raw in rows:
        cells, cleaned = clean_cells(raw)
        as_imported.extend({"line": line, "column": column, "value": raw[column]} for column in cleaned)
        values, row_problems = parse_row(kind, cells, defaults, today)
        problems.extend(f"{source}:{line}: {column}: {message}" for column, message in row_problems)
        if row_problems:
            continue
        record = {_TABLE_COLUMN.get(name, name): value for name, value in values.items()}
        record_key = record[kind.key]
        if record_key in records:
            first_line, first = records[record_key]
            if first != record:
                problems.append(
                    f"{source}:{line}: {kind.key}: {record_key!r} appears again with different content "
                    f"(first on line {first_line})"
                )
            else:
                report.unchanged += 1
            continue
        records[record_key] = (line, record)
    checker = _ReferenceChecker(session, source)
    if kind.name == "invoices":
        problems.extend(checker.invoices(records))
    elif kind.name == "payments":
        problems.extend(checker.payments(records, today))
    model = _MODELS[kind.name]
    existing = _existing(session, model, kind.key, list(records))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: dict[str, dict[str, list[Any]]] = {}
    for record_key, (line, record) in records.items():
        current = existing.get(record_key)
        if kind.name == "invoices":
            _settle_status(record, current, report, source, line)
        if current is None:
            inserts.append(record)
            continue
        for column in _IMMUTABLE.get(kind.name, ()):
            if current[column] != record[column]:
                problems.append(
                    f"{source}:{line}: {column}: {kind.key} {record_key!r} was imported with {column} "
                    f"{current[column]}, this row says {record[column]}; a recorded "
                    f"{kind.name[:-1]} cannot change it (correct it at the source, e.g. with a credit note)"
                )
        diff = {
            name: [current.get(name), value] for name, value in record.items() if current.get(name) != value
        }
        if diff:
            updates.append(record)
            changes[record_key] = diff
        else:
            report.unchanged += 1
    if problems:
        raise ImportValidationError(source, problems)
    if kind.name == "payments":
        report.warnings.extend(checker.overpayments(records))
    if as_imported:
        report.warnings.append(_cleaned_warning(source, as_imported))
    report.inserted, report.updated = len(inserts), len(updates)
    if inserts:
        session.execute(sa.insert(model), inserts)
    if updates:
        session.execute(sa.update(model), updates)
    if kind.name == "invoices":
        report.invoices = sorted(str(r["number"]) for r in (*inserts, *updates))
    elif kind.name == "payments":
        report.invoices = sorted({str(r["invoice_number"]) for r in inserts})
    events = checker.payment_events(inserts, actor) if kind.name == "payments" else []
    if report.changed:
        data: dict[str, Any] = {
            "entity": kind.name,
            "source": source,
            "sha256": digest or _rows_digest(rows),
            "rows": report.rows,
            "inserted": report.inserted,
            "updated": report.updated,
            "unchanged": report.unchanged,
            # what an update changed, old and new value per column: a moved due date or a
            # new e-mail address is part of the record a court may ask about
            "changes": to_jsonable(changes),
        }
        if as_imported:
            # the ledger holds these cells without their control characters; the evidence, as imported
            data["as_imported"] = as_imported
        if report.conflicts:
            # what the import did not change because people had recorded otherwise in dunbot
            data["kept"] = {
                c.invoice: {"status": c.dunbot_status, "source": c.source_status} for c in report.conflicts
            }
        events.append(
            NewEvent(
                kind=EventKind.IMPORT,
                actor=actor,
                invoices=tuple(report.invoices),
                data=data,
            )
        )
    append_events(session, now, events)
    session.flush()
    return report


def _cleaned_warning(source: str, as_imported: Sequence[Mapping[str, Any]]) -> str:
    shown = [f"{source}:{cell['line']}: {cell['column']}" for cell in as_imported[:_CLEANED_SHOWN]]
    more = len(as_imported) - len(shown)
    return (
        f"{source}: {len(as_imported)} value(s) held control characters (terminal escapes, bidi "
        f"overrides), stored without them; the import event keeps them as imported: {', '.join(shown)}"
        + (f" and {more} more" if more > 0 else "")
    )


def _settle_status(
    record: dict[str, Any], current: Mapping[str, Any] | None, report: ImportReport, source: str, line: int
) -> None:
    """Decide an invoice's status: the source's when new or changed at the source, else dunbot's."""
    said = record["status"]
    record["source_status"] = said
    if current is None:
        return
    # Rows from before migration 0007 or written by dunbot itself have no baseline: their status is it.
    baseline = current["source_status"] if current["source_status"] is not None else current["status"]
    if said != baseline:
        return  # the source changed its mind since the last import: that is news, and it applies
    record["status"] = current["status"]
    if current["status"] != said:
        report.conflicts.append(StatusConflict(source, line, record["number"], said, current["status"]))


def _existing(
    session: Session, model: type[SQLModel], key: str, keys: list[str]
) -> dict[str, dict[str, Any]]:
    table = model.__table__  # type: ignore[attr-defined]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        for row in session.execute(sa.select(table).where(table.c[key].in_(chunk))).mappings():
            found[row[key]] = dict(row)
    return found


def _rows_digest(rows: Iterable[tuple[int, Mapping[str, str]]]) -> str:
    digest = hashlib.sha256()
    for _, cells in rows:
        digest.update(repr(sorted(cells.items())).encode("utf-8"))
    return digest.hexdigest()


class _ReferenceChecker:
    """Checks rows against what the database (inside this transaction) already holds."""

    def __init__(self, session: Session, source: str) -> None:
        self.session = session
        self.source = source
        self.invoices_by_number: dict[str, dict[str, Any]] = {}

    def _keys(self, column: Any, wanted: set[str]) -> set[str]:
        found: set[str] = set()
        ordered = sorted(wanted)
        for start in range(0, len(ordered), _CHUNK):
            found.update(self.session.exec(select(column).where(column.in_(ordered[start : start + _CHUNK]))))
        return found

    def invoices(self, records: Mapping[str, tuple[int, dict[str, Any]]]) -> list[str]:
        problems: list[str] = []
        customers = self._keys(col(Customer.id), {r["customer_id"] for _, r in records.values()})
        contracts = self._keys(
            col(Contract.ref), {r["contract_ref"] for _, r in records.values() if r["contract_ref"]}
        )
        for line, record in records.values():
            if record["customer_id"] not in customers:
                problems.append(
                    f"{self.source}:{line}: customer_id: no customer {record['customer_id']!r}; "
                    "import customers first"
                )
            if record["contract_ref"] and record["contract_ref"] not in contracts:
                problems.append(
                    f"{self.source}:{line}: contract_ref: no contract {record['contract_ref']!r}; "
                    "import contracts first or leave it empty"
                )
            record["amount"] = quantize(record["amount"], record["currency"])
        return problems

    def payments(self, records: Mapping[str, tuple[int, dict[str, Any]]], today: date) -> list[str]:
        """Each payment's invoice exists, its amount fits the currency, and it was paid between the
        invoice's issue date and ``today`` (the company's date)."""
        problems: list[str] = []
        numbers = sorted({r["invoice_number"] for _, r in records.values()})
        table = Invoice.__table__  # type: ignore[attr-defined]
        for start in range(0, len(numbers), _CHUNK):
            chunk = numbers[start : start + _CHUNK]
            query = sa.select(
                table.c.number, table.c.customer_id, table.c.currency, table.c.amount, table.c.issue_date
            )
            for row in self.session.execute(query.where(table.c.number.in_(chunk))).mappings():
                self.invoices_by_number[row["number"]] = dict(row)
        for line, record in records.values():
            invoice = self.invoices_by_number.get(record["invoice_number"])
            if invoice is None:
                problems.append(
                    f"{self.source}:{line}: invoice_number: no invoice {record['invoice_number']!r}; "
                    "import invoices first"
                )
                continue
            message = check_scale(record["amount"], invoice["currency"])
            if message:
                problems.append(f"{self.source}:{line}: amount: {message}")
            else:
                record["amount"] = quantize(record["amount"], invoice["currency"])
            paid_on = record["paid_on"]
            if paid_on < invoice["issue_date"]:
                problems.append(
                    f"{self.source}:{line}: paid_on: {paid_on} is before invoice {record['invoice_number']} "
                    f"was issued ({invoice['issue_date']}); check the date or the invoice number"
                )
            elif paid_on > today:
                problems.append(
                    f"{self.source}:{line}: paid_on: {paid_on} is in the future (today is {today}); "
                    "import a payment once it has been received"
                )
        return problems

    def overpayments(self, records: Mapping[str, tuple[int, dict[str, Any]]]) -> list[str]:
        numbers = sorted({r["invoice_number"] for _, r in records.values()})
        paid: dict[str, Decimal] = {}
        table = Payment.__table__  # type: ignore[attr-defined]
        for start in range(0, len(numbers), _CHUNK):
            chunk = numbers[start : start + _CHUNK]
            query = sa.select(table.c.reference, table.c.invoice_number, table.c.amount)
            for row in self.session.execute(query.where(table.c.invoice_number.in_(chunk))):
                if row.reference not in records:
                    paid[row.invoice_number] = paid.get(row.invoice_number, Decimal(0)) + row.amount
        for _, record in records.values():
            number = record["invoice_number"]
            paid[number] = paid.get(number, Decimal(0)) + record["amount"]
        warnings = []
        for number in numbers:
            invoice = self.invoices_by_number[number]
            excess = paid[number] - invoice["amount"]
            if excess > 0:
                warnings.append(
                    f"{self.source}: invoice {number} is overpaid by "
                    f"{format_amount(excess, invoice['currency'])} {invoice['currency']}; "
                    "the excess is not applied to other invoices"
                )
        return warnings

    def payment_events(self, inserts: Iterable[Mapping[str, Any]], actor: str) -> list[NewEvent]:
        events = []
        for record in inserts:
            invoice = self.invoices_by_number[record["invoice_number"]]
            events.append(
                NewEvent(
                    kind=EventKind.PAYMENT,
                    actor=actor,
                    customer=invoice["customer_id"],
                    invoices=(record["invoice_number"],),
                    data={
                        "reference": record["reference"],
                        "amount": str(record["amount"]),
                        "currency": invoice["currency"],
                        "paid_on": record["paid_on"].isoformat(),
                    },
                    dedupe_key=f"payment:{record['reference']}",
                )
            )
        return events


def known_entities() -> tuple[str, ...]:
    return schema.IMPORT_ORDER
