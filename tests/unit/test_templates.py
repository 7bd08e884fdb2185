"""The message templates and the sandboxed environment that renders them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.errors import InputError
from bot.render.context import MessageContext, example_context
from bot.render.environment import (
    TEMPLATES_ENV_VAR,
    RenderedEmail,
    TemplateKind,
    TemplateRenderError,
    missing_templates,
    render_email,
    render_letter,
    render_sms,
    render_task,
    template_files,
    templates_dir,
)

LANGUAGES = ("zh-CN", "en")
# Steps of the default ladder (DESIGN §4) with that channel in at least one tactic.
EMAIL_STEPS = (
    "pre_due_reminder",
    "due_statement",
    "care_call",
    "formal_notice",
    "final_demand",
    "credit_hold",
    "lawyer_letter",
)
# Steps whose e-mail carries the signed PDF notice in some tactic (`signed` in DESIGN §4).
SIGNED_EMAIL_STEPS = ("due_statement", "formal_notice", "final_demand", "credit_hold", "lawyer_letter")
SMS_STEPS = (
    "pre_due_reminder",
    "due_statement",
    "overdue_sms",
    "collection_call",
    "formal_notice",
    "credit_hold",
)
TASK_STEPS = (
    "care_call",
    "account_review",
    "legal_referral",
    "collection_call",
    "payment_order_pack",
    "litigation_referral",
    "preservation_pack",
)
ALL_STEPS = (
    "pre_due_reminder",
    "due_statement",
    "care_call",
    "formal_notice",
    "account_review",
    "final_demand",
    "legal_referral",
    "overdue_sms",
    "collection_call",
    "credit_hold",
    "lawyer_letter",
    "payment_order_pack",
    "litigation_referral",
    "preservation_pack",
)
# The default `[compliance] banned_phrases` suggestion: threats and impersonated authority.
BANNED_PHRASES = ("arrest", "jail", "police", "逮捕", "坐牢", "公安", "黑名单")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# GSM 03.38 basic character set (no extension-table characters, which cost two septets).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

EMAIL_CASES = [(language, step) for language in LANGUAGES for step in EMAIL_STEPS]
SMS_CASES = [(language, step) for language in LANGUAGES for step in SMS_STEPS]
TASK_CASES = [(language, step) for language in LANGUAGES for step in TASK_STEPS]
INVOICE_COUNTS = (1, 3)


def context(language: str, invoice_count: int = 3, **changes: Any) -> MessageContext:
    """The example context, with top-level keys replaced by ``changes``."""
    built = example_context(language, invoice_count=invoice_count)
    built.update(changes)  # type: ignore[typeddict-item]
    return built


def write_templates(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def email_texts(email: RenderedEmail) -> list[str]:
    return [email.subject, email.text, email.html]


# --- every template exists and renders ---------------------------------------------------------------


@pytest.mark.parametrize(("language", "step"), EMAIL_CASES)
def test_email_templates_exist(language: str, step: str) -> None:
    assert missing_templates(TemplateKind.EMAIL, language, step) == []


@pytest.mark.parametrize(("language", "step"), SMS_CASES)
def test_sms_templates_exist(language: str, step: str) -> None:
    assert missing_templates(TemplateKind.SMS, language, step) == []


@pytest.mark.parametrize(("language", "step"), TASK_CASES)
def test_task_templates_exist(language: str, step: str) -> None:
    assert missing_templates(TemplateKind.TASK, language, step) == []


def test_every_default_ladder_step_has_some_template() -> None:
    covered = set(EMAIL_STEPS) | set(SMS_STEPS) | set(TASK_STEPS)
    assert covered == set(ALL_STEPS)


@pytest.mark.parametrize("invoice_count", INVOICE_COUNTS)
@pytest.mark.parametrize(("language", "step"), EMAIL_CASES)
def test_email_renders_invoices_payment_and_contact(language: str, step: str, invoice_count: int) -> None:
    ctx = context(language, invoice_count)
    email = render_email(language, step, ctx)

    assert email.subject and "\n" not in email.subject and email.subject == email.subject.strip()
    assert ctx["reference"] in email.subject
    assert email.text.endswith("\n") and "\n\n\n" not in email.text
    assert email.html.lstrip().startswith("<!DOCTYPE html>")
    for body in (email.text, email.html):
        assert ctx["customer"]["name"] in body
        for invoice in ctx["invoices"]:
            assert invoice["number"] in body
            assert invoice["outstanding"] in body
        for total in ctx["totals"]:
            assert f"{total['currency']} {total['outstanding']}" in body
        assert ctx["company"]["bank_account"] in body
        assert ctx["company"]["phone"] in body
        assert ctx["company"]["email"] in body
        assert ctx["customer"]["account_manager"] in body
        assert ("忽略" if language == "zh-CN" else "disregard") in body


@pytest.mark.parametrize(("language", "step"), EMAIL_CASES)
def test_email_mentions_the_signed_pdf_only_when_attached(language: str, step: str) -> None:
    plain = render_email(language, step, context(language, notice_attached=False))
    for body in (plain.text, plain.html):
        assert "PDF" not in body
    if step not in SIGNED_EMAIL_STEPS:
        return
    attached = render_email(language, step, context(language, notice_attached=True))
    for body in (attached.text, attached.html):
        assert "PDF" in body


@pytest.mark.parametrize(("language", "step"), EMAIL_CASES)
def test_email_without_account_manager_leaves_no_gap(language: str, step: str) -> None:
    ctx = context(language)
    ctx["customer"]["account_manager"] = ""
    email = render_email(language, step, ctx)
    assert "客户经理 。" not in email.text and "manager ." not in email.text
    assert 'mailto:"' not in email.html


@pytest.mark.parametrize("invoice_count", INVOICE_COUNTS)
@pytest.mark.parametrize(("language", "step"), SMS_CASES)
def test_sms_renders_company_amount_and_how_to_pay(language: str, step: str, invoice_count: int) -> None:
    ctx = context(language, invoice_count)
    sms = render_sms(language, step, ctx)

    assert sms == " ".join(sms.split())
    assert ctx["company"]["name"] in sms
    assert ctx["invoices"][0]["number"] in sms
    for total in ctx["totals"]:
        assert total["outstanding"] in sms
    assert ctx["company"]["bank_account"] in sms
    assert ctx["company"]["phone"] in sms
    assert ("忽略" if language == "zh-CN" else "ignore") in sms


@pytest.mark.parametrize(("language", "step"), SMS_CASES)
def test_sms_fits_two_segments(language: str, step: str) -> None:
    sms = render_sms(language, step, context(language, 3))
    if language == "zh-CN":
        assert len(sms) <= 134, f"{len(sms)} characters is more than 2 UCS-2 segments: {sms}"
    else:
        assert set(sms) <= GSM7_BASIC, f"not GSM-7: {sorted(set(sms) - GSM7_BASIC)}"
        assert len(sms) <= 306, f"{len(sms)} characters is more than 2 GSM-7 segments: {sms}"


@pytest.mark.parametrize("invoice_count", INVOICE_COUNTS)
@pytest.mark.parametrize(("language", "step"), TASK_CASES)
def test_task_renders_title_and_instructions(language: str, step: str, invoice_count: int) -> None:
    ctx = context(language, invoice_count)
    task = render_task(language, step, ctx)

    assert task.title and "\n" not in task.title
    assert ctx["customer"]["name"] in task.title
    assert task.body and not task.body.startswith(task.title)
    for invoice in ctx["invoices"]:
        assert invoice["number"] in task.body
        assert invoice["outstanding"] in task.body
    assert "dunbot task done" in task.body


def test_task_instructions_follow_the_ladder() -> None:
    body = {step: render_task("zh-CN", step, context("zh-CN")).body for step in TASK_STEPS}
    assert "资金计划" in body["care_call"] and "分期" in body["care_call"]
    assert "暂停赊销" in body["account_review"]
    assert "dunbot evidence export --customer C-0042" in body["legal_referral"]
    assert "支付令" in body["payment_order_pack"]
    assert "财产保全" in body["preservation_pack"]
    english = render_task("en", "care_call", context("en")).body
    assert "cash plan" in english and "instalment" in english


# --- tone, language and banned phrases --------------------------------------------------------------


def rendered_texts(language: str, invoice_count: int) -> list[str]:
    ctx = context(language, invoice_count)
    texts: list[str] = []
    for step in EMAIL_STEPS:
        texts.extend(email_texts(render_email(language, step, ctx)))
    texts.extend(render_sms(language, step, ctx) for step in SMS_STEPS)
    for step in TASK_STEPS:
        task = render_task(language, step, ctx)
        texts.extend((task.title, task.body))
    return texts


@pytest.mark.parametrize("invoice_count", INVOICE_COUNTS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_no_banned_phrase_in_any_rendered_text(language: str, invoice_count: int) -> None:
    for text in rendered_texts(language, invoice_count):
        lowered = text.lower()
        hits = [phrase for phrase in BANNED_PHRASES if phrase in lowered]
        assert not hits, f"banned {hits} in: {text[:80]}"


def test_zh_cn_texts_are_chinese_and_en_texts_are_not() -> None:
    for text in rendered_texts("zh-CN", 1):
        assert CJK.search(text), text[:80]
    for text in rendered_texts("en", 3):
        match = CJK.search(text)
        assert match is None, f"CJK {match.group()!r} in: {text[:80]}"


# The marks a Chinese text writes full-width (，：；！？), found half-width beside a CJK character or a
# full-width mark: "截至 2024-07-11,按合同" is as wrong as "付款方式:请".
HALF_WIDTH_IN_CHINESE = re.compile(
    r"(?<=[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef])[,:;!?]"
    r"|[,:;!?](?=[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef])"
)
LETTER_STEPS = ("due_statement", "formal_notice", "credit_hold", "final_demand", "lawyer_letter")


def every_zh_cn_output(ctx: MessageContext) -> list[tuple[str, str]]:
    """(template, rendered text) for every zh-CN e-mail part, SMS, task and letter."""
    outputs: list[tuple[str, str]] = []
    for step in EMAIL_STEPS:
        email = render_email("zh-CN", step, ctx)
        outputs += [(f"email/{step}.subject", email.subject), (f"email/{step}.txt", email.text)]
        outputs.append((f"email/{step}.html", email.html))
    outputs += [(f"sms/{step}", render_sms("zh-CN", step, ctx)) for step in SMS_STEPS]
    for step in TASK_STEPS:
        task = render_task("zh-CN", step, ctx)
        outputs += [(f"tasks/{step} (title)", task.title), (f"tasks/{step}", task.body)]
    outputs += [(f"letters/{step}", render_letter("zh-CN", step, ctx)) for step in LETTER_STEPS]
    return outputs


@pytest.mark.parametrize("invoice_count", INVOICE_COUNTS)
@pytest.mark.parametrize("variant", ["example", "no_contacts", "not_attached"])
def test_zh_cn_texts_write_full_width_punctuation(invoice_count: int, variant: str) -> None:
    ctx = context("zh-CN", invoice_count, notice_attached=variant != "not_attached")
    if variant == "no_contacts":  # the optional pieces left out: what is around them must still read
        ctx["company"]["contact_person"] = ""
        ctx["customer"]["account_manager"] = ""
    found = [
        f"{name}: ...{text[max(0, m.start() - 12) : m.end() + 12]!r}..."
        for name, text in every_zh_cn_output(ctx)
        for m in HALF_WIDTH_IN_CHINESE.finditer(text)
    ]
    assert found == [], "half-width punctuation beside Chinese text:\n" + "\n".join(found)


def test_the_punctuation_check_finds_half_width_marks() -> None:
    assert HALF_WIDTH_IN_CHINESE.findall("截至 2024-07-11,按合同:请付款;谢谢!是否?") == [
        ",",
        ":",
        ";",
        "!",
        "?",
    ]
    assert HALF_WIDTH_IN_CHINESE.findall("（编号 X）:上海") == [":"]
    assert not HALF_WIDTH_IN_CHINESE.search("截至 2024-07-11，按合同：dunbot log --customer C1; 09:00 a,b")


def test_english_template_sources_have_no_cjk() -> None:
    for kind in ("email", "sms", "tasks"):
        for path in (templates_dir() / kind / "en").glob("*.j2"):
            assert not CJK.search(path.read_text(encoding="utf-8")), path


def test_tone_rises_along_the_ladder() -> None:
    ctx = context("zh-CN")
    assert "温馨提示" in render_email("zh-CN", "pre_due_reminder", ctx).subject
    assert "正式催款函" in render_email("zh-CN", "formal_notice", ctx).subject
    assert "合同约定" in render_email("zh-CN", "formal_notice", ctx).text
    assert "暂停" in render_email("zh-CN", "credit_hold", ctx).text
    for step in ("final_demand", "lawyer_letter"):
        assert "依法通过诉讼等法律途径主张权利" in render_email("zh-CN", step, ctx).text
    assert "律师函" in render_email("zh-CN", "lawyer_letter", ctx).subject
    early = render_email("zh-CN", "pre_due_reminder", ctx).text
    assert "诉讼" not in early and "违约" not in early


# --- escaping, errors and the sandbox ---------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_html_escapes_customer_text_but_plain_text_does_not(language: str) -> None:
    ctx = context(language)
    ctx["customer"]["name"] = "<b>&"
    email = render_email(language, "formal_notice", ctx)
    assert "&lt;b&gt;&amp;" in email.html
    assert "<b>&" not in email.html
    assert "<b>&" in email.text
    assert "<b>&" in email.subject


def test_unknown_variable_names_the_template_file(tmp_path: Path) -> None:
    root = write_templates(tmp_path, {"sms/en/broken.j2": "Hello {{ customer.name }}\n{{ customr.name }}\n"})
    with pytest.raises(TemplateRenderError) as caught:
        render_sms("en", "broken", context("en"), directory=root)
    assert "sms/en/broken.j2:2" in str(caught.value)
    assert "customr" in str(caught.value)
    assert isinstance(caught.value, InputError)


def test_missing_context_key_names_the_failing_file() -> None:
    ctx: dict[str, Any] = dict(context("en"))
    del ctx["reference"]
    with pytest.raises(TemplateRenderError, match=r"email/en/formal_notice\.subject\.j2:1.*reference"):
        render_email("en", "formal_notice", ctx)


def test_error_inside_a_macro_file_names_that_file(tmp_path: Path) -> None:
    root = write_templates(
        tmp_path,
        {
            "sms/en/_m.j2": "{% macro f() %}{{ nope }}{% endmacro %}",
            "sms/en/uses.j2": '{% import "sms/en/_m.j2" as m with context %}{{ m.f() }}',
        },
    )
    with pytest.raises(TemplateRenderError, match=r"sms/en/_m\.j2:1"):
        render_sms("en", "uses", context("en"), directory=root)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    root = write_templates(tmp_path, {"tasks/en/bad.j2": "Title\nbody {{ customer.name\n"})
    with pytest.raises(TemplateRenderError, match=r"tasks/en/bad\.j2:\d+: syntax error"):
        render_task("en", "bad", context("en"), directory=root)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ customer.__class__ }}",
        "{{ invoices.append(1) }}",
        "{% set _ = customer.update({'name': 'x'}) %}x",
    ],
)
def test_sandbox_refuses_unsafe_access(source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_templates(tmp_path, {"sms/en/evil.j2": source})
    monkeypatch.setenv(TEMPLATES_ENV_VAR, str(tmp_path))
    assert templates_dir() == tmp_path.resolve()
    with pytest.raises(TemplateRenderError, match=r"sms/en/evil\.j2:1: refused by the sandbox"):
        render_sms("en", "evil", context("en"))


def test_none_never_reaches_the_customer(tmp_path: Path) -> None:
    root = write_templates(tmp_path, {"sms/en/none.j2": "Hello {{ customer.account_manager }}"})
    ctx = context("en")
    ctx["customer"]["account_manager"] = None  # type: ignore[typeddict-item]
    with pytest.raises(TemplateRenderError, match="None"):
        render_sms("en", "none", ctx, directory=root)


def test_template_not_found_is_a_render_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateRenderError, match=r"sms/en/absent\.j2.*not found"):
        render_sms("en", "absent", context("en"), directory=tmp_path)


def test_empty_task_title_is_refused(tmp_path: Path) -> None:
    root = write_templates(tmp_path, {"tasks/en/blank.j2": "{{ '' }}\n"})
    with pytest.raises(TemplateRenderError, match="title"):
        render_task("en", "blank", context("en"), directory=root)


# --- file naming and lookup ---------------------------------------------------------------------------


def test_template_files_per_kind() -> None:
    assert template_files(TemplateKind.EMAIL, "zh-CN", "formal_notice") == [
        "email/zh-CN/formal_notice.subject.j2",
        "email/zh-CN/formal_notice.txt.j2",
        "email/zh-CN/formal_notice.html.j2",
    ]
    assert template_files(TemplateKind.SMS, "en", "overdue_sms") == ["sms/en/overdue_sms.j2"]
    assert template_files(TemplateKind.TASK, "en", "care_call") == ["tasks/en/care_call.j2"]
    assert template_files(TemplateKind.LETTER, "en", "formal_notice") == ["letters/en/formal_notice.j2"]


def test_missing_templates_reports_each_missing_file(tmp_path: Path) -> None:
    root = write_templates(tmp_path, {"email/en/half.subject.j2": "Subject"})
    assert missing_templates(TemplateKind.EMAIL, "en", "half", directory=root) == [
        "email/en/half.txt.j2",
        "email/en/half.html.j2",
    ]
    assert missing_templates(TemplateKind.SMS, "en", "no_such_step") == ["sms/en/no_such_step.j2"]
    assert missing_templates(TemplateKind.EMAIL, "fr", "formal_notice") == [
        "email/fr/formal_notice.subject.j2",
        "email/fr/formal_notice.txt.j2",
        "email/fr/formal_notice.html.j2",
    ]


def test_missing_templates_honours_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEMPLATES_ENV_VAR, str(tmp_path))
    assert missing_templates(TemplateKind.SMS, "en", "overdue_sms") == ["sms/en/overdue_sms.j2"]


@pytest.mark.parametrize(("language", "name"), [("en", "../../etc/passwd"), ("en", "Formal"), ("../x", "a")])
def test_names_that_could_leave_the_directory_are_refused(language: str, name: str) -> None:
    with pytest.raises(TemplateRenderError, match="not valid"):
        missing_templates(TemplateKind.SMS, language, name)


def test_default_templates_dir_is_the_repository_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TEMPLATES_ENV_VAR, raising=False)
    root = templates_dir()
    assert root.name == "templates"
    assert (root / "email" / "zh-CN").is_dir()
    assert (root.parent / "bot" / "render" / "environment.py").is_file()


def test_example_context_sums_per_currency() -> None:
    ctx = example_context("en", invoice_count=3)
    assert [(t["currency"], t["outstanding"], t["late_fee"]) for t in ctx["totals"]] == [
        ("CNY", "130,000.00", "4,710.00"),
        ("USD", "12,500.00", "0.00"),
    ]
    with pytest.raises(ValueError, match="invoice_count"):
        example_context("en", invoice_count=0)
