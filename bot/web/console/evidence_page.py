"""``/evidence``: legal's evidence page. Two forms:

- **export** (``POST /evidence/export``): a customer's or an invoice's pack, made by
  :func:`bot.evidence.pack.export_pack` exactly as ``dunbot evidence export`` makes it, with the
  logged-in user as the export event's actor, answered as a download (written to a temporary
  folder, streamed, the folder removed afterwards);
- **verify** (``POST /evidence/verify``, multipart): an uploaded pack checked by
  :func:`bot.evidence.pack_verify.verify_pack` exactly as ``dunbot evidence verify FILE`` checks it,
  and the verifier's report shown: each check, whether it passed, and the problem.

Every other role gets 403. The upload may be up to :data:`bot.web.limits.MAX_UPLOAD`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
from pathlib import Path

from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from bot.errors import DunbotError, InputError
from bot.evidence.pack import ExportReport, export_pack, find_case
from bot.evidence.pack_reader import declared_size
from bot.evidence.pack_verify import PackReport, verify_pack
from bot.web.console.context import Console
from bot.web.limits import MAX_UPLOAD

ROLES = ("legal",)
_CHUNK = 1024 * 1024
# What an uploaded pack may unpack to. The verifier reads any pack within bounds (a zip bomb is an
# error, see bot/evidence/pack_reader.py), but up to 2 GiB of members is a pack it reads, and here it
# runs in the web server's process: an upload is held to less. A real pack's PDFs and e-mails hardly
# compress, so this is ample; a larger pack is for `dunbot evidence verify`.
MAX_UNPACKED = 10 * MAX_UPLOAD
log = logging.getLogger(__name__)


def _unpacks_too_large(path: Path) -> bool:
    """True when the zip at ``path`` declares more than :data:`MAX_UNPACKED` bytes (the verifier
    inflates no member past what it declares). Not a zip: the verifier says so itself."""
    size = declared_size(path)
    return size is not None and size > MAX_UNPACKED


def _verify_upload(path: Path) -> PackReport | None:
    """The verifier's report of the pack at ``path``, or None when it would unpack too large."""
    return None if _unpacks_too_large(path) else verify_pack(path)


def _file_name(customer: str | None, invoice: str | None) -> str:
    """``evidence-customer-C-0042.zip`` / ``evidence-invoice-INV-1.zip``, safe as a file name."""
    kind, name = ("invoice", invoice) if invoice else ("customer", customer or "")
    return f"evidence-{kind}-{re.sub(r'[^A-Za-z0-9._-]+', '_', name)[:80]}.zip"


def routes(console: Console) -> list[BaseRoute]:
    def page(request: Request, status: int = 200, **context: object) -> Response:
        context.setdefault("customer", "")
        context.setdefault("invoice", "")
        return console.render(request, "evidence.html", status, max_upload_mib=MAX_UPLOAD >> 20, **context)

    async def evidence(request: Request) -> Response:
        return console.refuse_unless(request, *ROLES) or page(request)

    def case_exists(customer: str | None, invoice: str | None) -> None:
        with console.engine.connect() as connection:
            find_case(connection, customer, invoice)

    async def export(request: Request) -> Response:
        refused = console.refuse_unless(request, *ROLES)
        if refused:
            return refused
        form = await request.form()
        customer = str(form.get("customer", "")).strip() or None
        invoice = str(form.get("invoice", "")).strip() or None
        shown = {"customer": customer or "", "invoice": invoice or ""}
        if (customer is None) == (invoice is None):
            return page(request, 400, export_problem="exactly_one", **shown)
        try:
            await asyncio.to_thread(case_exists, customer, invoice)
        except InputError:
            problem = "no_invoice" if invoice else "no_customer"
            return page(request, 404, export_problem=problem, **shown)
        folder = Path(tempfile.mkdtemp(prefix="dunbot-evidence-"))
        out = folder / _file_name(customer, invoice)
        try:
            report: ExportReport = await asyncio.to_thread(
                export_pack,
                console.engine,
                console.settings,
                customer=customer,
                invoice=invoice,
                out=out,
                actor=console.actor(request),
                now=console.config.clock(),
            )
        except DunbotError as exc:  # a bad case (400), or the log, the certificate, the config (500)
            shutil.rmtree(folder, ignore_errors=True)
            status = 400 if isinstance(exc, InputError) else 500
            if status == 500:
                log.error("evidence export of %s failed: %s", out.name, exc)
            return page(request, status, export_problem="other", export_detail=str(exc), **shown)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return FileResponse(
            report.path,
            media_type="application/zip",
            filename=out.name,
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    async def verify(request: Request) -> Response:
        refused = console.refuse_unless(request, *ROLES)
        if refused:
            return refused
        form = await request.form(max_files=1, max_fields=4)
        upload = form.get("pack")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return page(request, 400, verify_problem="no_file")
        folder = Path(tempfile.mkdtemp(prefix="dunbot-verify-"))
        try:
            path = folder / "pack.zip"
            with path.open("wb") as written:
                while chunk := await upload.read(_CHUNK):
                    written.write(chunk)
            report = await asyncio.to_thread(_verify_upload, path)
        finally:
            await upload.close()
            shutil.rmtree(folder, ignore_errors=True)
        if report is None:
            return page(request, 400, verify_problem="too_large", max_unpacked_mib=MAX_UNPACKED >> 20)
        report.path = upload.filename
        return page(request, report=report, uploaded=upload.filename)

    return [
        Route("/evidence", evidence, methods=["GET"]),
        Route("/evidence/export", export, methods=["POST"]),
        Route("/evidence/verify", verify, methods=["POST"]),
    ]
