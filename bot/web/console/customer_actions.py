"""The actions on a customer's page (DESIGN §10 "Actions"): POST routes under ``/customers/{id}/``.

Each posts a small form of ``customer_actions.html`` and calls the service the command line calls,
with the logged-in user as the evidence actor (``user:NAME``):

| route | service | CLI |
| ``/note`` | :func:`bot.outreach.notes.add_note` | ``dunbot note`` |
| ``/promise`` | :func:`bot.outreach.collector.record_promise` | ``dunbot promise`` |
| ``/dispute`` | :func:`bot.outreach.collector.set_dispute` | ``dunbot dispute open|close`` |
| ``/pause`` | :func:`bot.outreach.collector.pause` | ``dunbot pause`` |
| ``/opt-out`` | :func:`bot.outreach.collector.opt_out` | ``dunbot opt-out`` |
| ``/tasks/{task}/done`` | :func:`~bot.outreach.collector.log_call` (a call), else
  :func:`~bot.outreach.tasks.finish_task` (a letter with its tracking number, a review, ...) |
  ``dunbot task done`` |

Every POST is checked in this order: the guard's CSRF token (403); the role — a collector or a
manager acts, legal and admin get 403; the customer — one the user may not see is 404, as on the
page; the invoice or task named — one not of THIS customer is 404; the form — a value that is
missing or not a date or an amount is 400, naming the field. Only then does the service run, in a
thread; its :class:`InputError` (a promise in the past, more than is owed, ...) is 400 with its
words, and it writes nothing then. Done, the browser goes back to the page (303) with
``?done=ACTION``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.domain.ledger import AUTOMATED_CHANNELS, Channel
from bot.domain.money import parse_amount
from bot.errors import InputError
from bot.evidence.artifacts import ArtifactStore
from bot.outreach.collector import PromiseTerms, log_call, opt_out, pause, record_promise, set_dispute
from bot.outreach.notes import add_note
from bot.outreach.tasks import CALL_OUTCOMES, PROMISED, REVIEW_OUTCOMES, finish_task
from bot.reporting.visibility import Viewer, visible_customers
from bot.store import tables
from bot.web.console.context import Console
from bot.web.console.i18n import LANGUAGES, translations

customer_t = tables.Customer.__table__  # type: ignore[attr-defined]
invoice_t = tables.Invoice.__table__  # type: ignore[attr-defined]
task_t = tables.Task.__table__  # type: ignore[attr-defined]

# Who acts on a customer they see (a collector on their own, a manager on everyone's); legal reads.
ACTS = ("collector", "manager")
CHANNELS = tuple(sorted(c.value for c in AUTOMATED_CHANNELS))


class BadField(Exception):
    """A form value that is missing or malformed: ``field`` and ``problem`` are catalog msgids."""

    def __init__(self, field: str, problem: str, value: str = "") -> None:
        super().__init__(f"{field}: {problem}")
        self.field, self.problem, self.value = field, problem, value


@dataclass(frozen=True, slots=True)
class Target:
    """What a POST names, found on its customer: the open task's kind, if it names a task."""

    task_kind: str | None


def find_target(
    engine: Engine, viewer: Viewer, customer_id: str, invoices: Sequence[str], task: int | None
) -> Target | None:
    """None unless ``viewer`` may see ``customer_id`` and every invoice (and the open task) named
    is that customer's; a POST then answers 404, as the page does."""
    with engine.connect() as connection:
        seen = connection.execute(
            sa.select(customer_t.c.id).where(customer_t.c.id == customer_id, visible_customers(viewer))
        ).first()
        if seen is None:
            return None
        numbers = sorted(set(invoices))
        if numbers:
            owned = connection.execute(
                sa.select(sa.func.count())
                .select_from(invoice_t)
                .where(invoice_t.c.number.in_(numbers), invoice_t.c.customer_id == customer_id)
            ).scalar_one()
            if owned != len(numbers):
                return None
        if task is None:
            return Target(None)
        kind = connection.execute(
            sa.select(task_t.c.kind).where(
                task_t.c.id == task, task_t.c.customer_id == customer_id, task_t.c.status == "open"
            )
        ).scalar()
        return None if kind is None else Target(str(kind))


def _text(form: FormData, name: str, field: str, *, required: bool = True) -> str:
    value = str(form.get(name) or "").strip()
    if required and not value:
        raise BadField(field, "is required")
    return value


def _date(form: FormData, name: str, field: str) -> date:
    value = _text(form, name, field)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadField(field, "is not a date (YYYY-MM-DD)", value) from None


def _amount(form: FormData, name: str, field: str) -> Decimal | None:
    value = _text(form, name, field, required=False)
    if not value:
        return None
    try:
        return parse_amount(value)
    except ValueError:
        raise BadField(field, "is not an amount", value) from None


def _choice(form: FormData, name: str, field: str, choices: Sequence[str], *, required: bool = True) -> str:
    value = _text(form, name, field, required=required)
    if value and value not in choices:
        raise BadField(field, "is not one of the choices", value)
    return value


def _task_id(request: Request) -> int | None:
    raw = request.path_params.get("task")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return -1  # no task has it: a 404


@dataclass(frozen=True, slots=True)
class Posting:
    """Who posts, on which customer, on what day; the task the path names, if any."""

    customer: str
    actor: str
    today: date
    task: int | None


@dataclass(frozen=True, slots=True)
class Posted:
    """A parsed action: the invoices it names (checked against the customer) and how to do it."""

    invoices: tuple[str, ...]
    run: Callable[[Target], Any]


def routes(console: Console) -> list[BaseRoute]:
    words = {language: translations(language) for language in LANGUAGES}

    def say(request: Request, msgid: str) -> str:
        return words[console.language(request)].gettext(msgid)

    def bad_request(request: Request, detail: str) -> Response:
        return console.render(request, "error.html", 400, message_key="bad_request", detail=detail)

    async def act(request: Request, action: str, parse: Callable[[FormData, Posting], Posted]) -> Response:
        refused = console.refuse_unless(request, *ACTS)
        if refused:
            return refused
        customer_id = request.path_params["id"]
        task = _task_id(request)
        form = await request.form()
        try:
            posted = parse(form, Posting(customer_id, console.actor(request), console.today(), task))
        except BadField as bad:
            target = await asyncio.to_thread(
                find_target, console.engine, console.viewer(request), customer_id, (), None
            )
            if target is None:  # not even a 400 tells what a hidden customer is
                return console.error(request, 404, "not_found")
            shown = f" “{bad.value}”" if bad.value else ""
            return bad_request(request, f"{say(request, bad.field)}{shown}: {say(request, bad.problem)}")
        target = await asyncio.to_thread(
            find_target,
            console.engine,
            console.viewer(request),
            customer_id,
            posted.invoices,
            task,
        )
        if target is None:
            return console.error(request, 404, "not_found")
        try:
            await asyncio.to_thread(posted.run, target)
        except InputError as refused_input:
            return bad_request(request, str(refused_input))
        return RedirectResponse(f"/customers/{quote(customer_id, safe='')}?done={action}", status_code=303)

    now = console.config.clock
    engine = console.engine

    def note(form: FormData, at: Posting) -> Posted:
        text = _text(form, "text", "Your note")
        invoices = tuple(n for n in (str(v).strip() for v in form.getlist("invoice")) if n)
        return Posted(
            invoices,
            lambda _: add_note(engine, at.customer, text, invoices=invoices, actor=at.actor, now=now()),
        )

    def promise(form: FormData, at: Posting) -> Posted:
        number = _text(form, "invoice", "Which invoice")
        on = _date(form, "date", "Will pay by")
        amount = _amount(form, "amount", "Will pay (amount)")
        tolerance = console.settings.compliance.tolerance
        return Posted(
            (number,),
            lambda _: record_promise(
                engine, number, on, amount, at.actor, now(), made_on=at.today, tolerance=tolerance
            ),
        )

    def dispute(form: FormData, at: Posting) -> Posted:
        number = _text(form, "invoice", "Which invoice")
        opening = _choice(form, "action", "Open or close", ("open", "close")) == "open"
        reason = _text(form, "reason", "Why")
        return Posted((number,), lambda _: set_dispute(engine, number, opening, reason, at.actor, now()))

    def pause_(form: FormData, at: Posting) -> Posted:
        number = _text(form, "invoice", "What to pause", required=False)  # empty: the whole customer
        until = _date(form, "until", "Until (inclusive)")
        reason = _text(form, "reason", "Why")
        return Posted(
            (number,) if number else (),
            lambda _: pause(
                engine,
                invoice=number or None,
                customer=None if number else at.customer,
                until=until,
                reason=reason,
                actor=at.actor,
                now=now(),
                today=at.today,
            ),
        )

    def opt_out_(form: FormData, at: Posting) -> Posted:
        channel = Channel(_choice(form, "channel", "Channel to stop", CHANNELS))
        reason = _text(form, "reason", "Why")
        return Posted((), lambda _: opt_out(engine, at.customer, channel, reason, at.actor, now()))

    def task_done(form: FormData, at: Posting) -> Posted:
        note_text = _text(form, "note", "Your note")
        outcome = _choice(
            form, "outcome", "What the call came to", CALL_OUTCOMES + REVIEW_OUTCOMES, required=False
        )
        tracking = _text(form, "tracking", "Registered-mail number", required=False) or None
        terms = None
        if outcome == PROMISED:
            terms = PromiseTerms(
                _text(form, "promise_invoice", "Which invoice"),
                _date(form, "promise_date", "Will pay by"),
                _amount(form, "promise_amount", "Will pay (amount)"),
            )
        tolerance = console.settings.compliance.tolerance
        task_id = at.task if at.task is not None else -1

        def run(target: Target) -> object:
            if target.task_kind == "call":
                if not outcome:
                    raise InputError("say what the call came to: choose its outcome")
                return log_call(
                    engine,
                    task_id,
                    outcome,
                    note_text,
                    at.actor,
                    now(),
                    promise=terms,
                    made_on=at.today,
                    tolerance=tolerance,
                )
            store = ArtifactStore(console.settings.path(console.settings.evidence.artifact_dir))
            return finish_task(
                engine,
                task_id,
                note_text,
                at.actor,
                now(),
                outcome=outcome or None,
                tracking=tracking,
                artifacts=store,
            )

        return Posted((terms.invoice,) if terms else (), run)

    async def post_note(request: Request) -> Response:
        return await act(request, "note", note)

    async def post_promise(request: Request) -> Response:
        return await act(request, "promise", promise)

    async def post_dispute(request: Request) -> Response:
        return await act(request, "dispute", dispute)

    async def post_pause(request: Request) -> Response:
        return await act(request, "pause", pause_)

    async def post_opt_out(request: Request) -> Response:
        return await act(request, "opt-out", opt_out_)

    async def post_task_done(request: Request) -> Response:
        return await act(request, "task", task_done)

    return [
        Route("/customers/{id}/note", post_note, methods=["POST"]),
        Route("/customers/{id}/promise", post_promise, methods=["POST"]),
        Route("/customers/{id}/dispute", post_dispute, methods=["POST"]),
        Route("/customers/{id}/pause", post_pause, methods=["POST"]),
        Route("/customers/{id}/opt-out", post_opt_out, methods=["POST"]),
        Route("/customers/{id}/tasks/{task}/done", post_task_done, methods=["POST"]),
    ]
