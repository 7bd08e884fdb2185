"""`dunbot inbound poll`: what one fetch pass recorded, as a table for people."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.cli.views.tables import Column, out, print_fitted
from bot.replies.fetch import FetchReport
from bot.replies.handling import HandleSummary

TABLE_ROWS = 500  # a longer pass is for `--json`, not for reading


def print_fetch(report: FetchReport, timezone: str) -> None:
    """One row per message seen, then a line of totals."""
    zone = ZoneInfo(timezone)
    rows = [
        (
            str(item.inbound_id or ""),
            item.outcome.value,
            item.arrival.received_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            item.arrival.sender,
            item.arrival.subject,
        )
        for item in report.arrivals[:TABLE_ROWS]
    ]
    print_fitted(
        f"Replies fetched from {report.source}",
        [
            Column("id", justify="right", whole=True),
            Column("outcome", whole=True),
            Column("received", whole=True, drop=2),
            Column("from", drop=1),
            Column("subject"),
        ],
        rows,
        empty=f"No replies waiting in {report.source}.",
    )
    if len(report.arrivals) > TABLE_ROWS:
        out.print(f"... and {len(report.arrivals) - TABLE_ROWS} more (--json lists every one)", markup=False)
    skipped = len(report.arrivals) - report.recorded
    out.print(
        f"{report.recorded} new, {skipped} recorded before, {report.moved} moved to the processed folder"
        + (" (stopped early: the rest waits for the next poll)" if report.stopped else ""),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def print_handled(summary: HandleSummary) -> None:
    """What the handle pass did with the replies waiting: acted on, for a collector, by kind."""
    if not summary.total:
        out.print("No reply waited to be acted on.", markup=False)
        return
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(summary.kinds.items()))
    line = f"{summary.handled} acted on, {summary.confirm} for a collector to confirm (`dunbot reply list`)"
    if summary.retried or summary.failed:
        line += f", {summary.retried} to retry, {summary.failed} failed (see the log)"
    out.print(line + (f": {kinds}" if kinds else ""), markup=False, highlight=False, soft_wrap=True)
