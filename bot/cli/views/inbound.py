"""`dunbot inbound poll`: what one fetch pass recorded, as a table for people."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.cli.views.tables import Column, out, print_fitted
from bot.replies.fetch import FetchReport

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
