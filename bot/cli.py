"""The `dunbot` command line: parse, call one service, print (Rich for people, --json for machines).

Exit codes: 0 ok, 1 bad input or a failed check, 2 usage or configuration error.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape

from bot.config import EXAMPLE_CONFIG, Settings, config_path
from bot.config_checks import inspect_settings, load_settings
from bot.domain.money import parse_amount
from bot.errors import ConfigError, DunbotError, ImportValidationError
from bot.store.engine import make_engine
from bot.views import out, print_aging, print_kpi, print_plan

# Help text is Rich markup: a config section in a docstring is written "\\[source]" so that it shows.
app = typer.Typer(
    name="dunbot",
    help="Automated dunning with tiers, a collection ladder and a tamper-evident evidence log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
report_app = typer.Typer(help="Receivables reports.", no_args_is_help=True)
evidence_app = typer.Typer(help="The evidence log.", no_args_is_help=True)
dispute_app = typer.Typer(help="Open or close a dispute on an invoice.", no_args_is_help=True)
notice_app = typer.Typer(help="Signed PDF notices.", no_args_is_help=True)
app.add_typer(notice_app, name="notice")
app.add_typer(report_app, name="report")
app.add_typer(evidence_app, name="evidence")
app.add_typer(dispute_app, name="dispute")
task_app = typer.Typer(help="Finish a collector task.", no_args_is_help=True)
app.add_typer(task_app, name="task")
message_app = typer.Typer(help="Outbox messages: what they said and why they wait.", no_args_is_help=True)
app.add_typer(message_app, name="message")

err = Console(stderr=True)


def say_verbatim(text: str, style: str | None = None) -> None:
    """One line on stderr exactly as written: no markup, emoji codes or highlighting, and never
    folded by Rich, so a long path stays whole for copying and for grep."""
    err.print(text, style=style, markup=False, emoji=False, highlight=False, soft_wrap=True)


def say_error(message: str) -> None:
    """``error: message`` on stderr, the message as written."""
    err.print(f"[red]error:[/] {escape(message)}", emoji=False, highlight=False, soft_wrap=True)


# The metavar of an option that takes no value: Typer would show "<bool>", as if it wanted one.
SWITCH = ""

P = ParamSpec("P")
R = TypeVar("R")

ENTITIES = ("customers", "invoices", "payments", "contracts")
PLAN_TABLE_ROWS = 2000  # a table longer than this is for `--json`, not for reading


class State:
    """Options shared by every command."""

    config: str | None = None


state = State()


def handled(func: Callable[P, R]) -> Callable[P, R]:
    """Turn dunbot's own errors into a clear message and the right exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ImportValidationError, ConfigError) as exc:
            for problem in exc.problems:
                say_verbatim(problem)
            say_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except DunbotError as exc:
            say_error(str(exc))
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def _settings() -> Settings:
    return load_settings(config_path(state.config))


def _now() -> datetime:
    # The one place the command line reads the clock; everything below gets it passed in.
    return datetime.now(UTC)


def _today(settings: Settings, now: datetime) -> date:
    return now.astimezone(ZoneInfo(settings.company.timezone)).date()


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD", param_hint=option) from None


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")


@app.callback()
def _options(
    config: Annotated[
        str | None,
        typer.Option(
            "--config", metavar="PATH", help="Config file (default: $DUNBOT_CONFIG or ./dunbot.toml)."
        ),
    ] = None,
) -> None:
    state.config = config


@app.command()
@handled
def init(
    self_signed: Annotated[
        bool,
        typer.Option(
            "--self-signed",
            metavar=SWITCH,
            help="Create a self-signed TRIAL signing certificate (not for production) and use it.",
        ),
    ] = False,
) -> None:
    """Write dunbot.toml from the example if absent, and create or migrate the database.

    A new config gets a self-signed trial certificate so that signed notices work at once; an
    existing one gets it only with --self-signed (and never replaces a configured certificate).
    """
    from bot.store.migrate import upgrade

    path = config_path(state.config)
    fresh = not path.exists()
    if fresh:
        if not EXAMPLE_CONFIG.exists():
            raise ConfigError(f"cannot find {EXAMPLE_CONFIG} to copy; pass --config with your own file")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(EXAMPLE_CONFIG, path)
        out.print(f"wrote {path} from the example; edit it, then run `dunbot check-config`")
    settings = load_settings(path)
    if fresh or self_signed:
        from bot.render.certificate import trial_certificate_for

        trial = trial_certificate_for(path, settings, _now(), fresh=fresh)
        out.print(
            f"[yellow]self-signed TRIAL signing certificate[/] {trial.pkcs12} "
            "(not for production: README, 'Signing with your real certificate')"
        )
        settings = load_settings(path)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    settings.path(settings.evidence.artifact_dir).mkdir(parents=True, exist_ok=True)
    out.print(f"database ready: {engine.url.render_as_string(hide_password=True)}")


@app.command("check-config")
@handled
def check_config(
    connect: Annotated[
        bool,
        typer.Option(
            "--connect",
            metavar=SWITCH,
            help="Also try the database, the SMTP login, Twilio and the timestamp authority.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", metavar=SWITCH, help="Fail (exit 1) on any warning too, e.g. before going live."
        ),
    ] = False,
) -> None:
    """Validate the config and report every problem, each naming its file and key.

    Warnings do not fail the check unless --strict: the example's placeholder company data (name,
    address, bank account ...), a TRIAL or self-signed certificate, one that expires within 30 days.
    """
    path = config_path(state.config)
    problems, warnings = inspect_settings(path)
    if problems:
        for problem in problems:
            say_verbatim(problem)
        for warning in warnings:
            say_verbatim(f"warning: {warning}", style="yellow")
        err.print(f"[red]{len(problems)} problem(s)[/] in {escape(str(path))}", emoji=False, soft_wrap=True)
        raise typer.Exit(2)
    checks = []
    if connect:
        from bot.connectivity import check_connections

        with err.status("trying every connection ..."):
            checks = check_connections(_settings())
    failed_strictly = strict and bool(warnings)
    if as_json:
        _print_json(
            {
                "config": str(path),
                "ok": all(c.ok for c in checks) and not failed_strictly,
                "warnings": warnings,
                "connections": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
            }
        )
    else:
        if not failed_strictly:
            out.print(f"{escape(str(path))}: ok", highlight=False)
        for warning in warnings:
            say_verbatim(f"warning: {warning}", style="yellow")
        for check in checks:
            mark = "[green]ok[/]" if check.ok else "[red]FAILED[/]"
            out.print(f"{check.name:<20} {mark}  {escape(check.detail)}", highlight=False)
        if failed_strictly:
            say_verbatim(f"{len(warnings)} warning(s) in {path}; --strict makes them fail", style="red")
    if failed_strictly or not all(c.ok for c in checks):
        raise typer.Exit(1)


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
    settings = _settings()
    engine = make_engine(settings.database_url)
    with err.status(f"importing {file} ..."):
        report = import_file(
            engine,
            entity,
            file,
            encoding=encoding,
            dry_run=dry_run,
            defaults=_import_defaults(settings),
            now=_now(),
        )
    if as_json:
        _print_json(report.as_json(dry_run))
    else:
        _print_import(report, dry_run)


def _import_defaults(settings: Settings) -> Any:
    from bot.ingest.service import ImportDefaults

    return ImportDefaults(
        country=settings.company.country,
        timezone=settings.company.timezone,
        language=settings.company.language.value,
    )


def _print_import(report: Any, dry_run: bool) -> None:
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

    settings = _settings()
    if not settings.source.url:
        raise ConfigError(f"{config_path(state.config)}:source.url: set it to sync (an SQLAlchemy URL)")
    engine = make_engine(settings.database_url)
    reports = sync_source(
        engine, settings.source.url, settings.source.queries(), _import_defaults(settings), _now()
    )
    if as_json:
        _print_json([report.as_json() for report in reports])
        return
    for report in reports:
        _print_import(report, False)


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

    settings = _settings()
    day = _parse_date(as_of, "--as-of") if as_of else _today(settings, _now())
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
    from bot.views import cycle_json, dry_run_json, print_cycle, print_dry_run, sending_progress

    settings = _settings()
    configure_logging(settings)
    today = _today(settings, _now())
    day = _parse_date(as_of, "--as-of") if as_of else today
    if not dry_run:
        # Before anything is opened or written: a cycle that cannot finish must not start.
        require_sendable_date(day, today)
        require_ready(settings, str(config_path(state.config)))
    engine = make_engine(settings.database_url)
    if dry_run:
        messages, statuses = dry_run_cycle(engine, settings, day)
        queued = queued_messages(engine, day, _now())
        if as_json:
            _print_json(dry_run_json(day, messages, statuses, queued))
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
            engine, settings, day, clock=_now, exclusive=exclusive, progress=progress, stop=stop
        )

    with instance_guard(engine) as exclusive, sending_progress(err, enabled=not as_json) as progress:
        report = asyncio.run(cycle_until_done_or_signalled(exclusive, progress))
    log_report(logging.getLogger("bot.cycle"), report)
    if as_json:
        _print_json(cycle_json(report))
    else:
        print_cycle(report)


@app.command()
@handled
def run() -> None:
    """The daemon: a cycle on every tick of \\[schedule] cron, Twilio callbacks on \\[web] listen."""
    import asyncio
    import logging

    from bot.logs import configure_logging
    from bot.outreach.instance import instance_guard
    from bot.scheduler import run_daemon

    settings = _settings()
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
                clock=_now,
                on_start=started,
                config_file=str(config_path(state.config)),
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
    from bot.monitoring import snapshot
    from bot.store.engine import require_schema
    from bot.views import print_status, status_json

    settings = _settings()
    engine = make_engine(settings.database_url)
    require_schema(engine)
    current = snapshot(engine, _now())
    if as_json:
        _print_json(status_json(current))
    else:
        print_status(current)


@report_app.command("aging")
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
    from bot.reporting import aging_report

    settings = _settings()
    day = _parse_date(as_of, "--as-of") if as_of else _today(settings, _now())
    report = aging_report(make_engine(settings.database_url), settings, day)
    if as_json:
        _print_json(report.as_json())
        return
    print_aging(report)


@report_app.command("kpi")
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
    from bot.reporting import kpi_report

    settings = _settings()
    day = _parse_date(as_of, "--as-of") if as_of else _today(settings, _now())
    report = kpi_report(make_engine(settings.database_url), settings, day, days)
    if as_json:
        _print_json(report.as_json())
        return
    print_kpi(report, days)


@evidence_app.command("export")
@handled
def evidence_export(
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="The pack to write (.zip); never overwritten")
    ],
    customer: Annotated[
        str | None, typer.Option("--customer", metavar="ID", help="Every event of one customer")
    ] = None,
    invoice: Annotated[
        str | None, typer.Option("--invoice", metavar="INVOICE", help="Every event naming one invoice")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
) -> None:
    """Export an evidence pack that proves a case offline: events, proofs, signed checkpoint, artifacts."""
    from bot.evidence.pack import export_pack
    from bot.views import export_json, print_export

    if (customer is None) == (invoice is None):
        raise typer.BadParameter("name exactly one case: --customer ID or --invoice NUMBER")
    settings = _settings()
    with err.status("exporting the evidence pack ..."):
        report = export_pack(
            make_engine(settings.database_url),
            settings,
            customer=customer,
            invoice=invoice,
            out=out,
            actor=_actor(),
            now=_now(),
        )
    if as_json:
        _print_json(export_json(report))
    else:
        print_export(report)


@evidence_app.command("verify")
@handled
def evidence_verify(
    pack: Annotated[Path | None, typer.Argument(metavar="PACK", help="An evidence pack (.zip)")] = None,
    db: Annotated[
        bool, typer.Option("--db", metavar=SWITCH, help="Verify the whole database instead of a pack.")
    ] = False,
    prior: Annotated[
        Path | None,
        typer.Option("--prior", metavar="PACK", help="An earlier pack whose log this one must extend."),
    ] = None,
    trust: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust", metavar="CERT", help="Certificate (PEM/DER) the signer must chain to; repeatable."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
) -> None:
    """Verify an evidence pack offline, or (--db) the whole database: hashes, chain, proofs, signatures."""
    from bot.render.verification import load_trust_anchors
    from bot.views import database_report_json, pack_report_json, print_database_report, print_pack_report

    if (pack is None) == (not db):
        raise typer.BadParameter("give a pack file, or --db to check the database", param_hint="pack")
    if pack is not None:
        from bot.evidence.pack_verify import verify_pack

        if not pack.is_file():
            raise typer.BadParameter(f"{pack} does not exist", param_hint="pack")
        if prior is not None and not prior.is_file():
            raise typer.BadParameter(f"{prior} does not exist", param_hint="--prior")
        with err.status(f"verifying {pack} ..."):
            pack_report = verify_pack(pack, load_trust_anchors(trust or []), prior)
        if as_json:
            _print_json(pack_report_json(pack_report))
        else:
            print_pack_report(pack_report)
        if not pack_report.ok:
            raise typer.Exit(1)
        return
    from bot.evidence.service import verify_database

    settings = _settings()
    with err.status("verifying the evidence log ..."):
        report = verify_database(
            make_engine(settings.database_url), settings.path(settings.evidence.artifact_dir)
        )
    if as_json:
        _print_json(database_report_json(report))
    else:
        print_database_report(report)
    if not report.ok:
        raise typer.Exit(1)


@notice_app.command("verify")
@handled
def notice_verify(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A signed notice (PDF)")],
    trust: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust", metavar="CERT", help="Certificate (PEM/DER) the signer must chain to; repeatable."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
) -> None:
    """Check a signed notice: signer, signing time, timestamp, integrity and coverage. Offline."""
    from bot.render.verification import load_trust_anchors, verify_notice_file
    from bot.views import print_notice_verification

    if not file.exists():
        raise typer.BadParameter(f"{file} does not exist", param_hint="file")
    report = verify_notice_file(file, load_trust_anchors(trust or []))
    if as_json:
        _print_json(report.as_json())
    else:
        print_notice_verification(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@handled
def promise(
    invoice: Annotated[str, typer.Argument(metavar="INVOICE", help="Invoice number")],
    on: Annotated[str, typer.Option("--date", metavar="DATE", help="Promised payment date YYYY-MM-DD")],
    amount: Annotated[str | None, typer.Option("--amount", metavar="AMOUNT", help="Promised amount")] = None,
) -> None:
    """Record a promise to pay: dunning pauses until the date passes; its call tasks are closed."""
    from bot.outreach.collector import record_promise
    from bot.views import print_call_task_changes

    promised_on = _parse_date(on, "--date")
    value = None
    if amount is not None:
        try:
            value = parse_amount(amount)
        except ValueError:
            raise typer.BadParameter(f"{amount!r} is not an amount", param_hint="--amount") from None
    settings = _settings()
    now = _now()
    changes = record_promise(
        make_engine(settings.database_url),
        invoice,
        promised_on,
        value,
        _actor(),
        now,
        made_on=_today(settings, now),
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
    from bot.views import print_call_task_changes

    settings = _settings()
    changes = set_dispute(make_engine(settings.database_url), invoice, True, reason, _actor(), _now())
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

    settings = _settings()
    set_dispute(make_engine(settings.database_url), invoice, False, reason, _actor(), _now())
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
    last_day = _parse_date(until, "--until")
    settings = _settings()
    now = _now()
    result = record_pause(
        make_engine(settings.database_url),
        invoice=invoice,
        customer=customer,
        until=last_day,
        reason=reason,
        actor=_actor(),
        now=now,
        today=_today(settings, now),
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
    settings = _settings()
    done = record_opt_out(
        make_engine(settings.database_url), customer, Channel(channel), reason, _actor(), _now()
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

    settings = _settings()
    now = _now()
    result = decide(
        make_engine(settings.database_url),
        settings,
        task,
        approve=approve,
        reason=reason,
        actor=_actor(),
        now=now,
        business_date=_today(settings, now),
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
    from bot.views import print_log

    settings = _settings()
    entries = contact_log(make_engine(settings.database_url), customer=customer, invoice=invoice)
    if as_json:
        _print_json([entry.body for entry in entries])
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
    from bot.views import print_tasks, tasks_json

    settings = _settings()
    assignee = _me() if mine else None
    found = list_tasks(
        make_engine(settings.database_url),
        assignee=assignee,
        include_done=include_done,
        as_of=_today(settings, _now()),
    )
    if as_json:
        _print_json(tasks_json(found))
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
    from bot.message_view import message_json, print_message
    from bot.outreach.message_detail import show_message

    settings = _settings()
    detail = show_message(make_engine(settings.database_url), settings, message, _now())
    if as_json:
        _print_json(message_json(detail))
    else:
        print_message(detail)


def _me() -> str:
    import getpass

    return os.environ.get("DUNBOT_USER") or getpass.getuser()


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
            metavar="delivered|not-delivered",
            help="For the review of an unknown message: delivered or not-delivered",
        ),
    ] = None,
    tracking: Annotated[
        str | None,
        typer.Option("--tracking", metavar="NUMBER", help="For a posted letter: the registered-mail number"),
    ] = None,
) -> None:
    """Finish a task with a note (and, for an unknown message, say whether it arrived)."""
    from bot.outreach.tasks import finish_task

    if not note.strip():
        raise typer.BadParameter("say what was done", param_hint="--note")
    settings = _settings()
    done = finish_task(
        make_engine(settings.database_url), task, note, _actor(), _now(), outcome=outcome, tracking=tracking
    )
    out.print(f"task {done.id} ({done.kind}: {escape(done.title)}) done", highlight=False)


def _actor() -> str:
    import getpass

    try:
        return f"user:{getpass.getuser()}"
    except OSError:
        return "user:unknown"


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
    from bot.demo import run_demo

    run_demo(directory, _parse_date(as_of, "--as-of") if as_of else None, _now(), out)


def main() -> None:
    """Console script entry point."""
    app()
