"""The HTML report in a real browser: figures load, nothing is logged, fetched or run.

These tests drive Debian's Chromium headless (see tests/browser.py). Without Chromium
they are skipped, unless LLMVALUES_REQUIRE_BROWSER=1 is set (CI sets it). Then they
fail, so that a run without a browser cannot pass for a run that checked the page.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from browser import DEBIAN_CHROMIUM, INSTALL_HINT, HeadlessChromium, Page, find_chromium
from conftest import PROJECT_ROOT
from llmvalues.document import FigurePlaceholder, Paragraph, Report, Section, Table, render_html

REPORT = PROJECT_ROOT / "reports" / "report.html"
SCREENSHOT = PROJECT_ROOT / "build" / "report-screenshot.png"
MIN_FIGURES = 5
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

HOSTILE_TEXTS = [
    '<script>console.error("ran")</script>',
    "<img src=x onerror=\"console.error('ran')\">",
    '<a href="http://example.invalid/">x</a>',
]
SMALL_SVG = """<?xml version="1.0" encoding="utf-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="200pt" height="100pt" viewBox="0 0 200 100">
<rect x="10" y="10" width="180" height="80" fill="#1f77b4"/>
<text x="100" y="55" text-anchor="middle" fill="#ffffff">a &lt;b&gt; figure</text>
</svg>
"""

# For every <figure>, the state of each image in it: an <img>, or an inline <svg> that is
# not nested in another <svg>. An <img> is loaded when the browser decoded it and gave it
# a box, and an inline SVG when it has a box and draws something inside it.
FIGURE_STATES_JS = """
Array.from(document.querySelectorAll("figure")).map(figure => {
  const caption = (figure.querySelector("figcaption")?.textContent ?? "").trim().slice(0, 80);
  const hasArea = box => box.width > 0 && box.height > 0;
  const images = Array.from(figure.querySelectorAll("img")).map(img => {
    const box = img.getBoundingClientRect();
    return {kind: "img", source: img.getAttribute("src")?.slice(0, 40) ?? "",
            loaded: img.complete && img.naturalWidth > 0 && hasArea(box),
            complete: img.complete, naturalWidth: img.naturalWidth, width: box.width, height: box.height};
  });
  const svgs = Array.from(figure.querySelectorAll("svg"))
    .filter(svg => !svg.parentElement.closest("svg"))
    .map(svg => {
      const box = svg.getBoundingClientRect();
      const drawn = svg.getBBox();
      return {kind: "svg", source: "inline",
              loaded: hasArea(box) && hasArea(drawn),
              width: box.width, height: box.height, drawnWidth: drawn.width, drawnHeight: drawn.height};
    });
  return {caption, images: images.concat(svgs)};
})
"""


CHROMIUM = find_chromium()
MISSING_CHROMIUM = f"Chromium not found at {DEBIAN_CHROMIUM} or on PATH: {INSTALL_HINT}"
REQUIRE_BROWSER = os.environ.get("LLMVALUES_REQUIRE_BROWSER") == "1"

pytestmark = pytest.mark.skipif(CHROMIUM is None and not REQUIRE_BROWSER, reason=MISSING_CHROMIUM)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Yield one browser for the module, or None when Chromium is missing but required (open_page then fails)."""
    if CHROMIUM is None:
        yield None
        return
    with HeadlessChromium(tmp_path_factory.mktemp("chromium-profile"), executable=CHROMIUM) as chromium:
        yield chromium


def open_page(browser: HeadlessChromium | None, url: str) -> Page:
    if browser is None:
        pytest.fail(f"{MISSING_CHROMIUM}. LLMVALUES_REQUIRE_BROWSER=1 requires the browser tests to run.")
    return browser.open(url)


def figure_states(page: Page) -> list[dict]:
    return page.evaluate(FIGURE_STATES_JS)


def is_loaded(figure: dict) -> bool:
    """Return True when the figure has at least one image and every image in it loaded."""
    return bool(figure["images"]) and all(image["loaded"] for image in figure["images"])


def console_problems(page: Page) -> list[str]:
    return [str(message) for message in page.console_messages if message.level in ("error", "warning")]


def foreign_requests(page: Page) -> list[str]:
    """Return the requested URLs other than the page itself and data: URLs."""
    return [url for url in page.request_urls if url != page.url and not url.startswith("data:")]


def png_size(png: bytes) -> tuple[int, int]:
    """Return (width, height) from a PNG's IHDR chunk, which the PNG format puts first."""
    assert png[:8] == PNG_SIGNATURE, "the screenshot is not a PNG"
    assert png[12:16] == b"IHDR", "the screenshot's first PNG chunk is not IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_report_figures_all_load(browser):
    page = open_page(browser, REPORT.as_uri())
    figure_count = page.evaluate("document.querySelectorAll('figure').length")
    states = figure_states(page)
    loaded = [figure for figure in states if is_loaded(figure)]
    unloaded = [figure for figure in states if not is_loaded(figure)]

    assert figure_count >= MIN_FIGURES
    assert unloaded == []
    assert len(loaded) == figure_count


def test_report_logs_and_fetches_nothing(browser):
    page = open_page(browser, REPORT.as_uri())

    assert console_problems(page) == []
    assert page.exceptions == []
    assert page.request_urls[:1] == [page.url]
    assert foreign_requests(page) == []


def test_report_screenshot_is_full_page(browser):
    page = open_page(browser, REPORT.as_uri())
    path = page.save_screenshot(SCREENSHOT)
    width, height = png_size(path.read_bytes())

    assert width >= 800
    assert height > width


def test_hostile_text_stays_text(browser, tmp_path):
    report = Report(title=HOSTILE_TEXTS[0], sections=[
        Section(title=HOSTILE_TEXTS[1], blocks=[
            *(Paragraph(text) for text in HOSTILE_TEXTS),
            Table(header=["text", "n"], rows=[[text, "1"] for text in HOSTILE_TEXTS], numeric=[False, True]),
            FigurePlaceholder(caption=HOSTILE_TEXTS[0], alt=HOSTILE_TEXTS[1], key="small"),
        ]),
    ])
    path = tmp_path / "hostile.html"
    path.write_text(render_html(report, {"small": SMALL_SVG}), encoding="utf-8")
    page = open_page(browser, path.as_uri())
    body_text = page.evaluate("document.body.innerText")

    assert console_problems(page) == []
    assert page.exceptions == []
    assert foreign_requests(page) == []
    assert "<script>" in body_text
    for text in HOSTILE_TEXTS:
        assert text in body_text
    assert page.evaluate("document.querySelectorAll('script').length") == 0
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], [onerror], a').length") == 0
    assert [figure for figure in figure_states(page) if not is_loaded(figure)] == []
