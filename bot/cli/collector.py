"""What collectors do and read: promises, disputes, pauses, opt-outs, approvals, finished tasks,
the contact log, the task list and one outbox message.

`app` holds the top-level commands; `dispute_app`, `task_app` and `message_app` are the groups
`dunbot dispute`, `dunbot task` and `dunbot message`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer
from rich.markup import escape

from bot.cli.common import (
    SWITCH,
    actor,
    clock,
    company_today,
    handled,
    me,
    parse_date,
    print_json,
    settings_from_config,
)
from bot.cli.views.collector import print_call_task_changes, print_log, print_tasks, tasks_json
from bot.cli.views.message import message_json, print_message
from bot.cli.views.tables import out
from bot.domain.money import parse_amount
from bot.store.engine import make_engine

app = typer.Typer()
dispute_app = typer.Typer(help="Open or close a dispute on an invoice.", no_args_is_help=True)
task_app = typer.Typer(help="Finish a collector task.", no_args_is_help=True)
message_app = typer.Typer(help="Outbox messages: what they said and why they wait.", no_args_is_help=True)


@app.command()
@handled
def promise(
    invoice: Annotated[str, typer.Argument(metavar="INVOICE", help="Invoice number")],
    on: Annotated[str, typer.Option("--date", metavar="DATE", help="Promised payment date YYYY-MM-DD")],
    amount: Annotated[str | None, typer.Option("--amount", metavar="AMOUNT", help="Promised amount")] = None,
) -> None:
    """Record a promise to pay: dunning pauses until the date passes; its call tasks are closed."""
    from bot.outreach.collector import record_promise

    promised_on = parse_date(on, "--date")
    value = None
    if amount is not None:
        try:
            value = parse_amount(amount)
        except ValueError:
            raise typer.BadParameter(f"{amount!r} is not an amount", param_hint="--amount") from None
    settings = settings_from_config()
    now = clock()
    changes = record_promise(
        make_engine(settings.database_url),
        invoice,
        promised_on,
        value,
        actor(),
        now,
        made_on=company_today(settings, now),
        tolerance=settings.compliance.tolerance,
    )
    out.print(f"promise recorded for {escape(invoice)}: {promised_on}" + (f", {value}" if value else ""))
    print_call_task_changes(changes)


@dispute_app.command("open")
@handled
def dispute_open(
    invoice: Annotated[str, typer.Argument(metavar="INVOICE", help="Invoice number")],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why the customer disputes it")],
) -> None:
    """Mark an invoice disputed: no dunning until the dispute is closed; its call tasks are closed."""
    from bot.outreach.collector import set_dispute

    settings = settings_from_config()
    changes = set_dispute(make_engine(settings.database_url), invoice, True, reason, actor(), clock())
    out.print(f"dispute opened on {escape(invoice)}")
    print_call_task_changes(changes)


@dispute_app.command("close")
@handled
def dispute_close(
    invoice: Annotated[str, typer.Argument(metavar="INVOICE", help="Invoice number")],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="How it was resolved")],
) -> None:
    """Close a dispute: the ladder resumes."""
    from bot.outreach.collector import set_dispute

    settings = settings_from_config()
    set_dispute(make_engine(settings.database_url), invoice, False, reason, actor(), clock())
    out.print(f"dispute closed on {escape(invoice)}")


@app.command()
@handled
def pause(
    until: Annotated[str, typer.Option("--until", metavar="DATE", help="Last day of the pause, YYYY-MM-DD")],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why; recorded in the evidence log")
    ],
    invoice: Annotated[
        str | None, typer.Argument(metavar="INVOICE", help="The invoice to pause (or --customer)")
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", metavar="ID", help="Pause every invoice of this customer")
    ] = None,
) -> None:
    """Pause dunning of an invoice, or of a whole customer, until a date (inclusive)."""
    from bot.outreach.collector import pause as record_pause

    if (invoice is None) == (customer is None):
        raise typer.BadParameter("name exactly one: an INVOICE, or --customer ID")
    last_day = parse_date(until, "--until")
    settings = settings_from_config()
    now = clock()
    result = record_pause(
        make_engine(settings.database_url),
        invoice=invoice,
        customer=customer,
        until=last_day,
        reason=reason,
        actor=actor(),
        now=now,
        today=company_today(settings, now),
    )
    what = f"invoice {result.target}" if result.scope == "invoice" else f"customer {result.target}"
    before = f" (was until {result.previous_until})" if result.previous_until else ""
    out.print(f"{escape(what)} paused until {result.until}{before}", highlight=False)


@app.command("opt-out")
@handled
def opt_out(
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER", help="The customer id")],
    channel: Annotated[
        str, typer.Option("--channel", metavar="email|sms|voice|letter", help="The channel to stop")
    ],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why; recorded in the evidence log")
    ],
) -> None:
    """Opt a customer out of a channel: nothing more is sent on it (the outbox refuses it)."""
    from bot.domain.ledger import AUTOMATED_CHANNELS, Channel
    from bot.outreach.collector import opt_out as record_opt_out

    names = sorted(c.value for c in AUTOMATED_CHANNELS)
    if channel not in names:
        raise typer.BadParameter(f"choose one of {', '.join(names)}", param_hint="--channel")
    settings = settings_from_config()
    done = record_opt_out(
        make_engine(settings.database_url), customer, Channel(channel), reason, actor(), clock()
    )
    if done:
        out.print(f"{escape(customer)} opted out of {channel}", highlight=False)
    else:
        out.print(f"{escape(customer)} is already opted out of {channel}; nothing written", highlight=False)


@app.command()
@handled
def approve(
    task: Annotated[int, typer.Argument(metavar="ID", help="The approval task's id (`dunbot tasks`)")],
) -> None:
    """Approve a step that waits for approval: its messages go out with the next cycle."""
    _decide(task, approve=True, reason="")


@app.command()
@handled
def reject(
    task: Annotated[int, typer.Argument(metavar="ID", help="The approval task's id (`dunbot tasks`)")],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why; recorded in the evidence log")
    ],
) -> None:
    """Reject a step that waits for approval: it is not sent, and the invoices are left to collectors."""
    _decide(task, approve=False, reason=reason)


def _decide(task: int, *, approve: bool, reason: str) -> None:
    from bot.outreach.approval import decide

    settings = settings_from_config()
    now = clock()
    result = decide(
        make_engine(settings.database_url),
        settings,
        task,
        approve=approve,
        reason=reason,
        actor=actor(),
        now=now,
        business_date=company_today(settings, now),
    )
    verb = "approved" if result.approved else "rejected"
    out.print(
        f"task {result.task}: {result.step} for {result.customer} ({', '.join(result.invoices)}) {verb}"
    )
    if result.approved:
        out.print(f"{len(result.messages)} message(s) queued; the next `dunbot cycle` sends them")
    elif result.manual_task is not None:
        out.print(
            f"the invoices are left to the collectors: task {result.manual_task} (`dunbot tasks`); "
            "`dunbot plan` shows them manual"
        )


@app.command()
@handled
def log(
    customer: Annotated[
        str | None, typer.Option("--customer", metavar="ID", help="One customer's contacts and facts")
    ] = None,
    invoice: Annotated[
        str | None, typer.Option("--invoice", metavar="INVOICE", help="One invoice's contacts and facts")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="The full canonical event bodies.")
    ] = False,
) -> None:
    """The contact log: every evidence event for a customer or invoice (default: the latest 200)."""
    from bot.outreach.contact_log import contact_log

    settings = settings_from_config()
    entries = contact_log(make_engine(settings.database_url), customer=customer, invoice=invoice)
    if as_json:
        print_json([entry.body for entry in entries])
    else:
        print_log(entries)


@app.command()
@handled
def tasks(
    mine: Annotated[
        bool,
        typer.Option(
            "--mine", metavar=SWITCH, help="Only tasks assigned to you: $DUNBOT_USER, else your login name"
        ),
    ] = False,
    include_done: Annotated[
        bool, typer.Option("--all", metavar=SWITCH, help="Include finished tasks.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", metavar=SWITCH, help="A JSON array of tasks.")] = False,
) -> None:
    """Collector work items: calls, reviews, approvals and legal hand-offs."""
    from bot.outreach.tasks import list_tasks

    settings = settings_from_config()
    assignee = me() if mine else None
    found = list_tasks(
        make_engine(settings.database_url),
        assignee=assignee,
        include_done=include_done,
        as_of=company_today(settings, clock()),
    )
    if as_json:
        print_json(tasks_json(found))
    else:
        print_tasks(found, mine=assignee, include_done=include_done)


@message_app.command("show")
@handled
def message_show(
    message: Annotated[int, typer.Argument(metavar="ID", help="The message id (`dunbot log` names it)")],
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
) -> None:
    """What a message said (as sent), its attachments, its history, and why it waits and until when."""
    from bot.outreach.message_detail import show_message

    settings = settings_from_config()
    detail = show_message(make_engine(settings.database_url), settings, message, clock())
    if as_json:
        print_json(message_json(detail))
    else:
        print_message(detail)


@task_app.command("done")
@handled
def task_done(
    task: Annotated[int, typer.Argument(metavar="ID", help="The task id (`dunbot tasks`)")],
    note: Annotated[
        str, typer.Option("--note", metavar="TEXT", help="What was done; recorded in the evidence log")
    ],
    outcome: Annotated[
        str | None,
        typer.Option(
            "--outcome",
            metavar="OUTCOME",
            help="For the review of an unknown message: delivered|not-delivered; for a call: "
            "reached|promised|no-answer|voicemail|wrong-number|refused",
        ),
    ] = None,
    tracking: Annotated[
        str | None,
        typer.Option("--tracking", metavar="NUMBER", help="For a posted letter: the registered-mail number"),
    ] = None,
    promise_date: Annotated[
        str | None,
        typer.Option(
            "--promise-date", metavar="DATE", help="A call --outcome promised: the date, YYYY-MM-DD"
        ),
    ] = None,
    promise_amount: Annotated[
        str | None, typer.Option("--amount", metavar="AMOUNT", help="A call's promise: the amount")
    ] = None,
    promise_invoice: Annotated[
        str | None,
        typer.Option(
            "--invoice", metavar="INVOICE", help="A call's promise: the invoice (default: the call's)"
        ),
    ] = None,
) -> None:
    """Finish a task with a note (for an unknown message, say whether it arrived; for a call, what it
    came to, with the promise when there was one)."""
    from bot.evidence.artifacts import ArtifactStore
    from bot.outreach.collector import PromiseTerms, log_call
    from bot.outreach.tasks import CALL_OUTCOMES, finish_task, list_task

    if not note.strip():
        raise typer.BadParameter("say what was done", param_hint="--note")
    settings = settings_from_config()
    engine = make_engine(settings.database_url)
    now = clock()
    if outcome in CALL_OUTCOMES:
        promise = None
        if promise_date is not None:
            number = promise_invoice or _single_invoice(list_task(engine, task).invoices)
            promise = PromiseTerms(
                number, parse_date(promise_date, "--promise-date"), _amount(promise_amount)
            )
        elif promise_amount is not None or promise_invoice is not None:
            raise typer.BadParameter("a promise needs its date", param_hint="--promise-date")
        changes = log_call(
            engine,
            task,
            outcome,
            note,
            actor(),
            now,
            promise=promise,
            made_on=company_today(settings, now),
            tolerance=settings.compliance.tolerance,
        )
        done = list_task(engine, task)
        out.print(f"task {done.id} ({done.kind}: {escape(done.title)}) done: {outcome}", highlight=False)
        print_call_task_changes(changes[1:])
        return
    if promise_date is not None or promise_amount is not None or promise_invoice is not None:
        raise typer.BadParameter(
            "a promise is logged with a call's --outcome promised", param_hint="--outcome"
        )
    store = ArtifactStore(settings.path(settings.evidence.artifact_dir))
    done = finish_task(engine, task, note, actor(), now, outcome=outcome, tracking=tracking, artifacts=store)
    out.print(f"task {done.id} ({done.kind}: {escape(done.title)}) done", highlight=False)


def _single_invoice(invoices: tuple[str, ...]) -> str:
    if len(invoices) != 1:
        raise typer.BadParameter(
            f"the call is about {len(invoices)} invoices ({', '.join(invoices)}): name one",
            param_hint="--invoice",
        )
    return invoices[0]


def _amount(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return parse_amount(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an amount", param_hint="--amount") from None
