"""Sending through the full outbox against a bare client loop, in one run (issue 3).

    .venv/bin/python bench/send.py [--messages 5000] [--concurrency 8] [--only email|sms]
                                   [--db sqlite|postgres]

For e-mail, 5,000 messages go to a local aiosmtpd server (its own process, so it does not share the
GIL with the client) twice: once through a bare aiosmtplib loop (``concurrency`` connections, each
sending its share of pre-built messages back to back), once through dunbot's outbox (claim, fresh
re-check, render, ``sending`` committed before the call, the send, ``sent`` with an evidence event and
the raw message stored as an artifact). The SMS half does the same against the Twilio-compatible test
server with the official ``twilio`` client: bare ``messages.create`` from ``concurrency`` threads
against the outbox. Planning (writing the messages) is not timed; the target is full ≤ 1.5 × bare.

``--parts`` also times, one at a time in this process, what the outbox must do for each message besides
the provider call: render its templates (Jinja2, sandboxed, with the banned-phrase check), serialise the
e-mail (MIME), and record its ``message_sent`` evidence event in a durable turn of four. Beside the bare
loop's cost per message this shows how much of a 1.5 × budget each part takes alone.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import pg_url, reset_schema, use_schema
from bench.ledgers import LedgerSpec, Segment, generate, insert_rows
from bench.send_servers import smtp_server, start, twilio_server
from bot.config import ComplianceSettings, EmailSettings, EvidenceSettings, OutreachSettings, Settings
from bot.domain.ledger import Channel
from bot.evidence.artifacts import ArtifactStore
from bot.outreach.outbox import Outbox, Outcome
from bot.outreach.planning import record_plan
from bot.store.engine import make_engine
from bot.store.migrate import upgrade

AS_OF = date(2026, 6, 10)  # a Wednesday, a working day in China
NOON = datetime(2026, 6, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai: inside the contact window
FROM = "ar@xinghe.com.cn"


@dataclass
class Result:
    channel: str
    messages: int
    bare: float
    full: float
    received: int

    @property
    def ratio(self) -> float:
        return self.full / self.bare


# --- the database --------------------------------------------------------------------------------


def ledger_spec(messages: int, channel: str) -> LedgerSpec:
    """One cooperative customer per message, one invoice of 12,500.00 each: due in 7 days for e-mail
    (pre_due_reminder, an e-mail without a signed notice: signing is bench/notices.py's), 3 days
    overdue for SMS (overdue_sms)."""
    return LedgerSpec(
        segments=(Segment(messages, tier="cooperative", days_overdue=-7 if channel == "email" else 3),),
        as_of=AS_OF,
        customer_id="C{n:06d}",
        name="客户{n:06d}贸易有限公司",
        email="ap{n}@customer{n}.com.cn",
        invoice_number="INV-{n:06d}",
        amount=12_500,
    )


def _database(url: str | None, folder: Path, messages: int, channel: str) -> sa.Engine:
    engine = make_engine(url or f"sqlite:///{folder / 'bench.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        insert_rows(connection, generate(ledger_spec(messages, channel)))
    return engine


def _settings(folder: Path, concurrency: int, port: int) -> Settings:
    return Settings(
        email=EmailSettings(transport="smtp", host="127.0.0.1", port=port, starttls=False, from_address=FROM),
        evidence=EvidenceSettings(artifact_dir=str(folder / "artifacts")),
        compliance=ComplianceSettings(window="00:00-23:59", max_messages_per_7d=10),
        outreach=OutreachSettings(concurrency=concurrency, batch_size=max(50, concurrency * 4)),
        base_dir=folder,
    )


def _full(engine: sa.Engine, settings: Settings, senders: dict[Channel, Any]) -> tuple[float, int]:
    record_plan(engine, settings, AS_OF, NOON)
    outbox = Outbox(
        engine,
        settings,
        senders,
        ArtifactStore(settings.path("artifacts")),
        worker="bench",
        clock=lambda: NOON,
    )

    async def go() -> tuple[float, int]:
        started = time.perf_counter()
        stats = await outbox.drain(AS_OF)
        elapsed = time.perf_counter() - started
        for sender in senders.values():
            await sender.aclose()
        return elapsed, stats.outcomes.get(Outcome.SENT, 0)

    try:
        return asyncio.run(go())
    finally:
        outbox.close()


# --- e-mail ----------------------------------------------------------------------------------------


def _bare_email(port: int, messages: int, concurrency: int) -> float:
    import aiosmtplib

    def build(i: int) -> bytes:
        email = EmailMessage(policy=SMTP)
        email["From"], email["To"] = FROM, f"ap{i}@customer{i}.com.cn"
        email["Subject"] = "应收账款对账单"
        email["Message-ID"] = f"<bare.{i}@xinghe.com.cn>"
        email.set_content("尊敬的客户：贵司以下款项已到期……\n" * 12)
        email.add_alternative("<p>尊敬的客户：贵司以下款项已到期……</p>" * 12, subtype="html")
        return email.as_bytes()

    raw = [build(i) for i in range(messages)]

    async def worker(share: list[int]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for i in share:
            await client.sendmail(FROM, [f"ap{i}@customer{i}.com.cn"], raw[i])
        await client.quit()

    async def main() -> None:
        await asyncio.gather(*(worker(list(range(k, messages, concurrency))) for k in range(concurrency)))

    started = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - started


def bench_email(messages: int, concurrency: int, db_url: str | None) -> Result:
    from bot.channels.smtp import SmtpSender

    process, port, count = start(smtp_server)
    try:
        bare = _bare_email(port, messages, concurrency)
        with tempfile.TemporaryDirectory() as folder:
            engine = _database(db_url, Path(folder), messages, "email")
            settings = _settings(Path(folder), concurrency, port)
            sender = SmtpSender(
                host="127.0.0.1",
                port=port,
                starttls=False,
                username=None,
                password=None,
                from_address=FROM,
                timeout=30.0,
                connections=concurrency,
            )
            full, sent = _full(engine, settings, {Channel.EMAIL: sender})
            engine.dispose()
        if sent != messages:
            raise SystemExit(f"the outbox sent {sent} of {messages} e-mails")
        return Result("email", messages, bare, full, count.value)
    finally:
        process.terminate()


# --- SMS -------------------------------------------------------------------------------------------


def bench_sms(messages: int, concurrency: int, db_url: str | None) -> Result:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    from bot.channels.twilio import TwilioSmsSender
    from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN

    process, _, port = start(twilio_server)
    base = f"http://127.0.0.1:{port.value}"

    class Rewrite(TwilioHttpClient):  # type: ignore[misc]
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            return super().request(method, url.replace("https://api.twilio.com", base), *args, **kwargs)

    try:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=Rewrite())
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(
                pool.map(
                    lambda i: client.messages.create(
                        to=f"+86138{i:08d}", from_="+15005550006", body="您有一笔款项已逾期 3 天"
                    ),
                    range(messages),
                )
            )
        bare = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            engine = _database(db_url, Path(folder), messages, "sms")
            settings = _settings(Path(folder), concurrency, 25)
            sender = TwilioSmsSender(
                account_sid=ACCOUNT_SID,
                auth_token=AUTH_TOKEN,
                from_number="+15005550006",
                messaging_service_sid=None,
                status_callback_url=None,
                api_base_url=base,
                connections=concurrency,
            )
            full, sent = _full(engine, settings, {Channel.SMS: sender})
            engine.dispose()
        if sent != messages:
            raise SystemExit(f"the outbox sent {sent} of {messages} SMS")
        return Result("sms", messages, bare, full, sent)
    finally:
        process.terminate()


# --- the parts of one message, each timed alone ------------------------------------------------------


def _per_message(work: Callable[[int], object], count: int) -> float:
    """Median seconds of ``work(i)`` over ``count`` calls (after a warm-up call)."""
    work(0)
    times = []
    for i in range(count):
        started = time.perf_counter()
        work(i)
        times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2]


def parts(channel: str, count: int) -> dict[str, float]:
    """Seconds per message of rendering, MIME (e-mail) and the evidence event, each alone."""
    from bot.channels.base import Receipt
    from bot.channels.mime import build_email
    from bot.evidence.log import NewEvent, append_events
    from bot.outreach.compose import compose
    from bot.outreach.outbox import Ready, message_key, recipient_for
    from bot.store.queries import iter_ledgers

    with tempfile.TemporaryDirectory() as folder:
        engine = _database(None, Path(folder), count, channel)
        settings = _settings(Path(folder), 8, 25)
        step_name = "pre_due_reminder" if channel == "email" else "overdue_sms"
        step = next(
            s for steps in settings.planning_policy().ladders.values() for s in steps if s.name == step_name
        )
        kind = Channel.EMAIL if channel == "email" else Channel.SMS
        with engine.connect() as connection:
            ledgers = list(iter_ledgers(connection, AS_OF))
        composed = []

        def render(i: int) -> None:
            ledger = ledgers[i]
            composed.append(
                compose(
                    settings,
                    key=message_key(i + 1, AS_OF, kind, FROM),
                    channel=kind,
                    recipient=recipient_for(ledger.customer, kind, settings),
                    customer=ledger.customer,
                    step=step,
                    invoices=ledger.invoices,
                    contracts=ledger.contracts,
                    as_of=AS_OF,
                    reference=f"DN-20260610-{i:06d}",
                ).outgoing
            )

        result = {"render": _per_message(render, count - 1)}
        if channel == "email":
            result["mime"] = _per_message(lambda i: build_email(composed[i], FROM, now=NOON), count - 1)
        receipt = Receipt(provider_id="SM" + "0" * 32, provider_status="queued", detail={"segments": 1})

        # The outbox's own message_sent event, so the bench measures what a drain turn writes.
        outbox = Outbox(
            engine,
            settings,
            {},
            ArtifactStore(settings.path("artifacts")),
            worker="bench",
            clock=lambda: NOON,
        )

        def event(i: int) -> NewEvent:
            outgoing = composed[i]
            ready = Ready(i, 1, 1, outgoing.customer, step_name, kind, outgoing, AS_OF, AS_OF)
            return outbox._sent_event(ready, receipt, {"message.eml": f"{i:064x}"})

        def turn(i: int) -> None:  # a durable transaction recording four sends, as a drain turn does
            with engine.begin() as connection:
                append_events(connection, NOON, [event((4 * i + j) % (count - 1)) for j in range(4)])

        result["evidence"] = _per_message(turn, (count - 1) // 4) / 4
        outbox.close()
        engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", choices=("email", "sms"))
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--parts", action="store_true", help="also time rendering, MIME and evidence alone")
    args = parser.parse_args()
    db_url = None
    if args.db == "postgres":
        db_url = pg_url()
        _reset_postgres(db_url)
    results = []
    if args.only in (None, "email"):
        results.append(bench_email(args.messages, args.concurrency, db_url))
        if db_url:
            _reset_postgres(db_url)
    if args.only in (None, "sms"):
        results.append(bench_sms(args.messages, args.concurrency, db_url))
    print(
        f"{'channel':<8}{'messages':>10}{'bare s':>10}{'full s':>10}{'ratio':>8}"
        f"{'bare msg/s':>12}{'full msg/s':>12}  target ≤ 1.5"
    )
    for r in results:
        verdict = "met" if r.ratio <= 1.5 else "MISSED"
        print(
            f"{r.channel:<8}{r.messages:>10}{r.bare:>10.2f}{r.full:>10.2f}{r.ratio:>8.2f}"
            f"{r.messages / r.bare:>12.0f}{r.messages / r.full:>12.0f}  {verdict}"
        )
    if args.parts:
        print(
            "\nper message, µs: bare = the bare loop's whole cost; budget = what 1.5 × bare leaves for dunbot"
        )
        for r in results:
            bare = r.bare / r.messages * 1e6
            measured = parts(r.channel, min(r.messages, 2000))
            pieces = "  ".join(f"{name} {seconds * 1e6:,.0f}" for name, seconds in measured.items())
            print(f"{r.channel:<8} bare {bare:,.0f}  budget {bare / 2:,.0f}  {pieces}")


def _reset_postgres(url: str) -> None:
    reset_schema(url, "bench_send")
    use_schema("bench_send")


if __name__ == "__main__":
    main()
