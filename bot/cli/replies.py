"""`dunbot reply list|show|confirm`: the replies customers sent, and confirming those the classifier
was not sure of (DESIGN §11)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from bot.cli.common import SWITCH, actor, clock, handled, print_json, settings_from_config
from bot.cli.views.replies import detail_json, print_replies, print_reply, reply_json
from bot.cli.views.tables import out
from bot.evidence.artifacts import ArtifactStore
from bot.replies.confirming import confirm_reply
from bot.replies.review import KINDS, STATES, check_confirmable, find_reply, list_replies, show_reply
from bot.store.engine import make_engine

app = typer.Typer(help="Replies from customers: read them, confirm the unsure ones.", no_args_is_help=True)

_JSON = typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")


@app.command("list")
@handled
def reply_list(
    state: Annotated[
        str | None,
        typer.Option("--state", metavar="STATE", help=f"Only replies in this state: {', '.join(STATES)}"),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="At most this many, newest first")
    ] = 200,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """The newest replies; `--state confirm` those waiting for a collector to confirm."""
    settings = settings_from_config()
    found = list_replies(make_engine(settings.database_url), None, state=state, limit=limit)
    if as_json:
        print_json([reply_json(r) for r in found])
    else:
        print_replies(found, state=state)


@app.command("show")
@handled
def reply_show(
    reply: Annotated[int, typer.Argument(metavar="ID", help="The reply id (`dunbot reply list`)")],
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """A reply's text, sender, what it was matched to, how it was classified and why."""
    settings = settings_from_config()
    store = ArtifactStore(settings.path(settings.evidence.artifact_dir))
    detail = show_reply(make_engine(settings.database_url), store, reply, None)
    if as_json:
        print_json(detail_json(detail))
    else:
        print_reply(detail)


@app.command("confirm")
@handled
def reply_confirm(
    reply: Annotated[
        int, typer.Argument(metavar="ID", help="The reply id (`dunbot reply list --state confirm`)")
    ],
    kind: Annotated[
        str | None,
        typer.Option("--as", metavar="KIND", help=f"Act on it as this kind instead: {', '.join(KINDS)}"),
    ] = None,
) -> None:
    """Act on a reply the classifier was not sure of: as classified, or `--as KIND`."""
    settings = settings_from_config()
    engine = make_engine(settings.database_url)
    chosen = check_confirmable(engine, reply, kind, None)
    confirm_reply(engine, settings, reply, chosen, actor(), clock())
    with engine.connect() as connection:
        done = find_reply(connection, reply, None)
    action = f": {done.action}" if done.action else ""
    out.print(
        f"reply {reply} confirmed as {escape(str(done.kind))}{escape(action)}",
        highlight=False,
        soft_wrap=True,
    )
