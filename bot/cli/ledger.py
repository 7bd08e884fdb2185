"""Bringing the ledger in: `dunbot import ENTITY FILE` (a CSV file) and `dunbot sync` (the
[source] database), each reported row by row."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from bot.cli.common import (
    SWITCH,
    clock,
    company_today,
    config_file,
    err,
    handled,
    print_json,
    settings_from_config,
)
from bot.cli.cycles import refresh_dashboard_after
from bot.cli.views.tables import out
from bot.config import Settings
from bot.errors import ConfigError
from bot.store.engine import make_engine

app = typer.Typer()

ENTITIES = ("customers", "invoices", "payments", "contracts")


@app.command("import")
@handled
def import_(
    entity: Annotated[
        str, typer.Argument(metavar="ENTITY", help="customers, invoices, payments or contracts")
    ],
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="CSV file; its first line is the header (README: CSV files)"),
    ],
    encoding: Annotated[
        str, typer.Option("--encoding", metavar="ENCODING", help="e.g. gb18030; default UTF-8")
    ] = "utf-8-sig",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", metavar=SWITCH, help="Validate and count; write nothing.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", metavar=SWITCH, help="What was imported, warnings and kept statuses as JSON."),
    ] = False,
) -> None:
    """Import a CSV file: one transaction, every bad row reported, nothing written on error."""
    from bot.ingest.service import import_file

    if entity not in ENTITIES:
        raise typer.BadParameter(f"choose one of {', '.join(ENTITIES)}", param_hint="ENTITY")
    if encoding.lower() in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # a BOM is accepted either way
    settings = settings_from_config()
    engine = make_engine(settings.database_url)
    with err.status(f"importing {file} ..."):
        report = import_file(
            engine,
            entity,
            file,
            encoding=encoding,
            dry_run=dry_run,
            defaults=import_defaults(settings),
            now=clock(),
        )
    if not dry_run:
        refresh_dashboard_after(engine, settings, company_today(settings, clock()))
    if as_json:
        print_json(report.as_json(dry_run))
    else:
        print_import(report, dry_run)


def import_defaults(settings: Settings) -> Any:
    from bot.ingest.service import ImportDefaults

    return ImportDefaults(
        country=settings.company.country,
        timezone=settings.company.timezone,
        language=settings.company.language.value,
    )


def print_import(report: Any, dry_run: bool) -> None:
    verb = "would import" if dry_run else "imported"
    out.print(
        f"{report.source}: {verb} {report.rows} {report.entity} row(s): "
        f"{report.inserted} new, {report.updated} updated, {report.unchanged} unchanged"
    )
    for warning in getattr(report, "warnings", []) or []:
        err.print(f"[yellow]warning:[/] {escape(str(warning))}", highlight=False)
    if report.conflicts:
        # Not an error: what people recorded in dunbot stands until the source itself changes.
        out.print(
            f"{len(report.conflicts)} status(es) recorded in dunbot kept against an unchanged source:",
            highlight=False,
        )
        for conflict in report.conflicts:
            out.print(f"  {escape(conflict.message)}", highlight=False, soft_wrap=True)


@app.command()
@handled
def sync(
    as_json: Annotated[
        bool, typer.Option("--json", help="What was imported, warnings and kept statuses as JSON.")
    ] = False,
) -> None:
    """Pull customers, contracts, invoices and payments from the \\[source] database."""
    from bot.ingest.source import sync_source

    settings = settings_from_config()
    if not settings.source.url:
        raise ConfigError(f"{config_file()}:source.url: set it to sync (an SQLAlchemy URL)")
    engine = make_engine(settings.database_url)
    reports = sync_source(
        engine, settings.source.url, settings.source.queries(), import_defaults(settings), clock()
    )
    refresh_dashboard_after(engine, settings, company_today(settings, clock()))
    if as_json:
        print_json([report.as_json() for report in reports])
        return
    for report in reports:
        print_import(report, False)
