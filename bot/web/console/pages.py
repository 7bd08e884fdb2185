"""The console's routes: ``/login`` (form and post), ``/logout``, ``/`` (each role's home) and the
admin's ``/users`` with disabling; ``/static`` serves the CSS. Every other page is a module of its
own with a ``routes(console)`` function, listed in :func:`routes`.
"""

from __future__ import annotations

import asyncio
import secrets

from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.access.sessions import Current, end_session, start_session
from bot.access.users import LoginRefused, authenticate, disable_user, list_users
from bot.errors import InputError
from bot.web.console import (
    approvals_page,
    customer_actions,
    customer_pages,
    dashboard_page,
    evidence_page,
    replies_page,
    worklist_page,
)
from bot.web.console.context import Console
from bot.web.console.cookies import LOGIN_COOKIE, SESSION_COOKIE, Signer, drop_cookie, set_cookie
from bot.web.console.i18n import WEB, Pages
from bot.web.console.settings import ConsoleConfig

HOME = {"collector": "/worklist", "manager": "/worklist", "legal": "/worklist", "admin": "/users"}
# The page modules, each with ``routes(console)``.
PAGE_MODULES = (
    worklist_page,
    approvals_page,
    customer_pages,
    customer_actions,
    dashboard_page,
    evidence_page,
    replies_page,
)


def routes(engine: Engine, config: ConsoleConfig) -> list[BaseRoute]:
    console = Console(engine, config, Pages(config.timezone))
    sessions = Signer(config.secret, "session")
    logins = Signer(config.secret, "login")
    page = console.render

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

    async def users(request: Request) -> Response:
        current: Current = request.state.console
        if current.user.role != "admin":
            return console.error(request, 403, "forbidden")
        everyone = await asyncio.to_thread(list_users, engine)
        return page(request, "users.html", users=everyone, now=config.clock())

    async def users_disable(request: Request) -> Response:
        current: Current = request.state.console
        if current.user.role != "admin":
            return console.error(request, 403, "forbidden")
        name = str((await request.form()).get("name", ""))
        try:
            await asyncio.to_thread(disable_user, engine, name, actor=current.user.name, now=config.clock())
        except InputError:
            return console.error(request, 404, "not_found")
        return RedirectResponse("/users", status_code=303)

    return [
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", home, methods=["GET"]),
        Route("/users", users, methods=["GET"]),
        Route("/users/disable", users_disable, methods=["POST"]),
        Mount("/static", StaticFiles(directory=WEB / "static"), name="static"),
        *(route for module in PAGE_MODULES for route in module.routes(console)),
    ]
