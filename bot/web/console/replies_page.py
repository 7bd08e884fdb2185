"""``/replies``: the replies the classifier was not sure of, waiting for a collector (a collector's
own customers; a manager's and legal's everyone's, unmatched ones too), each with one-click Confirm
and a select to act on it as another kind; ``/replies/{id}`` one reply with its text. Confirming
is :func:`bot.replies.confirming.confirm_reply`, as `dunbot reply confirm` calls it. Legal reads; an
admin is refused; a reply the user may not see answers 404 like one that does not exist.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.errors import InputError
from bot.evidence import chronology_text as words
from bot.evidence.artifacts import ArtifactStore
from bot.replies.confirming import confirm_reply
from bot.replies.review import AWAITING, KINDS, MAX_ID, check_confirmable, list_replies, show_reply
from bot.web.console.context import Console
from bot.web.console.worklist_page import bad_request

READS = ("collector", "manager", "legal")
CONFIRMS = ("collector", "manager")
PAGE_LIMIT = 200


def _reply_id(raw: str) -> int | None:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or not 0 < int(raw) <= MAX_ID:
        return None
    return int(raw)


def routes(console: Console) -> list[BaseRoute]:
    def kind_names(request: Request) -> dict[str, str]:
        index = words.ZH if console.language(request) == "zh-CN" else words.EN
        return {kind: words.label(words.REPLY_KINDS, kind, index) for kind in KINDS}

    async def page(request: Request) -> Response:
        refused = console.refuse_unless(request, *READS)
        if refused:
            return refused
        found = await asyncio.to_thread(
            list_replies, console.engine, console.viewer(request), state=AWAITING, limit=PAGE_LIMIT
        )
        return console.render(
            request,
            "replies.html",
            replies=found,
            kinds=kind_names(request),
            confirms=console.current(request).user.role in CONFIRMS,
        )

    async def one(request: Request) -> Response:
        refused = console.refuse_unless(request, *READS)
        if refused:
            return refused
        reply_id = _reply_id(request.path_params["reply"])
        if reply_id is None:
            return console.error(request, 404, "not_found")
        store = ArtifactStore(console.settings.path(console.settings.evidence.artifact_dir))
        try:
            detail = await asyncio.to_thread(
                show_reply, console.engine, store, reply_id, console.viewer(request)
            )
        except InputError:
            return console.error(request, 404, "not_found")
        return console.render(
            request,
            "reply.html",
            detail=detail,
            kinds=kind_names(request),
            confirms=console.current(request).user.role in CONFIRMS and detail.reply.state == AWAITING,
        )

    async def confirm(request: Request) -> Response:
        refused = console.refuse_unless(request, *CONFIRMS)
        if refused:
            return refused
        reply_id = _reply_id(request.path_params["reply"])
        if reply_id is None:
            return console.error(request, 404, "not_found")
        chosen = str((await request.form()).get("kind", "")).strip() or None
        viewer = console.viewer(request)
        try:
            kind = await asyncio.to_thread(check_confirmable, console.engine, reply_id, chosen, viewer)
        except InputError as problem:
            if str(problem).startswith(f"no reply {reply_id}:"):
                return console.error(request, 404, "not_found")
            return bad_request(console, request, str(problem), translate=False)
        try:
            await asyncio.to_thread(
                confirm_reply,
                console.engine,
                console.settings,
                reply_id,
                kind,
                console.actor(request),
                console.config.clock(),
            )
        except InputError as problem:  # e.g. a dispute for a customer with no open invoice
            return bad_request(console, request, str(problem), translate=False)
        return RedirectResponse("/replies", status_code=303)

    return [
        Route("/replies", page, methods=["GET"]),
        Route("/replies/{reply}", one, methods=["GET"]),
        Route("/replies/{reply}/confirm", confirm, methods=["POST"]),
    ]
