"""`dunbot demo`: parse its options and play the demo (``bot.cli.demo_run``, imported only when the
demo runs: it loads the calendar, the ledger generator and every service)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import clock, handled, parse_date
from bot.cli.views.tables import out

app = typer.Typer()


@app.command()
@handled
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", metavar="PATH", help="Where the demo writes everything")
    ] = Path("demo"),
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help="Demo date (default: next business day)")
    ] = None,
) -> None:
    """Run dunbot end to end on a generated sample ledger (SQLite, local files)."""
    from bot.cli.demo_run import run_demo

    run_demo(directory, parse_date(as_of, "--as-of") if as_of else None, clock(), out)
