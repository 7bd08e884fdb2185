"""Setting dunbot up: `dunbot init` (config, trial certificate, database) and `dunbot check-config`
(every problem of the config, and with --connect every outside party it names)."""

from __future__ import annotations

import shutil
from typing import Annotated

import typer
from rich.markup import escape

from bot.cli.common import (
    SWITCH,
    clock,
    config_file,
    err,
    handled,
    print_json,
    say_verbatim,
    settings_from_config,
)
from bot.cli.config_checks import inspect_settings, load_settings
from bot.cli.views.tables import out
from bot.config import EXAMPLE_CONFIG
from bot.errors import ConfigError
from bot.store.engine import make_engine

app = typer.Typer()


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

    path = config_file()
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

        trial = trial_certificate_for(path, settings, clock(), fresh=fresh)
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
    path = config_file()
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
        from bot.cli.connectivity import check_connections

        with err.status("trying every connection ..."):
            checks = check_connections(settings_from_config())
    failed_strictly = strict and bool(warnings)
    if as_json:
        print_json(
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
