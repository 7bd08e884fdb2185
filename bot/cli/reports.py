"""Receivables reports: `dunbot report aging` and `dunbot report kpi`."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import SWITCH, clock, company_today, handled, parse_date, print_json, settings_from_config
from bot.cli.views.reports import print_aging, print_kpi
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
