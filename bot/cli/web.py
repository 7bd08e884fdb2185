"""``dunbot web``: the console and the web endpoints on ``[web] listen``, without the scheduler."""

from __future__ import annotations

import typer

from bot.cli.common import clock, handled, say_verbatim, settings_from_config
from bot.store.engine import make_engine, require_schema

app = typer.Typer()


@app.command()
@handled
def web() -> None:
    """The console and the endpoints (Twilio, unsubscribe, health) on \\[web] listen; no cycles run.

    Needs \\[web] session_secret_env: the console signs its session cookies with that secret.
    """
    # Imported here, as `dunbot run` does: uvicorn and Starlette cost start-up time other commands skip.
    import asyncio
    import signal

    from bot.logs import configure_logging
    from bot.web.app import app_from_settings
    from bot.web.server import bind, serve

    settings = settings_from_config()
    configure_logging(settings)
    engine = make_engine(settings.database_url)
    require_schema(engine)
    app_ = app_from_settings(engine, settings, clock, require_console=True)
    sock = bind(settings.web.listen)  # now: a port in use is a clear error before anything starts
    where = settings.web.public_url or f"http://{settings.web.listen}"
    say_verbatim(f"dunbot web: the console is on {where}/login (Ctrl-C stops it)")

    async def serving() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(app_, settings.web.listen, stop, sock=sock, freeze_heap=True)

    asyncio.run(serving())
