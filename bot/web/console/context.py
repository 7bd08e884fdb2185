"""What every console page is written with: the engine, the config (and through it the settings),
the templates in both languages, and the small answers all pages share.

A page module exposes ``routes(console: Console) -> list[BaseRoute]``; :func:`bot.web.console.pages.routes`
lists them. A handler reads who is logged in from :meth:`Console.current` (the guard has already
sent everyone else to ``/login``), checks the role with :meth:`Console.refuse_unless`, calls the
read model or service in a thread, and answers with :meth:`Console.render`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.access.sessions import Current
from bot.config import Settings
from bot.reporting.visibility import Role, Viewer
from bot.web.console.i18n import Pages, negotiate
from bot.web.console.settings import ConsoleConfig


@dataclass(frozen=True, slots=True)
class Console:
    engine: Engine
    config: ConsoleConfig
    pages: Pages

    @property
    def settings(self) -> Settings:
        """The daemon's settings; the pages over the ledger need them (fees, ladder, evidence)."""
        if self.config.settings is None:
            raise RuntimeError("this console was made without settings (ConsoleConfig.settings)")
        return self.config.settings

    def current(self, request: Request) -> Current:
        current: Current | None = request.state.console
        if current is None:  # the guard lets no such request through to a page that asks
            raise RuntimeError(f"{request.url.path} was reached without a session")
        return current

    def viewer(self, request: Request) -> Viewer:
        user = self.current(request).user
        return Viewer(name=user.name, role=Role(user.role))

    def actor(self, request: Request) -> str:
        """The evidence log's actor for what the logged-in user does: ``user:NAME``."""
        return f"user:{self.current(request).user.name}"

    def language(self, request: Request) -> str:
        current: Current | None = request.state.console
        if current is not None:
            return current.user.language
        return negotiate(request.headers.get("accept-language", ""))

    def render(self, request: Request, template: str, status: int = 200, **context: object) -> HTMLResponse:
        """``template`` in the user's language, with ``user`` and ``csrf_token`` for the layout."""
        current: Current | None = request.state.console
        context.setdefault("user", current.user if current else None)
        context.setdefault("csrf_token", current.csrf_token if current else "")
        context.setdefault("path", request.url.path)
        return HTMLResponse(
            self.pages.render(self.language(request), template, **context), status_code=status
        )

    def error(self, request: Request, status: int, message_key: str) -> HTMLResponse:
        """The error page: ``message_key`` is ``forbidden``, ``not_found`` or ``bad_request``."""
        return self.render(request, "error.html", status, message_key=message_key)

    def refuse_unless(self, request: Request, *roles: str) -> HTMLResponse | None:
        """403 unless the user has one of ``roles``; ``None`` lets the page go on."""
        if self.current(request).user.role in roles:
            return None
        return self.error(request, 403, "forbidden")

    def today(self) -> date:
        """The company's date now (its timezone), the ``as_of`` of every page."""
        return self.config.clock().astimezone(ZoneInfo(self.config.timezone)).date()
