"""`dunbot run`: the daemon. The only module that imports APScheduler.

APScheduler only ticks; no business state lives in its job store (DESIGN §5). Each tick runs one
cycle; a tick missed while the process was down or busy is not replayed (``coalesce``, a short
misfire grace): the next cycle recomputes everything from the database anyway. SIGTERM or SIGINT
stops claiming, lets the messages in flight finish, gives back the rest and exits 0.

Cron expressions are standard crontab (``0 9 * * 1-5`` = 09:00 Monday to Friday). APScheduler 3
numbers weekdays from Monday = 0, so numeric weekdays are translated to names first; without that,
``1-5`` would run Tuesday to Saturday.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.errors import ConfigError, DunbotError

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

    Each tick first checks what the cycle needs (``config_file`` names the config in its messages):
    a tick that finds a problem logs it and writes nothing; the next tick checks again.
    """
    from bot.outreach.cycle import build_senders, log_report, run_cycle
    from bot.outreach.preflight import require_ready

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
    busy = asyncio.Lock()

    async def tick() -> None:
        if busy.locked():
            log.warning("previous cycle still running; this tick is skipped")
            return
        async with busy:
            _log_certificate_validity(settings, clock())
            as_of: date = clock().astimezone(ZoneInfo(tz)).date()
            try:
                require_ready(settings, config_file)
                report = await run_cycle(
                    engine, settings, as_of, clock=clock, exclusive=exclusive, senders=senders, stop=stop
                )
            except DunbotError as exc:
                problems = exc.problems if isinstance(exc, ConfigError) else []
                log.error("cycle %s failed: %s", as_of, "; ".join([str(exc), *problems]))
                return
            log_report(log, report)

    async def hourly_checkpoint() -> None:
        # A coroutine, so that it runs on this loop (a plain function would run in a worker thread).
        await checkpoint_tick(engine, settings, clock, busy)

    scheduler = AsyncIOScheduler(timezone=ZoneInfo(tz))
    scheduler.add_job(tick, trigger, id="cycle", coalesce=True, max_instances=1, misfire_grace_time=30)
    scheduler.add_job(
        hourly_checkpoint,
        CronTrigger(minute=0, timezone=ZoneInfo(tz)),
        id="checkpoint",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=300,
    )
    web_task = _start_web(engine, settings, clock, stop)
    scheduler.start()
    if on_start is not None:
        on_start(next_runs(settings.schedule.cron, tz, clock()))
    try:
        await stop.wait()
        log.info("stop requested: the messages in flight finish, the rest wait for the next cycle")
        async with busy:  # the cycle in flight finishes its messages (it saw `stop`) before we leave
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
        from bot.web.app import make_app
        from bot.web.server import serve
    except ImportError:  # pragma: no cover - the web package ships with dunbot
        return None
    from bot.config import secret
    from bot.evidence.artifacts import ArtifactStore

    token = ""
    if settings.sms.transport == "twilio":
        token = secret(settings.sms.auth_token_env, "sms.auth_token_env")
    app = make_app(
        engine,
        auth_token=token,
        public_url=settings.sms.status_callback_url,
        artifacts=ArtifactStore(settings.path(settings.evidence.artifact_dir)),
        clock=clock,
        max_cycle_age=timedelta(hours=settings.web.ready_after_hours),
    )
    return asyncio.create_task(serve(app, settings.web.listen, stop))
