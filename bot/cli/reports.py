"""Receivables reports: `dunbot report aging`, `dunbot report kpi` and `dunbot report dashboard`
(the console dashboard's stored numbers)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import SWITCH, clock, company_today, handled, parse_date, print_json, settings_from_config
from bot.cli.views.reports import print_aging, print_kpi
from bot.errors import InputError
from bot.store.engine import make_engine

app = typer.Typer(help="Receivables reports.", no_args_is_help=True)


@app.command("aging")
@handled
def report_aging(
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help="Report date YYYY-MM-DD")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
) -> None:
    """Outstanding by age bucket (current, 1-30, 31-60, 61-90, 90+) per customer, tier and currency."""
    from bot.reporting.receivables import aging_report

    settings = settings_from_config()
    day = parse_date(as_of, "--as-of") if as_of else company_today(settings, clock())
    report = aging_report(make_engine(settings.database_url), settings, day)
    if as_json:
        print_json(report.as_json())
        return
    print_aging(report)


@app.command("kpi")
@handled
def report_kpi(
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help="End of the period YYYY-MM-DD")
    ] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, metavar="DAYS", help="Length of the period in days")
    ] = 90,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
) -> None:
    """Overdue rate, DSO and CEI per tier over a period ending on --as-of."""
    from bot.reporting.receivables import kpi_report

    settings = settings_from_config()
    day = parse_date(as_of, "--as-of") if as_of else company_today(settings, clock())
    report = kpi_report(make_engine(settings.database_url), settings, day, days)
    if as_json:
        print_json(report.as_json())
        return
    print_kpi(report, days)


@app.command("dashboard")
@handled
def report_dashboard(
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help="Business date YYYY-MM-DD (default today)")
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            metavar=SWITCH,
            help="Compute the dashboard now and store it for the console (as a cycle or import does).",
        ),
    ] = False,
) -> None:
    """The console dashboard's numbers as JSON: the newest stored on or before --as-of (--refresh:
    computed now and stored). Exit 1 when none is stored yet."""
    from bot.reporting.dashboard import latest_snapshot, refresh_dashboard, to_json

    settings = settings_from_config()
    day = parse_date(as_of, "--as-of") if as_of else company_today(settings, clock())
    engine = make_engine(settings.database_url)
    if refresh:
        board = refresh_dashboard(engine, settings, day, clock())
    else:
        stored = latest_snapshot(engine, day)
        if stored is None:
            raise InputError(
                f"no dashboard stored on or before {day}: it is stored after each cycle, import or "
                "sync; `dunbot report dashboard --refresh` computes it now"
            )
        board = stored.board
    typer.echo(to_json(board))
