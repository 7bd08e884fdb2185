"""`dunbot note`: a collector's note on a customer, into the evidence log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from bot.cli.common import actor, clock, handled, settings_from_config
from bot.cli.views.tables import out
from bot.store.engine import make_engine

app = typer.Typer()


@app.command()
@handled
def note(
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER", help="The customer id")],
    text: Annotated[str, typer.Option("--text", metavar="TEXT", help="What the note records")],
    invoices: Annotated[
        list[str] | None,
        typer.Option("--invoice", metavar="INVOICE", help="An invoice the note is about (repeatable)"),
    ] = None,
) -> None:
    """Add a note to a customer's record (and to some of its invoices): an evidence event."""
    from bot.outreach.notes import add_note

    if not text.strip():
        raise typer.BadParameter("say what the note records", param_hint="--text")
    settings = settings_from_config()
    seq = add_note(
        make_engine(settings.database_url),
        customer,
        text,
        invoices=invoices or (),
        actor=actor(),
        now=clock(),
    )
    about = f" ({', '.join(invoices)})" if invoices else ""
    out.print(f"note added to {escape(customer)}{escape(about)}: evidence event {seq}", highlight=False)
