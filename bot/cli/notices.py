"""Signed PDF notices: `dunbot notice verify`, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import SWITCH, handled, print_json
from bot.cli.views.evidence import print_notice_verification

app = typer.Typer(help="Signed PDF notices.", no_args_is_help=True)


@app.command("verify")
@handled
def notice_verify(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A signed notice (PDF)")],
    trust: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust", metavar="CERT", help="Certificate (PEM/DER) the signer must chain to; repeatable."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
) -> None:
    """Check a signed notice: signer, signing time, timestamp, integrity and coverage. Offline."""
    from bot.render.verification import load_trust_anchors, verify_notice_file

    if not file.exists():
        raise typer.BadParameter(f"{file} does not exist", param_hint="file")
    report = verify_notice_file(file, load_trust_anchors(trust or []))
    if as_json:
        print_json(report.as_json())
    else:
        print_notice_verification(report)
    if not report.ok:
        raise typer.Exit(1)
