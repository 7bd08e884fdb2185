"""The daemon's web app, put together: the routes of each concern, the shared middleware, the errors.

One module per concern contributes its routes:

* ``bot.web.twilio`` — ``POST /twilio/status``, Twilio's signed delivery reports;
* ``bot.web.health`` — ``GET /healthz``, ``/readyz``, ``/metrics``;
* ``bot.web.unsubscribe`` — ``GET`` and ``POST /unsubscribe``, the one-click link in e-mails; not
  routed (404) when the app is made without the link's secret.

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

from bot.evidence.artifacts import ArtifactStore
from bot.web import health, twilio, unsubscribe
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
) -> Starlette:
    """The app; ``public_url`` is the status callback URL Twilio was given (its signature covers it).

    ``max_cycle_age``: /readyz fails when no cycle succeeded for this long (``[web] ready_after_hours``).
    ``unsubscribe_secret``: the ``[web] session_secret_env`` secret the e-mails' unsubscribe links
    were signed with; without it ``/unsubscribe`` is 404 (no e-mail carries such a link).
    """
    routes: list[BaseRoute] = [
        *twilio.routes(
            engine, auth_token=auth_token, public_url=public_url, artifacts=artifacts, clock=clock
        ),
        *health.routes(engine, clock, max_cycle_age),
    ]
    if unsubscribe_secret:
        routes += unsubscribe.routes(engine, unsubscribe_secret, clock)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(BodyLimit, max_body=MAX_BODY)],
        exception_handlers={HTTPException: http_error, ClientDisconnect: client_gone},
    )
    # An exact path or 404: Twilio and the probes call one URL each, and "/healthz/" never was one.
    app.router.redirect_slashes = False
    return app
