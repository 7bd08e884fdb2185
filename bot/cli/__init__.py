"""The `dunbot` command line: parse, call one service, print (Rich for people, --json for machines).

This module only builds the Typer app from one module per command group and keeps ``main()``,
the console script. The commands without a group of their own (``dunbot plan``, not ``dunbot
cycles plan``) come from sub-apps added without a name, which Typer merges into the top level;
``dunbot --help`` lists the commands in the order they are added here, then the groups.

Exit codes: 0 ok, 1 bad input or a failed check, 2 usage or configuration error.
"""

from __future__ import annotations

import typer

from bot.cli import (
    assignment,
    collector,
    cycles,
    demo,
    evidence,
    inbound,
    ledger,
    notes,
    notices,
    replies,
    reports,
    setup,
    users,
    web,
)
from bot.cli.common import options

# Help text is Rich markup: a config section in a docstring is written "\\[source]" so that it shows.
app = typer.Typer(
    name="dunbot",
    help="Automated dunning with tiers, a collection ladder and a tamper-evident evidence log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    callback=options,
)
# Top-level commands: init, check-config, import, sync, plan, cycle, run, status, promise, pause,
# opt-out, approve, reject, log, tasks, note, demo, web, reassign.
app.add_typer(setup.app)
app.add_typer(ledger.app)
app.add_typer(cycles.app)
app.add_typer(collector.app)
app.add_typer(notes.app)
app.add_typer(demo.app)
app.add_typer(web.app)
app.add_typer(assignment.app)
# Groups.
app.add_typer(notices.app, name="notice")
app.add_typer(reports.app, name="report")
app.add_typer(evidence.app, name="evidence")
app.add_typer(collector.dispute_app, name="dispute")
app.add_typer(collector.task_app, name="task")
app.add_typer(collector.message_app, name="message")
app.add_typer(users.app, name="user")
app.add_typer(inbound.app, name="inbound")
app.add_typer(replies.app, name="reply")


def main() -> None:
    """Console script entry point."""
    app()
