"""The evidence log: `dunbot evidence export` (a pack that proves a case offline) and
`dunbot evidence verify` (a pack, or the whole database)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.common import (
    SWITCH,
    actor,
    clock,
    config_file,
    err,
    handled,
    print_json,
    settings_from_config,
)
from bot.cli.views.evidence import (
    database_report_json,
    export_json,
    pack_report_json,
    print_database_report,
    print_export,
    print_pack_report,
)
from bot.store.engine import make_engine

app = typer.Typer(help="The evidence log.", no_args_is_help=True)


@app.command("export")
@handled
def evidence_export(
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="The pack to write (.zip); never overwritten")
    ],
    customer: Annotated[
        str | None, typer.Option("--customer", metavar="ID", help="Every event of one customer")
    ] = None,
    invoice: Annotated[
        str | None, typer.Option("--invoice", metavar="INVOICE", help="Every event naming one invoice")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
) -> None:
    """Export an evidence pack that proves a case offline: events, proofs, signed checkpoint, artifacts."""
    from bot.evidence.pack import export_pack

    if (customer is None) == (invoice is None):
        raise typer.BadParameter("name exactly one case: --customer ID or --invoice NUMBER")
    settings = settings_from_config()
    with err.status("exporting the evidence pack ..."):
        report = export_pack(
            make_engine(settings.database_url),
            settings,
            customer=customer,
            invoice=invoice,
            out=out,
            actor=actor(),
            now=clock(),
        )
    if as_json:
        print_json(export_json(report))
    else:
        print_export(report)


@app.command("verify")
@handled
def evidence_verify(
    pack: Annotated[Path | None, typer.Argument(metavar="PACK", help="An evidence pack (.zip)")] = None,
    db: Annotated[
        bool, typer.Option("--db", metavar=SWITCH, help="Verify the whole database instead of a pack.")
    ] = False,
    prior: Annotated[
        Path | None,
        typer.Option("--prior", metavar="PACK", help="An earlier pack whose log this one must extend."),
    ] = None,
    trust: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust",
            metavar="CERT",
            help="Certificate (PEM/DER) every signer must be or chain to; repeatable (with --db the "
            "default is the configured company certificate; a pack without it is checked for one "
            "signer only).",
        ),
    ] = None,
    tsa_trust: Annotated[
        list[Path] | None,
        typer.Option(
            "--tsa-trust",
            metavar="CA",
            help="CA certificate (PEM/DER) a timestamp authority must chain to for its time to count; "
            "repeatable (default: [signing] tsa_trust).",
        ),
    ] = None,
    witness: Annotated[
        Path | None,
        typer.Option(
            "--witness",
            metavar="DIR",
            help="With --db: the witness folder of signed checkpoints (default: [evidence] witness_dir).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=SWITCH, help="Print JSON (for scripts) instead of text.")
    ] = False,
) -> None:
    """Verify an evidence pack offline, or (--db) the whole database: hashes, chain, proofs, signatures."""
    from bot.render.verification import load_trust_anchors

    if (pack is None) == (not db):
        raise typer.BadParameter("give a pack file, or --db to check the database", param_hint="pack")
    if pack is not None:
        from bot.evidence.pack_verify import verify_pack

        if not pack.is_file():
            raise typer.BadParameter(f"{pack} does not exist", param_hint="pack")
        if prior is not None and not prior.is_file():
            raise typer.BadParameter(f"{prior} does not exist", param_hint="--prior")
        anchors = load_trust_anchors(trust or [])
        tsa_anchors = load_trust_anchors(tsa_trust, "--tsa-trust") if tsa_trust else _configured_tsa_trust()
        with err.status(f"verifying {pack} ..."):
            pack_report = verify_pack(pack, anchors, prior, tsa_trust=tsa_anchors)
        if as_json:
            print_json(pack_report_json(pack_report))
        else:
            print_pack_report(pack_report)
        if not pack_report.ok:
            raise typer.Exit(1)
        return
    from bot.evidence.anchors import configured_tsa_trust, database_anchor
    from bot.evidence.service import verify_database

    if witness is not None and not witness.is_dir():
        raise typer.BadParameter(f"{witness} is not a folder", param_hint="--witness")
    settings = settings_from_config()
    anchor, unanchored_why = database_anchor(settings, load_trust_anchors(trust or []))
    with err.status("verifying the evidence log ..."):
        report = verify_database(
            make_engine(settings.database_url),
            settings.path(settings.evidence.artifact_dir),
            trust=anchor or (),
            tsa_trust=(
                load_trust_anchors(tsa_trust, "--tsa-trust") if tsa_trust else configured_tsa_trust(settings)
            ),
            witness=witness if witness is not None else settings.witness_dir,
            unanchored_why=unanchored_why,
        )
    if as_json:
        print_json(database_report_json(report))
    else:
        print_database_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _configured_tsa_trust() -> list[Any]:
    # A pack verifies with nothing but the pack: the config is read only when there is one.
    from bot.evidence.anchors import configured_tsa_trust

    return configured_tsa_trust(settings_from_config()) if config_file().is_file() else []
