"""Signed notices as real PDFs: laid out, every glyph embedded, PAdES-signed, checked by pyHanko,
by poppler's pdfsig (whose text is parsed: it exits 0 even for a broken signature) and as pictures."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pyhanko.pdf_utils.generic import NameObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from bot.errors import FontUnavailable, MissingGlyphs
from bot.render.context import InvoiceLine, MessageContext, example_context
from bot.render.environment import render_letter
from bot.render.fonts import FontChoice
from bot.render.letter import NoticeContent, lay_out_notice
from bot.render.notice import NoticeRenderer, SignedNotice
from bot.render.signing import NoticeSigner
from bot.render.verification import load_trust_anchors, verify_notice_bytes
from tests.conftest import require_cjk_font, require_tool

SIGNED_STEPS = ("due_statement", "formal_notice", "credit_hold", "final_demand", "lawyer_letter")
LANGUAGES = ("zh-CN", "en")
ADDRESS = {"zh-CN": "杭州市西湖区文三路 1 号\n邮编 310012", "en": "1 Harbour Road\nWan Chai, Hong Kong"}


@pytest.fixture(scope="module")
def renderer(notice_signer: NoticeSigner) -> Iterator[NoticeRenderer]:
    require_cjk_font()
    yield NoticeRenderer(lambda: notice_signer, FontChoice())


def _render(
    renderer: NoticeRenderer, language: str, step: str, context: MessageContext | None = None
) -> SignedNotice:
    return renderer.render(language, step, context or example_context(language), ADDRESS[language])


def _pdfsig(pdf: bytes, folder: Path) -> str:
    tool = require_tool("pdfsig")
    path = folder / "notice.pdf"
    path.write_bytes(pdf)
    return subprocess.run([tool, str(path)], capture_output=True, text=True, check=False).stdout


def _pdftotext(pdf: bytes, folder: Path, page: int | None = None) -> str:
    tool = require_tool("pdftotext")
    path = folder / "text.pdf"
    path.write_bytes(pdf)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    result = subprocess.run([tool, "-layout", *pages, str(path), "-"], capture_output=True, check=True)
    return result.stdout.decode("utf-8")


def _status(pdf: bytes, trust: list[Any] | None = None) -> Any:
    reader = PdfFileReader(io.BytesIO(pdf))
    (signature,) = reader.embedded_signatures
    context = ValidationContext(trust_roots=trust or [], allow_fetching=False)
    return validate_pdf_signature(signature, signer_validation_context=context)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", SIGNED_STEPS)
def test_every_signed_step_is_a_valid_pades_signature(
    renderer: NoticeRenderer, trial_certificate: Any, step: str, language: str, tmp_path: Path
) -> None:
    notice = _render(renderer, language, step)
    status = _status(notice.pdf, load_trust_anchors([trial_certificate.certificate_pem]))
    assert status.intact and status.valid and status.trusted
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    reader = PdfFileReader(io.BytesIO(notice.pdf))
    signature = reader.embedded_signatures[0]
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES baseline

    report = verify_notice_bytes(notice.pdf, "notice.pdf")
    assert report.ok, report.problems
    assert report.signer == "上海星河精密机械有限公司 (TRIAL)" and report.trusted is None

    text = _pdfsig(notice.pdf, tmp_path)
    assert "Signature Validation: Signature is Valid." in text, text
    assert "Total document signed" in text, text
    assert "Signature Type: ETSI.CAdES.detached" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_font_is_embedded(renderer: NoticeRenderer, language: str, tmp_path: Path) -> None:
    tool = require_tool("pdffonts")
    path = tmp_path / "n.pdf"
    path.write_bytes(_render(renderer, language, "formal_notice").pdf)
    lines = subprocess.run([tool, str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[
        2:
    ]
    assert lines, "pdffonts lists no font"
    for line in lines:
        embedded = line.split()[-5]  # columns: name type encoding emb sub uni object ID
        assert embedded == "yes", line


TITLES = {
    ("zh-CN", "due_statement"): "应收账款对账单",
    ("zh-CN", "formal_notice"): "正式催款函",
    ("zh-CN", "credit_hold"): "暂停供货及信用额度通知函",
    ("zh-CN", "final_demand"): "最后催告函",
    ("zh-CN", "lawyer_letter"): "律师函",
    ("en", "due_statement"): "Statement of Account",
    ("en", "formal_notice"): "Formal Notice of Overdue Payment",
    ("en", "credit_hold"): "Notice of Credit Hold",
    ("en", "final_demand"): "Final Demand",
    ("en", "lawyer_letter"): "Letter Before Action",
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", SIGNED_STEPS)
def test_the_page_shows_the_data(renderer: NoticeRenderer, language: str, step: str, tmp_path: Path) -> None:
    context = example_context(language)
    notice = _render(renderer, language, step, context)
    tool = require_tool("pdftoppm")
    path = tmp_path / "n.pdf"
    path.write_bytes(notice.pdf)
    subprocess.run([tool, "-r", "60", "-png", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == notice.pages >= 1
    for page in pages:
        image = Image.open(page).convert("L")
        dark = sum(image.histogram()[:128])
        assert dark > 2000, f"{page.name} is blank ({dark} dark pixels)"

    text = re.sub(r"\s+", " ", _pdftotext(notice.pdf, tmp_path))
    for line in context["invoices"]:
        for value in (
            line["number"],
            line["outstanding"],
            line["due_date"],
            line["issue_date"],
            line["late_fee"],
        ):
            assert value in text, value
    for total in context["totals"]:
        assert total["outstanding"] in text
    assert context["reference"] in text
    assert context["customer"]["name"] in text
    assert context["company"]["legal_name"] in text
    assert context["contracts"][0]["ref"] in text  # the contract clause relied on
    if language == "zh-CN":
        dense = text.replace(" ", "")  # pdftotext spaces CJK text unevenly
        assert TITLES[(language, step)] in dense and "2024年7月11日" in dense and "第1页/共" in dense
        assert "王芳" in dense  # the contact person
    else:
        assert TITLES[(language, step)] in text and "11 July 2024" in text and "Page 1 of" in text
        assert "Wang Fang" in text  # the contact person


def test_a_long_schedule_repeats_its_header_on_every_page(renderer: NoticeRenderer, tmp_path: Path) -> None:
    context = example_context("zh-CN")
    first = context["invoices"][0]
    context["invoices"] = [InvoiceLine(**{**first, "number": f"INV-2024-{n:04d}"}) for n in range(90)]  # type: ignore[typeddict-item]
    notice = _render(renderer, "zh-CN", "formal_notice", context)
    assert notice.pages >= 3
    schedule_pages = [
        page
        for page in range(1, notice.pages + 1)
        if "INV-2024-" in _pdftotext(notice.pdf, tmp_path, page).replace(" ", "").split("附表")[-1]
    ]
    for page in schedule_pages:
        text = _pdftotext(notice.pdf, tmp_path, page)
        dense = text.replace(" ", "")
        assert "发票号" in dense and "到期日" in dense, f"page {page} has no table header"
        assert f"第{page}页/共{notice.pages}页" in dense
    assert all(f"INV-2024-{n:04d}" in _pdftotext(notice.pdf, tmp_path) for n in range(90))
    assert verify_notice_bytes(notice.pdf, "long.pdf").ok


def test_one_flipped_byte_is_caught(renderer: NoticeRenderer, tmp_path: Path) -> None:
    pdf = bytearray(_render(renderer, "en", "final_demand").pdf)
    position = pdf.index(b"stream", pdf.index(b"/FontFile2")) + 100  # inside an embedded font's bytes
    assert position < pdf.index(b"/ByteRange")  # in the signed part, before the signature
    pdf[position] ^= 0x01
    report = verify_notice_bytes(bytes(pdf), "tampered.pdf")
    assert not report.ok
    assert any("changed after signing" in p for p in report.problems), report.problems
    text = _pdfsig(bytes(pdf), tmp_path)
    assert "Signature is Valid" not in text, text


def test_an_appended_update_is_caught(renderer: NoticeRenderer, tmp_path: Path) -> None:
    pdf = _render(renderer, "zh-CN", "lawyer_letter").pdf
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root["/PageMode"] = NameObject("/UseNone")
    writer.update_root()
    changed = io.BytesIO()
    writer.write(changed)
    report = verify_notice_bytes(changed.getvalue(), "updated.pdf")
    assert not report.ok and not report.covers_whole_file
    assert any("does not cover the whole file" in p for p in report.problems), report.problems
    text = _pdfsig(changed.getvalue(), tmp_path)
    assert "Total document signed" not in text, text


def test_an_untrusted_signer_fails_when_trust_is_asked(
    renderer: NoticeRenderer, tsa_server: Any, tmp_path: Path
) -> None:
    pdf = _render(renderer, "en", "credit_hold").pdf
    other = tsa_server.write_certificate(tmp_path / "other.pem")  # any certificate that is not the signer's
    report = verify_notice_bytes(pdf, "n.pdf", load_trust_anchors([other]))
    assert report.trusted is False
    assert any("does not chain" in p for p in report.problems)


def test_with_a_tsa_the_signature_is_timestamped(
    trial_certificate: Any, tsa_server: Any, tmp_path: Path
) -> None:
    require_cjk_font()
    signer = NoticeSigner.from_pkcs12(trial_certificate.pkcs12, None, tsa_url=tsa_server.url)
    try:
        before = tsa_server.requests
        notice = NoticeRenderer(lambda: signer, FontChoice()).render(
            "zh-CN", "formal_notice", example_context("zh-CN"), ADDRESS["zh-CN"]
        )
        assert tsa_server.requests == before + 1  # one token per notice, no estimation round trip
    finally:
        signer.close()
    status = _status(notice.pdf)
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid
    report = verify_notice_bytes(notice.pdf, "bt.pdf")
    assert report.ok and report.timestamp is not None
    assert report.timestamp_authority and "dunbot test timestamp authority" in report.timestamp_authority
    assert "Signature is Valid." in _pdfsig(notice.pdf, tmp_path)


def _pdfinfo_dates(pdf: bytes, folder: Path) -> dict[str, str]:
    tool = require_tool("pdfinfo")
    path = folder / "dated.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([tool, "-isodates", str(path)], capture_output=True, text=True, check=True).stdout
    return {
        key: value.strip()
        for key, _, value in (line.partition(":") for line in out.splitlines())
        if key in ("CreationDate", "ModDate")
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_notice_is_dated_when_it_was_signed(trial_certificate: Any, language: str, tmp_path: Path) -> None:
    require_cjk_font()
    # Within the trial certificate's validity (made at the start of the run), not "now": the time
    # written must be the signer's clock's, not ReportLab's 2000-01-01 nor pyHanko's own now().
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=7, seconds=13)
    signer = NoticeSigner.from_pkcs12(
        trial_certificate.pkcs12, None, clock=lambda: at + timedelta(microseconds=654)
    )
    try:
        notice = NoticeRenderer(lambda: signer, FontChoice()).render(
            language, "formal_notice", example_context(language), ADDRESS[language]
        )
    finally:
        signer.close()
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S")
    assert _pdfinfo_dates(notice.pdf, tmp_path) == {"CreationDate": f"{stamp}Z", "ModDate": f"{stamp}Z"}
    reader = PdfFileReader(io.BytesIO(notice.pdf))
    (signature,) = reader.embedded_signatures
    assert signature.self_reported_timestamp == at  # the signature dictionary's /M
    first_revision = reader.get_historical_resolver(0).trailer_view["/Info"]
    assert str(first_revision["/CreationDate"]) == at.strftime("D:%Y%m%d%H%M%S+00'00'")
    assert _status(notice.pdf, load_trust_anchors([trial_certificate.certificate_pem])).valid
    sig = _pdfsig(notice.pdf, tmp_path)
    assert "Signature Validation: Signature is Valid." in sig, sig
    assert f"Signing Time: {at:%b %d %Y %H:%M:%S}" in sig, sig


def test_the_layout_is_the_same_for_the_same_signing_time() -> None:
    require_cjk_font()
    at = datetime(2026, 12, 7, 9, 30, 5, tzinfo=UTC)
    context = example_context("zh-CN")
    body = render_letter("zh-CN", "formal_notice", context)
    content = NoticeContent("zh-CN", context, body, ADDRESS["zh-CN"], signer_name="测试")
    first = lay_out_notice(content, FontChoice(), at)
    assert first.pdf == lay_out_notice(content, FontChoice(), at).pdf
    assert first.pdf != lay_out_notice(content, FontChoice(), at + timedelta(seconds=1)).pdf
    assert b"/CreationDate (D:20261207093005+00'00')" in first.pdf


def test_a_tsa_outage_is_a_transient_signing_failure(trial_certificate: Any, tsa_server: Any) -> None:
    from bot.errors import SigningFailed

    require_cjk_font()
    signer = NoticeSigner.from_pkcs12(trial_certificate.pkcs12, None, tsa_url=tsa_server.url)
    tsa_server.failing = True
    try:
        with pytest.raises(SigningFailed) as caught:
            NoticeRenderer(lambda: signer, FontChoice()).render(
                "en", "formal_notice", example_context("en"), ADDRESS["en"]
            )
    finally:
        signer.close()
    assert caught.value.transient
    assert tsa_server.url in str(caught.value)


def test_without_a_cjk_font_a_chinese_notice_is_refused(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bot.render.certificate import create_trial_certificate

    latin = create_trial_certificate(tmp_path / "cert", "Xinghe Precision Ltd.", "CN", datetime.now(UTC))
    signer = NoticeSigner.from_pkcs12(latin.pkcs12, None)
    no_fonts = tmp_path / "no-fonts"
    no_fonts.mkdir()
    try:
        renderer = NoticeRenderer(lambda: signer, FontChoice(search_dirs=(no_fonts,)))
        with pytest.raises(FontUnavailable, match=r"\[signing\] cjk_font"):
            renderer.render("zh-CN", "formal_notice", example_context("zh-CN"), ADDRESS["zh-CN"])
        # English notices still work with the Latin font ReportLab ships.
        notice = renderer.render("en", "formal_notice", example_context("en"), ADDRESS["en"])
    finally:
        signer.close()
    assert verify_notice_bytes(notice.pdf, "en.pdf").ok


def test_a_missing_glyph_is_an_error_not_a_blank(renderer: NoticeRenderer) -> None:
    context = example_context("zh-CN")
    context["customer"]["name"] = "杭州𪚥远贸易有限公司"  # U+2A6A5, outside the font
    with pytest.raises(MissingGlyphs, match=r"U\+2A6A5") as caught:
        _render(renderer, "zh-CN", "formal_notice", context)
    assert caught.value.characters == ["𪚥"]


def test_a_latin_font_configured_for_chinese_is_refused(notice_signer: NoticeSigner) -> None:
    from bot.render.fonts import BUNDLED_LATIN

    renderer = NoticeRenderer(lambda: notice_signer, FontChoice(cjk_font=BUNDLED_LATIN))
    with pytest.raises(MissingGlyphs, match="no glyph for"):
        renderer.render("zh-CN", "due_statement", example_context("zh-CN"), ADDRESS["zh-CN"])


def test_an_english_letter_to_a_chinese_name_falls_back_to_the_cjk_font(
    renderer: NoticeRenderer, tmp_path: Path
) -> None:
    context = example_context("en")
    context["customer"]["name"] = "杭州远航贸易有限公司 (Hangzhou Yuanhang Trading)"
    notice = _render(renderer, "en", "formal_notice", context)
    assert "杭州远航贸易有限公司" in _pdftotext(notice.pdf, tmp_path).replace(" ", "")


def test_the_signer_reserves_the_size_once(notice_signer: NoticeSigner, renderer: NoticeRenderer) -> None:
    reserved = notice_signer.bytes_reserved
    notices = [_render(renderer, "en", step) for step in SIGNED_STEPS]
    assert notice_signer.bytes_reserved == reserved  # measured at start-up, never re-estimated
    for notice in notices:
        reader = PdfFileReader(io.BytesIO(notice.pdf))
        contents = reader.embedded_signatures[0].sig_object.raw_get("/Contents")
        assert 2 * len(contents.original_bytes) == reserved  # pyHanko counts hex digits


def test_a_password_protected_certificate_is_opened_with_the_password_from_the_environment(
    tmp_path: Path, trial_certificate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    from bot.cli.config_checks import check_settings
    from bot.config import Settings, SigningSettings
    from bot.outreach.notices import notice_renderer

    require_cjk_font()
    key, certificate, _ = pkcs12.load_key_and_certificates(trial_certificate.pkcs12.read_bytes(), None)
    protected = tmp_path / "company.p12"
    protected.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"company", key, certificate, None, BestAvailableEncryption(b"s3cret")
        )  # type: ignore[arg-type]
    )
    config = tmp_path / "dunbot.toml"
    config.write_text(
        '[signing]\npkcs12 = "company.p12"\npassword_env = "DUNBOT_TEST_SIGNING_PW"\n', encoding="utf-8"
    )
    monkeypatch.delenv("DUNBOT_TEST_SIGNING_PW", raising=False)
    assert (
        f"{config}:signing.password_env: environment variable DUNBOT_TEST_SIGNING_PW is not set"
        in check_settings(config)
    )
    monkeypatch.setenv("DUNBOT_TEST_SIGNING_PW", "wrong")
    assert any(p.startswith(f"{config}:signing.pkcs12: cannot open") for p in check_settings(config))
    monkeypatch.setenv("DUNBOT_TEST_SIGNING_PW", "s3cret")
    assert check_settings(config) == []
    settings = Settings(
        signing=SigningSettings(pkcs12="company.p12", password_env="DUNBOT_TEST_SIGNING_PW"),
        base_dir=tmp_path,
    )
    renderer = notice_renderer(settings)
    try:
        notice = renderer.render("zh-CN", "credit_hold", example_context("zh-CN"), ADDRESS["zh-CN"])
    finally:
        renderer.close()
    assert verify_notice_bytes(notice.pdf, "p.pdf").ok


def test_the_trial_certificate_says_it_is_not_for_production(trial_certificate: Any) -> None:
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(trial_certificate.certificate_pem.read_bytes())
    assert "TRIAL" in certificate.subject.rfc4514_string()
    assert "NOT FOR PRODUCTION" in certificate.subject.rfc4514_string()


def test_enabling_trial_signing_edits_only_the_signing_section(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bot.config import EXAMPLE_CONFIG, load_settings
    from bot.render.certificate import enable_trial_signing

    config = tmp_path / "dunbot.toml"
    config.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    before = config.read_text(encoding="utf-8").splitlines()
    trial = enable_trial_signing(config, "示例贸易有限公司", "CN", datetime.now(UTC))
    after = config.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0].lstrip().startswith("# pkcs12")
    assert load_settings(config).signing.pkcs12 == "signing/trial-signing.p12"
    assert trial.pkcs12 == tmp_path / "signing" / "trial-signing.p12"
    assert oct(trial.pkcs12.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ValueError, match="already set"):
        enable_trial_signing(config, "示例贸易有限公司", "CN", datetime.now(UTC))


def test_the_cached_container_is_byte_for_byte_what_pyhanko_builds(trial_certificate: Any) -> None:
    import asyncio
    import hashlib

    from bot.render.cms_signer import CachedSigner
    from bot.render.signing import load_pkcs12

    base = load_pkcs12(trial_certificate.pkcs12, None)
    cached = CachedSigner(base)
    first = hashlib.sha256(b"first notice").digest()
    asyncio.run(cached.async_sign(first, "sha256", use_pades=True))  # pyHanko's path, kept as template
    assert cached.template_uses == 0
    from datetime import UTC, datetime

    from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

    for text in (b"second notice", b"third notice"):
        digest = hashlib.sha256(text).digest()
        settings = PdfCMSSignedAttributes(signing_time=datetime.now(UTC))  # as PdfSigner passes them
        expected = asyncio.run(
            base.async_sign(digest, "sha256", use_pades=True, signed_attr_settings=settings)
        )
        got = asyncio.run(cached.async_sign(digest, "sha256", use_pades=True, signed_attr_settings=settings))
        assert got.dump() == expected.dump()
    assert cached.template_uses == 2
    # A timestamped or non-PAdES container never comes from the template.
    other = hashlib.sha256(b"cades").digest()
    assert (
        asyncio.run(cached.async_sign(other, "sha256", use_pades=False)).dump()
        == asyncio.run(base.async_sign(other, "sha256", use_pades=False)).dump()
    )
    assert cached.template_uses == 2


@pytest.mark.parametrize(
    ("made", "days"),
    [(-800, 730), (3, 730)],
    ids=["expired two months ago", "valid only from three days on"],
)
def test_nothing_is_signed_with_a_certificate_not_valid_now(tmp_path: Path, made: int, days: int) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.errors import SigningFailed
    from bot.render.certificate import create_trial_certificate

    when = datetime.now(UTC) + timedelta(days=made)
    certificate = create_trial_certificate(tmp_path, "Xinghe Precision Ltd.", "CN", when, valid_days=days)
    signer = NoticeSigner.from_pkcs12(certificate.pkcs12, None)
    try:
        with pytest.raises(SigningFailed, match=r"not now: renew it and point \[signing\] pkcs12 at it"):
            signer.sign_detached(b"checkpoint statement")
        renderer = NoticeRenderer(lambda: signer, FontChoice())
        with pytest.raises(SigningFailed, match="not now"):
            renderer.render("en", "formal_notice", example_context("en"), ADDRESS["en"])
    finally:
        signer.close()


def test_validity_note_is_fatal_outside_the_validity_and_warns_in_its_last_thirty_days() -> None:
    from datetime import UTC, datetime, timedelta

    from bot.render.signing import EXPIRY_WARNING_DAYS, validity_note

    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    assert validity_note(start, end, start + timedelta(days=100)) is None
    assert validity_note(start, end, end - timedelta(days=EXPIRY_WARNING_DAYS, seconds=1)) is None
    fatal, text = validity_note(start, end, end - timedelta(days=EXPIRY_WARNING_DAYS)) or (None, "")
    assert fatal is False and text.startswith(
        "the signing certificate expires on 2027-01-01 00:00 UTC, in 30 day(s)"
    )
    assert (validity_note(start, end, end) or (None,))[0] is False  # its last instant still signs
    for outside in (end + timedelta(seconds=1), start - timedelta(seconds=1)):
        fatal, text = validity_note(start, end, outside) or (None, "")
        assert fatal is True
        assert text == (
            "the signing certificate is valid from 2026-01-01 00:00 to 2027-01-01 00:00 UTC, "
            "not now: renew it and point [signing] pkcs12 at it"
        )


@pytest.mark.parametrize(
    ("made", "days", "problem", "warning"),
    [
        (0, 730, None, None),
        (0, 10, None, "signing.pkcs12: the signing certificate expires on"),
        (-40, 10, "signing.pkcs12: the signing certificate is valid from", None),
    ],
    ids=["valid for two years", "expires in ten days", "expired a month ago"],
)
def test_check_config_fails_a_certificate_not_valid_now_and_warns_before_it_expires(
    tmp_path: Path, made: int, days: int, problem: str | None, warning: str | None
) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.cli.config_checks import inspect_settings
    from bot.render.certificate import create_trial_certificate

    require_cjk_font()
    create_trial_certificate(
        tmp_path / "signing",
        "Xinghe Precision Ltd.",
        "CN",
        datetime.now(UTC) + timedelta(days=made),
        valid_days=days,
    )
    config = tmp_path / "dunbot.toml"
    config.write_text('[signing]\npkcs12 = "signing/trial-signing.p12"\n', encoding="utf-8")
    problems, warnings = inspect_settings(config)
    about_the_certificate = [p for p in problems if ":signing.pkcs12:" in p]
    if problem is None:
        assert about_the_certificate == []
    else:
        assert len(about_the_certificate) == 1 and about_the_certificate[0].startswith(f"{config}:{problem}")
    # Every one is dunbot's TRIAL certificate, which check-config names as such (issue 16).
    trial = [w for w in warnings if "is dunbot's self-signed TRIAL certificate, not for production" in w]
    assert len(trial) == 1 and trial[0].startswith(f"{config}:signing.pkcs12: ")
    others = [w for w in warnings if w not in trial]
    if warning is None:
        assert others == []
    else:
        assert len(others) == 1 and others[0].startswith(f"{config}:{warning}")
    assert warning is None or "renew it and point signing.pkcs12 at the new one" in others[0]


def test_the_daemon_logs_each_cycle_when_the_certificate_runs_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    from datetime import UTC, datetime, timedelta

    from bot.config import Settings, SigningSettings
    from bot.render.certificate import create_trial_certificate
    from bot.scheduler import _log_certificate_validity

    now = datetime.now(UTC)
    create_trial_certificate(tmp_path, "Xinghe", "CN", now, valid_days=10, stem="short")
    create_trial_certificate(tmp_path, "Xinghe", "CN", now - timedelta(days=40), valid_days=10, stem="old")
    create_trial_certificate(tmp_path, "Xinghe", "CN", now, stem="long")
    logged = []
    for stem in ("short", "old", "long", "missing"):
        caplog.clear()
        settings = Settings(signing=SigningSettings(pkcs12=f"{stem}.p12"), base_dir=tmp_path)
        with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
            _log_certificate_validity(settings, datetime.now(UTC))
        logged.append([(r.levelname, r.getMessage()[:45]) for r in caplog.records])
    assert logged == [
        [("WARNING", "the signing certificate expires on " + f"{now + timedelta(days=10):%Y-%m-%d}")],
        [("ERROR", "the signing certificate is valid from " + f"{now - timedelta(days=40):%Y-%m}")],
        [],
        [],  # cannot be opened: every signed message's review task says why, check-config names the key
    ]


def test_a_notice_signed_after_its_certificate_expired_does_not_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made as another program could make it: dunbot itself refuses to sign with such a certificate."""
    from datetime import UTC, datetime, timedelta

    from bot.render.certificate import create_trial_certificate

    expired = create_trial_certificate(
        tmp_path, "Xinghe Precision Ltd.", "CN", datetime.now(UTC) - timedelta(days=400), valid_days=365
    )
    monkeypatch.setattr(NoticeSigner, "_require_valid_now", lambda self: None)
    signer = NoticeSigner.from_pkcs12(expired.pkcs12, None)
    try:
        notice = NoticeRenderer(lambda: signer, FontChoice()).render(
            "en", "formal_notice", example_context("en"), ADDRESS["en"]
        )
    finally:
        signer.close()
    trusted = load_trust_anchors([expired.certificate_pem])
    report = verify_notice_bytes(notice.pdf, "late.pdf", trusted)
    assert report.intact and report.valid and report.trusted  # the chain check alone would pass it
    assert not report.ok
    assert any("was not valid when the notice was signed" in p for p in report.problems), report.problems
