"""``/customers/{id}``: one customer as a collector works it (:mod:`bot.reporting.customer_page`),
with a page per message (``/customers/{id}/messages/{message}``, what `dunbot message show` reads)
and the signed PDF a message carried (``.../notice.pdf``, shown inline by the browser).

A customer the user may not see answers 404, exactly like one that does not exist; so do a message
of another customer and a message of a customer the user may not see. The actions
(``bot.web.console.customer_actions``) are forms on this page, in ``customer_actions.html``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_decimal
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.evidence import chronology_text as words
from bot.outreach.message_detail import show_message
from bot.outreach.tasks import list_tasks
from bot.reporting.customer_messages import message_visible, signed_notice
from bot.reporting.customer_page import MAX_SEQ, customer_page
from bot.web.console.context import Console

# Who may act on a customer they see (a collector on their own, a manager on everyone's);
# legal reads.
ACTS = ("collector", "manager")
READS = ("collector", "manager", "legal")
_BABEL = {"zh-CN": "zh_CN", "en": "en"}
# The evidence pack's words for the codes the pages show (tiers, tactics, channels, steps, the
# providers' statuses), in both languages: one wording for the page and the pack.
_TERMS = {
    "tier": words.TIERS,
    "tactic": words.TACTICS,
    "channel": words.CHANNELS,
    "step": words.STEPS,
    "status": words.STATUSES,
}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _seq(text: str | None) -> int | None:
    """A positive sequence number or id from the query string or path (the database's 32-bit
    integers), else None."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_SEQ else None


def routes(console: Console) -> list[BaseRoute]:
    def helpers(request: Request) -> dict[str, Callable[..., str]]:
        """``day(date)``: a date (not an instant) in the user's language; ``term(kind, code)``: a
        code's words in it; ``amount(decimal)``: a number without a currency (the credit limit)."""
        language = console.language(request)
        locale = _BABEL.get(language, "zh_CN")
        index = words.ZH if language == "zh-CN" else words.EN

        def day(value: date | None) -> str:
            return format_date(value, "medium", locale=locale) if value is not None else "—"

        def term(kind: str, code: str | None) -> str:
            return words.label(_TERMS[kind], code, index) or "—"

        def amount(value: Decimal | None) -> str:
            return format_decimal(value, "#,##0.00", locale=locale) if value is not None else "—"

        return {"day": day, "term": term, "amount": amount}

    async def customer(request: Request) -> Response:
        refused = console.refuse_unless(request, *READS)
        if refused:
            return refused
        customer_id = request.path_params["id"]
        raw_before = request.query_params.get("before")
        before = _seq(raw_before)
        if raw_before is not None and before is None:
            return console.error(request, 400, "bad_request")
        viewer = console.viewer(request)
        today = console.today()
        found = await asyncio.to_thread(
            customer_page,
            console.engine,
            console.settings,
            viewer,
            customer_id,
            today,
            console.config.clock(),
            before=before,
        )
        if found is None:
            return console.error(request, 404, "not_found")
        tasks = await asyncio.to_thread(list_tasks, console.engine, as_of=today, customer=customer_id)
        return console.render(
            request,
            "customer.html",
            page=found,
            tasks=tasks,
            can_act=viewer.role.value in ACTS,
            today=today,
            before=before,
            fmt=helpers(request),
        )

    async def message(request: Request) -> Response:
        refused = console.refuse_unless(request, *READS)
        if refused:
            return refused
        customer_id = request.path_params["id"]
        message_id = _seq(request.path_params["message"])
        if message_id is None or not await asyncio.to_thread(
            message_visible, console.engine, console.viewer(request), customer_id, message_id
        ):
            return console.error(request, 404, "not_found")
        detail = await asyncio.to_thread(
            show_message, console.engine, console.settings, message_id, console.config.clock()
        )
        return console.render(
            request, "customer_message.html", detail=detail, customer_id=customer_id, fmt=helpers(request)
        )

    async def notice_pdf(request: Request) -> Response:
        refused = console.refuse_unless(request, *READS)
        if refused:
            return refused
        message_id = _seq(request.path_params["message"])
        notice = None
        if message_id is not None:
            notice = await asyncio.to_thread(
                signed_notice,
                console.engine,
                console.settings,
                console.viewer(request),
                request.path_params["id"],
                message_id,
            )
        if notice is None:
            return console.error(request, 404, "not_found")
        name = _UNSAFE_NAME.sub("_", notice.reference)
        # inline: the browser's PDF viewer shows it (and checks its signature where it can)
        return Response(
            notice.data,
            media_type="application/pdf",
            headers={"content-disposition": f'inline; filename="{name}.pdf"'},
        )

    return [
        Route("/customers/{id}", customer, methods=["GET"]),
        Route("/customers/{id}/messages/{message}", message, methods=["GET"]),
        Route("/customers/{id}/messages/{message}/notice.pdf", notice_pdf, methods=["GET"]),
    ]
