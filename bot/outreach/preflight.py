"""What a cycle needs before it plans: the secrets, the signing certificate, templates that render.

A cycle writes the day's plan before it sends; one that finds a secret missing at the first e-mail,
or a certificate that does not open at the first notice, would leave a recorded plan (step
executions, messages, events) that nothing went out for. ``require_ready`` finds those problems
first, so that a cycle that cannot work writes nothing at all. It runs the checks ``dunbot
check-config`` runs after reading the file (:func:`environment_problems`): the secrets, the
signing material, and every template rendered once (:mod:`bot.render.template_check`).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

from bot.config import Settings
from bot.domain.ledger import Channel, Language
from bot.errors import ConfigError, UsageError


def require_ready(settings: Settings, file: str) -> None:
    """Raise :class:`ConfigError` listing every reason a cycle with ``settings`` would fail once it
    has started (what ``dunbot check-config`` checks beyond the file itself), when there are any."""
    problems = environment_problems(settings, file)
    if problems:
        raise ConfigError(
            f"{file}: the cycle did not start: {len(problems)} problem(s); nothing was planned, "
            "recorded or sent. Fix them (`dunbot check-config` lists them too) and run the cycle again",
            problems,
        )


def _secret_problems(settings: Settings, file: str) -> list[str]:
    needed: list[tuple[str, str | None]] = []
    if settings.email.transport == "smtp" and settings.email.username:
        needed.append(("email.password_env", settings.email.password_env))
    if settings.sms.transport == "twilio" or settings.voice.transport == "twilio":
        needed.append(("sms.auth_token_env", settings.sms.auth_token_env))
    if settings.web.public_url:
        # The unsubscribe links under it are signed: without the secret anyone could opt anyone out.
        needed.append(("web.session_secret_env", settings.web.session_secret_env))
    if settings.signing.pkcs12 and settings.signing.password_env:
        # A PKCS#12 without a password (the trial one) needs none; a wrong guess shows when it is opened.
        needed.append(("signing.password_env", settings.signing.password_env))
    problems = []
    for key, env_name in needed:
        if not env_name:
            problems.append(f"{file}:{key}: name the environment variable that holds the secret")
        elif env_name not in os.environ:
            problems.append(f"{file}:{key}: environment variable {env_name} is not set")
    return problems


def _signing_problems(settings: Settings, file: str, warnings: list[str] | None = None) -> list[str]:
    """Signed steps and letters need a certificate that opens and is valid now, fonts and a seal
    that exist. A certificate that expires soon goes to ``warnings``."""
    signing = settings.signing
    needs_notice = any(
        step.signed or Channel.LETTER in step.channels for steps in settings.ladder.values() for step in steps
    )
    problems: list[str] = []
    for key, value in (("cjk_font", signing.cjk_font), ("latin_font", signing.latin_font)):
        if value and not settings.path(value).is_file():
            problems.append(f"{file}:signing.{key}: {settings.path(value)} does not exist")
    if signing.seal_image and not settings.path(signing.seal_image).is_file():
        problems.append(f"{file}:signing.seal_image: {settings.path(signing.seal_image)} does not exist")
    if not needs_notice:
        return problems
    if not signing.pkcs12:
        problems.append(
            f"{file}:signing.pkcs12: the ladder has signed steps or letters, which need the company "
            "certificate; set it, or run `dunbot init --self-signed` for a trial one"
        )
    elif not settings.path(signing.pkcs12).is_file():
        problems.append(f"{file}:signing.pkcs12: {settings.path(signing.pkcs12)} does not exist")
    elif not signing.password_env or signing.password_env in os.environ:
        # pyHanko and cryptography load when the certificate is checked, not with every command that
        # imports the daemon (as when these checks lived in bot.config).
        from bot.render.certificate import not_for_production
        from bot.render.signing import certificate_validity, load_pkcs12, validity_note

        password = os.environ.get(signing.password_env or "") if signing.password_env else None
        passphrase = password.encode("utf-8") if password else None
        try:
            signer = load_pkcs12(settings.path(signing.pkcs12), passphrase)
        except ConfigError as exc:
            problems.append(f"{file}:{str(exc).replace('[signing] ', 'signing.')}")
        else:
            trial = not_for_production(signer)
            if trial is not None and warnings is not None:
                warnings.append(f"{file}:signing.pkcs12: {settings.path(signing.pkcs12)} {trial}")
            validity = certificate_validity(signer)
            note = validity_note(*validity, datetime.now(UTC)) if validity else None
            if note is not None:
                fatal, text = note
                text = f"{file}:signing.pkcs12: {text.replace('[signing] ', 'signing.')}"
                if fatal:
                    problems.append(text)
                elif warnings is not None:
                    warnings.append(text)
    if settings.company.language is Language.ZH_CN and not signing.cjk_font:
        from bot.render.fonts import find_cjk_font  # reportlab: only when the font is looked for

        if find_cjk_font() is None:
            problems.append(
                f"{file}:signing.cjk_font: no TrueType CJK font found on this system, so zh-CN notices "
                "cannot be rendered; install one (apt install fonts-wqy-zenhei) or set this key"
            )
    return problems


def environment_problems(settings: Settings, file: str, warnings: list[str] | None = None) -> list[str]:
    """What valid settings still need from the machine: the secrets in the environment, a signing
    certificate that opens and is valid now, the fonts and seal the notices use, templates that
    render. ``check-config`` reports them (:mod:`bot.cli.config_checks`), and every cycle checks them
    before it plans (:func:`require_ready`)."""
    from bot.render.template_check import template_render_problems  # jinja2, when the checks run

    ladders = {tactic: tuple(step.to_domain() for step in steps) for tactic, steps in settings.ladder.items()}
    return (
        _secret_problems(settings, file)
        + _signing_problems(settings, file, warnings)
        + template_render_problems(ladders, file)
    )


# A real cycle sends what is due on its date. Up to a day ahead covers a customer whose local date
# is already tomorrow; anything later would send notices and start legal clocks before their day.
DAYS_AHEAD_ALLOWED = 1


def require_sendable_date(as_of: date, today: date) -> None:
    """Refuse a real cycle for ``as_of`` more than :data:`DAYS_AHEAD_ALLOWED` after ``today`` (the
    company's date); a dry run may look at any date."""
    if as_of > today + timedelta(days=DAYS_AHEAD_ALLOWED):
        raise UsageError(
            f"--as-of {as_of} is {(as_of - today).days} days after today ({today}, company time): a "
            "real cycle sends what is due on its date, so it runs at most one day ahead. To see what "
            f"that day would send, run `dunbot cycle --as-of {as_of} --dry-run`"
        )
