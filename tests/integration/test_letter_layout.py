"""Where the seal and the signature panel sit on a signed letter, measured on the real PDF.

The words come from poppler's ``pdftotext -bbox``; the seal is found as the red pixels of the page
rendered by ``pdftoppm`` at 72 dpi (one pixel, one point); the signature panel is the signature
widget's /Rect read back with pyHanko. All three in points from the page's top-left corner.

English letters: the seal and the panel cover no word. Chinese letters (盖章): the seal lies over
the company's name and the date and over no other word; the panel covers no word and not the seal.
"""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw
from pyhanko.pdf_utils.reader import PdfFileReader

from bot.render.context import example_context
from bot.render.fonts import FontChoice
from bot.render.letter import labels_for, letter_date, panel_lines
from bot.render.notice import NoticeRenderer, SignedNotice
from bot.render.signing import NoticeSigner
from tests.conftest import require_cjk_font, require_tool

SIGNED_STEPS = ("due_statement", "formal_notice", "credit_hold", "final_demand", "lawyer_letter")
LANGUAGES = ("zh-CN", "en")
ADDRESS = {"zh-CN": "杭州市西湖区文三路 1 号\n邮编 310012", "en": "1 Harbour Road\nWan Chai, Hong Kong"}
Box = tuple[float, float, float, float]  # x0, top, x1, bottom


@dataclass(frozen=True)
class Word:
    page: int
    text: str
    box: Box


@pytest.fixture(scope="module")
def seal_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A company seal as companies scan it: a red ring and star on a transparent background."""
    path = tmp_path_factory.mktemp("seal") / "seal.png"
    image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((6, 6, 394, 394), outline=(200, 16, 46, 230), width=14)
    draw.regular_polygon((200, 200, 70), 5, fill=(200, 16, 46, 230))
    image.save(path)
    return path


@pytest.fixture(scope="module", params=["seal image", "specimen seal"])
def renderer(request: pytest.FixtureRequest, notice_signer: NoticeSigner, seal_png: Path) -> Iterator[Any]:
    require_cjk_font()
    seal = seal_png if request.param == "seal image" else None
    yield NoticeRenderer(lambda: notice_signer, FontChoice(), seal_image=seal)


def _words(pdf: Path) -> list[Word]:
    out = subprocess.run(
        [require_tool("pdftotext"), "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    words: list[Word] = []
    for page, body in enumerate(out.split("<page ")[1:]):
        for match in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', body
        ):
            x0, top, x1, bottom = (float(v) for v in match.groups()[:4])
            words.append(Word(page, _unescape(match.group(5)), (x0, top, x1, bottom)))
    return words


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")


def _seal(pdf: Path, pages: int) -> tuple[int, Box]:
    """The one page with red on it, and the box of its red pixels."""
    found = []
    for page in range(pages):
        stem = pdf.with_name(f"{pdf.stem}-p{page}")
        subprocess.run(
            [require_tool("pdftoppm"), "-r", "72", "-png", "-singlefile", "-f", str(page + 1),
             "-l", str(page + 1), str(pdf), str(stem)],
            check=True,
        )  # fmt: skip
        red, green, blue = Image.open(stem.with_suffix(".png")).convert("RGB").split()
        mask = ImageChops.multiply(
            ImageChops.multiply(
                red.point(lambda v: 255 if v > 150 else 0), blue.point(lambda v: 255 if v < 130 else 0)
            ),
            ImageChops.subtract(red, green).point(lambda v: 255 if v > 80 else 0),
        )
        box = mask.getbbox()
        if box is not None:
            found.append((page, tuple(float(v) for v in box)))
    assert len(found) == 1, f"the seal should be on exactly one page: {found}"
    return found[0]


def _panel(notice: SignedNotice) -> tuple[int, Box]:
    reader = PdfFileReader(io.BytesIO(notice.pdf))
    (signature,) = reader.embedded_signatures
    field = signature.sig_field
    x0, y0, x1, y1 = (float(v) for v in field["/Rect"])
    page_height = 841.8898
    for index in range(notice.pages):
        page = reader.root["/Pages"]["/Kids"][index]
        if any(annotation.get_object() is field for annotation in page.get("/Annots", [])):
            return index, (x0, page_height - y1, x1, page_height - y0)
    raise AssertionError("the signature widget is on no page")


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(inner: Box, outer: Box, slack: float = 0.5) -> bool:
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", SIGNED_STEPS)
def test_the_seal_and_the_signature_panel_cover_only_what_they_should(
    renderer: NoticeRenderer, language: str, step: str, tmp_path: Path
) -> None:
    context = example_context(language)
    notice = renderer.render(language, step, context, ADDRESS[language])
    pdf = tmp_path / f"{language}-{step}.pdf"
    pdf.write_bytes(notice.pdf)
    words = _words(pdf)
    seal_page, seal = _seal(pdf, notice.pages)
    panel_page, panel = _panel(notice)
    legal_name, date_line = context["company"]["legal_name"], letter_date(context["as_of"], language)

    assert panel_page == seal_page
    assert not _overlap(panel, seal), (panel, seal)
    on_page = [w for w in words if w.page == seal_page]
    if renderer.seal_image is None:  # the drawn SPECIMEN seal writes its own words inside itself
        own = set(legal_name) | set("SPECIMEN样章 ")
        on_page = [w for w in on_page if not (_inside(w.box, seal) and set(w.text) <= own)]

    # The panel holds its own words, every one of them whole, and nothing else.
    in_panel = [w for w in on_page if _overlap(w.box, panel)]
    assert all(_inside(w.box, panel) for w in in_panel), [w for w in in_panel if not _inside(w.box, panel)]
    drawn = "".join(w.text for w in sorted(in_panel, key=lambda w: (round(w.box[1]), w.box[0])))
    expected = "".join(panel_lines(language, notice.signer)).replace(" ", "")
    assert drawn == expected, f"the panel shows {drawn!r}, not {expected!r}"

    under_seal = [w.text for w in on_page if _overlap(w.box, seal)]
    if language == "en":
        assert under_seal == [], f"the seal covers {under_seal}"
        caption = [w for w in on_page if w.text == "seal)"]
        assert caption and caption[0].box[1] >= seal[3]  # "(company seal)" under the seal, clear of it
    else:
        assert sorted(under_seal) == sorted([legal_name, date_line]), f"the seal covers {under_seal}"
        assert labels_for(language).seal_note == ""  # no "（盖章）" placeholder where the seal is


@pytest.mark.parametrize("step", SIGNED_STEPS)
def test_no_chinese_line_starts_with_a_closing_mark(
    notice_signer: NoticeSigner, step: str, tmp_path: Path
) -> None:
    require_cjk_font()
    renderer = NoticeRenderer(lambda: notice_signer, FontChoice())
    for count in (1, 3):
        notice = renderer.render(
            "zh-CN", step, example_context("zh-CN", invoice_count=count), ADDRESS["zh-CN"]
        )
        pdf = tmp_path / f"{step}-{count}.pdf"
        pdf.write_bytes(notice.pdf)
        text = subprocess.run(
            [require_tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        starts = [line for line in text.splitlines() if re.match(r"\s*[，。：；！？、）」』》]", line)]
        assert starts == [], starts
