"""The console's routes: ``/login`` (form and post), ``/logout``, ``/`` (each role's home), the
``/worklist`` of open tasks, and the admin's ``/users`` with disabling; ``/static`` serves the CSS.

The worklist here lists the user's open tasks (a collector's own, everyone's for manager and legal)
from :func:`bot.outreach.tasks.list_tasks`; ranking, filters and paging come with its read model.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.access.sessions import Current, end_session, start_session
from bot.access.users import LoginRefused, authenticate, disable_user, list_users
from bot.errors import InputError
from bot.outreach.tasks import list_tasks
from bot.web.console.cookies import LOGIN_COOKIE, SESSION_COOKIE, Signer, drop_cookie, set_cookie
from bot.web.console.i18n import WEB, Pages, negotiate
from bot.web.console.settings import ConsoleConfig

HOME = {"collector": "/worklist", "manager": "/worklist", "legal": "/worklist", "admin": "/users"}
# Who sees everyone's tasks on the worklist; a collector sees their own.
SEES_ALL_TASKS = ("manager", "legal")


def routes(engine: Engine, config: ConsoleConfig) -> list[BaseRoute]:
    pages = Pages(config.timezone)
    sessions = Signer(config.secret, "session")
    logins = Signer(config.secret, "login")

    def page(request: Request, template: str, status: int = 200, **context: object) -> HTMLResponse:
        current: Current | None = request.state.console
        language = current.user.language if current else negotiate(request.headers.get("accept-language", ""))
        context.setdefault("user", current.user if current else None)
        context.setdefault("csrf_token", current.csrf_token if current else "")
        return HTMLResponse(pages.render(language, template, **context), status_code=status)

    def login_form(request: Request, status: int = 200, error: bool = False) -> Response:
        nonce = logins.read(request.cookies.get(LOGIN_COOKIE)) or secrets.token_urlsafe(32)
        response = page(request, "login.html", status, csrf_token=nonce, error=error)
        set_cookie(response, LOGIN_COOKIE, logins.sign(nonce), secure=config.secure)
        return response

    async def login_get(request: Request) -> Response:
        current: Current | None = request.state.console
        if current is not None:
            return RedirectResponse(HOME[current.user.role], status_code=303)
        return login_form(request)

    async def login_post(request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        now = config.clock()
        try:
            user = await asyncio.to_thread(
                authenticate, engine, name, password, now=now, lockout=config.lockout
            )
        except LoginRefused:
            return login_form(request, status=401, error=True)
        started = await asyncio.to_thread(start_session, engine, user.id, now=now)
        response = RedirectResponse(HOME[user.role], status_code=303)
        set_cookie(response, SESSION_COOKIE, sessions.sign(started.token), secure=config.secure)
        drop_cookie(response, LOGIN_COOKIE, secure=config.secure)
        return response

    async def logout(request: Request) -> Response:
        token = request.state.session_token
        if token:
            await asyncio.to_thread(end_session, engine, token, now=config.clock())
        response = RedirectResponse("/login", status_code=303)
        drop_cookie(response, SESSION_COOKIE, secure=config.secure)
        return response

    async def home(request: Request) -> Response:
        current: Current = request.state.console
        return RedirectResponse(HOME[current.user.role], status_code=303)

    async def worklist(request: Request) -> Response:
        current: Current = request.state.console
        user = current.user
        if user.role == "admin":
            return page(request, "error.html", 403, message_key="forbidden")
        assignee = None if user.role in SEES_ALL_TASKS else user.name
        today = _today(config)
        tasks = await asyncio.to_thread(list_tasks, engine, assignee=assignee, as_of=today)
        return page(request, "worklist.html", tasks=tasks, everyone=assignee is None)

    async def users(request: Request) -> Response:
        current: Current = request.state.console
        if current.user.role != "admin":
            return page(request, "error.html", 403, message_key="forbidden")
        everyone = await asyncio.to_thread(list_users, engine)
        return page(request, "users.html", users=everyone, now=config.clock())

    async def users_disable(request: Request) -> Response:
        current: Current = request.state.console
        if current.user.role != "admin":
            return page(request, "error.html", 403, message_key="forbidden")
        name = str((await request.form()).get("name", ""))
        try:
            await asyncio.to_thread(disable_user, engine, name, actor=current.user.name, now=config.clock())
        except InputError:
            return page(request, "error.html", 404, message_key="not_found")
        return RedirectResponse("/users", status_code=303)

    return [
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", home, methods=["GET"]),
        Route("/worklist", worklist, methods=["GET"]),
        Route("/users", users, methods=["GET"]),
        Route("/users/disable", users_disable, methods=["POST"]),
        Mount("/static", StaticFiles(directory=WEB / "static"), name="static"),
    ]


def _today(config: ConsoleConfig) -> date:
    return config.clock().astimezone(ZoneInfo(config.timezone)).date()
