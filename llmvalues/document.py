"""A small document model and its two renderings: a self-contained HTML page and Markdown.

A ``Report`` is a title and sections of blocks (paragraphs, bullet lists, tables,
code blocks and figures). ``render_html`` writes it as one HTML page with each
figure embedded as an SVG image (a data URL, so figures cannot clash with each
other or with the page) and a content policy that forbids scripts and external
resources. ``render_markdown`` writes the Markdown twin, which links the figure files.
All text is escaped: HTML-escaped in the page, backslash-escaped in Markdown.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from typing import Any


# --- Content -----------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class BulletList:
    items: list[str]


@dataclass(frozen=True)
class Table:
    """A table of text cells. ``numeric`` marks the right-aligned columns."""

    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]


@dataclass(frozen=True)
class CodeBlock:
    text: str
    language: str = ""


@dataclass(frozen=True)
class FigurePlaceholder:
    """The place of a figure named ``key``. The renderers insert its SVG or a link to its file."""

    caption: str
    alt: str
    key: str = "profiles"


@dataclass
class Section:
    title: str
    blocks: list[Any] = field(default_factory=list)


@dataclass
class Report:
    title: str
    sections: list[Section]


# --- HTML ----------------------------------------------------------------------

_STYLE = """\
body { margin: 0; color: #1a1a1a; background: #ffffff; line-height: 1.5;
       font-family: "DejaVu Sans", "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 76rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.7rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #bbbbbb; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.75rem 0; font-size: 0.82rem; }
th, td { border: 1px solid #bbbbbb; padding: 0.15rem 0.4rem; text-align: left; vertical-align: top; }
th { background: #eeeeee; }
.number { text-align: right; font-variant-numeric: tabular-nums; }
td.number { white-space: nowrap; }
figure { margin: 1rem 0; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 0.9rem; }
pre { background: #f4f4f4; padding: 0.75rem; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.85rem; }
@media print {
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  figure, table { break-inside: avoid; }
  .table-wrap { overflow: visible; }
  table { font-size: 0.7rem; }
}
"""

# If some text were ever left unescaped, this policy still stops the page from running
# scripts or loading anything.
_CONTENT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_html(report: Report, figures: dict[str, str]) -> str:
    """Render the report as one self-contained HTML page with the figures embedded.

    ``figures`` maps each figure's key to a complete SVG document, as
    ``llmvalues.figures`` draws them. Each becomes an ``<img>`` whose source is
    the SVG as a base64 data URL: nothing is fetched when the page is viewed, and
    the element ids that every matplotlib SVG repeats stay inside their own image.
    """
    inline = {key: _svg_data_url(svg) for key, svg in figures.items()}
    escape = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CONTENT_POLICY}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(report.title)}</title>",
        f"<style>\n{_STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{escape(report.title)}</h1>",
    ]
    for section in report.sections:
        parts.append("<section>")
        parts.append(f"<h2>{escape(section.title)}</h2>")
        for block in section.blocks:
            parts.append(_html_block(block, inline))
        parts.append("</section>")
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _html_block(block: Any, inline: dict[str, str]) -> str:
    escape = html.escape
    if isinstance(block, Paragraph):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, BulletList):
        items = "".join(f"<li>{escape(item)}</li>" for item in block.items)
        return f"<ul>{items}</ul>"
    if isinstance(block, CodeBlock):
        return f"<pre><code>{escape(block.text)}</code></pre>"
    if isinstance(block, FigurePlaceholder):
        if block.key not in inline:
            raise KeyError(f"no SVG given for the figure {block.key!r}")
        return (f'<figure>\n<img src="{inline[block.key]}" alt="{escape(block.alt)}">\n'
                f"<figcaption>{escape(block.caption)}</figcaption>\n</figure>")
    if isinstance(block, Table):
        return _html_table(block)
    raise TypeError(f"unknown report block {type(block).__name__}")


def _html_table(table: Table) -> str:
    escape = html.escape

    def cell(tag: str, text: str, numeric: bool) -> str:
        attribute = ' class="number"' if numeric else ""
        return f"<{tag}{attribute}>{escape(text)}</{tag}>"

    lines = ['<div class="table-wrap">', "<table>", "<thead>"]
    lines.append("<tr>" + "".join(cell("th", name, numeric) for name, numeric in zip(table.header, table.numeric))
                 + "</tr>")
    lines += ["</thead>", "<tbody>"]
    for row in table.rows:
        lines.append("<tr>" + "".join(cell("td", text, numeric) for text, numeric in zip(row, table.numeric))
                     + "</tr>")
    lines += ["</tbody>", "</table>", "</div>"]
    return "\n".join(lines)


def _svg_data_url(svg: str) -> str:
    if "<svg" not in svg:
        raise ValueError("the figure is not an SVG document: no <svg> element")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


# --- Markdown ------------------------------------------------------------------

# Characters that Markdown (CommonMark with GitHub's tables and strikethrough)
# would read as markup or raw HTML. A backslash makes each one literal.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~$#])")


def render_markdown(report: Report, figure_paths: dict[str, str]) -> str:
    """Render the report as Markdown that shows each figure from its path (relative to the Markdown file)."""
    parts = [f"# {_markdown_text(report.title)}"]
    for section in report.sections:
        parts.append(f"## {_markdown_text(section.title)}")
        for block in section.blocks:
            parts.append(_markdown_block(block, figure_paths))
    return "\n\n".join(parts) + "\n"


def _markdown_block(block: Any, figure_paths: dict[str, str]) -> str:
    if isinstance(block, Paragraph):
        return _markdown_text(block.text)
    if isinstance(block, BulletList):
        return "\n".join(f"- {_markdown_text(item)}" for item in block.items)
    if isinstance(block, CodeBlock):
        longest = max((len(run) for run in re.findall(r"`+", block.text)), default=0)
        fence = "`" * max(3, longest + 1)
        return f"{fence}{block.language}\n{block.text.rstrip(chr(10))}\n{fence}"
    if isinstance(block, FigurePlaceholder):
        if block.key not in figure_paths:
            raise KeyError(f"no file given for the figure {block.key!r}")
        return f"![{_markdown_text(block.alt)}]({figure_paths[block.key]})\n\n*{_markdown_text(block.caption)}*"
    if isinstance(block, Table):
        return _markdown_table(block)
    raise TypeError(f"unknown report block {type(block).__name__}")


def _markdown_table(table: Table) -> str:
    lines = ["| " + " | ".join(_markdown_text(name) for name in table.header) + " |"]
    lines.append("|" + "|".join("---:" if numeric else "---" for numeric in table.numeric) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(_markdown_text(text) for text in row) + " |")
    return "\n".join(lines)


def _markdown_text(text: str) -> str:
    """Escape Markdown markup and join lines, so text from files stays literal and inside its block."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))
