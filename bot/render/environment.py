"""The sandboxed Jinja2 environment that renders e-mail, SMS and collector-task templates.

Templates live under one directory (``$DUNBOT_TEMPLATES``, else the repository's ``templates/``)::

    email/<language>/<name>.subject.j2 | <name>.txt.j2 | <name>.html.j2
    sms/<language>/<name>.j2
    tasks/<language>/<name>.j2
    letters/<language>/<name>.j2

Templates are operator-editable text, so they are rendered in an ``ImmutableSandboxedEnvironment``
(no attribute tricks, no mutation of the context) with ``StrictUndefined`` (a misspelt variable is an
error, never a silently empty notice). Autoescaping is on for ``.html.j2`` and for letters (ReportLab
markup is XML). Every Jinja2 problem comes out as :class:`TemplateRenderError`, naming the file and,
where known, the line.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.config import installed_path
from bot.errors import InputError

TEMPLATES_ENV_VAR = "DUNBOT_TEMPLATES"

# Names become file paths: keep them to plain identifiers so no name can leave the directory.
_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
_LANGUAGE_PATTERN = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_EMAIL_PARTS = ("subject", "txt", "html")
_BLANK_RUNS = re.compile(r"\n{3,}")


class TemplateKind(StrEnum):
    """A family of templates; the value is its folder under the templates directory."""

    EMAIL = "email"  # three files: subject line, plain-text body, HTML body
    SMS = "sms"  # one short text, whitespace collapsed
    TASK = "tasks"  # a collector work item: first line the title, the rest the instructions
    LETTER = "letters"  # body of a signed PDF notice (ReportLab paragraph markup)


class TemplateRenderError(InputError):
    """A template is missing, malformed, refers to an unknown variable or was refused by the sandbox."""

    def __init__(self, template: str, problem: str) -> None:
        problem = problem.rstrip(". ")
        super().__init__(f"template {template}: {problem}; fix the template or the context it is given")
        self.template = template
        self.problem = problem


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """A rendered e-mail: a one-line subject, the plain-text body and the HTML body."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class RenderedTask:
    """A rendered collector task: a one-line title and the instructions."""

    title: str
    body: str


def templates_dir() -> Path:
    """Return the templates directory: ``$DUNBOT_TEMPLATES`` if set, else ``templates/`` beside ``bot/``."""
    configured = os.environ.get(TEMPLATES_ENV_VAR)
    if configured:
        return Path(configured).expanduser().resolve()
    return _installed_templates()


@cache
def _installed_templates() -> Path:
    # bot/render/environment.py -> <repository>/templates in a checkout or an editable install;
    # <prefix>/share/dunbot/templates when installed from a wheel. Looked up once: it was three
    # path resolutions and file-system checks per e-mail sent.
    return installed_path("templates")


def template_files(kind: TemplateKind, language: str, name: str) -> list[str]:
    """Return the files template ``name`` of ``kind`` needs, relative to the templates directory.

    Raises :class:`TemplateRenderError` when ``language`` or ``name`` is not a plain identifier.
    """
    if not _LANGUAGE_PATTERN.fullmatch(language):
        raise TemplateRenderError(f"{kind.value}/{language}/{name}", f"language {language!r} is not valid")
    if not _NAME_PATTERN.fullmatch(name):
        raise TemplateRenderError(
            f"{kind.value}/{language}/{name}",
            f"name {name!r} is not valid: use lowercase letters, digits and '_'",
        )
    folder = f"{kind.value}/{language}"
    if kind is TemplateKind.EMAIL:
        return [f"{folder}/{name}.{part}.j2" for part in _EMAIL_PARTS]
    return [f"{folder}/{name}.j2"]


def missing_templates(
    kind: TemplateKind, language: str, name: str, *, directory: Path | None = None
) -> list[str]:
    """Return which of :func:`template_files` do not exist (empty when the template is complete)."""
    root = directory if directory is not None else templates_dir()
    return [relative for relative in template_files(kind, language, name) if not (root / relative).is_file()]


def template_environment(directory: Path | None = None) -> ImmutableSandboxedEnvironment:
    """Return the (cached) sandboxed environment loading from ``directory`` or :func:`templates_dir`."""
    return _environment(directory.resolve() if directory is not None else templates_dir())


def render_email(
    language: str, name: str, context: Mapping[str, Any], *, directory: Path | None = None
) -> RenderedEmail:
    """Render the subject, text and HTML of e-mail template ``name``; the subject is one stripped line."""
    subject_file, text_file, html_file = template_files(TemplateKind.EMAIL, language, name)
    subject = " ".join(_render(subject_file, context, directory).split())
    if not subject:
        raise TemplateRenderError(subject_file, "the subject rendered empty")
    text = _tidy_text(_render(text_file, context, directory))
    html = _render(html_file, context, directory).strip() + "\n"
    return RenderedEmail(subject=subject, text=text, html=html)


def render_sms(language: str, name: str, context: Mapping[str, Any], *, directory: Path | None = None) -> str:
    """Render SMS template ``name`` with all whitespace runs collapsed to one space, stripped."""
    (sms_file,) = template_files(TemplateKind.SMS, language, name)
    text = " ".join(_render(sms_file, context, directory).split())
    if not text:
        raise TemplateRenderError(sms_file, "the message rendered empty")
    return text


def render_task(
    language: str, name: str, context: Mapping[str, Any], *, directory: Path | None = None
) -> RenderedTask:
    """Render task template ``name``: the first line is the title, the remaining lines the body."""
    (task_file,) = template_files(TemplateKind.TASK, language, name)
    rendered = _render(task_file, context, directory).strip()
    title, _, body = rendered.partition("\n")
    title = " ".join(title.split())
    if not title:
        raise TemplateRenderError(task_file, "the title (first line) rendered empty")
    return RenderedTask(title=title, body=_tidy_text(body).rstrip("\n"))


def render_letter(
    language: str, name: str, context: Mapping[str, Any], *, directory: Path | None = None
) -> str:
    """Render the body of letter ``name``: ReportLab paragraph markup, paragraphs split by a blank line.

    Values are XML-escaped (the template is autoescaped); only the template's own ``<b>``, ``<i>`` and
    ``<br/>`` are markup.
    """
    (letter_file,) = template_files(TemplateKind.LETTER, language, name)
    text = _tidy_text(_render(letter_file, context, directory))
    if not text.strip():
        raise TemplateRenderError(letter_file, "the letter rendered empty")
    return text


def _tidy_text(text: str) -> str:
    # Optional pieces (an attachment line, an account manager) may leave blank runs behind: a plain-text
    # body keeps at most one empty line between paragraphs and no trailing spaces.
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)) + "\n"


def _render(template_name: str, context: Mapping[str, Any], directory: Path | None) -> str:
    environment = template_environment(directory)
    try:
        return environment.get_template(template_name).render(dict(context))
    except jinja2.TemplateNotFound as exc:
        root = _root_of(environment)
        raise TemplateRenderError(str(exc.name or template_name), f"not found under {root}") from exc
    except jinja2.TemplateSyntaxError as exc:
        where = exc.name or template_name
        raise TemplateRenderError(f"{where}:{exc.lineno}", f"syntax error: {exc.message}") from exc
    except SecurityError as exc:
        where = _failing_location(exc, environment, template_name)
        raise TemplateRenderError(where, f"refused by the sandbox: {exc}") from exc
    except jinja2.UndefinedError as exc:
        where = _failing_location(exc, environment, template_name)
        raise TemplateRenderError(where, f"undefined variable: {exc.message}") from exc
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        where = _failing_location(exc, environment, template_name)
        raise TemplateRenderError(where, f"{type(exc).__name__}: {exc}") from exc


@lru_cache(maxsize=8)
def _environment(root: Path) -> ImmutableSandboxedEnvironment:
    environment = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(root, encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=_autoescape,
        finalize=_refuse_none,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    environment.tests["nonzero_amount"] = _is_nonzero_amount
    return environment


def _autoescape(template_name: str | None) -> bool:
    # HTML e-mail bodies and letter bodies (ReportLab paragraph markup is XML: & and < must be escaped).
    if template_name is None:
        return False
    return template_name.endswith(".html.j2") or template_name.startswith(f"{TemplateKind.LETTER.value}/")


def _refuse_none(value: object) -> object:
    # The context contract uses "" for absent text; "None" must never reach a customer.
    if value is None:
        raise jinja2.TemplateRuntimeError("a value printed is None; the context must use '' for absent text")
    return value


def _is_nonzero_amount(value: object) -> bool:
    """Jinja test ``x is nonzero_amount``: a preformatted amount such as "2,500.00" that is not zero."""
    return any(character in "123456789" for character in str(value))


def _root_of(environment: jinja2.Environment) -> str:
    loader = environment.loader
    if isinstance(loader, jinja2.FileSystemLoader) and loader.searchpath:
        return str(loader.searchpath[0])
    return "the templates directory"


def _failing_location(exc: BaseException, environment: jinja2.Environment, fallback: str) -> str:
    # Jinja rewrites tracebacks so template frames carry the template's file name and line: report the
    # innermost one, which names an included or imported file when the problem is there.
    root = Path(_root_of(environment))
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            path = Path(frame.filename)
            try:
                relative = path.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                relative = path.as_posix()
            return f"{relative}:{frame.lineno}"
    return fallback
