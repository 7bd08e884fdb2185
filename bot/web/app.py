"""The daemon's web app, put together: the routes of each concern, the shared middleware, the errors.

One module per concern contributes its routes:

* ``bot.web.twilio`` — ``POST /twilio/status``, Twilio's signed delivery reports, and ``POST
  /twilio/inbound``, the SMS customers send (recorded for the replies' handle pass);
* ``bot.web.health`` — ``GET /healthz``, ``/readyz``, ``/metrics``;
* ``bot.web.unsubscribe`` — ``GET`` and ``POST /unsubscribe``, the one-click link in e-mails; not
  routed (404) when the app is made without the link's secret;
* ``bot.web.console`` — the collector console (``/login``, ``/worklist``, ...), when made with a
  :class:`ConsoleConfig`; its guard then wraps every request (login rule, CSRF, security headers).

Every route sits behind :class:`bot.web.limits.BodyLimit` (413 past 64 KiB read) and answers routing
errors as plain text (``bot.web.responses``): an unknown path is 404, a known path with another
method 405 with an ``Allow`` header. A new page is one more module whose routes are added here; a new
concern that wraps every request (sessions, CSRF) is one more entry in ``middleware``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute

from bot.config import Settings, secret
from bot.errors import ConfigError
from bot.evidence.artifacts import ArtifactStore
from bot.web import health, twilio, unsubscribe
from bot.web.console import pages
from bot.web.console.guard import ConsoleGuard
from bot.web.console.settings import ConsoleConfig
from bot.web.limits import MAX_BODY, BodyLimit
from bot.web.responses import client_gone, http_error


def make_app(
    engine: Engine,
    *,
    auth_token: str,
    public_url: str | None,
    artifacts: ArtifactStore,
    clock: Callable[[], datetime],
    max_cycle_age: timedelta = timedelta(hours=80),
    unsubscribe_secret: str | None = None,
    console: ConsoleConfig | None = None,
    inbound_url: str | None = None,
) -> Starlette:
    """The app; ``public_url`` is the status callback URL Twilio was given (its signature covers it).

    ``max_cycle_age``: /readyz fails when no cycle succeeded for this long (``[web] ready_after_hours``).
    ``unsubscribe_secret``: the ``[web] session_secret_env`` secret the e-mails' unsubscribe links
    were signed with; without it ``/unsubscribe`` is 404 (no e-mail carries such a link).
    ``console``: serve the console too; every route but the endpoints then needs a login.
    ``inbound_url``: the number's messaging webhook URL as Twilio calls it (its signature covers it).
    """
    routes: list[BaseRoute] = [
        *twilio.routes(
            engine,
            auth_token=auth_token,
            public_url=public_url,
            artifacts=artifacts,
            clock=clock,
            inbound_url=inbound_url,
        ),
        *health.routes(engine, clock, max_cycle_age),
    ]
    if unsubscribe_secret:
        routes += unsubscribe.routes(engine, unsubscribe_secret, clock)
    middleware = [Middleware(BodyLimit, max_body=MAX_BODY)]
    if console is not None:
        routes += pages.routes(engine, console)
        middleware.append(Middleware(ConsoleGuard, engine=engine, config=console))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_error, ClientDisconnect: client_gone},
    )
    # An exact path or 404: Twilio and the probes call one URL each, and "/healthz/" never was one.
    app.router.redirect_slashes = False
    return app


def app_from_settings(
    engine: Engine, settings: Settings, clock: Callable[[], datetime], *, require_console: bool
) -> Starlette:
    """The app as ``dunbot run`` and ``dunbot web`` serve it, from the config.

    The console is served when ``[web] session_secret_env`` is set; ``require_console`` (``dunbot
    web``) makes its absence a configuration error instead of an app without the console.
    """
    token = ""
    if settings.sms.transport == "twilio":
        token = secret(settings.sms.auth_token_env, "sms.auth_token_env")
    web = settings.web
    if require_console and not web.session_secret_env:
        raise ConfigError(
            "web.session_secret_env is not set: the console signs its session cookies with that "
            "secret; name an environment variable holding a long random value"
        )
    session_secret = (
        secret(web.session_secret_env, "web.session_secret_env") if web.session_secret_env else ""
    )
    if web.session_secret_env and not session_secret:
        raise ConfigError(
            f"environment variable {web.session_secret_env} (from web.session_secret_env) is empty"
        )
    # Without a public URL no e-mail carries the one-click link, and nothing answers it.
    unsubscribe_secret = session_secret if web.public_url and session_secret else None
    console = None
    if session_secret:
        console = ConsoleConfig(
            secret=session_secret,
            secure=(web.public_url or "").startswith("https://"),
            clock=clock,
            idle=timedelta(minutes=web.idle_minutes),
            lockout=timedelta(minutes=web.lockout_minutes),
            timezone=settings.company.timezone,
            settings=settings,
        )
    return make_app(
        engine,
        auth_token=token,
        public_url=settings.sms.status_callback_url,
        artifacts=ArtifactStore(settings.path(settings.evidence.artifact_dir)),
        clock=clock,
        max_cycle_age=timedelta(hours=web.ready_after_hours),
        unsubscribe_secret=unsubscribe_secret,
        console=console,
        inbound_url=twilio.inbound_webhook_url(web.public_url, settings.sms.status_callback_url),
    )
