"""``/approvals``: the ladder steps that wait for a decision (the worklist's ``approval`` items), with
Approve and Reject for a manager (:func:`bot.outreach.approval.decide`, as `dunbot approve` and
`dunbot reject` call it); legal reads the list. An approved step's messages go out with the next
cycle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.errors import InputError
from bot.outreach.approval import decide
from bot.reporting.worklist import TaskState, WorklistQuery, worklist
from bot.web.console.context import Console
from bot.web.console.worklist_page import BadQuery, bad_request, labeller, read_page

PAGE_SIZE = 50
READS = ("manager", "legal")
DECIDES = ("manager",)
MAX_TASK_ID = 2**31 - 1


def routes(console: Console) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        refused = console.refuse_unless(request, *READS)
        if refused:
            return refused
        try:
            number = read_page(request.query_params)
        except BadQuery as problem:
            return bad_request(console, request, str(problem))
        query = WorklistQuery(state=TaskState.OPEN, kind="approval", page=number, page_size=PAGE_SIZE)
        found = await asyncio.to_thread(
            worklist, console.engine, console.viewer(request), query, console.today()
        )
        return console.render(
            request,
            "approvals.html",
            found=found,
            decides=console.current(request).user.role in DECIDES,
            previous=f"/approvals?page={number - 1}" if number > 1 else None,
            next=f"/approvals?page={number + 1}" if found.has_next else None,
            label=labeller(console.language(request)),
        )

    def decision(approve: bool) -> Callable[[Request], Awaitable[Response]]:
        async def decide_task(request: Request) -> Response:
            refused = console.refuse_unless(request, *DECIDES)
            if refused:
                return refused
            raw = request.path_params["task"]
            # ASCII digits within the database's 32-bit integers; anything else names no task
            if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_TASK_ID:
                return console.error(request, 404, "not_found")
            task = int(raw)
            reason = str((await request.form()).get("reason", ""))
            if not approve and not reason.strip():
                return bad_request(
                    console, request, "Say why the step is rejected: the reason goes into the evidence log."
                )
            try:
                await asyncio.to_thread(
                    decide,
                    console.engine,
                    console.settings,
                    task,
                    approve=approve,
                    reason=reason,
                    actor=console.actor(request),
                    now=console.config.clock(),
                    business_date=console.today(),
                )
            except InputError as problem:
                if str(problem).startswith(f"no task {task}:"):
                    return console.error(request, 404, "not_found")
                return bad_request(console, request, str(problem), translate=False)
            return RedirectResponse("/approvals", status_code=303)

        return decide_task

    return [
        Route("/approvals", page, methods=["GET"]),
        Route("/approvals/{task}/approve", decision(approve=True), methods=["POST"]),
        Route("/approvals/{task}/reject", decision(approve=False), methods=["POST"]),
    ]
