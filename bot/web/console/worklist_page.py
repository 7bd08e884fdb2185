"""``/worklist``: the user's open tasks (a collector's own, everyone's for manager and legal), from
:func:`bot.outreach.tasks.list_tasks`; ranking, filters and paging come with its read model."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.outreach.tasks import list_tasks
from bot.web.console.context import Console

# Who sees everyone's tasks on the worklist; a collector sees their own.
SEES_ALL_TASKS = ("manager", "legal")


def routes(console: Console) -> list[BaseRoute]:
    async def worklist(request: Request) -> Response:
        refused = console.refuse_unless(request, "collector", "manager", "legal")
        if refused:
            return refused
        user = console.current(request).user
        assignee = None if user.role in SEES_ALL_TASKS else user.name
        tasks = await asyncio.to_thread(list_tasks, console.engine, assignee=assignee, as_of=console.today())
        return console.render(request, "worklist.html", tasks=tasks, everyone=assignee is None)

    return [Route("/worklist", worklist, methods=["GET"])]
