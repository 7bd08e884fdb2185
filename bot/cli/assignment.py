"""`dunbot reassign CUSTOMER --to NAME --reason TEXT`: a manager gives a customer to another
collector (``--to ""`` hands it back to the ledger's account manager)."""

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
def reassign(
    customer: Annotated[str, typer.Argument(metavar="CUSTOMER", help="The customer id")],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="NAME",
            help='The console user (a collector or manager) who works it from now on; "" gives it back '
            "to the ledger's account manager",
        ),
    ],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why; recorded in the evidence log")
    ],
) -> None:
    """Give a customer to another collector: its open tasks and later ones go to them."""
    from bot.outreach.assignment import reassign_customer

    settings = settings_from_config()
    engine = make_engine(settings.database_url)
    try:
        done = reassign_customer(engine, customer, to, actor=actor(), now=clock(), reason=reason)
    finally:
        engine.dispose()
    who = done.works or "the collectors"
    out.print(
        f"customer {escape(done.customer)} is worked by {escape(who)} now"
        f" (was {escape(done.previous or 'the collectors')}); {len(done.tasks)} open task(s) moved",
        highlight=False,
    )
