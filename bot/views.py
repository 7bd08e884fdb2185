"""Rich renderings of plans and reports for people (the CLI and the demo print with these)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console, JustifyMethod, RenderableType
from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text

from bot.domain.decisions import DecisionStatus
from bot.domain.money import format_amount

out = Console(soft_wrap=False)
err = Console(stderr=True)


class Table(RichTable):
    """A Rich table whose plain-string cells are text, never markup: a customer called "Smith [UK]"
    or a message naming "[signing] pkcs12" shows as written. Styled cells are passed as Text."""

    def add_row(self, *renderables: RenderableType | None, **kwargs: Any) -> None:
        cells = [Text(cell) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, **kwargs)


@dataclass(frozen=True)
class Column:
    """A column of a table that fits the terminal (see ``print_fitted``).

    ``whole``: amounts, dates, identifiers, statuses, read only whole: never cut, never wrapped,
    as wide as their widest cell or header. Other columns are free text and wrap (between words,
    or inside one too long for the column), never narrower than ``_TEXT_WIDTH``. ``drop``: on a
    terminal too narrow for every column, those with ``drop`` 1 are left out first, then 2, and so
    on (0: always shown).
    """

    name: str
    justify: JustifyMethod = "left"
    whole: bool = False
    drop: int = 0
    short: str | None = None  # the header in the compact layout, when the name is wider than the cells


_TEXT_WIDTH = 16  # a wrapped free-text column below this is a column of single words


def _table(
    title: str,
    columns: Sequence[Column],
    widths: Sequence[int],
    rows: Sequence[Sequence[RenderableType]],
    *,
    compact: bool,
) -> Table:
    table = (
        Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=0) if compact else Table(title=title)
    )
    for column, width in zip(columns, widths, strict=True):
        name = column.short if compact and column.short else column.name
        if column.whole:  # no_wrap: Rich never narrows such a column to fit, only a text column
            table.add_column(name, justify=column.justify, no_wrap=True, min_width=width)
        else:
            table.add_column(name, justify=column.justify, min_width=width, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _cell_width(cell: RenderableType) -> int:
    return cell.cell_len if isinstance(cell, Text) else Text(str(cell)).cell_len


def _narrowest(column: Column, widest: int, *, compact: bool) -> int:
    """The fewest cells ``column`` can take: a whole one its widest cell or header, free text
    at most ``_TEXT_WIDTH`` (it wraps)."""
    if not column.whole:
        return min(widest, _TEXT_WIDTH)
    header = column.short if compact and column.short else column.name
    return max(widest, Text(header).cell_len)


def print_fitted(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[RenderableType]],
    *,
    console: Console | None = None,
    empty: str | None = None,
) -> None:
    """Print ``rows`` as a table that fits the terminal without cutting any ``whole`` cell.

    No rows: one line instead (``empty``, else "TITLE: none"), not a table of headers.

    Boxed with every column when that fits; else compact (no borders); else compact without the
    droppable columns, fewest first, the caption naming what was left out. When even that is wider
    than the terminal, it is printed at its own width (the terminal wraps the lines): a cut amount
    would be a wrong amount.
    """
    console = console or out
    if not rows:
        console.print(empty or f"{title}: none", markup=False, highlight=False, soft_wrap=True)
        return
    # Every cell measured once; each layout's width is then arithmetic.
    widest = [max((_cell_width(row[i]) for row in rows), default=1) for i in range(len(columns))]
    levels = sorted({c.drop for c in columns if c.drop})
    attempts = [(False, 0), (True, 0), *((True, level) for level in levels)]
    for compact, dropped in attempts:
        kept = [i for i, c in enumerate(columns) if not c.drop or c.drop > dropped]
        widths = [_narrowest(columns[i], widest[i], compact=compact) for i in kept]
        # Boxed: a border before, after and between columns, one cell of padding each side.
        # Compact: one space between columns.
        needed = sum(widths) + (len(kept) - 1 if compact else 3 * len(kept) + 1)
        if needed <= console.width or (compact, dropped) == attempts[-1]:
            break
    table = _table(
        title, [columns[i] for i in kept], widths, [[row[i] for i in kept] for row in rows], compact=compact
    )
    left_out = [c.name for c in columns if c.drop and c.drop <= dropped]
    if left_out:
        table.caption = (
            f"left out at this width: {', '.join(left_out)} (a wider terminal or --json shows them)"
        )
    console.print(table, width=max(console.width, needed), crop=False)


FAIL = Text("FAIL", style="red")

# Every cell of a plan row is read whole, so each decision keeps one line: on a narrower terminal
# whole columns are left out (the reason first), never wrapped or cut. --json has them all.
PLAN_COLUMNS = (
    Column("invoice", whole=True),
    Column("customer", whole=True),
    Column("tier", whole=True, drop=3),
    Column("step", whole=True),
    Column("days", justify="right", whole=True),
    Column("channels", whole=True, drop=2),
    Column("late fee", justify="right", whole=True, drop=4),
    Column("status", whole=True),
    Column("reason", whole=True, drop=1),
)
_PLAN_STYLES = {
    "planned": "green",
    "superseded": "dim",
    "deferred": "yellow",
    "awaiting_approval": "magenta",
    "manual": "bold red",  # collectors must act: never a quiet colour
}


def print_plan(preview: Any, limit: int | None = None, *, show_superseded: bool = False) -> None:
    """A table of a plan's decisions (the first ``limit`` shown), one line each, and a summary line.

    Superseded decisions (earlier steps that will never be sent) are hidden unless
    ``show_superseded``; a line says how many.
    """
    decisions = [d for d in preview.decisions if show_superseded or d.status is not DecisionStatus.SUPERSEDED]
    hidden = 0 if show_superseded else preview.status_counts.get(DecisionStatus.SUPERSEDED.value, 0)
    total = preview.decision_count - hidden
    shown = decisions[:limit] if limit is not None else decisions
    if shown:
        print_fitted(
            f"Dunning plan for {preview.as_of}",
            PLAN_COLUMNS,
            [
                [
                    d.invoice,
                    d.customer,
                    d.tier.value,
                    d.step,
                    str(d.days_overdue),
                    ", ".join(c.value for c in d.channels),
                    f"{d.late_fee} {d.currency}",
                    Text(d.status.value, style=_PLAN_STYLES.get(d.status.value, "")),
                    d.reason,
                ]
                for d in shown
            ],
        )
    else:
        out.print(f"nothing to show for {preview.as_of}", highlight=False)
    manual = [d for d in shown if d.status is DecisionStatus.MANUAL]
    if manual:
        # Why collectors must act is what a manual row is for: said whole, even where the table
        # had to leave its reason column out.
        out.print("manual, for collectors to handle:", style="bold red", highlight=False)
        for d in manual:
            out.print(f"  {d.invoice} ({d.customer}): {d.reason}", markup=False, highlight=False)
    if len(shown) < total:
        all_flag = " --all" if show_superseded else ""
        out.print(f"first {len(shown)} of {total} decisions; `dunbot plan{all_flag} --json` lists them all")
    if hidden:
        out.print(
            f"{hidden} superseded decision(s) hidden (`dunbot plan --all` shows them)",
            highlight=False,
        )
    summary = ", ".join(f"{n} {s}" for s, n in sorted(preview.status_counts.items())) or "nothing due"
    tiers = ", ".join(f"{n} {t.value}" for t, n in sorted(preview.tiers.items())) or "none"
    out.print(
        f"{preview.customers} customer(s) ({preview.customers_off_day} not on a business day); "
        f"tiers: {tiers}; decisions: {summary}"
    )


# What a key column of a report is: always shown and whole, or free text left out first.
_KEY_COLUMNS = {
    "customer": Column("customer", whole=True),
    "name": Column("name", drop=1),
    "tier": Column("tier", whole=True, drop=2),
}


def print_aging(report: Any) -> None:
    """Rich tables of an aging report: amounts whole at any width (a name gives way first)."""
    buckets = report.bucket_names
    for title, rows in (("by tier", report.by_tier), ("by customer", report.by_customer)):
        keys = report.key_names(title)
        # By tier the tier is the row's key: never left out there.
        key_columns = [Column(k, whole=True) if title == "by tier" else _KEY_COLUMNS[k] for k in keys]
        columns = [
            *key_columns,
            Column("currency", whole=True, short="ccy"),
            *(Column(name, justify="right", whole=True) for name in (*buckets, "total")),
        ]
        cells: list[list[RenderableType]] = [
            [*row.keys, row.currency, *(f"{row.amounts[b]:,}" for b in buckets), f"{row.total:,}"]
            for row in rows
        ]
        if any(row.note for row in rows):  # why the bot does not chase a customer (do_not_contact)
            columns.append(Column("note", drop=3))
            for row, line in zip(rows, cells, strict=True):
                line.append(row.note)
        print_fitted(f"Aging {title} as of {report.as_of}", columns, cells)


def print_kpi(report: Any, days: int) -> None:
    """A Rich table of a KPI report, every figure whole at any width."""
    columns = [
        Column("tier", whole=True),
        Column("currency", whole=True, short="ccy"),
        *(
            Column(name, justify="right", whole=True)
            for name in ("receivables", "overdue", "overdue rate", "DSO (days)", "CEI")
        ),
    ]
    cells = [
        [
            row.tier,
            row.currency,
            f"{row.receivables:,}",
            f"{row.overdue:,}",
            _pct(row.overdue_rate),
            "—" if row.dso is None else f"{row.dso}",
            _pct(row.cei),
        ]
        for row in report.rows
    ]
    print_fitted(f"KPIs for {report.start} – {report.end} ({days} days)", columns, cells)


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value} %"


# --- cycles ---------------------------------------------------------------------------------------

_OUTCOME_ORDER = ("sent", "retry", "held", "cancelled", "failed", "blocked", "unknown")


@contextmanager
def sending_progress(console: Console, *, enabled: bool) -> Iterator[Callable[[Any], None] | None]:
    """A live count of messages handled while a cycle sends (on stderr; off for --json)."""
    if not enabled or not console.is_terminal:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("sending: 0 handled", total=None)
        counts: Counter[str] = Counter()

        def advance(outcome: Any) -> None:
            counts[str(outcome)] += 1
            summary = ", ".join(f"{counts[o]} {o}" for o in _OUTCOME_ORDER if counts[o])
            bar.update(task, description=f"sending: {summary}")

        yield advance


def cycle_json(report: Any) -> dict[str, Any]:
    """The --json document of `dunbot cycle`."""
    recorded = report.recorded
    return {
        "as_of": report.as_of.isoformat(),
        "synced": report.synced,
        "planned": {
            "step_executions": recorded.executions if recorded else 0,
            "messages": recorded.messages if recorded else 0,
            "approval_tasks": recorded.tasks if recorded else 0,
            "events": recorded.events if recorded else 0,
        },
        "recovered": {"released": report.released, "unknown": report.recovered_unknown},
        "outcomes": {str(k): v for k, v in sorted(report.stats.outcomes.items())},
        "by_step": [
            {"step": step, "channel": channel, "outcome": str(outcome), "count": count}
            for (step, channel, outcome), count in sorted(report.stats.by_step.items())
        ],
    }


def print_cycle(report: Any) -> None:
    """What a cycle planned and sent, per step and channel."""
    document = cycle_json(report)
    planned = document["planned"]
    out.print(
        f"[bold]cycle {document['as_of']}[/]: planned {planned['messages']} new message(s), "
        f"{planned['step_executions']} step execution(s), {planned['approval_tasks']} approval task(s)"
    )
    if report.recovered_unknown or report.released:
        out.print(
            f"[yellow]recovered[/] {report.released} stale claim(s); {report.recovered_unknown} message(s) "
            "found mid-send are now unknown, each with a review task"
        )
    rows: dict[tuple[str, str], Counter[str]] = {}
    for item in document["by_step"]:
        rows.setdefault((item["step"], item["channel"]), Counter())[item["outcome"]] += item["count"]
    # Only the outcomes that happened get a column: seven mostly empty ones do not fit 80 columns.
    outcomes = [o for o in _OUTCOME_ORDER if any(counts[o] for counts in rows.values())]
    if rows:
        print_fitted(
            "messages handled",
            [
                Column("step", whole=True),
                Column("channel", whole=True),
                *(Column(o, justify="right", whole=True) for o in outcomes),
            ],
            [
                [step, channel, *(str(counts[o] or "") for o in outcomes)]
                for (step, channel), counts in sorted(rows.items())
            ],
        )
    else:
        out.print("nothing was due")
    totals = document["outcomes"]
    out.print(", ".join(f"{totals.get(o, 0)} {o}" for o in _OUTCOME_ORDER if totals.get(o)) or "0 sent")


def dry_run_json(day: date, messages: Sequence[Any], statuses: Counter[str], queued: Any) -> dict[str, Any]:
    """The --json document of `dunbot cycle --dry-run`."""
    return {
        "as_of": day.isoformat(),
        "dry_run": True,
        "decisions": dict(sorted(statuses.items())),
        # Messages planned earlier and still in the outbox: a cycle sends them too, when they are due.
        "queued": {
            "due": queued.due,
            "held": queued.held,
            "next_at": queued.next_at.isoformat() if queued.next_at else None,
        },
        "messages": [
            {
                "customer": m.customer,
                "step": m.step,
                "channel": m.channel,
                "recipient": m.recipient,
                "subject": m.subject,
                "invoices": list(m.invoices),
                "blocked": m.blocked or None,
            }
            for m in messages
        ],
    }


def print_dry_run(day: date, messages: Sequence[Any], statuses: Counter[str], queued: Any) -> None:
    """Every message the day's plan would add, rendered, and what the outbox already holds; nothing
    was written or sent."""
    print_fitted(
        f"dry run {day}: the plan would send {len(messages)} new message(s) (nothing written)",
        [
            Column("customer", whole=True),
            Column("step", whole=True),
            Column("channel", whole=True, drop=1),
            Column("recipient"),
            Column("subject / text"),
        ],
        [
            [
                m.customer,
                m.step,
                m.channel,
                m.recipient.replace("\n", " "),
                Text(f"BLOCKED: {m.blocked}", style="red") if m.blocked else m.subject,
            ]
            for m in messages
        ],
        empty=f"dry run {day}: the plan would send no new message (nothing written)",
    )
    out.print(", ".join(f"{count} {status}" for status, count in sorted(statuses.items())) or "nothing due")
    if queued.due or queued.held:
        later = f"{queued.held} held (contact window or retry)" if queued.held else ""
        if queued.next_at is not None:
            later += f" until {queued.next_at:%Y-%m-%d %H:%M} UTC at the earliest"
        parts = ", ".join(p for p in (f"{queued.due} due now" if queued.due else "", later) if p)
        out.print(f"already in the outbox from earlier plans: {parts}; a cycle sends each when it is due")


# --- collectors -----------------------------------------------------------------------------------


def tasks_json(tasks: Sequence[Any]) -> list[dict[str, Any]]:
    """The --json document of `dunbot tasks`."""
    return [
        {
            "id": t.id,
            "kind": t.kind,
            "customer": t.customer,
            "invoices": list(t.invoices),
            "step": t.step,
            "assignee": t.assignee,
            "title": t.title,
            "body": t.body,
            "status": t.status,
            "outcome": t.outcome,
            "note": t.note,
            "created_at": t.created_at.isoformat(),
            "done_at": t.done_at.isoformat() if t.done_at else None,
            "outstanding": {currency: str(amount) for currency, amount in t.outstanding},
            "due_date": t.due_date.isoformat() if t.due_date else None,
            "days_overdue": t.days_overdue,
        }
        for t in tasks
    ]


def _amounts(outstanding: Sequence[tuple[str, Decimal]]) -> str:
    return " + ".join(f"{format_amount(amount, currency)} {currency}" for currency, amount in outstanding)


def print_tasks(tasks: Sequence[Any], *, mine: str | None, include_done: bool = False) -> None:
    """Open (or all) tasks as a table: what each is about, how much and how late."""
    who = f" for {mine}" if mine else ""
    if not tasks:
        out.print(f"no {'' if include_done else 'open '}tasks{who}", highlight=False)
        return
    print_fitted(
        f"{len(tasks)} task(s){who}",
        [
            Column("id", justify="right", whole=True),
            Column("kind", whole=True),
            Column("customer", whole=True),
            Column("invoices", drop=5),
            Column("outstanding", justify="right", whole=True),
            Column("due date", whole=True, drop=4, short="due"),
            Column("days overdue", justify="right", whole=True, short="days"),
            Column("step", whole=True, drop=3),
            Column("assignee", whole=True, drop=2),
            Column("title"),
            Column("status", whole=True),
            Column("created (UTC)", whole=True, drop=1),
        ],
        [
            [
                str(t.id),
                t.kind,
                t.customer,
                ", ".join(t.invoices),
                _amounts(t.outstanding),
                f"{t.due_date}" if t.due_date else "",
                "" if t.days_overdue is None else str(t.days_overdue),
                t.step or "",
                t.assignee,
                t.title,
                t.status if t.status == "open" else f"{t.status} ({t.outcome})",
                f"{t.created_at:%Y-%m-%d %H:%M}",
            ]
            for t in tasks
        ],
    )
    if any(t.kind == "approval" and t.status == "open" for t in tasks):
        out.print("approve with `dunbot approve ID`, reject with `dunbot reject ID --reason TEXT`")


def print_call_task_changes(changes: Sequence[Any]) -> None:
    """What a promise or a dispute did to the open call tasks of its invoice."""
    for change in changes:
        step = f" ({change.step})" if change.step else ""
        if change.closed:
            out.print(f"call task {change.task}{step} closed", highlight=False)
        else:
            left = ", ".join(change.remaining)
            out.print(f"call task {change.task}{step} stays open for {escape(left)}", highlight=False)


def print_log(entries: Sequence[Any]) -> None:
    """The contact log as a table, oldest first."""
    print_fitted(
        f"{len(entries)} event(s)",
        [
            Column("seq", justify="right", whole=True),
            Column("at (UTC)", whole=True),
            Column("kind", whole=True),
            Column("actor", drop=1),
            Column("customer", whole=True, drop=3),
            Column("invoices", drop=2),
            Column("what"),
        ],
        [
            [
                str(e.seq),
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.kind,
                e.actor,
                e.customer or "",
                ", ".join(e.invoices),
                e.summary,
            ]
            for e in entries
        ],
        empty="no events",
    )


def print_notice_verification(report: Any) -> None:
    """`dunbot notice verify` for people: one row per fact, then every problem."""
    table = Table(title=f"Signed notice {report.file}", show_header=False)
    table.add_column("item")
    table.add_column("value")

    def yes_no(value: bool | None, yes: str = "yes", no: str = "NO") -> RenderableType:
        if value is None:
            return "not checked (pass --trust CERT)"
        return yes if value else Text(no, style="red")

    rows = [
        ("file SHA-256", report.sha256),
        ("signatures", str(report.signatures)),
        ("signer", report.signer or "-"),
        ("signer certificate subject", report.signer_subject or "-"),
        ("signer certificate SHA-256", report.signer_certificate_sha256 or "-"),
        ("signing time", report.signing_time.isoformat() if report.signing_time else "-"),
        (
            "timestamp",
            f"{report.timestamp.isoformat()} by {report.timestamp_authority}" if report.timestamp else "none",
        ),
        ("integrity (digest matches)", yes_no(report.intact)),
        ("signature value", yes_no(report.valid, "valid", "INVALID")),
        ("coverage", report.coverage if report.covers_whole_file else Text(report.coverage, style="red")),
        ("signer trusted", yes_no(report.trusted)),
    ]
    for item, value in rows:
        table.add_row(item, value)
    out.print(table)
    for problem in report.problems:
        err.print(f"[red]FAIL[/] {escape(problem)}", highlight=False)
    if report.ok:
        out.print("[green]ok[/]: the notice is signed, intact and covers the whole file")


def export_json(report: Any) -> dict[str, Any]:
    """`dunbot evidence export --json`."""
    return {
        "pack": str(report.path),
        "case": report.case.label,
        "events": report.events,
        "artifacts": report.artifacts,
        "bytes": report.size,
        "sha256": report.sha256,
        "export_event": report.export_seq,
        "checkpoint": {
            "id": report.checkpoint.id,
            "tree_size": report.checkpoint.tree_size,
            "root_hash": report.checkpoint.root_hash,
            "timestamped": report.checkpoint.timestamp is not None,
        },
    }


def print_export(report: Any) -> None:
    """What `dunbot evidence export` wrote, for a person."""
    checkpoint = report.checkpoint
    out.print(
        f"[green]exported[/] {report.case.label}: {report.events} event(s), {report.artifacts} artifact(s) "
        f"-> {report.path} ({report.size / 1024:,.0f} KB, SHA-256 {report.sha256})"
    )
    stamped = ", timestamped" if checkpoint.timestamp is not None else ""
    out.print(
        f"proven against checkpoint {checkpoint.id}: {checkpoint.tree_size} events, root "
        f"{checkpoint.root_hash}{stamped}; the export is event {report.export_seq}"
    )
    out.print(
        f"check it anywhere: dunbot evidence verify {report.path}  (or by hand: README.txt in the pack)"
    )


def pack_report_json(report: Any) -> dict[str, Any]:
    """`dunbot evidence verify PACK --json`."""
    document: dict[str, Any] = report.as_json()
    return document


def print_pack_report(report: Any) -> None:
    """Every check of a pack, failures first named."""
    table = Table(title=f"Evidence pack {report.path}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for item in report.items:
        table.add_row(item.item, "ok" if item.ok else FAIL, item.detail)
    out.print(table)
    if report.ok:
        out.print(
            f"[green]ok[/]: {report.events} event(s), {report.artifacts} artifact(s), "
            f"{report.pdfs} signed PDF(s); signed by {report.signer} "
            f"(certificate SHA-256 {report.signer_certificate_sha256})"
        )
    else:
        first = report.failures[0] if report.failures else None
        if first is not None:
            err.print(
                f"[red]FAILED[/] first failure: {escape(first.item)}: {escape(first.detail)}", highlight=False
            )


def database_report_json(report: Any) -> dict[str, Any]:
    """`dunbot evidence verify --db --json`."""
    latest = report.latest_checkpoint
    return {
        "ok": report.ok,
        "events_checked": report.log.events_checked,
        "artifacts_checked": report.log.artifacts_checked,
        "head_seq": report.log.head_seq,
        "head_chain_hash": report.log.head_chain_hash,
        "checkpoints_checked": report.checkpoints_checked,
        "latest_checkpoint": (
            {"id": latest.id, "tree_size": latest.tree_size, "root_hash": latest.root_hash}
            if latest
            else None
        ),
        "problems": [{"seq": p.seq, "item": p.item, "message": p.message} for p in report.all_problems],
    }


def print_database_report(report: Any) -> None:
    """`dunbot evidence verify --db` for a person: every problem, then a summary."""
    for problem in report.all_problems:
        where = f"event {problem.seq}" if problem.seq is not None else problem.item
        err.print(f"[red]FAIL[/] {escape(where)}: {escape(problem.message)}", highlight=False)
    if report.ok:
        latest = report.latest_checkpoint
        signed = (
            f"; {report.checkpoints_checked} checkpoint(s) signed and consistent, latest #{latest.id} "
            f"covers {latest.tree_size} with root {latest.root_hash}"
            if latest
            else "; no checkpoint yet (one is made after every cycle)"
        )
        out.print(
            f"[green]ok[/]: {report.log.events_checked} event(s), "
            f"{report.log.artifacts_checked} artifact(s), chain head #{report.log.head_seq} "
            f"{report.log.head_chain_hash or '-'}{signed}"
        )


def status_json(current: Any) -> dict[str, Any]:
    """`dunbot status --json`: the numbers /metrics serves."""

    def cycle(info: Any) -> dict[str, Any] | None:
        if info is None:
            return None
        return {
            "worker": info.worker,
            "as_of": info.as_of,
            "finished_at": info.finished_at.isoformat(),
            "duration_seconds": round(info.duration.total_seconds(), 3),
            "ok": info.ok,
            "error": info.error,
            "messages_sent": info.messages_sent,
        }

    checkpoint = current.checkpoint
    return {
        "now": current.now.isoformat(),
        "messages": [
            {"channel": channel, "state": state, "count": count}
            for (channel, state), count in sorted(current.messages.items())
        ],
        "outbox_depth": current.outbox_depth,
        "unknown": current.unknown,
        "open_tasks": dict(sorted(current.open_tasks.items())),
        "last_cycle": cycle(current.last_cycle),
        "last_successful_cycle": cycle(current.last_success),
        "failed_cycles_24h": current.failed_cycles_24h,
        "evidence_events": current.events,
        "checkpoint": (
            {
                "id": checkpoint.id,
                "tree_size": checkpoint.tree_size,
                "at": checkpoint.at.isoformat(),
                "age_seconds": round(current.checkpoint_age.total_seconds()),
            }
            if checkpoint
            else None
        ),
        "events_not_yet_checkpointed": current.events_unchecked,
    }


STATUS_STATES = (
    "planned",
    "claimed",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "unknown",
    "cancelled",
)


# The compact layout's headers for the longest states: ten columns then fit 80 columns.
_STATE_SHORT = {"delivered": "deliv.", "undelivered": "undeliv.", "cancelled": "cancel."}


def print_status(current: Any) -> None:
    """`dunbot status` for a person."""
    print_fitted(
        "Outbox",
        [
            Column("channel", whole=True),
            *(
                Column(state, justify="right", whole=True, short=_STATE_SHORT.get(state))
                for state in STATUS_STATES
            ),
        ],
        [
            [channel, *(str(current.messages.get((channel, state), 0)) for state in STATUS_STATES)]
            for channel in sorted({c for c, _ in current.messages})
        ],
        empty="outbox: empty",
    )
    out.print(f"outbox depth {current.outbox_depth}; unknown (each with a review task) {current.unknown}")
    tasks = ", ".join(f"{kind} {n}" for kind, n in sorted(current.open_tasks.items())) or "none"
    out.print(f"open tasks: {tasks}")
    last, success = current.last_cycle, current.last_success
    if last is None:
        out.print("[yellow]no cycle has run yet[/] (`dunbot cycle`, or `dunbot run` on its schedule)")
    else:
        verdict = "[green]ok[/]" if last.ok else f"[red]failed[/]: {escape(last.error or '')}"
        out.print(
            f"last cycle: {last.finished_at:%Y-%m-%d %H:%M:%S} UTC by {last.worker}, "
            f"{last.duration.total_seconds():.1f} s, {last.messages_sent} sent, {verdict}"
        )
        if success is not None and success is not last:
            out.print(f"last successful cycle: {success.finished_at:%Y-%m-%d %H:%M:%S} UTC")
    if current.failed_cycles_24h:
        out.print(f"[red]{current.failed_cycles_24h} cycle(s) failed in the last 24 hours[/]")
    checkpoint = current.checkpoint
    if checkpoint is None:
        out.print(f"evidence: {current.events} event(s), no signed checkpoint yet")
    else:
        age = current.checkpoint_age.total_seconds() / 3600
        # A checkpoint signed "in the future" (a demo's plan date, a clock set back) says when instead.
        signed = f"signed {age:.1f} h ago" if age >= 0 else f"signed at {checkpoint.at:%Y-%m-%d %H:%M} UTC"
        out.print(f"evidence: {current.events} event(s), {current.events_unchecked} not yet in a checkpoint")
        out.print(f"last checkpoint: {checkpoint.id}, covering {checkpoint.tree_size} event(s), {signed}")
