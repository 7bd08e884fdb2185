"""The day's work: `dunbot plan` (what the ladder decides), `dunbot cycle` (one pass: plan, record,
send), `dunbot run` (the daemon that runs a cycle on every tick) and `dunbot status` (how the
outbox and the cycles are doing)."""

from __future__ import annotations

import os
import signal
import sys
from datetime import date, datetime
from typing import Annotated, Any

import typer
from sqlalchemy.engine import Engine

from bot.cli.common import (
    SWITCH,
    clock,
    company_today,
    config_file,
    err,
    handled,
    parse_date,
    print_json,
    settings_from_config,
)
from bot.cli.views.cycle import cycle_json, dry_run_json, print_cycle, print_dry_run, sending_progress
from bot.cli.views.plan import print_plan
from bot.cli.views.status import print_status, status_json
from bot.config import Settings
from bot.store.engine import make_engine

app = typer.Typer()

PLAN_TABLE_ROWS = 2000  # a table longer than this is for `--json`, not for reading


@app.command()
@handled
def plan(
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help="Plan date YYYY-MM-DD (default today)")
    ] = None,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all", metavar=SWITCH, help="Also show superseded decisions (earlier steps that are skipped)."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="A JSON array of every decision.")
    ] = False,
) -> None:
    """Show what the ladder decides for a day. Writes nothing."""
    from bot.outreach.planning import preview_plan, write_plan_json

    settings = settings_from_config()
    day = parse_date(as_of, "--as-of") if as_of else company_today(settings, clock())
    engine = make_engine(settings.database_url)
    if as_json:  # a contract: every decision, superseded ones too, whatever --all says
        write_plan_json(engine, settings, day, sys.stdout)
        return
    with err.status(f"planning {day} ..."):
        preview = preview_plan(engine, settings, day, keep=PLAN_TABLE_ROWS, count_superseded=show_all)
    print_plan(preview, limit=PLAN_TABLE_ROWS, show_superseded=show_all)


@app.command()
@handled
def cycle(
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="DATE", help="Business date YYYY-MM-DD (default today)")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", metavar=SWITCH, help="Render everything the day would send; write and send nothing."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", metavar=SWITCH, help="A JSON summary.")] = False,
) -> None:
    """Plan the day, record it, and send every message that is due (one pass of the daemon)."""
    import asyncio
    import logging

    from bot.logs import configure_logging
    from bot.outreach.cycle import dry_run_cycle, log_report, queued_messages, run_cycle
    from bot.outreach.instance import instance_guard
    from bot.outreach.preflight import require_ready, require_sendable_date

    settings = settings_from_config()
    configure_logging(settings)
    today = company_today(settings, clock())
    day = parse_date(as_of, "--as-of") if as_of else today
    if not dry_run:
        # Before anything is opened or written: a cycle that cannot finish must not start.
        require_sendable_date(day, today)
        require_ready(settings, str(config_file()))
    engine = make_engine(settings.database_url)
    if dry_run:
        messages, statuses = dry_run_cycle(engine, settings, day)
        queued = queued_messages(engine, day, clock())
        if as_json:
            print_json(dry_run_json(day, messages, statuses, queued))
        else:
            print_dry_run(day, messages, statuses, queued)
        if any(m.blocked for m in messages):
            raise typer.Exit(1)
        return

    async def cycle_until_done_or_signalled(exclusive: bool, progress: Any) -> Any:
        # SIGTERM/SIGINT: stop claiming, let the messages in flight finish and be recorded, give the
        # rest back, exit 0. Nothing is left `sending`, so nothing turns `unknown` needlessly.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        return await run_cycle(
            engine, settings, day, clock=clock, exclusive=exclusive, progress=progress, stop=stop
        )

    with instance_guard(engine) as exclusive, sending_progress(err, enabled=not as_json) as progress:
        report = asyncio.run(cycle_until_done_or_signalled(exclusive, progress))
    log_report(logging.getLogger("bot.cycle"), report)
    refresh_dashboard_after(engine, settings, day)
    if as_json:
        print_json(cycle_json(report))
    else:
        print_cycle(report)


def refresh_dashboard_after(engine: Engine, settings: Settings, as_of: date) -> None:
    """Store the console's dashboard as of ``as_of`` after a cycle, an import or a sync: the page
    reads it instead of computing it (half a minute on 100,000 customers)."""
    from bot.reporting.dashboard import refresh_dashboard

    with err.status("computing the console's dashboard ..."):
        refresh_dashboard(engine, settings, as_of, clock())


@app.command()
@handled
def run() -> None:
    """The daemon: a cycle on every tick of \\[schedule] cron, Twilio callbacks on \\[web] listen."""
    import asyncio
    import logging

    from bot.logs import configure_logging
    from bot.outreach.instance import instance_guard
    from bot.scheduler import run_daemon

    settings = settings_from_config()
    configure_logging(settings)
    daemon_log = logging.getLogger("bot.daemon")
    engine = make_engine(settings.database_url)
    from bot.store.engine import require_schema

    require_schema(engine)

    def started(ticks: list[datetime]) -> None:
        when = ", ".join(t.isoformat(timespec="minutes") for t in ticks)
        # Through the log, so that with [logging] format = "json" every line of stderr is JSON.
        daemon_log.info(
            "dunbot running (pid %s); next cycles: %s; web on %s",
            os.getpid(),
            when,
            settings.web.listen,
            extra={"pid": os.getpid(), "listen": settings.web.listen},
        )

    with instance_guard(engine) as exclusive:
        asyncio.run(
            run_daemon(
                engine,
                settings,
                exclusive=exclusive,
                clock=clock,
                on_start=started,
                config_file=str(config_file()),
            )
        )
    daemon_log.info("dunbot stopped")


@app.command()
@handled
def status(
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
) -> None:
    """What /metrics says, for a person: the outbox, the last cycles, the evidence checkpoints."""
    from bot.reporting.operations import snapshot
    from bot.store.engine import require_schema

    settings = settings_from_config()
    engine = make_engine(settings.database_url)
    require_schema(engine)
    current = snapshot(engine, clock())
    if as_json:
        print_json(status_json(current))
    else:
        print_status(current)
