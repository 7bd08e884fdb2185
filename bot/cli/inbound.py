"""`dunbot inbound poll`: one pass over the reply mailbox (DESIGN §8, §11); the daemon polls by itself."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import SWITCH, clock, handled, print_json, settings_from_config
from bot.store.engine import make_engine, require_schema

app = typer.Typer(help="Replies: the mailbox dunbot reads (\\[inbound]).", no_args_is_help=True)


@app.command("poll")
@handled
def poll(
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of a table.")
    ] = False,
) -> None:
    """Fetch the replies waiting in the \\[inbound] mailbox once (each recorded, then moved) and act
    on them: matched, classified, acted on or given to a collector to confirm.

    A re-run records nothing twice; the daemon polls by itself every \\[inbound] poll_seconds.
    """
    from bot.cli.views.inbound import print_fetch, print_handled
    from bot.logs import configure_logging
    from bot.outreach.cycle import worker_name
    from bot.replies.fetch import fetch_pass
    from bot.replies.handling import handle_pending

    settings = settings_from_config()
    configure_logging(settings)
    engine = make_engine(settings.database_url)
    require_schema(engine)
    now = clock()
    report = fetch_pass(engine, settings, now)
    summary = handle_pending(engine, settings, clock(), owner=worker_name())
    if as_json:
        print_json({**report.as_json(), "handled": summary.as_json()})
    else:
        print_fetch(report, settings.company.timezone)
        print_handled(summary)
