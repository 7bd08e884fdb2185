"""Rendering and signing notices against pyHanko's default signing path, in one run (issue 4).

    .venv/bin/python bench/notices.py [--notices 1000] [--language zh-CN|en|both]

It lays out ``--notices`` distinct notices (each a different customer and invoice set) once, then
signs the same unsigned PDFs twice, each in a fresh child process so that neither warms the other:

* **default**: pyHanko's convenience path per file — ``SimpleSigner.load(key, cert)`` and
  ``signers.sign_pdf(...)`` without ``bytes_reserved`` (so pyHanko estimates the size with a dummy
  signature first), with the same visible signature field;
* **dunbot**: one :class:`~bot.render.signing.NoticeSigner` for all files: the PKCS#12 loaded once,
  the reserve measured once, the key kept deserialised and the CMS container reused.

It also reports the whole of dunbot's path per notice (letter template, layout, signature), which
is what a cycle pays for each signed message. Target: dunbot signing ≥ 5 × the default's throughput.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import child
from bench.ledgers import LedgerSpec, Segment, generate

BENCH_SIGNING_TIME = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the laid-out files' creation date


def ledger_spec(count: int, language: str) -> LedgerSpec:
    """``count`` customers, a name in the notice's language each; their invoices come from the
    example context (one to three, by customer)."""
    name = "客户{n:05d}贸易有限公司" if language == "zh-CN" else "Customer {n:05d} Trading Ltd."
    return LedgerSpec(
        segments=(Segment(count),),
        as_of=BENCH_SIGNING_TIME.date(),
        invoices_per_customer=0,
        customer_id="C-{n:05d}",
        name=name,
        language=language,
    )


def _contexts(count: int, language: str) -> list[Any]:
    from bot.render.context import example_context

    contexts = []
    for n, customer in enumerate(generate(ledger_spec(count, language)).customers):
        context = example_context(language, invoice_count=1 + n % 3)
        context["reference"] = f"DN-20261201-{n:06d}"
        context["customer"]["id"] = customer.id
        context["customer"]["name"] = customer.name
        for line in context["invoices"]:
            line["number"] = f"{line['number']}-{n:05d}"
        contexts.append(context)
    return contexts


def _lay_out(contexts: list[Any], language: str) -> tuple[list[tuple[bytes, Any]], float]:
    from bot.render.environment import render_letter
    from bot.render.fonts import FontChoice
    from bot.render.letter import NoticeContent, lay_out_notice

    started = time.perf_counter()
    laid_out = []
    for context in contexts:
        body = render_letter(language, "formal_notice", context)
        notice = lay_out_notice(
            NoticeContent(language, context, body, "上海市浦东新区世纪大道 1 号", signer_name="Bench Signer"),
            FontChoice(),
            BENCH_SIGNING_TIME,
        )
        laid_out.append((notice.pdf, notice.signature))
    return laid_out, time.perf_counter() - started


def _default_path(files: list[tuple[bytes, Any]], key: str, cert: str, result: Any) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    started = time.perf_counter()
    for pdf, where in files:
        signer = signers.SimpleSigner.load(key, cert)
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        meta = signers.PdfSignatureMetadata(
            field_name="Signature", subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"
        )
        signers.sign_pdf(
            writer,
            meta,
            signer=signer,
            new_field_spec=fields.SigFieldSpec("Signature", on_page=where.page, box=where.box),
        )
    result.put(time.perf_counter() - started)


def _dunbot_path(files: list[tuple[bytes, Any]], pkcs12: str, result: Any) -> None:
    from bot.render.signing import NoticeSigner

    started = time.perf_counter()
    signer = NoticeSigner.from_pkcs12(Path(pkcs12), None)  # start-up (key, reserve) is timed too
    for pdf, where in files:
        signer.sign(pdf, where)
    elapsed = time.perf_counter() - started
    uses = signer.signer.template_uses
    signer.close()
    result.put((elapsed, uses))


def run(count: int, language: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, pkcs12

    from bot.render.certificate import create_trial_certificate

    with tempfile.TemporaryDirectory() as folder:
        trial = create_trial_certificate(Path(folder), "上海星河精密机械有限公司", "CN", datetime.now(UTC))
        key, _, _ = pkcs12.load_key_and_certificates(trial.pkcs12.read_bytes(), None)
        key_pem = Path(folder) / "key.pem"
        key_pem.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))  # type: ignore[union-attr]
        contexts = _contexts(count, language)
        files, layout_s = _lay_out(contexts, language)
        default_s = child(_default_path, files, str(key_pem), str(trial.certificate_pem))
        dunbot_s, template_uses = child(_dunbot_path, files, str(trial.pkcs12))
    return {
        "language": language,
        "notices": count,
        "layout_s": layout_s,
        "default_s": default_s,
        "dunbot_s": dunbot_s,
        "template_uses": template_uses,
        "pdf_kb": sum(len(pdf) for pdf, _ in files) / len(files) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--notices", type=int, default=1000)
    parser.add_argument("--language", choices=("zh-CN", "en", "both"), default="both")
    args = parser.parse_args()
    languages = ("zh-CN", "en") if args.language == "both" else (args.language,)
    print(
        f"{'language':<9}{'notices':>8}{'layout/s':>10}{'default/s':>11}{'dunbot/s':>10}{'ratio':>7}"
        f"{'full ms':>9}  target ≥ 5 ×"
    )
    for language in languages:
        r = run(args.notices, language)
        n = r["notices"]
        default_rate, dunbot_rate = n / r["default_s"], n / r["dunbot_s"]
        ratio = dunbot_rate / default_rate
        full_ms = (r["layout_s"] + r["dunbot_s"]) / n * 1000
        print(
            f"{language:<9}{n:>8}{n / r['layout_s']:>10.1f}{default_rate:>11.1f}{dunbot_rate:>10.1f}{ratio:>7.1f}"
            f"{full_ms:>9.1f}  {'met' if ratio >= 5 else 'MISSED'} "
            f"(default {r['default_s']:.1f} s, dunbot {r['dunbot_s']:.1f} s, "
            f"{r['template_uses']} containers from the template, {r['pdf_kb']:.0f} KB per notice unsigned)",
            flush=True,
        )


if __name__ == "__main__":
    main()
