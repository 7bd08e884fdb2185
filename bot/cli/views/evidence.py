"""Evidence and notice checks for people and (--json) for scripts: `dunbot evidence export`,
`dunbot evidence verify` (a pack or the database) and `dunbot notice verify`."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.markup import escape
from rich.text import Text

from bot.cli.views.tables import Table, err, out

FAIL = Text("FAIL", style="red")


def print_notice_verification(report: Any) -> None:
    """`dunbot notice verify` for people: one row per fact, then every problem."""
    table = Table(title=f"Signed notice {report.file}", show_header=False)
    table.add_column("item")
    table.add_column("value")

    def yes_no(value: bool | None, yes: str = "yes", no: str = "NO") -> RenderableType:
        if value is None:
            return "not checked (pass --trust CERT)"
        return yes if value else Text(no, style="red")

    rows = [
        ("file SHA-256", report.sha256),
        ("signatures", str(report.signatures)),
        ("signer", report.signer or "-"),
        ("signer certificate subject", report.signer_subject or "-"),
        ("signer certificate SHA-256", report.signer_certificate_sha256 or "-"),
        ("signing time", report.signing_time.isoformat() if report.signing_time else "-"),
        (
            "timestamp",
            f"{report.timestamp.isoformat()} by {report.timestamp_authority}" if report.timestamp else "none",
        ),
        ("integrity (digest matches)", yes_no(report.intact)),
        ("signature value", yes_no(report.valid, "valid", "INVALID")),
        ("coverage", report.coverage if report.covers_whole_file else Text(report.coverage, style="red")),
        ("signer trusted", yes_no(report.trusted)),
    ]
    for item, value in rows:
        table.add_row(item, value)
    out.print(table)
    for problem in report.problems:
        err.print(f"[red]FAIL[/] {escape(problem)}", highlight=False)
    if report.ok:
        out.print("[green]ok[/]: the notice is signed, intact and covers the whole file")


def export_json(report: Any) -> dict[str, Any]:
    """`dunbot evidence export --json`."""
    return {
        "pack": str(report.path),
        "case": report.case.label,
        "events": report.events,
        "artifacts": report.artifacts,
        "bytes": report.size,
        "sha256": report.sha256,
        "export_event": report.export_seq,
        "checkpoint": {
            "id": report.checkpoint.id,
            "tree_size": report.checkpoint.tree_size,
            "root_hash": report.checkpoint.root_hash,
            "timestamped": report.checkpoint.timestamp is not None,
        },
    }


def print_export(report: Any) -> None:
    """What `dunbot evidence export` wrote, for a person."""
    checkpoint = report.checkpoint
    out.print(
        f"[green]exported[/] {report.case.label}: {report.events} event(s), {report.artifacts} artifact(s) "
        f"-> {report.path} ({report.size / 1024:,.0f} KB, SHA-256 {report.sha256})"
    )
    stamped = ", timestamped" if checkpoint.timestamp is not None else ""
    out.print(
        f"proven against checkpoint {checkpoint.id}: {checkpoint.tree_size} events, root "
        f"{checkpoint.root_hash}{stamped}; the export is event {report.export_seq}"
    )
    out.print(
        f"check it anywhere: dunbot evidence verify {report.path}  (or by hand: README.txt in the pack)"
    )


def pack_report_json(report: Any) -> dict[str, Any]:
    """`dunbot evidence verify PACK --json`."""
    document: dict[str, Any] = report.as_json()
    return document


def print_pack_report(report: Any) -> None:
    """Every check of a pack, failures first named."""
    table = Table(title=f"Evidence pack {report.path}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for item in report.items:
        # Text, not markup: details quote config keys ("[signing] tsa_trust") and the pack's own names.
        table.add_row(Text(item.item), "ok" if item.ok else FAIL, Text(item.detail))
    out.print(table)
    if report.ok:
        out.print(
            f"[green]ok[/]: {report.events} event(s), {report.artifacts} artifact(s), "
            f"{report.pdfs} signed PDF(s); {escape(report.signer_note)}"
        )
    else:
        first = report.failures[0] if report.failures else None
        if first is not None:
            err.print(
                f"[red]FAILED[/] first failure: {escape(first.item)}: {escape(first.detail)}", highlight=False
            )


def database_report_json(report: Any) -> dict[str, Any]:
    """`dunbot evidence verify --db --json`."""
    latest = report.latest_checkpoint
    return {
        "ok": report.ok,
        "events_checked": report.log.events_checked,
        "artifacts_checked": report.log.artifacts_checked,
        "head_seq": report.log.head_seq,
        "head_chain_hash": report.log.head_chain_hash,
        "checkpoints_checked": report.checkpoints_checked,
        "anchored": report.anchor is not None,
        "anchor": report.anchor.as_json() if report.anchor is not None else None,
        "signer_note": database_signer_note(report),
        "timestamps": {
            "verified": sum(1 for stamp in report.timestamps if stamp.verified),
            "unverified": sum(1 for stamp in report.timestamps if not stamp.verified),
            "latest": report.timestamps[-1].as_json() if report.timestamps else None,
        },
        "latest_checkpoint": (
            {"id": latest.id, "tree_size": latest.tree_size, "root_hash": latest.root_hash}
            if latest
            else None
        ),
        **insider_json(report.insider),
        "problems": [{"seq": p.seq, "item": p.item, "message": p.message} for p in report.all_problems],
    }


def insider_json(insider: Any) -> dict[str, Any]:
    """The witness and the events no checkpoint covers yet, for `verify --db --json`."""
    unsigned = insider.unsigned
    return {
        "witness": (
            {
                "folder": str(insider.witness),
                "found": insider.witness_found,
                "checkpoints": insider.witnessed,
                "note": insider.witness_note or None,
            }
            if insider.witness is not None
            else None
        ),
        "after_newest_checkpoint": {
            "events": unsigned.events,
            "first_seq": unsigned.first_seq,
            "last_seq": unsigned.last_seq,
            "oldest_at": unsigned.oldest_at.isoformat() if unsigned.oldest_at else None,
        },
    }


def insider_lines(insider: Any, ok: bool) -> list[str]:
    """What `verify --db` says of the witness and of the events no checkpoint covers yet."""
    lines = []
    if insider.witness is not None and insider.witness_note:
        lines.append(f"witness {escape(str(insider.witness))}: {escape(insider.witness_note)}")
    elif insider.witness is not None and ok:
        lines.append(
            f"witness {escape(str(insider.witness))}: {insider.witnessed} checkpoint(s), each signed, "
            "each in the database, and the log extends each (RFC 9162 consistency proofs)"
        )
    unsigned = insider.unsigned
    if unsigned.events:
        since = f", the oldest from {unsigned.oldest_at:%Y-%m-%d %H:%M:%S} UTC" if unsigned.oldest_at else ""
        lines.append(
            f"{unsigned.events} event(s) after the newest checkpoint (#{unsigned.first_seq}–"
            f"#{unsigned.last_seq}{since}): no signature covers them yet; the next checkpoint (after a "
            "cycle, hourly, or an export) will"
        )
    return lines


def database_signer_note(report: Any) -> str:
    """What the checkpoints' signers were checked against, or why they were not."""
    if report.anchor is not None:
        return f"every checkpoint's signer checked against the anchor {report.anchor.describe()}"
    if report.latest_checkpoint is None:
        return f"no checkpoint to check against an anchor ({report.unanchored_why})"
    return (
        f"the checkpoints were NOT checked against an anchor ({report.unanchored_why}); the newest is "
        f"signed by {report.latest_signer}; pass --trust CERT to check them"
    )


def database_timestamp_note(stamps: list[Any]) -> str:
    """How many checkpoint timestamps count; the newest's time only when it does."""
    verified = sum(1 for stamp in stamps if stamp.verified)
    latest = stamps[-1]
    return f"timestamps: {verified} of {len(stamps)} verified; the newest checkpoint's: {latest.describe()}"


def print_database_report(report: Any) -> None:
    """`dunbot evidence verify --db` for a person: every problem, then a summary."""
    for problem in report.all_problems:
        where = f"event {problem.seq}" if problem.seq is not None else problem.item
        err.print(f"[red]FAIL[/] {escape(where)}: {escape(problem.message)}", highlight=False)
    if any("is not the anchor" in problem.message for problem in report.all_problems):
        err.print(
            "hint: if the company renewed its certificate, its older checkpoints carry the previous one: "
            "pass --trust with every certificate it used (or with their CA)",
            highlight=False,
        )
    if report.ok:
        latest = report.latest_checkpoint
        signed = (
            f"; {report.checkpoints_checked} checkpoint(s) signed and consistent, latest #{latest.id} "
            f"covers {latest.tree_size} with root {latest.root_hash}"
            if latest
            else "; no checkpoint yet (one is made after every cycle)"
        )
        out.print(
            f"[green]ok[/]: {report.log.events_checked} event(s), "
            f"{report.log.artifacts_checked} artifact(s), chain head #{report.log.head_seq} "
            f"{report.log.head_chain_hash or '-'}{signed}"
        )
        note = database_signer_note(report)
        style = "" if report.anchor is not None else "[yellow]warning[/]: "
        out.print(f"{style}{escape(note)}", highlight=False)
        if report.timestamps:
            out.print(escape(database_timestamp_note(report.timestamps)), highlight=False)
    for line in insider_lines(report.insider, report.ok):
        out.print(line, highlight=False)
