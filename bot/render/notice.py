"""A signed notice from a message context: letter text -> laid-out PDF -> PAdES signature.

:class:`NoticeRenderer` is built once per process (it holds the loaded certificate) and renders
any number of notices. The caller decides which notice is needed and stores the result; nothing
here touches the database or the artifact store. ReportLab and pyHanko are imported when the first
notice is rendered, so commands and cycles that sign nothing do not pay for loading them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.render.context import MessageContext
from bot.render.environment import render_letter

if TYPE_CHECKING:
    from bot.render.fonts import FontChoice
    from bot.render.signing import NoticeSigner


@dataclass(frozen=True, slots=True)
class SignedNotice:
    """A signed notice and what identifies it."""

    reference: str
    pdf: bytes
    sha256: str
    pages: int
    signer: str
    timestamped: bool

    @property
    def filename(self) -> str:
        """The attachment's file name: the reference, safe for any mail client."""
        return f"{''.join(c if c.isalnum() or c in '-_' else '_' for c in self.reference)}.pdf"


class NoticeRenderer:
    """Renders and signs notices; the signer is created on first use and kept."""

    def __init__(
        self,
        signer_factory: Callable[[], NoticeSigner],
        fonts: FontChoice,
        seal_image: Path | None = None,
    ) -> None:
        self._signer_factory = signer_factory
        self._signer: NoticeSigner | None = None
        self.fonts = fonts
        self.seal_image = seal_image

    @property
    def signer(self) -> NoticeSigner:
        """The loaded signer (loading the certificate on first use)."""
        if self._signer is None:
            self._signer = self._signer_factory()
        return self._signer

    def render(
        self, language: str, template: str, context: MessageContext, recipient_address: str
    ) -> SignedNotice:
        """Render letter ``template`` for ``context``, lay it out and sign it."""
        from bot.render.letter import NoticeContent, lay_out_notice

        body = render_letter(language, template, context)
        signer = self.signer
        signed_at = signer.signing_time()
        laid_out = lay_out_notice(
            NoticeContent(
                language=language,
                context=context,
                body=body,
                recipient_address=recipient_address,
                seal_image=self.seal_image,
                signer_name=signer.signer_name,
            ),
            self.fonts,
            signed_at,
        )
        signed = signer.sign(laid_out.pdf, laid_out.signature, signed_at)
        return SignedNotice(
            reference=context["reference"],
            pdf=signed,
            sha256=hashlib.sha256(signed).hexdigest(),
            pages=laid_out.pages,
            signer=signer.signer_name,
            timestamped=signer.tsa_url is not None,
        )

    def close(self) -> None:
        """Release the signer's thread."""
        if self._signer is not None:
            self._signer.close()
            self._signer = None
