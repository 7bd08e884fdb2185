"""``/worklist``: open tasks and approvals ranked by amount at risk and age, with faceted filters,
counts and paging (:mod:`bot.reporting.worklist`), and the manager's reassign form on each row
(``POST /customers/{id}/reassign``, :func:`bot.outreach.assignment.reassign_customer`).

A collector sees the tasks of the customers they work; managers and legal see everyone's. The
filters are a plain GET form, so a filtered page is a link; paging links keep the filters.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.access.users import UserView, list_users
from bot.errors import InputError
from bot.evidence import chronology_text as words
from bot.outreach.assignment import ASSIGNABLE_ROLES, reassign_customer
from bot.reporting.worklist import FACETS, NONE, TaskState, WorklistPage, WorklistQuery, worklist
from bot.web.console.context import Console
from bot.web.console.i18n import translations

PAGE_SIZE = 50
# Who may reassign a customer.
REASSIGNS = ("manager",)
# The tables that word a facet's values in the page's language; kinds and buckets are in the .po files.
_LABELS = {"tier": words.TIERS, "tactic": words.TACTICS, "step": words.STEPS}


class BadQuery(Exception):
    """A query parameter the page does not understand; the message is a msgid of worklist.po."""


@functools.cache
def _gettext(language: str) -> Callable[[str], str]:
    return translations(language).gettext


def bad_request(console: Console, request: Request, detail: str, *, translate: bool = True) -> Response:
    """The 400 page naming the problem (``detail``: a msgid, or a service's own message)."""
    text = _gettext(console.language(request))(detail) if translate else detail
    return console.render(request, "error.html", 400, message_key="bad_request", detail=text)


def read_page(params: Mapping[str, str]) -> int:
    raw = params.get("page", "1").strip() or "1"
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) < 1:
        raise BadQuery("The page must be a whole number from 1.")
    return int(raw)


def read_query(params: Mapping[str, str]) -> WorklistQuery:
    """The worklist query of a GET's parameters; an empty parameter leaves its filter off."""
    state = params.get("state", "").strip() or TaskState.OPEN.value
    if state not in TaskState.__members__.values():
        raise BadQuery("The state must be open, done or all.")
    chosen = {name: (params.get(name, "").strip() or None) for name in FACETS}
    return WorklistQuery(state=TaskState(state), page=read_page(params), page_size=PAGE_SIZE, **chosen)


def link(path: str, query: WorklistQuery, page: int) -> str:
    """``path`` with the query's filters and ``page``: what the paging links and the form go back to."""
    params = [(name, str(getattr(query, name))) for name in FACETS if getattr(query, name) is not None]
    if query.state is not TaskState.OPEN:
        params.append(("state", query.state.value))
    if page > 1:
        params.append(("page", str(page)))
    return f"{path}?{urlencode(params)}" if params else path


def labeller(language: str) -> Callable[[str, str], str]:
    """``label(facet, value)``: a tier, tactic or step in the page's language (others as recorded)."""
    index = words.ZH if language == "zh-CN" else words.EN

    def label(facet: str, value: str) -> str:
        if value == NONE:
            return "—"
        table = _LABELS.get(facet)
        return words.label(table, value, index) if table else value

    return label


def _assignable(users: list[UserView]) -> list[UserView]:
    return [u for u in users if u.role in ASSIGNABLE_ROLES and not u.disabled]


def routes(console: Console) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        refused = console.refuse_unless(request, "collector", "manager", "legal")
        if refused:
            return refused
        try:
            query = read_query(request.query_params)
        except BadQuery as problem:
            return bad_request(console, request, str(problem))
        viewer = console.viewer(request)
        found: WorklistPage = await asyncio.to_thread(
            worklist, console.engine, viewer, query, console.today()
        )
        reassigns = viewer.role.value in REASSIGNS
        users = _assignable(await asyncio.to_thread(list_users, console.engine)) if reassigns else []
        here = link("/worklist", query, query.page)
        return console.render(
            request,
            "worklist.html",
            found=found,
            query=query,
            facets=FACETS,
            states=[s.value for s in TaskState],
            everyone=viewer.role.value != "collector",
            reassigns=reassigns,
            assignees=users,
            here=here,
            previous=link("/worklist", query, query.page - 1) if query.page > 1 else None,
            next=link("/worklist", query, query.page + 1) if found.has_next else None,
            label=labeller(console.language(request)),
        )

    async def reassign(request: Request) -> Response:
        refused = console.refuse_unless(request, *REASSIGNS)
        if refused:
            return refused
        form = await request.form()
        back = str(form.get("back", ""))
        if not (back == "/worklist" or back.startswith("/worklist?")):
            back = "/worklist"  # only ever back to the worklist: never a redirect elsewhere
        try:
            await asyncio.to_thread(
                reassign_customer,
                console.engine,
                request.path_params["id"],
                str(form.get("assignee", "")),
                actor=console.actor(request),
                now=console.config.clock(),
                reason=str(form.get("reason", "")),
            )
        except InputError as problem:
            return bad_request(console, request, str(problem), translate=False)
        return RedirectResponse(back, status_code=303)

    return [
        Route("/worklist", page, methods=["GET"]),
        Route("/customers/{id}/reassign", reassign, methods=["POST"]),
    ]
