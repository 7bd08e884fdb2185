"""``/customers/{id}``: one customer as a collector works it (:mod:`bot.reporting.customer_page`).

A customer the user may not see answers 404, exactly like one that does not exist. The actions
(``bot.web.console.customer_actions``) are forms on this page, in ``customer_actions.html``.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.outreach.tasks import list_tasks
from bot.reporting.customer_page import customer_page
from bot.web.console.context import Console

# Who may act on a customer they see (a collector on their own, a manager on everyone's);
# legal reads.
ACTS = ("collector", "manager")


def routes(console: Console) -> list[BaseRoute]:
    async def customer(request: Request) -> Response:
        refused = console.refuse_unless(request, "collector", "manager", "legal")
        if refused:
            return refused
        customer_id = request.path_params["id"]
        viewer = console.viewer(request)
        found = await asyncio.to_thread(
            customer_page,
            console.engine,
            console.settings,
            viewer,
            customer_id,
            console.today(),
            console.config.clock(),
        )
        if found is None:
            return console.error(request, 404, "not_found")
        tasks = await asyncio.to_thread(list_tasks, console.engine, as_of=console.today())
        mine = [task for task in tasks if task.customer == customer_id]
        return console.render(
            request, "customer.html", page=found, tasks=mine, can_act=viewer.role.value in ACTS
        )

    return [Route("/customers/{id}", customer, methods=["GET"])]
