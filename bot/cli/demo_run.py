"""What `dunbot demo` does: the whole job on a generated ledger, in one folder, with nothing to set up.

It writes a config (SQLite, file sinks), generates a sample ledger, imports it, records the demo's
promises and disputes, shows the day's plan and the aging report, and verifies the evidence log.
For the console it creates one user of each role with the fixed demo passwords of
:data:`DEMO_USERS`, turns on ``[web] session_secret_env`` (:data:`DEMO_SECRET_ENV`, its value in
the demo folder's :data:`DEMO_SECRET_FILE`), and prints how to open it with `dunbot web`.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import sys
import time as timer
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import Engine

from bot.cli.config_checks import load_settings
from bot.cli.views.plan import print_plan
from bot.cli.views.reports import print_aging
from bot.cli.views.tables import Table
from bot.config import EXAMPLE_CONFIG, Settings
from bot.domain.calendar import is_business_day
from bot.domain.decisions import DecisionStatus
from bot.store import tables
from bot.store.engine import make_engine

DEMO_ACTOR = "demo"
# The console's demo logins: (name, role, password, language). Fixed and printed so that the README
# can name them: for the demo only (it serves 127.0.0.1), never for production. The collector is
# one of the demo ledger's account managers, so the customers they manage are theirs to work.
DEMO_USERS = (
    ("am3@xinghe.com.cn", "collector", "demo-collector", "zh-CN"),
    ("manager@xinghe.com.cn", "manager", "demo-manager", "zh-CN"),
    ("legal@xinghe.com.cn", "legal", "demo-legal", "en"),
    ("admin@xinghe.com.cn", "admin", "demo-admin", "en"),
)
# [web] session_secret_env of the demo's config, and the file in the demo folder holding its value.
DEMO_SECRET_ENV = "DUNBOT_SESSION_SECRET"
DEMO_SECRET_FILE = "session-secret"
# [inbound] inbox_dir of the demo's config: the customers' replies arrive here as .eml files.
DEMO_INBOX = "inbox"


def demo_date(today: date, country: str) -> date:
    """The demo plans the next business day from ``today`` (inclusive), so something is due."""
    day = today
    while not is_business_day(country, day):
        day += timedelta(days=1)
    return day


def run_demo(directory: Path, as_of: date | None, now: datetime, console: Console) -> None:
    """Generate, import, plan and report; print where everything is."""
    from bot.cli.views.evidence import database_signer_note
    from bot.evidence.anchors import company_anchor
    from bot.evidence.service import verify_database
    from bot.ingest.demo_ledger import generate_demo_ledger
    from bot.ingest.service import ImportDefaults, import_file
    from bot.outreach.collector import record_promise, set_dispute
    from bot.outreach.cycle import run_cycle
    from bot.outreach.outbox import Outcome
    from bot.outreach.planning import preview_plan
    from bot.render.certificate import enable_trial_signing
    from bot.reporting.receivables import aging_report
    from bot.store.migrate import upgrade

    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "dunbot.toml"
    database = directory / "dunbot.db"
    # A demo starts clean every time: same seed, same ledger, same plan.
    for stale in (database, directory / "dunbot.db-wal", directory / "dunbot.db-shm"):
        stale.unlink(missing_ok=True)
    for folder in ("artifacts", "outbox", "signing", "inbox"):
        shutil.rmtree(directory / folder, ignore_errors=True)
    for stale_pack in directory.glob("evidence-*.zip"):
        stale_pack.unlink()
    shutil.copyfile(EXAMPLE_CONFIG, config)
    enable_demo_console(config)
    enable_demo_inbox(config)
    settings = load_settings(config)
    zone = ZoneInfo(settings.company.timezone)
    day = as_of or demo_date(now.astimezone(zone).date(), "CN")
    # The demo acts out its plan day in company time: the ledger arrives at 09:00, the cycle runs at
    # 10:00, customers reply at 12:00 and legal exports a pack at 16:00, so the evidence log reads in
    # order whenever it runs.
    clock_at = datetime.combine(day, time(10, 0), tzinfo=zone)
    arrived, exported = clock_at - timedelta(hours=1), clock_at + timedelta(hours=6)
    # Valid from the earlier of the demo's day and now, and still valid now: notices are signed
    # at the real time, the log's checkpoints at the demo's.
    valid_from = min(now, arrived)
    trial = enable_trial_signing(
        config,
        settings.company.legal_name,
        settings.company.country,
        valid_from,
        valid_days=730 + (now - valid_from).days,
    )
    settings = load_settings(config)
    console.rule(f"[bold]dunbot demo[/] — plan date {day}")

    engine = make_engine(settings.database_url)
    upgrade(engine)
    # Short lines: an 80-column terminal must not fold them mid-phrase.
    console.print(f"1. created {config} and the database {database},")
    console.print(f"   and a self-signed TRIAL signing certificate {trial.pkcs12}")
    console.print("   (for the demo only, never for production)")

    files = generate_demo_ledger(directory / "ledger", day)
    defaults = ImportDefaults(
        country=settings.company.country,
        timezone=settings.company.timezone,
        language=settings.company.language.value,
    )
    console.print(f"2. generated a sample ledger in {directory / 'ledger'} and imported it:")
    for entity, path in (
        ("contracts", files.contracts),
        ("customers", files.customers),
        ("invoices", files.invoices),
        ("payments", files.payments),
    ):
        report = import_file(engine, entity, path, defaults=defaults, now=arrived)
        console.print(f"   {entity:<10} {report.inserted:>4} new   ({path.name})")
    for number, promised_on, amount in files.promises:
        # The broken promise was made before its date, which has passed by the demo's day.
        made_on = min(day, promised_on)
        tolerance = settings.compliance.tolerance
        record_promise(
            engine, number, promised_on, amount, DEMO_ACTOR, arrived, made_on=made_on, tolerance=tolerance
        )
    for number in files.disputes:
        set_dispute(engine, number, True, "customer disputes the delivered quantity", DEMO_ACTOR, arrived)
    console.print(f"   recorded {len(files.promises)} promise(s) to pay and {len(files.disputes)} dispute(s)")
    # The console's users arrive with the ledger: the log reads in order (an export comes last).
    create_demo_users(engine, arrived)
    console.print(f"   and created the console's {len(DEMO_USERS)} users, one of each role (logins below)")

    console.print(f"3. the plan for {day} (`dunbot plan --as-of {day}`):")
    preview = preview_plan(engine, settings, day)
    print_plan(preview, limit=25)
    _print_plan_summary(preview, console)

    console.print(f"4. a cycle (`dunbot cycle --as-of {day}`) at 10:00 {settings.company.timezone}:")
    cycle = asyncio.run(run_cycle(engine, settings, day, clock=_running_from(clock_at), exclusive=True))
    _print_cycle_summary(engine, preview, day, console)
    held = cycle.stats.outcomes.get(Outcome.HELD, 0)
    if held:
        console.print(
            f"   {held} message(s) wait for the recipient's contact window "
            f"({settings.compliance.window} local time); `dunbot run` sends them when it opens"
        )
    for label, folder, pattern in (
        ("e-mails (.eml)", settings.email.drop_dir, "*.eml"),
        ("SMS (.json)", settings.sms.drop_dir, "*.json"),
        ("letters for the mailroom", settings.letter.queue_dir, "*.pdf"),
    ):
        path = settings.path(folder)
        count = sum(1 for _ in path.glob(pattern))
        where = f"{path} (with manifest.jsonl)" if pattern == "*.pdf" and count else str(path)
        console.print(f"   {label:<26} {count:>4} file(s) in {where}")

    _print_notices(engine, settings, day, console)
    _demo_replies(engine, settings, day, clock_at + timedelta(hours=2), console)

    console.print(f"6. aging as of {day} (`dunbot report aging --as-of {day}`):")
    print_aging(aging_report(engine, settings, day))

    anchor, unanchored_why = company_anchor(settings)
    verification = verify_database(
        engine,
        settings.path(settings.evidence.artifact_dir),
        trust=anchor or (),
        unanchored_why=unanchored_why,
        witness=settings.witness_dir,
    )
    status = "[green]verified[/]" if verification.ok else "[red]FAILED[/]"
    console.print(
        f"7. evidence log: {verification.log.events_checked} event(s), "
        f"{verification.log.artifacts_checked} artifact(s) and {verification.checkpoints_checked} signed "
        f"checkpoint(s), {status} (`dunbot evidence verify --db`)"
    )
    console.print(
        f"   witness {settings.witness_dir}: {verification.insider.witnessed} checkpoint(s) kept outside "
        "the database; the log was checked to extend each (RFC 9162 consistency proofs)",
        highlight=False,
    )
    console.print(f"   {escape(database_signer_note(verification))}", highlight=False)
    pack = _export_demo_pack(engine, settings, day, exported, directory, console)
    console.rule()
    run = dunbot_command(directory)
    console.print(
        f"Everything is in {directory.resolve()}. Try:\n"
        f"  cd {directory}\n"
        f"  {run} tasks                      # collector work: calls, reviews, approvals\n"
        f"  {run} log --customer <ID>        # every contact with one customer\n"
        f"  {run} cycle --as-of {day} --dry-run\n"
        f"  {run} report kpi --as-of {day} --json\n"
        f"  {run} evidence verify --db\n"
        + (f"  {run} evidence verify {pack.name}        # the evidence pack, offline\n" if pack else "")
    )
    _print_console(directory, run, settings, console)


def enable_demo_console(config: Path) -> str:
    """Name :data:`DEMO_SECRET_ENV` as ``[web] session_secret_env`` in the demo's ``config`` and write
    a new random value for it to :data:`DEMO_SECRET_FILE` beside it (readable by its owner only)."""
    text = config.read_text(encoding="utf-8")
    line = f'session_secret_env = "{DEMO_SECRET_ENV}"   # the demo: its value is in {DEMO_SECRET_FILE}'
    text, found = re.subn(r"(?m)^#?\s*session_secret_env\s*=.*$", line, text, count=1)
    if not found:
        text = text.replace("[web]\n", f"[web]\n{line}\n", 1)
    config.write_text(text, encoding="utf-8")
    value = secrets.token_urlsafe(32)
    secret_file = config.parent / DEMO_SECRET_FILE
    secret_file.unlink(missing_ok=True)
    secret_file.touch(mode=0o600)
    secret_file.write_text(value + "\n", encoding="utf-8")
    return value


def enable_demo_inbox(config: Path) -> None:
    """Turn on ``[inbound] inbox_dir = "inbox"`` in the demo's ``config``: replies are .eml files there."""
    text = config.read_text(encoding="utf-8")
    line = f'inbox_dir = "{DEMO_INBOX}"   # the demo: replies are .eml files here (`dunbot inbound poll`)'
    text, found = re.subn(r"(?m)^#\s*inbox_dir\s*=.*$", line, text, count=1)
    if not found:
        text += f"\n[inbound]\n{line}\n"
    config.write_text(text, encoding="utf-8")


def _demo_replies(engine: Engine, settings: Settings, day: date, at: datetime, console: Console) -> None:
    """Step 5: a few customers answer the e-mails just sent; dunbot reads and acts; the next day's
    plan shows the ladder reacting."""
    from bot.cli.demo_replies import write_demo_replies
    from bot.outreach.planning import preview_plan
    from bot.replies.fetch import fetch_pass
    from bot.replies.handling import handle_pending

    inbox = settings.path(DEMO_INBOX)
    written = write_demo_replies(settings.path(settings.email.drop_dir), inbox, engine, at)
    if not written:
        console.print("5. no e-mail went out today, so no customer replied")
        return
    console.print(f"5. {len(written)} customers replied at {at.strftime('%H:%M')}, into {inbox};")
    console.print("   `dunbot inbound poll` read the replies and acted:")
    fetch_pass(engine, settings, at)
    summary = handle_pending(engine, settings, at, owner=DEMO_ACTOR)
    inbound_t = tables.InboundMessage.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(sa.select(inbound_t).order_by(inbound_t.c.id)).all()
    table = Table(show_edge=False, pad_edge=False)
    for column in ("reply", "customer", "kind", "sure", "what dunbot did"):
        table.add_column(column, overflow="fold")
    for row in rows:
        action = row.action or (
            "waits for a collector (`dunbot reply list`)" if row.state == "confirm" else ""
        )
        table.add_row(
            str(row.id), row.customer_id or "?", row.kind or "", f"{row.confidence or 0:.2f}", action
        )
    console.print(table)
    console.print(
        f"   {summary.handled} acted on, {summary.confirm} for a collector to confirm;", highlight=False
    )
    console.print("   each reply is evidence (`dunbot log --customer <ID>`)", highlight=False)
    customers = {row.customer_id for row in rows if row.customer_id}
    following = demo_date(day + timedelta(days=1), "CN")
    preview = preview_plan(engine, settings, following)
    theirs = [
        d for d in preview.decisions if d.customer in customers and d.status is not DecisionStatus.SUPERSEDED
    ]
    console.print(f"   the ladder reacts: their invoices in the plan for {following}:")
    if not theirs:
        console.print("   no step for them: promised, disputed, paused or opted out", highlight=False)
        return
    plan = Table(show_edge=False, pad_edge=False)
    for column in ("invoice", "customer", "step", "status", "reason"):
        plan.add_column(column, overflow="fold")
    for decision in theirs:
        plan.add_row(
            decision.invoice, decision.customer, decision.step, decision.status.value, decision.reason
        )
    console.print(plan)


def create_demo_users(engine: Engine, now: datetime) -> None:
    """The console's users of :data:`DEMO_USERS`, one of each role."""
    from bot.access.users import add_user

    for name, role, password, language in DEMO_USERS:
        add_user(engine, name, role, password, actor=DEMO_ACTOR, now=now, language=language)


def _print_console(directory: Path, run: str, settings: Settings, console: Console) -> None:
    where = settings.web.public_url or f"http://{settings.web.listen}"
    console.print(
        f"The console (`dunbot web`; `dunbot run` serves it too and needs the same export):\n"
        f"  cd {directory}\n"
        f'  export {DEMO_SECRET_ENV}="$(cat {DEMO_SECRET_FILE})"\n'
        f"  {run} web\n"
        f"then open {where}/login and log in as\n"
        f"(demo passwords, for the demo only, never for production):",
        highlight=False,
    )
    for name, role, password, language in DEMO_USERS:
        console.print(f"  {role:<10} {name:<24} {password:<16} ({language})", highlight=False)


def dunbot_command(directory: Path) -> str:
    """How to call this dunbot from ``directory``: ``dunbot`` when it is the one on PATH, else its path.

    Relative (``../.venv/bin/dunbot``) when the demo folder sits beside the install, as ``make demo``
    has it; absolute when dunbot is installed elsewhere (its own folder, a system venv).
    """
    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if script is None or script.name != "dunbot" or not script.exists():
        script = Path(sys.executable).with_name("dunbot")
    on_path = shutil.which("dunbot")
    if on_path is not None and Path(on_path).resolve() == script:
        return "dunbot"
    try:
        relative = Path(os.path.relpath(script, directory.resolve()))
    except ValueError:  # another drive (Windows)
        return str(script)
    return str(relative) if str(relative).startswith("../.venv") else str(script)


def _export_demo_pack(
    engine: Engine, settings: object, day: date, now: datetime, directory: Path, console: Console
) -> Path | None:
    """Export the evidence pack of the customer sent the most messages and verify it, as legal would."""
    import sqlalchemy as sa

    from bot.evidence.pack import export_pack
    from bot.evidence.pack_verify import verify_pack

    assert isinstance(settings, Settings)
    with engine.connect() as connection:
        busiest = connection.execute(
            sa.text(
                "SELECT customer FROM evidence_event WHERE customer IS NOT NULL AND kind = 'message_sent' "
                "GROUP BY customer ORDER BY count(*) DESC, customer LIMIT 1"
            )
        ).scalar()
    if busiest is None:
        console.print("8. no message was sent, so there is no evidence pack to export")
        return None
    out = directory / f"evidence-{busiest}.zip"
    report = export_pack(engine, settings, customer=busiest, invoice=None, out=out, actor=DEMO_ACTOR, now=now)
    verification = verify_pack(out)
    failure = verification.failures[0] if verification.failures else None
    status = "[green]verified offline[/]" if verification.ok else f"[red]FAILED: {failure}[/]"
    command = f"dunbot evidence export --customer {busiest} --out {out.name}"
    console.print(f"8. the evidence pack of customer {busiest} (`{command}`):")
    console.print(
        f"   {report.events} event(s), {report.artifacts} artifact(s), {report.size / 1024:,.0f} KB "
        f"in {out}, checkpoint {report.checkpoint.id} of {report.checkpoint.tree_size} events: {status}"
    )
    console.print(f"   {escape(verification.signer_note)}", highlight=False)
    return out


def _print_notices(engine: Engine, settings: object, day: date, console: Console) -> None:
    """How many signed notices the cycle made, and one of them verified as `dunbot notice verify` does."""
    import sqlalchemy as sa

    from bot.evidence.artifacts import ArtifactStore
    from bot.render.verification import verify_notice_bytes

    assert isinstance(settings, Settings)
    from bot.render.fonts import find_cjk_font

    if find_cjk_font() is None:
        console.print(
            "   [yellow]this system has no TrueType CJK font, so the zh-CN signed notices were refused[/] "
            "(their messages failed with a review task; `dunbot tasks` lists them). Install one "
            "(apt install fonts-wqy-zenhei) and run the demo again."
        )
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT reference, sha256, language FROM notice WHERE business_date = :day ORDER BY id"),
            {"day": day},
        ).all()
    if not rows:
        console.print("   no signed notices were due today")
        return
    languages = Counter(row.language for row in rows)
    spread = ", ".join(f"{n} {language}" for language, n in sorted(languages.items()))
    console.print(
        f"   {len(rows)} signed PDF notice(s) ({spread}), attached to e-mails and queued as letters"
    )
    letters = settings.path(settings.letter.queue_dir)
    sample = next(
        (letters / f"{row.reference}.pdf" for row in rows if (letters / f"{row.reference}.pdf").exists()),
        None,
    )
    store = ArtifactStore(settings.path(settings.evidence.artifact_dir))
    data = sample.read_bytes() if sample else store.get(rows[0].sha256)
    report = verify_notice_bytes(data, str(sample or rows[0].reference))
    verdict = "[green]signed, intact, whole file covered[/]" if report.ok else f"[red]{report.problems}[/]"
    console.print(f"   checked {sample or rows[0].reference}: {verdict}")
    if sample:
        console.print(f"   (`dunbot notice verify {sample}`; `pdfsig` reads it too)")


def _print_plan_summary(preview: object, console: Console) -> None:
    from bot.outreach.planning import PlanPreview

    assert isinstance(preview, PlanPreview)
    counts: Counter[tuple[str, str, str]] = Counter(
        (d.tier.value, d.step, d.status.value) for d in preview.decisions
    )
    table = Table(title="Decisions per tier and step")
    for column in ("tier", "step", "status", "invoices"):
        table.add_column(column, justify="right" if column == "invoices" else "left")
    for (tier, step, status), n in sorted(counts.items()):
        table.add_row(tier, step, status, str(n))
    console.print(table)


def _print_cycle_summary(engine: Engine, preview: object, day: date, console: Console) -> None:
    """Messages of the day by tier, step, channel and state."""
    import sqlalchemy as sa

    from bot.outreach.planning import PlanPreview

    assert isinstance(preview, PlanPreview)
    tier_of = {plan.customer: plan.assessment.tier.value for plan in preview.plans if plan.assessment}
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT customer_id, step, channel, state FROM message WHERE business_date = :day"),
            {"day": day},
        ).all()
    # A task "sent" is a work item handed to a collector: say so.
    counts: Counter[tuple[str, str, str, str]] = Counter(
        (
            tier_of.get(r.customer_id, "?"),
            r.step,
            r.channel,
            "created" if r.channel == "task" and r.state == "sent" else r.state,
        )
        for r in rows
    )
    table = Table(title=f"Messages of {day} per tier and step")
    for column in ("tier", "step", "channel", "state", "messages"):
        table.add_column(column, justify="right" if column == "messages" else "left")
    for (tier, step, channel, state), n in sorted(counts.items()):
        table.add_row(tier, step, channel, state, str(n))
    console.print(table)


def _running_from(start: datetime) -> Callable[[], datetime]:
    """A clock that reads ``start`` now and then runs as time does: the demo's cycle happens at 10:00
    on the plan date, and `dunbot status` still shows how long it really took."""
    origin = timer.monotonic()
    return lambda: start + timedelta(seconds=timer.monotonic() - origin)
