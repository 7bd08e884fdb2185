"""`dunbot run`: the daemon. The only module that imports APScheduler.

APScheduler only ticks; no business state lives in its job store (DESIGN §5). Each tick runs one
cycle; a tick missed while the process was down or busy is not replayed (``coalesce``, a short
misfire grace): the next cycle recomputes everything from the database anyway. SIGTERM or SIGINT
stops claiming, lets the messages in flight finish, gives back the rest and exits 0.

Besides the cron tick there is one ``date`` job, "wake": after each cycle and each wake-up (and at
start) it is set to the instant the earliest waiting message comes due (``next_attempt_at``: a
recipient's window opens, a retry), and it runs a send-only drain. So a customer in New York is
reached inside its window on the same business day, although the tick runs at 09:00 in Shanghai.
The messages and their times stay in the database; the job holds only the instant. What the jobs
do lives in :class:`DaemonJobs`, which the tests drive with their own clock.

When ``[inbound]`` names a mailbox, an "inbound" interval job polls it every ``poll_seconds`` (and
once at start): the replies are recorded and moved out of the mailbox (:mod:`bot.replies.fetch`).

Cron expressions are standard crontab (``0 9 * * 1-5`` = 09:00 Monday to Friday). APScheduler 3
numbers weekdays from Monday = 0, so numeric weekdays are translated to names first; without that,
``1-5`` would run Tuesday to Saturday.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.errors import ConfigError, DunbotError
from bot.outreach.preflight import require_ready
from bot.replies.fetch import FetchReport, fetch_pass, inbound_configured

if TYPE_CHECKING:
    from bot.channels.base import Sender
    from bot.domain.ledger import Channel
    from bot.outreach.cycle import CycleReport

log = logging.getLogger(__name__)

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DOW_ITEM = re.compile(r"(\*|[0-7]|[a-z]{3})(?:-([0-7]|[a-z]{3}))?")


def _weekday_names(field: str) -> str:
    """Standard cron weekdays (0 or 7 = Sunday) as APScheduler names: "1-5" -> "mon-fri"."""
    items = []
    for item in field.lower().split(","):
        match = _DOW_ITEM.fullmatch(item)
        if not match:
            raise ValueError(f"day-of-week {item!r} is not supported: use 0-7, names (mon) or ranges (1-5)")
        start, end = match.groups()
        name = _DAY_NAMES[int(start)] if start.isdigit() else start
        if end is None:
            items.append(name)
        else:
            last = _DAY_NAMES[int(end)] if end.isdigit() else end
            if start.isdigit() and end.isdigit() and int(end) == 7 and int(start) > 0:
                items.append(f"{name}-sat,sun")  # "5-7": Friday to Sunday
            else:
                items.append(f"{name}-{last}")
    return ",".join(items)


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """A trigger for a standard five-field crontab expression in ``timezone``."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError("cron takes five fields: minute hour day month weekday")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekday_names(weekday),
        timezone=ZoneInfo(timezone),
    )


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a usable cron expression, or None (for config validation)."""
    try:
        cron_trigger(expression, "UTC")
    except ValueError as exc:
        return str(exc)
    return None


def next_runs(expression: str, timezone: str, after: datetime, count: int = 3) -> list[datetime]:
    """The next ``count`` ticks after ``after`` (shown when the daemon starts)."""
    trigger = cron_trigger(expression, timezone)
    runs: list[datetime] = []
    previous: datetime | None = None
    moment = after
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, moment)
        if fire is None:
            break
        runs.append(fire)
        previous, moment = fire, fire
    return runs


class DaemonJobs:
    """What the daemon's jobs do, apart from APScheduler: a cycle per tick, a send-only drain per wake-up.

    After each (and at start, :meth:`plan_wake`) ``wake_at`` is told when the earliest waiting
    message comes due, or None; :func:`run_daemon` turns that into the one "wake" date job. Only one
    of them works at a time (``busy``): a tick waits for a wake-up's drain to finish; a wake-up that
    finds the daemon busy leaves the work to it, as whoever held ``busy`` plans the next wake-up
    after letting go.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        exclusive: bool,
        clock: Callable[[], datetime],
        senders: dict[Channel, Sender],
        stop: asyncio.Event,
        wake_at: Callable[[datetime | None], None],
        config_file: str = "dunbot.toml",
    ) -> None:
        self.engine = engine
        self.config_file = config_file
        self.settings = settings
        self.exclusive = exclusive
        self.clock = clock
        self.senders = senders
        self.stop = stop
        self.wake_at = wake_at
        self.timezone = settings.schedule.timezone or settings.company.timezone
        self.busy = asyncio.Lock()
        self._cycle_running = False

    def today(self) -> date:
        """The business date of the schedule's time zone now: the date a tick plans."""
        return self.clock().astimezone(ZoneInfo(self.timezone)).date()

    async def tick(self) -> CycleReport | None:
        """One cycle (sync, plan, send) for today; None when it failed or a cycle was still running."""
        from bot.outreach.cycle import log_report, run_cycle

        if self._cycle_running:
            log.warning("previous cycle still running; this tick is skipped")
            return None
        self._cycle_running = True
        report: CycleReport | None = None
        try:
            async with self.busy:
                _log_certificate_validity(self.settings, self.clock())
                as_of = self.today()
                report = await self._checked(f"cycle {as_of}", run_cycle, as_of)
                if report is not None:
                    log_report(log, report)
            if report is not None:  # outside `busy`: wake-ups may send while it is computed
                await self.refresh_dashboard(as_of)
        finally:
            # Also after an error no job expected (a lost database connection): the waiting
            # messages keep their wake-up, after the backoff, instead of waiting for the next tick.
            self._cycle_running = False
            self.plan_wake(failed=report is None)
        return report

    async def refresh_dashboard(self, as_of: date) -> None:
        """Store the console's dashboard after a cycle (the page reads it instead of computing it);
        a failure is logged, the daemon goes on."""
        from bot.reporting.dashboard import refresh_dashboard

        try:
            await asyncio.to_thread(refresh_dashboard, self.engine, self.settings, as_of, self.clock())
        except (DunbotError, SQLAlchemyError):
            log.exception("the console's dashboard was not refreshed after the cycle for %s", as_of)

    async def wake(self) -> CycleReport | None:
        """Send what has come due since (no planning); None when busy or it failed."""
        from bot.outreach.cycle import send_due

        if self.busy.locked():
            return None
        report: CycleReport | None = None
        try:
            async with self.busy:
                report = await self._checked("sending the messages due", send_due, self.today())
                if report is not None:
                    outcomes = ", ".join(f"{n} {o.value}" for o, n in sorted(report.stats.outcomes.items()))
                    log.info("woke to send: %s", outcomes or "nothing due")
        finally:
            self.plan_wake(failed=report is None)
        return report

    async def _checked(
        self, what: str, job: Callable[..., Awaitable[CycleReport]], as_of: date
    ) -> CycleReport | None:
        # The cycle's preflight first (secrets, certificate, templates): a job that lacks one of
        # them writes nothing, says what is missing, and the next tick or wake-up checks again.
        try:
            require_ready(self.settings, self.config_file)
            return await job(
                self.engine,
                self.settings,
                as_of,
                clock=self.clock,
                exclusive=self.exclusive,
                senders=self.senders,
                stop=self.stop,
            )
        except DunbotError as exc:
            problems = exc.problems if isinstance(exc, ConfigError) else []
            log.error("%s failed: %s", what, "; ".join([str(exc), *problems]))
            return None

    async def poll_inbound(self) -> FetchReport | None:
        """One pass over the reply mailbox (every ``[inbound] poll_seconds``); None when it failed.

        A mailbox that cannot be reached or a refused login is logged; the next poll tries again.
        Fetching does not wait for ``busy`` (recording replies touches no row a cycle writes); acting
        on them (:func:`bot.replies.handling.handle_pending`) does.
        """
        if self.stop.is_set():
            return None
        now = self.clock()
        try:
            report = await asyncio.to_thread(
                fetch_pass, self.engine, self.settings, now, should_stop=self.stop.is_set
            )
        except DunbotError as exc:
            problems = exc.problems if isinstance(exc, ConfigError) else []
            log.error("polling the reply mailbox failed: %s", "; ".join([str(exc), *problems]))
            return None
        except SQLAlchemyError:
            log.exception("polling the reply mailbox failed on the database; the next poll tries again")
            return None
        from bot.outreach.cycle import worker_name
        from bot.replies.handling import handle_pending

        # Acting on replies changes invoices (promises, disputes, pauses) and messages (bounces) that a
        # cycle reads and writes: the handle pass waits for `busy`, so it never runs beside a drain.
        try:
            async with self.busy:
                summary = await asyncio.to_thread(
                    handle_pending, self.engine, self.settings, self.clock(), owner=worker_name()
                )
        except DunbotError as exc:
            log.error("acting on replies failed: %s", exc)
        except SQLAlchemyError:
            log.exception("acting on replies failed on the database; the next poll tries again")
        else:
            if summary.total:
                log.info(
                    "replies: %d acted on, %d for a collector to confirm, %d to retry, %d failed",
                    summary.handled,
                    summary.confirm,
                    summary.retried,
                    summary.failed,
                )
        return report

    def plan_wake(self, *, failed: bool = False) -> datetime | None:
        """Tell ``wake_at`` when the earliest waiting message comes due (None: nothing waits).

        After a failed cycle or wake-up, not before ``[outreach] retry_backoff_seconds``: messages
        that are due would otherwise wake a drain that fails again at once, in a loop.
        """
        from bot.outreach.cycle import next_send_at

        if self.stop.is_set():
            return None
        now = self.clock()
        try:
            when = next_send_at(self.engine, self.today(), now)
        except SQLAlchemyError:
            # The next tick plans again; a database hiccup here must not take the daemon down.
            log.exception("could not read when the next waiting message is due")
            return None
        if when is not None and failed:
            when = max(when, now + timedelta(seconds=self.settings.outreach.retry_backoff_seconds))
        self.wake_at(when)
        if when is not None:
            log.info("next waiting message due at %s", when.isoformat(timespec="minutes"))
        return when


async def run_daemon(
    engine: Engine,
    settings: Settings,
    *,
    exclusive: bool,
    clock: Callable[[], datetime],
    on_start: Callable[[list[datetime]], None] | None = None,
    config_file: str = "dunbot.toml",
) -> None:
    """Tick cycles on the configured cron until SIGTERM/SIGINT; serve the web app alongside.

    Each tick and wake-up first checks what sending needs (``config_file`` names the config in its
    messages): one that finds a problem logs it and writes nothing; the next one checks again.
    """
    from bot.outreach.cycle import build_senders

    tz = settings.schedule.timezone or settings.company.timezone
    try:
        trigger = cron_trigger(settings.schedule.cron, tz)
    except ValueError as exc:
        raise ConfigError(f"schedule.cron: {exc}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    senders = build_senders(settings)
    scheduler = AsyncIOScheduler(timezone=ZoneInfo(tz))

    def wake_at(when: datetime | None) -> None:
        if when is None:
            with contextlib.suppress(JobLookupError):
                scheduler.remove_job("wake")
            return
        # No misfire limit: a wake-up that fires late (the loop was busy) still sends. Two instances
        # may overlap for a moment (the one ending plans the next); DaemonJobs keeps them apart.
        scheduler.add_job(
            jobs.wake,
            DateTrigger(run_date=when),
            id="wake",
            replace_existing=True,
            coalesce=True,
            max_instances=2,
            misfire_grace_time=None,
        )

    jobs = DaemonJobs(
        engine,
        settings,
        exclusive=exclusive,
        clock=clock,
        senders=senders,
        stop=stop,
        wake_at=wake_at,
        config_file=config_file,
    )

    async def hourly_checkpoint() -> None:
        # A coroutine, so that it runs on this loop (a plain function would run in a worker thread).
        await checkpoint_tick(engine, settings, clock, jobs.busy)

    scheduler.add_job(jobs.tick, trigger, id="cycle", coalesce=True, max_instances=1, misfire_grace_time=30)
    scheduler.add_job(
        hourly_checkpoint,
        CronTrigger(minute=0, timezone=ZoneInfo(tz)),
        id="checkpoint",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=300,
    )
    if inbound_configured(settings):
        scheduler.add_job(
            jobs.poll_inbound,
            IntervalTrigger(seconds=settings.inbound.poll_seconds, timezone=ZoneInfo(tz)),
            id="inbound",
            next_run_time=clock(),  # the first poll at start: replies that came while it was down
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
    jobs.plan_wake()  # messages left waiting by the last run (or due while it was down)
    web_task = _start_web(engine, settings, clock, stop)
    scheduler.start()
    if on_start is not None:
        on_start(next_runs(settings.schedule.cron, tz, clock()))
    try:
        await stop.wait()
        log.info("stop requested: the messages in flight finish, the rest wait for the next cycle")
        async with jobs.busy:  # the cycle in flight finishes its messages (it saw `stop`) before we leave
            pass
    finally:
        scheduler.shutdown(wait=False)
        if web_task is not None:
            await web_task
        for sender in senders.values():
            await sender.aclose()


def _log_certificate_validity(settings: Settings, now: datetime) -> None:
    # Unattended, nobody runs check-config: every cycle says when the signing certificate runs out
    # (its last 30 days), or that it has run out and signed steps and letters go to review tasks.
    from bot.render.signing import company_certificate_note

    note = company_certificate_note(settings, now)
    if note is not None:
        fatal, text = note
        (log.error if fatal else log.warning)("%s", text)


async def checkpoint_tick(
    engine: Engine, settings: Settings, clock: Callable[[], datetime], busy: asyncio.Lock
) -> object | None:
    """The daemon's hourly job: a signed checkpoint of the log, unless a cycle (which makes one) runs."""
    from bot.evidence.service import checkpoint_now

    if busy.locked():
        return None
    made = checkpoint_now(engine, settings, clock(), "hourly")
    if made is not None:
        log.info("evidence checkpoint %s: %s events", made.id, made.tree_size)
    return made


def _start_web(
    engine: Engine, settings: Settings, clock: Callable[[], datetime], stop: asyncio.Event
) -> asyncio.Task[None] | None:
    try:
        from bot.web.app import app_from_settings
        from bot.web.server import serve
    except ImportError:  # pragma: no cover - the web package ships with dunbot
        return None

    # The console too when [web] session_secret_env is set (bot.web.app.app_from_settings).
    app = app_from_settings(engine, settings, clock, require_console=False)
    return asyncio.create_task(serve(app, settings.web.listen, stop, freeze_heap=True))
